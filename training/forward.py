"""Forward-chaining evaluation: the model judged as the product uses it, on simulated history.

At a cut-off T the model is trained on what was known at T: events before T, and only rows
whose label had matured (as_of + horizon <= T). Then, on every workday of [T, T + window),
every officer's real queue is rebuilt from all their open leads (the production queue
builder, passed in: training never imports serving; capacity = the officer's real calls a
day) once per method, and the evaluation counts APPLICATIONS: an application counts once per
cut-off if its lead was open on a window workday within the horizon before it applied, and is
captured when the lead was in its officer's queue on one of those days ("application
capture"). ROC-AUC, PR-AUC and Brier are computed over the same lead-days. Several cut-offs
(rolling origin) are pooled; every figure has a 95% interval from resampling LEADS
(training/intervals.py), and the model's difference to each baseline is paired (the same
resampled leads for both).

Methods: the model, newest-first, the CRM points rule, logistic regression (fit on the same
training rows), the simulator's oracle (knows the future: touches not yet made, tomorrow's
noise) and the as-of oracle (simulator/as_of.py: only what was true at the as-of instant;
the fair ceiling). Every figure is simulated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, cast
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from features.definitions import FEATURE_NAMES
from features.transforms import label_entities
from models.scorer import LeadScorer
from simulator import DayView, HistoricalPolicy, SimulatedWorld, SimulationConfig, simulate
from simulator.as_of import PATHS, as_of_propensity
from training.backtest import LEADS_PER_OFFICER_MONTH, simulated_training_frame
from training.baselines import logistic_regression, newest_first, points_score
from training.dataset import oracle_propensity
from training.intervals import (
    RESAMPLES,
    Evidence,
    Interval,
    LeadResamples,
    WeightedMetric,
    difference,
    evidence_of,
    metric_intervals,
    weighted_average_precision,
    weighted_mean,
    weighted_roc_auc,
    weighted_share,
)
from training.policies import (
    QUEUE_BUILT_AT_LOCAL,
    QueueBuilder,
    day_features,
    rank_share,
    segmented_candidates,
)
from training.train import (
    TrainConfig,
    TrainingFrameError,
    fit_scorer,
    lead_layout,
    prepare_lead_data,
)

MODEL: Final = "model"
AS_OF_ORACLE: Final = "as_of_oracle"
ORACLE: Final = "oracle"
METHODS: Final = (
    MODEL,
    "newest_first",
    "points_rule",
    "logistic_regression",
    ORACLE,
    AS_OF_ORACLE,
)
PROBABILITY_METHODS: Final = frozenset({MODEL, "logistic_regression", ORACLE, AS_OF_ORACLE})
BASELINES: Final = ("newest_first", "points_rule", "logistic_regression")
COMPARED: Final = (*BASELINES, AS_OF_ORACLE)
"""What the model is compared with, paired by lead: the baselines it must beat and the fair
ceiling whose gap is the one left to close."""
METRICS: Final = ("application_capture", "roc_auc", "pr_auc", "brier")
PAIRED_METRICS: Final = ("application_capture", "roc_auc")
DESCRIPTIONS: Final[dict[str, str]] = {
    MODEL: "LightGBM trained on what was known at the cut-off",
    "newest_first": "newer leads first",
    "points_rule": "CRM points for actions and recency",
    "logistic_regression": "logistic regression on the same training rows",
    ORACLE: "the simulator's true propensity, knowing the future's draws (not a fair ceiling)",
    AS_OF_ORACLE: "the simulator's probability given only what was true at the as-of instant "
    "(the fair ceiling)",
}


class ForwardError(ValueError):
    """The evaluation cannot run as asked; the message says what to change."""


@dataclass(frozen=True)
class ForwardConfig:
    """The simulated history, the cut-offs and how each window is judged."""

    officers: int = 5
    months: int = 12
    seed: int = 7
    leads_per_month: int | None = None
    """All officers together; None: 40 a month per officer."""
    start: date = date(2025, 1, 1)
    horizon_days: int = 30
    capacity: int = 40
    """The officer's real calls a day: the queue's length."""
    window_days: int = 28
    cutoffs: int = 3
    """Rolling origins, one window apart, the last as late as the labels allow."""
    min_history_days: int = 120
    """Training needs at least this much history before the first cut-off."""
    paths: int = PATHS
    resamples: int = RESAMPLES
    compensation_bps: float = 100.0
    train_seed: int = 42

    def __post_init__(self) -> None:
        for name in ("capacity", "window_days", "cutoffs", "paths", "resamples"):
            if getattr(self, name) < 1:
                raise ForwardError(f"{name} must be at least 1, got {getattr(self, name)}")

    @property
    def monthly_leads(self) -> int:
        return self.leads_per_month or LEADS_PER_OFFICER_MONTH * self.officers

    def simulation(self, as_of_dates: Sequence[date] = ()) -> SimulationConfig:
        """The history: historical follow-up, the officers' real capacity, states recorded on
        the evaluation days (for the as-of oracle)."""
        return SimulationConfig(
            officers=self.officers,
            months=self.months,
            leads_per_month=self.monthly_leads,
            seed=self.seed,
            start=self.start,
            daily_capacity=self.capacity,
            as_of_state_dates=tuple(as_of_dates),
        )

    def cutoff_dates(self) -> list[date]:
        """The cut-offs, oldest first; each window's labels lie inside the history."""
        sim = self.simulation()
        last = sim.end - timedelta(days=self.window_days + self.horizon_days)
        dates = [last - timedelta(days=k * self.window_days) for k in range(self.cutoffs)]
        earliest = self.start + timedelta(days=self.min_history_days + self.horizon_days)
        kept = sorted(d for d in dates if d >= earliest)
        if not kept:
            raise ForwardError(
                f"a {self.months}-month history leaves no cut-off with {self.min_history_days} "
                f"days of training history and a {self.window_days}-day window plus the "
                f"{self.horizon_days}-day horizon after it; simulate more months"
            )
        return kept

    def workdays(self, cutoff: date) -> list[date]:
        weekdays = self.simulation().working_weekdays
        days = (cutoff + timedelta(days=k) for k in range(self.window_days))
        return [d for d in days if d.weekday() in weekdays]


