"""A process-local read-through cache of each lead's stored online features.

Feast's Python client decodes every value from protobuf, so reading 2,000 leads costs about a
second: too slow for a queue. Stored features change only when an event is ingested, and clock
features are a pure function of stored moments and the request time. So this cache keeps each
lead's *stored* row (invalidated when this process pushes the lead, expiring after a short TTL
so another worker's pushes show up) and derives the clock features at request time with
features.transforms.derive_clock_features, the function Feast's on-demand view runs: the
values equal Feast's online read (tests/api/test_online_cache.py proves it).

Refresh-ahead: a lead read recently is re-read from Feast in the background shortly before its
entry expires (refresh_ahead, run by the serving context), so an officer who opens the queue
every few minutes does not pay Feast's decoding each time, while no value is older than the TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from features.definitions import CLOCK_FEATURES, FEATURE_NAMES, FEATURES_BY_NAME
from features.store import RATE_SERIES, LeadFeatureStore
from features.transforms import (
    CLOCK_INPUTS,
    MARKET_RATE_COLUMN,
    STORED_COLUMNS,
    derive_clock_features,
)

FEATURE_VIEW: Final = "lead_activity"
"""The Feast feature view holding the stored columns (features/feature_repo/lead_features.py)."""

STORED_FIELDS: Final[tuple[str, ...]] = ("officer_id", *STORED_COLUMNS, MARKET_RATE_COLUMN)
"""A lead's stored row as the cache keeps it, with the market rate read beside it."""
PRESENCE_FIELD: Final = "source"
"""A stored column every real row has (the lead's source): missing means Feast has no row."""
OPEN_FIELD: Final = "is_open"
"""A closed lead (applied, or opted out of every channel) reads as having no features."""
_REFS: Final = [f"{FEATURE_VIEW}:{name}" for name in STORED_FIELDS[:-1]] + [
    f"market_rates:{MARKET_RATE_COLUMN}"
]
_CLOCK_READS: Final[tuple[str, ...]] = (*CLOCK_INPUTS, MARKET_RATE_COLUMN)

_Row = tuple[Any, ...]
_POSITION: Final = {name: i for i, name in enumerate(STORED_FIELDS)}


def _default_row() -> _Row:
    """What a lead without online features reads as: zero counts, missing everything else."""
    return tuple(0 if STORED_COLUMNS.get(name) == "int64" else None for name in STORED_FIELDS)


_MISSING_ROW: Final = _default_row()


