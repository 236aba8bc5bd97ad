"""Great Expectations 1.x suites for the lead, event and feature tables; each expectation says why.

Great Expectations takes seconds to import, so nothing here touches it until a suite is first
built or run; the context, the datasource and each suite are then built once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

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
from data_contracts.models import (
    E164_PATTERN,
    LOAN_AMOUNT_RANGE_USD,
    RATE_RANGE_PCT,
    Event,
    Lead,
)
from data_contracts.reading import ROW_NUMBER
from data_contracts.schemas import EVENT_REQUIRED, LEAD_REQUIRED

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.expectations.expectation import Expectation

LEAD_CREATED_AT = "lead_created_at"
"""Column the event check adds: the created_at of each event's lead (null when unknown)."""

LEAD_AGE_AT_EVENT_S = "lead_age_at_event_s"
"""Column the event check adds: occurred_at minus the lead's created_at, in seconds."""

NOW_PARAMETER = "now"


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


@dataclass(frozen=True, slots=True)
class FeatureColumnRule:
    """The contract of one feature-table column; features/ builds these from its feature list."""

    name: str
    kind: Literal["int", "float", "category"]
    nullable: bool = False
    categories: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None

    @classmethod
    def inferred(
        cls,
        name: str,
        kind: Literal["int", "float", "category"],
        *,
        nullable: bool = False,
        categories: Sequence[str] = (),
    ) -> FeatureColumnRule:
        """Bounds from the naming convention: counts >= 0, *_rate/*_share in [0, 1], ages >= 0."""
        min_value: float | None = None
        max_value: float | None = None
        if kind == "int":
            min_value = 0.0
        elif name.endswith(("_rate", "_share")):
            min_value, max_value = 0.0, 1.0
        elif name.startswith("days_since_") or "_minutes_" in name or name == "timeline_months":
            min_value = 0.0
        return cls(name, kind, nullable, tuple(categories), min_value, max_value)


# --- rule catalogue -------------------------------------------------------------------------

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


def _expectations() -> ModuleType:
    """gx.expectations, typed as a plain module: GX does not re-export its classes for mypy."""
    import great_expectations.expectations

    return great_expectations.expectations


def _suite(name: str, expectations: list[Expectation]) -> ExpectationSuite:
    from great_expectations import ExpectationSuite

    return ExpectationSuite(name=name, expectations=expectations)


def _check(rule: str, column: str, message: str, why: str, expectation: Expectation) -> Expectation:
    expectation.meta = {"rule": rule, "column": column, "message": message, "why": why}
    return expectation


def _field_constraint(model: type[Lead] | type[Event], name: str, attribute: str) -> Any:
    """A pydantic constraint (pattern, max_length) of a model field: models.py stays the source."""
    for item in model.model_fields[name].metadata:
        value = getattr(item, attribute, None)
        if value is not None:
            return value
    raise KeyError(f"{model.__name__}.{name} has no {attribute} constraint")


def _common_checks(
    model: type[Lead] | type[Event],
    required: Sequence[str],
    identifiers: Sequence[str],
    text_columns: Sequence[str],
    enum_columns: Sequence[str],
    unique: str,
    timestamp: str,
) -> list[Expectation]:
    gxe = _expectations()
    checks: list[Expectation] = []
    for column in required:
        checks.append(
            _check(
                "required",
                column,
                "is empty",
                _REQUIRED_WHY[column],
                gxe.ExpectColumnValuesToNotBeNull(column=column),
            )
        )
    for column in identifiers:
        checks.append(
            _check(
                "identifier",
                column,
                "may hold only letters, digits and _ . : -",
                "ids travel in URLs, file names and Feast keys",
                gxe.ExpectColumnValuesToMatchRegex(
                    column=column, regex=_field_constraint(model, column, "pattern")
                ),
            )
        )
    for column in (*identifiers, *text_columns):
        limit = int(_field_constraint(model, column, "max_length"))
        checks.append(
            _check(
                "max_length",
                column,
                f"is longer than {limit} characters",
                "the event log's columns have these widths",
                gxe.ExpectColumnValueLengthsToBeBetween(column=column, max_value=limit),
            )
        )
    checks.append(
        _check(
            "unique",
            unique,
            f"repeats the {unique} of another row with different values",
            f"{unique} is the table's key; two different records cannot share it",
            gxe.ExpectColumnValuesToBeUnique(column=unique),
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
                gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values),
            )
        )
    checks.append(
        _check(
            "not_in_future",
            timestamp,
            "is later than the validation time",
            "a future timestamp is a clock or time-zone error and would leak into features",
            gxe.ExpectColumnValuesToBeBetween(
                column=timestamp, max_value={"$PARAMETER": NOW_PARAMETER}
            ),
        )
    )
    return checks


