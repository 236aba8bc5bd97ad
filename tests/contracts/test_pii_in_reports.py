"""Reports are safe to log: names, phones, emails and free text never appear in them."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

from data_contracts import validate

FAKE_PHONE = "555-0199-PII-PHONE"
FAKE_EMAIL = "zelda.pii-probe@@nowhere"
FAKE_NAME = "Quetzalpii" * 11  # too long, so the name itself fails a rule
FAKE_STATEMENT = "call me on +15125550199, ask for Zelda Probe"


def test_pii_values_never_appear_in_the_report(now: datetime, leads: pd.DataFrame) -> None:
    leads.loc[1, ["phone", "email", "first_name"]] = [FAKE_PHONE, FAKE_EMAIL, FAKE_NAME]
    leads.loc[1, "state"] = "ZZ"  # a non-PII failure in the same row, whose value may show
    leads.loc[2, "timeline_statement"] = FAKE_STATEMENT + "!" * 1000  # too long

    result = validate(leads, "leads", now=now, source="leads.csv")

    rules = {(f.rule, f.column) for f in result.report.failures}
    assert {("e164", "phone"), ("email_format", "email"), ("max_length", "first_name")} <= rules
    assert ("max_length", "timeline_statement") in rules
    shown = result.report.render() + json.dumps(result.report.to_dict())
    for secret in (FAKE_PHONE, FAKE_EMAIL, FAKE_NAME[:20], "Zelda", "+15125550199"):
        assert secret not in shown
    assert "'ZZ'" in shown  # the masking is targeted, not a blanket silence
    assert "not E.164" in shown  # the hint says what is wrong without the value
    # The reasons stored beside the quarantined row are free of the values too.
    reasons = " ".join(result.quarantined["reasons"])
    assert FAKE_PHONE not in reasons
    assert FAKE_EMAIL not in reasons


def test_pii_values_stay_hidden_when_only_the_row_is_named(
    now: datetime, leads: pd.DataFrame
) -> None:
    """A required-but-empty phone and a duplicate key show row numbers, never the phone."""
    leads.loc[3, "phone"] = FAKE_PHONE
    leads.loc[3, "lead_id"] = "L1"
    report = validate(leads, "leads", now=now).report
    shown = report.render() + json.dumps(report.to_dict())
    assert FAKE_PHONE not in shown
    assert "'L1'" in shown  # lead ids are not personal data and help find the row
