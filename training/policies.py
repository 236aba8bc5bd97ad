"""Follow-up policies for the backtest: score the open leads each day, then queue them.

A QueuePolicy is a simulator FollowUpPolicy that does what production does each working day:
compute every open lead's features with features.transforms (the serving code path), score
them with a Ranker, and hand each officer's candidates to a queue builder (eligibility, lanes
new -> trigger -> ranked, capacity cut). Every policy shares that queue and differs only in its
score, so "everything else equal" holds by construction. The queue builder is passed in (the
CLI passes serving.queue.build_queue): training never imports serving.

The speed-to-lead lane is the simulator's first response: with it a new lead hears from us
within about a minute (as the brief's "after"); without it the lead waits for the next day's
queue, where it still heads the 'new' lane.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Final, Literal, Protocol
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from data_contracts.schemas import LEAD_COLUMNS
from features.definitions import FEATURE_NAMES
from features.transforms import MARKET_RATE_COLUMN, model_frame, open_rows_at
from models.scorer import LeadScorer
from simulator import DayView, FollowUpPolicy
from training.baselines import newest_first, points_score
from training.dataset import oracle_propensity

FloatArray = npt.NDArray[np.float64]
RankBy = Literal["probability", "expected_value"]

QUEUE_BUILT_AT_LOCAL: Final = time(14, 0)
"""The queue is built once a working day at 2 PM office time: every US zone (Hawaii to Puerto
Rico) is then inside its calling hours, so the queue's eligibility reflects consent, opt-outs
and DNC rather than the clock. The simulator spreads the day's touches over working hours."""

SPEED_TO_LEAD_MEAN_S: Final = 47.0
"""Mean seconds to the first response with the speed-to-lead lane (the brief's 47 s)."""

PLAN_COLUMNS: Final = ("lead_id", "channel")
SEGMENT_COLUMNS: Final = ("timeline_segment", "loan_type", "source", "engagement_tier")


class QueueBuilder(Protocol):
    """Builds one officer's queue: ordered (lead_id, channel) pairs within capacity."""

    def __call__(
        self,
        candidates: pd.DataFrame,
        *,
        officer_id: str,
        at_utc: datetime,
        capacity: int,
        rank_by: RankBy,
        compensation_bps: float,
    ) -> list[tuple[str, str]]: ...


class Ranker(ABC):
    """A score in [0, 1] for each open lead of a day (higher: call sooner)."""

    name: str = "ranker"

    @abstractmethod
    def probability(self, features: pd.DataFrame, day: date) -> FloatArray:
        """One score per row of ``features`` (lead_id, lead_created_at and FEATURE_NAMES)."""


def rank_share(values: FloatArray) -> FloatArray:
    """A rank-only score as a value in (0, 1]: the share of rows at or below it (ties share)."""
    if values.size == 0:
        return np.empty(0)
    ranks = pd.Series(values).rank(method="max", pct=True).to_numpy(dtype=np.float64)
    return np.asarray(ranks, dtype=np.float64)


class NewestFirstRanker(Ranker):
    """Newer leads first (training.baselines.newest_first): what many officers do today."""

    name = "newest_first"

    def probability(self, features: pd.DataFrame, day: date) -> FloatArray:  # noqa: ARG002
        return rank_share(newest_first(features, features))


class PointsRuleRanker(Ranker):
    """The CRM points rule (training.baselines.points_score)."""

    name = "points_rule"

    def probability(self, features: pd.DataFrame, day: date) -> FloatArray:  # noqa: ARG002
        return rank_share(points_score(features))


@dataclass
class ModelRanker(Ranker):
    """The lead model's calibrated probability of applying within its horizon."""

    scorer: LeadScorer
    name: str = "model"

    def probability(self, features: pd.DataFrame, day: date) -> FloatArray:  # noqa: ARG002
        if features.empty:
            return np.empty(0)
        return np.asarray(
            self.scorer.predict_proba(features[list(FEATURE_NAMES)]), dtype=np.float64
        )


