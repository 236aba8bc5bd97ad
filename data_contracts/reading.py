"""Read raw lead and event tables (CSV or JSON Lines) as text, keeping each record's line number."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from data_contracts.schemas import EVENT_COLUMNS, EVENT_REQUIRED, LEAD_COLUMNS, LEAD_REQUIRED

TableKind = Literal["leads", "events"]

ROW_NUMBER = "row_number"
"""Name of the index that holds each record's line number in its source file.

Both formats count physical lines from 1, so a number can be opened in any editor: in a CSV the
header is line 1 and the first data row is line 2 (a quoted field that spans lines makes the next
record start further down); in JSON Lines the first record is line 1. Frames that do not come from
a file are numbered 1..n by position.
"""

CSV_SUFFIXES = frozenset({".csv"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})


class ContractError(ValueError):
    """A whole table breaks the data contract (a missing column, an unreadable file).

    Row-level problems never raise: they quarantine the row and appear in the report.
    """


@dataclass(frozen=True, slots=True)
class MalformedRow:
    """A record that could not be read at all (bad JSON, wrong number of CSV fields)."""

    row_number: int
    reason: str


@dataclass(frozen=True, slots=True)
class RawTable:
    """A table as read from a file: every value is text (or None), nothing is coerced yet."""

    path: Path
    kind: TableKind
    frame: pd.DataFrame
    malformed: tuple[MalformedRow, ...] = field(default=())

    @property
    def source(self) -> str:
        return str(self.path)


def schema_columns(kind: TableKind) -> tuple[dict[str, str], tuple[str, ...]]:
    """The column dtypes and the required columns of a table kind."""
    if kind == "leads":
        return LEAD_COLUMNS, LEAD_REQUIRED
    if kind == "events":
        return EVENT_COLUMNS, EVENT_REQUIRED
    raise ValueError(f"unknown table kind {kind!r}; expected 'leads' or 'events'")


def check_required_columns(columns: list[str], kind: TableKind, source: str) -> None:
    """Raise ContractError naming the source and the missing columns, if any are missing."""
    dtypes, required = schema_columns(kind)
    missing = [c for c in required if c not in columns]
    if missing:
        raise ContractError(
            f"{source}: required {kind} column(s) {', '.join(repr(c) for c in missing)} "
            f"missing; expected the columns {', '.join(dtypes)} "
            f"(required: {', '.join(required)}). Add the column(s) to the file's header."
        )


def read_table(path: Path, kind: TableKind) -> RawTable:
    """Read a .csv, .jsonl or .ndjson file as text; malformed records are kept as MalformedRow."""
    path = Path(path)
    schema_columns(kind)  # fail on a bad kind before touching the file
    suffix = path.suffix.lower()
    try:
        if suffix in CSV_SUFFIXES:
            columns, rows, numbers, malformed = _read_csv(path)
        elif suffix in JSONL_SUFFIXES:
            columns, rows, numbers, malformed = _read_jsonl(path)
        else:
            raise ContractError(
                f"{path}: cannot tell the format from the suffix {suffix!r}; "
                "name the file .csv, .jsonl or .ndjson"
            )
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"{path}: not UTF-8 text (byte {exc.start}); export the file as UTF-8"
        ) from exc
    if not columns and malformed:
        raise ContractError(
            f"{path}: none of its {len(malformed)} records could be read "
            f"(first: {malformed[0].reason}); check that the file is {kind} data"
        )
    check_required_columns(columns, kind, str(path))
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    frame.index = pd.Index(numbers, name=ROW_NUMBER, dtype="int64")
    return RawTable(path=path, kind=kind, frame=frame, malformed=tuple(malformed))


_Read = tuple[list[str], list[list[Any]], list[int], list[MalformedRow]]


def _read_csv(path: Path) -> _Read:
    # utf-8-sig: spreadsheet exports often start with a byte-order mark that would stick to
    # the first column's name.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return [], [], [], []
        columns = [name.strip() for name in header]
        _check_unique_header(columns, path)
        rows: list[list[Any]] = []
        numbers: list[int] = []
        malformed: list[MalformedRow] = []
        start = reader.line_num + 1
        for record in reader:
            # line_num counts physical lines read so far, so a record starts one line after
            # the previous record ended.
            line, start = start, reader.line_num + 1
            if not record:
                continue  # a blank line is not a record
            if len(record) != len(columns):
                malformed.append(
                    MalformedRow(
                        line,
                        f"line {line} has {len(record)} fields but the header has "
                        f"{len(columns)}; quote values that contain commas",
                    )
                )
                continue
            rows.append(list(record))
            numbers.append(line)
    return columns, rows, numbers, malformed


def _read_jsonl(path: Path) -> _Read:
    columns: dict[str, None] = {}  # insertion-ordered set of the keys seen
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    malformed: list[MalformedRow] = []
    for line, text in _numbered_lines(path):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            # exc.msg and the position never quote the content, so no personal data leaks here.
            malformed.append(
                MalformedRow(
                    line, f"line {line} is not valid JSON ({exc.msg} at character {exc.pos + 1})"
                )
            )
            continue
        if not isinstance(record, dict):
            malformed.append(
                MalformedRow(line, f"line {line} is a JSON {type(record).__name__}, not an object")
            )
            continue
        columns.update(dict.fromkeys(str(k).strip() for k in record))
        records.append({str(k).strip(): _as_text(v) for k, v in record.items()})
        numbers.append(line)
    names = list(columns)
    rows = [[record.get(name) for name in names] for record in records]
    return names, rows, numbers, malformed


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8-sig") as handle:
        yield from enumerate(handle, start=1)


def _as_text(value: Any) -> Any:
    """JSON scalars become their text so coercion treats both formats alike.

    Objects and arrays stay as they are so that coercion reports them as the wrong type.
    """
    if value is None or isinstance(value, dict | list):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _check_unique_header(columns: list[str], path: Path) -> None:
    repeated = sorted(name for name, count in Counter(columns).items() if count > 1)
    if repeated:
        raise ContractError(
            f"{path}: the header repeats column(s) {', '.join(map(repr, repeated))}; "
            "keep one column of each name"
        )