class OnlineFeatureCache:
    """Stored online rows by lead, read through from Feast; thread-safe."""

    def __init__(
        self,
        store: LeadFeatureStore,
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        store_lock: threading.RLock | None = None,
    ) -> None:
        self.store = store
        self.store_lock = store_lock or threading.RLock()
        """Held around every Feast call: its SQLite online store shares one connection."""
        self.ttl_s = ttl_s
        self._clock = clock
        self._rows: dict[str, tuple[float, _Row | None]] = {}
        self._invalidated_at: dict[str, int] = {}
        self._used: dict[str, float] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.refreshed = 0

    def __len__(self) -> int:
        return len(self._rows)

    def invalidate(self, lead_ids: Sequence[str]) -> None:
        """Forget these leads (this process just pushed them); the next read goes to Feast."""
        with self._lock:
            self._generation += 1
            for lead_id in lead_ids:
                self._rows.pop(lead_id, None)
                self._invalidated_at[lead_id] = self._generation

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._rows.clear()
            self._invalidated_at.clear()
            self._used.clear()

    def _keep(self, fetched: dict[str, _Row | None], expires: float, generation: int) -> None:
        with self._lock:
            for lead_id, row in fetched.items():
                # A push that landed while we read Feast wins: keep the lead uncached.
                if self._invalidated_at.get(lead_id, 0) <= generation:
                    self._rows[lead_id] = (expires, row)

    def refresh_ahead(self, *, within_s: float, used_within_s: float, chunk: int = 250) -> int:
        """Re-read leads used in the last used_within_s whose entries expire within within_s;
        forget expired entries nobody used lately. Returns how many leads were re-read.

        Reads go in chunks so a request waiting on the same locks never waits for all of them.
        """
        now = self._clock()
        with self._lock:
            generation = self._generation
            due = [
                lead_id
                for lead_id, (expires, _) in self._rows.items()
                if expires - now <= within_s
                and now - self._used.get(lead_id, -1e18) <= used_within_s
            ]
            idle = [
                lead_id
                for lead_id, used in self._used.items()
                if now - used > used_within_s and self._rows.get(lead_id, (0.0, None))[0] <= now
            ]
            for lead_id in idle:
                self._rows.pop(lead_id, None)
                self._used.pop(lead_id, None)
        for start in range(0, len(due), chunk):
            part = due[start : start + chunk]
            self._keep(self._fetch(part), self._clock() + self.ttl_s, generation)
        self.refreshed += len(due)
        return len(due)

    def _fetch(self, lead_ids: Sequence[str]) -> dict[str, _Row | None]:
        entity_rows = [{"lead_id": lead_id, "rate_series": RATE_SERIES} for lead_id in lead_ids]
        with self.store_lock:
            response = self.store.store.get_online_features(
                features=_REFS, entity_rows=entity_rows
            ).to_dict()
        columns = [response[name] for name in STORED_FIELDS]
        present = [
            p is not None and o == 1
            for p, o in zip(response[PRESENCE_FIELD], response[OPEN_FIELD], strict=True)
        ]
        rows = zip(*columns, strict=True) if columns else iter(())
        return {
            str(lead_id): (row if present[k] else None)
            for k, (lead_id, row) in enumerate(zip(response["lead_id"], rows, strict=True))
        }

    def rows(self, lead_ids: Sequence[str]) -> list[_Row | None]:
        """Each lead's stored row (None: Feast has none), from the cache or from Feast."""
        now = self._clock()
        found: dict[str, _Row | None] = {}
        missing: list[str] = []
        with self._lock:
            generation = self._generation
            for lead_id in dict.fromkeys(lead_ids):
                self._used[lead_id] = now
                entry = self._rows.get(lead_id)
                if entry is not None and entry[0] > now:
                    found[lead_id] = entry[1]
                else:
                    missing.append(lead_id)
            self.hits += len(found)
            self.misses += len(missing)
        if missing:
            fetched = self._fetch(missing)
            self._keep(fetched, now + self.ttl_s, generation)
            found.update(fetched)
        return [found.get(lead_id) for lead_id in lead_ids]

    def records(self, lead_ids: Sequence[str], as_of: datetime) -> list[dict[str, Any] | None]:
        """Each lead's stored row and clock features at as_of as one dict (None: no features).

        The few-leads path (a single score): no frame per column, only the clock features go
        through derive_clock_features; values equal those of `features`.
        """
        rows = self.rows(lead_ids)
        present = [(i, row) for i, row in enumerate(rows) if row is not None]
        out: list[dict[str, Any] | None] = [None] * len(rows)
        if not present:
            return out
        moments = pd.DataFrame(
            {name: [row[_POSITION[name]] for _, row in present] for name in _CLOCK_READS},
            copy=False,
        )
        seconds = as_of.astimezone(UTC).timestamp()
        clock = derive_clock_features(moments, pd.Series(np.full(len(present), seconds)))
        for (k, row), record in zip(present, clock.to_dict("records"), strict=True):
            values = dict(zip(STORED_FIELDS, row, strict=True))
            values.update((str(name), value) for name, value in record.items())
            out[k] = values
        return out

    def stored(self, lead_ids: Sequence[str]) -> pd.DataFrame:
        """lead_id, has_features, officer_id and STORED_COLUMNS (their dtypes), in input order."""
        rows = self.rows(lead_ids)
        return stored_frame(lead_ids, rows)

    def features(self, lead_ids: Sequence[str], as_of: datetime) -> pd.DataFrame:
        """What LeadFeatureStore.online_features returns (lead_id, has_features, FEATURE_NAMES
        with the model's dtypes), clock features derived at as_of, plus the stored columns."""
        return features_at(self.stored(lead_ids), as_of)


def stored_frame(lead_ids: Sequence[str], rows: Sequence[_Row | None]) -> pd.DataFrame:
    """Stored rows as a typed frame; a missing row has has_features False."""
    filled = [_MISSING_ROW if row is None else row for row in rows]
    columns: dict[str, Any] = {
        "lead_id": np.asarray(list(lead_ids), dtype=object),
        "has_features": np.fromiter((row is not None for row in rows), dtype=bool, count=len(rows)),
    }
    transposed = list(zip(*filled, strict=True)) if filled else [() for _ in STORED_FIELDS]
    for name, values in zip(STORED_FIELDS, transposed, strict=True):
        dtype = STORED_COLUMNS.get(name, "float64" if name == MARKET_RATE_COLUMN else "string")
        if dtype == "list":
            columns[name] = pd.Series(list(values), dtype=object).to_numpy()
        elif dtype == "int64":
            columns[name] = np.asarray(values, dtype=np.int64)
        elif dtype == "float64":
            columns[name] = np.asarray(values, dtype=np.float64)  # None becomes NaN
        else:
            columns[name] = np.asarray(values, dtype=object)
    return pd.DataFrame(columns, copy=False)


def features_at(stored: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """Model inputs of stored rows at as_of: the stored features as they are, the clock
    features derived exactly as Feast's on-demand view derives them (from epoch seconds)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of has no time zone; pass an aware datetime")
    seconds = as_of.astimezone(UTC).timestamp()
    clock = derive_clock_features(stored, pd.Series(np.full(len(stored), seconds)))
    result = stored.copy()
    for name in FEATURE_NAMES:
        values = clock[name] if name in CLOCK_FEATURES else stored[name]
        kind = FEATURES_BY_NAME[name].kind
        if kind == "int":
            result[name] = pd.to_numeric(values).fillna(0).astype(np.int64).to_numpy()
        elif kind == "float":
            result[name] = pd.to_numeric(values).astype(np.float64).to_numpy()
        else:
            result[name] = values.astype(object).where(values.notna(), None).to_numpy()
    return result
