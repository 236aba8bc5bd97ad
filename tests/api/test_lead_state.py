"""Compliance state from the event log: the rules the queue trusts, on hand-made histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from features.event_log import EventLog
from serving.lead_state import lead_states, open_mask

T0 = datetime(2025, 3, 3, 15, tzinfo=UTC)


def _leads(ids: list[str], *, consent_text: bool = False) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": ids,
            "officer_id": "lo-01",
            "created_at": pd.Timestamp(T0),
            "first_name": "A",
            "last_name": "B",
            "phone": "+13125550100",
            "email": "a@example.com",
            "state": "IL",
            "time_zone": "America/Chicago",
            "source": "referral",
            "loan_type": "purchase",
            "loan_amount_usd": 300000.0,
            "credit_band": "good",
            "quoted_rate_pct": 6.5,
            "timeline_statement": "",
            "consent_call": True,
            "consent_text": consent_text,
            "consent_email": True,
        }
    )


def _events(rows: list[tuple[str, str, float, str | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "event_id": f"E{i}",
                "lead_id": lead,
                "occurred_at": pd.Timestamp(T0 + timedelta(hours=hours)),
                "event_type": kind,
                "channel": channel,
                "call_outcome": outcome,
                "question_topic": None,
                "page": None,
                "text": None,
            }
            for i, (lead, kind, hours, channel, outcome) in enumerate(rows)
        ]
    )


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    log = EventLog(f"sqlite:///{tmp_path / 'log.db'}")
    log.upsert_leads(_leads(["A", "B", "C", "D", "E", "F"]))
    log.append_events(
        _events(
            [
                ("A", "consent_revoked", 1, "call", None),
                ("A", "consent_granted", 2, "call", None),  # granted again later: consent
                ("B", "consent_granted", 1, "text", None),
                ("B", "consent_revoked", 2, "text", None),  # revoked last: no consent
                ("C", "opt_out", 1, "call", None),
                ("C", "consent_granted", 2, "call", None),  # an opt-out is final
                ("D", "dnc_request", 1, None, None),
                ("E", "call", 1, None, "connected"),
                ("E", "text_sent", 2, "text", None),
                ("E", "web_visit", 3, None, None),
                ("E", "application_submitted", 50, None, None),  # after the as-of below
                ("F", "opt_out", 1, "call", None),
                ("F", "opt_out", 1.5, "text", None),
                ("F", "opt_out", 2, "email", None),
            ]
        )
    )
    return log


def test_consent_follows_the_latest_grant_or_revocation_and_opt_outs_are_final(
    log: EventLog,
) -> None:
    states = lead_states(log, at=T0 + timedelta(days=1), officer_id="lo-01").set_index("lead_id")
    assert bool(states.loc["A", "consent_call"])
    assert not bool(states.loc["B", "consent_text"])
    assert bool(states.loc["C", "opted_out_call"])
    assert bool(states.loc["D", "dnc"])
    assert bool(states.loc["D", "opted_out_call"])
    assert bool(states.loc["D", "opted_out_text"])
    assert not bool(states.loc["D", "opted_out_email"])


def test_touches_inbound_and_applications_count_only_up_to_the_as_of_time(log: EventLog) -> None:
    early = lead_states(log, at=T0 + timedelta(days=1), lead_ids=["E"]).iloc[0]
    assert early["first_touch_at"] == pd.Timestamp(T0 + timedelta(hours=1))
    assert early["last_inbound_at"] == pd.Timestamp(T0 + timedelta(hours=3))
    assert early["calls_connected"] == 1
    assert not early["applied"]
    late = lead_states(log, at=T0 + timedelta(days=3), lead_ids=["E"]).iloc[0]
    assert late["applied"]


def test_open_leads_exclude_applied_and_opted_out_everywhere(log: EventLog) -> None:
    states = lead_states(log, at=T0 + timedelta(days=3), officer_id="lo-01")
    open_ids = set(states.loc[open_mask(states), "lead_id"])
    assert open_ids == {"A", "B", "C", "D"}
