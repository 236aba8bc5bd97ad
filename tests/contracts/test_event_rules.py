"""Every events contract rule, cross-field ones included, rejects a table that breaks it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from data_contracts import ContractError, ValidationResult, validate
from data_contracts.schemas import EVENT_COLUMNS

BreakRow = Callable[[pd.DataFrame, int, dict[str, Any]], pd.DataFrame]
AssertRejected = Callable[[ValidationResult, str, str, set[int]], None]


def case(rule: str, column: str, row: int, changes: dict[str, Any], *bad: int) -> Any:
    """Write `changes` into row `row`; expect `rule` on `column` for rows `bad` (default: row)."""
    return pytest.param(rule, column, row, changes, set(bad or (row,)), id=f"{rule}-{column}")


EVENT_BREAKS = [
    case("type", "occurred_at", 2, {"occurred_at": "2024-05-02T14:30:00"}),  # no zone
    case("required", "event_type", 1, {"event_type": ""}),
    case("required", "lead_id", 1, {"lead_id": None}),
    case("identifier", "event_id", 3, {"event_id": "E/3"}),
    case("max_length", "page", 1, {"page": "/" + "x" * 500}),
    case("unique", "event_id", 4, {"event_id": "E3"}, 3, 4),
    case("allowed_values", "event_type", 1, {"event_type": "teleport"}),
    case("allowed_values", "channel", 5, {"channel": "fax"}),
    case("allowed_values", "call_outcome", 3, {"call_outcome": "hung_up"}),
    case("allowed_values", "question_topic", 4, {"question_topic": "weather"}),
    case("not_in_future", "occurred_at", 1, {"occurred_at": "2024-06-02T00:00:00Z"}),
    case("lead_exists", "lead_id", 2, {"lead_id": "L404"}),
    case("not_before_lead", "occurred_at", 5, {"occurred_at": "2024-02-01T00:00:00Z"}),
    case("call_needs_outcome", "call_outcome", 3, {"call_outcome": ""}),
    case("outcome_only_for_call", "call_outcome", 1, {"call_outcome": "connected"}),
    case("question_needs_topic", "question_topic", 4, {"question_topic": ""}),
    case("channel_required", "channel", 5, {"channel": ""}),
    case("channel_matches_type", "channel", 2, {"channel": "text"}),
    case("channel_matches_type", "channel", 3, {"channel": "email"}),
]


@pytest.mark.parametrize(("rule", "column", "row", "changes", "bad"), EVENT_BREAKS)
def test_event_rule_rejects_a_row_that_breaks_it(
    now: datetime,
    events: pd.DataFrame,
    lead_created_at: pd.Series,
    break_row: BreakRow,
    assert_rejected: AssertRejected,
    rule: str,
    column: str,
    row: int,
    changes: dict[str, Any],
    bad: set[int],
) -> None:
    frame = break_row(events, row, changes)
    result = validate(frame, "events", now=now, lead_created_at=lead_created_at)
    assert_rejected(result, rule, column, bad)


def test_valid_events_all_pass_typed_per_schema(
    now: datetime, events: pd.DataFrame, lead_created_at: pd.Series
) -> None:
    result = validate(events, "events", now=now, lead_created_at=lead_created_at)
    assert result.report.ok, result.report.render()
    assert {c: str(t) for c, t in result.valid.dtypes.items()} == EVENT_COLUMNS
    # -05:00 offsets are stored in UTC.
    assert result.valid["occurred_at"].iloc[0] == pd.Timestamp("2024-05-01T19:30:00Z")


def test_event_at_the_moment_its_lead_was_created_passes(
    now: datetime, events: pd.DataFrame, lead_created_at: pd.Series
) -> None:
    events.loc[0, "occurred_at"] = "2024-01-02T15:00:00Z"  # L1's created_at exactly
    result = validate(events, "events", now=now, lead_created_at=lead_created_at)
    assert result.report.ok, result.report.render()


def test_exact_repeat_is_dropped_with_a_warning(now: datetime, events: pd.DataFrame) -> None:
    """A webhook re-delivery is one event, not a conflict between two."""
    repeated = pd.concat([events, events.iloc[[1]]], ignore_index=True)
    result = validate(repeated, "events", now=now)
    assert result.report.ok
    assert len(result.valid) == len(events)
    assert result.report.n_duplicates == 1
    assert any("repeat an earlier row exactly" in w for w in result.report.warnings)


def test_events_without_leads_skip_lead_rules_with_a_warning(
    now: datetime, events: pd.DataFrame
) -> None:
    events.loc[0, "lead_id"] = "L404"
    result = validate(events, "events", now=now)
    assert result.report.ok
    assert any("lead_exists" in w for w in result.report.warnings)


def test_missing_optional_column_is_fine(now: datetime, events: pd.DataFrame) -> None:
    result = validate(events.drop(columns=["page", "text"]), "events", now=now)
    assert result.report.ok
    assert list(result.valid.columns) == list(EVENT_COLUMNS)


def test_naive_lead_dates_are_refused(now: datetime, events: pd.DataFrame) -> None:
    naive = pd.Series(pd.to_datetime(["2024-01-02"]), index=["L1"])
    with pytest.raises(ContractError, match="tz-aware"):
        validate(events, "events", now=now, lead_created_at=naive)


def test_no_known_leads_quarantines_every_event_as_lead_exists(
    now: datetime, events: pd.DataFrame
) -> None:
    """An empty event log hands over an empty (untyped) Series: every lead is unknown."""
    result = validate(events, "events", now=now, lead_created_at=pd.Series([], dtype=object))
    assert result.valid.empty
    assert [(f.rule, f.count) for f in result.report.failures] == [("lead_exists", len(events))]


def test_every_timestamp_without_a_zone_quarantines_all_rows_without_crashing(
    now: datetime, events: pd.DataFrame, lead_created_at: pd.Series
) -> None:
    events["occurred_at"] = "2024-05-01 10:00:00"
    result = validate(events, "events", now=now, lead_created_at=lead_created_at)
    assert result.valid.empty
    assert [(f.rule, f.column, f.count) for f in result.report.failures] == [
        ("type", "occurred_at", len(events))
    ]
