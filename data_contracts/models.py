"""Pydantic models for one Lead and one Event: the record-level contract the CRM sends us."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Self
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from data_contracts.enums import (
    EVENT_CHANNEL,
    EVENT_TYPES_REQUIRING_CHANNEL,
    CallOutcome,
    Channel,
    CreditBand,
    EventType,
    LeadSource,
    LoanType,
    QuestionTopic,
    UsState,
)

E164_PATTERN = r"^\+[1-9]\d{7,14}$"
"""ITU-T E.164: a plus sign, a country code that does not start with 0, 8 to 15 digits in all."""

E164 = re.compile(E164_PATTERN)

LOAN_AMOUNT_RANGE_USD = (10_000.0, 5_000_000.0)
"""Loan amounts outside this range are data-entry errors for a retail mortgage lender."""

RATE_RANGE_PCT = (0.5, 15.0)
"""Quoted and market mortgage rates, in percent a year."""


def _utc(value: datetime) -> datetime:
    """Timestamps must say their zone; we store them in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp has no time zone; send ISO 8601 with an offset, e.g. 'Z'")
    return value.astimezone(UTC)


def _iana_zone(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if value not in _known_zones():
        raise ValueError(f"'{value}' is not an IANA time zone such as 'America/Chicago'")
    return value


_ZONES: set[str] = set()


def _known_zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
IanaZone = Annotated[str | None, AfterValidator(_iana_zone)]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class Lead(BaseModel):
    """A prospective borrower as the CRM knows them.

    Names, phone and email are personal data: stored, never logged, never model inputs.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    lead_id: Identifier
    officer_id: Identifier
    created_at: UtcDatetime
    first_name: str = Field(min_length=1, max_length=100, json_schema_extra={"pii": True})
    last_name: str = Field(min_length=1, max_length=100, json_schema_extra={"pii": True})
    phone: str = Field(pattern=E164_PATTERN, json_schema_extra={"pii": True})
    email: str = Field(
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254, json_schema_extra={"pii": True}
    )
    state: UsState
    time_zone: IanaZone = Field(
        default=None, description="IANA zone of the lead; empty when unknown (then not callable)"
    )
    source: LeadSource
    loan_type: LoanType
    loan_amount_usd: float = Field(ge=LOAN_AMOUNT_RANGE_USD[0], le=LOAN_AMOUNT_RANGE_USD[1])
    credit_band: CreditBand = CreditBand.UNKNOWN
    quoted_rate_pct: float = Field(ge=RATE_RANGE_PCT[0], le=RATE_RANGE_PCT[1])
    timeline_statement: str = Field(default="", max_length=1000)
    consent_call: bool = False
    consent_text: bool = False
    consent_email: bool = False


class Event(BaseModel):
    """One thing that happened to a lead, with its own id so re-delivery is harmless."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    event_id: Identifier
    lead_id: Identifier
    occurred_at: UtcDatetime
    event_type: EventType
    channel: Channel | None = None
    call_outcome: CallOutcome | None = None
    question_topic: QuestionTopic | None = None
    page: str | None = Field(default=None, max_length=500)
    text: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        implied = EVENT_CHANNEL.get(self.event_type)
        if implied is not None and self.channel not in (None, implied):
            raise ValueError(
                f"channel '{self.channel}' does not fit event_type '{self.event_type}'; "
                f"expected '{implied}' or empty"
            )
        if self.event_type in EVENT_TYPES_REQUIRING_CHANNEL and self.channel is None:
            raise ValueError(f"event_type '{self.event_type}' needs a channel (call, text, email)")
        if self.event_type is EventType.CALL and self.call_outcome is None:
            raise ValueError("event_type 'call' needs a call_outcome")
        if self.event_type is not EventType.CALL and self.call_outcome is not None:
            raise ValueError("call_outcome is only for event_type 'call'")
        if self.event_type is EventType.QUESTION_ASKED and self.question_topic is None:
            raise ValueError("event_type 'question_asked' needs a question_topic")
        return self

    @property
    def effective_channel(self) -> Channel | None:
        return self.channel or EVENT_CHANNEL.get(self.event_type)