@dataclass
class OracleRanker(Ranker):
    """The simulator's true probability of applying within ``horizon_days`` of each day.

    Read from a reference world's lead-by-day hazards (the same leads and latent paths under
    common random numbers), through training.dataset.oracle_propensity, computed once for every
    (lead, day) so a day's lookup is an index. Only a simulation can rank this way: it is the
    upper reference and the sanity check of the simulator, not a product policy.
    """

    daily_hazard: pd.DataFrame
    horizon_days: int = 30
    name: str = "oracle"
    _table: pd.Series = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pairs = self.daily_hazard[["lead_id", "date"]].astype(str)
        entities = pd.DataFrame(
            {"lead_id": pairs["lead_id"], "as_of": pd.to_datetime(pairs["date"], utc=True)}
        )
        values = oracle_propensity(entities, self.daily_hazard, horizon_days=self.horizon_days)
        self._table = pd.Series(
            values, index=pd.MultiIndex.from_frame(pairs[["lead_id", "date"]]), dtype=np.float64
        )

    def probability(self, features: pd.DataFrame, day: date) -> FloatArray:
        keys = pd.MultiIndex.from_arrays(
            [features["lead_id"].astype(str), np.full(len(features), day.isoformat())]
        )
        found = self._table.reindex(keys).to_numpy(dtype=np.float64)
        return np.asarray(np.clip(np.nan_to_num(found, nan=0.0), 0.0, 1.0), dtype=np.float64)


def _epoch_s_to_utc(seconds: pd.Series) -> pd.Series:
    """Float epoch seconds (NaN: none) as UTC timestamps (NaT: none)."""
    values = pd.to_numeric(seconds).to_numpy(dtype=np.float64, na_value=np.nan)
    nanoseconds = np.full(len(values), np.iinfo(np.int64).min, dtype=np.int64)  # NaT
    known = np.isfinite(values)
    nanoseconds[known] = np.round(values[known] * 1e9).astype(np.int64)
    stamps = pd.DatetimeIndex(nanoseconds.view("datetime64[ns]")).tz_localize("UTC")
    return pd.Series(stamps, index=seconds.index)


