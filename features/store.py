"""The Feast adapter: apply the repository, write stored rows and rates, read and push features.

The repository's definitions live in features/feature_repo/; this adapter runs them in a
working folder under the data home (feature_store.yaml copied there, online store chosen by
the caller), so `rm -rf .leadscore` resets the feature store with everything else.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.parquet
import yaml

from features.definitions import FEATURE_NAMES, FEATURE_SERVICE_NAME, FEATURES_BY_NAME
from features.transforms import (
    CLOCK_COLUMNS,
    MARKET_RATE_COLUMN,
    ROW_KEY_COLUMNS,
    STORED_COLUMNS,
    RowKey,
    empty_rows,
    market_rates_by_day,
)

if TYPE_CHECKING:
    from feast import FeatureStore

TEMPLATE = Path(__file__).parent / "feature_repo" / "feature_store.yaml"
PUSH_SOURCE = "lead_activity_push"
RATE_PUSH_SOURCE = "market_rate_push"
PUSH_CHUNK_ROWS = 5_000
REQUEST_TIME_FIELD = "as_of_epoch_s"
RATE_SERIES = "us_30y_fixed"
SQLITE_ONLINE_STORE = "features.online_sqlite.EntityRowSqliteOnlineStore"
"""Feast's SQLite online store with a row per lead, not per value (features/online_sqlite.py)."""
WRITTEN_AT = "written_at"
"""When a row was written: of two rows for one lead and moment, Feast reads the later (a lead
refolded after a late event supersedes its old rows without rewriting them)."""


