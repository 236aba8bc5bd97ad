"""Validate lead, event and feature tables: coerce to the schema, run the suites, split and report.

Rule names (a report row and each quarantine reason name one, as "rule: column: problem"):

- malformed_row: the record could not be read (bad JSON, wrong number of CSV fields)
- type: the value does not parse as the column's schema type (nothing is guessed)
- required: a required column is empty
- identifier / max_length: ids use letters, digits and _ . : -; text fits its column
- unique: two different records share a key (exact repeats are dropped with a warning)
- allowed_values: an enum column holds a value outside data_contracts.enums
- range: loan_amount_usd, quoted_rate_pct (models.py ranges), feature bounds
- not_in_future: created_at / occurred_at is later than `now`
- e164, email_format, iana_time_zone: the lead's phone, email and time zone
- lead_exists, not_before_lead: an event's lead is known and the event is not older than it
- call_needs_outcome, outcome_only_for_call, question_needs_topic, channel_required,
  channel_matches_type: the cross-field rules of models.Event
- column_present: a feature-table column is missing
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_dtype,
    is_numeric_dtype,
    is_object_dtype,
    is_string_dtype,
)

from data_contracts.reading import (
    ROW_NUMBER,
    ContractError,
    MalformedRow,
    RawTable,
    TableKind,
    check_required_columns,
    schema_columns,
)
from data_contracts.report import (
    FailureExample,
    RuleFailure,
    ValidationReport,
    ValidationResult,
    quarantine_frame,
    reasons_by_row,
    row_list,
    rule_failures,
    without_type_repeats,
)
from data_contracts.rules import (
    BOOL_TEXT,
    LEAD_AGE_AT_EVENT_S,
    LEAD_CREATED_AT,
    TIMESTAMP_WITH_ZONE,
    Rule,
    RuleHits,
    event_checks,
    in_catalogue_order,
    lead_checks,
    lead_dates,
    optional_defaults,
    type_rule,
    validation_time,
)
from data_contracts.suites import (
    FeatureColumnRule,
    event_suite,
    feature_table_suite,
    lead_suite,
    suite_runner,
)

__all__ = [
    "ContractError",
    "FailureExample",
    "RuleFailure",
    "ValidationReport",
    "ValidationResult",
    "validate",
    "validate_feature_table",
]

# --- validate -------------------------------------------------------------------------------


def validate(
    frame: pd.DataFrame | RawTable,
    kind: TableKind,
    *,
    now: datetime,
    lead_created_at: pd.Series | None = None,
    source: str = "<frame>",
) -> ValidationResult:
    """Coerce a raw leads or events table to its schema and run its contract.

    frame: a RawTable from read_table (its file, malformed records and line numbers are used),
    or a DataFrame (row numbers from an index named "row_number", else 1..n).
    now: tz-aware; timestamps after it fail not_in_future.
    lead_created_at (events only): created_at indexed by lead_id, e.g.
    ``leads.set_index("lead_id")["created_at"]``; without it lead_exists and not_before_lead
    are skipped (with a warning).
    Raises ContractError when a required column is missing; bad rows never raise.
    """
    if kind == "leads" and lead_created_at is not None:
        raise ValueError("lead_created_at is for events; leads carry their own created_at")
    malformed: tuple[MalformedRow, ...] = ()
    if isinstance(frame, RawTable):
        if frame.kind != kind:
            raise ContractError(f"{frame.source} was read as {frame.kind}, not {kind}")
        malformed, source, frame = frame.malformed, frame.source, frame.frame
    dtypes, _ = schema_columns(kind)
    now_utc = validation_time(now)
    check_required_columns([str(c) for c in frame.columns], kind, source)

    warnings = [
        f"unknown column {c!r} ignored (not in the {kind} schema)"
        for c in frame.columns
        if c not in dtypes
    ]
    raw = _numbered(frame).reindex(columns=list(dtypes))  # absent optional columns become NaN
    cleaned = raw.apply(_cleaned)

    repeats = cleaned.astype(str).duplicated(keep="first")
    if repeats.any():
        # Webhooks re-deliver; an identical record twice is one record, not a conflict.
        warnings.append(
            f"{int(repeats.sum())} row(s) repeat an earlier row exactly and were dropped: "
            f"rows {row_list(cleaned.index[repeats])}"
        )
    kept = cleaned.loc[~repeats]

    typed, hits = _coerce(kept, dtypes)
    _fill_model_defaults(typed, kind)

    checked = typed.reset_index()
    if kind == "leads":
        suite, checks = lead_suite(), lead_checks()
    else:
        if lead_created_at is None:
            warnings.append("lead_created_at not given: lead_exists and not_before_lead skipped")
        else:
            created = lead_dates(lead_created_at, source).reindex(checked["lead_id"].to_numpy())
            checked[LEAD_CREATED_AT] = created.array  # .array keeps the zone, even all-NaT
            age = checked["occurred_at"] - checked[LEAD_CREATED_AT]
            checked[LEAD_AGE_AT_EVENT_S] = age.dt.total_seconds()
        with_leads = lead_created_at is not None
        suite, checks = event_suite(with_leads=with_leads), event_checks(with_leads=with_leads)
    hits += in_catalogue_order(suite_runner().run(checked, suite, now=now_utc), checks)
    hits = without_type_repeats(hits)

    reasons = reasons_by_row(hits)
    passed = ~typed.index.isin(list(reasons))
    valid = typed.loc[passed].astype(dtypes)
    quarantined = quarantine_frame(raw, reasons, malformed, kind, source)
    failures = rule_failures(hits, raw, malformed)
    report = ValidationReport(
        kind=kind,
        source=source,
        n_rows=len(raw) + len(malformed),
        n_valid=len(valid),
        n_quarantined=len(quarantined),
        n_duplicates=int(repeats.sum()),
        failures=failures,
        warnings=tuple(warnings),
    )
    return ValidationResult(valid=valid, quarantined=quarantined, report=report)


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy indexed by row number: the frame's own when it has them, else 1..n."""
    numbered = frame.copy()
    if numbered.index.name != ROW_NUMBER:
        numbered.index = pd.RangeIndex(1, len(frame) + 1, name=ROW_NUMBER)
    if not numbered.index.is_unique:
        raise ContractError(f"the {ROW_NUMBER} index repeats numbers; number each row once")
    return numbered