@cache
def lead_suite() -> ExpectationSuite:
    """The expectation suite for a typed leads table (built once per process)."""
    from zoneinfo import available_timezones

    gxe = _expectations()
    checks = _common_checks(
        Lead,
        required=LEAD_REQUIRED,
        identifiers=("lead_id", "officer_id"),
        text_columns=("first_name", "last_name", "email", "timeline_statement"),
        enum_columns=("state", "source", "loan_type", "credit_band"),
        unique="lead_id",
        timestamp="created_at",
    )
    checks += [
        _check(
            "range",
            "loan_amount_usd",
            f"is outside {LOAN_AMOUNT_RANGE_USD[0]:,.0f}-{LOAN_AMOUNT_RANGE_USD[1]:,.0f} USD",
            "amounts outside the range are data-entry errors for a retail mortgage lender",
            gxe.ExpectColumnValuesToBeBetween(
                column="loan_amount_usd",
                min_value=LOAN_AMOUNT_RANGE_USD[0],
                max_value=LOAN_AMOUNT_RANGE_USD[1],
            ),
        ),
        _check(
            "range",
            "quoted_rate_pct",
            f"is outside {RATE_RANGE_PCT[0]}-{RATE_RANGE_PCT[1]} percent a year",
            "a rate outside the range is a typo (e.g. 0.065 for 6.5) and breaks the rate gap",
            gxe.ExpectColumnValuesToBeBetween(
                column="quoted_rate_pct", min_value=RATE_RANGE_PCT[0], max_value=RATE_RANGE_PCT[1]
            ),
        ),
        _check(
            "e164",
            "phone",
            "is not E.164 (expected like +15551234567)",
            "the dialler and the DNC scrub match numbers in E.164 only",
            gxe.ExpectColumnValuesToMatchRegex(column="phone", regex=E164_PATTERN),
        ),
        _check(
            "email_format",
            "email",
            "is not an email address",
            "an address that cannot receive mail wastes touches and hides the lead's engagement",
            gxe.ExpectColumnValuesToMatchRegex(
                column="email", regex=_field_constraint(Lead, "email", "pattern")
            ),
        ),
        _check(
            "iana_time_zone",
            "time_zone",
            "is not an IANA time zone such as America/Chicago (leave it empty when unknown)",
            "calling hours are checked in the lead's local time; a bad zone would allow "
            "calls at night",
            gxe.ExpectColumnValuesToBeInSet(
                column="time_zone", value_set=sorted(available_timezones())
            ),
        ),
    ]
    return _suite(name="leads", expectations=checks)


@cache
def event_suite(*, with_leads: bool) -> ExpectationSuite:
    """The suite for a typed events table; with_leads adds the checks against the leads' dates."""
    from great_expectations.expectations.row_conditions import Column

    gxe = _expectations()
    event_type = Column("event_type")
    checks = _common_checks(
        Event,
        required=EVENT_REQUIRED,
        identifiers=("event_id", "lead_id"),
        text_columns=("page", "text"),
        enum_columns=("event_type", "channel", "call_outcome", "question_topic"),
        unique="event_id",
        timestamp="occurred_at",
    )
    checks += [
        _check(
            "call_needs_outcome",
            "call_outcome",
            "is empty but event_type is 'call'",
            "the last call outcome is a model input and 'asked_to_stop' is an opt-out",
            gxe.ExpectColumnValuesToNotBeNull(
                column="call_outcome", row_condition=event_type == EventType.CALL.value
            ),
        ),
        _check(
            "outcome_only_for_call",
            "call_outcome",
            "is set but event_type is not 'call'",
            "an outcome on another event type means the type or the outcome is wrong",
            gxe.ExpectColumnValuesToBeNull(
                column="call_outcome", row_condition=event_type != EventType.CALL.value
            ),
        ),
        _check(
            "question_needs_topic",
            "question_topic",
            "is empty but event_type is 'question_asked'",
            "questions are counted per topic; a question without one cannot be counted",
            gxe.ExpectColumnValuesToNotBeNull(
                column="question_topic",
                row_condition=event_type == EventType.QUESTION_ASKED.value,
            ),
        ),
        _check(
            "channel_required",
            "channel",
            "is empty but opt_out and consent events must name a channel",
            "consent and opt-outs are honoured per channel; without one we cannot apply it",
            gxe.ExpectColumnValuesToNotBeNull(
                column="channel",
                row_condition=event_type.is_in(
                    sorted(t.value for t in EVENT_TYPES_REQUIRING_CHANNEL)
                ),
            ),
        ),
    ]
    for channel in Channel:
        implying = sorted(t.value for t, c in EVENT_CHANNEL.items() if c is channel)
        checks.append(
            _check(
                "channel_matches_type",
                "channel",
                "does not fit the event_type (email_* events are email, text_* text, call call)",
                "touch counts per channel would be wrong",
                gxe.ExpectColumnValuesToBeInSet(
                    column="channel",
                    value_set=[channel.value],
                    row_condition=event_type.is_in(implying),
                ),
            )
        )
    if with_leads:
        checks += [
            _check(
                "lead_exists",
                "lead_id",
                "names a lead that is not in the leads table",
                "an event of an unknown lead cannot be featurised or queued; load the lead first",
                gxe.ExpectColumnValuesToNotBeNull(
                    column=LEAD_CREATED_AT, row_condition=Column("lead_id").is_not_null()
                ),
            ),
            _check(
                "not_before_lead",
                "occurred_at",
                "is earlier than the lead's created_at",
                "an event before its lead existed is a clock error and breaks lead age features",
                # A one-column check on the event's lead age rather than GX's column-pair
                # expectation, which crashes (tz-naive empty frame) when no row has both dates.
                gxe.ExpectColumnValuesToBeBetween(column=LEAD_AGE_AT_EVENT_S, min_value=0),
            ),
        ]
    return _suite(name="events_with_leads" if with_leads else "events", expectations=checks)


