"""Bring your own CRM export: a generated corpus of messy exports (headers, delimiters,
encodings, targets, sizes), each ending in a model or one plain sentence and exit code 2."""

from __future__ import annotations

import pandas as pd
import pytest

from simulator.crm_export import ID_COLUMN, TARGET, crm_export
from training.csv_import import (
    RESERVED_NAMES,
    CsvRecipe,
    internal_names,
    prepare_csv,
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
