"""The audit trail: every score and every queue position served, with its model and its rules.

TCPA/TSR records are kept for years (DOMAIN.md), so each row says who asked, when, about which
lead, with which model version, at which rank and lane, with which reasons, and which compliance
decision applied. No personal data: leads appear by id only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Column, DateTime, Engine, Float, Integer, String, Table, Text, select

from serving.db import metadata

ACTIONS: Final = (
    "score",
    "explanation",
    "lead_detail",
    "queue_item",
    "queue_held_back",
)
"""score: POST /v1/score; explanation: every feature's contribution; lead_detail: the score on
the lead page; queue_item: a lead shown in a queue; queue_held_back: a lead the rules kept out."""

audit_table = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("request_id", String(64), nullable=False, index=True),
    Column("actor", String(100), nullable=False),
    Column("actor_role", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("officer_id", String(64)),
    Column("lead_id", String(64), nullable=False, index=True),
    Column("model_version", String(200)),
    Column("rank", Integer),
    Column("lane", String(16)),
    Column("probability", Float),
    Column("tier", String(16)),
    Column("channel", String(16)),
    Column("rule", String(32)),
    Column("decision", Text),
    Column("reasons", Text),
)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited fact about one lead. decision and reasons are JSON-able."""

    at: datetime
    request_id: str
    actor: str
    actor_role: str
    action: str
    lead_id: str
    model_version: str | None = None
    officer_id: str | None = None
    rank: int | None = None
    lane: str | None = None
    probability: float | None = None
    tier: str | None = None
    channel: str | None = None
    rule: str | None = None
    decision: dict[str, Any] | None = None
    reasons: list[dict[str, Any]] | None = None


_FIELDS: Final = tuple(f.name for f in fields(AuditRecord))


def _row(record: AuditRecord) -> dict[str, Any]:
    # Shallow on purpose: dataclasses.asdict deep-copies every reason list (most of the cost
    # of auditing a 1,000-lead score).
    row = {name: getattr(record, name) for name in _FIELDS}
    row["at"] = record.at.astimezone(UTC).replace(tzinfo=None)
    row["decision"] = None if record.decision is None else json.dumps(record.decision)
    row["reasons"] = None if record.reasons is None else json.dumps(record.reasons)
    return row


class AuditLog:
    """Append-only audit rows in the serving tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, records: Sequence[AuditRecord]) -> int:
        """Append records in one transaction; returns how many."""
        if not records:
            return 0
        with self.engine.begin() as conn:
            conn.execute(audit_table.insert(), [_row(r) for r in records])
        return len(records)

    def read(
        self,
        *,
        lead_id: str | None = None,
        since: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Rows, newest first, filtered; decision and reasons parsed back from JSON."""
        query = select(audit_table).order_by(audit_table.c.id.desc()).limit(limit)
        if lead_id is not None:
            query = query.where(audit_table.c.lead_id == lead_id)
        if since is not None:
            query = query.where(audit_table.c.at >= since.astimezone(UTC).replace(tzinfo=None))
        if actor is not None:
            query = query.where(audit_table.c.actor == actor)
        if action is not None:
            query = query.where(audit_table.c.action == action)
        with self.engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
        for row in rows:
            row["at"] = row["at"].replace(tzinfo=UTC).isoformat()
            for key in ("decision", "reasons"):
                row[key] = None if row[key] is None else json.loads(row[key])
        return rows
