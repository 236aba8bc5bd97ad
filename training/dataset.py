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
from features.transforms import label_snapshots


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


def labelled_entities(
    store: LeadFeatureStore, events: pd.DataFrame, *, horizon_days: int
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Every (open lead, daily as-of) of the snapshot store whose horizon lies inside the data.

    A row whose horizon runs past the last event would be labelled 'did not apply' only
    because the future is not written yet, so it is left out (right-censoring).
    """
    try:
        entities = store.read_snapshots(["lead_id", "officer_id", "as_of"])
    except FileNotFoundError as exc:
        raise DatasetError(str(exc)) from exc
    entities["lead_id"] = entities["lead_id"].astype(str)
    entities["officer_id"] = entities["officer_id"].astype(str)
    if events.empty:
        raise DatasetError("the event log has no events; ingest some first")
    data_end = pd.Timestamp(events["occurred_at"].max())
    entities = entities.loc[entities["as_of"] + timedelta(days=horizon_days) <= data_end]
    if entities.empty:
        raise DatasetError(
            f"no snapshot has a complete {horizon_days}-day horizon before the last event "
            f"({data_end}); a longer history is needed"
        )
    entities = entities.reset_index(drop=True)
    entities["label"] = label_snapshots(entities, events, horizon_days).to_numpy()
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
    """The training frame: lead_id, officer_id, as_of, lead_created_at, label, FEATURE_NAMES,
    and with truth_dir (the simulator's output) oracle_propensity and protected_group.

    Features come through Feast's point-in-time retrieval of the lead_scoring_v1 service, the
    same definition serving reads online.
    """
    events = log.events()
    entities, data_end = labelled_entities(store, events, horizon_days=horizon_days)
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
