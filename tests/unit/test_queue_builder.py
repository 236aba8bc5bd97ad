"""The daily queue: lanes, ranking, the capacity cut, and no ineligible lead ever queued."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_contracts.enums import Channel
from serving.compliance import Rule, assess_eligibility, eligibility
from serving.queue import Lane, QueueInputError, QueueResult, build_queue

# Wednesday 4 June 2025, 15:00 UTC: 11:00 in New York, 10:00 in Chicago, 08:00 in Los Angeles.
AT = datetime(2025, 6, 4, 15, 0, tzinfo=UTC)
ZONES = {"NY": "America/New_York", "FL": "America/New_York", "MD": "America/New_York"}
ZONES |= {"OK": "America/Chicago", "TX": "America/Chicago", "IL": "America/Chicago"}


def candidate(lead_id: str, **overrides: Any) -> dict[str, Any]:
    """An open, contacted, callable lead of officer lo-01 with no trigger, unless overridden."""
    state = overrides.get("state", "NY")
    base: dict[str, Any] = {
        "lead_id": lead_id,
        "officer_id": "lo-01",
        "state": state,
        "time_zone": ZONES.get(state),
        "consent_call": True,
        "consent_text": False,
        "consent_email": True,
        "opted_out_call": False,
        "opted_out_text": False,
        "opted_out_email": False,
        "dnc": False,
        "applied": False,
        "created_at": AT - timedelta(days=20),
        "first_touch_at": AT - timedelta(days=20) + timedelta(minutes=5),
        "last_inbound_at": AT - timedelta(days=3),
        "quoted_rate_pct": 6.75,
        "market_rate_pct": 6.70,
        "timeline_ready_at": pd.NaT,
        "timeline_stated_months": np.nan,
        "loan_amount_usd": 300_000.0,
        "probability": 0.2,
        "tier": "warm",
        "timeline_segment": "3_6_months",
        "loan_type": "purchase",
        "source": "online_lead",
        "engagement_tier": "warm",
        "texts_replied": 0,
        "calls_connected": 0,
    }
    return base | overrides


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    table = pd.DataFrame(list(rows))
    for column in ("created_at", "first_touch_at", "last_inbound_at", "timeline_ready_at"):
        table[column] = pd.to_datetime(table[column], utc=True)
    return table


def contacts_of(*rows: tuple[str, datetime, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": [r[0] for r in rows],
            "occurred_at": pd.to_datetime([r[1] for r in rows], utc=True),
            "channel": [r[2] for r in rows],
        }
    )


def ids(result: QueueResult) -> list[str]:
    return [item.lead_id for item in result.items]


def test_lanes_in_order_new_oldest_first_then_triggers_then_ranked() -> None:
    months = timedelta(days=365.25 / 12)
    candidates = frame(
        candidate("ranked-high", probability=0.9),
        candidate("ranked-low", probability=0.5),
        candidate("new-recent", first_touch_at=pd.NaT, created_at=AT - timedelta(minutes=3)),
        candidate("new-waiting", first_touch_at=pd.NaT, created_at=AT - timedelta(hours=5)),
        candidate("rate-drop", probability=0.2, market_rate_pct=6.20),
        candidate("inbound", probability=0.3, last_inbound_at=AT - timedelta(minutes=10)),
        candidate(
            "said-6-months",
            probability=0.1,
            timeline_stated_months=6.0,
            created_at=AT - 4.5 * months,
        ),
        candidate("ready-soon", probability=0.15, timeline_ready_at=AT + timedelta(days=20)),
    )
    result = build_queue(candidates, officer_id="lo-01", at_utc=AT)
    assert ids(result) == [
        "new-waiting",
        "new-recent",
        "inbound",
        "rate-drop",
        "ready-soon",
        "said-6-months",
        "ranked-high",
        "ranked-low",
    ]
    lanes = [item.lane for item in result.items]
    assert lanes == [Lane.NEW] * 2 + [Lane.TRIGGER] * 4 + [Lane.RANKED] * 2
    by_id = {item.lead_id: item for item in result.items}
    assert by_id["rate-drop"].trigger_reasons == (
        "market rate 6.20% is 0.55 points below the 6.75% quoted",
    )
    assert by_id["inbound"].trigger_reasons == ("inbound activity 10 min ago",)
    assert by_id["said-6-months"].trigger_reasons[0].startswith("said 6 months, 4.5 months ago")
    assert by_id["new-waiting"].waiting_minutes == 300.0
    assert by_id["ranked-high"].trigger_reasons == ()


@pytest.mark.parametrize(
    "overrides",
    [
        {"market_rate_pct": 6.50},  # exactly 0.25 below: not beyond the threshold
        {"timeline_stated_months": 6.0, "created_at": AT - timedelta(days=91)},  # month 3 of 6
        {"timeline_stated_months": 6.0, "created_at": AT - timedelta(days=215)},  # past due
        {"timeline_ready_at": AT + timedelta(days=45)},
        {"timeline_ready_at": AT - timedelta(days=2)},
        {"last_inbound_at": AT - timedelta(minutes=61)},
    ],
)
def test_signals_short_of_a_trigger_stay_ranked(overrides: dict[str, Any]) -> None:
    result = build_queue(frame(candidate("L1", **overrides)), officer_id="lo-01", at_utc=AT)
    assert result.items[0].lane == Lane.RANKED
    assert result.items[0].trigger_reasons == ()


def test_expected_value_ranking_prefers_the_bigger_loan() -> None:
    candidates = frame(
        candidate("small-loan", probability=0.5, loan_amount_usd=100_000.0),
        candidate("big-loan", probability=0.3, loan_amount_usd=400_000.0),
    )
    by_probability = build_queue(candidates, officer_id="lo-01", at_utc=AT)
    by_value = build_queue(
        candidates, officer_id="lo-01", at_utc=AT, rank_by="expected_value", compensation_bps=250
    )
    assert ids(by_probability) == ["small-loan", "big-loan"]
    assert ids(by_value) == ["big-loan", "small-loan"]
    # 0.3 x 400,000 USD x 250 bps / 10,000
    assert by_value.items[0].expected_value_usd == pytest.approx(3_000.0)


def test_capacity_counts_calls_already_made_and_hidden_items_are_counted() -> None:
    candidates = frame(*(candidate(f"L{i}", probability=i / 10) for i in range(1, 8)))
    result = build_queue(candidates, officer_id="lo-01", at_utc=AT, capacity=5, calls_made_today=2)
    assert ids(result) == ["L7", "L6", "L5"]
    assert (result.capacity_left, result.n_eligible, result.n_beyond_capacity) == (3, 7, 4)
    exhausted = build_queue(
        candidates, officer_id="lo-01", at_utc=AT, capacity=5, calls_made_today=9
    )
    assert exhausted.items == ()
    assert exhausted.capacity_left == 0


def test_held_back_reasons_are_readable() -> None:
    candidates = frame(
        candidate("opted-out", opted_out_call=True),
        candidate("texas-no-zone", state="TX", time_zone=None),
        candidate("hawaii-early", state="HI", time_zone="Pacific/Honolulu"),
        candidate("dnc", dnc=True, consent_text=True),
        candidate("applied", applied=True),
        candidate("md-capped", state="MD", consent_text=True, opted_out_call=True),
        candidate("ok", probability=0.4),
    )
    contacts = contacts_of(
        ("md-capped", AT - timedelta(hours=20), "call"),
        ("md-capped", AT - timedelta(hours=2), "text"),
        ("md-capped", AT - timedelta(hours=1), "text"),
    )
    result = build_queue(candidates, officer_id="lo-01", at_utc=AT, contacts=contacts)
    assert ids(result) == ["ok"]
    held = {h.lead_id: (h.rule, h.reason) for h in result.held_back}
    assert held == {
        "opted-out": (Rule.OPTED_OUT, "opted out of calls"),
        "texas-no-zone": (
            Rule.UNKNOWN_TIME_ZONE,
            "unknown time zone: TX spans several zones and the lead has none on file",
        ),
        "hawaii-early": (Rule.OUTSIDE_HOURS, "outside calling hours until 08:00 HT"),
        "dnc": (Rule.DNC, "on the internal do-not-call list"),
        "applied": (Rule.APPLIED, "already applied: follow-up belongs to the loan pipeline"),
        "md-capped": (
            Rule.OPTED_OUT,
            "call: opted out of calls; text: MD cap reached: 3 calls or texts in the last 24 h "
            "(next allowed 15:00 ET)",
        ),
    }
    next_allowed = {h.lead_id: h.next_allowed_utc for h in result.held_back}
    assert next_allowed["hawaii-early"] == datetime(2025, 6, 4, 18, tzinfo=UTC)
    assert next_allowed["md-capped"] == AT + timedelta(hours=4)
    assert next_allowed["opted-out"] is None


def test_a_lead_opted_out_of_calls_but_texting_is_queued_as_a_text() -> None:
    candidates = frame(
        candidate("texter", opted_out_call=True, consent_text=True),
        candidate("replier", consent_text=True, texts_replied=3, calls_connected=1),
        candidate("caller", consent_text=True, texts_replied=1, calls_connected=2),
    )
    result = build_queue(candidates, officer_id="lo-01", at_utc=AT)
    channels = {item.lead_id: item.channel for item in result.items}
    assert channels == {"texter": Channel.TEXT, "replier": Channel.TEXT, "caller": Channel.CALL}


def test_item_times_are_local_iso_with_offset_and_the_result_is_json() -> None:
    candidates = frame(candidate("chicago", state="IL", time_zone="America/Chicago"))
    result = build_queue(candidates, officer_id="lo-01", at_utc=AT)
    item = result.items[0]
    assert item.local_time_now == "2025-06-04T10:00:00-05:00"
    assert item.best_time_to_call == "2025-06-04T16:00:00-05:00"
    assert item.window_opens_local == "2025-06-04T08:00:00-05:00"
    assert item.window_closes_local == "2025-06-04T21:00:00-05:00"
    assert item.segments == {
        "timeline_segment": "3_6_months",
        "loan_type": "purchase",
        "source": "online_lead",
        "engagement_tier": "warm",
    }
    as_json = json.loads(json.dumps(result.to_dict()))
    assert as_json["items"][0]["lead_id"] == "chicago"
    assert as_json["items"][0]["lane"] == "ranked"
    assert datetime.fromisoformat(as_json["items"][0]["best_time_to_call"]).utcoffset()


def test_bad_input_is_refused_with_the_field_named() -> None:
    with pytest.raises(QueueInputError, match="another officer"):
        build_queue(frame(candidate("L1", officer_id="lo-02")), officer_id="lo-01", at_utc=AT)
    with pytest.raises(QueueInputError, match="dnc"):
        build_queue(frame(candidate("L1")).drop(columns="dnc"), officer_id="lo-01", at_utc=AT)
    with pytest.raises(QueueInputError, match="probability of lead 'L1'"):
        build_queue(frame(candidate("L1", probability=np.nan)), officer_id="lo-01", at_utc=AT)
    with pytest.raises(QueueInputError, match="capacity"):
        build_queue(frame(candidate("L1")), officer_id="lo-01", at_utc=AT, capacity=-1)
    naive = frame(candidate("L1"))
    naive["created_at"] = naive["created_at"].dt.tz_localize(None)
    with pytest.raises(QueueInputError, match="'created_at' has timestamps without a time zone"):
        build_queue(naive, officer_id="lo-01", at_utc=AT)
    with pytest.raises(QueueInputError, match="more than once"):
        build_queue(frame(candidate("L1"), candidate("L1")), officer_id="lo-01", at_utc=AT)


def test_empty_candidates_make_an_empty_queue() -> None:
    empty = frame(candidate("L1")).iloc[0:0]
    result = build_queue(empty, officer_id="lo-01", at_utc=AT)
    assert (result.items, result.held_back, result.n_candidates) == ((), (), 0)


def test_candidates_without_segment_columns_still_make_a_queue() -> None:
    bare = frame(candidate("L1")).drop(
        columns=["timeline_segment", "loan_type", "source", "engagement_tier"]
    )
    result = build_queue(bare, officer_id="lo-01", at_utc=AT)
    assert [item.segments for item in result.items] == [{}]


# --- properties over random officers ----------------------------------------------------------

STATES = ["NY", "FL", "OK", "MD", "TX", "IL", "HI"]


@st.composite
def officers(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, datetime]:
    """Random candidates and recent contacts at a random hour of a random day."""
    n = draw(st.integers(0, 18))
    at = AT + timedelta(hours=draw(st.integers(-12, 12)), minutes=draw(st.integers(0, 59)))
    flags = st.booleans()
    rows = []
    for i in range(n):
        state = draw(st.sampled_from(STATES))
        zone = draw(st.sampled_from([ZONES.get(state, "Pacific/Honolulu"), None]))
        rows.append(
            candidate(
                f"L{i:02d}",
                state=state,
                time_zone=zone,
                consent_call=draw(flags),
                consent_text=draw(flags),
                opted_out_call=draw(st.sampled_from([False, False, True])),
                opted_out_text=draw(st.sampled_from([False, False, True])),
                dnc=draw(st.sampled_from([False, False, False, True])),
                applied=draw(st.sampled_from([False, False, False, True])),
                first_touch_at=draw(st.sampled_from([pd.NaT, AT - timedelta(days=2)])),
                created_at=at - timedelta(minutes=draw(st.integers(1, 90_000))),
                probability=draw(st.floats(0, 1)),
                market_rate_pct=draw(st.floats(5.0, 7.5)),
                texts_replied=draw(st.integers(0, 3)),
            )
        )
    candidates = frame(*rows) if rows else frame(candidate("x")).iloc[0:0]
    touches = []
    for _ in range(draw(st.integers(0, 3 * n))):
        touches.append(
            (
                f"L{draw(st.integers(0, max(n - 1, 0))):02d}",
                at - timedelta(minutes=draw(st.integers(1, 48 * 60))),
                draw(st.sampled_from(["call", "call", "text", "email"])),
            )
        )
    return candidates, contacts_of(*touches), at


@settings(max_examples=60, deadline=None)
@given(
    officer=officers(),
    capacity=st.integers(0, 20),
    calls_made_today=st.integers(0, 25),
    rank_by=st.sampled_from(["probability", "expected_value"]),
)
def test_capacity_is_never_exceeded_and_every_lead_is_accounted_for(
    officer: tuple[pd.DataFrame, pd.DataFrame, datetime],
    capacity: int,
    calls_made_today: int,
    rank_by: Any,
) -> None:
    candidates, contacts, at = officer
    result = build_queue(
        candidates,
        officer_id="lo-01",
        at_utc=at,
        capacity=capacity,
        calls_made_today=calls_made_today,
        rank_by=rank_by,
        contacts=contacts,
    )
    left = max(0, capacity - calls_made_today)
    assert result.capacity_left == left
    assert len(result.items) == min(left, result.n_eligible) <= capacity
    assert [item.rank for item in result.items] == list(range(1, len(result.items) + 1))
    assert result.n_eligible + len(result.held_back) == result.n_candidates == len(candidates)
    assert result.n_beyond_capacity == result.n_eligible - len(result.items)
    lanes = [item.lane for item in result.items]
    assert lanes == sorted(lanes, key=[Lane.NEW, Lane.TRIGGER, Lane.RANKED].index)


@settings(max_examples=60, deadline=None)
@given(officer=officers())
def test_no_ineligible_lead_is_queued_and_every_held_back_lead_has_a_rule(
    officer: tuple[pd.DataFrame, pd.DataFrame, datetime],
) -> None:
    candidates, contacts, at = officer
    result = build_queue(candidates, officer_id="lo-01", at_utc=at, contacts=contacts)
    rows = candidates.set_index("lead_id", drop=False)
    for item in result.items:
        mine = contacts[contacts["lead_id"] == item.lead_id]
        decision = eligibility(
            {str(k): v for k, v in rows.loc[item.lead_id].items()},
            at_utc=at,
            recent_contacts_utc=list(mine.loc[mine["channel"] == "call", "occurred_at"]),
            recent_texts_utc=list(mine.loc[mine["channel"] == "text", "occurred_at"]),
            channel=item.channel,
        )
        assert decision.eligible, (item.lead_id, decision.reason)
    both = {
        ch: assess_eligibility(candidates, at_utc=at, channel=ch, contacts=contacts).set_index(
            "lead_id"
        )["eligible"]
        for ch in (Channel.CALL, Channel.TEXT)
    }
    for held in result.held_back:
        assert held.rule in set(Rule) - {Rule.ELIGIBLE}
        assert held.reason
        assert not both[Channel.CALL][held.lead_id]
        assert not both[Channel.TEXT][held.lead_id]


@st.composite
def busy_officers(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, datetime]:
    """A few callable, textable leads in capped and uncapped states, contacted a lot lately,
    at an hour when every one of them is inside its calling window."""
    at = AT + timedelta(minutes=draw(st.integers(-120, 300)))
    states = draw(st.lists(st.sampled_from(["FL", "OK", "MD", "TX"]), min_size=1, max_size=6))
    rows = [
        candidate(f"L{i}", state=state, consent_text=True, texts_replied=draw(st.integers(0, 1)))
        for i, state in enumerate(states)
    ]
    touches = [
        (
            f"L{draw(st.integers(0, len(states) - 1))}",
            at - timedelta(minutes=draw(st.integers(1, 30 * 60))),
            draw(st.sampled_from(["call", "text"])),
        )
        for _ in range(draw(st.integers(0, 5 * len(states))))
    ]
    return frame(*rows), contacts_of(*touches), at


def cap_allows(state: str, channel: Channel, calls: int, texts: int) -> bool:
    """DOMAIN.md written out again: FL and OK count calls, MD counts calls and texts, max 3."""
    if state in ("FL", "OK"):
        return channel is Channel.TEXT or calls < 3
    if state == "MD":
        return calls + texts < 3
    return True


@settings(max_examples=80, deadline=None)
@given(officer=busy_officers())
def test_state_caps_hold_in_the_built_queue(
    officer: tuple[pd.DataFrame, pd.DataFrame, datetime],
) -> None:
    candidates, contacts, at = officer
    result = build_queue(candidates, officer_id="lo-01", at_utc=at, contacts=contacts)
    recent = contacts[contacts["occurred_at"] > at - timedelta(hours=24)]
    queued = {item.lead_id: item.channel for item in result.items}
    for lead_id, state in zip(candidates["lead_id"], candidates["state"], strict=True):
        mine = recent[recent["lead_id"] == lead_id]
        calls = int((mine["channel"] == "call").sum())
        texts = int((mine["channel"] == "text").sum())
        if lead_id in queued:
            assert cap_allows(state, queued[lead_id], calls, texts), (lead_id, state, calls, texts)
        else:
            # Held back only when the cap leaves no channel open.
            assert not any(cap_allows(state, ch, calls, texts) for ch in Channel if ch != "email")
