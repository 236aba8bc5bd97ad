"""The follow-up policy backtest: the same simulated leads worked under each policy, side by side.

Every policy meets the same leads with the same latent paths (the simulator's common random
numbers); only follow-up differs, so each policy gets its own outcomes. Officers have a fixed
daily capacity. The policies (training.policies) are queues: newest-first, the CRM points rule,
the model by probability and by expected value, each without and with the speed-to-lead lane,
plus the simulator's historical "before" (no queue: officers stop after 2-3 attempts) and an
oracle queue ranked by the simulator's true propensity (the upper reference).

The model is trained on a separate simulated history (an earlier period with another seed)
through training.train (prepare_lead_data, fit_scorer), from features built by
features.transforms, the code Feast serves; or the caller passes one (the registry champion).
Every figure this module reports is simulated.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from data_contracts.enums import EventType
from features.transforms import label_entities, model_frame, open_rows_at
from models.scorer import LeadScorer
from simulator import (
    FollowUpPolicy,
    HistoricalPolicy,
    SimulatedWorld,
    SimulationConfig,
    simulate,
    world_summary,
)
from simulator.clock import add_months
from training.dataset import oracle_propensity
from training.policies import (
    ModelRanker,
    NewestFirstRanker,
    OracleRanker,
    PointsRuleRanker,
    QueueBuilder,
    lane_variants,
)
from training.train import TrainConfig, fit_scorer, prepare_lead_data

COMMISSION_PER_FUNDED_USD: Final = 5_000.0
"""The brief's ROI example: average officer commission per funded loan."""

DEFAULT_CAPACITY: Final = 15
"""Follow-up calls a day per officer for this lead list: DOMAIN.md's 30-50 calls a day are
shared with the active pipeline. At 40 leads per officer a month it gives about the brief's
8.7 touches a lead over a year, so capacity binds and the ranking matters."""

LEADS_PER_OFFICER_MONTH: Final = 40
"""New leads a month per officer: 5 officers get the brief's case-study 200 leads a month."""

HISTORICAL: Final = "historical"
ORACLE: Final = "oracle+lane"
MODEL_POLICIES: Final = ("model", "model+lane", "model_ev", "model_ev+lane")
POLICY_ORDER: Final = (
    HISTORICAL,
    "newest_first",
    "newest_first+lane",
    "points_rule",
    "points_rule+lane",
    *MODEL_POLICIES,
    ORACLE,
)
POLICY_DESCRIPTIONS: Final[dict[str, str]] = {
    HISTORICAL: "the simulator's 'before': first answer after hours, most officers stop after "
    "2-3 attempts (no queue)",
    "newest_first": "queue ranked newest lead first",
    "points_rule": "queue ranked by the CRM points rule",
    "model": "queue ranked by the model's probability",
    "model_ev": "queue ranked by expected value (probability x loan amount)",
    "oracle": "queue ranked by the simulator's true 30-day propensity (upper reference)",
}
LANE_DESCRIPTION: Final = "; with the speed-to-lead lane (first response in about a minute)"

BRIEF_BEFORE: Final[dict[str, float]] = {
    "first_response_median_s": 4 * 3600.0,
    "touches_per_lead": 2.3,
    "five_plus_touches_share": 0.15,
    "application_rate": 0.03,
    "funded_per_month": 6.0,
    "commission_per_month_usd": 6.0 * COMMISSION_PER_FUNDED_USD,
}
"""DOMAIN.md's case study (200 leads a month), before."""
BRIEF_AFTER: Final[dict[str, float]] = {
    "first_response_median_s": 47.0,
    "touches_per_lead": 8.7,
    "five_plus_touches_share": 0.78,
    "application_rate": 0.09,
    "funded_per_month": 18.0,
    "commission_per_month_usd": 18.0 * COMMISSION_PER_FUNDED_USD,
}
"""DOMAIN.md's case study, after."""
BRIEF_COLUMNS: Final = ("brief: before", "brief: after")


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "n/a"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Metric:
    """One row of the backtest table."""

    key: str
    label: str
    render: Callable[[float], str]


