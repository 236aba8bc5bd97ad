"""Drift monitoring: recent features and scores against the reference the model learned from.

Three questions, each with its thresholds in THRESHOLDS:

- Did the inputs move? Population stability index (PSI) per feature, for two populations: the
  open leads the model scores every day (every feature), and the new leads arriving (each
  lead's first daily snapshot; the profile a lead arrives with, INTAKE_FEATURES), where a change
  of lead mix shows undiluted by the stock of older leads. Numeric
  features are binned at the reference's deciles, categorical ones by category; a missing
  value is a bin of its own. Missing-value rates are compared too.
- Did the scores move? PSI of the model's probabilities, reference against recent.
- Are the probabilities still right? Once outcomes arrive (rows whose label horizon has
  passed), the realized application rate of each score decile against the predicted rate.

PSI = sum over bins of (recent share - reference share) x ln(recent share / reference share),
with half a count added to every bin (PSI_PSEUDO_COUNT) so an empty bin counts as rare, not
impossible. Two samples
of one distribution show a PSI of about (bins - 1)(1/n + 1/m) by chance alone
(expected_psi_noise); statuses judge the PSI beyond that, so a window with few new leads does
not raise an alarm on noise.
Everything here is a pure function of DataFrames and arrays, except log_monitor_run (MLflow).
"""

from __future__ import annotations

import base64
import html
import io
import math
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from features.definitions import FEATURE_NAMES, FEATURES
from features.transforms import model_frame

Status = Literal["ok", "warn", "drift", "n/a"]
FloatArray = npt.NDArray[np.float64]

MONITORING_EXPERIMENT: Final = "lead-scoring-monitoring"
PSI_SHARE_FLOOR: Final = 1e-4
PSI_PSEUDO_COUNT: Final = 0.5
PSI_BINS: Final = 10
MISSING: Final = "<missing>"
OPEN_LEADS: Final = "open leads"
NEW_LEADS: Final = "new leads"
_SEVERITY: Final[dict[str, int]] = {"n/a": 0, "ok": 1, "warn": 2, "drift": 3}


@dataclass(frozen=True)
class DriftThresholds:
    """Every monitoring threshold, in one place."""

    psi_warn: float = 0.1
    """PSI from which a distribution has moved enough to look at (common practice: 0.1)."""
    psi_drift: float = 0.25
    """PSI from which the shift is material: retrain or investigate (common practice: 0.25)."""
    missing_warn: float = 0.05
    """Rise in a feature's missing share (recent minus reference) worth a look."""
    missing_drift: float = 0.15
    """Rise in a feature's missing share that means a broken feed or a changed CRM field."""
    calibration_warn: float = 0.02
    """Mean |predicted - realized| over score deciles; the promotion gate's MAX_ECE."""
    calibration_drift: float = 0.05
    min_rows: int = 50
    """Fewer rows than this on either side: no verdict (n/a) rather than a noisy one."""


THRESHOLDS: Final = DriftThresholds()
FEATURE_KINDS: Final[dict[str, str]] = {f.name: f.kind for f in FEATURES}
INTAKE_FEATURES: Final = (
    "source",
    "loan_type",
    "credit_band",
    "loan_amount_usd",
    "timeline_segment",
)
"""What a lead brings with it when it arrives: the new-lead population is compared on these.
Its engagement features are a few hours old and mostly zero, so their PSI would be noise."""


class MonitoringError(ValueError):
    """The monitor cannot compare what it was given; the message says what is missing."""


# -- pure statistics ---------------------------------------------------------------------------


def psi_from_shares(reference: npt.ArrayLike, recent: npt.ArrayLike) -> float:
    """PSI of two share vectors over the same bins (each summing to 1)."""
    expected = np.maximum(np.asarray(reference, dtype=np.float64), PSI_SHARE_FLOOR)
    actual = np.maximum(np.asarray(recent, dtype=np.float64), PSI_SHARE_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _as_float(values: Iterable[Any] | pd.Series) -> FloatArray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )


