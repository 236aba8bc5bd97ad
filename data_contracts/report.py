"""What a validation found: the report, the split result, and how rule hits become reasons.

Shared by both contract engines (data_contracts.validation with Great Expectations for files
and batches, data_contracts.records in plain Python for the API), so a rule broken on either
path reads the same: "rule: column: problem", never a value of personal data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from data_contracts.reading import ROW_NUMBER, MalformedRow
from data_contracts.rules import Rule, RuleHits
from data_contracts.schemas import LEAD_PII_COLUMNS

HIDDEN_COLUMNS: frozenset[str] = LEAD_PII_COLUMNS | {"timeline_statement", "text", "page"}
"""Columns whose values never appear in a report: personal data, and free text or URLs that
often carry it ("call me at ...", "?email=...")."""

QUARANTINE_COLUMNS = ("origin", ROW_NUMBER, "reasons", "kind")
"""Columns added to the raw values of each quarantined row. origin is the file or source name
(not "source": leads already have a source column, where the lead came from)."""

MAX_EXAMPLES = 5
HIDDEN_VALUE = "value hidden (may be personal data)"


# --- the report -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailureExample:
    """A failing row and its offending value, or a hidden marker for personal data."""

    row_number: int
    value: str


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """One broken rule on one column: how many rows, why the rule exists, a few examples."""

    rule: str
    column: str
    count: int
    message: str
    why: str
    examples: tuple[FailureExample, ...] = ()


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """What a validation found; safe to log and to show (it never holds personal data)."""

    kind: str
    source: str
    n_rows: int
    n_valid: int
    n_quarantined: int
    n_duplicates: int = 0
    failures: tuple[RuleFailure, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no row broke a rule (warnings do not count)."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for the API and the audit log)."""
        data = asdict(self)
        data["ok"] = self.ok
        return data

    def render(self) -> str:
        """A rule-by-rule table for the CLI."""
        lines = [
            f"{self.source} ({self.kind}): {self.n_rows} rows, {self.n_valid} valid, "
            f"{self.n_quarantined} quarantined"
            + (f", {self.n_duplicates} exact repeats dropped" if self.n_duplicates else "")
        ]
        if self.failures:
            width_rule = max(len("rule"), *(len(f.rule) for f in self.failures))
            width_column = max(len("column"), *(len(f.column) for f in self.failures))
            indent = " " * (2 + width_rule + 2 + width_column + 2 + 7 + 2)
            lines.append(
                f"  {'rule':<{width_rule}}  {'column':<{width_column}}  {'rows':>7}  problem"
            )
            for failure in self.failures:
                lines.append(
                    f"  {failure.rule:<{width_rule}}  {failure.column:<{width_column}}  "
                    f"{failure.count:>7}  {failure.message}"
                )
                if failure.examples:
                    shown = "; ".join(f"row {e.row_number}: {e.value}" for e in failure.examples)
                    more = "; ..." if failure.count > len(failure.examples) else ""
                    lines.append(f"{indent}e.g. {shown}{more}")
        else:
            lines.append("  every row passed every rule")
        if self.warnings:
            lines.append("warnings:")
            lines.extend(f"  - {w}" for w in self.warnings)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """valid: typed rows that passed every rule, indexed by row_number; quarantined: the raw
    values of the other rows plus origin (the source), row_number, reasons ("; "-joined
    "rule: column: problem") and kind; report: the summary."""

    valid: pd.DataFrame
    quarantined: pd.DataFrame
    report: ValidationReport


# --- from hits to rows and report -----------------------------------------------------------


def without_type_repeats(hits: list[RuleHits]) -> list[RuleHits]:
    """A value that failed `type` is null after coercion; do not report it as `required` too."""
    mistyped = {h.rule.column: set(h.row_numbers) for h in hits if h.rule.name == "type"}
    kept: list[RuleHits] = []
    for hit in hits:
        if hit.rule.name == "required" and hit.rule.column in mistyped:
            rows = tuple(r for r in hit.row_numbers if r not in mistyped[hit.rule.column])
            if not rows:
                continue
            hit = RuleHits(hit.rule, rows)
        kept.append(hit)
    return kept


def reasons_by_row(hits: list[RuleHits]) -> dict[int, list[str]]:
    reasons: dict[int, list[str]] = {}
    for hit in hits:
        reason = f"{hit.rule.name}: {hit.rule.column}: {hit.rule.message}"
        for row in hit.row_numbers:
            row_reasons = reasons.setdefault(row, [])
            if reason not in row_reasons:
                row_reasons.append(reason)
    return reasons


def quarantine_frame(
    raw: pd.DataFrame,
    reasons: dict[int, list[str]],
    malformed: tuple[MalformedRow, ...],
    kind: str,
    source: str,
) -> pd.DataFrame:
    failed = raw.loc[raw.index.isin(list(reasons))].astype(object)
    failed = failed.where(failed.notna(), None)
    unreadable = pd.DataFrame(
        None,
        index=pd.Index([m.row_number for m in malformed], name=ROW_NUMBER),
        columns=raw.columns,
    ).astype(object)
    texts = {row: "; ".join(r) for row, r in reasons.items()}
    texts.update({m.row_number: f"malformed_row: *: {m.reason}" for m in malformed})
    quarantined = pd.concat([failed, unreadable]) if len(unreadable) else failed
    quarantined = quarantined.sort_index()
    quarantined["origin"] = source
    quarantined["reasons"] = [texts[int(n)] for n in quarantined.index]
    quarantined["kind"] = kind
    quarantined = quarantined.reset_index()
    return quarantined[[*raw.columns, *QUARANTINE_COLUMNS]]


def rule_failures(
    hits: list[RuleHits], raw: pd.DataFrame, malformed: tuple[MalformedRow, ...]
) -> tuple[RuleFailure, ...]:
    merged: dict[tuple[str, str], tuple[Rule, set[int]]] = {}
    for hit in hits:
        key = (hit.rule.name, hit.rule.column)
        merged.setdefault(key, (hit.rule, set()))[1].update(hit.row_numbers)
    failures: list[RuleFailure] = []
    if malformed:
        failures.append(
            RuleFailure(
                "malformed_row",
                "*",
                len(malformed),
                "could not be read as a record",
                "a record we cannot read cannot be checked; fix the line and re-send it",
                tuple(FailureExample(m.row_number, m.reason) for m in malformed[:MAX_EXAMPLES]),
            )
        )
    for rule, rows in merged.values():
        first = sorted(rows)[:MAX_EXAMPLES]
        examples = tuple(FailureExample(row, shown_value(raw, row, rule.column)) for row in first)
        failures.append(
            RuleFailure(rule.name, rule.column, len(rows), rule.message, rule.why, examples)
        )
    return tuple(failures)


def shown_value(raw: pd.DataFrame, row: int, column: str) -> str:
    if column in HIDDEN_COLUMNS:
        return HIDDEN_VALUE
    if column not in raw.columns:
        return ""
    value = raw.at[row, column]
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "(empty)"
    text = repr(value) if isinstance(value, str) else repr(str(value))
    return text if len(text) <= 60 else text[:57] + "...'"


def row_list(rows: Sequence[Any] | pd.Index, limit: int = MAX_EXAMPLES) -> str:
    shown = ", ".join(str(int(r)) for r in list(rows)[:limit])
    return shown + (" ..." if len(rows) > limit else "")
