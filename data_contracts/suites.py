"""Great Expectations 1.x suites for the lead, event and feature tables; each expectation says why.

The lead and event suites are built from the rule catalogue in data_contracts.rules (the API's
record validator runs the same catalogue without GX). Great Expectations takes seconds to
import, so nothing here touches it until a suite is first built or run; the context, the
datasource and each suite are then built once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from data_contracts.reading import ROW_NUMBER
from data_contracts.rules import (
    LEAD_AGE_AT_EVENT_S,
    LEAD_CREATED_AT,
    NOW_PARAMETER,
    Check,
    Rule,
    RuleHits,
    When,
    event_checks,
    lead_checks,
)

__all__ = [
    "LEAD_AGE_AT_EVENT_S",
    "LEAD_CREATED_AT",
    "FeatureColumnRule",
    "Rule",
    "RuleHits",
    "SuiteRunner",
    "event_suite",
    "feature_table_suite",
    "lead_suite",
    "suite_runner",
]

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.expectations.expectation import Expectation


@dataclass(frozen=True, slots=True)
class FeatureColumnRule:
    """The contract of one feature-table column; features/ builds these from its feature list."""

    name: str
    kind: Literal["int", "float", "category"]
    nullable: bool = False
    categories: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None

    @classmethod
    def inferred(
        cls,
        name: str,
        kind: Literal["int", "float", "category"],
        *,
        nullable: bool = False,
        categories: Sequence[str] = (),
    ) -> FeatureColumnRule:
        """Bounds from the naming convention: counts >= 0, *_rate/*_share in [0, 1], ages >= 0."""
        min_value: float | None = None
        max_value: float | None = None
        if kind == "int":
            min_value = 0.0
        elif name.endswith(("_rate", "_share")):
            min_value, max_value = 0.0, 1.0
        elif name.startswith("days_since_") or "_minutes_" in name or name == "timeline_months":
            min_value = 0.0
        return cls(name, kind, nullable, tuple(categories), min_value, max_value)


# --- building suites -----------------------------------------------------------------------


def _expectations() -> ModuleType:
    """gx.expectations, typed as a plain module: GX does not re-export its classes for mypy."""
    import great_expectations.expectations

    return great_expectations.expectations


def _suite(name: str, expectations: list[Expectation]) -> ExpectationSuite:
    from great_expectations import ExpectationSuite

    return ExpectationSuite(name=name, expectations=expectations)


def _check(rule: str, column: str, message: str, why: str, expectation: Expectation) -> Expectation:
    expectation.meta = {"rule": rule, "column": column, "message": message, "why": why}
    return expectation


def _row_condition(when: When) -> Any:
    from great_expectations.expectations.row_conditions import Column

    column = Column(when.column)
    if when.op == "eq":
        return column == when.values[0]
    if when.op == "ne":
        return column != when.values[0]
    if when.op == "in":
        return column.is_in(list(when.values))
    return column.is_not_null()


def _expectation(check: Check) -> Expectation:
    """The GX expectation that tests what a catalogue Check describes."""
    gxe = _expectations()
    how: dict[str, Any] = {"column": check.column}
    if check.when is not None:
        how["row_condition"] = _row_condition(check.when)
    if check.test == "not_null":
        expectation = gxe.ExpectColumnValuesToNotBeNull(**how)
    elif check.test == "null":
        expectation = gxe.ExpectColumnValuesToBeNull(**how)
    elif check.test == "match":
        expectation = gxe.ExpectColumnValuesToMatchRegex(regex=check.pattern, **how)
    elif check.test == "max_length":
        expectation = gxe.ExpectColumnValueLengthsToBeBetween(max_value=check.max_value, **how)
    elif check.test == "unique":
        expectation = gxe.ExpectColumnValuesToBeUnique(**how)
    elif check.test == "in_set":
        expectation = gxe.ExpectColumnValuesToBeInSet(value_set=sorted(check.values), **how)
    else:
        high = {"$PARAMETER": NOW_PARAMETER} if check.max_is_now else check.max_value
        expectation = gxe.ExpectColumnValuesToBeBetween(
            min_value=check.min_value, max_value=high, **how
        )
    rule = check.rule
    return _check(rule.name, rule.column, rule.message, rule.why, expectation)


@cache
def lead_suite() -> ExpectationSuite:
    """The expectation suite for a typed leads table (built once per process)."""
    return _suite(name="leads", expectations=[_expectation(c) for c in lead_checks()])


@cache
def event_suite(*, with_leads: bool) -> ExpectationSuite:
    """The suite for a typed events table; with_leads adds the checks against the leads' dates."""
    checks = event_checks(with_leads=with_leads)
    return _suite(
        name="events_with_leads" if with_leads else "events",
        expectations=[_expectation(c) for c in checks],
    )


@cache
def feature_table_suite(rules: tuple[FeatureColumnRule, ...]) -> ExpectationSuite:
    """The suite for a feature table; pass the rules as a tuple (it is cached by value)."""
    gxe = _expectations()
    checks: list[Expectation] = []
    for rule in rules:
        if not rule.nullable:
            checks.append(
                _check(
                    "required",
                    rule.name,
                    "is empty in a column that is never empty",
                    "the model was trained without nulls here; a null means a broken transform",
                    gxe.ExpectColumnValuesToNotBeNull(column=rule.name),
                )
            )
        if rule.min_value is not None or rule.max_value is not None:
            checks.append(
                _check(
                    "range",
                    rule.name,
                    _range_message(rule.min_value, rule.max_value),
                    "counts and ages cannot be negative and rates and shares lie in [0, 1]",
                    gxe.ExpectColumnValuesToBeBetween(
                        column=rule.name, min_value=rule.min_value, max_value=rule.max_value
                    ),
                )
            )
        if rule.kind == "category":
            checks.append(
                _check(
                    "allowed_values",
                    rule.name,
                    f"is not one of {', '.join(rule.categories)}",
                    "a category the model never saw is scored as if missing",
                    gxe.ExpectColumnValuesToBeInSet(
                        column=rule.name, value_set=list(rule.categories)
                    ),
                )
            )
    return _suite(name="feature_table", expectations=checks)


def _range_message(low: float | None, high: float | None) -> str:
    if low is None:
        return f"is above {high:g}"
    if high is None:
        return f"is below {low:g}"
    return f"is outside [{low:g}, {high:g}]"


# --- running --------------------------------------------------------------------------------


class SuiteRunner:
    """One ephemeral GX context with a pandas dataframe asset, shared by every validation."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        # tqdm bars on stderr would flood the CLI and the server logs.
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("leadscore").add_dataframe_asset("table")
        self._batch_definition: BatchDefinition[Any] = asset.add_batch_definition_whole_dataframe(
            "whole_table"
        )
        # GX does not document its context as thread-safe; the API validates from a thread pool.
        self._lock = threading.Lock()

    def run(
        self, frame: pd.DataFrame, suite: ExpectationSuite, *, now: datetime | None = None
    ) -> list[RuleHits]:
        """Validate frame (which has a ROW_NUMBER column) and return the broken rules' rows."""
        parameters = {NOW_PARAMETER: pd.Timestamp(now)} if now is not None else {}
        with self._lock:
            batch = self._batch_definition.get_batch(batch_parameters={"dataframe": frame})
            result = batch.validate(
                suite,
                result_format={
                    "result_format": "COMPLETE",
                    "unexpected_index_column_names": [ROW_NUMBER],
                    "return_unexpected_index_query": False,
                },
                expectation_parameters=parameters,
            )
        hits: list[RuleHits] = []
        for outcome in result.results:
            config = outcome.expectation_config
            if config is None:
                raise RuntimeError("GX returned a result without its expectation; cannot map it")
            meta = config.meta
            error = _exception_message(outcome.exception_info)
            if error is not None:
                # A check that could not run is a bug in the suite, not bad data: say so loudly.
                raise RuntimeError(
                    f"expectation for rule {meta['rule']!r} on {meta['column']!r} failed to run: "
                    f"{error}"
                )
            if outcome.success:
                continue
            rows = tuple(int(item[ROW_NUMBER]) for item in outcome.result["unexpected_index_list"])
            rule = Rule(meta["rule"], meta["column"], meta["message"], meta["why"])
            hits.append(RuleHits(rule, rows))
        return hits


def _exception_message(info: dict[str, Any] | None) -> str | None:
    """The error of a check that could not run; GX nests it per metric when a metric failed."""
    if not info:
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    nested = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    return str(nested[0].get("exception_message")) if nested else None


@cache
def suite_runner() -> SuiteRunner:
    """The process-wide runner, built on first use."""
    return SuiteRunner()
