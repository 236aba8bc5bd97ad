"""The feature-table contract: columns present, counts >= 0, no surprise nulls or categories."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from data_contracts import FeatureColumnRule, validate_feature_table
from features.definitions import FEATURES

RULES = (
    FeatureColumnRule.inferred("web_visits_7d", "int"),
    FeatureColumnRule.inferred("email_open_rate", "float", nullable=True),
    FeatureColumnRule.inferred("days_since_created", "float"),
    FeatureColumnRule.inferred("rate_gap_pct", "float"),
    FeatureColumnRule.inferred(
        "engagement_tier", "category", categories=("hot", "warm", "cold", "dormant")
    ),
)


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "web_visits_7d": [0, 3, 12],
            "email_open_rate": [np.nan, 0.5, 1.0],
            "days_since_created": [0.5, 10.0, 200.0],
            "rate_gap_pct": [-0.25, 0.0, 0.75],  # negative is fine: the market is worse
            "engagement_tier": ["cold", "hot", "dormant"],
        }
    )


def test_inferred_bounds_follow_the_naming_convention() -> None:
    rules = {r.name: r for r in RULES}
    assert (rules["web_visits_7d"].min_value, rules["web_visits_7d"].max_value) == (0.0, None)
    assert (rules["email_open_rate"].min_value, rules["email_open_rate"].max_value) == (0.0, 1.0)
    assert rules["days_since_created"].min_value == 0.0
    assert rules["rate_gap_pct"].min_value is None


def test_valid_feature_table_passes(table: pd.DataFrame) -> None:
    report = validate_feature_table(table, RULES)
    assert report.ok, report.render()
    assert report.n_valid == 3


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        pytest.param("web_visits_7d", -1, "range", id="negative-count"),
        pytest.param("email_open_rate", 1.5, "range", id="rate-above-one"),
        pytest.param("days_since_created", np.nan, "required", id="null-not-nullable"),
        pytest.param("engagement_tier", "lukewarm", "allowed_values", id="unknown-category"),
        pytest.param("engagement_tier", None, "required", id="null-category"),
    ],
)
def test_feature_rule_rejects_a_row_that_breaks_it(
    table: pd.DataFrame, column: str, value: Any, rule: str
) -> None:
    table.loc[1, column] = value
    report = validate_feature_table(table, RULES, source="features.parquet")
    failure = next(f for f in report.failures if (f.rule, f.column) == (rule, column))
    assert failure.count == 1
    assert [e.row_number for e in failure.examples] == [2]
    assert (report.n_valid, report.n_quarantined) == (2, 1)
    assert rule in report.render()
    if rule == "range":
        assert failure.message in ("is below 0", "is outside [0, 1]")
    json.dumps(report.to_dict())


def test_fractional_count_is_a_type_failure(table: pd.DataFrame) -> None:
    table["web_visits_7d"] = [0.0, 2.5, 1.0]
    report = validate_feature_table(table, RULES)
    assert [(f.rule, f.column, f.count) for f in report.failures] == [("type", "web_visits_7d", 1)]


def test_text_in_a_numeric_column_is_a_type_failure(table: pd.DataFrame) -> None:
    table["rate_gap_pct"] = ["-0.25", "0", "0.75"]
    report = validate_feature_table(table, RULES)
    assert [(f.rule, f.column, f.count) for f in report.failures] == [("type", "rate_gap_pct", 3)]


def test_missing_column_fails_every_row(table: pd.DataFrame) -> None:
    report = validate_feature_table(table.drop(columns=["days_since_created"]), RULES)
    assert [(f.rule, f.column) for f in report.failures] == [
        ("column_present", "days_since_created")
    ]
    assert report.n_valid == 0


def test_rules_from_the_feature_list_accept_a_plausible_row() -> None:
    """The features package's own FEATURES list maps onto rules this contract can check."""
    rules = tuple(
        FeatureColumnRule.inferred(f.name, f.kind, nullable=f.nullable, categories=f.categories)
        for f in FEATURES
    )
    row: dict[str, object] = {}
    for f in FEATURES:
        if f.kind == "category":
            row[f.name] = f.categories[0]
        elif f.kind == "int":
            row[f.name] = 1
        else:
            row[f.name] = 0.5
    report = validate_feature_table(pd.DataFrame([row]), rules)
    assert report.ok, report.render()
