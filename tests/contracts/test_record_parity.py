"""The API's record validator (no GX) and the GX suites accept and reject the same rows with the
same rules: generated batches of leads and events, valid and broken every way, through both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_contracts import ValidationResult, validate
from data_contracts.reading import ROW_NUMBER, TableKind
from data_contracts.records import validate_records
from data_contracts.schemas import EVENT_COLUMNS, LEAD_COLUMNS

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
KNOWN_LEADS = pd.Series(
    pd.to_datetime(["2024-01-02T15:00:00Z", "2024-03-02T15:00:00Z"], utc=True),
    index=["L1", "L2"],
    name="created_at",
)
"""What the event log knows: L1 and L2 (L2 created in March)."""

LEAD: dict[str, Any] = {
    "lead_id": "L1",
    "officer_id": "LO-1",
    "created_at": "2024-01-02T15:00:00Z",
    "first_name": "Ana",
    "last_name": "Example",
    "phone": "+15125550001",
    "email": "ana@example.com",
    "state": "TX",
    "time_zone": "America/Chicago",
    "source": "referral",
    "loan_type": "purchase",
    "loan_amount_usd": 320000.0,
    "credit_band": "good",
    "quoted_rate_pct": 6.75,
    "timeline_statement": "lease ends in August",
    "consent_call": True,
    "consent_text": False,
    "consent_email": True,
}
"""A lead as the API's schema delivers it (text, floats, booleans); it passes every rule."""

LEAD_BREAKS: dict[str, dict[str, Any]] = {
    "state": {"state": "ZZ"},
    "source": {"source": "billboard"},
    "loan_type": {"loan_type": "boat"},
    "credit_band": {"credit_band": "superb"},
    "no_credit_band": {"credit_band": None},
    "amount_low": {"loan_amount_usd": 9999.0},
    "amount_high": {"loan_amount_usd": 5_000_001.0},
    "amount_text": {"loan_amount_usd": "lots"},
    "amount_numeric_text": {"loan_amount_usd": "250000"},
    "amount_infinite": {"loan_amount_usd": float("inf")},
    "rate_fraction": {"quoted_rate_pct": 0.065},
    "rate_high": {"quoted_rate_pct": 15.5},
    "phone": {"phone": "512-555-0001"},
    "phone_spaces": {"phone": "  +15125550001  "},
    "email": {"email": "ana.example.com"},
    "zone": {"time_zone": "Mars/Olympus"},
    "zone_blank": {"time_zone": "   "},
    "future": {"created_at": "2024-06-01T12:00:01Z"},
    "no_zone": {"created_at": "2024-01-02T15:00:00"},
    "offset": {"created_at": "2024-01-02T10:00:00-05:00"},
    "bad_date": {"created_at": "2024-02-30T10:00:00Z"},
    "identifier": {"lead_id": "L/1"},
    "id_number": {"lead_id": 7},
    "name_long": {"first_name": "x" * 101},
    "no_name": {"last_name": None},
    "blank_officer": {"officer_id": ""},
    "consent_text_yes": {"consent_call": "yes"},
    "consent_maybe": {"consent_text": "maybe"},
    "consent_missing": {"consent_email": None},
    "consent_number": {"consent_email": 1},
    "statement_long": {"timeline_statement": "y" * 1001},
}

EVENT_KINDS: list[dict[str, Any]] = [
    {"event_type": "web_visit", "page": "/rates"},
    {"event_type": "email_sent", "channel": "email"},
    {"event_type": "text_replied"},
    {"event_type": "call", "call_outcome": "voicemail"},
    {"event_type": "question_asked", "question_topic": "rates", "text": "what is my rate"},
    {"event_type": "opt_out", "channel": "text"},
    {"event_type": "consent_granted", "channel": "call"},
]
"""Valid events, one of each cross-field shape."""

EVENT_BREAKS: dict[str, dict[str, Any]] = {
    "event_type": {"event_type": "teleport"},
    "no_event_type": {"event_type": None},
    "no_type_but_outcome": {"event_type": None, "call_outcome": "connected"},
    "channel": {"channel": "fax"},
    "outcome_value": {"call_outcome": "hung_up"},
    "topic_value": {"question_topic": "weather"},
    "outcome_not_call": {"call_outcome": "connected"},
    "call_no_outcome": {"event_type": "call", "call_outcome": None},
    "question_no_topic": {"event_type": "question_asked", "question_topic": ""},
    "opt_out_no_channel": {"event_type": "opt_out", "channel": None},
    "channel_mismatch": {"channel": "text"},
    "call_by_email": {"event_type": "call", "call_outcome": "connected", "channel": "email"},
    "future": {"occurred_at": "2024-06-02T00:00:00Z"},
    "before_lead": {"lead_id": "L2", "occurred_at": "2024-03-02T14:59:59Z"},
    "at_creation": {"lead_id": "L2", "occurred_at": "2024-03-02T15:00:00Z"},
    "unknown_lead": {"lead_id": "L404"},
    "no_lead": {"lead_id": None},
    "no_time": {"occurred_at": None},
    "no_zone": {"occurred_at": "2024-05-01 10:00:00"},
    "lowercase_zone": {"occurred_at": "2024-05-01t10:00:00z"},
    "nanoseconds": {"occurred_at": "2024-05-01T10:00:00.123456789+02:00"},
    "identifier": {"event_id": "E 1"},
    "page_long": {"page": "/" + "p" * 500},
    "blank_text": {"text": "  "},
    "number_page": {"page": 12.0},
}


