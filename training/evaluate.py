"""Test-slice metrics for the model and its baselines, including capture at capacity.

Capture at capacity is the product's own metric: an officer calls at most K leads a day, so
what matters is the share of the horizon's applications (positive labels) that were among
each officer's top K of the day. Rows are grouped by (officer_id, as_of); without officers
(a CSV export) one global ranking is used. Ties (rank-only rules give many) are broken by a
seeded random draw, the same draw for every method.

Brier and ECE only mean something for calibrated probabilities; rank-only methods get NaN.
ECE uses equal-count (quantile) bins, as scikit-learn's ``calibration_curve(strategy=
"quantile")``: at a 1% base rate equal-width bins put 99% of rows in the first bin, where
no miscalibration can show.

Every metric comes with a 95% lead-clustered bootstrap interval (training/intervals.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from training.intervals import (
    RESAMPLES,
    Evidence,
    Interval,
    LeadResamples,
    WeightedMetric,
    evidence_of,
    metric_intervals,
    weighted_average_precision,
    weighted_calibration_error,
    weighted_lift,
    weighted_mean,
    weighted_roc_auc,
    weighted_share,
)

ECE_BINS: Final = 10
"""Equal-count bins: each holds a tenth of the rows."""
CAPTURE_KS: Final = (5, 10, 20, 30, 40, 60, 80, 100)
"""Capacities drawn in the capture chart (calls per officer-day)."""


class EvaluationError(ValueError):
    """The test slice cannot be evaluated (e.g. it holds one outcome only)."""


@dataclass(frozen=True)
class MethodScores:
    """A method's scores on the test slice; probability=False marks a rank-only rule."""

    scores: np.ndarray
    probability: bool


