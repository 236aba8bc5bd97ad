"""Feast's SQLite online store with one row per entity instead of one row per feature value.

Feast 0.67's SqliteOnlineStore keeps a row per (entity, feature) and writes a batch with one
INSERT ... ON CONFLICT statement per value: a full build's 120k leads x 39 values took 57 s
there, and even one executemany of those 4.6M rows costs about 20 s of SQLite B-tree work. This
store (Feast's documented way to plug in an online store: the class path in
feature_store.yaml) keeps one row per entity: the view's values as one serialized Feast
`RepeatedValue`, their feature names, and the event and write times. A batch is one
executemany in one transaction; a read is one row per entity. Table creation, the write and the
read are here; connection handling and the database file are Feast's SqliteOnlineStore's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.sqlite import (
    SqliteOnlineStore,
    SqliteOnlineStoreConfig,
    _quote_id,
    _table_id,
)
from feast.protos.feast.types.Value_pb2 import RepeatedValue

STORE_TYPE = "features.online_sqlite.EntityRowSqliteOnlineStore"
SQLITE_PARAMETERS = 900
"""Entity keys a read binds at a time (below SQLite's oldest default limit of 999)."""


class EntityRowSqliteOnlineStoreConfig(SqliteOnlineStoreConfig):
    """SqliteOnlineStoreConfig under this store's type name (Feast finds it by that name)."""

    type: Literal["features.online_sqlite.EntityRowSqliteOnlineStore"] = STORE_TYPE  # type: ignore[assignment]


def _epoch_s(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # Feast's convention: a naive time is UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class EntityRowSqliteOnlineStore(SqliteOnlineStore):
    """A SQLite online store holding each entity's values of a view in one row."""

    def _get_conn(self, config: Any) -> sqlite3.Connection:
        fresh = self._conn is None
        conn: sqlite3.Connection = super()._get_conn(config)
        if fresh:
            # WAL: the service reads while a build writes; NORMAL: a commit does not wait for
            # fsync (the online store is rebuilt from the event log, the source of truth).
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _rows_table(self, config: Any, table: Any) -> str:
        name = _table_id(
            config.project, table, config.registry.enable_online_feature_view_versioning
        )
        return f"{name}__entity_rows"

    def _create(self, conn: sqlite3.Connection, name: str) -> None:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {_quote_id(name)} (entity_key BLOB PRIMARY KEY, "
            "feature_names TEXT NOT NULL, vals BLOB NOT NULL, event_ts REAL, created_ts REAL)"
        )

    def update(
        self,
        config: Any,
        tables_to_delete: Sequence[Any],
        tables_to_keep: Sequence[Any],
        entities_to_delete: Sequence[Any],
        entities_to_keep: Sequence[Any],
        partial: bool,
    ) -> None:
        del entities_to_delete, entities_to_keep, partial  # a table a view; entities need none
        conn = self._get_conn(config)
        with conn:
            for table in tables_to_keep:
                self._create(conn, self._rows_table(config, table))
            for table in tables_to_delete:
                conn.execute(f"DROP TABLE IF EXISTS {_quote_id(self._rows_table(config, table))}")

    def online_write_batch(
        self,
        config: Any,
        table: Any,
        data: list[Any],
        progress: Callable[[int], Any] | None,
    ) -> None:
        conn = self._get_conn(config)
        name = self._rows_table(config, table)
        version = config.entity_key_serialization_version
        rows = [
            (
                serialize_entity_key(entity_key, entity_key_serialization_version=version),
                ",".join(values),
                RepeatedValue(val=values.values()).SerializeToString(),
                _epoch_s(event_ts),
                _epoch_s(created_ts),
            )
            for entity_key, values, event_ts, created_ts in data
        ]
        with conn:
            self._create(conn, name)  # a view applied before this store's first write
            conn.executemany(
                f"INSERT INTO {_quote_id(name)} "
                "(entity_key, feature_names, vals, event_ts, created_ts) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(entity_key) DO UPDATE SET feature_names = excluded.feature_names, "
                "vals = excluded.vals, event_ts = excluded.event_ts, "
                "created_ts = excluded.created_ts",
                rows,
            )
        if progress:
            progress(len(data))

    def online_read(
        self,
        config: Any,
        table: Any,
        entity_keys: list[Any],
        requested_features: list[str] | None = None,
    ) -> list[tuple[datetime | None, dict[str, Any] | None]]:
        conn = self._get_conn(config)
        name = self._rows_table(config, table)
        version = config.entity_key_serialization_version
        keys = [
            serialize_entity_key(key, entity_key_serialization_version=version)
            for key in entity_keys
        ]
        found: dict[bytes, tuple[str, bytes, float | None]] = {}
        for start in range(0, len(keys), SQLITE_PARAMETERS):
            chunk = keys[start : start + SQLITE_PARAMETERS]
            try:
                rows = conn.execute(
                    f"SELECT entity_key, feature_names, vals, event_ts FROM {_quote_id(name)} "
                    f"WHERE entity_key IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
            except sqlite3.OperationalError as error:
                if "no such table" in str(error):  # nothing written yet
                    return [(None, None)] * len(keys)
                raise
            found.update((row[0], row[1:]) for row in rows)
        wanted = set(requested_features) if requested_features else None
        result: list[tuple[datetime | None, dict[str, Any] | None]] = []
        for key in keys:
            row = found.get(key)
            if row is None:
                result.append((None, None))
                continue
            names, blob, event_s = row
            values = dict(zip(names.split(","), RepeatedValue.FromString(blob).val, strict=True))
            if wanted is not None:
                values = {name: value for name, value in values.items() if name in wanted}
            moment = None if event_s is None else datetime.fromtimestamp(event_s, UTC)
            result.append((moment, values))
        return result