# -- application capture -------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureCount:
    applications: int
    captured: int

    @property
    def share(self) -> float:
        return self.captured / self.applications if self.applications else float("nan")


def capture_indicators(
    keys: np.ndarray, labels: np.ndarray, in_queue: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per lead-day row: (captured, counted) for application capture as a weighted share.

    keys: the application a row belongs to (its lead, per cut-off). A row is labelled when its
    lead applied within the horizon after that day. Each application is counted on exactly
    one row (its first labelled one) and captured there if ANY of its labelled rows was in the
    queue: one application counts once, however many days it was open.
    """
    y = np.asarray(labels, dtype=bool)
    queued = np.asarray(in_queue, dtype=bool)
    codes = pd.factorize(np.asarray(keys))[0]
    hit = np.zeros(codes.max() + 1 if len(codes) else 0, dtype=bool)
    hit[codes[y & queued]] = True
    counted = np.zeros(len(y), dtype=bool)
    positive_rows = np.flatnonzero(y)
    _, first = np.unique(codes[positive_rows], return_index=True)
    counted[positive_rows[first]] = True
    return hit[codes] & counted, counted


def application_capture(keys: np.ndarray, labels: np.ndarray, in_queue: np.ndarray) -> CaptureCount:
    """Applications (labelled leads, per key) and how many were in the queue on a day before
    they applied, within the horizon."""
    captured, counted = capture_indicators(keys, labels, in_queue)
    return CaptureCount(int(counted.sum()), int(captured.sum()))


# -- the run ------------------------------------------------------------------------------------


@dataclass
class ViewRecorder(HistoricalPolicy):
    """The historical policy, keeping the CRM's lead rows of chosen days (what the officers saw
    at midnight): the candidates' consent, opt-outs and first touches, as on that day."""

    record_days: frozenset[date] = frozenset()
    views: dict[date, pd.DataFrame] = field(default_factory=dict)

    def plan_day(self, view: DayView) -> pd.DataFrame:
        if view.day in self.record_days:
            self.views[view.day] = view.leads.copy()
        return super().plan_day(view)


def training_frame_at(
    world: SimulatedWorld, cutoff: pd.Timestamp, horizon_days: int
) -> pd.DataFrame:
    """What was known at the cut-off: events before it, rows whose label matured by then."""
    frame = simulated_training_frame(world, horizon_days=horizon_days, until=cutoff)
    late = frame["as_of"] + pd.Timedelta(days=horizon_days) > cutoff
    if late.any():  # the contract this evaluation stands on; never expected to fire
        raise ForwardError(f"{int(late.sum())} training rows mature after the cut-off {cutoff}")
    return frame


def _office_midnight(day: date, zone: str) -> pd.Timestamp:
    return pd.Timestamp(datetime.combine(day, datetime.min.time(), ZoneInfo(zone))).tz_convert(
        "UTC"
    )


