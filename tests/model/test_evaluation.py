"""Evaluation metrics, baselines, the fairness audit and the gates, on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.definitions import FEATURE_NAMES
from training.baselines import newest_first, points_score
from training.evaluate import (
    MethodScores,
    capture_at_capacity,
    evaluate_methods,
    expected_calibration_error,
    group_codes,
    lift_by_decile,
    markdown_table,
    within_group_rank,
)
from training.fairness import (
    FOUR_FIFTHS,
    adverse_impact,
    audit,
    feature_violations,
    protected_matches,
)
from training.gates import capture_gates


def test_ece_is_zero_when_each_bin_matches_its_rate() -> None:
    probabilities = np.array([0.25] * 4 + [0.75] * 4)
    labels = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.0)


def test_ece_weights_each_bin_by_its_rows() -> None:
    probabilities = np.array([0.05, 0.05, 0.05, 0.05, 0.95])
    labels = np.array([0, 0, 0, 0, 0])
    # the 0.05 bin: |0.05 - 0| x 4 rows, the 0.95 bin: |0.95 - 0| x 1 row, over 5 rows
    assert expected_calibration_error(probabilities, labels) == pytest.approx((0.05 * 4 + 0.95) / 5)


def test_capture_counts_positives_within_each_officer_day_capacity() -> None:
    frame = pd.DataFrame(
        {
            "officer_id": ["a", "a", "a", "b", "b", "b"],
            "as_of": ["d1"] * 6,
            "score": [0.9, 0.5, 0.1, 0.8, 0.7, 0.6],
            "label": [True, False, True, False, False, True],
        }
    )
    groups = group_codes(frame, ("officer_id", "as_of"))
    ranks = within_group_rank(frame["score"].to_numpy(), groups, np.zeros(len(frame)))
    np.testing.assert_array_equal(ranks, [1, 2, 3, 1, 2, 3])
    # capacity 1: officer a's first call is an application (1 of 3 applications)
    assert capture_at_capacity(frame["label"].to_numpy(), ranks, 1) == pytest.approx(1 / 3)
    assert capture_at_capacity(frame["label"].to_numpy(), ranks, 3) == pytest.approx(1.0)


def test_ties_are_broken_by_the_shared_draw() -> None:
    ranks = within_group_rank(
        np.zeros(4), np.zeros(4, dtype=np.int64), np.array([0.4, 0.1, 0.3, 0.2])
    )
    np.testing.assert_array_equal(ranks, [4, 1, 3, 2])


def test_lift_of_a_perfect_ranking_is_highest_in_the_first_decile() -> None:
    labels = np.array([1] * 10 + [0] * 90)
    lift = lift_by_decile(-np.arange(100.0), labels, np.zeros(100))
    assert lift[0] == pytest.approx(10.0)
    assert lift[1:].sum() == 0


def test_rank_only_methods_have_no_brier_or_ece() -> None:
    rng = np.random.default_rng(0)
    labels = rng.random(400) < 0.2
    evaluation = evaluate_methods(
        labels,
        {
            "model": MethodScores(np.where(labels, 0.3, 0.15), probability=True),
            "rule": MethodScores(rng.random(400), probability=False),
        },
        np.repeat(np.arange(10), 40),
        capacity=5,
    )
    assert math.isnan(evaluation.metric("rule", "ece"))
    assert math.isnan(evaluation.metric("rule", "brier"))
    assert evaluation.metric("model", "roc_auc") == pytest.approx(1.0)
    assert evaluation.metric("model", "capture_at_capacity") > evaluation.metric(
        "rule", "capture_at_capacity"
    )
    assert "n/a" in markdown_table(evaluation.table)


def test_newest_first_puts_the_newest_lead_on_top() -> None:
    frame = pd.DataFrame(
        {"lead_created_at": pd.to_datetime(["2025-01-02", "2025-03-01", "2025-02-01"], utc=True)}
    )
    assert np.argmax(newest_first(frame, frame)) == 1


def test_points_rule_rewards_actions_and_recency() -> None:
    frame = pd.DataFrame(
        {
            "web_visits_7d": [6, 0],
            "emails_opened": [3, 0],
            "emails_clicked": [1, 0],
            "texts_replied": [1, 0],
            "questions_total": [5, 0],
            "days_since_last_inbound": [0.5, np.nan],
        }
    )
    # 25 (visits, capped) + 6 + 5 + 10 + 30 (questions, capped) + 20 (today); silent: -10
    np.testing.assert_array_equal(points_score(frame), [96.0, -10.0])


@pytest.mark.parametrize(
    "column",
    [
        "age",
        "Marital Status",
        "borrower_age",
        "gender",
        "zip_code",
        "Preferred Language",
        "first_name",
        "national_origin",
        "protected_group",
    ],
)
def test_protected_attributes_and_proxies_are_recognised(column: str) -> None:
    assert column in protected_matches([column])


@pytest.mark.parametrize("column", ["lead_age_days", "page", "mortgage_type", "campaign"])
def test_ordinary_columns_are_not_flagged(column: str) -> None:
    assert protected_matches([column]) == {}


def test_the_lead_features_hold_no_protected_attribute() -> None:
    assert feature_violations(FEATURE_NAMES) == []


def test_four_fifths_rule_on_top_of_queue_rates() -> None:
    groups = np.array(["A"] * 100 + ["B"] * 100)
    fair = np.r_[np.arange(100) < 30, np.arange(100) < 27]
    unfair = np.r_[np.arange(100) < 30, np.arange(100) < 20]
    assert adverse_impact("g", groups, fair).ratio == pytest.approx(0.9)
    assert adverse_impact("g", groups, fair).passed
    result = adverse_impact("g", groups, unfair)
    assert result.ratio == pytest.approx(20 / 30)
    assert not result.passed
    assert result.ratio < FOUR_FIFTHS


def test_tiny_groups_are_reported_but_not_judged() -> None:
    groups = np.array(["A"] * 100 + ["B"] * 100 + ["C"] * 5)
    in_top = np.r_[np.arange(100) < 30, np.arange(100) < 28, np.zeros(5, bool)]
    result = adverse_impact("g", groups, in_top)
    assert result.passed
    assert result.too_small == ("C",)


def test_audit_fails_when_a_protected_attribute_is_a_feature() -> None:
    result = audit(["web_visits_7d", "age"], {}, np.zeros(3, bool))
    assert not result.passed
    assert "age" in result.summary()


def test_capture_gates_need_strictly_more_than_each_rule() -> None:
    gates = capture_gates(0.40, {"newest_first": 0.20, "points_rule": 0.40}, capacity=40)
    assert [g.passed for g in gates] == [True, False]