class LeadFeatureStore:
    """leadscore's Feast repository in one folder: registry, online store, rows and rates."""

    def __init__(
        self,
        repo_dir: Path,
        *,
        online_store: str = "sqlite",
        redis_url: str = "127.0.0.1:6379",
        project: str = "leadscore",
    ) -> None:
        if online_store not in {"sqlite", "redis"}:
            raise ValueError(f"online_store must be 'sqlite' or 'redis', got {online_store!r}")
        self.repo_dir = repo_dir
        self.online_store = online_store
        self.redis_url = redis_url
        self.project = project
        self._store: FeatureStore | None = None
        self._views: dict[str, Any] = {}
        """Feature views read from the registry once (each read parses its protobuf: ~1 ms)."""

    @property
    def rows_dir(self) -> Path:
        """The offline store: parquet parts of stored rows, one or more per build."""
        return self.repo_dir / "data" / "lead_rows"

    @property
    def rates_dir(self) -> Path:
        return self.repo_dir / "data" / "market_rates"

    def row_files(self) -> list[Path]:
        return sorted(self.rows_dir.glob("*.parquet"))

    def read_rows(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The stored rows in effect: of rows for one lead and moment, the last written."""
        files = self.row_files()
        if not files:
            raise FileNotFoundError(
                f"no stored feature rows in {self.rows_dir}; run `leadscore features build`"
            )
        wanted = None if columns is None else list(dict.fromkeys([*columns, *_ROW_KEYS]))
        frame = pd.concat([pd.read_parquet(f, columns=wanted) for f in files], ignore_index=True)
        frame = frame.sort_values([*_ROW_KEYS], kind="stable")
        frame = frame.drop_duplicates(["lead_id", "changed_at"], keep="last")
        keep = list(columns) if columns is not None else list(frame.columns)
        return frame[keep].reset_index(drop=True)

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
        config["project"] = self.project
        if self.online_store == "redis":
            # skip_dedup: Feast's Redis store otherwise drops a row whose event time is not newer
            # than the stored one, but a late event refolds its lead into a row with the same
            # newest event time and new values: the row pushed is always the whole fold.
            config["online_store"] = {
                "type": "redis",
                "connection_string": self.redis_url,
                "skip_dedup": True,
            }
        else:
            config["online_store"]["type"] = SQLITE_ONLINE_STORE
        return config

    @property
    def store(self) -> FeatureStore:
        """The Feast FeatureStore, opened once (importing feast costs seconds)."""
        if self._store is None:
            from feast import FeatureStore

            self._write_config()
            self._store = FeatureStore(repo_path=str(self.repo_dir))
        return self._store

    def _write_config(self) -> None:
        (self.repo_dir / "data").mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(self._config(), sort_keys=False)
        target = self.repo_dir / "feature_store.yaml"
        if not target.exists() or target.read_text() != text:
            target.write_text(text)

    def apply(self) -> None:
        """Register the repository's definitions (idempotent), creating the online tables.

        The parquet files must exist first: Feast reads their schema when it applies a source.
        """
        if not self.row_files():
            self.write_rows([empty_rows()], replace=True)
        if not list(self.rates_dir.glob("*.parquet")):
            self.write_rates(pd.DataFrame({"date": [], "rate_30y_pct": []}))
        self.store.apply(_objects_reading(self.rows_dir, self.rates_dir))
        self._views.clear()

    def is_applied(self) -> bool:
        """Whether the definitions are registered (an incremental build need not re-apply)."""
        try:
            self._view("lead_activity")
            self._view("market_rates")
        except Exception:  # Feast raises its own not-found errors; any means "apply"
            return False
        return True

    def _view(self, name: str) -> Any:
        view = self._views.get(name)
        if view is None:
            view = self._views[name] = self.store.get_feature_view(name)
        return view

    def write_rows(self, parts: Iterable[pd.DataFrame | pyarrow.Table], *, replace: bool) -> int:
        """Add stored-row frames to the offline store; ``replace`` swaps the whole store.

        A replacing write goes to a new folder that then takes the old one's place, so readers
        never see a half-written store. An adding write puts new part files beside the old
        ones, named by the write's moment. Returns the rows written.
        """
        columns = [*ROW_KEY_COLUMNS, *STORED_COLUMNS]
        # Wall-clock time, not the build's `now`: a later write must win in Feast's join.
        stamp = pd.Timestamp.now(tz="UTC")
        previous = [int(f.name.split("-")[1]) for f in self.row_files()] if not replace else []
        stamp = max(stamp, pd.Timestamp(max(previous, default=0) + 1, tz="UTC"))
        target = self.rows_dir.with_name("lead_rows.staging") if replace else self.rows_dir
        if replace:
            shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True, exist_ok=True)
        prefix = f"part-{stamp.value:020d}"
        rows = 0
        for index, part in enumerate(parts):
            if len(part) == 0 and rows:
                continue
            if isinstance(part, pyarrow.Table):
                table = part.select(columns).append_column(
                    WRITTEN_AT,
                    pyarrow.array([stamp] * len(part), _ROW_SCHEMA.field(WRITTEN_AT).type),
                )
                table = table.cast(_ROW_SCHEMA)
            else:
                frame = part[columns].reset_index(drop=True)
                frame[WRITTEN_AT] = stamp
                table = pyarrow.Table.from_pandas(frame, schema=_ROW_SCHEMA, preserve_index=False)
            pyarrow.parquet.write_table(table, target / f"{prefix}-{index:05d}.parquet")
            rows += len(part)
            del part, table
            pyarrow.default_memory_pool().release_unused()  # hand a part's buffers back
        if replace:
            retired = self.rows_dir.with_name("lead_rows.old")
            shutil.rmtree(retired, ignore_errors=True)
            if self.rows_dir.exists():
                self.rows_dir.rename(retired)
            target.rename(self.rows_dir)
            shutil.rmtree(retired, ignore_errors=True)
        return rows

    def write_rates(self, rates: pd.DataFrame) -> int:
        """Replace the offline market rates (date, rate_30y_pct) with these."""
        by_day = market_rates_by_day(rates)
        by_day.insert(0, "rate_series", RATE_SERIES)
        self.rates_dir.mkdir(parents=True, exist_ok=True)
        staging = self.rates_dir / "rates.parquet.tmp"
        by_day.to_parquet(staging, index=False)
        staging.replace(self.rates_dir / "rates.parquet")
        return len(by_day)

    def push(self, rows: pd.DataFrame) -> int:
        """Write stored rows (fold_leads output, each lead's newest) to the online store."""
        if rows.empty:
            return 0
        seconds = rows["changed_at"].astype("datetime64[ns, UTC]").astype("int64") // 1000 / 1e6
        keys = list(
            zip(rows["lead_id"].astype(str), rows["officer_id"].astype(str), seconds, strict=True)
        )
        columns = [rows[name].tolist() for name in STORED_COLUMNS]
        return self.write_online(keys, list(zip(*columns, strict=True)))

    def write_online(self, keys: Sequence[RowKey], rows: Sequence[tuple[Any, ...]]) -> int:
        """Write stored rows (keys and STORED_COLUMNS tuples) to the lead_activity view online.

        Through Feast's provider (`online_write_batch`: one SQLite transaction and one
        executemany, one Redis pipeline per chunk) with protobuf values built here: Feast's
        push goes through pandas and Arrow, which costs more than the fold for the few leads of
        an API ingest. Values are what Feast's push writes (NaN and None as null).
        """
        if not keys:
            return 0
        if not self.is_applied():  # a lead ingested before any build: register first
            self.apply()
        view = self._view("lead_activity")
        provider = self.store._get_provider()  # Feast's own write path, below push()
        written = datetime.now(UTC)
        for start in range(0, len(keys), PUSH_CHUNK_ROWS):
            stop = start + PUSH_CHUNK_ROWS
            batch = _online_rows(keys[start:stop], rows[start:stop], written)
            provider.online_write_batch(self.store.config, view, batch, progress=None)
        return len(keys)

    def push_rate(self, rates: pd.DataFrame, now: datetime) -> bool:
        """Put the newest market rate known at ``now`` online; False when there is none."""
        by_day = market_rates_by_day(rates)
        by_day = by_day.loc[by_day["rate_day"] <= pd.Timestamp(now).tz_convert("UTC")]
        if by_day.empty:
            return False
        from feast.data_source import PushMode

        newest = by_day.tail(1).reset_index(drop=True)
        newest.insert(0, "rate_series", RATE_SERIES)
        self.store.push(RATE_PUSH_SOURCE, newest, to=PushMode.ONLINE)
        return True

    def historical_features(self, entities: pd.DataFrame) -> pd.DataFrame:
        """Point-in-time model inputs for (lead_id, as_of) rows through lead_scoring_v1.

        Returns the input's columns plus FEATURE_NAMES, in the input's row order.
        """
        entity_df = pd.DataFrame(
            {
                "lead_id": entities["lead_id"].astype(str).to_numpy(),
                "event_timestamp": pd.to_datetime(entities["as_of"], utc=True).to_numpy(),
                "_row": np.arange(len(entities)),
                "rate_series": RATE_SERIES,
            }
        )
        entity_df["event_timestamp"] = pd.to_datetime(entity_df["event_timestamp"], utc=True)
        entity_df[REQUEST_TIME_FIELD] = _epoch_seconds(entity_df["event_timestamp"])
        service = self.store.get_feature_service(FEATURE_SERVICE_NAME)
        job = self.store.get_historical_features(entity_df=entity_df, features=service)
        frame = job.to_df().sort_values("_row").reset_index(drop=True)
        # Only keys go to Feast (other entity columns could clash with feature names); the
        # caller's columns come back by position.
        result = entities.reset_index(drop=True).drop(
            columns=[c for c in entities.columns if c in FEATURE_NAMES]
        )
        for name, values in _typed_features(frame).items():
            result[name] = values
        return result

    def online_features(
        self, lead_ids: Sequence[str], as_of: datetime, *, stored: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Model inputs of these leads from the online store, clock features at as_of.

        ``stored`` names extra stored columns to return as they are (e.g. the moments
        ``last_inbound_at_epoch_s``). Leads the online store does not know come back with
        ``has_features`` False and missing values; callers drop them.
        """
        seconds = as_of.astimezone(UTC).timestamp()
        rows = [
            {"lead_id": lead_id, "rate_series": RATE_SERIES, REQUEST_TIME_FIELD: seconds}
            for lead_id in lead_ids
        ]
        if stored:
            unknown = [c for c in stored if c not in STORED_COLUMNS and c != "officer_id"]
            if unknown:
                raise ValueError(f"not stored features: {unknown}; see STORED_COLUMNS")
            from features.feature_repo.lead_features import STORED_FEATURES

            refs: Any = [f"lead_activity:{c}" for c in (*STORED_FEATURES, *stored)]
            refs += [f"market_rates:{MARKET_RATE_COLUMN}"]
            refs += [f"lead_clock_features:{c}" for c in CLOCK_COLUMNS]
        else:
            refs = self.store.get_feature_service(FEATURE_SERVICE_NAME)
        frame = self.store.get_online_features(features=refs, entity_rows=rows).to_df()
        result = pd.DataFrame({"lead_id": frame["lead_id"].astype(str)})
        result["has_features"] = frame["source"].notna().to_numpy()
        for name, values in _typed_features(frame).items():
            result[name] = values
        for name in stored:
            result[name] = frame[name].to_numpy()
        return result


def _objects_reading(rows_dir: Path, rates_dir: Path) -> list[Any]:
    """The repository's objects with the file sources pointing at this store's parquet.

    The definitions keep paths relative to the repository (for `feast apply` in that folder);
    DuckDB, the offline engine, resolves relative paths against the working directory, so the
    applied copy names the files absolutely. The source files are not rewritten.
    """
    from features.feature_repo.lead_features import FEAST_OBJECTS

    objects = copy.deepcopy(list(FEAST_OBJECTS))
    uris = {
        "lead_rows": str(rows_dir.resolve() / "*.parquet"),
        "market_rate_days": str(rates_dir.resolve() / "*.parquet"),
    }
    for obj in objects:
        for source in (obj, getattr(obj, "batch_source", None)):
            options = getattr(source, "file_options", None)
            name = getattr(source, "name", None)
            if options is not None and name in uris:
                options.uri = uris[name]
    return objects


def _epoch_seconds(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values, utc=True)
    return (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()


def _typed_features(frame: pd.DataFrame) -> dict[str, Any]:
    """FEATURE_NAMES with the model's dtypes (Feast returns ints as floats when any is missing)."""
    typed: dict[str, Any] = {}
    for name in FEATURE_NAMES:
        kind = FEATURES_BY_NAME[name].kind
        values = frame[name]
        if kind == "int":
            typed[name] = pd.to_numeric(values).fillna(0).astype(np.int64).to_numpy()
        elif kind == "float":
            typed[name] = pd.to_numeric(values).astype(np.float64).to_numpy()
        else:
            typed[name] = values.astype(object).where(values.notna(), None).to_numpy()
    return typed


def _online_rows(
    keys: Sequence[RowKey], rows: Sequence[tuple[Any, ...]], written: datetime
) -> list[tuple[Any, ...]]:
    """Feast's online write tuples (entity key, protobuf values, event time, created time).

    Values are what Feast's push writes (NaN and None as null); the protobuf of a null, an empty
    list and each distinct string or integer is built once and shared (Feast only reads them).
    """
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import DoubleList
    from feast.protos.feast.types.Value_pb2 import Value as ValueProto

    null, empty_list = ValueProto(), ValueProto(double_list_val=DoubleList(val=[]))
    shared: dict[Any, Any] = {}

    def once(value: str | int, dtype: str) -> Any:
        proto = shared.get((dtype, value))
        if proto is None:
            proto = (
                ValueProto(string_val=str(value))
                if dtype == "string"
                else ValueProto(int64_val=int(value))
            )
            shared[(dtype, value)] = proto
        return proto

    columns = list(STORED_COLUMNS.items())
    out = []
    for (lead_id, officer_id, changed_s), row in zip(keys, rows, strict=True):
        values = {"officer_id": once(officer_id, "string")}
        for (name, dtype), value in zip(columns, row, strict=True):
            if dtype == "list":
                values[name] = (
                    ValueProto(double_list_val=DoubleList(val=list(value)))
                    if len(value)
                    else empty_list
                )
            elif value is None or value is pd.NA:
                values[name] = null
            elif dtype == "float64":
                values[name] = null if value != value else ValueProto(double_val=float(value))
            elif dtype == "string":
                values[name] = once(str(value), dtype)
            else:
                values[name] = once(int(value), dtype)
        entity = EntityKey(join_keys=["lead_id"], entity_values=[ValueProto(string_val=lead_id)])
        out.append((entity, values, datetime.fromtimestamp(changed_s, UTC), written))
    return out


_ROW_KEYS: tuple[str, ...] = ("lead_id", "changed_at", WRITTEN_AT)

_ARROW_TYPES = {
    "string": pyarrow.string(),
    "float64": pyarrow.float64(),
    "int64": pyarrow.int64(),
    "list": pyarrow.list_(pyarrow.float64()),
}
_ROW_SCHEMA = pyarrow.schema(
    [
        ("lead_id", pyarrow.string()),
        ("officer_id", pyarrow.string()),
        ("changed_at", pyarrow.timestamp("ns", tz="UTC")),
        *((name, _ARROW_TYPES[dtype]) for name, dtype in STORED_COLUMNS.items()),
        (WRITTEN_AT, pyarrow.timestamp("ns", tz="UTC")),
    ]
)
"""One schema for every part file, so an empty part and a full one read alike."""
