"""Training sets: (lead, as-of) rows with point-in-time features through lead_scoring_v1, a label,
and, on simulated data, the oracle's probability and the synthetic protected group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from features.event_log import EventLog
from features.store import LeadFeatureStore
from features.transforms import label_entities, open_intervals


class DatasetError(RuntimeError):
    """The training set cannot be built (no features yet, no labelled rows)."""


@dataclass(frozen=True)
class TrainingSetInfo:
    """Where a training frame came from, for the MLflow run."""

    rows: int
    leads: int
    positives: int
    first_as_of: pd.Timestamp
    last_as_of: pd.Timestamp
    horizon_days: int
    data_end: pd.Timestamp


SAMPLE_SPACING_DAYS = 1.0
"""One sampled instant per this many days of a lead's open, labelled life (denser sampling
gives each applying lead more positive rows: one per 7 days cost 0.15 of test ROC-AUC)..."""
SAMPLES_PER_LEAD_MAX = 90
"""...and at most this many per lead, so rows grow with leads, not with lead-days."""
EVENT_SAMPLES_PER_LEAD = 3
"""Also this many instants just after the lead's first events (where features change)."""
EXPOSURE_CAP_DAYS = 120.0
"""A lead's weights add up to its open days, capped here: long-lived leads do not dominate."""


