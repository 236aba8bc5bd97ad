"""The lead and event contract rules as data: one catalogue that both engines run.

Great Expectations (data_contracts.suites, for files and batches) turns each Check into an
expectation; the record validator (data_contracts.records, the API path) evaluates the same
Check in plain Python. Every range, enum, pattern and width comes from models.py and enums.py,
so the two engines cannot disagree about what a rule is; tests/contracts/test_record_parity.py
proves they agree about which rows break it. Nothing here imports Great Expectations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any, Final, Literal
from zoneinfo import available_timezones

import pandas as pd

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
from data_contracts.models import E164_PATTERN, LOAN_AMOUNT_RANGE_USD, RATE_RANGE_PCT, Event, Lead
from data_contracts.reading import ContractError, TableKind
from data_contracts.schemas import EVENT_REQUIRED, LEAD_REQUIRED

LEAD_CREATED_AT: Final = "lead_created_at"
"""Column the event check adds: the created_at of each event's lead (null when unknown)."""

LEAD_AGE_AT_EVENT_S: Final = "lead_age_at_event_s"
"""Column the event check adds: occurred_at minus the lead's created_at, in seconds."""

NOW_PARAMETER: Final = "now"

TYPE_NAMES: Final[dict[str, str]] = {
    "string": "text",
    "datetime64[ns, UTC]": "an ISO 8601 timestamp with a time zone, e.g. 2024-05-01T14:00:00Z",
    "float64": "a number, e.g. 250000 or 6.25",
    "bool": "true/false (also yes/no, 1/0)",
}
"""What each schema dtype accepts, as the `type` rule's message says it."""

TIMESTAMP_WITH_ZONE: Final = (
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)"
)
"""A timestamp text must match this in full (case-insensitive): a zone is never guessed."""

BOOL_TEXT: Final[dict[str, bool]] = {
    "true": True,
    "yes": True,
    "1": True,
    "false": False,
    "no": False,
    "0": False,
}


@dataclass(frozen=True, slots=True)
class Rule:
    """One contract rule on one column. message never contains a value, so it is safe to show."""

    name: str
    column: str
    message: str
    why: str


@dataclass(frozen=True, slots=True)
class RuleHits:
    """The rows (by source row number) that broke one rule."""

    rule: Rule
    row_numbers: tuple[int, ...]


def in_catalogue_order(hits: Sequence[RuleHits], checks: Sequence[Check]) -> list[RuleHits]:
    """Hits sorted as their rules stand in the catalogue: GX answers in its own order, and a
    row's reasons should read the same on every path and every run."""
    order: dict[tuple[str, str], int] = {}
    for index, check in enumerate(checks):
        order.setdefault((check.rule.name, check.rule.column), index)
    return sorted(hits, key=lambda h: order.get((h.rule.name, h.rule.column), len(order)))


def type_rule(column: str, dtype: str) -> Rule:
    """The rule a value breaks when it does not parse as its column's schema type."""
    return Rule(
        "type",
        column,
        f"is not {TYPE_NAMES[dtype]}",
        "values must parse as the schema's type; nothing is guessed",
    )


def validation_time(now: datetime) -> pd.Timestamp:
    """`now` in UTC; not_in_future compares with it."""
    stamp = pd.Timestamp(now)
    if stamp.tzinfo is None:
        raise ValueError("now must be timezone-aware, e.g. datetime.now(UTC)")
    return stamp.tz_convert("UTC")


def lead_dates(lead_created_at: pd.Series, source: str) -> pd.Series:
    """The leads' created_at in UTC by lead_id, checked: what lead_exists and not_before_lead
    compare events with."""
    if lead_created_at.empty:  # no leads known yet: every event fails lead_exists
        return pd.Series([], index=pd.Index([], dtype=object), dtype="datetime64[ns, UTC]")
    if not isinstance(lead_created_at.dtype, pd.DatetimeTZDtype):
        raise ContractError(
            f"{source}: lead_created_at must be tz-aware timestamps indexed by lead_id, e.g. "
            "valid_leads.set_index('lead_id')['created_at']"
        )
    if not lead_created_at.index.is_unique:
        raise ContractError(f"{source}: lead_created_at has a lead_id more than once")
    in_utc: pd.Series = lead_created_at.dt.tz_convert("UTC")
    return in_utc


@cache
def optional_defaults(kind: TableKind) -> dict[str, str]:
    """What an empty optional field becomes before the checks run (credit_band 'unknown',
    timeline_statement ''), as the models' defaults say."""
    model = Lead if kind == "leads" else Event
    defaults: dict[str, str] = {}
    for name, info in model.model_fields.items():
        default = info.default
        if info.is_required() or default is None or isinstance(default, bool):
            continue  # consent flags are required columns: a missing one is not "no"
        defaults[name] = str(default)
    return defaults


