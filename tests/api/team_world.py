"""A tiny hand-built team for the analytics tests: five leads, 25 events, one week.

The week is Monday 3 to Sunday 9 February 2025 in the workday zone (America/Chicago, UTC-6 all
week, no daylight-saving change); `EXPECTED` holds every figure the tests check, worked out by
hand from the events below (the comments say how). Tests import it by name
(`from team_world import ...`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from features.event_log import EventLog
from serving.auth import UserStore
from serving.db import create_serving_tables

SINCE, UNTIL = "2025-02-03", "2025-02-09"
"""The window as the API, the page and the CLI take it: both days included."""

LEADS: tuple[tuple[str, str, str, str, str | None, float], ...] = (
    # lead, officer, source, created (UTC), time zone, loan amount
    ("TA", "lo-a", "referral", "2025-02-03T14:00:00Z", "America/Chicago", 300_000.0),
    ("TB", "lo-a", "online_lead", "2025-02-03T15:00:00Z", "America/New_York", 200_000.0),
    ("TC", "lo-b", "online_lead", "2025-02-04T16:00:00Z", None, 400_000.0),
    ("TD", "lo-b", "past_client", "2025-01-20T16:00:00Z", "America/Chicago", 500_000.0),
    ("TE", "lo-a", "referral", "2025-02-06T20:00:00Z", "America/Chicago", 250_000.0),
)
"""TD was created before the window: its application and funding count, it is no new lead."""

EVENTS: tuple[tuple[str, str, str, str | None], ...] = (
    # lead, occurred (UTC), event type, call outcome
    ("TA", "2025-02-03T14:00:00Z", "lead_created", None),
    ("TA", "2025-02-03T14:03:00Z", "call", "connected"),  # 3 min; 08:03 local, Mon
    ("TA", "2025-02-04T15:00:00Z", "text_sent", None),  # 09:00 Tue
    ("TA", "2025-02-04T15:20:00Z", "text_replied", None),  # reply in 20 min: a contact
    ("TA", "2025-02-05T15:00:00Z", "call", "no_answer"),  # 09:00 Wed
    ("TA", "2025-02-05T16:00:00Z", "email_sent", None),  # 10:00 Wed; its open goes to the next
    ("TA", "2025-02-06T15:00:00Z", "call", "voicemail"),  # 09:00 Thu
    ("TA", "2025-02-07T15:00:00Z", "application_submitted", None),  # 5 touches before it
    ("TA", "2025-02-08T14:00:00Z", "email_sent", None),  # 08:00 Sat, after the application
    ("TA", "2025-02-08T17:00:00Z", "email_opened", None),  # credited to the latest email
    ("TB", "2025-02-03T15:00:00Z", "lead_created", None),
    ("TB", "2025-02-03T15:45:00Z", "call", "no_answer"),  # 45 min; 10:45 New York, Mon
    ("TB", "2025-02-04T14:00:00Z", "call", "connected"),  # 09:00 New York, Tue
    ("TC", "2025-02-04T16:00:00Z", "lead_created", None),
    ("TC", "2025-02-04T17:00:00Z", "text_sent", None),  # 60 min; no time zone
    ("TC", "2025-02-07T18:00:00Z", "text_replied", None),  # 73 h later: not a contact
    ("TD", "2025-01-20T16:00:00Z", "lead_created", None),
    ("TD", "2025-01-20T16:10:00Z", "call", "connected"),  # first touch ever, before the window
    ("TD", "2025-02-05T17:00:00Z", "call", "appointment_set"),  # 11:00 Wed
    ("TD", "2025-02-06T16:00:00Z", "application_submitted", None),  # 16.99 days after 20 Jan
    ("TD", "2025-02-09T16:00:00Z", "loan_funded", None),  # 500,000 x 100 bps = $5,000
    ("TE", "2025-02-06T20:00:00Z", "lead_created", None),  # never touched
    ("TA", "2025-02-10T15:00:00Z", "call", "connected"),  # after the window: never counted
    ("TX", "2025-02-04T15:00:00Z", "web_visit", None),  # another officer's lead: filtered
    ("TX", "2025-02-04T15:00:00Z", "call", "connected"),
)

OTHER_LEAD = ("TX", "lo-z", "referral", "2024-12-01T16:00:00Z", "America/Chicago", 100_000.0)
"""lo-z's lead, created before the window, with a call inside it: only in all-officer views."""

CAPACITY_LO_B = 10
"""lo-b's own capacity; lo-a and lo-z keep the default 40."""

A_TO_APPLICATION = (4 * 1440 + 57) / 1440  # 3 Feb 14:03 -> 7 Feb 15:00
D_TO_APPLICATION = (16 * 1440 + 23 * 60 + 50) / 1440  # 20 Jan 16:10 -> 6 Feb 16:00

