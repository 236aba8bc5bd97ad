"""The service functions routes call (and the loan officer's page calls too): score, explain,
lead detail, the daily queue, ingestion and recording an outcome.

Each takes the ServingContext and the user asking; officers see only their own leads (another
officer's lead is reported as not found, so ids cannot be probed). Every score and every queue
position served is written to the audit trail before the answer leaves.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import select

from data_contracts.enums import Channel
from features.build import refresh_online_features
from features.event_log import events_table, leads_table
from serving.audit import AuditRecord
from serving.auth import Role, User
from serving.compliance import assess_channels
from serving.context import ServingContext
from serving.ingest import IngestOutcome, ItemResult, RecordKind, ingest_records
from serving.lead_state import (
    lead_states,
    market_rate_pct,
    open_mask,
    recent_contacts,
    stated_timeline_months,
)
from serving.model import LoadedModel
from serving.queue import build_queue
from serving.queue_cache import QueueKey
from serving.webhooks.events import IngestionWebhooks, ScoreSeen, note_scores
from serving.webhooks.store import EventType as WebhookEventType

SMALL_BATCH_ROWS: Final = 8
"""Up to this many rows are encoded record by record (no pandas): the single-score fast path."""

MAX_SELF_HEAL_LEADS: Final = 5000
"""Open leads missing from the online store are computed and pushed, up to this many a request."""

RECENT_EVENTS: Final = 20

QUEUE_HORIZON: Final = timedelta(days=366)
"""A queue is built for a moment within a year of now: further out, nothing about it holds."""


class LeadNotFoundError(LookupError):
    """Unknown lead ids, or leads the asking officer may not see (reported the same way)."""

    def __init__(self, lead_ids: Sequence[str]) -> None:
        self.lead_ids = list(lead_ids)
        shown = ", ".join(self.lead_ids[:10]) + (" ..." if len(self.lead_ids) > 10 else "")
        super().__init__(f"lead(s) not found: {shown}")


class OfficerNotFoundError(LookupError):
    """An officer with no leads, or another officer's queue asked for by an officer."""

    def __init__(self, officer_id: str) -> None:
        self.officer_id = officer_id
        super().__init__(f"no leads for officer '{officer_id}'")


class NoFeaturesError(RuntimeError):
    """Known leads without online features: closed (applied, or opted out of every channel)."""

    def __init__(self, lead_ids: Sequence[str]) -> None:
        self.lead_ids = list(lead_ids)
        super().__init__(
            f"lead(s) {', '.join(self.lead_ids[:10])} have no online features: they are closed "
            "(applied, or opted out of every channel), so they are no longer scored"
        )


class ServiceInputError(ValueError):
    """A request value the service cannot use; names the field (answered as 422)."""

    def __init__(self, field_name: str, message: str, *, location: str = "query") -> None:
        self.field = field_name
        self.location = location
        super().__init__(message)


@dataclass
class Timings:
    """Milliseconds per phase of a request (sent back as a Server-Timing header)."""

    phases: dict[str, float] = field(default_factory=dict)
    _clock: float = field(default_factory=time.perf_counter)

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = self.phases.get(name, 0.0) + (now - self._clock) * 1000.0
        self._clock = now

    def header(self) -> str:
        return ", ".join(f"{name};dur={ms:.2f}" for name, ms in self.phases.items())


# -- access -----------------------------------------------------------------------------------


