"""Request and response models of the HTTP API (OpenAPI documents them).

Request models forbid unknown fields and check JSON types, so a malformed request answers 422
naming the field. Ingestion items are deliberately shallow (text where the contract parses):
the data contracts judge their values item by item, so one bad event in a batch is reported as
rejected with its reasons while the others are stored.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from serving.config import MAX_BATCH_ITEMS

_NUMBER = re.compile(r"\s*[+-]?\d+(\.\d*)?([eE][+-]?\d+)?\s*")


def _not_a_number(value: object) -> object:
    """Refuse numbers where a date or time belongs: pydantic would read '0.5' as a Unix time."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError(
            "expected an ISO 8601 date or date-time (2026-12-03T15:00:00Z), not a number"
        )
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_not_a_number)]
"""A date-time in ISO 8601 (the offset is checked where it is used)."""
IsoDate = Annotated[date, BeforeValidator(_not_a_number)]

Strict = ConfigDict(extra="forbid")
LeadId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
Text = Annotated[str, StringConstraints(max_length=2000)]


class LeadIn(BaseModel):
    """One lead as the CRM sends it (data_contracts.Lead); values are checked by the contracts."""

    model_config = Strict

    lead_id: Annotated[str, StringConstraints(max_length=200)]
    officer_id: Annotated[str, StringConstraints(max_length=200)]
    created_at: Annotated[str, StringConstraints(max_length=64)] = Field(
        description="ISO 8601 with a time zone, e.g. 2025-06-02T14:00:00Z"
    )
    first_name: Annotated[str, StringConstraints(max_length=200)]
    last_name: Annotated[str, StringConstraints(max_length=200)]
    phone: Annotated[str, StringConstraints(max_length=64)] = Field(description="E.164")
    email: Annotated[str, StringConstraints(max_length=320)]
    state: Annotated[str, StringConstraints(max_length=16)]
    time_zone: Annotated[str, StringConstraints(max_length=64)] | None = None
    source: Annotated[str, StringConstraints(max_length=64)]
    loan_type: Annotated[str, StringConstraints(max_length=64)]
    loan_amount_usd: float
    credit_band: Annotated[str, StringConstraints(max_length=64)] | None = None
    quoted_rate_pct: float
    timeline_statement: Text | None = None
    consent_call: bool
    consent_text: bool
    consent_email: bool


class EventIn(BaseModel):
    """One event (data_contracts.Event); values are checked by the contracts."""

    model_config = Strict

    event_id: Annotated[str, StringConstraints(max_length=200)]
    lead_id: Annotated[str, StringConstraints(max_length=200)]
    occurred_at: Annotated[str, StringConstraints(max_length=64)] = Field(
        description="ISO 8601 with a time zone, e.g. 2025-06-02T14:00:00Z"
    )
    event_type: Annotated[str, StringConstraints(max_length=64)]
    channel: Annotated[str, StringConstraints(max_length=64)] | None = None
    call_outcome: Annotated[str, StringConstraints(max_length=64)] | None = None
    question_topic: Annotated[str, StringConstraints(max_length=64)] | None = None
    page: Annotated[str, StringConstraints(max_length=1000)] | None = None
    text: Text | None = None


class LeadBatch(BaseModel):
    model_config = Strict
    leads: list[LeadIn] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class EventBatch(BaseModel):
    model_config = Strict
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class ItemOut(BaseModel):
    index: int = Field(description="0-based position in the request")
    id: str | None
    lead_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    reasons: list[str] = Field(description="contract rules broken: 'rule: column: problem'")
    created: bool | None = Field(default=None, description="leads: new (true) or updated")


class IngestOut(BaseModel):
    kind: Literal["leads", "events"]
    received: int
    accepted: int
    duplicates: int
    rejected: int
    refreshed_leads: int = Field(description="leads whose online features were recomputed")
    items: list[ItemOut]


class ScoreIn(BaseModel):
    model_config = Strict
    lead_ids: list[LeadId] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)
    top_k: int | None = Field(
        default=None,
        ge=0,
        le=20,
        description="reasons each way (default 3); 0 scores without reasons (bulk scoring)",
    )


class ReasonOut(BaseModel):
    feature: str
    value: float | str | None
    text: str
    shap_log_odds: float


class ReasonsOut(BaseModel):
    up: list[ReasonOut]
    down: list[ReasonOut]


class ScoreOut(BaseModel):
    lead_id: str
    probability: float = Field(description="calibrated probability of applying")
    tier: str
    raw_log_odds: float
    base_log_odds: float | None = Field(description="null when top_k is 0 (no contributions)")
    reasons: ReasonsOut