METRICS: Final[tuple[Metric, ...]] = (
    Metric("first_response_median_s", "response time to new leads (median)", _duration),
    Metric("touches_per_lead", "touches per lead", lambda v: f"{v:.1f}"),
    Metric("five_plus_touches_share", "leads with 5+ touches", lambda v: f"{v:.0%}"),
    Metric("application_rate", "application rate", lambda v: f"{v:.1%}"),
    Metric("funded_per_month", "funded loans a month", lambda v: f"{v:.1f}"),
    Metric(
        "commission_per_month_usd",
        "commission a month ($5,000 a funded loan)",
        lambda v: f"${v:,.0f}",
    ),
)
METRIC_KEYS: Final = tuple(m.key for m in METRICS)


class BacktestError(ValueError):
    """The backtest cannot run as asked; the message says what to change."""


@dataclass(frozen=True)
class BacktestConfig:
    """The simulated world the policies are replayed in, and the officers' capacity."""

    officers: int = 5
    months: int = 12
    seed: int = 7
    capacity: int = DEFAULT_CAPACITY
    leads_per_month: int | None = None
    """All officers together; None: LEADS_PER_OFFICER_MONTH per officer."""
    start: date = date(2025, 1, 1)
    horizon_days: int = 30
    compensation_bps: float = 100.0
    commission_per_funded_usd: float = COMMISSION_PER_FUNDED_USD
    training_seed_offset: int = 1000
    """The model's training history uses seed + this, in the months before ``start``."""
    jobs: int = 1
    """Policies simulated at once (processes)."""

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise BacktestError(f"capacity must be at least 1 call a day, got {self.capacity}")
        if self.jobs < 1:
            raise BacktestError(f"jobs must be at least 1, got {self.jobs}")

    @property
    def monthly_leads(self) -> int:
        return self.leads_per_month or LEADS_PER_OFFICER_MONTH * self.officers

    def simulation(self, *, record_daily_hazard: bool = False) -> SimulationConfig:
        """The backtest world (every policy replays this one)."""
        return SimulationConfig(
            officers=self.officers,
            months=self.months,
            leads_per_month=self.monthly_leads,
            seed=self.seed,
            start=self.start,
            daily_capacity=self.capacity,
            record_daily_hazard=record_daily_hazard,
        )

    def training_simulation(self) -> SimulationConfig:
        """The model's training history: the same size, earlier, another seed, historical policy."""
        return SimulationConfig(
            officers=self.officers,
            months=self.months,
            leads_per_month=self.monthly_leads,
            seed=self.seed + self.training_seed_offset,
            start=add_months(self.start, -self.months),
            daily_capacity=self.capacity,
            record_daily_hazard=True,
        )


@dataclass(frozen=True)
class PolicyOutcome:
    """One policy's simulated results."""

    name: str
    description: str
    metrics: dict[str, float]
    applications_by_month: list[int]
    seconds: float


@dataclass
class BacktestResult:
    """Every policy's outcome on the same simulated leads."""

    config: BacktestConfig
    model_source: str
    outcomes: dict[str, PolicyOutcome] = field(default_factory=dict)

    @property
    def policies(self) -> list[str]:
        return list(self.outcomes)

    def table(self) -> pd.DataFrame:
        """Metrics (rows, by label) x the brief's before/after and each policy (numbers)."""
        columns: dict[str, list[float]] = {
            BRIEF_COLUMNS[0]: [BRIEF_BEFORE[k] for k in METRIC_KEYS],
            BRIEF_COLUMNS[1]: [BRIEF_AFTER[k] for k in METRIC_KEYS],
        }
        for name, outcome in self.outcomes.items():
            columns[name] = [outcome.metrics[k] for k in METRIC_KEYS]
        return pd.DataFrame(columns, index=pd.Index([m.label for m in METRICS], name="metric"))

    def formatted_table(self) -> pd.DataFrame:
        """The table as display strings (durations, percentages, dollars)."""
        numbers = self.table()
        rendered = {
            column: [m.render(float(v)) for m, v in zip(METRICS, numbers[column], strict=True)]
            for column in numbers.columns
        }
        return pd.DataFrame(rendered, index=numbers.index)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the config, the model's source, the brief's figures and every policy."""
        config = asdict(self.config)
        config["start"] = self.config.start.isoformat()
        return {
            "simulated": True,
            "note": "every figure except the brief's columns comes from the simulator",
            "config": config,
            "leads_per_month": self.config.monthly_leads,
            "model_source": self.model_source,
            "brief_before": BRIEF_BEFORE,
            "brief_after": BRIEF_AFTER,
            "metrics": {m.key: m.label for m in METRICS},
            "policies": {name: asdict(outcome) for name, outcome in self.outcomes.items()},
        }


def policy_metrics(world: SimulatedWorld, commission_per_funded_usd: float) -> dict[str, float]:
    """The table's figures for one simulated world (world_summary plus commission)."""
    summary = world_summary(world)
    return {
        "first_response_median_s": summary["first_response_median_min"] * 60.0,
        "touches_per_lead": summary["touches_per_lead"],
        "five_plus_touches_share": summary["five_plus_touches_share"],
        "application_rate": summary["application_rate"],
        "funded_per_month": summary["funded_per_month"],
        "commission_per_month_usd": summary["funded_per_month"] * commission_per_funded_usd,
    }