@dataclass(frozen=True)
class WindowRows:
    """Every open lead on every workday of one window, with each method's score and queue."""

    cutoff: date
    rows: pd.DataFrame
    """lead_id, officer_id, day, as_of, label, then per method <method> (score) and
    <method>_queued (in that day's queue)."""
    training: dict[str, int]


def score_window(
    world: SimulatedWorld,
    views: Mapping[date, pd.DataFrame],
    cutoff: date,
    config: ForwardConfig,
    queue_builder: QueueBuilder,
    train_config: TrainConfig,
) -> WindowRows:
    """Train at the cut-off, then score and queue every open lead on each window workday."""
    zone = world.config.office_time_zone
    at_cutoff = _office_midnight(cutoff, zone)
    frame = training_frame_at(world, at_cutoff, config.horizon_days)
    try:
        data = prepare_lead_data(
            frame, train_config, horizon_days=config.horizon_days, capacity=config.capacity
        )
        scorer = fit_scorer(data, train_config)
    except (TrainingFrameError, ValueError) as exc:
        raise ForwardError(f"cannot train at the cut-off {cutoff}: {exc}") from exc
    parts: list[pd.DataFrame] = []
    features_parts: list[pd.DataFrame] = []
    candidates_parts: list[pd.DataFrame] = []
    for day in config.workdays(cutoff):
        as_of = _office_midnight(day, zone)
        leads = views[day]
        events = world.events.loc[world.events["occurred_at"] < as_of]
        stored, features = day_features(leads, events, world.rates, as_of)
        if stored.empty:
            continue
        candidates = segmented_candidates(leads, stored, features)
        rows = pd.DataFrame(
            {
                "lead_id": candidates["lead_id"].astype(str).to_numpy(),
                "officer_id": candidates["officer_id"].astype(str).to_numpy(),
                "day": day.isoformat(),
                "as_of": as_of,
            }
        )
        parts.append(rows)
        features_parts.append(features.assign(**{"as_of": as_of}))
        candidates_parts.append(candidates)
    if not parts:
        raise ForwardError(f"no open lead on any workday after the cut-off {cutoff}")
    rows = pd.concat(parts, ignore_index=True)
    features = pd.concat(features_parts, ignore_index=True)
    candidates = pd.concat(candidates_parts, ignore_index=True)
    rows["label"] = label_entities(rows, world.events, config.horizon_days).to_numpy()
    scores = method_scores(world, rows, features, frame, scorer, config, train_config.seed)
    at_by_day = {
        d: datetime.combine(date.fromisoformat(d), QUEUE_BUILT_AT_LOCAL, ZoneInfo(zone))
        for d in rows["day"].unique()
    }
    for method, values in scores.items():
        rows[method] = values
        rows[f"{method}_queued"] = queued_rows(
            candidates.assign(probability=queue_probability(method, values, rows["day"])),
            rows["day"].to_numpy(),
            at_by_day,
            queue_builder,
            capacity=config.capacity,
            compensation_bps=config.compensation_bps,
        )
    training = {
        "rows": len(frame),
        "leads": int(frame["lead_id"].nunique()),
        "applying_leads": int(frame.loc[frame["label"].astype(bool), "lead_id"].nunique()),
        "trees": int(scorer.metadata.get("trees", 0)),
    }
    return WindowRows(cutoff, rows, training)


def method_scores(
    world: SimulatedWorld,
    rows: pd.DataFrame,
    features: pd.DataFrame,
    train: pd.DataFrame,
    scorer: LeadScorer,
    config: ForwardConfig,
    seed: int,
) -> dict[str, np.ndarray]:
    """Each method's score of every window row (rank-only rules: their raw score)."""
    model_input = features[list(FEATURE_NAMES)]
    test = features.assign(label=rows["label"].to_numpy())
    states = world.as_of_states.set_index(["lead_id", "date"])
    keys = pd.MultiIndex.from_arrays([rows["lead_id"], rows["day"]], names=["lead_id", "date"])
    found = states.reindex(keys)
    if found["as_of_s"].isna().any():
        missing = int(found["as_of_s"].isna().sum())
        raise ForwardError(f"{missing} open lead-days have no recorded as-of state")
    return {
        MODEL: np.asarray(scorer.predict_proba(model_input), dtype=np.float64),
        "newest_first": newest_first(train, test),
        "points_rule": points_score(test),
        "logistic_regression": logistic_regression(lead_layout(), seed)(train, test),
        ORACLE: oracle_propensity(rows, world.daily_hazard, horizon_days=config.horizon_days),
        AS_OF_ORACLE: as_of_propensity(
            found.reset_index(),
            world.config,
            horizon_days=config.horizon_days,
            paths=config.paths,
            seed=config.seed,
        ),
    }