def quantile_bins(probabilities: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """Each row's equal-count bin (0 .. bins-1), with calibration_curve's "quantile" edges."""
    p = np.asarray(probabilities, dtype=np.float64)
    if not len(p):
        return np.zeros(0, dtype=np.int64)
    edges = np.percentile(p, np.linspace(0, 100, bins + 1))
    return np.searchsorted(edges[1:-1], p).astype(np.int64)


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> float:
    """Row-weighted mean |mean predicted - observed rate| over equal-count probability bins."""
    p = np.asarray(probabilities, dtype=np.float64)
    if not len(p):
        return float("nan")
    metric = weighted_calibration_error(labels, p, quantile_bins(p, bins))
    return float(metric(np.ones((1, len(p))))[0])


def reliability_table(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> pd.DataFrame:
    """Per equal-count bin (the ECE's): mean predicted probability, observed rate, row count."""
    p = np.asarray(probabilities, dtype=np.float64)
    frame = pd.DataFrame(
        {"bin": quantile_bins(p, bins), "predicted": p, "observed": np.asarray(labels, float)}
    )
    table = frame.groupby("bin").agg(
        predicted=("predicted", "mean"), observed=("observed", "mean"), rows=("observed", "size")
    )
    return table.reset_index()


def tie_breaker(n_rows: int, seed: int) -> np.ndarray:
    """One seeded random draw per row, shared by all methods, to order ties."""
    return np.random.default_rng(seed).random(n_rows)


def within_group_rank(scores: np.ndarray, groups: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """1 for the highest score in each group, 2 for the next, ... (ties by tiebreak)."""
    order = np.lexsort((tiebreak, -np.asarray(scores, dtype=np.float64), groups))
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    run_lengths = np.diff(np.r_[starts, len(order)])
    position = np.arange(len(order)) - np.repeat(starts, run_lengths)
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = position + 1
    return ranks


def capture_at_capacity(labels: np.ndarray, ranks: np.ndarray, capacity: int | np.ndarray) -> float:
    """Share of positive labels whose row ranked within the capacity of its group.

    capacity is one number, or one per row (the capacity of that row's group).
    """
    y = np.asarray(labels, dtype=bool)
    return float((y & (ranks <= capacity)).sum() / y.sum()) if y.any() else float("nan")


def lift_by_decile(scores: np.ndarray, labels: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Positive rate of each score decile (highest first) over the overall rate."""
    y = np.asarray(labels, dtype=np.float64)
    order = np.lexsort((tiebreak, -np.asarray(scores, dtype=np.float64)))
    deciles = np.array_split(y[order], 10)
    base = y.mean()
    return np.array([d.mean() / base if len(d) and base > 0 else np.nan for d in deciles])


METRICS: Final = ("roc_auc", "pr_auc", "brier", "ece", "capture_at_capacity", "top_decile_lift")
PROBABILITY_METRICS: Final = frozenset({"brier", "ece"})


@dataclass(frozen=True)
class Evaluation:
    """Everything measured on the test slice, per method."""

    table: pd.DataFrame
    """One row per method: roc_auc, pr_auc, brier, ece, capture_at_capacity, top_decile_lift."""
    low: pd.DataFrame
    high: pd.DataFrame
    """The 95% lead-clustered bootstrap interval of each cell of ``table``."""
    usable: pd.DataFrame
    """Resamples each interval stands on (those holding both outcomes)."""
    resamples: int
    evidence: Evidence
    lift: pd.DataFrame
    """Deciles (1 = highest scores) x methods."""
    capture_curve: pd.DataFrame
    """Capacities x methods."""
    ranks: Mapping[str, np.ndarray]
    """Each row's rank within its group (1 = first call), per method."""
    methods: Mapping[str, MethodScores]
    capacity: int
    capacity_rows: np.ndarray
    """Each row's effective capacity: `capacity` scaled to the share of its officer-day's open
    leads that are in the test slice (see effective_capacity)."""

    def metric(self, method: str, name: str) -> float:
        return float(self.table.at[method, name])  # type: ignore[arg-type]

    def interval(self, method: str, name: str) -> Interval:
        return Interval(
            self.metric(method, name),
            float(self.low.at[method, name]),  # type: ignore[arg-type]
            float(self.high.at[method, name]),  # type: ignore[arg-type]
            int(self.usable.at[method, name]),  # type: ignore[arg-type]
            self.resamples,
        )


def group_codes(frame: pd.DataFrame, group_columns: Sequence[str]) -> np.ndarray:
    """An integer per ranking group: one per (officer_id, as_of), or 0 for a global ranking."""
    if not group_columns:
        return np.zeros(len(frame), dtype=np.int64)
    return frame.groupby(list(group_columns), sort=False).ngroup().to_numpy(dtype=np.int64)


def effective_capacity(capacity: int, share: np.ndarray | None, n_rows: int) -> np.ndarray:
    """An officer's daily capacity scaled to the share of that day's open leads in the slice.

    The test slice holds only the newest leads (no lead on both sides of the split), so an
    officer-day in it has a fraction of the officer's real queue; the officer's 40 calls that
    day would reach about 40 x that fraction of them. Without the scaling, top 40 of a thin
    test queue is nearly everyone and every method captures nearly everything.
    """
    if share is None:
        return np.full(n_rows, capacity, dtype=np.float64)
    return np.maximum(1.0, np.rint(capacity * np.asarray(share, dtype=np.float64)))


def method_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    rank: np.ndarray,
    capacity_rows: np.ndarray,
    tiebreak: np.ndarray,
    *,
    probability: bool,
) -> dict[str, WeightedMetric]:
    """Each reported metric of one method as a function of row weights (training/intervals.py).

    At unit weights they are the test slice's figures. Ranks, the top decile and the ECE bins
    are those of the full slice.
    """
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    top_decile = np.zeros(len(y), dtype=bool)
    top_decile[np.array_split(np.lexsort((tiebreak, -s)), 10)[0]] = True
    metrics = {
        "roc_auc": weighted_roc_auc(y, s),
        "pr_auc": weighted_average_precision(y, s),
        "capture_at_capacity": weighted_share(rank <= capacity_rows, y),
        "top_decile_lift": weighted_lift(y, top_decile),
    }
    if probability:
        metrics["brier"] = weighted_mean((s - y) ** 2)
        metrics["ece"] = weighted_calibration_error(y, s, quantile_bins(s))
    return metrics


def evaluate_methods(
    labels: np.ndarray,
    methods: Mapping[str, MethodScores],
    groups: np.ndarray,
    capacity: int,
    *,
    seed: int = 0,
    capture_ks: Sequence[int] = CAPTURE_KS,
    capacity_share: np.ndarray | None = None,
    leads: np.ndarray | None = None,
    resamples: int = RESAMPLES,
) -> Evaluation:
    """Score every method on the same rows, groups and tie-break, with 95% intervals.

    capacity_share: per row, the share of its group's real queue present here (None: all).
    leads: per row, its lead (the bootstrap's cluster); None: every row is its own lead.
    """
    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        raise EvaluationError(
            f"the test slice has {int(y.sum())} positive label(s) of {len(y)}; metrics need "
            "both outcomes. Use more leads or a longer period."
        )
    tiebreak = tie_breaker(len(y), seed)
    lifts: dict[str, np.ndarray] = {}
    curves: dict[str, list[float]] = {}
    ranks: dict[str, np.ndarray] = {}
    weighted: dict[tuple[str, str], WeightedMetric] = {}
    ks = sorted({*capture_ks, capacity})
    capacity_rows = effective_capacity(capacity, capacity_share, len(y))
    for name, method in methods.items():
        scores = np.asarray(method.scores, dtype=np.float64)
        rank = within_group_rank(scores, groups, tiebreak)
        ranks[name] = rank
        lifts[name] = lift_by_decile(scores, y, tiebreak)
        curves[name] = [
            capture_at_capacity(y, rank, effective_capacity(k, capacity_share, len(y))) for k in ks
        ]
        found = method_metrics(
            y, scores, rank, capacity_rows, tiebreak, probability=method.probability
        )
        weighted.update({(name, metric): f for metric, f in found.items()})
    sampler = LeadResamples(leads, len(y), resamples, seed)
    frames: dict[str, dict[str, dict[str, float]]] = {
        part: {name: dict.fromkeys(METRICS, np.nan) for name in methods}
        for part in ("table", "low", "high", "usable")
    }
    for (name, metric), found_interval in metric_intervals(weighted, sampler).items():
        frames["table"][name][metric] = found_interval.estimate
        frames["low"][name][metric] = found_interval.low
        frames["high"][name][metric] = found_interval.high
        frames["usable"][name][metric] = found_interval.usable

    def frame(part: str) -> pd.DataFrame:
        return pd.DataFrame.from_dict(frames[part], orient="index")[list(METRICS)]

    return Evaluation(
        table=frame("table"),
        low=frame("low"),
        high=frame("high"),
        usable=frame("usable").fillna(0).astype(int),
        resamples=sampler.resamples,
        evidence=evidence_of(y, leads),
        lift=pd.DataFrame(lifts, index=pd.RangeIndex(1, 11, name="decile")),
        capture_curve=pd.DataFrame(curves, index=pd.Index(ks, name="capacity")),
        ranks=ranks,
        methods=dict(methods),
        capacity=capacity,
        capacity_rows=capacity_rows,
    )


def interval_table(evaluation: Evaluation) -> pd.DataFrame:
    """The table with each metric's bounds as ``<metric>_lo`` and ``<metric>_hi`` columns."""
    columns: dict[str, pd.Series] = {}
    for metric in evaluation.table.columns:
        columns[metric] = evaluation.table[metric]
        columns[f"{metric}_lo"] = evaluation.low[metric]
        columns[f"{metric}_hi"] = evaluation.high[metric]
    return pd.DataFrame(columns)


def markdown_table(table: pd.DataFrame) -> str:
    """The baseline table as Markdown; NaN shows as n/a (rank-only methods have no Brier/ECE)."""
    columns = list(table.columns)
    lines = [
        "| method | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for method, row in table.iterrows():
        cells = ["n/a" if pd.isna(v) else f"{v:.4f}" for v in row]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