@cache
def feature_table_suite(rules: tuple[FeatureColumnRule, ...]) -> ExpectationSuite:
    """The suite for a feature table; pass the rules as a tuple (it is cached by value)."""
    gxe = _expectations()
    checks: list[Expectation] = []
    for rule in rules:
        if not rule.nullable:
            checks.append(
                _check(
                    "required",
                    rule.name,
                    "is empty in a column that is never empty",
                    "the model was trained without nulls here; a null means a broken transform",
                    gxe.ExpectColumnValuesToNotBeNull(column=rule.name),
                )
            )
        if rule.min_value is not None or rule.max_value is not None:
            checks.append(
                _check(
                    "range",
                    rule.name,
                    _range_message(rule.min_value, rule.max_value),
                    "counts and ages cannot be negative and rates and shares lie in [0, 1]",
                    gxe.ExpectColumnValuesToBeBetween(
                        column=rule.name, min_value=rule.min_value, max_value=rule.max_value
                    ),
                )
            )
        if rule.kind == "category":
            checks.append(
                _check(
                    "allowed_values",
                    rule.name,
                    f"is not one of {', '.join(rule.categories)}",
                    "a category the model never saw is scored as if missing",
                    gxe.ExpectColumnValuesToBeInSet(
                        column=rule.name, value_set=list(rule.categories)
                    ),
                )
            )
    return _suite(name="feature_table", expectations=checks)


def _range_message(low: float | None, high: float | None) -> str:
    if low is None:
        return f"is above {high:g}"
    if high is None:
        return f"is below {low:g}"
    return f"is outside [{low:g}, {high:g}]"


# --- running --------------------------------------------------------------------------------


class SuiteRunner:
    """One ephemeral GX context with a pandas dataframe asset, shared by every validation."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        # tqdm bars on stderr would flood the CLI and the server logs.
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("leadscore").add_dataframe_asset("table")
        self._batch_definition: BatchDefinition[Any] = asset.add_batch_definition_whole_dataframe(
            "whole_table"
        )
        # GX does not document its context as thread-safe; the API validates from a thread pool.
        self._lock = threading.Lock()

    def run(
        self, frame: pd.DataFrame, suite: ExpectationSuite, *, now: datetime | None = None
    ) -> list[RuleHits]:
        """Validate frame (which has a ROW_NUMBER column) and return the broken rules' rows."""
        parameters = {NOW_PARAMETER: pd.Timestamp(now)} if now is not None else {}
        with self._lock:
            batch = self._batch_definition.get_batch(batch_parameters={"dataframe": frame})
            result = batch.validate(
                suite,
                result_format={
                    "result_format": "COMPLETE",
                    "unexpected_index_column_names": [ROW_NUMBER],
                    "return_unexpected_index_query": False,
                },
                expectation_parameters=parameters,
            )
        hits: list[RuleHits] = []
        for outcome in result.results:
            config = outcome.expectation_config
            if config is None:
                raise RuntimeError("GX returned a result without its expectation; cannot map it")
            meta = config.meta
            error = _exception_message(outcome.exception_info)
            if error is not None:
                # A check that could not run is a bug in the suite, not bad data: say so loudly.
                raise RuntimeError(
                    f"expectation for rule {meta['rule']!r} on {meta['column']!r} failed to run: "
                    f"{error}"
                )
            if outcome.success:
                continue
            rows = tuple(int(item[ROW_NUMBER]) for item in outcome.result["unexpected_index_list"])
            rule = Rule(meta["rule"], meta["column"], meta["message"], meta["why"])
            hits.append(RuleHits(rule, rows))
        return hits


def _exception_message(info: dict[str, Any] | None) -> str | None:
    """The error of a check that could not run; GX nests it per metric when a metric failed."""
    if not info:
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    nested = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    return str(nested[0].get("exception_message")) if nested else None


@cache
def suite_runner() -> SuiteRunner:
    """The process-wide runner, built on first use."""
    return SuiteRunner()
