"""Lead-clustered bootstrap intervals for test-slice metrics, and paired differences.

A test slice holds many rows per lead (one per sampled instant), and a lead's rows share its
outcome: they are not independent draws. Resampling rows would treat one applying lead's 17
rows as 17 pieces of evidence and give intervals far too narrow. Here a resample draws LEADS
with replacement and every row of a drawn lead comes along (a lead drawn twice counts twice).

Resamples are row weights (how many times each row's lead was drawn), so every metric is a
weighted statistic computed for a whole block of resamples at once with numpy. What the weights
cannot change is kept as measured on the full slice: the quantile bins of the ECE, each row's
rank in its officer-day queue (capture at capacity) and the top score decile (lift). The
intervals therefore measure which leads and applications the test window happened to hold,
not how queues would be re-ranked around a duplicated lead.

The same seed and leads give the same resamples, so two models scored on the same rows are
compared on identical resamples (a paired comparison: ``paired_interval``). Resamples without
both outcomes (no applying lead drawn) are skipped and counted (``Interval.usable``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final, TypeVar

import numpy as np
import pandas as pd

RESAMPLES: Final = 1000
MIN_RESAMPLES: Final = 200
RESAMPLED_CELLS: Final = 50_000_000
"""Work bound per metric, resamples x rows: a slice of over 50k rows gets fewer resamples than
RESAMPLES (never under MIN_RESAMPLES). A 1M-row CSV's 200k test rows took 64 s of evaluation
with 1,000; they get 250, and such a slice's intervals are narrow anyway."""
CONFIDENCE: Final = 0.95
CELLS_PER_BLOCK: Final = 4_000_000
"""Resamples x rows computed at once (32 MB of float64 weights): bounds memory, not work."""

K = TypeVar("K", bound=Hashable)

WeightedMetric = Callable[[np.ndarray], np.ndarray]
"""Row weights (resamples x rows) -> the metric of each resample (NaN: not computable)."""


@dataclass(frozen=True)
class Interval:
    """A metric on the full slice and its bootstrap percentile interval."""

    estimate: float
    low: float
    high: float
    usable: int
    """Resamples in which the metric could be computed (both outcomes drawn)."""
    resamples: int
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def text(self, spec: str = ".2f") -> str:
        """``0.71 [0.66, 0.76]``; ``n/a`` when the metric does not apply."""
        if not np.isfinite(self.estimate):
            return "n/a"
        if not (np.isfinite(self.low) and np.isfinite(self.high)):
            return f"{self.estimate:{spec}} [no interval]"
        return f"{self.estimate:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"


@dataclass(frozen=True)
class Evidence:
    """How much the test slice can tell: its leads and the leads that applied."""

    rows: int
    leads: int
    applying_leads: int

    def text(self) -> str:
        return f"{self.leads:,} test leads, {self.applying_leads:,} applied ({self.rows:,} rows)"


def evidence_of(labels: np.ndarray, leads: np.ndarray | None) -> Evidence:
    """Count test leads and applying leads (a lead with any positive row)."""
    y = np.asarray(labels, dtype=bool)
    if leads is None:
        return Evidence(len(y), len(y), int(y.sum()))
    codes, uniques = pd.factorize(np.asarray(leads))
    applying = np.zeros(len(uniques), dtype=bool)
    applying[codes[y]] = True
    return Evidence(len(y), len(uniques), int(applying.sum()))