def queue_candidates(leads: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    """The queue builder's candidate rows for the leads that have a stored feature row.

    leads: a DayView's rows (LEAD_COLUMNS plus the CRM summary). stored: open_rows_at rows at
    one as-of (leads opted out of every channel have none and cannot be queued). Opt-outs come
    from the CRM's can_* flags: consent given, time zone known, and still not contactable means
    an opt-out or a DNC request.
    """
    crm = leads.set_index(leads["lead_id"].astype(str)).reindex(stored["lead_id"].astype(str))
    known_zone = crm["time_zone"].notna().to_numpy()

    def flag(column: str) -> npt.NDArray[np.bool_]:
        return crm[column].to_numpy(dtype=bool, na_value=False)

    market = stored[MARKET_RATE_COLUMN].to_numpy(dtype=np.float64, na_value=np.nan)
    quoted = crm["quoted_rate_pct"].to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(
        {
            "lead_id": crm.index.to_numpy(dtype=object),
            "officer_id": crm["officer_id"].astype(str).to_numpy(dtype=object),
            "state": crm["state"].to_numpy(dtype=object),
            "time_zone": crm["time_zone"].to_numpy(dtype=object),
            "consent_call": flag("consent_call"),
            "consent_text": flag("consent_text"),
            "consent_email": flag("consent_email"),
            "opted_out_call": flag("consent_call") & known_zone & ~flag("can_call"),
            "opted_out_text": flag("consent_text") & known_zone & ~flag("can_text"),
            "opted_out_email": flag("consent_email") & ~flag("can_email"),
            "dnc": np.zeros(len(crm), dtype=bool),
            "applied": np.zeros(len(crm), dtype=bool),
            "created_at": crm["created_at"].to_numpy(),
            "first_touch_at": crm["first_touch_at"].to_numpy(),
            "last_inbound_at": crm["last_inbound_at"].to_numpy(),
            "quoted_rate_pct": quoted,
            "market_rate_pct": market,
            "timeline_ready_at": _epoch_s_to_utc(stored["timeline_ready_at_epoch_s"]).to_numpy(),
            "loan_amount_usd": crm["loan_amount_usd"].to_numpy(dtype=np.float64),
            "texts_replied": stored["texts_replied"].to_numpy(dtype=np.int64),
        }
    )


def segmented_candidates(
    leads: pd.DataFrame, stored: pd.DataFrame, features: pd.DataFrame
) -> pd.DataFrame:
    """queue_candidates with the segment columns beside each, as the queue shows them (stored
    and features aligned row by row, as day_features returns them)."""
    return queue_candidates(leads, stored).assign(
        **{name: features[name].to_numpy(dtype=object) for name in SEGMENT_COLUMNS}
    )


def day_features(
    leads: pd.DataFrame, events: pd.DataFrame, rates: pd.DataFrame, as_of: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(stored rows, model rows) of every open lead at as_of, aligned row by row.

    The serving code path: the fold's rows as of then, then model_frame. The model rows carry
    lead_id and lead_created_at in front of FEATURE_NAMES (for rank-only rules).
    """
    stored = open_rows_at(leads[list(LEAD_COLUMNS)], events, rates, [as_of])
    model = model_frame(stored).reset_index(drop=True)
    stored = stored.reset_index(drop=True)
    model.insert(0, "lead_id", stored["lead_id"].astype(str).to_numpy(dtype=object))
    model.insert(1, "lead_created_at", _epoch_s_to_utc(stored["created_at_epoch_s"]).to_numpy())
    return stored, model


@dataclass
class QueuePolicy(FollowUpPolicy):
    """Each working day: features -> ranker -> one queue per officer (see the module docstring).

    speed_to_lead: answer each new lead within about a minute (the lane), else no first response
    until the next day's queue. rank_by 'expected_value' ranks by probability x loan amount.
    """

    ranker: Ranker
    rates: pd.DataFrame
    queue_builder: QueueBuilder
    speed_to_lead: bool = True
    rank_by: RankBy = "probability"
    compensation_bps: float = 100.0
    office_time_zone: str = "America/Chicago"
    name: str = "queue"

    def first_response_delay_s(
        self, new_leads: pd.DataFrame, rng: np.random.Generator
    ) -> FloatArray:
        n = len(new_leads)
        if not self.speed_to_lead:
            return np.full(n, np.nan)
        return np.maximum(rng.exponential(SPEED_TO_LEAD_MEAN_S, size=n), 5.0)

    def plan_day(self, view: DayView) -> pd.DataFrame:
        if view.leads.empty or not any(c > 0 for c in view.capacity.values()):
            return _empty_plan()
        stored, features = day_features(view.leads, view.events(), self.rates, view.as_of)
        if stored.empty:
            return _empty_plan()
        candidates = segmented_candidates(view.leads, stored, features)
        candidates["probability"] = np.clip(self.ranker.probability(features, view.day), 0, 1)
        at = datetime.combine(view.day, QUEUE_BUILT_AT_LOCAL, ZoneInfo(self.office_time_zone))
        rows: list[tuple[str, str]] = []
        for officer_id, group in candidates.groupby("officer_id", sort=True):
            capacity = int(view.capacity.get(str(officer_id), 0))
            if capacity <= 0:
                continue
            rows.extend(
                self.queue_builder(
                    group.reset_index(drop=True),
                    officer_id=str(officer_id),
                    at_utc=at,
                    capacity=capacity,
                    rank_by=self.rank_by,
                    compensation_bps=self.compensation_bps,
                )
            )
        return pd.DataFrame(rows, columns=list(PLAN_COLUMNS))


def _empty_plan() -> pd.DataFrame:
    return pd.DataFrame({"lead_id": pd.Series([], dtype=object), "channel": []})


def policy_label(ranker: str, rank_by: RankBy, speed_to_lead: bool) -> str:
    """'model_ev+lane' style names: ranker, '_ev' for expected value, '+lane' with the lane."""
    suffix = "_ev" if rank_by == "expected_value" else ""
    return f"{ranker}{suffix}{'+lane' if speed_to_lead else ''}"


def lane_variants(
    ranker: Ranker,
    *,
    rates: pd.DataFrame,
    queue_builder: QueueBuilder,
    rank_by: RankBy = "probability",
    compensation_bps: float = 100.0,
    office_time_zone: str = "America/Chicago",
    lanes: Sequence[bool] = (False, True),
) -> dict[str, QueuePolicy]:
    """The same ranker without and with the speed-to-lead lane, by policy_label."""
    out: dict[str, QueuePolicy] = {}
    for lane in lanes:
        label = policy_label(ranker.name, rank_by, lane)
        out[label] = QueuePolicy(
            ranker=ranker,
            rates=rates,
            queue_builder=queue_builder,
            speed_to_lead=lane,
            rank_by=rank_by,
            compensation_bps=compensation_bps,
            office_time_zone=office_time_zone,
            name=label,
        )
    return out
