"""API ingestion: records through the data contracts into the event log, with a result per item.

The same contract as `leadscore ingest`, checked by data_contracts.validate_records (the rule
catalogue in plain Python; Great Expectations, with its fixed ~0.3 s a call, stays with files
and batches), then one EventLog.write_batch transaction: valid rows stored, failing rows
quarantined. Each request item is mapped back to what happened to it: accepted, duplicate (an
event id already stored, or an exact repeat in the request) or rejected with the contract's
reasons ("rule: column: problem", never a value).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from data_contracts.reading import ROW_NUMBER
from data_contracts.records import validate_records
from data_contracts.report import ValidationReport
from features.event_log import BatchObserver, EventLog

RecordKind = Literal["leads", "events"]
ItemStatus = Literal["accepted", "duplicate", "rejected"]

_REASON_SPLIT: Final = re.compile(r"; (?=[a-z_]+: )")
REPEATED_IN_REQUEST: Final = "the same record appears earlier in this request"
ALREADY_STORED: Final = "an event with this event_id is already stored"


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What happened to one request item (index: its 0-based position in the request)."""

    index: int
    id: str | None
    lead_id: str | None
    status: ItemStatus
    reasons: tuple[str, ...] = ()
    created: bool | None = None
    """Leads only: True when the lead is new, False when an existing lead was updated."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "id": self.id,
            "lead_id": self.lead_id,
            "status": self.status,
            "reasons": list(self.reasons),
        }
        if self.created is not None:
            data["created"] = self.created
        return data


@dataclass(frozen=True)
class IngestOutcome:
    """Per-item results, the leads whose stored features changed, and the contract report."""

    kind: RecordKind
    items: list[ItemResult]
    touched_lead_ids: list[str]
    report: ValidationReport
    seconds: dict[str, float] = field(default_factory=dict)

    def count(self, status: ItemStatus) -> int:
        return sum(item.status == status for item in self.items)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def ingest_records(
    log: EventLog,
    kind: RecordKind,
    records: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    source: str = "api",
    write_lock: AbstractContextManager[object] | None = None,
    observer: BatchObserver | None = None,
) -> IngestOutcome:
    """Validate and store leads or events given as dicts of the schema's columns.

    Validation keeps no shared state and runs concurrently; write_lock (held only while the
    event log is written) keeps check-then-insert idempotence whole when several threads ingest
    at once. observer runs in the batch's transaction (the webhook
    outbox: an event it writes is stored exactly when the rows that caused it are).
    """
    key = "lead_id" if kind == "leads" else "event_id"
    seconds: dict[str, float] = {}

    clock = time.perf_counter()
    created_at = None
    if kind == "events":
        ids = sorted({str(r["lead_id"]) for r in records if r.get("lead_id") is not None})
        created_at = log.lead_created_at(ids)
    result = validate_records(
        kind, records, now=now, lead_created_at=created_at, source=f"{source}:{kind}"
    )
    seconds["validate"] = time.perf_counter() - clock

    clock = time.perf_counter()
    valid = result.valid
    with write_lock or nullcontext():
        batch = log.write_batch(
            kind, valid.reset_index(drop=True), result.quarantined, now=now, observer=observer
        )
    seconds["store"] = time.perf_counter() - clock

    rejected = {
        int(row): tuple(_REASON_SPLIT.split(str(reasons)))
        for row, reasons in zip(
            result.quarantined[ROW_NUMBER], result.quarantined["reasons"], strict=True
        )
    }
    stored, new_leads = set(batch.stored), set(batch.created)
    valid_keys = dict(zip(valid.index.astype(int), valid[key].astype(str), strict=True))
    items: list[ItemResult] = []
    touched: list[str] = []
    counted: set[str] = set()
    for position, record in enumerate(records):
        row = position + 1
        item_id, lead_id = _text(record.get(key)), _text(record.get("lead_id"))
        if row in rejected:
            items.append(ItemResult(position, item_id, lead_id, "rejected", rejected[row]))
        elif row not in valid_keys:
            items.append(
                ItemResult(position, item_id, lead_id, "duplicate", (REPEATED_IN_REQUEST,))
            )
        elif valid_keys[row] in stored and valid_keys[row] not in counted:
            counted.add(valid_keys[row])
            created = (valid_keys[row] in new_leads) if kind == "leads" else None
            items.append(ItemResult(position, item_id, lead_id, "accepted", (), created))
            if lead_id is not None:
                touched.append(lead_id)
        else:
            reason = ALREADY_STORED if kind == "events" else REPEATED_IN_REQUEST
            items.append(ItemResult(position, item_id, lead_id, "duplicate", (reason,)))
            if kind == "events" and lead_id is not None:
                # a retry: the first delivery may have been stored and then lost its online
                # push (the server killed, the online store down); the refresh repeats it
                touched.append(lead_id)
    return IngestOutcome(
        kind=kind,
        items=items,
        touched_lead_ids=sorted(set(touched)),
        report=result.report,
        seconds=seconds,
    )