def applications_by_month(world: SimulatedWorld) -> list[int]:
    """Applications submitted in each month of the period (for the plot)."""
    events = world.events
    applied = events.loc[events["event_type"] == EventType.APPLICATION_SUBMITTED.value]
    local = applied["occurred_at"].dt.tz_convert(world.config.office_time_zone)
    months = local.dt.tz_localize(None).dt.to_period("M")
    start = pd.Period(world.config.start, freq="M")
    index = [(start + k) for k in range(world.config.months)]
    counts = months.value_counts().reindex(index, fill_value=0)
    return [int(c) for c in counts]


# -- the model ---------------------------------------------------------------------------------


def simulated_training_frame(
    world: SimulatedWorld,
    *,
    horizon_days: int = 30,
    every_days: int = 7,
    until: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """A training frame (training.train's contract) from a simulated world, without Feast.

    Every open lead every ``every_days`` days at 00:00 UTC through features.transforms (the
    fold the Feast build runs), labelled with label_entities; rows whose horizon passes the end
    of the history are dropped (right-censored). Carries oracle_propensity and protected_group.
    until: what was known at this instant only (a forward-chaining cut-off): the events before
    it, and rows whose label has matured by then (as_of + horizon <= until).
    """
    end = pd.Timestamp(world.config.end, tz="UTC")
    events = world.events
    if until is not None:
        end = min(end, pd.Timestamp(until))
        events = events.loc[events["occurred_at"] < end]
    first = pd.Timestamp(world.config.start, tz="UTC") + pd.Timedelta(days=1)
    last = end - pd.Timedelta(days=horizon_days)
    if last <= first:
        raise BacktestError(
            f"a history from {world.config.start} to {end.date()} has no snapshot with a "
            f"complete {horizon_days}-day horizon; simulate more months or cut off later"
        )
    grid = pd.date_range(first, last, freq=f"{every_days}D")
    stored = open_rows_at(world.leads, events, world.rates, grid)
    frame = model_frame(stored)
    frame.insert(0, "lead_id", stored["lead_id"].astype(str).to_numpy(dtype=object))
    frame.insert(1, "officer_id", stored["officer_id"].astype(str).to_numpy(dtype=object))
    frame.insert(2, "as_of", stored["as_of"].to_numpy())
    created = world.leads.set_index(world.leads["lead_id"].astype(str))["created_at"]
    frame.insert(3, "lead_created_at", created.reindex(frame["lead_id"]).to_numpy())
    frame["as_of"] = pd.to_datetime(frame["as_of"], utc=True)
    frame["lead_created_at"] = pd.to_datetime(frame["lead_created_at"], utc=True)
    frame.insert(4, "label", label_entities(frame, events, horizon_days).to_numpy())
    if not world.daily_hazard.empty:
        frame["oracle_propensity"] = oracle_propensity(
            frame, world.daily_hazard, horizon_days=horizon_days
        )
    groups = world.truth.set_index(world.truth["lead_id"].astype(str))["protected_group"]
    frame["protected_group"] = groups.reindex(frame["lead_id"]).astype(str).to_numpy()
    return frame.reset_index(drop=True)


def train_backtest_model(
    config: BacktestConfig,
    train_config: TrainConfig | None = None,
    *,
    history: SimulationConfig | None = None,
) -> tuple[LeadScorer, str]:
    """A model trained on a separate simulated history; returns it and a line saying so.

    history: the world to learn from [default: config.training_simulation(), the same size
    in the months before the backtest, another seed]; it is simulated under the historical
    policy, as a lender's CRM history would be.
    """
    sim = history or config.training_simulation()
    if not sim.record_daily_hazard:
        sim = replace(sim, record_daily_hazard=True)
    world = simulate(sim)
    frame = simulated_training_frame(world, horizon_days=config.horizon_days)
    settings = train_config or TrainConfig()
    data = prepare_lead_data(
        frame, settings, horizon_days=config.horizon_days, capacity=config.capacity
    )
    scorer = fit_scorer(data, settings)
    source = (
        f"trained by training.train on a separate simulated history (seed {sim.seed}, "
        f"{sim.start} to {sim.end}, historical follow-up; {len(frame):,} weekly snapshots, "
        f"{config.horizon_days}-day label)"
    )
    return scorer, source


# -- the run -----------------------------------------------------------------------------------


def build_policies(
    config: BacktestConfig,
    *,
    reference: SimulatedWorld,
    queue_builder: QueueBuilder,
    scorer: LeadScorer | None,
    names: Sequence[str] = POLICY_ORDER,
) -> dict[str, FollowUpPolicy]:
    """The named policies (POLICY_ORDER), ready to simulate.

    reference: the backtest world under the historical policy, with daily hazards (the oracle
    reads them; its rates are every policy's market rates, which do not depend on follow-up).
    """
    unknown = [n for n in names if n not in POLICY_ORDER]
    if unknown:
        raise BacktestError(f"unknown policies {unknown}; choose from {list(POLICY_ORDER)}")
    zone = config.simulation().office_time_zone
    common: dict[str, Any] = {
        "rates": reference.rates,
        "queue_builder": queue_builder,
        "compensation_bps": config.compensation_bps,
        "office_time_zone": zone,
    }
    policies: dict[str, FollowUpPolicy] = {
        HISTORICAL: HistoricalPolicy(office_time_zone=zone),
        **lane_variants(NewestFirstRanker(), **common),
        **lane_variants(PointsRuleRanker(), **common),
    }
    if any(n in MODEL_POLICIES for n in names):
        if scorer is None:
            raise BacktestError("the model policies need a scorer; train one or load the champion")
        model = ModelRanker(scorer)
        policies |= lane_variants(model, **common)
        policies |= lane_variants(model, rank_by="expected_value", **common)
    if ORACLE in names:
        if reference.daily_hazard.empty:
            raise BacktestError("the oracle needs the reference world's daily hazards")
        oracle = OracleRanker(reference.daily_hazard, horizon_days=config.horizon_days)
        policies |= lane_variants(oracle, lanes=(True,), **common)
    return {name: policies[name] for name in names}


def describe_policy(name: str) -> str:
    base = name.removesuffix("+lane")
    return POLICY_DESCRIPTIONS[base] + (LANE_DESCRIPTION if name.endswith("+lane") else "")


def simulate_policy(config: BacktestConfig, name: str, policy: FollowUpPolicy) -> PolicyOutcome:
    """One policy through the backtest world (picklable: runs in a worker process too)."""
    started = time.perf_counter()
    world = simulate(config.simulation(), policy)
    return PolicyOutcome(
        name=name,
        description=describe_policy(name),
        metrics=policy_metrics(world, config.commission_per_funded_usd),
        applications_by_month=applications_by_month(world),
        seconds=round(time.perf_counter() - started, 1),
    )


def run_backtest(
    config: BacktestConfig,
    *,
    queue_builder: QueueBuilder,
    scorer: LeadScorer | None = None,
    model_source: str = "",
    policies: Sequence[str] = POLICY_ORDER,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """Replay the backtest world under each policy; trains the model when none is given."""
    say = progress or (lambda _message: None)
    unknown = [n for n in policies if n not in POLICY_ORDER]
    if unknown:
        raise BacktestError(f"unknown policies {unknown}; choose from {list(POLICY_ORDER)}")
    names = [n for n in POLICY_ORDER if n in policies]
    if not names:
        raise BacktestError(f"no policy to run; choose from {list(POLICY_ORDER)}")
    if scorer is None and any(n in MODEL_POLICIES for n in names):
        say("training the model on a separate simulated history ...")
        scorer, model_source = train_backtest_model(config)
    say("simulating the reference world ...")
    reference = simulate(config.simulation(record_daily_hazard=ORACLE in names))
    built = build_policies(
        config, reference=reference, queue_builder=queue_builder, scorer=scorer, names=names
    )
    result = BacktestResult(config, model_source or "no model policy in this run")
    if config.jobs == 1:
        for name, policy in built.items():
            result.outcomes[name] = simulate_policy(config, name, policy)
            say(f"{name}: done in {result.outcomes[name].seconds:.0f} s")
        return result
    # spawn, not fork: a forked child of a process that already ran LightGBM's OpenMP threads
    # (training the model) can hang forever.
    with ProcessPoolExecutor(max_workers=config.jobs, mp_context=get_context("spawn")) as pool:
        futures = {
            name: pool.submit(simulate_policy, config, name, policy)
            for name, policy in built.items()
        }
        for name, future in futures.items():
            result.outcomes[name] = future.result()
            say(f"{name}: done in {result.outcomes[name].seconds:.0f} s")
    return result


# -- the report --------------------------------------------------------------------------------


def markdown_table(result: BacktestResult) -> str:
    """The table as Markdown, with a caption saying what is simulated."""
    table = result.formatted_table()
    header = ["metric", *table.columns]
    lines = [
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * len(table.columns),
    ]
    for label, row in table.iterrows():
        lines.append(f"| {label} | " + " | ".join(row.tolist()) + " |")
    return "\n".join([*lines, "", caption(result), ""])


def caption(result: BacktestResult) -> str:
    config = result.config
    return (
        f"SIMULATED: {config.officers} officers, {config.monthly_leads} leads a month, "
        f"{config.months} months from {config.start}, {config.capacity} follow-up calls per "
        f"officer a day, seed {config.seed}. The brief's columns are DOMAIN.md's case study "
        f"(not simulated). Model: {result.model_source}."
    )


_PLOT_METRICS: Final = (
    "first_response_median_s",
    "touches_per_lead",
    "application_rate",
    "funded_per_month",
)


def backtest_figure(result: BacktestResult) -> Figure:
    """Four panels (response, touches, application rate, funded loans) per policy, with the
    brief's before and after as dashed lines; titled as simulated."""
    figure = Figure(figsize=(12, 8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 2)
    names = result.policies
    positions = np.arange(len(names))
    by_key = {m.key: m for m in METRICS}
    for ax, key in zip(axes.flat, _PLOT_METRICS, strict=True):
        values = [result.outcomes[n].metrics[key] for n in names]
        colors = ["#1f77b4" if "model" in n else "#7f7f7f" for n in names]
        ax.bar(positions, values, color=colors)
        ax.axhline(BRIEF_BEFORE[key], color="#d62728", linestyle="--", label="brief: before")
        ax.axhline(BRIEF_AFTER[key], color="#2ca02c", linestyle="--", label="brief: after")
        if key == "first_response_median_s":
            ax.set_yscale("log")
            ax.set_ylabel("seconds (log scale)")
        if key == "application_rate":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_title(f"{by_key[key].label} (simulated)", fontsize=10)
        ax.set_xticks(positions, names, rotation=45, ha="right", fontsize=8)
        for x, value in zip(positions, values, strict=True):
            ax.annotate(
                by_key[key].render(value),
                (x, value),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
    axes.flat[0].legend(fontsize=8)
    config = result.config
    figure.suptitle(
        f"SIMULATED policy backtest: {config.officers} officers, {config.monthly_leads} "
        f"leads/month, {config.months} months, capacity {config.capacity}/day, seed "
        f"{config.seed}",
        fontsize=12,
    )
    figure.text(
        0.5,
        0.005,
        "Simulated data. Dashed lines: the brief's case study (DOMAIN.md), not simulated.",
        ha="center",
        fontsize=8,
    )
    figure.tight_layout(rect=(0, 0.02, 1, 0.96))
    return figure


def write_backtest_report(result: BacktestResult, out_dir: Path) -> dict[str, Path]:
    """backtest.json, backtest.md and backtest.png in out_dir (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "backtest.json",
        "markdown": out_dir / "backtest.md",
        "plot": out_dir / "backtest.png",
    }
    paths["json"].write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    paths["markdown"].write_text(markdown_table(result))
    backtest_figure(result).savefig(paths["plot"])
    return paths


def load_backtest_json(path: Path) -> Mapping[str, Any]:
    """A written backtest.json (for notebooks and comparisons)."""
    loaded: Mapping[str, Any] = json.loads(path.read_text())
    return loaded