class LeadResamples:
    """Seeded lead-clustered resamples of a slice's rows, as blocks of row weights."""

    def __init__(
        self, leads: np.ndarray | None, n_rows: int, resamples: int = RESAMPLES, seed: int = 0
    ) -> None:
        if leads is None:
            self.codes = np.arange(n_rows, dtype=np.int64)
        else:
            if len(leads) != n_rows:
                raise ValueError(f"{len(leads)} lead ids for {n_rows} rows; give one per row")
            self.codes = pd.factorize(np.asarray(leads))[0].astype(np.int64)
        self.n_leads = int(self.codes.max()) + 1 if n_rows else 0
        self.resamples = resamples_for(n_rows, resamples)
        self.seed = seed

    def blocks(self) -> Iterator[np.ndarray]:
        """Row weights, resamples x rows, block by block (the same blocks on every call)."""
        rng = np.random.default_rng(self.seed)
        n_rows = len(self.codes)
        per_block = max(1, min(self.resamples, CELLS_PER_BLOCK // max(n_rows, 1)))
        done = 0
        while done < self.resamples:
            b = min(per_block, self.resamples - done)
            draws = rng.integers(0, self.n_leads, size=(b, self.n_leads))
            offsets = (np.arange(b) * self.n_leads)[:, None]
            counts = np.bincount((draws + offsets).ravel(), minlength=b * self.n_leads)
            yield counts.reshape(b, self.n_leads)[:, self.codes].astype(np.float64)
            done += b


def resamples_for(n_rows: int, wanted: int = RESAMPLES) -> int:
    """The resamples a slice of n_rows gets: as many as wanted within RESAMPLED_CELLS of work."""
    return max(min(wanted, MIN_RESAMPLES), min(wanted, RESAMPLED_CELLS // max(n_rows, 1)))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = np.where(denominator > 0, denominator, 1)
        return np.where(denominator > 0, numerator / safe, np.nan)


def _cumulative(weights: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Running sums of the weights of `columns` (in that order), with a leading 0 column."""
    out = np.zeros((weights.shape[0], len(columns) + 1))
    np.cumsum(weights[:, columns], axis=1, out=out[:, 1:])
    return out


def weighted_roc_auc(labels: np.ndarray, scores: np.ndarray) -> WeightedMetric:
    """ROC-AUC under row weights: P(score of a positive > a negative's), ties count half.

    Only the positive rows and a running sum over the negatives ordered by score are needed,
    so a block of resamples costs one pass over its weights.
    """
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    positives = np.flatnonzero(y)
    negatives = np.flatnonzero(~y)
    negatives = negatives[np.argsort(s[negatives], kind="stable")]
    below = np.searchsorted(s[negatives], s[positives], side="left")
    up_to_ties = np.searchsorted(s[negatives], s[positives], side="right")

    def metric(weights: np.ndarray) -> np.ndarray:
        running = _cumulative(weights, negatives)
        tied = running[:, up_to_ties] - running[:, below]
        w_pos = weights[:, positives]
        pairs = (w_pos * (running[:, below] + 0.5 * tied)).sum(axis=1)
        return _ratio(pairs, w_pos.sum(axis=1) * running[:, -1])

    return metric


def weighted_average_precision(labels: np.ndarray, scores: np.ndarray) -> WeightedMetric:
    """Average precision (scikit-learn's definition) under row weights.

    Each positive row adds its weight times the precision at its score as threshold (every row
    scoring at least as high, ties included), over the total positive weight.
    """
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    everyone = np.argsort(s, kind="stable")
    positives = np.flatnonzero(y)
    positives_sorted = positives[np.argsort(s[positives], kind="stable")]
    all_below = np.searchsorted(s[everyone], s[positives], side="left")
    positives_below = np.searchsorted(s[positives_sorted], s[positives], side="left")

    def metric(weights: np.ndarray) -> np.ndarray:
        running_all = _cumulative(weights, everyone)
        running_pos = _cumulative(weights, positives_sorted)
        at_least = running_all[:, -1:] - running_all[:, all_below]
        positive_at_least = running_pos[:, -1:] - running_pos[:, positives_below]
        precision = np.nan_to_num(_ratio(positive_at_least, at_least))
        w_pos = weights[:, positives]
        return _ratio((w_pos * precision).sum(axis=1), w_pos.sum(axis=1))

    return metric


def weighted_mean(values: np.ndarray) -> WeightedMetric:
    """The weighted mean of a per-row value (Brier: the squared error)."""
    v = np.asarray(values, dtype=np.float64)
    return lambda weights: _ratio(weights @ v, weights.sum(axis=1))


def weighted_share(hits: np.ndarray, among: np.ndarray) -> WeightedMetric:
    """Weighted share of the rows in `among` that are `hits` (capture: applications in reach)."""
    a = np.asarray(among, dtype=np.float64)
    h = np.asarray(hits, dtype=np.float64) * a
    return lambda weights: _ratio(weights @ h, weights @ a)


def weighted_lift(labels: np.ndarray, selected: np.ndarray) -> WeightedMetric:
    """Positive rate of the selected rows over the overall positive rate."""
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(selected, dtype=np.float64)

    def metric(weights: np.ndarray) -> np.ndarray:
        base = _ratio(weights @ y, weights.sum(axis=1))
        return _ratio(_ratio(weights @ (y * s), weights @ s), base)

    return metric


def weighted_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: np.ndarray
) -> WeightedMetric:
    """ECE under row weights, in fixed bins (each row's bin index)."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    members = np.zeros((len(p), int(bins.max()) + 1 if len(p) else 0))
    members[np.arange(len(p)), bins] = 1.0
    gap = members * (p - y)[:, None]

    def metric(weights: np.ndarray) -> np.ndarray:
        return _ratio(np.abs(weights @ gap).sum(axis=1), weights.sum(axis=1))

    return metric


def bootstrap_values(
    metrics: Mapping[K, WeightedMetric], resamples: LeadResamples
) -> dict[K, np.ndarray]:
    """Each metric on every resample (NaN where it could not be computed)."""
    values: dict[K, list[np.ndarray]] = {name: [] for name in metrics}
    for weights in resamples.blocks():
        for name, metric in metrics.items():
            values[name].append(metric(weights))
    return {name: np.concatenate(parts) for name, parts in values.items()}


def percentile_interval(
    estimate: float, values: np.ndarray, confidence: float = CONFIDENCE
) -> Interval:
    """The percentile interval of the usable (finite) resampled values."""
    usable = values[np.isfinite(values)]
    if not np.isfinite(estimate) or len(usable) < 2:
        return Interval(estimate, np.nan, np.nan, len(usable), len(values), confidence)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(usable, [tail, 100 - tail])
    return Interval(estimate, float(low), float(high), len(usable), len(values), confidence)


def metric_intervals(
    metrics: Mapping[K, WeightedMetric], resamples: LeadResamples
) -> dict[K, Interval]:
    """Each metric's estimate (every row weighted 1) with its interval over the resamples."""
    unit = np.ones((1, len(resamples.codes)))
    values = bootstrap_values(metrics, resamples)
    return {
        name: percentile_interval(float(metric(unit)[0]), values[name])
        for name, metric in metrics.items()
    }


def difference(first: WeightedMetric, second: WeightedMetric) -> WeightedMetric:
    """first - second on the same weights (a paired comparison when resampled together)."""
    return lambda weights: first(weights) - second(weights)


def clustered_interval(
    metric: WeightedMetric,
    n_rows: int,
    leads: np.ndarray | None,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Interval:
    """One metric with its 95% lead-clustered bootstrap interval.

    metric: built from the slice's labels and scores (``weighted_roc_auc(labels, scores)``, ...);
    its value at unit weights is the estimate.
    """
    return metric_intervals({"m": metric}, LeadResamples(leads, n_rows, resamples, seed))["m"]


def paired_interval(
    challenger: WeightedMetric,
    champion: WeightedMetric,
    n_rows: int,
    leads: np.ndarray | None,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Interval:
    """challenger - champion on the same rows, each resample drawing the same leads for both."""

    return clustered_interval(
        difference(challenger, champion), n_rows, leads, resamples=resamples, seed=seed
    )