@dataclass(frozen=True, slots=True)
class When:
    """A row condition: the check applies only to rows where `column` passes it.

    An empty `column` passes "ne" only, as in the pandas query GX filters rows with (a null is
    "not equal" to a value, but never equal to it, in a set, or not null).
    """

    column: str
    op: Literal["eq", "ne", "in", "not_null"]
    values: tuple[str, ...] = ()

    def holds(self, value: Any) -> bool:
        if value is None:
            return self.op == "ne"
        if self.op == "eq":
            return bool(value == self.values[0])
        if self.op == "ne":
            return bool(value != self.values[0])
        if self.op == "in":
            return value in self.values
        return True


CheckTest = Literal["not_null", "null", "match", "max_length", "unique", "in_set", "between"]


@dataclass(frozen=True, slots=True)
class Check:
    """One rule as data: which test runs on which column (a derived one for the lead checks).

    Every test but not_null ignores empty values, as GX's column map expectations do.
    max_is_now: the upper bound is the validation time (the `now` parameter).
    """

    rule: Rule
    test: CheckTest
    column: str
    pattern: str | None = None
    values: frozenset[str] = frozenset()
    min_value: float | None = None
    max_value: float | None = None
    max_is_now: bool = False
    when: When | None = None


# --- why each rule exists ----------------------------------------------------------------------

_REQUIRED_WHY: dict[str, str] = {
    "lead_id": "every event, score and queue entry is keyed by lead_id",
    "officer_id": "queues are built per loan officer",
    "created_at": "lead age and speed to lead are measured from it",
    "first_name": "the loan officer needs to know whom they are calling",
    "last_name": "the loan officer needs to know whom they are calling",
    "phone": "a lead without a phone number cannot be called or texted",
    "email": "email touches need an address",
    "state": "the state sets calling hours and call caps (FL, OK, MD)",
    "source": "source is a segment and a model input",
    "loan_type": "loan type is a segment and a model input",
    "loan_amount_usd": "loan amount is a model input and sets the expected value of a call",
    "quoted_rate_pct": "the rate-gap trigger compares the market with the quoted rate",
    "consent_call": "calls need recorded consent (TCPA); unknown must not read as yes",
    "consent_text": "texts need recorded consent (TCPA); unknown must not read as yes",
    "consent_email": "email consent is kept per channel; unknown must not read as yes",
    "event_id": "re-delivered events are recognised by event_id",
    "occurred_at": "features are computed as of a time; an undated event could leak",
    "event_type": "features count events by type",
}

_ENUM_WHY: dict[str, tuple[type[StrEnum], str]] = {
    "state": (UsState, "calling hours and caps are looked up by USPS state code"),
    "source": (LeadSource, "an unknown source would be a category the model never saw"),
    "loan_type": (LoanType, "an unknown loan type would be a category the model never saw"),
    "credit_band": (CreditBand, "an unknown credit band would be a category the model never saw"),
    "event_type": (EventType, "features count events by these types only"),
    "channel": (Channel, "consent and opt-outs are recorded per call, text or email channel"),
    "call_outcome": (CallOutcome, "the last call outcome is a model input"),
    "question_topic": (QuestionTopic, "question counts are kept per topic"),
}


def _field_constraint(model: type[Lead] | type[Event], name: str, attribute: str) -> Any:
    """A pydantic constraint (pattern, max_length) of a model field: models.py stays the source."""
    for item in model.model_fields[name].metadata:
        value = getattr(item, attribute, None)
        if value is not None:
            return value
    raise KeyError(f"{model.__name__}.{name} has no {attribute} constraint")


def _check(name: str, column: str, message: str, why: str, test: CheckTest, **how: Any) -> Check:
    return Check(Rule(name, column, message, why), test, how.pop("on", column), **how)


def _common_checks(
    model: type[Lead] | type[Event],
    required: Sequence[str],
    identifiers: Sequence[str],
    text_columns: Sequence[str],
    enum_columns: Sequence[str],
    unique: str,
    timestamp: str,
) -> list[Check]:
    checks = [
        _check("required", column, "is empty", _REQUIRED_WHY[column], "not_null")
        for column in required
    ]
    checks += [
        _check(
            "identifier",
            column,
            "may hold only letters, digits and _ . : -",
            "ids travel in URLs, file names and Feast keys",
            "match",
            pattern=_field_constraint(model, column, "pattern"),
        )
        for column in identifiers
    ]
    for column in (*identifiers, *text_columns):
        limit = int(_field_constraint(model, column, "max_length"))
        checks.append(
            _check(
                "max_length",
                column,
                f"is longer than {limit} characters",
                "the event log's columns have these widths",
                "max_length",
                max_value=limit,
            )
        )
    checks.append(
        _check(
            "unique",
            unique,
            f"repeats the {unique} of another row with different values",
            f"{unique} is the table's key; two different records cannot share it",
            "unique",
        )
    )
    for column in enum_columns:
        enum, why = _ENUM_WHY[column]
        values = [m.value for m in enum]
        shown = ", ".join(values) if len(values) <= 8 else ", ".join(values[:4]) + ", ..."
        checks.append(
            _check(
                "allowed_values",
                column,
                f"is not one of the {len(values)} {enum.__name__} values ({shown})",
                why,
                "in_set",
                values=frozenset(values),
            )
        )
    checks.append(
        _check(
            "not_in_future",
            timestamp,
            "is later than the validation time",
            "a future timestamp is a clock or time-zone error and would leak into features",
            "between",
            max_is_now=True,
        )
    )
    return checks