EXPECTED: dict[str, Any] = {
    "new_leads": 4,  # TA, TB, TC, TE
    "within_5_min": (1, 4),  # TA only; TE (never touched) counts in the denominator
    "contacted": 3,
    "median_minutes": 45.0,  # 3, 45, 60
    "speed_buckets": {"≤ 5 min": 1, "30–60 min": 2, "not contacted": 1},
    "all_touches": 11,  # the new leads' 9, TD's and TX's call in the window
    "touches": 9,  # TA 6, TB 2, TC 1, TE 0
    "mean_touches": 2.25,
    "median_touches": 1.5,
    "five_plus": (1, 4),
    "touch_distribution": {"0": 1, "1": 1, "2": 1, "6": 1},
    # calls: TA 1 of 3, TB 1 of 2, TD 1 of 1, TX 1 of 1 (lo-z, only without the officer filter)
    "contact_by_channel": {"call": (4, 7), "text": (1, 2), "email": (1, 2)},
    "call_by_hour": {8: (1, 1), 9: (2, 4), 10: (0, 1), 11: (1, 1)},
    "text_by_hour": {9: (1, 1)},
    "email_by_hour": {8: (1, 1), 10: (0, 1)},
    "call_by_weekday": {"Mon": (1, 2), "Tue": (2, 2), "Wed": (1, 2), "Thu": (0, 1)},
    "unknown_time_zone": 1,  # TC's text
    "conversion": {"0": (0, 1), "1": (0, 1), "2": (0, 1), "3–4": (0, 0), "5–7": (1, 1)},
    "applications": 2,  # TA, TD
    "funded": 1,
    "revenue_usd": 5000.0,
    "median_days_to_application": (A_TO_APPLICATION + D_TO_APPLICATION) / 2,
    "application_buckets": {"1–7 days": 1, "1–4 weeks": 1},
    # calls and texts per Chicago day, Mon 3 to Sun 9 Feb (emails use no capacity)
    "daily_contacts": [2, 4, 2, 1, 0, 0, 0],
    "team_capacity": 40 + CAPACITY_LO_B + 40,  # lo-a, lo-b, lo-z
    "weekday_used": 9 / (90 * 5),
    "by_source": {  # new leads, converted, applications, funded, revenue
        "referral": (2, (1, 2), 1, 0, 0.0),
        "online_lead": (2, (0, 2), 0, 0, 0.0),
        "past_client": (0, (0, 0), 1, 1, 5000.0),
        "realtor_partner": (0, (0, 0), 0, 0, 0.0),
    },
    "by_officer": {  # new leads, within 5 min, touches a lead, 5+, calls answered, apps,
        # funded, revenue, capacity used on weekdays
        "lo-a": (3, (1, 3), 8 / 3, (1, 3), (2, 5), 1, 0, 0.0, 6 / (40 * 5)),
        "lo-b": (1, (0, 1), 1.0, (0, 1), (1, 1), 1, 1, 5000.0, 2 / (CAPACITY_LO_B * 5)),
        "lo-z": (0, (0, 0), None, (0, 0), (1, 1), 0, 0, 0.0, 1 / (40 * 5)),
    },
}
"""Every figure for all officers over the window."""

EXPECTED_LO_B: dict[str, Any] = {
    "officers": ["lo-b"],
    "new_leads": 1,  # TC
    "all_touches": 2,  # TC's text, TD's call
    "applications": 1,
    "funded": 1,
    "revenue_usd": 5000.0,
    "contact_by_channel": {"call": (1, 1), "text": (0, 1), "email": (0, 0)},
    "daily_contacts": [0, 1, 1, 0, 0, 0, 0],
    "team_capacity": CAPACITY_LO_B,
}
"""The same window for officer lo-b only."""


def _frame(rows: list[dict[str, Any]], times: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in times:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def write_team_world(log: EventLog) -> None:
    """Store the leads and events above (straight into the log: the figures are the point, the
    contracts have their own tests) and lo-b's capacity."""
    leads = []
    for lead_id, officer, source, created, zone, amount in (*LEADS, OTHER_LEAD):
        leads.append(
            {
                "lead_id": lead_id,
                "officer_id": officer,
                "created_at": created,
                "first_name": "Team",
                "last_name": f"Lead{lead_id}",
                "phone": "+13125550177",
                "email": f"{lead_id.lower()}@example.com",
                "state": "IL",
                "time_zone": zone,
                "source": source,
                "loan_type": "purchase",
                "loan_amount_usd": amount,
                "credit_band": "good",
                "quoted_rate_pct": 6.5,
                "timeline_statement": "",
                "consent_call": True,
                "consent_text": True,
                "consent_email": True,
            }
        )
    events = [
        {
            "event_id": f"TEAM-{k:03d}",
            "lead_id": lead_id,
            "occurred_at": occurred,
            "event_type": kind,
            "channel": None,
            "call_outcome": outcome,
            "question_topic": None,
            "page": "/rates" if kind == "web_visit" else None,
            "text": None,
        }
        for k, (lead_id, occurred, kind, outcome) in enumerate(EVENTS)
    ]
    now = pd.Timestamp("2025-03-01T00:00:00Z").to_pydatetime()
    log.upsert_leads(_frame(leads, ("created_at",)), now=now)
    log.append_events(_frame(events, ("occurred_at",)), now=now)
    create_serving_tables(log.engine)
    UserStore(log.engine).set_capacity("lo-b", CAPACITY_LO_B)