def sample_entities(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    *,
    horizon_days: int,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """(lead_id, officer_id, as_of, sample_weight) instants at which to train, and the data end.

    Each lead is sampled while it is open and its label window lies inside the data (a row
    whose horizon runs past the last event would be labelled 'did not apply' only because the
    future is not written yet: right-censoring): uniform instants at any time of day, one per
    SAMPLE_SPACING_DAYS of that life (at most SAMPLES_PER_LEAD_MAX), plus instants a few minutes
    after its first EVENT_SAMPLES_PER_LEAD events. Weights add up, per lead, to its open days
    (capped at EXPOSURE_CAP_DAYS), so the weighted rows stand for lead-time as the queue meets it.
    """
    if events.empty:
        raise DatasetError("the event log has no events; ingest some first")
    data_end = pd.Timestamp(events["occurred_at"].max())
    intervals = open_intervals(leads, events)
    last_start = data_end - timedelta(days=horizon_days)
    start = intervals["opened_at"]
    closed = intervals["closed_at"].fillna(last_start)
    stop = closed.where(closed < last_start, last_start)
    life_days = ((stop - start).dt.total_seconds() / 86_400).to_numpy()
    keep = life_days > 0
    if not keep.any():
        raise DatasetError(
            f"no lead is open with a complete {horizon_days}-day horizon before the last event "
            f"({data_end}); a longer history is needed"
        )
    rng = np.random.default_rng(seed)
    lead_ids = intervals["lead_id"].to_numpy()[keep]
    officers = intervals["officer_id"].to_numpy()[keep]
    start_s = (start[keep] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    life = life_days[keep]
    counts = np.minimum(np.ceil(life / SAMPLE_SPACING_DAYS), SAMPLES_PER_LEAD_MAX).astype(int)
    owner = np.repeat(np.arange(len(lead_ids)), counts)
    moments = start_s[owner] + rng.random(len(owner)) * life[owner] * 86_400

    stop_s = start_s + life * 86_400
    index = pd.Index(lead_ids)
    firsts = events.assign(_lead=index.get_indexer(events["lead_id"].astype(str)))
    firsts = firsts.loc[firsts["_lead"] >= 0].sort_values(["_lead", "occurred_at"], kind="stable")
    firsts = firsts.groupby("_lead", sort=False).head(EVENT_SAMPLES_PER_LEAD)
    event_owner = firsts["_lead"].to_numpy()
    event_s = (firsts["occurred_at"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    event_s = event_s + rng.uniform(1, 15 * 60, len(event_s))  # minutes after the event
    inside = (event_s > start_s[event_owner]) & (event_s < stop_s[event_owner])
    owner = np.concatenate([owner, event_owner[inside]])
    moments = np.concatenate([moments, event_s[inside]])

    per_lead = np.bincount(owner, minlength=len(lead_ids))
    weight = np.minimum(life, EXPOSURE_CAP_DAYS)[owner] / per_lead[owner]
    entities = pd.DataFrame(
        {
            "lead_id": lead_ids[owner].astype(str),
            "officer_id": officers[owner].astype(str),
            "as_of": pd.to_datetime(np.round(moments * 1e6).astype(np.int64), unit="us", utc=True),
            "sample_weight": weight,
        }
    )
    entities = entities.sort_values(["as_of", "lead_id"], kind="stable").reset_index(drop=True)
    entities["label"] = label_entities(entities, events, horizon_days).to_numpy()
    return entities, data_end


def oracle_propensity(
    entities: pd.DataFrame, daily_hazard: pd.DataFrame, *, horizon_days: int
) -> np.ndarray:
    """The simulator's true probability that each lead applies within the horizon after as-of.

    1 - prod(1 - hazard) over the horizon's days, from the simulator's lead-by-day hazards.
    """
    hazard = daily_hazard[["lead_id", "date", "hazard"]].copy()
    hazard["lead_id"] = hazard["lead_id"].astype(str)
    day = pd.to_datetime(hazard["date"].astype(str)).to_numpy("datetime64[D]").astype(np.int64)
    codes = pd.Index(pd.unique(hazard["lead_id"]))
    lead = codes.get_indexer(pd.Index(hazard["lead_id"])).astype(np.int64)
    order = np.lexsort((day, lead))
    lead, day = lead[order], day[order]
    log_survival = np.log1p(-np.clip(hazard["hazard"].to_numpy()[order], 0.0, 1 - 1e-12))
    cumulative = np.cumsum(log_survival)
    span = np.int64(1 << 20)  # days since 1970 fit comfortably below 2**20
    keys = lead * span + day

    def survival_before(query_lead: np.ndarray, query_day: np.ndarray) -> np.ndarray:
        """Cumulative log survival of each lead through query_day (0 before its first day)."""
        pos = np.searchsorted(keys, query_lead * span + query_day, side="right") - 1
        valid = (pos >= 0) & (query_lead >= 0)
        same = np.zeros(len(pos), dtype=bool)
        same[valid] = lead[pos[valid]] == query_lead[valid]
        first = np.searchsorted(keys, query_lead * span, side="left")
        start = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0.0)
        return np.where(same, cumulative[np.maximum(pos, 0)] - start, 0.0)

    query_lead = codes.get_indexer(pd.Index(entities["lead_id"].astype(str))).astype(np.int64)
    as_of_day = (
        pd.to_datetime(entities["as_of"], utc=True)
        .dt.tz_localize(None)
        .to_numpy("datetime64[D]")
        .astype(np.int64)
    )
    inside = survival_before(query_lead, as_of_day + horizon_days - 1) - survival_before(
        query_lead, as_of_day - 1
    )
    result: np.ndarray = 1.0 - np.exp(inside)
    result[query_lead < 0] = np.nan
    return result


def build_training_frame(
    log: EventLog,
    store: LeadFeatureStore,
    *,
    horizon_days: int = 30,
    truth_dir: Path | None = None,
) -> tuple[pd.DataFrame, TrainingSetInfo]:
    """The training frame: lead_id, officer_id, as_of, sample_weight, label, lead_created_at,
    FEATURE_NAMES, and with truth_dir (the simulator's output) oracle_propensity and
    protected_group. Rows are sampled instants (sample_entities), not calendar days.

    Features come through Feast's point-in-time retrieval of the lead_scoring_v1 service, the
    same definition serving reads online.
    """
    events = log.events()
    if not store.row_files():
        raise DatasetError(
            f"no stored feature rows in {store.rows_dir}; run `leadscore features build`"
        )
    entities, data_end = sample_entities(log.leads(), events, horizon_days=horizon_days)
    frame = store.historical_features(entities)
    created = log.lead_created_at()
    frame["lead_created_at"] = created.reindex(frame["lead_id"].to_numpy()).to_numpy()
    if truth_dir is not None:
        hazard_path = truth_dir / "daily_hazard.parquet"
        truth_path = truth_dir / "truth.csv"
        if hazard_path.exists() and truth_path.exists():
            frame["oracle_propensity"] = oracle_propensity(
                frame, pd.read_parquet(hazard_path), horizon_days=horizon_days
            )
            truth = pd.read_csv(truth_path, dtype={"lead_id": str, "protected_group": str})
            groups = truth.set_index("lead_id")["protected_group"]
            frame["protected_group"] = groups.reindex(frame["lead_id"].to_numpy()).to_numpy()
    info = TrainingSetInfo(
        rows=len(frame),
        leads=int(frame["lead_id"].nunique()),
        positives=int(frame["label"].sum()),
        first_as_of=pd.Timestamp(frame["as_of"].min()),
        last_as_of=pd.Timestamp(frame["as_of"].max()),
        horizon_days=horizon_days,
        data_end=data_end,
    )
    return frame, info
