"""Shared fixtures: tiny, seeded, hand-made data."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


@pytest.fixture
def tiny_leads() -> pd.DataFrame:
    """Three valid leads, typed as data_contracts.schemas.LEAD_COLUMNS."""
    return pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3"],
            "officer_id": ["lo-01", "lo-01", "lo-02"],
            "created_at": [
                _ts("2025-03-01 14:00"),
                _ts("2025-03-02 15:30"),
                _ts("2025-03-03 16:00"),
            ],
            "first_name": ["Ana", "Ben", "Cleo"],
            "last_name": ["Diaz", "Evans", "Fox"],
            "phone": ["+13125550101", "+14155550102", "+13055550103"],
            "email": ["ana@example.com", "ben@example.com", "cleo@example.com"],
            "state": ["IL", "CA", "FL"],
            "time_zone": ["America/Chicago", "America/Los_Angeles", None],
            "source": ["referral", "online_lead", "realtor_partner"],
            "loan_type": ["purchase", "refinance", "jumbo"],
            "loan_amount_usd": [350_000.0, 280_000.0, 900_000.0],
            "credit_band": ["good", "excellent", "unknown"],
            "quoted_rate_pct": [6.75, 6.9, 7.1],
            "timeline_statement": ["our lease ends in August", "ASAP", "just looking"],
            "consent_call": [True, True, False],
            "consent_text": [True, False, True],
            "consent_email": [True, True, True],
        }
    )


@pytest.fixture
def tiny_events() -> pd.DataFrame:
    """Five valid events for tiny_leads, typed as EVENT_COLUMNS."""
    return pd.DataFrame(
        {
            "event_id": ["E1", "E2", "E3", "E4", "E5"],
            "lead_id": ["L1", "L1", "L2", "L2", "L3"],
            "occurred_at": [
                _ts("2025-03-01 14:00"),
                _ts("2025-03-01 15:00"),
                _ts("2025-03-02 15:30"),
                _ts("2025-03-02 16:00"),
                _ts("2025-03-03 16:00"),
            ],
            "event_type": ["lead_created", "call", "lead_created", "web_visit", "lead_created"],
            "channel": [None, "call", None, None, None],
            "call_outcome": [None, "connected", None, None, None],
            "question_topic": [None, None, None, None, None],
            "page": [None, None, None, "/rates", None],
            "text": [None, None, None, None, None],
        }
    )


@pytest.fixture
def fixed_now() -> datetime:
    return datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