def _officers_of(ctx: ServingContext, lead_ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    ids = list(dict.fromkeys(lead_ids))
    with ctx.event_log.engine.connect() as conn:
        for start in range(0, len(ids), 900):
            query = select(leads_table.c.lead_id, leads_table.c.officer_id).where(
                leads_table.c.lead_id.in_(ids[start : start + 900])
            )
            found.update((str(a), str(b)) for a, b in conn.execute(query))
    return found


def visible_leads(ctx: ServingContext, viewer: User, lead_ids: Sequence[str]) -> dict[str, str]:
    """lead_id -> officer_id of leads the viewer may see; LeadNotFoundError for any other."""
    officers = _officers_of(ctx, lead_ids)
    hidden = [
        i
        for i in dict.fromkeys(lead_ids)
        if i not in officers or (viewer.role is Role.OFFICER and officers[i] != viewer.officer_id)
    ]
    if hidden:
        raise LeadNotFoundError(hidden)
    return officers


# -- features and scores ----------------------------------------------------------------------


REFRESH_ROUNDS: Final = 5
"""Pushes of one lead in one request at most, when other workers keep writing its events."""


def _refresh(ctx: ServingContext, lead_ids: Sequence[str], now: datetime) -> int:
    """Fold these leads' new events and push them online; forget them in the cache.

    In one process the Feast lock orders refreshes and each reads the event log inside it, so
    the last push holds every committed event. Another worker's push is not ordered by that
    lock: it may have read the log before this one and write after it. So each lead's newest
    event seq is read before the fold and again after the push; a lead whose seq moved had an
    event committed meanwhile, whose own worker may already have pushed (and been overwritten),
    and is folded and pushed again. The last push of any lead is then checked against the log.
    """
    pending = sorted(set(lead_ids))
    pushed = 0
    for round_number in range(REFRESH_ROUNDS):
        if not pending:
            break
        before = ctx.event_log.newest_event_seqs(pending)
        with ctx.feast_lock:
            written = refresh_online_features(ctx.event_log, ctx.feature_store, pending, now=now)
        ctx.features.invalidate(pending)
        pushed = written if round_number == 0 else pushed
        after = ctx.event_log.newest_event_seqs(pending)
        pending = [lead for lead in pending if after.get(lead) != before.get(lead)]
    return pushed


def online_inputs(
    ctx: ServingContext, lead_ids: Sequence[str], at: datetime, *, heal: bool = True
) -> pd.DataFrame:
    """Model inputs of these leads at `at` (cache + clock features). Leads the online store lacks
    are computed from the event log and pushed first (a lead ingested before any feature build);
    closed leads stay without features (has_features False)."""
    frame = ctx.features.features(lead_ids, at)
    missing = frame.loc[~frame["has_features"], "lead_id"].tolist()
    healable = heal and 0 < len(missing) <= MAX_SELF_HEAL_LEADS
    if healable and _refresh(ctx, missing, datetime.now(UTC)):
        frame = ctx.features.features(lead_ids, at)
    return frame


def model_matrix(
    ctx: ServingContext, model: LoadedModel, lead_ids: Sequence[str], at: datetime
) -> np.ndarray:
    """The model's input rows for these leads at `at`, in order; NoFeaturesError for leads
    without online features. A few leads go record by record (the single-score fast path)."""
    if len(lead_ids) > SMALL_BATCH_ROWS:
        frame = online_inputs(ctx, lead_ids, at)
        closed = frame.loc[~frame["has_features"], "lead_id"].tolist()
        if closed:
            raise NoFeaturesError(closed)
        return model.scorer.encode(frame)
    records = ctx.features.records(lead_ids, at)
    missing = [i for i, r in zip(lead_ids, records, strict=True) if r is None]
    if (
        missing
        and len(missing) <= MAX_SELF_HEAL_LEADS
        and _refresh(ctx, missing, datetime.now(UTC))
    ):
        records = ctx.features.records(lead_ids, at)
    closed = [i for i, r in zip(lead_ids, records, strict=True) if r is None]
    if closed:
        raise NoFeaturesError(closed)
    return model.scorer.layout.encode_records([r for r in records if r is not None])


def _reason_dict(reason: Any) -> dict[str, Any]:
    return {
        "feature": reason.feature,
        "value": reason.value,
        "text": reason.text,
        "shap_log_odds": round(float(reason.shap_log_odds), 6),
    }


def explained(
    model: LoadedModel, matrix: np.ndarray, lead_ids: Sequence[str], top_k: int
) -> list[dict[str, Any]]:
    """Probability, tier and the top reasons up and down (SHAP, log-odds) of each row.

    top_k 0 skips the contributions (a plain prediction): bulk scoring without reasons.
    """
    scorer = model.scorer
    if top_k == 0:
        raw = scorer.raw_score(matrix)
        probabilities = scorer.calibrator.apply(raw)
        return [
            {
                "lead_id": lead_id,
                "probability": round(float(p), 6),
                "tier": tier,
                "raw_log_odds": round(float(r), 6),
                "base_log_odds": None,
                "reasons": {"up": [], "down": []},
            }
            for lead_id, p, r, tier in zip(
                lead_ids, probabilities, raw, scorer.tiers(probabilities), strict=True
            )
        ]
    explanations = scorer.explain(matrix, top_k=top_k, lead_ids=list(lead_ids))
    tiers = scorer.tiers(np.array([e.probability for e in explanations]))
    return [
        {
            "lead_id": lead_id,
            "probability": round(e.probability, 6),
            "tier": tier,
            "raw_log_odds": round(e.raw_log_odds, 6),
            "base_log_odds": round(e.base_log_odds, 6),
            "reasons": {
                "up": [_reason_dict(r) for r in e.up],
                "down": [_reason_dict(r) for r in e.down],
            },
        }
        for lead_id, e, tier in zip(lead_ids, explanations, tiers, strict=True)
    ]


def _score_records(
    viewer: User,
    request_id: str,
    action: str,
    model_version: str,
    scores: list[dict[str, Any]],
    officers: Mapping[str, str],
    at: datetime,
) -> list[AuditRecord]:
    return [
        AuditRecord(
            at=at,
            request_id=request_id,
            actor=viewer.name,
            actor_role=str(viewer.role),
            action=action,
            lead_id=s["lead_id"],
            model_version=model_version,
            officer_id=officers.get(s["lead_id"]),
            probability=s["probability"],
            tier=s["tier"],
            reasons=[{**r, "direction": d} for d in ("up", "down") for r in s["reasons"][d]],
        )
        for s in scores
    ]


def note_heat(
    ctx: ServingContext,
    model_version: str,
    scores: Sequence[Mapping[Any, Any]],
    officers: Mapping[str, str],
    now: datetime,
) -> None:
    """Hand the scores served to lead.hot (fires for leads that just turned hot) and wake this
    process's webhook worker when it queued something."""
    seen = [
        ScoreSeen(str(s["lead_id"]), officers.get(str(s["lead_id"])), s["probability"], s["tier"])
        for s in scores
    ]
    if note_scores(ctx.event_log.engine, seen, model_version=model_version, now=now):
        ctx.webhook_wake.set()


def score_leads(
    ctx: ServingContext,
    viewer: User,
    lead_ids: Sequence[str],
    *,
    request_id: str,
    top_k: int | None = None,
    timings: Timings | None = None,
) -> dict[str, Any]:
    """Calibrated probability, tier and top reasons up and down for each lead, now."""
    timings = timings or Timings()
    if not lead_ids:
        raise ServiceInputError("lead_ids", "give at least one lead id", location="body")
    model = ctx.model.require()
    ids = list(dict.fromkeys(lead_ids))
    officers = visible_leads(ctx, viewer, ids)
    timings.lap("access")
    now = datetime.now(UTC)
    matrix = model_matrix(ctx, model, ids, now)
    timings.lap("features")
    scores = explained(model, matrix, ids, ctx.config.top_reasons if top_k is None else top_k)
    timings.lap("score")
    ctx.audit.write(
        _score_records(viewer, request_id, "score", model.version, scores, officers, now)
    )
    note_heat(ctx, model.version, scores, officers, now)
    timings.lap("audit")
    return {"model_version": model.version, "scored_at": now.isoformat(), "scores": scores}


def _direction(shap_value: float) -> str:
    return "up" if shap_value > 0 else "down" if shap_value < 0 else "none"


def explain_lead(
    ctx: ServingContext, viewer: User, lead_id: str, *, request_id: str
) -> dict[str, Any]:
    """Every feature's contribution (SHAP, log-odds) to the lead's score now, largest first."""
    model = ctx.model.require()
    officers = visible_leads(ctx, viewer, [lead_id])
    now = datetime.now(UTC)
    scorer = model.scorer
    matrix = model_matrix(ctx, model, [lead_id], now)
    contributions = scorer.contributions(matrix)[0]
    names = scorer.feature_names
    summary = explained(model, matrix, [lead_id], top_k=len(names))[0]
    texts = {r["feature"]: r["text"] for d in ("up", "down") for r in summary["reasons"][d]}
    order = sorted(range(len(names)), key=lambda j: -abs(float(contributions[j])))
    rows = [
        {
            "feature": names[j],
            "value": scorer.layout.decode_value(names[j], float(matrix[0, j])),
            "shap_log_odds": round(float(contributions[j]), 6),
            "direction": _direction(float(contributions[j])),
            "text": texts.get(names[j]),
        }
        for j in order
    ]
    ctx.audit.write(
        _score_records(viewer, request_id, "explanation", model.version, [summary], officers, now)
    )
    note_heat(ctx, model.version, [summary], officers, now)
    return {
        "lead_id": lead_id,
        "model_version": model.version,
        "scored_at": now.isoformat(),
        "probability": summary["probability"],
        "tier": summary["tier"],
        "base_log_odds": summary["base_log_odds"],
        "raw_log_odds": summary["raw_log_odds"],
        "contributions": rows,
    }


# -- lead detail ------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).isoformat()


def lead_detail(
    ctx: ServingContext, viewer: User, lead_id: str, *, request_id: str
) -> dict[str, Any]:
    """What an officer needs about one lead: contact details, compliance state and whether each
    channel may be used now, the current score with reasons, and recent activity."""
    officers = visible_leads(ctx, viewer, [lead_id])
    now = datetime.now(UTC)
    with ctx.event_log.engine.connect() as conn:
        row = conn.execute(select(leads_table).where(leads_table.c.lead_id == lead_id)).one()
        recent = conn.execute(
            select(
                events_table.c.event_id,
                events_table.c.occurred_at,
                events_table.c.event_type,
                events_table.c.channel,
                events_table.c.call_outcome,
                events_table.c.question_topic,
            )
            .where(events_table.c.lead_id == lead_id)
            .order_by(events_table.c.occurred_at.desc(), events_table.c.event_id.desc())
            .limit(RECENT_EVENTS)
        ).all()
    lead = {k: v for k, v in row._mapping.items() if k not in ("updated_at",)}
    lead["created_at"] = _iso(pd.Timestamp(lead["created_at"], tz=UTC))
    states = lead_states(ctx.event_log, at=now, lead_ids=[lead_id])
    contacts = recent_contacts(ctx.event_log, at=now, day_start=now, lead_ids=[lead_id])
    decisions = assess_channels(
        states, at_utc=now, channels=tuple(Channel), contacts=contacts.contacts
    )
    state = states.iloc[0]
    compliance = {
        "consent": {str(ch): bool(state[f"consent_{ch}"]) for ch in Channel},
        "opted_out": {str(ch): bool(state[f"opted_out_{ch}"]) for ch in Channel},
        "dnc": bool(state["dnc"]),
        "applied": bool(state["applied"]),
        "now": {
            str(ch): {
                "eligible": bool(frame["eligible"].iloc[0]),
                "rule": str(frame["rule"].iloc[0]),
                "reason": str(frame["reason"].iloc[0]),
                "next_allowed_utc": _iso(frame["next_allowed_utc"].iloc[0]),
            }
            for ch, frame in decisions.items()
        },
    }
    score: dict[str, Any] | None = None
    unavailable: str | None = None
    model = ctx.model.current
    if model is None:
        unavailable = "no model is loaded"
    else:
        try:
            matrix = model_matrix(ctx, model, [lead_id], now)
        except NoFeaturesError:
            unavailable = "the lead is closed (applied, or opted out of every channel)"
        else:
            score = explained(model, matrix, [lead_id], ctx.config.top_reasons)[0]
            score["model_version"] = model.version
            ctx.audit.write(
                _score_records(
                    viewer, request_id, "lead_detail", model.version, [score], officers, now
                )
            )
            note_heat(ctx, model.version, [score], officers, now)
    return {
        "lead": lead,
        "compliance": compliance,
        "score": score,
        "score_unavailable": unavailable,
        "first_touch_at": _iso(state["first_touch_at"]),
        "last_inbound_at": _iso(state["last_inbound_at"]),
        "recent_events": [
            {
                "event_id": e.event_id,
                "occurred_at": _iso(pd.Timestamp(e.occurred_at, tz=UTC)),
                "event_type": e.event_type,
                "channel": e.channel,
                "call_outcome": e.call_outcome,
                "question_topic": e.question_topic,
            }
            for e in recent
        ],
    }


# -- the queue --------------------------------------------------------------------------------


def queue_moment(
    day: date | None, at: datetime | None, *, now: datetime, workday_zone: str
) -> tuple[date, datetime, datetime]:
    """(the work day, the instant the queue is built for, the work day's start), all resolved:

    - `at` given: the queue is built at that instant; its day in the workday zone is the date
      (a `date` given with it must be that day);
    - only `date`: today means now; another day means noon of that day in the workday zone
      (every contiguous-US calling window is open then);
    - neither: now, today.
    """
    zone = ZoneInfo(workday_zone)
    for name, value in (("at", at), ("date", day)):
        if value is None:
            continue
        moment = value if isinstance(value, datetime) else datetime.combine(value, clock_time(12))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        if abs(moment - now) > QUEUE_HORIZON:
            raise ServiceInputError(
                name, f"{name} must be within a year of today; a queue is for a working day"
            )
    if at is not None:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ServiceInputError("at", "at needs a time zone offset, e.g. 2025-06-02T15:00:00Z")
        local_day = at.astimezone(zone).date()
        if day is not None and day != local_day:
            raise ServiceInputError(
                "date",
                f"at falls on {local_day} in {workday_zone}, not on date {day}; "
                "drop one of them or make them agree",
            )
        moment = at.astimezone(UTC)
        chosen = local_day
    else:
        today = now.astimezone(zone).date()
        chosen = day or today
        moment = now if chosen == today else datetime.combine(chosen, clock_time(12), zone)
    day_start = datetime.combine(chosen, clock_time(0), zone).astimezone(UTC)
    return chosen, moment.astimezone(UTC), day_start


def _epoch_to_utc(seconds: np.ndarray) -> pd.Series:
    stamps = pd.to_datetime(pd.Series(seconds, dtype="float64"), unit="s", utc=True)
    return pd.Series(stamps.array)


def queue_candidates(
    ctx: ServingContext, officer_id: str, at: datetime, model: LoadedModel, timings: Timings
) -> tuple[pd.DataFrame, np.ndarray, dict[str, int]]:
    """The officer's open leads as build_queue wants them (compliance from the event log,
    signals from features, probability from the model), their model matrix, and counts."""
    states = lead_states(ctx.event_log, at=at, officer_id=officer_id)
    if states.empty:
        raise OfficerNotFoundError(officer_id)
    open_states = states.loc[open_mask(states)].reset_index(drop=True)
    timings.lap("lead_state")
    frame = online_inputs(ctx, open_states["lead_id"].tolist(), at)
    has = frame["has_features"].to_numpy(dtype=bool)
    open_states, frame = (
        open_states.loc[has].reset_index(drop=True),
        frame.loc[has].reset_index(drop=True),
    )
    timings.lap("features")
    scorer = model.scorer
    matrix = scorer.encode(frame) if len(frame) else np.empty((0, len(scorer.feature_names)))
    probability = scorer.predict_proba(matrix) if len(frame) else np.empty(0)
    timings.lap("score")
    ready = frame["timeline_ready_at_epoch_s"].to_numpy(dtype=float)
    market = market_rate_pct(ctx.event_log, at)
    candidates = open_states.assign(
        probability=probability,
        tier=scorer.tiers(probability),
        timeline_segment=frame["timeline_segment"].to_numpy(),
        engagement_tier=frame["engagement_tier"].to_numpy(),
        market_rate_pct=np.nan if market is None else market,
        timeline_ready_at=_epoch_to_utc(ready),
        timeline_stated_months=stated_timeline_months(open_states, ready),
    )
    counts = {
        "n_leads": len(states),
        "n_closed": int((~open_mask(states)).sum()),
        "n_without_features": int((~has).sum()),
    }
    return candidates, matrix, counts


def _queue_audit(
    viewer: User, request_id: str, result: dict[str, Any], model_version: str, at: datetime
) -> list[AuditRecord]:
    officer = result["officer_id"]
    base = {
        "at": at,
        "request_id": request_id,
        "actor": viewer.name,
        "actor_role": str(viewer.role),
        "model_version": model_version,
        "officer_id": officer,
    }
    records = [
        AuditRecord(
            action="queue_item",
            lead_id=item["lead_id"],
            rank=item["rank"],
            lane=item["lane"],
            probability=item["probability"],
            tier=item["tier"],
            channel=item["channel"],
            rule="eligible",
            decision={
                "channel": item["channel"],
                "local_time_now": item["local_time_now"],
                "window_opens_local": item["window_opens_local"],
                "window_closes_local": item["window_closes_local"],
                "best_time_to_call": item["best_time_to_call"],
                "trigger_reasons": item["trigger_reasons"],
            },
            reasons=[{**r, "direction": d} for d in ("up", "down") for r in item["reasons"][d]],
            **base,
        )
        for item in result["items"]
    ]
    records += [
        AuditRecord(
            action="queue_held_back",
            lead_id=held["lead_id"],
            channel=held["channel"],
            rule=held["rule"],
            decision={"reason": held["reason"], "next_allowed_utc": held["next_allowed_utc"]},
            **base,
        )
        for held in result["held_back"]
    ]
    return records


def _build_queue_payload(
    ctx: ServingContext,
    model: LoadedModel,
    officer_id: str,
    chosen_day: date,
    moment: datetime,
    day_start: datetime,
    capacity: int,
    timings: Timings,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The officer's queue at moment, built from the event log and the online features, and
    the candidates it scored."""
    config = ctx.config
    candidates, matrix, counts = queue_candidates(ctx, officer_id, moment, model, timings)
    contacts = recent_contacts(ctx.event_log, at=moment, day_start=day_start, officer_id=officer_id)
    timings.lap("lead_state")
    result = build_queue(
        candidates,
        officer_id=officer_id,
        at_utc=moment,
        capacity=capacity,
        calls_made_today=contacts.made_today,
        rank_by=config.rank_by,
        compensation_bps=config.compensation_bps,
        contacts=contacts.contacts,
    )
    timings.lap("queue")
    payload = result.to_dict()
    shown = [item["lead_id"] for item in payload["items"]]
    if shown:
        position = {lead_id: i for i, lead_id in enumerate(candidates["lead_id"])}
        rows = matrix[[position[i] for i in shown]]
        by_lead = {s["lead_id"]: s for s in explained(model, rows, shown, config.top_reasons)}
        for item in payload["items"]:
            item["reasons"] = by_lead[item["lead_id"]]["reasons"]
    timings.lap("reasons")
    payload.update(
        model_version=model.version,
        date=chosen_day.isoformat(),
        at=moment.isoformat(),
        workday_time_zone=config.workday_time_zone,
        **counts,
    )
    return payload, candidates


def officer_queue(
    ctx: ServingContext,
    viewer: User,
    officer_id: str | None,
    *,
    request_id: str,
    day: date | None = None,
    at: datetime | None = None,
    timings: Timings | None = None,
) -> dict[str, Any]:
    """The officer's compliant daily call queue (build_queue) with reasons for the leads shown.

    Officers get their own queue only (another officer's answers as not found); see
    queue_moment for how `day` and `at` combine.
    """
    timings = timings or Timings()
    if viewer.role is Role.OFFICER:
        if officer_id is not None and officer_id != viewer.officer_id:
            raise OfficerNotFoundError(officer_id)
        officer_id = viewer.officer_id
    if not officer_id:
        raise ServiceInputError("officer", "name the officer: ?officer=lo-01")
    model = ctx.model.require()
    config = ctx.config
    now = datetime.now(UTC)
    chosen_day, moment, day_start = queue_moment(
        day, at, now=now, workday_zone=config.workday_time_zone
    )
    capacity = ctx.users.capacity(officer_id)
    capacity = config.officer_capacity if capacity is None else capacity
    # read before building: an event committed meanwhile makes the next request rebuild
    seq, lead_writes = ctx.event_log.change_stamp()
    key = QueueKey(
        officer_id,
        moment.replace(second=0, microsecond=0).isoformat(),
        chosen_day.isoformat(),
        model.version,
        capacity,
    )
    payload = ctx.queues.get(
        key,
        seq=seq,
        lead_writes=lead_writes,
        events_after=lambda since: ctx.event_log.officer_events_after(officer_id, since),
    )
    candidates = None
    if payload is not None:
        timings.lap("cached")  # the same scores as when built: no new heat to note
    else:
        payload, candidates = _build_queue_payload(
            ctx, model, officer_id, chosen_day, moment, day_start, capacity, timings
        )
        ctx.queues.put(key, payload, seq=seq, lead_writes=lead_writes)
    ctx.audit.write(_queue_audit(viewer, request_id, payload, model.version, now))
    # a queue planned for another moment scores a hypothetical
    if candidates is not None and moment == now:
        officers = dict.fromkeys(candidates["lead_id"].astype(str), officer_id)
        seen = candidates[["lead_id", "probability", "tier"]].to_dict("records")
        note_heat(ctx, model.version, seen, officers, now)
    timings.lap("audit")
    return payload


# -- ingestion and outcomes -------------------------------------------------------------------


@dataclass(frozen=True)
class IngestAnswer:
    """Per-item results, how many leads had their online features refreshed, and the time each
    phase took (validate, store, refresh; sent back as a Server-Timing header)."""

    outcome: IngestOutcome
    refreshed_leads: int
    timings: Timings = field(default_factory=Timings)

    def to_dict(self) -> dict[str, Any]:
        o = self.outcome
        return {
            "kind": o.kind,
            "received": len(o.items),
            "accepted": o.count("accepted"),
            "duplicates": o.count("duplicate"),
            "rejected": o.count("rejected"),
            "refreshed_leads": self.refreshed_leads,
            "items": [item.to_dict() for item in o.items],
        }


def ingest(
    ctx: ServingContext,
    kind: RecordKind,
    records: Sequence[Mapping[str, Any]],
    *,
    now: datetime | None = None,
) -> IngestAnswer:
    """Leads or events through the contracts into the event log; the leads they touched are
    recomputed and pushed online before this returns (their next score and queue see them).

    Validation runs outside every lock (plain Python, no shared state); the write lock covers
    only the event log's check-then-insert; _refresh takes the Feast lock.
    """
    moment = now or datetime.now(UTC)
    webhooks = IngestionWebhooks(moment)
    outcome = ingest_records(
        ctx.event_log, kind, records, now=moment, write_lock=ctx.write_lock, observer=webhooks
    )
    if webhooks.enqueued:
        ctx.webhook_wake.set()
    timings = Timings(phases={name: seconds * 1000.0 for name, seconds in outcome.seconds.items()})
    refreshed = _refresh(ctx, outcome.touched_lead_ids, moment)
    timings.lap("refresh")
    if _score_for_heat(ctx, outcome.touched_lead_ids, moment):
        timings.lap("webhooks")
    return IngestAnswer(outcome=outcome, refreshed_leads=refreshed, timings=timings)


def _score_for_heat(ctx: ServingContext, lead_ids: Sequence[str], now: datetime) -> bool:
    """Score the leads an ingestion touched, only when a webhook wants lead.hot: an event can
    make a lead hot, and the CRM should not wait for someone to ask for its score. A plain
    prediction (no reasons); closed leads have no features and no score. True when it scored."""
    model = ctx.model.current
    if model is None or not lead_ids or not ctx.webhooks.wants(WebhookEventType.LEAD_HOT):
        return False
    frame = online_inputs(ctx, lead_ids, now)
    frame = frame.loc[frame["has_features"].to_numpy(dtype=bool)].reset_index(drop=True)
    if not frame.empty:
        ids = frame["lead_id"].astype(str).tolist()
        scores = explained(model, model.scorer.encode(frame), ids, top_k=0)
        note_heat(ctx, model.version, scores, _officers_of(ctx, ids), now)
    return True


OUTCOME_EVENT_TYPES: Final = (
    "call",
    "text_sent",
    "email_sent",
    "opt_out",
    "dnc_request",
    "consent_granted",
    "consent_revoked",
    "application_submitted",
)
"""What an officer records from the lead page."""


def record_outcome(
    ctx: ServingContext, viewer: User, lead_id: str, outcome: Mapping[str, Any]
) -> ItemResult:
    """Record what happened with a lead (a call and its outcome, a text, an opt-out, ...) as an
    event through the same contracts; idempotent when the caller gives an event_id."""
    visible_leads(ctx, viewer, [lead_id])
    now = datetime.now(UTC)
    record = {
        "event_id": outcome.get("event_id") or f"ls-{uuid.uuid4().hex}",
        "lead_id": lead_id,
        "occurred_at": outcome.get("occurred_at") or now.isoformat(),
        "event_type": outcome["event_type"],
        "channel": outcome.get("channel"),
        "call_outcome": outcome.get("call_outcome"),
        "question_topic": None,
        "page": None,
        "text": outcome.get("text"),
    }
    return ingest(ctx, "events", [record], now=now).outcome.items[0]
