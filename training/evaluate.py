"""Test-slice metrics for the model and its baselines, including capture at capacity.

Capture at capacity is the product's own metric: an officer calls at most K leads a day, so
what matters is the share of the horizon's applications (positive labels) that were among
each officer's top K of the day. Rows are grouped by (officer_id, as_of); without officers
(a CSV export) one global ranking is used. Ties (rank-only rules give many) are broken by a
seeded random draw, the same draw for every method.

Brier and ECE only mean something for calibrated probabilities; rank-only methods get NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

ECE_BINS: Final = 10
CAPTURE_KS: Final = (5, 10, 20, 30, 40, 60, 80, 100)
"""Capacities drawn in the capture chart (calls per officer-day)."""


class EvaluationError(ValueError):
    """The test slice cannot be evaluated (e.g. it holds one outcome only)."""


@dataclass(frozen=True)
class MethodScores:
    """A method's scores on the test slice; probability=False marks a rank-only rule."""

    scores: np.ndarray
    probability: bool


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> float:
    """Weighted mean |mean predicted - observed rate| over equal-width probability bins."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    index = np.clip((p * bins).astype(int), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.sum() * abs(p[mask].mean() - y[mask].mean())
    return float(total / len(p)) if len(p) else float("nan")


def reliability_table(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> pd.DataFrame:
    """Per bin: mean predicted probability, observed rate and row count (for the plot)."""
    p = np.asarray(probabilities, dtype=np.float64)
    index = np.clip((p * bins).astype(int), 0, bins - 1)
    frame = pd.DataFrame({"bin": index, "predicted": p, "observed": np.asarray(labels, float)})
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


@dataclass(frozen=True)
class Evaluation:
    """Everything measured on the test slice, per method."""

    table: pd.DataFrame
    """One row per method: roc_auc, pr_auc, brier, ece, capture_at_capacity, top_decile_lift."""
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


def evaluate_methods(
    labels: np.ndarray,
    methods: Mapping[str, MethodScores],
    groups: np.ndarray,
    capacity: int,
    *,
    seed: int = 0,
    capture_ks: Sequence[int] = CAPTURE_KS,
    capacity_share: np.ndarray | None = None,
) -> Evaluation:
    """Score every method on the same rows, groups and tie-break.

    capacity_share: per row, the share of its group's real queue present here (None: all).
    """
    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        raise EvaluationError(
            f"the test slice has {int(y.sum())} positive label(s) of {len(y)}; metrics need "
            "both outcomes. Use more leads or a longer period."
        )
    tiebreak = tie_breaker(len(y), seed)
    rows: dict[str, dict[str, float]] = {}
    lifts: dict[str, np.ndarray] = {}
    curves: dict[str, list[float]] = {}
    ranks: dict[str, np.ndarray] = {}
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
        rows[name] = {
            "roc_auc": float(roc_auc_score(y, scores)),
            "pr_auc": float(average_precision_score(y, scores)),
            "brier": float(brier_score_loss(y, scores)) if method.probability else np.nan,
            "ece": expected_calibration_error(scores, y) if method.probability else np.nan,
            "capture_at_capacity": capture_at_capacity(y, rank, capacity_rows),
            "top_decile_lift": float(lifts[name][0]),
        }
    return Evaluation(
        table=pd.DataFrame.from_dict(rows, orient="index"),
        lift=pd.DataFrame(lifts, index=pd.RangeIndex(1, 11, name="decile")),
        capture_curve=pd.DataFrame(curves, index=pd.Index(ks, name="capacity")),
        ranks=ranks,
        methods=dict(methods),
        capacity=capacity,
        capacity_rows=capacity_rows,
    )


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
