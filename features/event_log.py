"""The event log: an append-only SQL store of leads, events, market rates and quarantined rows.

SQLite file (WAL mode) by default, any SQLAlchemy URL otherwise (PostgreSQL at scale). Events are
idempotent by event_id: a re-delivered event is a no-op, reported as a duplicate. Each write is
one transaction: a batch is stored whole (its valid part) or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

from data_contracts.schemas import EVENT_COLUMNS, LEAD_COLUMNS, MARKET_RATE_COLUMNS

metadata = MetaData()

leads_table = Table(
    "leads",
    metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("officer_id", String(64), nullable=False, index=True),
    Column("created_at", DateTime, nullable=False, index=True),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("email", String(254), nullable=False),
    Column("state", String(2), nullable=False),
    Column("time_zone", String(64)),
    Column("source", String(32), nullable=False),
    Column("loan_type", String(32), nullable=False),
    Column("loan_amount_usd", Float, nullable=False),
    Column("credit_band", String(16), nullable=False),
    Column("quoted_rate_pct", Float, nullable=False),
    Column("timeline_statement", Text, nullable=False),
    Column("consent_call", Boolean, nullable=False),
    Column("consent_text", Boolean, nullable=False),
    Column("consent_email", Boolean, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)
"""created_at is indexed for the team report, which reads the leads created in a window."""

events_table = Table(
    "events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("lead_id", String(64), nullable=False, index=True),
    Column("occurred_at", DateTime, nullable=False, index=True),
    Column("event_type", String(32), nullable=False),
    Column("channel", String(16)),
    Column("call_outcome", String(32)),
    Column("question_topic", String(32)),
    Column("page", String(500)),
    Column("text", Text),
    Column("ingested_at", DateTime, nullable=False),
    Column("seq", BigInteger, nullable=False, unique=True),
    Index("ix_events_lead_seq", "lead_id", "seq"),
)
"""seq: the arrival order, strictly increasing in commit order (see _next_seq): the feature
build's watermark."""

sequences_table = Table(
    "sequences",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("last", BigInteger, nullable=False),
)
"""One counter row per sequence; updating it locks the row until commit, so concurrent
writers take numbers in commit order (a database sequence would not)."""

_EVENTS_SEQ = sequences_table.c.name == "events"
_LEAD_WRITES = sequences_table.c.name == "lead_writes"
"""Counts transactions that wrote lead records: with the newest event seq, a stamp of the
event log's state (serving's queue cache reuses a queue while the stamp allows)."""

lead_feature_state_table = Table(
    "lead_feature_state",
    metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("state", Text, nullable=False),
    Column("lead_updated_at", DateTime, nullable=False),
)
"""Each lead's feature fold state as of the last feature build (features.transforms.LeadFold)."""

feature_build_table = Table(
    "feature_build",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("through_seq", BigInteger, nullable=False),
    Column("built_at", DateTime, nullable=False),
)
"""The last feature build: every event with seq <= through_seq is folded into the states."""

market_rates_table = Table(
    "market_rates",
    metadata,
    Column("date", String(10), primary_key=True),
    Column("rate_30y_pct", Float, nullable=False),
)

quarantine_table = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("source", String(500), nullable=False),
    Column("row_number", Integer),
    Column("reasons", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("quarantined_at", DateTime, nullable=False),
)

QUARANTINE_META = frozenset({"origin", "row_number", "reasons", "kind"})
"""Columns data_contracts.validate adds to quarantined rows; the rest is the raw record
(note 'source' is a lead column, the lead's source, so the file is called 'origin')."""

_TIMESTAMP_COLUMNS = {"created_at", "occurred_at", "updated_at", "ingested_at", "quarantined_at"}