def quantile_edges(reference: FloatArray, bins: int = PSI_BINS) -> FloatArray:
    """Interior bin edges at the reference's quantiles (duplicates merged; NaN ignored)."""
    known = reference[~np.isnan(reference)]
    if known.size == 0:
        return np.empty(0)
    edges = np.quantile(known, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    return np.asarray(np.unique(edges), dtype=np.float64)


def numeric_counts(values: FloatArray, edges: FloatArray) -> FloatArray:
    """Counts of values in each bin: (-inf, e1], (e1, e2], ..., (ek, inf), then missing."""
    missing = np.isnan(values)
    index = np.searchsorted(edges, values[~missing], side="left")
    counts = np.bincount(index, minlength=edges.size + 1).astype(np.float64)
    return np.append(counts, float(missing.sum()))


def numeric_count_pair(
    reference: Iterable[Any] | pd.Series, recent: Iterable[Any] | pd.Series, bins: int = PSI_BINS
) -> tuple[FloatArray, FloatArray]:
    """Reference and recent counts over the reference's decile bins plus a missing bin."""
    ref, now = _as_float(reference), _as_float(recent)
    if ref.size == 0 or now.size == 0:
        raise MonitoringError("a PSI needs values on both sides")
    edges = quantile_edges(ref, bins)
    return numeric_counts(ref, edges), numeric_counts(now, edges)


def psi_from_counts(reference: FloatArray, recent: FloatArray) -> float:
    """PSI of two count vectors over the same bins, each share smoothed with half a count per
    bin (Jeffreys): one empty bin among 60 new leads is then unlikely, not impossible."""
    used = (reference > 0) | (recent > 0)
    ref, now = reference[used], recent[used]
    k = ref.size
    return psi_from_shares(
        (ref + PSI_PSEUDO_COUNT) / (ref.sum() + PSI_PSEUDO_COUNT * k),
        (now + PSI_PSEUDO_COUNT) / (now.sum() + PSI_PSEUDO_COUNT * k),
    )


def numeric_psi(
    reference: Iterable[Any] | pd.Series,
    recent: Iterable[Any] | pd.Series,
    bins: int = PSI_BINS,
) -> float:
    """PSI of a numeric feature: the reference's decile bins plus a missing bin."""
    return psi_from_counts(*numeric_count_pair(reference, recent, bins))


def expected_psi_noise(bins: int, reference_rows: int, recent_rows: int) -> float:
    """PSI two samples of one distribution show by chance: (bins - 1)(1/n + 1/m).

    (For small differences PSI is about a chi-square statistic over the reference shares.)
    Statuses judge the PSI beyond this, so 60 new leads do not 'drift' on sampling noise alone.
    """
    if reference_rows < 1 or recent_rows < 1:
        return math.inf
    return max(bins - 1, 0) * (1.0 / reference_rows + 1.0 / recent_rows)


def _categories(values: Iterable[Any] | pd.Series) -> pd.Series:
    series = pd.Series(values, dtype=object)
    text = series.where(series.notna(), MISSING).astype(str)
    return text.replace({"nan": MISSING, "None": MISSING, "<NA>": MISSING})


def categorical_count_pair(
    reference: Iterable[Any] | pd.Series, recent: Iterable[Any] | pd.Series
) -> tuple[FloatArray, FloatArray]:
    """Reference and recent counts over the union of categories (missing is a category)."""
    ref, now = _categories(reference), _categories(recent)
    if ref.empty or now.empty:
        raise MonitoringError("a PSI needs values on both sides")
    categories = sorted(set(ref) | set(now))
    return (
        np.asarray(ref.value_counts().reindex(categories, fill_value=0), dtype=np.float64),
        np.asarray(now.value_counts().reindex(categories, fill_value=0), dtype=np.float64),
    )


def categorical_psi(
    reference: Iterable[Any] | pd.Series, recent: Iterable[Any] | pd.Series
) -> float:
    """PSI of a categorical feature over the union of categories (missing is a category)."""
    return psi_from_counts(*categorical_count_pair(reference, recent))


def missing_share(values: Iterable[Any] | pd.Series) -> float:
    """Share of missing values (NaN, None, NA); NaN for no values."""
    series = pd.Series(values, dtype=object)
    return float(series.isna().mean()) if len(series) else math.nan


def psi_status(psi: float, thresholds: DriftThresholds = THRESHOLDS, noise: float = 0.0) -> Status:
    """ok / warn / drift for the PSI beyond its sampling noise (n/a when unknown)."""
    if not (math.isfinite(psi) and math.isfinite(noise)):
        return "n/a"
    excess = psi - noise
    if excess >= thresholds.psi_drift:
        return "drift"
    return "warn" if excess >= thresholds.psi_warn else "ok"


def count_pair_psi(counts: tuple[FloatArray, FloatArray]) -> tuple[float, float]:
    """(PSI, its expected sampling noise) of a pair of count vectors."""
    reference, recent = counts
    used = int(np.count_nonzero((reference > 0) | (recent > 0)))
    noise = expected_psi_noise(used, int(reference.sum()), int(recent.sum()))
    return psi_from_counts(reference, recent), noise


def missing_status(
    reference_share: float, recent_share: float, thresholds: DriftThresholds = THRESHOLDS
) -> Status:
    if not (math.isfinite(reference_share) and math.isfinite(recent_share)):
        return "n/a"
    rise = recent_share - reference_share
    if rise >= thresholds.missing_drift:
        return "drift"
    return "warn" if rise >= thresholds.missing_warn else "ok"


def worst(statuses: Iterable[str]) -> Status:
    """The most severe status (drift > warn > ok > n/a)."""
    found = [s for s in statuses if s in _SEVERITY]
    if not found:
        return "n/a"
    top = max(found, key=_SEVERITY.__getitem__)
    return top  # type: ignore[return-value]


FEATURE_TABLE_COLUMNS: Final = (
    "feature",
    "kind",
    "psi",
    "psi_noise",
    "missing_reference",
    "missing_recent",
    "psi_status",
    "missing_status",
    "status",
)


def feature_drift(
    reference: pd.DataFrame,
    recent: pd.DataFrame,
    kinds: Mapping[str, str] = FEATURE_KINDS,
    thresholds: DriftThresholds = THRESHOLDS,
) -> pd.DataFrame:
    """One row per feature: PSI, missing shares, and their statuses (FEATURE_TABLE_COLUMNS),
    most drifted first. Too few rows on either side gives n/a."""
    absent = [n for n in kinds if n not in reference.columns or n not in recent.columns]
    if absent:
        raise MonitoringError(
            f"feature column(s) {absent} missing from the reference or recent rows"
        )
    enough = min(len(reference), len(recent)) >= thresholds.min_rows
    rows = []
    for name, kind in kinds.items():
        psi, noise = math.nan, math.nan
        if enough:
            counts = (
                categorical_count_pair(reference[name], recent[name])
                if kind == "category"
                else numeric_count_pair(reference[name], recent[name])
            )
            psi, noise = count_pair_psi(counts)
        miss_ref, miss_now = missing_share(reference[name]), missing_share(recent[name])
        p_status = psi_status(psi, thresholds, noise)
        m_status = missing_status(miss_ref, miss_now, thresholds) if enough else "n/a"
        rows.append(
            {
                "feature": name,
                "kind": kind,
                "psi": psi,
                "psi_noise": noise,
                "missing_reference": miss_ref,
                "missing_recent": miss_now,
                "psi_status": p_status,
                "missing_status": m_status,
                "status": worst([p_status, m_status]),
            }
        )
    table = pd.DataFrame(rows, columns=list(FEATURE_TABLE_COLUMNS))
    return table.sort_values("psi", ascending=False, na_position="last", ignore_index=True)


CALIBRATION_COLUMNS: Final = ("decile", "rows", "predicted_rate", "realized_rate", "gap")


def calibration_by_decile(
    predicted: Iterable[float] | FloatArray, realized: Iterable[bool] | npt.NDArray[np.bool_]
) -> pd.DataFrame:
    """Score deciles (1 = highest scores): rows, mean predicted probability, realized rate."""
    p = np.asarray(list(predicted) if not isinstance(predicted, np.ndarray) else predicted, float)
    y = np.asarray(list(realized) if not isinstance(realized, np.ndarray) else realized, float)
    if p.size != y.size:
        raise MonitoringError(f"{p.size} predictions but {y.size} outcomes")
    if p.size == 0:
        return pd.DataFrame(columns=list(CALIBRATION_COLUMNS))
    order = np.argsort(-p, kind="stable")
    rows = []
    for decile, part in enumerate(np.array_split(order, min(10, p.size)), start=1):
        predicted_rate, realized_rate = float(p[part].mean()), float(y[part].mean())
        rows.append(
            {
                "decile": decile,
                "rows": int(part.size),
                "predicted_rate": predicted_rate,
                "realized_rate": realized_rate,
                "gap": realized_rate - predicted_rate,
            }
        )
    return pd.DataFrame(rows, columns=list(CALIBRATION_COLUMNS))


def calibration_gap(table: pd.DataFrame) -> float:
    """Rows-weighted mean |realized - predicted| over the deciles (NaN when empty)."""
    if table.empty:
        return math.nan
    weights = table["rows"].to_numpy(dtype=np.float64)
    return float(np.average(np.abs(table["gap"].to_numpy(dtype=np.float64)), weights=weights))


def calibration_status(gap: float, rows: int, thresholds: DriftThresholds = THRESHOLDS) -> Status:
    if not math.isfinite(gap) or rows < thresholds.min_rows:
        return "n/a"
    if gap >= thresholds.calibration_drift:
        return "drift"
    return "warn" if gap >= thresholds.calibration_warn else "ok"


# -- windows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Windows:
    """The as-of ranges compared (UTC, inclusive)."""

    reference_start: pd.Timestamp | None
    reference_end: pd.Timestamp | None
    recent_start: pd.Timestamp
    recent_end: pd.Timestamp
    outcome_start: pd.Timestamp | None = None
    outcome_end: pd.Timestamp | None = None

    def describe(self) -> dict[str, str]:
        def day(moment: pd.Timestamp | None) -> str:
            return "" if moment is None else f"{moment:%Y-%m-%d}"

        return {
            "reference": f"{day(self.reference_start)} to {day(self.reference_end)}"
            if self.reference_start is not None
            else "given file",
            "recent": f"{day(self.recent_start)} to {day(self.recent_end)}",
            "outcomes": f"{day(self.outcome_start)} to {day(self.outcome_end)}"
            if self.outcome_start is not None
            else "none yet",
        }


def split_windows(
    rows: pd.DataFrame, *, recent_days: int, reference_days: int | None
) -> tuple[pd.DataFrame, pd.DataFrame, Windows]:
    """Recent rows: as_of within recent_days of the last as_of. Reference rows: the
    reference_days before them (None: everything before them)."""
    if rows.empty:
        raise MonitoringError("no feature rows to monitor; run `leadscore features build`")
    if recent_days < 1:
        raise MonitoringError(f"recent_days must be at least 1, got {recent_days}")
    as_of = pd.to_datetime(rows["as_of"], utc=True)
    last = as_of.max()
    recent_start = last - pd.Timedelta(days=recent_days) + pd.Timedelta(seconds=1)
    reference_start = (
        as_of.min() if reference_days is None else recent_start - pd.Timedelta(days=reference_days)
    )
    recent = rows.loc[(as_of >= recent_start).to_numpy()]
    reference = rows.loc[((as_of >= reference_start) & (as_of < recent_start)).to_numpy()]
    windows = Windows(
        reference_start=reference_start,
        reference_end=recent_start - pd.Timedelta(seconds=1),
        recent_start=recent_start,
        recent_end=last,
    )
    return reference, recent, windows


def new_lead_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Each lead's snapshot of its first day (days_since_created < 1): the arriving leads."""
    age = pd.to_numeric(rows["days_since_created"]).to_numpy(dtype=np.float64, na_value=np.nan)
    return rows.loc[age < 1.0]


def outcome_window(
    rows: pd.DataFrame, *, data_end: pd.Timestamp, horizon_days: int, recent_days: int
) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    """The recent_days of rows whose label horizon ended by data_end (the latest outcomes)."""
    end = pd.Timestamp(data_end) - pd.Timedelta(days=horizon_days)
    start = end - pd.Timedelta(days=recent_days)
    as_of = pd.to_datetime(rows["as_of"], utc=True)
    return rows.loc[((as_of > start) & (as_of <= end)).to_numpy()], start, end


def model_rows(stored: pd.DataFrame) -> pd.DataFrame:
    """Model inputs (FEATURE_NAMES) of stored rows as of some instants (open_rows_from output),
    with lead_id and as_of in front."""
    if "as_of" not in stored.columns:
        raise MonitoringError("stored rows need an 'as_of' column (open_rows_from output)")
    rows = model_frame(stored).reset_index(drop=True)
    rows.insert(0, "lead_id", stored["lead_id"].astype(str).to_numpy(dtype=object))
    rows.insert(1, "as_of", pd.to_datetime(stored["as_of"], utc=True).to_numpy())
    rows["as_of"] = pd.to_datetime(rows["as_of"], utc=True)
    return rows


def reference_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """A reference given as a file: model rows (FEATURE_NAMES, e.g. a saved training frame) or
    stored rows as of some instants (open_rows_from output), which become model rows."""
    if set(FEATURE_NAMES) <= set(frame.columns):
        return frame
    if "as_of" in frame.columns and "created_at_epoch_s" in frame.columns:
        return model_rows(frame)
    missing = sorted(set(FEATURE_NAMES) - set(frame.columns))[:5]
    raise MonitoringError(
        f"the reference lacks feature columns (e.g. {missing}); give a training frame with "
        "every feature of features/definitions.py, or stored rows with their as_of"
    )


def sample_rows(rows: pd.DataFrame, max_rows: int, seed: int = 0) -> pd.DataFrame:
    """At most max_rows rows, a seeded sample (daily snapshots are near-duplicates anyway)."""
    return rows if len(rows) <= max_rows else rows.sample(max_rows, random_state=seed)


# -- the report --------------------------------------------------------------------------------


@dataclass
class MonitorReport:
    """What the monitor found, with the arrays its plots need."""

    status: Status
    populations: dict[str, pd.DataFrame]
    """Population name -> feature_drift table."""
    rows: dict[str, int]
    windows: Windows
    thresholds: DriftThresholds = THRESHOLDS
    model_version: str | None = None
    score: pd.DataFrame | None = None
    """Per population: psi, status, mean score reference and recent."""
    calibration: pd.DataFrame | None = None
    calibration_gap: float = math.nan
    calibration_status: Status = "n/a"
    notes: list[str] = field(default_factory=list)
    reference_scores: FloatArray | None = field(default=None, repr=False)
    recent_scores: FloatArray | None = field(default=None, repr=False)
    reference_sample: pd.DataFrame | None = field(default=None, repr=False)
    recent_sample: pd.DataFrame | None = field(default=None, repr=False)

    def drifted(self, level: Status = "drift") -> list[str]:
        """'population: feature' for every feature at this status, then score and calibration."""
        out = [
            f"{population}: {row.feature}"
            for population, table in self.populations.items()
            for row in table.itertuples()
            if row.status == level
        ]
        if self.score is not None:
            out += [
                f"{row.population}: score" for row in self.score.itertuples() if row.status == level
            ]
        if self.calibration_status == level:
            out.append("calibration by score decile")
        return out

    def metrics(self) -> dict[str, float]:
        """Flat numbers for MLflow: PSI and missing share per population and feature, etc."""
        metrics: dict[str, float] = {"status_level": float(_SEVERITY[self.status] - 1)}
        for population, table in self.populations.items():
            prefix = population.replace(" ", "_")
            psi = table["psi"].to_numpy(dtype=np.float64)
            missing = table["missing_recent"].to_numpy(dtype=np.float64)
            for name, value, share in zip(table["feature"], psi, missing, strict=True):
                if math.isfinite(value):
                    metrics[f"{prefix}.psi.{name}"] = float(value)
                if math.isfinite(share):
                    metrics[f"{prefix}.missing.{name}"] = float(share)
        if self.score is not None:
            scores = self.score["psi"].to_numpy(dtype=np.float64)
            for population, value in zip(self.score["population"], scores, strict=True):
                if math.isfinite(value):
                    metrics[f"{str(population).replace(' ', '_')}.psi.score"] = float(value)
        if math.isfinite(self.calibration_gap):
            metrics["calibration_gap"] = self.calibration_gap
        metrics["drifted_count"] = float(len(self.drifted("drift")))
        metrics["warn_count"] = float(len(self.drifted("warn")))
        metrics.update({f"rows.{k.replace(' ', '_')}": float(v) for k, v in self.rows.items()})
        return metrics


def build_monitor_report(
    reference: pd.DataFrame,
    recent: pd.DataFrame,
    *,
    windows: Windows,
    kinds: Mapping[str, str] = FEATURE_KINDS,
    reference_scores: FloatArray | None = None,
    recent_scores: FloatArray | None = None,
    outcomes: pd.DataFrame | None = None,
    model_version: str | None = None,
    thresholds: DriftThresholds = THRESHOLDS,
    notes: Sequence[str] = (),
) -> MonitorReport:
    """Compare reference and recent model rows (FEATURE_NAMES, with days_since_created for the
    new-lead population); scores aligned with the rows when a model is available; outcomes:
    rows with 'probability' and 'label' once the label horizon has passed."""
    populations = {
        OPEN_LEADS: feature_drift(reference, recent, kinds, thresholds),
        NEW_LEADS: feature_drift(
            new_lead_rows(reference),
            new_lead_rows(recent),
            {name: kinds[name] for name in INTAKE_FEATURES if name in kinds},
            thresholds,
        ),
    }
    rows = {
        "reference": len(reference),
        "recent": len(recent),
        "reference new leads": len(new_lead_rows(reference)),
        "recent new leads": len(new_lead_rows(recent)),
    }
    report = MonitorReport(
        status="n/a",
        populations=populations,
        rows=rows,
        windows=windows,
        thresholds=thresholds,
        model_version=model_version,
        notes=list(notes),
        reference_scores=reference_scores,
        recent_scores=recent_scores,
        reference_sample=reference,
        recent_sample=recent,
    )
    if reference_scores is not None and recent_scores is not None:
        report.score = _score_drift(reference, recent, reference_scores, recent_scores, thresholds)
    if outcomes is not None and len(outcomes):
        table = calibration_by_decile(
            outcomes["probability"].to_numpy(np.float64), outcomes["label"].to_numpy(bool)
        )
        report.calibration = table
        report.calibration_gap = calibration_gap(table)
        report.calibration_status = calibration_status(
            report.calibration_gap, len(outcomes), thresholds
        )
        rows["outcomes"] = len(outcomes)
    statuses = [s for table in populations.values() for s in table["status"]]
    if report.score is not None:
        statuses += list(report.score["status"])
    statuses.append(report.calibration_status)
    report.status = worst(statuses)
    return report


def _score_drift(
    reference: pd.DataFrame,
    recent: pd.DataFrame,
    reference_scores: FloatArray,
    recent_scores: FloatArray,
    thresholds: DriftThresholds,
) -> pd.DataFrame:
    if len(reference_scores) != len(reference) or len(recent_scores) != len(recent):
        raise MonitoringError("scores must align with the reference and recent rows")
    new_ref = _new_mask(reference)
    new_now = _new_mask(recent)
    records = []
    for population, ref, now in (
        (OPEN_LEADS, reference_scores, recent_scores),
        (NEW_LEADS, reference_scores[new_ref], recent_scores[new_now]),
    ):
        enough = min(len(ref), len(now)) >= thresholds.min_rows
        psi, noise = math.nan, math.nan
        if enough:
            psi, noise = count_pair_psi(numeric_count_pair(ref, now))
        records.append(
            {
                "population": population,
                "psi": psi,
                "psi_noise": noise,
                "status": psi_status(psi, thresholds, noise),
                "mean_reference": float(np.mean(ref)) if len(ref) else math.nan,
                "mean_recent": float(np.mean(now)) if len(now) else math.nan,
            }
        )
    return pd.DataFrame(records)


def _new_mask(rows: pd.DataFrame) -> npt.NDArray[np.bool_]:
    age = pd.to_numeric(rows["days_since_created"]).to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(age < 1.0, dtype=bool)


# -- figures and the HTML page -----------------------------------------------------------------

_STATUS_COLORS: Final = {"ok": "#2ca02c", "warn": "#ff7f0e", "drift": "#d62728", "n/a": "#7f7f7f"}


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def psi_figure(report: MonitorReport, top: int = 15) -> Figure:
    """PSI of the most-moved features per population, with the warn and drift lines."""
    figure = _figure(12, 5.5)
    axes = figure.subplots(1, len(report.populations))
    for ax, (population, table) in zip(
        np.atleast_1d(axes), report.populations.items(), strict=True
    ):
        shown = table.dropna(subset=["psi"]).head(top).iloc[::-1]
        ax.barh(
            shown["feature"],
            shown["psi"],
            color=[_STATUS_COLORS[s] for s in shown["psi_status"]],
        )
        ax.axvline(report.thresholds.psi_warn, color="#ff7f0e", linestyle="--", label="warn")
        ax.axvline(report.thresholds.psi_drift, color="#d62728", linestyle="--", label="drift")
        ax.set_title(f"PSI, {population} (top {top})", fontsize=10)
        ax.set_xlabel("population stability index")
        ax.tick_params(axis="y", labelsize=8)
        ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def score_figure(report: MonitorReport) -> Figure | None:
    """Histograms of the model's probabilities, reference against recent."""
    if report.reference_scores is None or report.recent_scores is None:
        return None
    figure = _figure(6.4, 4.2)
    ax = figure.subplots()
    both = np.concatenate([report.reference_scores, report.recent_scores])
    edges = np.linspace(0.0, float(np.quantile(both, 0.995)) + 1e-9, 40)
    for scores, label in ((report.reference_scores, "reference"), (report.recent_scores, "recent")):
        ax.hist(
            np.clip(scores, 0, edges[-1]), bins=list(edges), density=True, alpha=0.5, label=label
        )
    ax.set(xlabel="predicted probability of applying", ylabel="density", title="Scores")
    ax.legend()
    return figure


def calibration_decile_figure(report: MonitorReport) -> Figure | None:
    """Predicted against realized application rate by score decile."""
    if report.calibration is None or report.calibration.empty:
        return None
    table = report.calibration
    figure = _figure(6.4, 4.2)
    ax = figure.subplots()
    x = table["decile"].to_numpy()
    ax.plot(x, table["predicted_rate"], marker="o", label="predicted")
    ax.plot(x, table["realized_rate"], marker="s", label="realized")
    ax.set(
        xlabel="score decile (1 = highest scores)",
        ylabel="application rate within the horizon",
        title=f"Calibration by decile (mean |gap| {report.calibration_gap:.3f})",
        xticks=list(x),
    )
    ax.legend()
    return figure


def distribution_figure(report: MonitorReport, top: int = 4) -> Figure | None:
    """Reference against recent distributions of the most-moved open-lead features."""
    if report.reference_sample is None or report.recent_sample is None:
        return None
    table = report.populations[OPEN_LEADS].dropna(subset=["psi"]).head(top)
    if table.empty:
        return None
    figure = _figure(12, 3.2)
    axes = np.atleast_1d(figure.subplots(1, len(table)))
    for ax, row in zip(axes, table.itertuples(), strict=True):
        name = str(row.feature)
        ref, now = report.reference_sample[name], report.recent_sample[name]
        if row.kind == "category":
            shares = pd.DataFrame(
                {
                    "reference": _categories(ref).value_counts(normalize=True),
                    "recent": _categories(now).value_counts(normalize=True),
                }
            ).fillna(0.0)
            positions = np.arange(len(shares))
            ax.bar(positions - 0.2, shares["reference"], width=0.4, label="reference")
            ax.bar(positions + 0.2, shares["recent"], width=0.4, label="recent")
            ax.set_xticks(positions, shares.index, rotation=45, ha="right", fontsize=7)
        else:
            r, n = _as_float(ref), _as_float(now)
            known = np.concatenate([r[~np.isnan(r)], n[~np.isnan(n)]])
            if known.size == 0:
                continue
            low, high = np.quantile(known, [0.005, 0.995])
            edges = np.linspace(low, high + 1e-9, 30)
            for values, label in ((r, "reference"), (n, "recent")):
                ax.hist(
                    np.clip(values[~np.isnan(values)], low, high),
                    bins=list(edges),
                    density=True,
                    alpha=0.5,
                    label=label,
                )
        ax.set_title(f"{name} (PSI {row.psi:.2f})", fontsize=9)
        ax.legend(fontsize=7)
    figure.tight_layout()
    return figure


def report_figures(report: MonitorReport) -> dict[str, Figure]:
    """Every figure the HTML page shows, by file stem."""
    figures: dict[str, Figure | None] = {
        "psi": psi_figure(report),
        "distributions": distribution_figure(report),
        "scores": score_figure(report),
        "calibration": calibration_decile_figure(report),
    }
    return {name: fig for name, fig in figures.items() if fig is not None}


def figure_png_base64(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _html_table(frame: pd.DataFrame, status_column: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for column, value in row.items():
            text = f"{value:.4f}" if isinstance(value, float) and math.isfinite(value) else value
            if isinstance(value, float) and not math.isfinite(value):
                text = "n/a"
            style = ""
            if column == status_column:
                style = f' style="color:{_STATUS_COLORS.get(str(value), "#000")};font-weight:bold"'
            cells.append(f"<td{style}>{html.escape(str(text))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def monitor_html(report: MonitorReport, figures: Mapping[str, Figure]) -> str:
    """A self-contained HTML page: verdict, windows, tables and the plots as embedded PNGs."""
    color = _STATUS_COLORS[report.status]
    windows = report.windows.describe()
    thresholds = asdict(report.thresholds)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>leadscore drift monitor</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px}",
        "table{border-collapse:collapse;margin:1rem 0;font-size:0.85rem}",
        "td,th{border:1px solid #ccc;padding:0.2rem 0.5rem;text-align:right}",
        "th{background:#f3f3f3}td:first-child{text-align:left}img{max-width:100%}",
        "</style></head><body>",
        "<h1>leadscore drift monitor</h1>",
        f"<p style='font-size:1.4rem'>Status: <strong style='color:{color}'>"
        f"{html.escape(report.status.upper())}</strong></p>",
        f"<p>Model: {html.escape(report.model_version or 'none (features only)')}</p>",
        "<ul>",
        *(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in windows.items()),
        *(f"<li>{html.escape(k)} rows: {v:,}</li>" for k, v in report.rows.items()),
        "</ul>",
    ]
    drifted, warned = report.drifted("drift"), report.drifted("warn")
    parts.append(
        f"<p>Drift: {html.escape(', '.join(drifted) or 'none')}.<br>"
        f"Warnings: {html.escape(', '.join(warned) or 'none')}.</p>"
    )
    for note in report.notes:
        parts.append(f"<p><em>{html.escape(note)}</em></p>")
    if "psi" in figures:
        parts.append(f"<img alt='PSI per feature' src='data:image/png;base64,"
                     f"{figure_png_base64(figures['psi'])}'>")  # fmt: skip
    if "distributions" in figures:
        parts.append(f"<img alt='distributions' src='data:image/png;base64,"
                     f"{figure_png_base64(figures['distributions'])}'>")  # fmt: skip
    if report.score is not None:
        parts += ["<h2>Scores</h2>", _html_table(report.score, "status")]
        if "scores" in figures:
            parts.append(f"<img alt='score histograms' src='data:image/png;base64,"
                         f"{figure_png_base64(figures['scores'])}'>")  # fmt: skip
    if report.calibration is not None:
        parts += [
            "<h2>Outcomes: realized against predicted by score decile</h2>",
            f"<p>mean |gap| {report.calibration_gap:.4f}: "
            f"<strong style='color:{_STATUS_COLORS[report.calibration_status]}'>"
            f"{report.calibration_status}</strong></p>",
            _html_table(report.calibration),
        ]
        if "calibration" in figures:
            parts.append(f"<img alt='calibration by decile' src='data:image/png;base64,"
                         f"{figure_png_base64(figures['calibration'])}'>")  # fmt: skip
    for population, table in report.populations.items():
        parts += [f"<h2>Features: {html.escape(population)}</h2>", _html_table(table, "status")]
    parts += [
        "<h2>Thresholds</h2>",
        "<ul>",
        *(f"<li>{html.escape(k)}: {v}</li>" for k, v in thresholds.items()),
        "</ul></body></html>",
    ]
    return "\n".join(parts)


def write_monitor_report(report: MonitorReport, out_dir: Path) -> Path:
    """index.html (plots embedded) in out_dir; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(monitor_html(report, report_figures(report)))
    return path


def log_monitor_run(
    report: MonitorReport,
    html_path: Path,
    *,
    tracking_uri: str,
    artifacts_dir: Path | None = None,
) -> str:
    """Log the report as a run of the 'lead-scoring-monitoring' experiment; returns the run id."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(MONITORING_EXPERIMENT)
    if experiment is None:
        location = None
        if artifacts_dir is not None:
            artifacts_dir.mkdir(parents=True, exist_ok=True)
            location = artifacts_dir.resolve().as_uri()
        experiment_id = client.create_experiment(MONITORING_EXPERIMENT, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id
    run = client.create_run(experiment_id, run_name="monitor")
    run_id: str = run.info.run_id
    windows = report.windows.describe()
    for key, value in {
        **{f"window_{k}": v for k, v in windows.items()},
        "model_version": report.model_version or "none",
        **{f"threshold_{k}": v for k, v in asdict(report.thresholds).items()},
    }.items():
        client.log_param(run_id, key, str(value))
    metrics = report.metrics()
    timestamp = int(pd.Timestamp.now(tz="UTC").timestamp() * 1000)
    from mlflow.entities import Metric

    client.log_batch(run_id, metrics=[Metric(k, v, timestamp, 0) for k, v in metrics.items()])
    client.set_tag(run_id, "status", report.status)
    client.set_tag(run_id, "drifted", ", ".join(report.drifted("drift"))[:4000] or "none")
    with tempfile.TemporaryDirectory(prefix="leadscore-monitor-") as tmp:
        folder = Path(tmp)
        for population, table in report.populations.items():
            table.to_csv(folder / f"features_{population.replace(' ', '_')}.csv", index=False)
        if report.calibration is not None:
            report.calibration.to_csv(folder / "calibration_by_decile.csv", index=False)
        client.log_artifacts(run_id, str(folder), "monitor")
    client.log_artifact(run_id, str(html_path), "monitor")
    client.set_terminated(run_id)
    return run_id
