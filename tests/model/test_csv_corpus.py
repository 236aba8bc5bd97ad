"""Bring your own CRM export: a generated corpus of messy exports (headers, delimiters,
encodings, targets, sizes), each ending in a model or one plain sentence and exit code 2."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from simulator.crm_export import ID_COLUMN, TARGET, crm_export, write_export
from training.csv_import import (
    RESERVED_NAMES,
    CsvImportError,
    CsvRecipe,
    infer_recipe,
    internal_names,
    prepare_csv,
    read_export,
    score_csv,
)
from training.train import TrainConfig, fit_scorer

CONFIG = TrainConfig(num_boost_round=60, early_stopping_rounds=10, learning_rate=0.2, num_threads=1)
"""Few rounds: these tests are about plumbing, not model quality."""

MESSY_HEADERS = [
    "Lead Source",
    "lead source",
    "Lead-Source",
    'Lead "Quality"',
    "Total Time Spent on Website",
    "1st Contact Channel",
    "Ciudad de residencia / Città",
    "顧客ランク",
    "Unnamed: 37",
    "",
    "label",
    "x" * 300,
]


def test_internal_names_are_unique_safe_and_never_an_importer_column() -> None:
    names = internal_names(MESSY_HEADERS)
    assert len(set(names.values())) == len(MESSY_HEADERS)
    for name in names.values():
        assert 0 < len(name) <= 60
        assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789_"), name
        assert name not in RESERVED_NAMES
    assert names["Lead Source"] == "lead_source"
    assert names["lead source"] == "lead_source_2"
    assert names["1st Contact Channel"] == "1st_contact_channel"


@pytest.fixture(scope="module")
def wide_export() -> pd.DataFrame:
    return crm_export(1_500, seed=2)


def test_any_header_trains_and_reasons_use_the_original_header(
    wide_export: pd.DataFrame,
) -> None:
    data, report = prepare_csv(wide_export, TARGET, CONFIG, id_column=ID_COLUMN)
    assert "Total Time Spent on Website" in report.features
    assert 'Lead "Quality"' in report.features
    assert "label" in report.features, "a feature named like the importer's label column"
    scorer = fit_scorer(data, CONFIG)
    assert set(scorer.layout.display_names) == set(report.features)
    scores = score_csv(wide_export.head(50), scorer)
    assert scores["id"].iloc[0] == wide_export[ID_COLUMN].iloc[0]
    reasons = " ".join(scores[["reason_1", "reason_2", "reason_3", "concern_1"]].stack())
    assert "Total Time Spent on Website is" in reasons
    internal = set(scorer.layout.names) - set(scorer.layout.display_names)
    assert not [n for n in internal if n in reasons.split()], "an internal name leaked"


def test_scoring_takes_columns_in_any_order_with_extras(wide_export: pd.DataFrame) -> None:
    data, _ = prepare_csv(wide_export, TARGET, CONFIG, id_column=ID_COLUMN)
    scorer = fit_scorer(data, CONFIG)
    shuffled = wide_export.sample(frac=1.0, axis=1, random_state=1).assign(extra="x")
    same = score_csv(wide_export.head(30), scorer)
    moved = score_csv(shuffled.head(30), scorer)
    pd.testing.assert_series_equal(same["probability"], moved["probability"])
    assert CsvRecipe.from_dict(scorer.metadata["csv_recipe"]).id_column == ID_COLUMN


def _outcome(path: Path, target: str = TARGET, **options: Any) -> str:
    """What `leadscore train --csv` would end in: "model" or the one sentence it prints (exit 2).

    Any other exception fails the test: it would have reached the user as a traceback.
    """
    try:
        raw = read_export(path)
        data, report = prepare_csv(raw, target, CONFIG, **options)
        scorer = fit_scorer(data, CONFIG)
        scores = score_csv(raw.head(20), scorer)
    except CsvImportError as exc:
        message = str(exc)
        assert "\n" not in message, message
        return message
    assert scores["probability"].between(0, 1).all()
    assert scores["reason_1"].str.len().gt(0).any()
    return "model"


CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (crm_export and write_export arguments, prepare_csv options)
    "comma, utf-8, every messy header": ({}, {"id_column": ID_COLUMN}),
    "semicolon with thousands separators": ({"sep": ";", "thousands": True}, {}),
    "tab delimited": ({"sep": "\t"}, {}),
    "utf-8 with a byte-order mark": ({"encoding": "utf-8-sig"}, {"id_column": ID_COLUMN}),
    "latin-1": ({"encoding": "latin-1"}, {}),
    "quoted newlines in free text": ({"quoted_newlines": True}, {}),
    "target 1/0": ({"target_style": "1/0"}, {}),
    "target True/False": ({"target_style": "true/false"}, {}),
    "target Converted/Lost": ({"target_style": "converted/lost"}, {}),
    "split by a date column in three formats": ({}, {"time_column": "Last Contacted"}),
    "40 rows": ({"rows": 40}, {}),
}


def _write(tmp_path: Path, rows: int = 600, **kwargs: Any) -> Path:
    frame_args = {k: kwargs.pop(k) for k in ("target_style", "thousands") if k in kwargs}
    frame = crm_export(rows, seed=rows, **frame_args)
    return write_export(frame, tmp_path / "export.csv", **kwargs)


@pytest.mark.parametrize("case", list(CASES))
def test_every_messy_export_ends_in_a_model(case: str, tmp_path: Path) -> None:
    written, options = CASES[case]
    assert _outcome(_write(tmp_path, **written), **options) == "model"


def test_the_delimiter_encoding_and_numbers_are_read_as_people_wrote_them(tmp_path: Path) -> None:
    path = _write(tmp_path, sep=";", encoding="utf-8-sig", thousands=True, quoted_newlines=True)
    raw = read_export(path)
    assert raw.columns[0] == ID_COLUMN, "no byte-order mark in the first header"
    assert len(raw) == 600, "a quoted newline is not a new row"
    recipe, report = infer_recipe(raw, TARGET)
    roles = {f.column: f.role for f in recipe.features}
    assert roles["Total Time Spent on Website"] == "numeric", "1,234 is a number"
    assert roles["Lead Score (%)"] == "numeric", "45% is a number"
    assert "date" in report.dropped["Last Contacted"]
    assert "personal data" in report.dropped["Lead Owner Email"]
    latin = read_export(_write(tmp_path, encoding="latin-1"))
    assert "Ciudad de residencia / Città" in latin.columns
    assert "São Paulo" in set(latin["City"])


def test_blank_outcomes_are_left_out_and_said_so() -> None:
    raw = crm_export(600, seed=4)
    raw.loc[raw.index[::10], TARGET] = ""
    data, report = prepare_csv(raw, TARGET, CONFIG)
    assert sum(len(s) for s in data.slices.__dict__.values()) == 540
    assert any("60 row(s) with a blank 'Converted' left out" in n for n in report.notes)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f.assign(Converted="Yes"), "only one outcome"),
        (lambda f: f.head(12), "at least 10 of each"),
        (lambda f: f.assign(Converted=["Open", "Won", "Lost"] * 200), "values such as ['open']"),
        (lambda f: f.assign(Converted=[f"p{i}@x.io" for i in range(600)]), "600 different"),
        (lambda f: f.assign(Converted=""), "is empty"),
    ],
)
def test_an_export_that_cannot_train_gets_one_sentence(
    change: Callable[[pd.DataFrame], pd.DataFrame], expected: str, tmp_path: Path
) -> None:
    path = write_export(change(crm_export(600, seed=5)), tmp_path / "export.csv")
    message = _outcome(path)
    assert expected in message
    assert "@x.io" not in message, "cell values that may be personal data are never echoed"


def test_a_file_that_is_not_a_table_gets_one_sentence(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "is empty" in _outcome(empty)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,Converted\n1,2,Yes\n1,2,3,No\n")
    assert "same columns on every line" in _outcome(ragged)
    assert "does not exist" in _outcome(tmp_path / "absent.csv")
    assert "is not in the file" in _outcome(_write(tmp_path), target="Outcome")


CELLS = st.one_of(
    st.sampled_from(["", "Select", "N/A", "yes", "No", "1,234", "45%", "2024-03-01", "é"]),
    st.integers(-1000, 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(str),
    st.text(max_size=12),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(st.text(max_size=40), min_size=1, max_size=6, unique=True),
    data=st.data(),
)
def test_hypothesis_frames_end_in_a_model_or_one_sentence(
    headers: list[str], data: st.DataObject
) -> None:
    rows = 80
    frame = pd.DataFrame(
        {
            f"{h}.{i}": data.draw(st.lists(CELLS, min_size=rows, max_size=rows))
            for i, h in enumerate(headers)
        }
    )
    frame[TARGET] = data.draw(
        st.lists(st.sampled_from(["Yes", "No"]), min_size=rows, max_size=rows)
    )
    with tempfile.TemporaryDirectory() as tmp:
        # Fails on any exception but CsvImportError, or a message of more than one line.
        _outcome(write_export(frame, Path(tmp) / "export.csv"))


def test_cli_round_trip_on_spaced_headers_prints_no_library_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.cli import app

    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    export = write_export(crm_export(1_200, seed=8), tmp_path / "leads export.csv", sep=";")
    trained = runner.invoke(
        app, ["train", "--csv", str(export), "--target", TARGET, "--id", ID_COLUMN, "--verbose"]
    )
    assert trained.exit_code == 0, trained.output
    for noise in (
        "Traceback",
        " INFO ",
        "WARNING mlflow",
        "Successfully registered",
        "Created version",
    ):
        assert noise not in trained.output
    assert "top features (mean |SHAP|)" in trained.output
    assert "fit LightGBM and calibrate" in trained.output, "--verbose shows where the time went"
    assert (tmp_path / "home" / "logs" / "leadscore.log").exists()
    alias = "champion" if "is the champion" in trained.output else "challenger"
    new = crm_export(50, seed=9).drop(columns=["City"]).assign(Extra="x")
    new = new[list(reversed(new.columns))]
    scored = runner.invoke(
        app,
        ["score", "--csv", str(write_export(new, tmp_path / "new.csv")), "--alias", alias,
         "--out", str(tmp_path / "scores.csv")],
    )  # fmt: skip
    assert scored.exit_code == 0, scored.output
    assert "'City'" in scored.output, "the absent column is named"
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert list(scores["id"]) == list(new[ID_COLUMN])
    assert set(scores["tier"]) <= {"hot", "warm", "cold"}
    reasons = " ".join(scores[["reason_1", "reason_2", "reason_3"]].fillna("").stack())
    assert "Total Time Spent on Website is" in reasons or "TotalVisits is" in reasons


def test_cli_refuses_a_single_class_export_in_one_line_with_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.cli import app

    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path / "home"))
    export = write_export(crm_export(300).assign(Converted="No"), tmp_path / "leads.csv")
    result = CliRunner().invoke(app, ["train", "--csv", str(export), "--target", TARGET])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0, result.output
    assert "only one outcome" in result.output


def test_roles_inferred_on_a_sample_match_every_row(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = crm_export(1_000, seed=6)
    full, _ = infer_recipe(raw, TARGET)
    monkeypatch.setattr("training.csv_import.INFER_SAMPLE_ROWS", 200)
    sampled, _ = infer_recipe(raw, TARGET)
    assert sampled == full
