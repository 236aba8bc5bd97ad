"""Compliance rules: calling hours across time zones and daylight saving, consent, caps."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_contracts.enums import STATE_TIME_ZONES, US_TIME_ZONES, Channel, UsState
from serving.compliance import (
    BEST_SLOTS_LOCAL,
    ComplianceInputError,
    Rule,
    assess_eligibility,
    best_time_to_call,
    calling_rule,
    calling_window,
    eligibility,
    local_zone,
    zone_abbreviation,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def lead(**overrides: Any) -> dict[str, Any]:
    """A lead that may be called, texted and emailed, in New York, unless overridden."""
    base: dict[str, Any] = {
        "lead_id": "L1",
        "state": "NY",
        "time_zone": "America/New_York",
        "consent_call": True,
        "consent_text": True,
        "consent_email": True,
        "opted_out_call": False,
        "opted_out_text": False,
        "opted_out_email": False,
        "dnc": False,
        "applied": False,
    }
    return base | overrides


def row(table: pd.DataFrame, position: int) -> dict[str, Any]:
    return {str(k): v for k, v in table.iloc[position].items()}


# Wednesday 4 June 2025: New York and Florida are on EDT (UTC-4), Chicago on CDT (UTC-5).
HOURS_CASES = [
    ("NY 07:59 closed", lead(), utc(2025, 6, 4, 11, 59), Rule.OUTSIDE_HOURS),
    ("NY 08:00 open", lead(), utc(2025, 6, 4, 12, 0), Rule.ELIGIBLE),
    ("NY 20:59 open", lead(), utc(2025, 6, 5, 0, 59), Rule.ELIGIBLE),
    ("NY 21:00 closed", lead(), utc(2025, 6, 5, 1, 0), Rule.OUTSIDE_HOURS),
    ("FL 19:59 open", lead(state="FL"), utc(2025, 6, 4, 23, 59), Rule.ELIGIBLE),
    ("FL 20:00 closed", lead(state="FL"), utc(2025, 6, 5, 0, 0), Rule.OUTSIDE_HOURS),
    ("MD 20:00 closed", lead(state="MD"), utc(2025, 6, 5, 0, 0), Rule.OUTSIDE_HOURS),
    (
        "OK 20:00 closed",
        lead(state="OK", time_zone="America/Chicago"),
        utc(2025, 6, 5, 1, 0),
        Rule.OUTSIDE_HOURS,
    ),
    (
        "TX 20:00 open (federal 21:00)",
        lead(state="TX", time_zone="America/Chicago"),
        utc(2025, 6, 5, 1, 0),
        Rule.ELIGIBLE,
    ),
    (
        "FL panhandle uses its own zone",
        lead(state="FL", time_zone="America/Chicago"),
        utc(2025, 6, 5, 0, 30),
        Rule.ELIGIBLE,
    ),
    (
        "single-zone state, no zone on file",
        lead(time_zone=None),
        utc(2025, 6, 4, 15),
        Rule.ELIGIBLE,
    ),
    (
        "multi-zone state, no zone on file",
        lead(state="TX", time_zone=None),
        utc(2025, 6, 4, 15),
        Rule.UNKNOWN_TIME_ZONE,
    ),
    (
        "multi-zone state, blank zone",
        lead(state="FL", time_zone="  "),
        utc(2025, 6, 4, 15),
        Rule.UNKNOWN_TIME_ZONE,
    ),
    (
        "zone that is not IANA",
        lead(time_zone="Eastern"),
        utc(2025, 6, 4, 15),
        Rule.UNKNOWN_TIME_ZONE,
    ),
    ("state that is not a state", lead(state="ZZ"), utc(2025, 6, 4, 15), Rule.UNKNOWN_STATE),
    ("opted out of calls", lead(opted_out_call=True), utc(2025, 6, 4, 15), Rule.OPTED_OUT),
    (
        "opt-out of texts leaves calls",
        lead(opted_out_text=True),
        utc(2025, 6, 4, 15),
        Rule.ELIGIBLE,
    ),
    ("no call consent", lead(consent_call=False), utc(2025, 6, 4, 15), Rule.NO_CONSENT),
    ("consent unknown means none", lead(consent_call=None), utc(2025, 6, 4, 15), Rule.NO_CONSENT),
    (
        "opt-out unknown means blocked",
        lead(opted_out_call=None),
        utc(2025, 6, 4, 15),
        Rule.OPTED_OUT,
    ),
    ("internal DNC", lead(dnc=True), utc(2025, 6, 4, 15), Rule.DNC),
    ("already applied", lead(applied=True), utc(2025, 6, 4, 15), Rule.APPLIED),
    (
        "opt-out outranks hours",
        lead(opted_out_call=True),
        utc(2025, 6, 5, 3),
        Rule.OPTED_OUT,
    ),
]


@pytest.mark.parametrize(
    ("the_lead", "at", "expected"),
    [case[1:] for case in HOURS_CASES],
    ids=[case[0] for case in HOURS_CASES],
)
def test_call_eligibility_table(the_lead: dict[str, Any], at: datetime, expected: Rule) -> None:
    decision = eligibility(the_lead, at_utc=at, channel=Channel.CALL)
    assert decision.rule == expected, decision.reason
    assert decision.eligible is (expected == Rule.ELIGIBLE)
    assert decision.reason


def test_dnc_blocks_calls_and_texts_but_not_email() -> None:
    at = utc(2025, 6, 4, 15)
    assert eligibility(lead(dnc=True), at_utc=at, channel="call").rule == Rule.DNC
    assert eligibility(lead(dnc=True), at_utc=at, channel="text").rule == Rule.DNC
    assert eligibility(lead(dnc=True), at_utc=at, channel="email").eligible


def test_texts_keep_calling_hours_and_email_does_not() -> None:
    night = utc(2025, 6, 5, 3)  # 23:00 in New York
    assert eligibility(lead(), at_utc=night, channel="text").rule == Rule.OUTSIDE_HOURS
    assert eligibility(lead(), at_utc=night, channel="email").eligible


def test_unknown_time_zone_reason_names_the_state() -> None:
    decision = eligibility(lead(state="TX", time_zone=None), at_utc=utc(2025, 6, 4, 15))
    assert decision.reason == (
        "unknown time zone: TX spans several zones and the lead has none on file"
    )
    assert decision.next_allowed_utc is None
    assert local_zone("TX", None) is None
    assert local_zone("TX", "America/Denver") == "America/Denver"
    assert local_zone("NY", None) == "America/New_York"


def test_outside_hours_reason_and_next_opening() -> None:
    chicago = lead(state="IL", time_zone="America/Chicago")
    early = eligibility(chicago, at_utc=utc(2025, 6, 4, 11))  # 06:00 CDT
    assert early.reason == "outside calling hours until 08:00 CT"
    assert early.next_allowed_utc == utc(2025, 6, 4, 13)
    late = eligibility(chicago, at_utc=utc(2025, 6, 5, 3))  # 22:00 CDT
    assert late.reason == "outside calling hours until 08:00 CT tomorrow"
    assert late.next_allowed_utc == utc(2025, 6, 5, 13)


THREE_CALLS = [utc(2025, 6, 3, 18, 5), utc(2025, 6, 4, 13), utc(2025, 6, 4, 14)]
AT_11_ET = utc(2025, 6, 4, 15)  # Wednesday 11:00 EDT, 10:00 CDT


@pytest.mark.parametrize(
    ("state", "zone", "blocked"),
    [
        ("FL", "America/New_York", True),
        ("OK", "America/Chicago", True),
        ("MD", "America/New_York", True),
        ("TX", "America/Chicago", False),
        ("NY", "America/New_York", False),
    ],
)
def test_third_call_in_24_hours_blocks_the_fourth_in_capped_states(
    state: str, zone: str, blocked: bool
) -> None:
    the_lead = lead(state=state, time_zone=zone)
    two = eligibility(the_lead, at_utc=AT_11_ET, recent_contacts_utc=THREE_CALLS[1:])
    three = eligibility(the_lead, at_utc=AT_11_ET, recent_contacts_utc=THREE_CALLS)
    assert two.eligible
    assert three.eligible is not blocked
    if blocked:
        assert three.rule == Rule.STATE_CAP_REACHED
        # The oldest of the three leaves the 24-hour window at 18:05 UTC.
        assert three.next_allowed_utc == utc(2025, 6, 4, 18, 5)


def test_cap_reason_is_readable() -> None:
    decision = eligibility(lead(state="FL"), at_utc=AT_11_ET, recent_contacts_utc=THREE_CALLS)
    assert decision.reason == "FL cap reached: 3 calls in the last 24 h (next allowed 14:05 ET)"


def test_calls_older_than_24_hours_do_not_count() -> None:
    old = [t - timedelta(hours=24) for t in THREE_CALLS]
    assert eligibility(lead(state="FL"), at_utc=AT_11_ET, recent_contacts_utc=old).eligible


def test_maryland_counts_texts_and_florida_does_not() -> None:
    calls, texts = THREE_CALLS[:2], THREE_CALLS[2:]
    maryland = eligibility(
        lead(state="MD"), at_utc=AT_11_ET, recent_contacts_utc=calls, recent_texts_utc=texts
    )
    florida = eligibility(
        lead(state="FL"), at_utc=AT_11_ET, recent_contacts_utc=calls, recent_texts_utc=texts
    )
    assert maryland.rule == Rule.STATE_CAP_REACHED
    assert "3 calls or texts" in maryland.reason
    assert florida.eligible


def test_maryland_cap_blocks_texts_and_florida_cap_only_calls() -> None:
    md_text = eligibility(
        lead(state="MD"), at_utc=AT_11_ET, recent_contacts_utc=THREE_CALLS, channel="text"
    )
    fl_text = eligibility(
        lead(state="FL"), at_utc=AT_11_ET, recent_contacts_utc=THREE_CALLS, channel="text"
    )
    assert md_text.rule == Rule.STATE_CAP_REACHED
    assert fl_text.eligible


def test_cap_that_clears_after_hours_waits_for_the_next_opening() -> None:
    # Three calls from 17:00 to 19:00 ET; at 19:30 ET the cap clears at 17:00 ET tomorrow.
    calls = [utc(2025, 6, 4, 21), utc(2025, 6, 4, 22), utc(2025, 6, 4, 23)]
    decision = eligibility(
        lead(state="FL"), at_utc=utc(2025, 6, 4, 23, 30), recent_contacts_utc=calls
    )
    assert decision.rule == Rule.STATE_CAP_REACHED
    assert decision.next_allowed_utc == utc(2025, 6, 5, 21)
    # Calls at 08:00-10:00 ET; at 22:00 ET the cap clears by the time the window opens, so the
    # closed window is the rule that binds.
    early = [utc(2025, 6, 4, 12), utc(2025, 6, 4, 13), utc(2025, 6, 4, 14)]
    at_night = eligibility(lead(state="FL"), at_utc=utc(2025, 6, 5, 2), recent_contacts_utc=early)
    assert at_night.rule == Rule.OUTSIDE_HOURS
    assert at_night.next_allowed_utc == utc(2025, 6, 5, 12)


def test_window_across_midnight_utc() -> None:
    # 20:30 PDT on 4 June is 03:30 UTC on 5 June: still the 4 June window.
    window = calling_window("America/Los_Angeles", "CA", utc(2025, 6, 5, 3, 30))
    assert window.is_open
    assert window.opens_at_utc == utc(2025, 6, 4, 15)
    assert window.closes_at_utc == utc(2025, 6, 5, 4)
    assert window.closes_at_local.hour == 21
    closed = calling_window("America/Los_Angeles", "CA", utc(2025, 6, 5, 4))
    assert not closed.is_open
    assert closed.opens_at_utc == utc(2025, 6, 5, 15)
    honolulu = calling_window("Pacific/Honolulu", "HI", utc(2025, 6, 5, 6, 59))
    assert honolulu.is_open
    assert honolulu.closes_at_utc == utc(2025, 6, 5, 7)


def test_window_on_daylight_saving_days() -> None:
    # 9 March 2025: New York springs forward at 02:00 EST; 08:00 that day is EDT (12:00 UTC).
    spring = calling_window("America/New_York", "NY", utc(2025, 3, 9, 6, 30))
    assert spring.opens_at_utc == utc(2025, 3, 9, 12)
    assert spring.closes_at_utc == utc(2025, 3, 10, 1)
    # 2 November 2025: falls back at 02:00 EDT; 08:00 that day is EST (13:00 UTC).
    autumn = calling_window("America/New_York", "NY", utc(2025, 11, 2, 5, 30))
    assert autumn.opens_at_utc == utc(2025, 11, 2, 13)
    assert autumn.closes_at_utc == utc(2025, 11, 3, 2)


def test_zone_abbreviations_are_the_generic_us_names() -> None:
    assert zone_abbreviation("America/Chicago", utc(2025, 1, 15)) == "CT"
    assert zone_abbreviation("America/Chicago", utc(2025, 7, 15)) == "CT"
    assert zone_abbreviation("America/Phoenix", utc(2025, 7, 15)) == "MT"
    assert zone_abbreviation("Pacific/Honolulu", utc(2025, 7, 15)) == "HT"
    assert zone_abbreviation("America/Anchorage", utc(2025, 7, 15)) == "AKT"
    assert zone_abbreviation("Europe/London", utc(2025, 7, 15)) == "BST"


@pytest.mark.parametrize(
    ("at", "expected_local"),
    [
        (utc(2025, 6, 4, 12, 30), datetime(2025, 6, 4, 8, 30)),  # Wed 08:30: now
        (utc(2025, 6, 4, 14), datetime(2025, 6, 4, 16, 0)),  # Wed 10:00: this afternoon
        (utc(2025, 6, 3, 23), datetime(2025, 6, 4, 8, 0)),  # Tue 19:00: Wed morning
        (utc(2025, 6, 2, 23), datetime(2025, 6, 4, 8, 0)),  # Mon 19:00: Wed beats Tue
        (utc(2025, 6, 5, 23), datetime(2025, 6, 6, 8, 0)),  # Thu 19:00: Fri morning
        (utc(2025, 6, 7, 23), datetime(2025, 6, 8, 8, 0)),  # Sat 19:00: Sun, not Wed
        (utc(2025, 6, 8, 23), datetime(2025, 6, 9, 16, 0)),  # Sun 19:00: Mon afternoon
        (utc(2025, 6, 2, 11), datetime(2025, 6, 2, 16, 0)),  # Mon 07:00: skip Monday morning
        (utc(2025, 6, 6, 14), datetime(2025, 6, 7, 8, 0)),  # Fri 10:00: skip Friday afternoon
    ],
)
def test_best_time_to_call(at: datetime, expected_local: datetime) -> None:
    best = best_time_to_call("America/New_York", "NY", at)
    assert best.replace(tzinfo=None) == expected_local
    assert best.utcoffset() == timedelta(hours=-4)


def test_bad_inputs_raise_errors_that_name_the_field() -> None:
    incomplete = lead()
    del incomplete["dnc"]
    with pytest.raises(ComplianceInputError, match="dnc"):
        eligibility(incomplete, at_utc=utc(2025, 6, 4, 15))
    with pytest.raises(ComplianceInputError, match="at_utc"):
        eligibility(lead(), at_utc=datetime(2025, 6, 4, 15))
    with pytest.raises(ComplianceInputError, match="consent_call"):
        eligibility(lead(consent_call="yes"), at_utc=utc(2025, 6, 4, 15))


def test_frame_and_single_lead_agree() -> None:
    leads = pd.DataFrame(
        [
            lead(lead_id="A"),
            lead(lead_id="B", state="TX", time_zone=None),
            lead(lead_id="C", state="FL", opted_out_call=True),
            lead(lead_id="D", state="FL"),
        ]
    )
    contacts = pd.DataFrame(
        {"lead_id": ["D"] * 3, "occurred_at": pd.to_datetime(THREE_CALLS), "channel": "call"}
    )
    frame = assess_eligibility(leads, at_utc=AT_11_ET, channel="call", contacts=contacts)
    assert frame["rule"].tolist() == [
        "eligible",
        "unknown_time_zone",
        "opted_out",
        "state_cap_reached",
    ]
    single = eligibility(row(leads, 3), at_utc=AT_11_ET, recent_contacts_utc=THREE_CALLS)
    assert single.reason == frame["reason"].iloc[3]


# --- daylight saving: every US zone, every transition from 2025 to 2030 -----------------------


@cache
def transitions(zone_name: str) -> tuple[datetime, ...]:
    """UTC instants where the zone's offset changes, 2025-2030, found by scanning each day and
    bisecting to the second."""
    zone = ZoneInfo(zone_name)

    def offset(epoch_seconds: int) -> timedelta | None:
        return datetime.fromtimestamp(epoch_seconds, zone).utcoffset()

    found: list[datetime] = []
    day, end, step = int(utc(2025, 1, 1).timestamp()), int(utc(2031, 1, 1).timestamp()), 86_400
    while day < end:
        if offset(day) != offset(day + step):
            low, high = day, day + step
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle) == offset(low) else (low, middle)
            found.append(datetime.fromtimestamp(high, UTC))
        day += step
    return tuple(found)


def test_transition_scan_finds_the_us_rule_dates() -> None:
    new_york = transitions("America/New_York")
    assert len(new_york) == 12
    assert new_york[:2] == (utc(2025, 3, 9, 7), utc(2025, 11, 2, 6))
    # Second Sunday of March and first Sunday of November, 02:00 local, every year.
    assert all(t.astimezone(ZoneInfo("America/New_York")).weekday() == 6 for t in new_york)
    assert transitions("America/Phoenix") == ()
    assert transitions("Pacific/Honolulu") == ()


ZONES = sorted(US_TIME_ZONES)
STATES = sorted(STATE_TIME_ZONES)
# Zones without daylight saving are probed at the instants when the others change.
US_RULE_INSTANTS = transitions("America/New_York")


@st.composite
def instants_near_transitions(draw: st.DrawFn, spread: timedelta) -> tuple[str, datetime]:
    zone = draw(st.sampled_from(ZONES))
    anchor = draw(st.sampled_from(transitions(zone) or US_RULE_INSTANTS))
    seconds = int(spread.total_seconds())
    return zone, anchor + timedelta(seconds=draw(st.integers(-seconds, seconds)))


def legal_hours(state: UsState) -> tuple[time, time]:
    rule = calling_rule(state)
    return rule.window_start_local, rule.window_end_local


@settings(max_examples=300, deadline=None)
@given(
    place=instants_near_transitions(timedelta(hours=2)),
    state=st.sampled_from(STATES),
    channel=st.sampled_from([Channel.CALL, Channel.TEXT]),
)
def test_no_eligible_decision_outside_legal_hours_near_transitions(
    place: tuple[str, datetime], state: UsState, channel: Channel
) -> None:
    zone, at = place
    decision = eligibility(lead(state=state, time_zone=zone), at_utc=at, channel=channel)
    start, end = legal_hours(state)
    local = at.astimezone(ZoneInfo(zone)).time()
    assert decision.eligible == (start <= local < end), (zone, at, decision.reason)


@settings(max_examples=300, deadline=None)
@given(place=instants_near_transitions(timedelta(hours=36)), state=st.sampled_from(STATES))
def test_eligible_exactly_inside_legal_hours_on_transition_days(
    place: tuple[str, datetime], state: UsState
) -> None:
    zone, at = place
    decision = eligibility(lead(state=state, time_zone=zone), at_utc=at)
    start, end = legal_hours(state)
    local = at.astimezone(ZoneInfo(zone)).time()
    assert decision.eligible == (start <= local < end), (zone, at, decision.reason)
    if not decision.eligible:
        assert decision.next_allowed_utc is not None
        opens = decision.next_allowed_utc.astimezone(ZoneInfo(zone))
        assert opens.time() == start
        assert decision.next_allowed_utc > at


@settings(max_examples=300, deadline=None)
@given(
    place=st.one_of(
        instants_near_transitions(timedelta(hours=2)),
        instants_near_transitions(timedelta(hours=36)),
    ),
    state=st.sampled_from(STATES),
)
def test_window_opens_at_8_and_closes_at_the_state_hour_across_transitions(
    place: tuple[str, datetime], state: UsState
) -> None:
    zone, at = place
    window = calling_window(zone, state, at)
    start, end = legal_hours(state)
    assert window.opens_at_local.time() == start
    assert window.closes_at_local.time() == end
    assert window.opens_at_local.date() == window.closes_at_local.date()
    assert window.opens_at_local == window.opens_at_utc.astimezone(ZoneInfo(zone))
    # 08:00 to 20:00/21:00 never spans a 02:00 change: the window is exactly 12 or 13 hours.
    hours = (window.closes_at_utc - window.opens_at_utc) / timedelta(hours=1)
    assert hours == end.hour - start.hour
    assert at < window.closes_at_utc
    assert window.is_open == (window.opens_at_utc <= at)


@settings(max_examples=200, deadline=None)
@given(
    place=instants_near_transitions(timedelta(hours=72)),
    state=st.sampled_from([UsState.FL, UsState.NY, UsState.MD, UsState.TX]),
)
def test_best_time_is_a_best_slot_inside_the_legal_window(
    place: tuple[str, datetime], state: UsState
) -> None:
    zone, at = place
    best = best_time_to_call(zone, state, at)
    assert best >= at
    assert best - at < timedelta(days=8)
    assert any(start <= best.time() < end for start, end in BEST_SLOTS_LOCAL)
    assert calling_window(zone, state, best).is_open
