"""Every leads contract rule rejects a table that breaks it and keeps the good rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from data_contracts import ContractError, ValidationResult, validate
from data_contracts.schemas import LEAD_COLUMNS

BreakRow = Callable[[pd.DataFrame, int, dict[str, Any]], pd.DataFrame]
AssertRejected = Callable[[ValidationResult, str, str, set[int]], None]


def case(rule: str, column: str, row: int, changes: dict[str, Any], *bad: int) -> Any:
    """Write `changes` into row `row`; expect `rule` on `column` for rows `bad` (default: row)."""
    return pytest.param(rule, column, row, changes, set(bad or (row,)), id=f"{rule}-{column}")


LEAD_BREAKS = [
    case("type", "created_at", 2, {"created_at": "2024-02-02 15:00:00"}),  # no zone
    case("type", "created_at", 2, {"created_at": "last Tuesday"}),
    case("type", "loan_amount_usd", 3, {"loan_amount_usd": "320k"}),
    case("type", "quoted_rate_pct", 3, {"quoted_rate_pct": "nan"}),
    case("type", "consent_call", 1, {"consent_call": "maybe"}),
    case("required", "phone", 4, {"phone": ""}),
    case("required", "officer_id", 2, {"officer_id": None}),
    case("required", "consent_text", 2, {"consent_text": "  "}),
    case("identifier", "lead_id", 1, {"lead_id": "L 1"}),
    case("max_length", "first_name", 3, {"first_name": "A" * 101}),
    case("unique", "lead_id", 2, {"lead_id": "L1"}, 1, 2),
    case("allowed_values", "state", 2, {"state": "ZZ"}),
    case("allowed_values", "source", 2, {"source": "billboard"}),
    case("allowed_values", "loan_type", 2, {"loan_type": "heloc"}),
    case("allowed_values", "credit_band", 2, {"credit_band": "superb"}),
    case("range", "loan_amount_usd", 1, {"loan_amount_usd": "9999"}),
    case("range", "loan_amount_usd", 1, {"loan_amount_usd": "5000001"}),
    case("range", "quoted_rate_pct", 4, {"quoted_rate_pct": "0.065"}),
    case("not_in_future", "created_at", 3, {"created_at": "2024-06-01T12:00:01Z"}),
    case("e164", "phone", 2, {"phone": "(512) 555-0002"}),
    case("email_format", "email", 2, {"email": "lead2-at-example.com"}),
    case("iana_time_zone", "time_zone", 1, {"time_zone": "Central Time"}),
]


@pytest.mark.parametrize(("rule", "column", "row", "changes", "bad"), LEAD_BREAKS)
def test_lead_rule_rejects_a_row_that_breaks_it(
    now: datetime,
    leads: pd.DataFrame,
    break_row: BreakRow,
    assert_rejected: AssertRejected,
    rule: str,
    column: str,
    row: int,
    changes: dict[str, Any],
    bad: set[int],
) -> None:
    result = validate(break_row(leads, row, changes), "leads", now=now, source="leads.csv")
    assert_rejected(result, rule, column, bad)


def test_valid_leads_all_pass_typed_per_schema(now: datetime, leads: pd.DataFrame) -> None:
    result = validate(leads, "leads", now=now)
    assert result.report.ok, result.report.render()
    assert result.quarantined.empty
    assert list(result.valid.columns) == list(LEAD_COLUMNS)
    assert {c: str(t) for c, t in result.valid.dtypes.items()} == LEAD_COLUMNS
    # "true", "yes" and "0" are read as booleans, not guessed from truthiness.
    assert result.valid["consent_call"].all()
    assert result.valid["consent_text"].all()
    assert not result.valid["consent_email"].any()


def test_already_typed_frame_passes(now: datetime, leads: pd.DataFrame) -> None:
    """Code that builds typed frames (the simulator) validates without going through text."""
    typed = validate(leads, "leads", now=now).valid
    again = validate(typed.reset_index(drop=True), "leads", now=now)
    assert again.report.ok, again.report.render()
    assert len(again.valid) == len(leads)


def test_empty_optional_fields_take_the_model_defaults(now: datetime, leads: pd.DataFrame) -> None:
    leads.loc[0, ["credit_band", "time_zone", "timeline_statement"]] = ""
    valid = validate(leads, "leads", now=now).valid
    assert valid.loc[1, "credit_band"] == "unknown"
    assert valid.loc[1, "timeline_statement"] == ""
    assert valid["time_zone"].isna().iloc[0]  # an unknown zone stays unknown: not callable


def test_quarantine_keeps_raw_values_and_provenance(now: datetime, leads: pd.DataFrame) -> None:
    leads.loc[1, "loan_amount_usd"] = " 320k "
    result = validate(leads, "leads", now=now, source="crm/leads.csv")
    row = result.quarantined.iloc[0]
    assert row["loan_amount_usd"] == " 320k "  # as received, not cleaned
    assert row["source"] == "referral"  # the lead's own source column is untouched
    assert (row["origin"], row["row_number"], row["kind"]) == ("crm/leads.csv", 2, "leads")
    assert row["reasons"] == "type: loan_amount_usd: is not a number, e.g. 250000 or 6.25"


def test_one_row_breaking_two_rules_lists_both_reasons(now: datetime, leads: pd.DataFrame) -> None:
    leads.loc[2, ["state", "quoted_rate_pct"]] = ["XX", "99"]
    result = validate(leads, "leads", now=now)
    reasons = str(result.quarantined.at[0, "reasons"]).split("; ")
    assert sorted(r.split(":")[0] for r in reasons) == ["allowed_values", "range"]


def test_mistyped_required_value_is_reported_once(now: datetime, leads: pd.DataFrame) -> None:
    leads.loc[0, "created_at"] = "soon"
    report = validate(leads, "leads", now=now).report
    assert [(f.rule, f.column) for f in report.failures] == [("type", "created_at")]


def test_unknown_column_is_a_warning_not_a_failure(now: datetime, leads: pd.DataFrame) -> None:
    leads["favourite_colour"] = "blue"
    result = validate(leads, "leads", now=now)
    assert result.report.ok
    assert "favourite_colour" not in result.valid.columns
    assert any("favourite_colour" in w for w in result.report.warnings)


def test_missing_required_column_raises_naming_it_and_the_source(
    now: datetime, leads: pd.DataFrame
) -> None:
    with pytest.raises(ContractError, match=r"leads\.csv.*'phone'.*expected the columns"):
        validate(leads.drop(columns=["phone"]), "leads", now=now, source="leads.csv")


def test_naive_now_is_refused(now: datetime, leads: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        validate(leads, "leads", now=now.replace(tzinfo=None))


def test_report_dict_is_json_and_render_names_each_rule(now: datetime, leads: pd.DataFrame) -> None:
    leads.loc[0, "state"] = "ZZ"
    leads.loc[1, "loan_amount_usd"] = "1"
    report = validate(leads, "leads", now=now, source="leads.csv").report
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False
    assert data["n_quarantined"] == 2
    assert {f["rule"] for f in data["failures"]} == {"allowed_values", "range"}
    assert all(f["why"] for f in data["failures"])
    text = report.render()
    assert "leads.csv" in text
    assert "allowed_values" in text
    assert "'ZZ'" in text
    assert "loan_amount_usd" in text
