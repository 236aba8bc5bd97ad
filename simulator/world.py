"""The public entry points: simulate a world under a policy, write it to disk, summarise it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data_contracts.enums import EventType
from data_contracts.schemas import TRUTH_COLUMNS
from simulator.config import SimulationConfig
from simulator.engine import SimulationRun, events_frame, run_simulation
from simulator.market import rates_frame
from simulator.policies import FollowUpPolicy, HistoricalPolicy

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""ISO 8601 in UTC with a 'Z': what every CSV timestamp looks like."""

WORLD_FILES: tuple[str, ...] = (
    "leads.csv",
    "events.csv",
    "rates.csv",
    "truth.csv",
    "latent.csv",
    "daily_hazard.parquet",
)


@dataclass(frozen=True)
class SimulatedWorld:
    """One simulated CRM history and its ground truth.

    leads, events, rates: what a CRM export holds (LEAD_COLUMNS, EVENT_COLUMNS,
    MARKET_RATE_COLUMNS). truth: TRUTH_COLUMNS + applied_at (simulator-only; never a feature).
    daily_hazard: lead_id, date, hazard, lead_open: the true probability of applying on each
    day from the lead's creation to the end of the period; after an application (lead_open
    False) it is the hazard the lead would have had with follow-up frozen, so that
    true_propensity = 1 - prod(1 - hazard) over all of a lead's rows is the probability of
    applying within the period. Empty when config.record_daily_hazard is False.
    latent: lead_id, months_to_ready (when the lead will really be ready, from creation),
    intent (multiplies the hazard; mean 1), vague_statement, new_vendor: for testing parsers
    and drift detectors against the truth. as_of_states: one row per open lead at the start of
    each of config.as_of_state_dates (lead_id, date, as_of and the latent state the as-of oracle,
    simulator/as_of.py, starts from); empty when none were asked for.
    """

    config: SimulationConfig
    policy_name: str
    leads: pd.DataFrame
    events: pd.DataFrame
    rates: pd.DataFrame
    truth: pd.DataFrame
    daily_hazard: pd.DataFrame
    latent: pd.DataFrame
    as_of_states: pd.DataFrame = field(default_factory=pd.DataFrame)


def simulate(config: SimulationConfig, policy: FollowUpPolicy | None = None) -> SimulatedWorld:
    """Simulate `config` under `policy` (default HistoricalPolicy); same seed, same world.

    Every policy run with the same config meets the same leads with the same latent paths and
    application thresholds (common random numbers), so outcomes differ only through follow-up.
    """
    chosen = policy or HistoricalPolicy(office_time_zone=config.office_time_zone)
    return _world(run_simulation(config, chosen))


def simulate_policies(
    config: SimulationConfig, policies: Mapping[str, FollowUpPolicy]
) -> dict[str, SimulatedWorld]:
    """One world per policy, all from the same seed (for fair policy comparisons)."""
    return {name: simulate(config, policy) for name, policy in policies.items()}


def _world(run: SimulationRun) -> SimulatedWorld:
    pop = run.population
    lead_ids = pop.leads["lead_id"].to_numpy(dtype=object)
    events = events_frame(run.events, lead_ids, run.texts)
    applied = run.applied_at_s < np.iinfo(np.int64).max
    applied_at = pd.Series(
        pd.to_datetime(np.where(applied, run.applied_at_s, 0), unit="s", utc=True)
    ).where(applied)
    truth = pd.DataFrame(
        {
            "lead_id": lead_ids,
            "true_propensity": -np.expm1(-run.cumulative_hazard),
            "applied": applied,
            "protected_group": np.where(pop.protected_b, "B", "A"),
        }
    ).astype(TRUTH_COLUMNS)
    truth["applied_at"] = applied_at
    dates = np.array([run.clock.date_of(d).isoformat() for d in range(run.clock.days)])
    daily_hazard = pd.DataFrame(
        {
            "lead_id": pd.Categorical.from_codes(run.hazard_lead, categories=pd.Index(lead_ids)),
            "date": pd.Categorical.from_codes(run.hazard_day, categories=pd.Index(dates)),
            "hazard": run.hazard,
            "lead_open": run.hazard_open,
        },
        copy=False,
    )
    latent = pd.DataFrame(
        {
            "lead_id": lead_ids,
            "months_to_ready": np.round(pop.months_to_ready, 4),
            "intent": np.round(pop.intent, 4),
            "vague_statement": pop.vague_statement,
            "new_vendor": pop.new_vendor,
        }
    ).astype({"lead_id": "string"})
    states = pd.DataFrame(run.as_of_states)
    if not states.empty:
        states.insert(0, "lead_id", lead_ids[states["lead"].to_numpy()].astype(str))
        states.insert(1, "date", dates[states["day"].to_numpy()])
        states.insert(2, "as_of", pd.to_datetime(states["as_of_s"].to_numpy(), unit="s", utc=True))
    return SimulatedWorld(
        config=run.config,
        policy_name=run.policy_name,
        leads=pop.leads,
        events=events,
        rates=rates_frame(run.config.start, run.rates_pct),
        truth=truth,
        daily_hazard=daily_hazard,
        latent=latent,
        as_of_states=states,
    )


def write_world(world: SimulatedWorld, out_dir: Path) -> dict[str, Path]:
    """Write the world's tables to `out_dir` (created if missing); byte-identical for one seed.

    Returns {table name: path} for leads, events, rates, truth, latent and daily_hazard.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name.split(".")[0]: out_dir / name for name in WORLD_FILES}
    csv_tables = {
        "leads": world.leads,
        "events": world.events,
        "rates": world.rates,
        "truth": world.truth,
        "latent": world.latent,
    }
    for name, frame in csv_tables.items():
        frame.to_csv(paths[name], index=False, date_format=TIMESTAMP_FORMAT, lineterminator="\n")
    world.daily_hazard.to_parquet(paths["daily_hazard"], index=False, compression="zstd")
    return paths


def world_summary(world: SimulatedWorld) -> dict[str, float]:
    """The brief's before/after figures for one world: speed, touches, conversion, funding."""
    events, leads = world.events, world.leads
    touch_types = {EventType.CALL.value, EventType.TEXT_SENT.value, EventType.EMAIL_SENT.value}
    touches = events[events["event_type"].isin(touch_types)]
    per_lead = touches.groupby("lead_id", observed=True).size().reindex(leads["lead_id"]).fillna(0)
    first_touch = touches.groupby("lead_id", observed=True)["occurred_at"].min()
    created = leads.set_index("lead_id")["created_at"]
    response_min = (
        (first_touch - created.reindex(first_touch.index)).dt.total_seconds() / 60
    ).dropna()
    funded = int((events["event_type"] == EventType.LOAN_FUNDED.value).sum())
    months = world.config.months
    return {
        "leads": float(len(leads)),
        "events": float(len(events)),
        "application_rate": float(world.truth["applied"].mean()),
        "mean_true_propensity": float(world.truth["true_propensity"].mean()),
        "first_response_median_min": float(response_min.median()),
        "first_response_mean_min": float(response_min.mean()),
        "first_response_within_5min_share": float((response_min <= 5).mean()),
        "touches_per_lead": float(per_lead.mean()),
        "five_plus_touches_share": float((per_lead >= 5).mean()),
        "funded_per_month": funded / months,
    }