def _event(index: int, kind: int) -> dict[str, Any]:
    empty = dict.fromkeys(("channel", "call_outcome", "question_topic", "page", "text"))
    return {
        **empty,
        **EVENT_KINDS[kind % len(EVENT_KINDS)],
        "event_id": f"E{index}",
        "lead_id": "L1",
        "occurred_at": "2024-05-01T14:30:00-05:00",
    }


def _lead(index: int) -> dict[str, Any]:
    return {**LEAD, "lead_id": f"L{index}", "phone": f"+1512555{index:04d}"}


def _both(kind: TableKind, records: Sequence[Mapping[str, Any]]) -> None:
    """Validate records on both paths and assert they agree on every row and rule."""
    columns = list(LEAD_COLUMNS if kind == "leads" else EVENT_COLUMNS)
    frame = pd.DataFrame.from_records(
        [{c: r.get(c) for c in columns} for r in records], columns=columns
    )
    frame.index = pd.RangeIndex(1, len(frame) + 1, name=ROW_NUMBER)
    lead_dates = KNOWN_LEADS if kind == "events" else None
    with_gx = validate(frame, kind, now=NOW, lead_created_at=lead_dates, source="api")
    plain = validate_records(kind, records, now=NOW, lead_created_at=lead_dates, source="api")
    _assert_same(with_gx, plain)


def _assert_same(with_gx: ValidationResult, plain: ValidationResult) -> None:
    report = with_gx.report.render()
    assert _reasons(plain) == _reasons(with_gx), report
    pd.testing.assert_frame_equal(plain.valid, with_gx.valid)
    assert _rules(plain) == _rules(with_gx), report
    for name in ("n_rows", "n_valid", "n_quarantined", "n_duplicates", "warnings"):
        assert getattr(plain.report, name) == getattr(with_gx.report, name), name


def _reasons(result: ValidationResult) -> dict[int, str]:
    """Each quarantined row's reasons, as stored ("rule: column: problem; ...")."""
    return {
        int(row): str(reasons)
        for row, reasons in zip(
            result.quarantined[ROW_NUMBER], result.quarantined["reasons"], strict=True
        )
    }


def _rules(result: ValidationResult) -> set[tuple[str, str, int, str]]:
    return {(f.rule, f.column, f.count, f.message) for f in result.report.failures}


def test_every_broken_lead_is_judged_the_same_on_both_paths() -> None:
    """One batch holding each way to break a lead once, plus a valid lead, a repeat of it, and
    two different leads sharing an id."""
    records = [_lead(0)] + [{**_lead(i + 1), **b} for i, b in enumerate(LEAD_BREAKS.values())]
    records += [dict(records[0]), {**_lead(90), "lead_id": "L91"}, {**_lead(91)}]
    _both("leads", records)


def test_every_broken_event_is_judged_the_same_on_both_paths() -> None:
    records = [_event(i, i) for i in range(len(EVENT_KINDS))]
    records += [{**_event(100 + i, i), **b} for i, b in enumerate(EVENT_BREAKS.values())]
    records += [dict(records[1]), {**_event(0, 3)}]  # an exact repeat; an id reused
    _both("events", records)


def _batches(
    make: Any, breaks: dict[str, dict[str, Any]]
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Batches of 1-8 records, each valid or broken in 1-2 ways; some repeat or share an id."""
    record = st.tuples(
        st.integers(0, 5), st.integers(0, 6), st.lists(st.sampled_from(sorted(breaks)), max_size=2)
    )

    def build(drawn: list[tuple[int, int, list[str]]]) -> list[dict[str, Any]]:
        built = []
        for ident, shape, names in drawn:
            one = make(ident, shape)
            for name in names:
                one.update(breaks[name])
            built.append(one)
        return built

    return st.lists(record, min_size=1, max_size=8).map(build)


PARITY = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PARITY
@given(records=_batches(lambda ident, _shape: _lead(ident), LEAD_BREAKS))
def test_generated_lead_batches_are_judged_the_same_on_both_paths(
    records: list[dict[str, Any]],
) -> None:
    _both("leads", records)


@PARITY
@given(records=_batches(_event, EVENT_BREAKS))
def test_generated_event_batches_are_judged_the_same_on_both_paths(
    records: list[dict[str, Any]],
) -> None:
    _both("events", records)


@pytest.mark.parametrize("kind", ["leads", "events"])
def test_records_path_reports_the_lead_rules_it_skipped(kind: TableKind) -> None:
    records = [_lead(1)] if kind == "leads" else [_event(1, 0)]
    result = validate_records(kind, records, now=NOW)
    assert result.report.ok
    skipped = [w for w in result.report.warnings if "lead_exists" in w]
    assert bool(skipped) == (kind == "events")


def test_a_record_later_than_now_is_rejected_once_now_passes_it() -> None:
    """not_in_future compares with the `now` given, not the wall clock."""
    record = {**_event(1, 0), "occurred_at": (NOW + timedelta(minutes=1)).isoformat()}
    early = validate_records("events", [record], now=NOW, lead_created_at=KNOWN_LEADS)
    later = validate_records(
        "events", [record], now=NOW + timedelta(minutes=2), lead_created_at=KNOWN_LEADS
    )
    assert [f.rule for f in early.report.failures] == ["not_in_future"]
    assert later.report.ok
