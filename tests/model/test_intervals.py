"""Lead-clustered bootstrap intervals and paired differences, on small seeded slices."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from training.evaluate import MethodScores, evaluate_methods
from training.intervals import (
    LeadResamples,
    clustered_interval,
    evidence_of,
    paired_interval,
    weighted_average_precision,
    weighted_mean,
    weighted_roc_auc,
)


def _slice(
    n_leads: int = 120, rows_per_lead: int = 5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, scores, leads): a lead's rows share its outcome, scores carry some signal."""
    rng = np.random.default_rng(seed)
    applies = rng.random(n_leads) < 0.2
    leads = np.repeat(np.arange(n_leads), rows_per_lead)
    labels = applies[leads]
    scores = rng.random(len(leads)) + 0.4 * labels
    return labels, scores, leads


@pytest.mark.parametrize("ties", [False, True], ids=["distinct scores", "tied scores"])
def test_weighted_metrics_at_unit_and_integer_weights_match_scikit_learn(ties: bool) -> None:
    labels, scores, _ = _slice()
    if ties:
        scores = np.round(scores, 1)
    weights = np.random.default_rng(1).integers(0, 3, len(labels)).astype(float)
    for w in (np.ones(len(labels)), weights):
        block = w[None, :]
        assert weighted_roc_auc(labels, scores)(block)[0] == pytest.approx(
            roc_auc_score(labels, scores, sample_weight=w)
        )
        assert weighted_average_precision(labels, scores)(block)[0] == pytest.approx(
            average_precision_score(labels, scores, sample_weight=w)
        )
        assert weighted_mean((scores.clip(0, 1) - labels) ** 2)(block)[0] == pytest.approx(
            brier_score_loss(labels, scores.clip(0, 1), sample_weight=w)
        )


def test_resampling_draws_whole_leads() -> None:
    _, _, leads = _slice(n_leads=30, rows_per_lead=4)
    for weights in LeadResamples(leads, len(leads), resamples=50, seed=3).blocks():
        per_lead = weights.reshape(len(weights), 30, 4)
        # every row of a lead carries the same count, and each resample draws 30 leads
        assert (per_lead == per_lead[:, :, :1]).all()
        np.testing.assert_array_equal(per_lead[:, :, 0].sum(axis=1), 30)


def test_duplicating_a_leads_rows_does_not_narrow_the_lead_interval() -> None:
    """More rows of the same leads are not more evidence; row resampling would think so."""
    labels, scores, leads = _slice()
    copies = 8
    dup_labels, dup_scores, dup_leads = (np.repeat(a, copies) for a in (labels, scores, leads))
    by_lead = clustered_interval(weighted_roc_auc(labels, scores), len(labels), leads, seed=5)
    by_lead_dup = clustered_interval(
        weighted_roc_auc(dup_labels, dup_scores), len(dup_labels), dup_leads, seed=5
    )
    by_row_dup = clustered_interval(
        weighted_roc_auc(dup_labels, dup_scores), len(dup_labels), None, seed=5
    )
    assert by_lead_dup.low == pytest.approx(by_lead.low)
    assert by_lead_dup.high == pytest.approx(by_lead.high)
    assert by_row_dup.half_width < 0.5 * by_lead_dup.half_width, (by_row_dup, by_lead_dup)


def test_resamples_without_an_application_are_skipped_and_counted() -> None:
    rng = np.random.default_rng(2)
    leads = np.repeat(np.arange(40), 3)
    labels = leads == 7  # one applying lead of 40: about a third of resamples miss it
    interval = clustered_interval(
        weighted_roc_auc(labels, rng.random(len(leads)) + labels), len(labels), leads, seed=0
    )
    assert 500 < interval.usable < interval.resamples == 1000
    assert np.isfinite(interval.low)
    assert np.isfinite(interval.high)


def test_paired_difference_shares_the_resamples() -> None:
    labels, scores, leads = _slice()
    noise = np.random.default_rng(9).normal(0, 0.05, len(scores))
    a, b = weighted_roc_auc(labels, scores), weighted_roc_auc(labels, scores + noise)
    itself = paired_interval(a, a, len(labels), leads)
    assert itself.low == itself.high == 0.0
    paired = paired_interval(a, b, len(labels), leads)
    alone = [clustered_interval(f, len(labels), leads) for f in (a, b)]
    # two nearly identical models: pairing cancels which leads happened to be drawn
    assert paired.half_width < 0.3 * (alone[0].half_width + alone[1].half_width)
    better = paired_interval(a, weighted_roc_auc(labels, -scores), len(labels), leads)
    assert better.low > 0


def test_evidence_counts_test_leads_and_applying_leads() -> None:
    labels = np.array([0, 1, 0, 0, 0, 1, 0], dtype=bool)
    leads = np.array(["a", "a", "b", "b", "c", "d", "d"])
    evidence = evidence_of(labels, leads)
    assert (evidence.rows, evidence.leads, evidence.applying_leads) == (7, 4, 2)
    assert "4 test leads, 2 applied" in evidence.text()


def test_every_metric_of_every_method_gets_an_interval_around_it() -> None:
    labels, scores, leads = _slice()
    probability = np.clip(scores / 1.4, 0.01, 0.99)
    evaluation = evaluate_methods(
        labels,
        {
            "model": MethodScores(probability, probability=True),
            "rule": MethodScores(np.round(scores, 1), probability=False),
        },
        leads % 6,
        capacity=3,
        leads=leads,
    )
    assert evaluation.evidence.leads == 120
    expected_auc = roc_auc_score(labels, probability)
    assert evaluation.metric("model", "roc_auc") == pytest.approx(expected_auc)
    for method in ("model", "rule"):
        for metric in ("roc_auc", "pr_auc", "capture_at_capacity", "top_decile_lift"):
            found = evaluation.interval(method, metric)
            assert found.low < found.estimate < found.high, (method, metric, found)
            assert found.usable == found.resamples
    assert evaluation.interval("model", "brier").low < evaluation.metric("model", "brier")
    assert evaluation.interval("rule", "ece").text() == "n/a"
    assert evaluation.interval("model", "roc_auc").text().count("[") == 1


def test_a_big_slice_gets_fewer_resamples_within_the_work_bound() -> None:
    from training.intervals import LeadResamples, resamples_for

    assert resamples_for(19_188) == 1_000  # the demo's test slice: all of them
    assert resamples_for(200_000) == 250  # a 1M-row CSV's test slice
    assert resamples_for(50_000_000) == 200  # never below the floor
    assert resamples_for(200_000, wanted=100) == 100  # never more than asked
    assert LeadResamples(None, 200_000).resamples == 250
    assert sum(len(block) for block in LeadResamples(None, 200_000).blocks()) == 250