@dataclass(frozen=True)
class AppendResult:
    """What happened to each event of a batch."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BatchResult:
    """A stored batch: ids stored (accepted events, created or updated leads), duplicates, and
    how many rows went to quarantine."""

    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    quarantined: int = 0
    created: list[str] = field(default_factory=list)
    """Leads only: the stored ids that were new."""


@dataclass(frozen=True)
class UpsertResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


BatchObserver: TypeAlias = Callable[[Connection, str, pd.DataFrame, BatchResult], None]
"""Called inside a batch's transaction after its rows are written, with the connection, the
kind, the valid rows and what was stored: whatever it writes commits or rolls back with the batch
(serving's webhook outbox). The writers' lock is held, so it sees the batch's neighbours settled."""


def _enable_sqlite_wal(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets the API read while a batch job writes; foreign keys stay off (append-only log).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _to_naive_utc(value: Any) -> datetime | None:
    """SQL DateTime columns hold naive UTC; pandas and pydantic give us aware timestamps."""
    if value is None or (not isinstance(value, datetime) and pd.isna(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return stamp.tz_convert(UTC).tz_localize(None).to_pydatetime()


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str | bool) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _records(frame: pd.DataFrame, columns: Iterable[str]) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (timestamps naive UTC, missing values None), built
    column by column: a 1,000-event request spends microseconds a row here, not pandas' per-row
    conversions."""
    cols = list(columns)
    values: list[list[Any]] = []
    for column in cols:
        series = frame[column]
        if column in _TIMESTAMP_COLUMNS and isinstance(series.dtype, pd.DatetimeTZDtype):
            naive = series.dt.tz_convert(UTC).dt.tz_localize(None).astype(object)
            values.append([None if v is pd.NaT else v.to_pydatetime() for v in naive])
        elif column in _TIMESTAMP_COLUMNS:
            values.append([_to_naive_utc(v) for v in series.tolist()])
        else:
            values.append([_plain(v) for v in series.tolist()])
    return [dict(zip(cols, row, strict=True)) for row in zip(*values, strict=True)]


def _utc_columns(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    for column in columns:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column]).dt.tz_localize(UTC)
    return frame


class EventLog:
    """Leads, events, market rates and quarantine in one SQL database."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or self._make_engine(url)
        self._add_event_seq()
        metadata.create_all(self.engine)
        for index in leads_table.indexes:  # logs made before an index was declared
            index.create(self.engine, checkfirst=True)
        with self.engine.begin() as conn:
            if conn.execute(select(sequences_table.c.last).where(_EVENTS_SEQ)).first() is None:
                last = conn.execute(select(func.max(events_table.c.seq))).scalar()
                conn.execute(sequences_table.insert(), {"name": "events", "last": last or 0})
            if conn.execute(select(sequences_table.c.last).where(_LEAD_WRITES)).first() is None:
                conn.execute(sequences_table.insert(), {"name": "lead_writes", "last": 0})

    def _add_event_seq(self) -> None:
        """Event logs written before events had a seq get one, in arrival order."""
        columns = inspect(self.engine).get_columns("events") if self._has("events") else None
        if columns is None or any(c["name"] == "seq" for c in columns):
            return
        with self.engine.begin() as conn:
            conn.execute(text("ALTER TABLE events ADD COLUMN seq BIGINT"))
            conn.execute(
                text(
                    "UPDATE events SET seq = (SELECT n FROM (SELECT event_id, ROW_NUMBER() OVER "
                    "(ORDER BY ingested_at, event_id) AS n FROM events) AS r "
                    "WHERE r.event_id = events.event_id)"
                )
            )
            conn.execute(text("CREATE UNIQUE INDEX ix_events_seq ON events (seq)"))
            conn.execute(text("CREATE INDEX ix_events_lead_seq ON events (lead_id, seq)"))

    def _has(self, table: str) -> bool:
        return inspect(self.engine).has_table(table)

    @staticmethod
    def _make_engine(url: str) -> Engine:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _enable_sqlite_wal)
            return engine
        return create_engine(url, pool_pre_ping=True)

    def dispose(self) -> None:
        self.engine.dispose()

    # -- writes -----------------------------------------------------------------------------

    def upsert_leads(self, frame: pd.DataFrame, *, now: datetime | None = None) -> UpsertResult:
        """Create new leads and update known ones (the CRM re-sends a lead when it changes)."""
        with self.engine.begin() as conn:
            return self._upsert_leads(conn, frame, now or datetime.now(UTC))

    def append_events(self, frame: pd.DataFrame, *, now: datetime | None = None) -> AppendResult:
        """Append events; an event_id already stored (or repeated in the batch) is a duplicate."""
        with self.engine.begin() as conn:
            return self._append_events(conn, frame, now or datetime.now(UTC))

    def quarantine(self, frame: pd.DataFrame, *, kind: str, now: datetime | None = None) -> int:
        """Keep rows that failed the contracts, with their reasons; nothing is dropped silently."""
        with self.engine.begin() as conn:
            return self._quarantine(conn, frame, kind, now or datetime.now(UTC))

    def write_batch(
        self,
        kind: str,
        valid: pd.DataFrame,
        quarantined: pd.DataFrame,
        *,
        now: datetime | None = None,
        observer: BatchObserver | None = None,
    ) -> BatchResult:
        """Store a validated batch in one transaction: its valid rows and its quarantined rows.

        Either both parts are stored or neither is (a failure rolls the whole batch back); the
        observer runs last in the same transaction (see BatchObserver).
        """
        stamp = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            if kind == "leads":
                leads = self._upsert_leads(conn, valid, stamp)
                stored, duplicates, created = leads.created + leads.updated, [], leads.created
            elif kind == "events":
                events = self._append_events(conn, valid, stamp)
                stored, duplicates, created = events.accepted, events.duplicates, []
            else:
                raise ValueError(f"kind must be 'leads' or 'events', got {kind!r}")
            held = self._quarantine(conn, quarantined, kind, stamp)
            result = BatchResult(stored, duplicates, held, created)
            if observer is not None:
                observer(conn, kind, valid, result)
        return result

    def put_market_rates(self, frame: pd.DataFrame) -> int:
        """Store daily market rates; a date already stored keeps its first value."""
        rows = _records(frame, MARKET_RATE_COLUMNS)
        with self.engine.begin() as conn:
            known = self._existing(conn, market_rates_table.c.date, [r["date"] for r in rows])
            fresh = [r for r in rows if r["date"] not in known]
            if fresh:
                conn.execute(market_rates_table.insert(), fresh)
        return len(fresh)

    def _upsert_leads(self, conn: Connection, frame: pd.DataFrame, now: datetime) -> UpsertResult:
        if frame.empty:
            return UpsertResult()
        frame = frame.drop_duplicates("lead_id", keep="last").assign(updated_at=now)
        rows = _records(frame, [*LEAD_COLUMNS, "updated_at"])
        self._lock_writers(conn)
        known = self._existing(conn, leads_table.c.lead_id, [r["lead_id"] for r in rows])
        new_rows = [r for r in rows if r["lead_id"] not in known]
        old_rows = [r for r in rows if r["lead_id"] in known]
        conn.execute(
            sequences_table.update().where(_LEAD_WRITES).values(last=sequences_table.c.last + 1)
        )
        if new_rows:
            conn.execute(leads_table.insert(), new_rows)
        for row in old_rows:
            conn.execute(leads_table.update().where(leads_table.c.lead_id == row["lead_id"]), row)
        return UpsertResult(
            created=[r["lead_id"] for r in new_rows], updated=[r["lead_id"] for r in old_rows]
        )

    def _append_events(self, conn: Connection, frame: pd.DataFrame, now: datetime) -> AppendResult:
        if frame.empty:
            return AppendResult()
        repeated = frame["event_id"].duplicated(keep="first")
        batch = frame.loc[~repeated].assign(ingested_at=now)
        rows = _records(batch, [*EVENT_COLUMNS, "ingested_at"])
        ids = [r["event_id"] for r in rows]
        self._lock_writers(conn)
        known = self._existing(conn, events_table.c.event_id, ids)
        fresh = [r for r in rows if r["event_id"] not in known]
        if fresh:
            first = self._next_seq(conn, len(fresh))
            for offset, row in enumerate(fresh):
                row["seq"] = first + offset
            conn.execute(events_table.insert(), fresh)
        duplicates = [i for i in ids if i in known] + frame.loc[repeated, "event_id"].tolist()
        return AppendResult(accepted=[r["event_id"] for r in fresh], duplicates=duplicates)

    @classmethod
    def _lock_writers(cls, conn: Connection) -> None:
        """Take the event counter's row lock before checking which ids are stored: another
        process writing the same ids waits here until this transaction ends, then sees them
        stored (a duplicate) instead of inserting them twice (a unique-key error)."""
        cls._next_seq(conn, 0)

    @staticmethod
    def _next_seq(conn: Connection, count: int) -> int:
        """Reserve `count` event numbers; the counter row stays locked until this commits."""
        last = conn.execute(
            sequences_table.update()
            .where(_EVENTS_SEQ)
            .values(last=sequences_table.c.last + count)
            .returning(sequences_table.c.last)
        ).scalar_one()
        return int(last) - count + 1

    def _quarantine(self, conn: Connection, frame: pd.DataFrame, kind: str, now: datetime) -> int:
        if frame.empty:
            return 0
        stamp = _to_naive_utc(now)
        rows = []
        for record in frame.to_dict(orient="records"):
            raw = {
                str(k): (None if _is_missing(v) else str(v))
                for k, v in record.items()
                if k not in QUARANTINE_META
            }
            row_number: Any = record.get("row_number")
            rows.append(
                {
                    "kind": kind,
                    "source": str(record.get("origin", "")),
                    "row_number": None if _is_missing(row_number) else int(row_number),
                    "reasons": _reasons_text(record.get("reasons")),
                    "raw": json.dumps(raw, sort_keys=True),
                    "quarantined_at": stamp,
                }
            )
        conn.execute(quarantine_table.insert(), rows)
        return len(rows)

    # -- reads ------------------------------------------------------------------------------

    def leads(
        self,
        *,
        lead_ids: Sequence[str] | None = None,
        officer_id: str | None = None,
        lead_range: tuple[str, str] | None = None,
    ) -> pd.DataFrame:
        """Leads by id, optionally some ids, an officer's, or an inclusive id range."""
        if lead_ids is not None and len(lead_ids) > 900:  # SQLite's parameter limit
            ids = list(dict.fromkeys(lead_ids))
            parts = [
                self.leads(lead_ids=ids[i : i + 900], officer_id=officer_id)
                for i in range(0, len(ids), 900)
            ]
            return pd.concat(parts, ignore_index=True).sort_values("lead_id").reset_index(drop=True)
        query = select(leads_table)
        if lead_ids is not None:
            query = query.where(leads_table.c.lead_id.in_(list(lead_ids)))
        if lead_range is not None:
            query = query.where(leads_table.c.lead_id.between(*lead_range))
        if officer_id is not None:
            query = query.where(leads_table.c.officer_id == officer_id)
        with self.engine.connect() as conn:
            frame = pd.read_sql(query.order_by(leads_table.c.lead_id), conn)
        for column in ("consent_call", "consent_text", "consent_email"):
            frame[column] = frame[column].astype(bool)
        return _utc_columns(frame, ("created_at", "updated_at"))

    def events(
        self,
        *,
        lead_ids: Sequence[str] | None = None,
        until: datetime | None = None,
        after_seq: int | None = None,
        through_seq: int | None = None,
        lead_range: tuple[str, str] | None = None,
    ) -> pd.DataFrame:
        """Events in time order (then by id), optionally for some leads (ids, or an inclusive
        id range), up to a time, and within an arrival window (after_seq < seq <= through_seq).
        """
        query = select(*[events_table.c[c] for c in EVENT_COLUMNS], events_table.c.seq)
        if lead_ids is not None:
            ids = list(dict.fromkeys(lead_ids))
            if len(ids) > 900:  # over SQLite's parameter limit: read in chunks
                parts = [
                    self.events(
                        lead_ids=ids[i : i + 900],
                        until=until,
                        after_seq=after_seq,
                        through_seq=through_seq,
                    )
                    for i in range(0, len(ids), 900)
                ]
                return (
                    pd.concat(parts, ignore_index=True)
                    .sort_values(["occurred_at", "event_id"], kind="stable")
                    .reset_index(drop=True)
                )
            query = query.where(events_table.c.lead_id.in_(ids))
        if lead_range is not None:
            query = query.where(events_table.c.lead_id.between(*lead_range))
        if until is not None:
            query = query.where(events_table.c.occurred_at <= _to_naive_utc(until))
        if after_seq is not None:
            query = query.where(events_table.c.seq > after_seq)
        if through_seq is not None:
            query = query.where(events_table.c.seq <= through_seq)
        query = query.order_by(events_table.c.occurred_at, events_table.c.event_id)
        with self.engine.connect() as conn:
            frame = pd.read_sql(query, conn)
        return _utc_columns(frame, ("occurred_at",))

    def lead_records(self, lead_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Lead rows as dicts (created_at, updated_at aware UTC): the few-leads path, no frame."""
        found: list[dict[str, Any]] = []
        ids = list(dict.fromkeys(lead_ids))
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 900):
                query = select(leads_table).where(
                    leads_table.c.lead_id.in_(ids[start : start + 900])
                )
                found.extend(_aware(dict(row)) for row in conn.execute(query).mappings())
        return found

    def event_records(
        self, lead_ids: Sequence[str], *, after_seq: int = 0, through_seq: int | None = None
    ) -> list[dict[str, Any]]:
        """These leads' events with after_seq < seq (<= through_seq) as dicts (occurred_at aware
        UTC), read through the (lead_id, seq) index: the cost is the events, not the history."""
        found: list[dict[str, Any]] = []
        ids = list(dict.fromkeys(lead_ids))
        columns = [*[events_table.c[c] for c in EVENT_COLUMNS], events_table.c.seq]
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 900):
                query = select(*columns).where(
                    events_table.c.lead_id.in_(ids[start : start + 900]),
                    events_table.c.seq > after_seq,
                )
                if through_seq is not None:
                    query = query.where(events_table.c.seq <= through_seq)
                found.extend(_aware(dict(row)) for row in conn.execute(query).mappings())
        return found

    def newest_event_seqs(self, lead_ids: Sequence[str]) -> dict[str, int]:
        """Each lead's newest event seq (leads without events are absent), through the
        (lead_id, seq) index: seq grows in commit order, so a lead whose value moved has a new
        committed event."""
        found: dict[str, int] = {}
        ids = list(dict.fromkeys(lead_ids))
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 900):
                query = (
                    select(events_table.c.lead_id, func.max(events_table.c.seq))
                    .where(events_table.c.lead_id.in_(ids[start : start + 900]))
                    .group_by(events_table.c.lead_id)
                )
                found.update((str(lead), int(seq)) for lead, seq in conn.execute(query))
        return found

    def last_event_seq(self) -> int:
        """The newest committed event's seq (0 when there is none)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(events_table.c.seq))).scalar() or 0)

    def change_stamp(self) -> tuple[int, int]:
        """(newest committed event seq, lead-writing transactions so far): equal stamps mean
        no event and no lead record was written in between (one read of two counter rows)."""
        with self.engine.connect() as conn:
            rows = dict(
                conn.execute(
                    select(sequences_table.c.name, sequences_table.c.last).where(
                        sequences_table.c.name.in_(("events", "lead_writes"))
                    )
                ).all()
            )
        return int(rows.get("events", 0)), int(rows.get("lead_writes", 0))

    def officer_events_after(self, officer_id: str, seq: int) -> bool:
        """Whether an event with a seq above this one belongs to one of the officer's leads:
        reads only the events that arrived since (the seq index), not the officer's history."""
        officers_leads = select(leads_table.c.lead_id).where(leads_table.c.officer_id == officer_id)
        query = (
            select(events_table.c.seq)
            .where(events_table.c.seq > seq, events_table.c.lead_id.in_(officers_leads))
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def lead_id_ranges(self, leads_per_range: int) -> list[tuple[str, str]]:
        """Inclusive lead_id ranges of about this many leads each, in id order."""
        with self.engine.connect() as conn:
            ids = list(
                conn.execute(
                    select(leads_table.c.lead_id).order_by(leads_table.c.lead_id)
                ).scalars()
            )
        return [
            (ids[i], ids[min(i + leads_per_range, len(ids)) - 1])
            for i in range(0, len(ids), leads_per_range)
        ]

    def leads_changed_since_fold(self) -> list[str]:
        """Leads created or changed by the CRM after their fold state was saved (or without)."""
        state = lead_feature_state_table
        query = (
            select(leads_table.c.lead_id)
            .outerjoin(state, state.c.lead_id == leads_table.c.lead_id)
            .where(
                (state.c.lead_id.is_(None)) | (leads_table.c.updated_at > state.c.lead_updated_at)
            )
        )
        with self.engine.connect() as conn:
            return [str(i) for i in conn.execute(query).scalars()]

    # -- the feature build's state ---------------------------------------------------------

    def feature_watermark(self) -> tuple[int, datetime] | None:
        """(through_seq, built_at) of the last feature build, or None before the first."""
        query = select(feature_build_table).where(feature_build_table.c.name == "features")
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return int(row.through_seq), row.built_at.replace(tzinfo=UTC)

    def lead_feature_states(self, lead_ids: Sequence[str] | None = None) -> dict[str, str]:
        """Fold states (JSON) by lead as of the last build; all leads when lead_ids is None."""
        table = lead_feature_state_table
        found: dict[str, str] = {}
        query = select(table.c.lead_id, table.c.state)
        with self.engine.connect() as conn:
            if lead_ids is None:
                found.update((str(a), str(b)) for a, b in conn.execute(query))
                return found
            ids = list(dict.fromkeys(lead_ids))
            for start in range(0, len(ids), 900):
                chunk = query.where(table.c.lead_id.in_(ids[start : start + 900]))
                found.update((str(a), str(b)) for a, b in conn.execute(chunk))
        return found

    def save_feature_build(
        self,
        states: dict[str, tuple[str, datetime]],
        *,
        through_seq: int,
        built_at: datetime,
        replace: bool = False,
    ) -> None:
        """Store fold states (JSON, and the lead record's updated_at they were folded with) and
        the build's watermark in one transaction (replace: the old states are dropped)."""
        table = lead_feature_state_table
        rows = [
            {"lead_id": k, "state": v, "lead_updated_at": _to_naive_utc(u)}
            for k, (v, u) in states.items()
        ]
        with self.engine.begin() as conn:
            if replace:
                conn.execute(table.delete())
            else:
                ids = list(states)
                for start in range(0, len(ids), 900):
                    conn.execute(
                        table.delete().where(table.c.lead_id.in_(ids[start : start + 900]))
                    )
            for start in range(0, len(rows), 50_000):
                conn.execute(table.insert(), rows[start : start + 50_000])
            conn.execute(
                feature_build_table.delete().where(feature_build_table.c.name == "features")
            )
            conn.execute(
                feature_build_table.insert(),
                {
                    "name": "features",
                    "through_seq": through_seq,
                    "built_at": _to_naive_utc(built_at),
                },
            )

    def market_rates(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return pd.read_sql(select(market_rates_table).order_by(market_rates_table.c.date), conn)

    def quarantined(self, *, kind: str | None = None) -> pd.DataFrame:
        query = select(quarantine_table).order_by(quarantine_table.c.id)
        if kind is not None:
            query = query.where(quarantine_table.c.kind == kind)
        with self.engine.connect() as conn:
            return pd.read_sql(query, conn)

    def lead_created_at(self, lead_ids: Sequence[str] | None = None) -> pd.Series:
        """created_at by lead_id (UTC), for the 'not before the lead existed' rule."""
        query = select(leads_table.c.lead_id, leads_table.c.created_at)
        if lead_ids is not None and len(lead_ids) <= 900:  # else read all: one query, no limit
            query = query.where(leads_table.c.lead_id.in_(list(lead_ids)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()  # no pandas read: an API ingest asks for a few
        return pd.Series(
            pd.to_datetime([r[1] for r in rows]).tz_localize(UTC).to_numpy(),
            index=pd.Index([str(r[0]) for r in rows], dtype=object),
            name="created_at",
            dtype="datetime64[ns, UTC]",
        )

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for table in (leads_table, events_table, market_rates_table, quarantine_table)
            }

    def ping(self) -> None:
        """Raise if the database cannot be reached (readiness checks)."""
        with self.engine.connect() as conn:
            conn.execute(select(1))

    @staticmethod
    def _existing(conn: Connection, column: Column[Any], ids: list[str]) -> set[str]:
        found: set[str] = set()
        # chunks keep the IN list under SQLite's bound-parameter limit
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            found.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
        return found


def _aware(record: dict[str, Any]) -> dict[str, Any]:
    """SQL's naive UTC timestamps as aware ones."""
    for key in _TIMESTAMP_COLUMNS:
        value = record.get(key)
        if isinstance(value, datetime) and value.tzinfo is None:
            record[key] = value.replace(tzinfo=UTC)
    return record


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _reasons_text(reasons: Any) -> str:
    if isinstance(reasons, list | tuple):
        return "; ".join(str(r) for r in reasons)
    return "" if _is_missing(reasons) else str(reasons)
