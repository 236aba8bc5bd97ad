"""Bring your own data: column roles, placeholders, protected columns, leaks, split, scoring,
the CLI, and the public bank telemarketing export."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from models.scorer import LeadScorer
from training.csv_import import (
    CsvImportError,
    CsvRecipe,
    clean_features,
    infer_recipe,
    parse_target,
    prepare_csv,
    read_export,
    score_csv,
)
from training.train import TrainConfig, fit_scorer


def messy_export(n: int = 800, seed: int = 3) -> pd.DataFrame:
    """A CRM export the way people make them: placeholders, sentinels, text, ids, a leak."""
    rng = np.random.default_rng(seed)
    visits = rng.poisson(2, n)
    channel = rng.choice(["web", "phone", "referral", "Select"], n, p=[0.4, 0.3, 0.2, 0.1])
    opened = rng.choice(["Yes", "No", "unknown"], n, p=[0.45, 0.45, 0.1])
    logit = (
        -1.5
        + 0.5 * visits
        + np.where(channel == "referral", 1.0, 0)
        + np.where(opened == "Yes", 0.7, 0)
    )
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    pdays = np.where(rng.random(n) < 0.7, 999, rng.integers(0, 20, n))
    return pd.DataFrame(
        {
            "Customer ID": [f"C-{i:05d}" for i in range(n)],
            "age": rng.integers(21, 80, n).astype(str),
            "Marital Status": rng.choice(["married", "single", "N/A"], n),
            "notes": [
                f"called on day {i}, said {w} about it"
                for i, w in zip(range(n), rng.choice(["this", "that", "more"], n), strict=True)
            ],
            "signup_date": pd.date_range("2024-01-01", periods=n, freq="6h").strftime("%Y-%m-%d"),
            "channel": channel,
            "opened_email": opened,
            "web_visits": visits.astype(str),
            "pdays": pdays.astype(str),
            "region": "north",
            "call_duration_s": np.where(converted, rng.normal(600, 60, n), rng.normal(150, 60, n))
            .round()
            .astype(int)
            .astype(str),
            "converted": np.where(converted, "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def export() -> pd.DataFrame:
    return messy_export().astype(str)


def test_roles_are_inferred_and_the_dropped_columns_named(export: pd.DataFrame) -> None:
    recipe, report = infer_recipe(export, "converted")
    roles = {f.column: f.role for f in recipe.features}
    assert roles == {
        "channel": "category",
        "opened_email": "flag",
        "web_visits": "numeric",
        "pdays": "numeric",
        "call_duration_s": "numeric",
    }
    assert "id" in report.dropped["Customer ID"]
    assert report.dropped["notes"] == "free text"
    assert "date" in report.dropped["signup_date"]
    assert "constant" in report.dropped["region"]
    sentinel = {f.column: f.sentinel for f in recipe.features}["pdays"]
    assert sentinel == 999


def test_protected_columns_are_refused_as_features_unless_allowed(export: pd.DataFrame) -> None:
    recipe, report = infer_recipe(export, "converted")
    assert set(report.protected) == {"age", "Marital Status"}
    assert set(recipe.audit) == {"age", "Marital Status"}
    assert "age" not in {f.column for f in recipe.features}
    allowed, allowed_report = infer_recipe(export, "converted", allow_protected=True)
    assert {"age", "Marital Status"} <= {f.column for f in allowed.features}
    assert any("fairness gate will fail" in w for w in allowed_report.warnings)


def test_placeholders_and_sentinels_become_missing(export: pd.DataFrame) -> None:
    recipe, _ = infer_recipe(export, "converted")
    features = clean_features(export, recipe)
    select = export["channel"] == "Select"
    assert features.loc[select, "channel"].isna().all()
    assert features.loc[~select, "channel"].notna().all()
    assert features.loc[export["opened_email"] == "unknown", "opened_email"].isna().all()
    assert set(features["opened_email"].dropna()) == {0.0, 1.0}
    assert features.loc[export["pdays"] == "999", "pdays"].isna().all()
    assert features["pdays"].max() < 20


def test_a_leaky_column_is_warned_about_by_name(export: pd.DataFrame) -> None:
    data, report = prepare_csv(export, "converted", TrainConfig(num_threads=1))
    leaks = [w for w in report.warnings if "POSSIBLE LEAK" in w]
    assert len(leaks) == 1
    assert "'call_duration_s'" in leaks[0]
    assert "--drop call_duration_s" in leaks[0]
    _, dropped = prepare_csv(
        export, "converted", TrainConfig(num_threads=1), drop=["call_duration_s"]
    )
    assert not [w for w in dropped.warnings if "POSSIBLE LEAK" in w]


def test_the_split_is_stratified_and_disjoint(export: pd.DataFrame) -> None:
    data, _ = prepare_csv(export, "converted", TrainConfig(num_threads=1), drop=["call_duration_s"])
    s = data.slices
    parts = [set(p["lead_id"]) for p in (s.train, s.early_stopping, s.calibration, s.test)]
    assert sum(len(p) for p in parts) == len(export)
    assert len(set().union(*parts)) == len(export)
    rate = (export["converted"] == "yes").mean()
    assert abs(s.test["label"].mean() - rate) < 0.01
    assert len(s.test) == pytest.approx(0.2 * len(export), abs=2)


def test_split_by_time_puts_the_newest_rows_in_test(export: pd.DataFrame) -> None:
    data, _ = prepare_csv(
        export, "converted", TrainConfig(num_threads=1), time_column="signup_date"
    )
    assert data.slices.train["time"].max() <= data.slices.test["time"].min()
    assert "newest_first" in [b.name for b in data.baselines]


def test_a_target_that_is_not_yes_no_is_refused() -> None:
    with pytest.raises(CsvImportError, match="'stage'"):
        parse_target(pd.Series(["won", "lost", "open"]), "stage")


def test_unknown_columns_are_named(export: pd.DataFrame) -> None:
    with pytest.raises(CsvImportError, match="'outcome'"):
        infer_recipe(export, "outcome")


def test_cli_trains_and_scores_an_export(
    export: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.cli import app

    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path / "home"))
    source = tmp_path / "export.csv"
    export.to_csv(source, index=False)
    runner = CliRunner()
    trained = runner.invoke(
        app,
        [
            "train",
            "--csv",
            str(source),
            "--target",
            "converted",
            "--id",
            "Customer ID",
            "--threads",
            "1",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert re.search(r"ROC-AUC \d\.\d\d \[\d\.\d\d, \d\.\d\d\]", trained.output), trained.output
    assert re.search(r"evidence: [\d,]+ test leads, [\d,]+ applied", trained.output)
    assert "POSSIBLE LEAK" in trained.output
    assert "call_duration_s" in trained.output
    listed = runner.invoke(app, ["models", "--model-name", "lead-scorer-csv"])
    assert listed.exit_code == 0, listed.output
    out = tmp_path / "scores.csv"
    alias = "champion" if "is the champion" in trained.output else "challenger"
    scored = runner.invoke(
        app, ["score", "--csv", str(source), "--out", str(out), "--alias", alias]
    )
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(out)
    assert list(scores.columns[:5]) == ["id", "probability", "tier", "reason_1", "reason_2"]
    assert scores["id"].iloc[0] == "C-00000"
    assert scores["probability"].between(0, 1).all()
    assert set(scores["tier"]) <= {"hot", "warm", "cold"}


def test_scoring_an_export_reapplies_the_training_recipe(export: pd.DataFrame) -> None:
    config = TrainConfig(
        num_boost_round=100, early_stopping_rounds=10, learning_rate=0.1, num_threads=1
    )
    data, _ = prepare_csv(export, "converted", config, drop=["call_duration_s"])
    scorer = fit_scorer(data, config)
    scores = score_csv(export.head(10), scorer)
    direct = scorer.predict_proba(
        data.layout.encode(clean_features(export.head(10), _recipe(scorer)))
    )
    np.testing.assert_allclose(scores["probability"], direct, atol=1e-6)
    assert scores["reason_1"].str.len().gt(0).all()


def _recipe(scorer: LeadScorer) -> CsvRecipe:
    return CsvRecipe.from_dict(scorer.metadata["csv_recipe"])


def test_bank_telemarketing_export(bank_csv: Path) -> None:
    raw = read_export(bank_csv)
    config = TrainConfig(
        num_boost_round=200, early_stopping_rounds=20, learning_rate=0.1, num_threads=1
    )
    data, report = prepare_csv(raw, "output", config, drop=["duration"])
    assert set(report.protected) == {"age", "marital"}
    assert "pdays" in report.features
    assert "999 means missing" in report.features["pdays"]
    assert "duration" not in data.layout.names
    scorer = fit_scorer(data, config)
    test = data.slices.test
    auc = roc_auc_score(test["label"], scorer.predict_proba(test))
    assert auc > 0.75, f"bank ROC-AUC without duration {auc:.3f}"
    leaky, leak_report = prepare_csv(raw, "output", config)
    assert any("'duration'" in w for w in leak_report.warnings)
