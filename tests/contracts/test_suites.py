"""The GX suites themselves: every expectation says why it exists, and nothing loads at import."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from data_contracts.suites import (
    FeatureColumnRule,
    event_suite,
    feature_table_suite,
    lead_suite,
)

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite


@pytest.mark.parametrize("suite_name", ["leads", "events", "events_with_leads", "feature_table"])
def test_every_expectation_names_its_rule_and_why(suite_name: str) -> None:
    builders: dict[str, Callable[[], ExpectationSuite]] = {
        "leads": lead_suite,
        "events": lambda: event_suite(with_leads=False),
        "events_with_leads": lambda: event_suite(with_leads=True),
        "feature_table": lambda: feature_table_suite(
            (FeatureColumnRule.inferred("tier", "category", categories=("hot", "cold")),)
        ),
    }
    suite = builders[suite_name]()
    assert suite.expectations
    for expectation in suite.expectations:
        meta = expectation.meta or {}
        assert meta["rule"]
        assert meta["column"]
        assert len(meta["why"]) > 20, meta
        assert meta["message"]


def test_suites_are_built_once_per_process() -> None:
    assert lead_suite() is lead_suite()
    assert event_suite(with_leads=True) is event_suite(with_leads=True)


def test_importing_data_contracts_does_not_load_great_expectations() -> None:
    """GX takes seconds to import; the API and CLI must not pay for it until they validate."""
    code = "import sys, data_contracts; print('great_expectations' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