# --- coercion -------------------------------------------------------------------------------


def _cleaned(column: pd.Series) -> pd.Series:
    """Strip text and read blank text as missing (the models strip whitespace too)."""
    if not (is_object_dtype(column.dtype) or is_string_dtype(column.dtype)):
        return column
    stripped = column.map(lambda v: v.strip() if isinstance(v, str) else v, na_action="ignore")
    blank = stripped.map(lambda v: isinstance(v, str) and not v).astype(bool)
    return stripped.mask(blank)


def _coerce(frame: pd.DataFrame, dtypes: dict[str, str]) -> tuple[pd.DataFrame, list[RuleHits]]:
    typed = pd.DataFrame(index=frame.index)
    hits: list[RuleHits] = []
    for column, dtype in dtypes.items():
        values, bad = _COERCERS[dtype](frame[column])
        typed[column] = values
        if bad.any():
            hits.append(RuleHits(type_rule(column, dtype), tuple(int(n) for n in frame.index[bad])))
    return typed, hits


def _is_text(column: pd.Series) -> pd.Series:
    return column.map(lambda v: isinstance(v, str)).astype(bool)


def _as_string(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    if is_string_dtype(column.dtype) and not is_object_dtype(column.dtype):
        return column.astype("string"), pd.Series(False, index=column.index)
    text = _is_text(column)
    bad = ~text & column.notna()
    return column.where(text, None).astype("string"), bad


def _as_float(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    missing = column.isna()
    if is_bool_dtype(column.dtype):
        values = pd.Series(np.nan, index=column.index)
    elif is_numeric_dtype(column.dtype):
        values = column.astype("float64")
    else:
        text = _is_text(column)
        number = column.map(
            lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_)
        ).astype(bool)
        parsed = pd.to_numeric(column.where(text), errors="coerce")
        values = parsed.where(text, pd.to_numeric(column.where(number), errors="coerce"))
        values = values.astype("float64")
    # "nan" and "inf" parse as floats but are never a loan amount or a rate.
    bad = ~missing & ~np.isfinite(values.fillna(np.nan).to_numpy(dtype="float64"))
    return values.where(~bad), pd.Series(bad, index=column.index)


def _as_bool(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    if is_bool_dtype(column.dtype):
        return column.astype("boolean"), pd.Series(False, index=column.index)

    def parse(value: Any) -> bool | None:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, str):
            return BOOL_TEXT.get(value.lower())
        if isinstance(value, numbers.Real) and value in (0, 1):
            return bool(value)
        return None

    values = column.map(parse, na_action="ignore").astype("boolean")
    return values, values.isna() & column.notna()


def _as_timestamp(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return column.dt.tz_convert("UTC"), pd.Series(False, index=column.index)
    if is_datetime64_dtype(column.dtype):  # naive: without a zone no value can be placed
        empty = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns, UTC]")
        return empty, column.notna()
    text = _is_text(column)
    zoned = column.where(text, "").astype(str).str.fullmatch(TIMESTAMP_WITH_ZONE, flags=re.I)
    from_text = pd.to_datetime(column.where(zoned), format="ISO8601", utc=True, errors="coerce")
    aware = column.map(
        lambda v: isinstance(v, datetime) and not pd.isna(v) and v.utcoffset() is not None
    ).astype(bool)
    from_objects = pd.to_datetime(column.where(aware), utc=True, errors="coerce")
    values = from_text.where(text, from_objects).astype("datetime64[ns, UTC]")
    return values, values.isna() & column.notna()


_COERCERS = {
    "string": _as_string,
    "float64": _as_float,
    "bool": _as_bool,
    "datetime64[ns, UTC]": _as_timestamp,
}


def _fill_model_defaults(typed: pd.DataFrame, kind: TableKind) -> None:
    """Empty optional fields take the model's default (credit_band 'unknown', ...)."""
    for name, default in optional_defaults(kind).items():
        if typed[name].isna().any():
            typed[name] = typed[name].fillna(default)


# --- from hits to rows and report -----------------------------------------------------------


# --- the feature table ----------------------------------------------------------------------

_KIND_NAMES = {"int": "whole numbers", "float": "numbers", "category": "text categories"}


def validate_feature_table(
    frame: pd.DataFrame, rules: Sequence[FeatureColumnRule], *, source: str = "<features>"
) -> ValidationReport:
    """Check a feature table against per-column rules (presence, type, nulls, bounds, categories).

    Rows are numbered from an index named "row_number", else 1..n.
    """
    table = _numbered(frame)
    hits: list[RuleHits] = []
    missing: list[FeatureColumnRule] = []
    checkable: list[FeatureColumnRule] = []
    for rule in rules:
        if rule.name not in table.columns:
            missing.append(rule)
            continue
        bad = _feature_type_errors(table[rule.name], rule)
        if bad is None:
            checkable.append(rule)
            continue
        if bad.any():
            type_rule = Rule(
                "type",
                rule.name,
                f"is not {_KIND_NAMES[rule.kind]}",
                "the model reads this column as " + _KIND_NAMES[rule.kind],
            )
            hits.append(RuleHits(type_rule, tuple(int(n) for n in table.index[bad])))
    checked = table[[r.name for r in checkable]].copy()
    for rule in checkable:
        if rule.kind == "category":
            checked[rule.name] = checked[rule.name].astype(object)
    checked = checked.reset_index()
    if checkable:
        hits += suite_runner().run(checked, feature_table_suite(tuple(checkable)))

    failures = [
        RuleFailure(
            "column_present",
            rule.name,
            len(table),
            "is missing from the table",
            "the model needs every feature column, in the feature list's order",
        )
        for rule in missing
    ]
    failures += rule_failures(hits, table, ())
    failing_rows = {row for hit in hits for row in hit.row_numbers}
    n_failing = len(table) if missing else len(failing_rows)
    extra = [c for c in table.columns if c not in {r.name for r in rules}]
    return ValidationReport(
        kind="features",
        source=source,
        n_rows=len(table),
        n_valid=len(table) - n_failing,
        n_quarantined=n_failing,
        failures=tuple(failures),
        warnings=tuple(f"column {c!r} is not in the feature list" for c in extra),
    )


def _feature_type_errors(column: pd.Series, rule: FeatureColumnRule) -> pd.Series | None:
    """None when the column's type fits its kind; else a mask of the rows that do not fit."""
    if rule.kind == "category":
        if isinstance(column.dtype, pd.CategoricalDtype) or is_string_dtype(column.dtype):
            text = _is_text(column) | column.isna()
            return None if text.all() else ~text
        return column.notna()
    if is_bool_dtype(column.dtype) or not is_numeric_dtype(column.dtype):
        return column.notna()
    if rule.kind == "int":
        values = column.astype("float64")
        fractional = values.notna() & (values % 1 != 0)
        return fractional if fractional.any() else None
    return None
