"""Small valid lead and event tables (as text, the way files arrive) for the contract tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from data_contracts import ValidationResult

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def lead_rows() -> list[dict[str, str]]:
    """Four leads that pass every rule."""
    base = {
        "officer_id": "LO-1",
        "first_name": "Ana",
        "last_name": "Example",
        "state": "TX",
        "time_zone": "America/Chicago",
        "source": "referral",
        "loan_type": "purchase",
        "loan_amount_usd": "320000",
        "credit_band": "good",
        "quoted_rate_pct": "6.75",
        "timeline_statement": "lease ends in August",
        "consent_call": "true",
        "consent_text": "yes",
        "consent_email": "0",
    }
    return [
        {
            **base,
            "lead_id": f"L{i}",
            "created_at": f"2024-0{i}-02T15:00:00Z",
            "phone": f"+1512555000{i}",
            "email": f"lead{i}@example.com",
        }
        for i in range(1, 5)
    ]


def event_rows() -> list[dict[str, str]]:
    """Five events of leads L1 and L2 that pass every rule, one of each cross-field kind."""
    empty = {"channel": "", "call_outcome": "", "question_topic": "", "page": "", "text": ""}
    kinds = [
        {"event_type": "web_visit", "page": "/rates"},
        {"event_type": "email_sent", "channel": "email"},
        {"event_type": "call", "call_outcome": "voicemail"},
        {"event_type": "question_asked", "question_topic": "rates", "text": "what is my rate"},
        {"event_type": "opt_out", "channel": "text"},
    ]
    return [
        {
            **empty,
            **kind,
            "event_id": f"E{i}",
            "lead_id": "L1" if i < 4 else "L2",
            "occurred_at": f"2024-05-0{i}T14:30:00-05:00",
        }
        for i, kind in enumerate(kinds, start=1)
    ]


@pytest.fixture
def now() -> datetime:
    """The validation time: after every fixture timestamp."""
    return NOW


@pytest.fixture
def leads() -> pd.DataFrame:
    return pd.DataFrame(lead_rows(), dtype=object)


@pytest.fixture
def events() -> pd.DataFrame:
    return pd.DataFrame(event_rows(), dtype=object)


@pytest.fixture
def lead_created_at() -> pd.Series:
    """created_at by lead_id, the way ingestion passes it from the valid leads."""
    return pd.Series(
        pd.to_datetime(["2024-01-02T15:00:00Z", "2024-02-02T15:00:00Z"], utc=True),
        index=["L1", "L2"],
        name="created_at",
    )


def broken(frame: pd.DataFrame, row: int, changes: dict[str, Any]) -> pd.DataFrame:
    """A copy of frame with `changes` written into 1-based row `row`."""
    copy = frame.copy()
    for column, value in changes.items():
        copy.loc[row - 1, column] = value
    return copy


def check_rejected(result: ValidationResult, rule: str, column: str, bad: set[int]) -> None:
    """The rule is named in the report, exactly the bad rows are quarantined with it as a
    reason, and every other row is valid."""
    report = result.report
    assert (rule, column) in {(f.rule, f.column) for f in report.failures}, report.render()
    quarantined = result.quarantined.set_index("row_number")
    assert set(quarantined.index) == bad, report.render()
    for row in bad:
        assert f"{rule}: {column}:" in str(quarantined.at[row, "reasons"])
    assert set(result.valid.index) == set(range(1, report.n_rows + 1)) - bad
    assert report.n_valid + report.n_quarantined == report.n_rows
    assert not report.ok


@pytest.fixture
def break_row() -> Callable[[pd.DataFrame, int, dict[str, Any]], pd.DataFrame]:
    return broken


@pytest.fixture
def assert_rejected() -> Callable[[ValidationResult, str, str, set[int]], None]:
    return check_rejected
