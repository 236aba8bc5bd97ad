"""Reading CSV and JSON Lines files: missing columns stop the load, bad records are quarantined."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from data_contracts import ContractError, read_table, validate
from data_contracts.schemas import EVENT_COLUMNS, LEAD_COLUMNS


def write_csv(path: Path, rows: Sequence[Mapping[Any, Any]], columns: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_csv_missing_required_column_names_it_and_the_file(
    tmp_path: Path, leads: pd.DataFrame
) -> None:
    columns = [c for c in LEAD_COLUMNS if c not in {"state", "email"}]
    path = write_csv(tmp_path / "leads.csv", leads.to_dict("records"), columns)
    with pytest.raises(ContractError) as error:
        read_table(path, "leads")
    message = str(error.value)
    assert str(path) in message
    assert "'email'" in message
    assert "'state'" in message
    assert "lead_id, officer_id, created_at" in message  # the expected columns


def test_jsonl_missing_required_column_names_it_and_the_file(
    tmp_path: Path, events: pd.DataFrame
) -> None:
    lines = [
        json.dumps({k: v for k, v in r.items() if k != "occurred_at"})
        for r in events.to_dict("records")
    ]
    path = write_jsonl(tmp_path / "events.jsonl", lines)
    with pytest.raises(ContractError, match=r"events\.jsonl.*'occurred_at'"):
        read_table(path, "events")


def test_unknown_suffix_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    path.write_text("lead_id\n")
    with pytest.raises(ContractError, match=r"\.csv, \.jsonl or \.ndjson"):
        read_table(path, "leads")


def test_values_are_read_as_text(tmp_path: Path, leads: pd.DataFrame) -> None:
    path = write_csv(tmp_path / "leads.csv", leads.to_dict("records"), list(LEAD_COLUMNS))
    raw = read_table(path, "leads")
    assert raw.frame.loc[2, "loan_amount_usd"] == "320000"
    assert raw.frame.loc[2, "consent_call"] == "true"


def test_malformed_csv_names_rows_and_fields_and_keeps_good_rows(
    tmp_path: Path, now: datetime, events: pd.DataFrame, lead_created_at: pd.Series
) -> None:
    rows = events.to_dict("records")
    rows[1]["occurred_at"] = "May 2nd"  # wrong type
    rows[2]["call_outcome"] = "hung_up"  # unknown enum value
    rows[3]["text"] = "line one\nline two"  # a quoted field spanning two lines is fine
    path = write_csv(tmp_path / "events.csv", rows, list(EVENT_COLUMNS))
    with path.open("a", encoding="utf-8") as handle:
        handle.write("E9,L1,2024-05-09T10:00:00Z,web_visit\n")  # too few fields

    raw = read_table(path, "events")
    # Row numbers are file lines: header is line 1; the text field of line 5 spans line 6.
    assert list(raw.frame.index) == [2, 3, 4, 5, 7]
    result = validate(raw, "events", now=now, lead_created_at=lead_created_at)

    reasons = result.quarantined.set_index("row_number")["reasons"]
    assert "type: occurred_at:" in reasons[3]
    assert "allowed_values: call_outcome:" in reasons[4]
    assert "malformed_row" in reasons[8]
    assert "line 8 has 4 fields but the header has 9" in reasons[8]
    assert set(result.valid.index) == {2, 5, 7}
    assert set(result.quarantined["origin"]) == {str(path)}
    report = result.report
    assert (report.n_rows, report.n_valid, report.n_quarantined) == (6, 3, 3)
    examples = {(f.rule, f.column): f.examples for f in report.failures}
    assert examples["type", "occurred_at"][0].row_number == 3
    assert examples["type", "occurred_at"][0].value == "'May 2nd'"
    assert examples["allowed_values", "call_outcome"][0].row_number == 4


def test_malformed_jsonl_names_lines_and_fields_and_keeps_good_rows(
    tmp_path: Path, now: datetime, events: pd.DataFrame, lead_created_at: pd.Series
) -> None:
    records = events.to_dict("records")
    records[1]["occurred_at"] = 1714678200  # a JSON number, not a timestamp string
    records[2]["event_type"] = "teleport"
    lines = [json.dumps(r) for r in records]
    lines.insert(3, '{"event_id": "E9", "lead_id": "L1",')  # line 4: cut off
    lines.insert(4, "")  # blank lines are skipped, but still counted
    lines.insert(5, '["not", "an", "object"]')  # line 6
    path = write_jsonl(tmp_path / "events.ndjson", lines)

    result = validate(
        read_table(path, "events"), "events", now=now, lead_created_at=lead_created_at
    )

    reasons = result.quarantined.set_index("row_number")["reasons"]
    assert "type: occurred_at:" in reasons[2]
    assert "allowed_values: event_type:" in reasons[3]
    assert "line 4 is not valid JSON" in reasons[4]
    assert "line 6 is a JSON list" in reasons[6]
    assert set(result.valid.index) == {1, 7, 8}  # the good rows, by line
    assert result.report.n_rows == 7


def test_json_object_in_a_text_column_is_a_type_failure(
    tmp_path: Path, now: datetime, events: pd.DataFrame
) -> None:
    records = events.to_dict("records")
    records[0]["page"] = {"path": "/rates"}
    path = write_jsonl(tmp_path / "events.jsonl", [json.dumps(r) for r in records])
    result = validate(read_table(path, "events"), "events", now=now)
    assert [(f.rule, f.column) for f in result.report.failures] == [("type", "page")]
    assert list(result.quarantined["row_number"]) == [1]


def test_unknown_file_column_is_a_warning(
    tmp_path: Path, now: datetime, leads: pd.DataFrame
) -> None:
    path = write_csv(tmp_path / "leads.csv", leads.to_dict("records"), [*LEAD_COLUMNS, "crm_score"])
    result = validate(read_table(path, "leads"), "leads", now=now)
    assert result.report.ok
    assert any("'crm_score'" in w for w in result.report.warnings)


def test_raw_table_must_be_validated_as_its_own_kind(
    tmp_path: Path, now: datetime, events: pd.DataFrame
) -> None:
    path = write_csv(tmp_path / "events.csv", events.to_dict("records"), list(EVENT_COLUMNS))
    with pytest.raises(ContractError, match="read as events, not leads"):
        validate(read_table(path, "events"), "leads", now=now)