class ScoresOut(BaseModel):
    model_version: str
    scored_at: datetime
    scores: list[ScoreOut]


class ContributionOut(BaseModel):
    feature: str
    value: float | str | None
    shap_log_odds: float
    direction: Literal["up", "down", "none"]
    text: str | None


class ExplanationOut(BaseModel):
    lead_id: str
    model_version: str
    scored_at: datetime
    probability: float
    tier: str
    base_log_odds: float
    raw_log_odds: float
    contributions: list[ContributionOut]


class QueueItemOut(BaseModel):
    rank: int
    lane: Literal["new", "trigger", "ranked"]
    lead_id: str
    probability: float
    expected_value_usd: float | None
    tier: str | None
    segments: dict[str, str]
    channel: str
    state: str
    local_zone: str
    local_time_now: str
    best_time_to_call: str
    window_opens_local: str
    window_closes_local: str
    trigger_reasons: list[str]
    waiting_minutes: float | None
    reasons: ReasonsOut


class HeldBackOut(BaseModel):
    lead_id: str
    rule: str
    reason: str
    channel: str
    next_allowed_utc: datetime | None


class QueueOut(BaseModel):
    officer_id: str
    date: str
    at: datetime
    workday_time_zone: str
    model_version: str
    built_at_utc: datetime
    rank_by: str
    capacity: int
    calls_made_today: int
    capacity_left: int
    n_leads: int
    n_closed: int
    n_without_features: int
    n_candidates: int
    n_eligible: int
    n_beyond_capacity: int
    items: list[QueueItemOut]
    held_back: list[HeldBackOut]


class OutcomeIn(BaseModel):
    """What happened with a lead, recorded from the officer's page or the CRM."""

    model_config = Strict

    event_type: Literal[
        "call",
        "text_sent",
        "email_sent",
        "opt_out",
        "dnc_request",
        "consent_granted",
        "consent_revoked",
        "application_submitted",
    ]
    channel: Literal["call", "text", "email"] | None = None
    call_outcome: (
        Literal[
            "no_answer",
            "voicemail",
            "connected",
            "appointment_set",
            "not_interested",
            "asked_to_stop",
        ]
        | None
    ) = None
    occurred_at: datetime | None = Field(default=None, description="default: now")
    event_id: LeadId | None = Field(default=None, description="give one to make retries safe")
    text: Text | None = None


class ReloadIn(BaseModel):
    model_config = Strict
    alias: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    version: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = None


class ModelOut(BaseModel):
    model_version: str | None
    source: str | None
    loaded_at: datetime | None
    last_error: str | None


class ReloadOut(BaseModel):
    model_version: str
    previous_version: str | None
    source: str


class UserIn(BaseModel):
    model_config = Strict
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    role: Literal["crm", "officer", "manager", "admin"]
    officer_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="the token stops working after this many days"
    )


class UserOut(BaseModel):
    name: str
    role: str
    officer_id: str | None
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None


class NewUserOut(BaseModel):
    user: UserOut
    token: str = Field(description="shown once; only its SHA-256 hash is stored")


class WebhookIn(BaseModel):
    model_config = Strict
    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="http or https URL the events are POSTed to"
    )
    events: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        default=None,
        max_length=10,
        description="lead.hot, trigger.fired, lead.new_in_speed_lane, lead.opted_out "
        "(default: all four)",
    )
    secret: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None,
        description="the HMAC key (16+ characters); leave it out to have one generated and "
        "shown once",
    )
    description: Annotated[str, StringConstraints(max_length=200)] | None = None


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    created_at: datetime
    created_by: str
    secret_sha256_prefix: str = Field(description="tells secrets apart; never the secret")
    deleted_at: datetime | None = None
    deliveries: dict[str, int] | None = Field(
        default=None, description="deliveries by status (pending, delivered, failed, cancelled)"
    )


class NewWebhookOut(BaseModel):
    webhook: WebhookOut
    secret: str | None = Field(
        description="the generated secret, shown only in this answer (null when you gave one)"
    )


class RemovedWebhookOut(BaseModel):
    webhook: WebhookOut
    cancelled_deliveries: int


class AttemptOut(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    retry_at: datetime | None


class DeliveryOut(BaseModel):
    id: int
    event_id: str = Field(description="the Idempotency-Key of every attempt")
    event_type: str
    lead_id: str
    occurred_at: datetime
    status: Literal["pending", "delivered", "failed", "cancelled"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    attempt_log: list[AttemptOut]


class ErrorOut(BaseModel):
    detail: Any
    request_id: str | None = None