@cache
def lead_checks() -> tuple[Check, ...]:
    """Every rule of a typed leads table, in report order (built once per process)."""
    checks = _common_checks(
        Lead,
        required=LEAD_REQUIRED,
        identifiers=("lead_id", "officer_id"),
        text_columns=("first_name", "last_name", "email", "timeline_statement"),
        enum_columns=("state", "source", "loan_type", "credit_band"),
        unique="lead_id",
        timestamp="created_at",
    )
    low, high = LOAN_AMOUNT_RANGE_USD
    checks += [
        _check(
            "range",
            "loan_amount_usd",
            f"is outside {low:,.0f}-{high:,.0f} USD",
            "amounts outside the range are data-entry errors for a retail mortgage lender",
            "between",
            min_value=low,
            max_value=high,
        ),
        _check(
            "range",
            "quoted_rate_pct",
            f"is outside {RATE_RANGE_PCT[0]}-{RATE_RANGE_PCT[1]} percent a year",
            "a rate outside the range is a typo (e.g. 0.065 for 6.5) and breaks the rate gap",
            "between",
            min_value=RATE_RANGE_PCT[0],
            max_value=RATE_RANGE_PCT[1],
        ),
        _check(
            "e164",
            "phone",
            "is not E.164 (expected like +15551234567)",
            "the dialler and the DNC scrub match numbers in E.164 only",
            "match",
            pattern=E164_PATTERN,
        ),
        _check(
            "email_format",
            "email",
            "is not an email address",
            "an address that cannot receive mail wastes touches and hides the lead's engagement",
            "match",
            pattern=_field_constraint(Lead, "email", "pattern"),
        ),
        _check(
            "iana_time_zone",
            "time_zone",
            "is not an IANA time zone such as America/Chicago (leave it empty when unknown)",
            "calling hours are checked in the lead's local time; a bad zone would allow "
            "calls at night",
            "in_set",
            values=frozenset(available_timezones()),
        ),
    ]
    return tuple(checks)


@cache
def event_checks(*, with_leads: bool) -> tuple[Check, ...]:
    """Every rule of a typed events table; with_leads adds the checks against the leads' dates."""
    checks = _common_checks(
        Event,
        required=EVENT_REQUIRED,
        identifiers=("event_id", "lead_id"),
        text_columns=("page", "text"),
        enum_columns=("event_type", "channel", "call_outcome", "question_topic"),
        unique="event_id",
        timestamp="occurred_at",
    )
    call = When("event_type", "eq", (EventType.CALL.value,))
    checks += [
        _check(
            "call_needs_outcome",
            "call_outcome",
            "is empty but event_type is 'call'",
            "the last call outcome is a model input and 'asked_to_stop' is an opt-out",
            "not_null",
            when=call,
        ),
        _check(
            "outcome_only_for_call",
            "call_outcome",
            "is set but event_type is not 'call'",
            "an outcome on another event type means the type or the outcome is wrong",
            "null",
            when=When("event_type", "ne", (EventType.CALL.value,)),
        ),
        _check(
            "question_needs_topic",
            "question_topic",
            "is empty but event_type is 'question_asked'",
            "questions are counted per topic; a question without one cannot be counted",
            "not_null",
            when=When("event_type", "eq", (EventType.QUESTION_ASKED.value,)),
        ),
        _check(
            "channel_required",
            "channel",
            "is empty but opt_out and consent events must name a channel",
            "consent and opt-outs are honoured per channel; without one we cannot apply it",
            "not_null",
            when=When(
                "event_type", "in", tuple(sorted(t.value for t in EVENT_TYPES_REQUIRING_CHANNEL))
            ),
        ),
    ]
    for channel in Channel:
        implying = tuple(sorted(t.value for t, c in EVENT_CHANNEL.items() if c is channel))
        checks.append(
            _check(
                "channel_matches_type",
                "channel",
                "does not fit the event_type (email_* events are email, text_* text, call call)",
                "touch counts per channel would be wrong",
                "in_set",
                values=frozenset({channel.value}),
                when=When("event_type", "in", implying),
            )
        )
    if with_leads:
        checks += [
            _check(
                "lead_exists",
                "lead_id",
                "names a lead that is not in the leads table",
                "an event of an unknown lead cannot be featurised or queued; load the lead first",
                "not_null",
                on=LEAD_CREATED_AT,
                when=When("lead_id", "not_null"),
            ),
            _check(
                "not_before_lead",
                "occurred_at",
                "is earlier than the lead's created_at",
                "an event before its lead existed is a clock error and breaks lead age features",
                # A one-column check on the event's lead age rather than GX's column-pair
                # expectation, which crashes (tz-naive empty frame) when no row has both dates.
                "between",
                on=LEAD_AGE_AT_EVENT_S,
                min_value=0,
            ),
        ]
    return tuple(checks)