def queue_probability(method: str, scores: np.ndarray, days: pd.Series) -> np.ndarray:
    """What the queue ranks by: probabilities as they are, rank-only scores as their share of
    the day's scores at or below them (training.policies.rank_share, as the backtest does)."""
    if method in PROBABILITY_METHODS:
        return np.asarray(np.clip(np.nan_to_num(scores, nan=0.0), 0.0, 1.0), dtype=np.float64)
    out = np.empty(len(scores))
    for _, index in days.groupby(days.to_numpy()).indices.items():
        out[index] = rank_share(np.asarray(scores[index], dtype=np.float64))
    return out


def queued_rows(
    candidates: pd.DataFrame,
    days: np.ndarray,
    at_by_day: Mapping[str, datetime],
    queue_builder: QueueBuilder,
    *,
    capacity: int,
    compensation_bps: float,
) -> np.ndarray:
    """Per row: was the lead in its officer's queue that day (the builder's cut at capacity)."""
    queued = np.zeros(len(candidates), dtype=bool)
    groups = candidates.groupby([days, candidates["officer_id"].to_numpy()], sort=True).indices
    lead_ids = candidates["lead_id"].astype(str).to_numpy()
    for key, index in groups.items():
        day, officer = cast(tuple[str, str], key)
        plan = queue_builder(
            candidates.iloc[index].reset_index(drop=True),
            officer_id=str(officer),
            at_utc=at_by_day[str(day)],
            capacity=capacity,
            rank_by="probability",
            compensation_bps=compensation_bps,
        )
        chosen = {lead for lead, _ in plan}
        queued[index] = np.isin(lead_ids[index], list(chosen))
    return queued


# -- the figures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForwardFigures:
    """Every method's metrics with intervals, the paired differences and the evidence."""

    intervals: dict[str, dict[str, Interval]]
    differences: dict[str, dict[str, Interval]]
    """model minus baseline, paired by lead: {baseline: {metric: interval}}."""
    captures: dict[str, CaptureCount]
    evidence: Evidence
    applications: int


def window_metrics(
    rows: pd.DataFrame, methods: Sequence[str], *, resamples: int, seed: int
) -> ForwardFigures:
    """The metrics of lead-day rows (one window or several pooled), clustered by lead."""
    y = rows["label"].to_numpy(dtype=bool)
    leads = rows["lead_id"].to_numpy()
    keys = (rows["cutoff"].astype(str) + "/" + rows["lead_id"].astype(str)).to_numpy()
    if not y.any() or y.all():
        raise ForwardError(
            f"the windows hold {int(y.sum())} labelled lead-days of {len(y)}; metrics need "
            "both outcomes (simulate more officers or months)"
        )
    weighted: dict[tuple[str, str], WeightedMetric] = {}
    captures: dict[str, CaptureCount] = {}
    for method in methods:
        scores = rows[method].to_numpy(dtype=np.float64)
        queued = rows[f"{method}_queued"].to_numpy(dtype=bool)
        captured, counted = capture_indicators(keys, y, queued)
        captures[method] = CaptureCount(int(counted.sum()), int(captured.sum()))
        weighted[method, "application_capture"] = weighted_share(captured, counted)
        weighted[method, "roc_auc"] = weighted_roc_auc(y, scores)
        weighted[method, "pr_auc"] = weighted_average_precision(y, scores)
        if method in PROBABILITY_METHODS:
            weighted[method, "brier"] = weighted_mean((scores - y) ** 2)
    for baseline in (b for b in COMPARED if b in methods and MODEL in methods):
        for metric in PAIRED_METRICS:
            weighted[f"{MODEL}-{baseline}", metric] = difference(
                weighted[MODEL, metric], weighted[baseline, metric]
            )
    sampler = LeadResamples(leads, len(y), resamples, seed)
    intervals: dict[str, dict[str, Interval]] = {}
    differences: dict[str, dict[str, Interval]] = {}
    for (name, metric), found in metric_intervals(weighted, sampler).items():
        if name.startswith(f"{MODEL}-"):
            differences.setdefault(name.removeprefix(f"{MODEL}-"), {})[metric] = found
        else:
            intervals.setdefault(name, {})[metric] = found
    applications = captures[methods[0]].applications if methods else 0
    return ForwardFigures(intervals, differences, captures, evidence_of(y, leads), applications)


