"""Promotion gates that can fail: a paired non-inferiority rule, "not enough evidence", and a
calibration gate with equal-count bins that a mis-calibrated model cannot pass."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from models.scorer import LeadScorer
from training.evaluate import MethodScores, expected_calibration_error
from training.fairness import audit
from training.gates import (
    AUC_MARGIN,
    MAX_ECE,
    MIN_APPLYING_LEADS,
    ChampionComparison,
    applications_needed,
    auc_gate,
    ece_gate,
    evaluate_gates,
    failed_gates,
)
from training.intervals import Evidence, Interval
from training.pipeline import MODEL_METHOD, evaluate_on_test
from training.train import PreparedData

ENOUGH = Evidence(rows=5000, leads=800, applying_leads=120)
CHALLENGER_AUC = Interval(0.80, 0.76, 0.84, 1000, 1000)


def _difference(estimate: float, half_width: float) -> ChampionComparison:
    interval = Interval(estimate, estimate - half_width, estimate + half_width, 1000, 1000)
    return ChampionComparison("3", 0.80 - estimate, interval)


def test_passes_when_not_worse_beyond_the_margin_with_95_percent_confidence() -> None:
    gate = auc_gate(CHALLENGER_AUC, _difference(-0.005, AUC_MARGIN - 0.01), ENOUGH)
    assert gate.passed
    assert gate.verdict == "pass"


def test_fails_when_the_whole_difference_is_below_zero() -> None:
    gate = auc_gate(CHALLENGER_AUC, _difference(-0.06, 0.03), ENOUGH)
    assert gate.verdict == "fail"
    assert "worse than the champion" in gate.detail


def test_a_wide_interval_is_not_enough_evidence_and_says_how_much_more_is_needed() -> None:
    gate = auc_gate(CHALLENGER_AUC, _difference(0.0, 4 * AUC_MARGIN), ENOUGH)
    assert gate.verdict == "undecided"
    assert not gate.passed
    # the half-width must shrink 4x: 16x the applications
    assert "not enough evidence: 120 applications in the test window, about 1,900 needed" in (
        gate.detail
    )


def test_too_few_applications_cannot_decide_even_a_narrow_interval() -> None:
    few = Evidence(rows=400, leads=90, applying_leads=MIN_APPLYING_LEADS - 1)
    gate = auc_gate(CHALLENGER_AUC, _difference(0.05, 0.01), few)
    assert gate.verdict == "undecided"
    assert f"{MIN_APPLYING_LEADS - 1} applications" in gate.detail


def test_applications_needed_grow_with_the_square_of_the_width() -> None:
    def needed(half_width: float) -> int | None:
        interval = Interval(0.0, -half_width, half_width, 1000, 1000)
        return applications_needed(ENOUGH, interval)

    narrow, wide = needed(2 * AUC_MARGIN), needed(4 * AUC_MARGIN)
    assert narrow is not None
    assert wide is not None
    assert narrow == 480
    assert wide == pytest.approx(4 * narrow, rel=0.05)


def test_no_champion_passes_and_an_unscorable_champion_fails() -> None:
    assert auc_gate(CHALLENGER_AUC, None, ENOUGH).passed
    unscorable = ChampionComparison("3", None, None, "other features")
    assert auc_gate(CHALLENGER_AUC, unscorable, ENOUGH).verdict == "fail"


def test_gates_name_every_failure_and_undecided_ones_block_promotion() -> None:
    gates = evaluate_gates(
        auc=CHALLENGER_AUC,
        ece=Interval(0.05, 0.04, 0.06, 1000, 1000),
        capture=0.3,
        rule_captures={"newest_first": 0.2, "points_rule": 0.35},
        capacity=40,
        champion=_difference(0.0, 0.2),
        evidence=ENOUGH,
        fairness=audit(["web_visits_7d"], {}, np.zeros(3, bool)),
    )
    assert failed_gates(gates) == ["auc_vs_champion", "calibration_ece", "capture_vs_points_rule"]
    assert [g.verdict for g in gates][:2] == ["undecided", "fail"]


MISCALIBRATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "probabilities x3": lambda p: np.minimum(3 * p, 1.0),
    "probabilities squared": np.square,
    "probabilities halved": lambda p: p / 2,
}


@pytest.mark.parametrize("distort", MISCALIBRATIONS.values(), ids=MISCALIBRATIONS.keys())
def test_the_calibration_gate_fails_a_miscalibrated_model(
    prepared: PreparedData, scorer: LeadScorer, distort: Callable[[np.ndarray], np.ndarray]
) -> None:
    probabilities = scorer.predict_proba(prepared.slices.test)
    methods = {
        MODEL_METHOD: MethodScores(probabilities, probability=True),
        "distorted": MethodScores(distort(probabilities), probability=True),
    }
    evaluation = evaluate_on_test(prepared, methods, seed=0)
    assert ece_gate(evaluation.interval(MODEL_METHOD, "ece")).passed
    distorted = ece_gate(evaluation.interval("distorted", "ece"))
    assert not distorted.passed, distorted.detail
    assert distorted.value > MAX_ECE
    # the same ranking (x3 ties the few clipped at 1): only calibration tells them apart
    assert evaluation.metric("distorted", "roc_auc") == pytest.approx(
        evaluation.metric(MODEL_METHOD, "roc_auc"), abs=1e-3
    )


def test_equal_count_bins_see_miscalibration_that_equal_width_bins_hide() -> None:
    """At a 2% base rate nearly every row falls in the first equal-width bin, where a model
    squeezed towards the mean looks perfect."""
    rng = np.random.default_rng(4)
    truth = rng.beta(0.5, 25, 20_000)
    labels = rng.random(len(truth)) < truth
    squeezed = truth.mean() + 0.3 * (truth - truth.mean())
    equal_width_bin = np.clip((squeezed * 10).astype(int), 0, 9)
    assert (equal_width_bin == 0).mean() > 0.95
    equal_width_ece = sum(
        (equal_width_bin == b).sum() * abs(squeezed[m].mean() - labels[m].mean())
        for b in np.unique(equal_width_bin)
        if (m := equal_width_bin == b).any()
    ) / len(labels)
    assert equal_width_ece < 0.002
    assert expected_calibration_error(squeezed, labels) > 5 * equal_width_ece
    assert expected_calibration_error(truth, labels) < 0.002