@dataclass
class ForwardResult:
    """Per cut-off and pooled figures of one simulated history."""

    config: ForwardConfig
    windows: list[WindowRows]
    per_cutoff: dict[str, ForwardFigures]
    pooled: ForwardFigures

    def to_dict(self) -> dict[str, Any]:
        config = asdict(self.config)
        config["start"] = self.config.start.isoformat()
        return {
            "simulated": True,
            "config": config,
            "methods": {m: DESCRIPTIONS[m] for m in METHODS},
            "cutoffs": {
                w.cutoff.isoformat(): {"training": w.training, **figures_dict(self.per_cutoff[k])}
                for w, k in zip(self.windows, self.per_cutoff, strict=True)
            },
            "pooled": figures_dict(self.pooled),
        }


def _interval_dict(interval: Interval) -> dict[str, float | int]:
    return {
        "estimate": interval.estimate,
        "low": interval.low,
        "high": interval.high,
        "usable_resamples": interval.usable,
    }


def figures_dict(figures: ForwardFigures) -> dict[str, Any]:
    return {
        "evidence": asdict(figures.evidence),
        "applications": figures.applications,
        "metrics": {
            method: {metric: _interval_dict(i) for metric, i in metrics.items()}
            for method, metrics in figures.intervals.items()
        },
        "captured": {m: c.captured for m, c in figures.captures.items()},
        "model_minus": {
            baseline: {metric: _interval_dict(i) for metric, i in metrics.items()}
            for baseline, metrics in figures.differences.items()
        },
    }


def run_forward(
    config: ForwardConfig,
    *,
    queue_builder: QueueBuilder,
    train_config: TrainConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> ForwardResult:
    """Simulate the history, then train, queue and count at each cut-off (module docstring)."""
    say = progress or (lambda _message: None)
    cutoffs = config.cutoff_dates()
    days = sorted({d for c in cutoffs for d in config.workdays(c)})
    sim = config.simulation(days)
    recorder = ViewRecorder(office_time_zone=sim.office_time_zone, record_days=frozenset(days))
    say(f"simulating {config.officers} officers x {config.months} months (seed {config.seed}) ...")
    world = simulate(sim, recorder)
    settings = train_config or replace(TrainConfig(), seed=config.train_seed)
    windows: list[WindowRows] = []
    per_cutoff: dict[str, ForwardFigures] = {}
    for cutoff in cutoffs:
        say(f"cut-off {cutoff}: training, then {len(config.workdays(cutoff))} workdays of queues")
        window = score_window(world, recorder.views, cutoff, config, queue_builder, settings)
        window.rows.insert(0, "cutoff", cutoff.isoformat())
        windows.append(window)
        per_cutoff[cutoff.isoformat()] = window_metrics(
            window.rows, METHODS, resamples=config.resamples, seed=config.seed
        )
    pooled_rows = pd.concat([w.rows for w in windows], ignore_index=True)
    pooled = window_metrics(pooled_rows, METHODS, resamples=config.resamples, seed=config.seed)
    return ForwardResult(config, windows, per_cutoff, pooled)


def write_forward_report(result: ForwardResult, out_dir: Path) -> Path:
    """forward.json in out_dir (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "forward.json"
    path.write_text(json.dumps(result.to_dict(), indent=1, default=float) + "\n")
    return path


def summary_table(figures: ForwardFigures) -> pd.DataFrame:
    """Methods (rows) x metrics, each cell written ``0.71 [0.66, 0.76]``."""
    specs = {"application_capture": ".1%", "roc_auc": ".2f", "pr_auc": ".3f", "brier": ".4f"}
    cells = {
        method: {
            metric: metrics[metric].text(specs[metric]) if metric in metrics else "n/a"
            for metric in METRICS
        }
        for method, metrics in figures.intervals.items()
    }
    return pd.DataFrame.from_dict(cells, orient="index")[list(METRICS)]


def verdict(figures: ForwardFigures, baseline: str, metric: str = "application_capture") -> str:
    """One line: the paired difference and whether the evidence decides it."""
    found = figures.differences.get(baseline, {}).get(metric)
    if found is None:
        return f"model vs {baseline}: not compared"
    spec = ".1%" if metric == "application_capture" else ".3f"
    text = f"model - {baseline} ({metric}): {found.text(spec)}"
    if not (np.isfinite(found.low) and np.isfinite(found.high)):
        return f"{text}: no interval (too few applications)"
    if found.low > 0:
        return f"{text}: the model is better (95% interval above 0)"
    if found.high < 0:
        return f"{text}: the model is worse (95% interval below 0)"
    return f"{text}: cannot decide with {figures.applications} applications"
