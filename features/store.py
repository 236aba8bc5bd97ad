"""The Feast adapter: apply the repository, write snapshots, materialize, read and push features.

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
import yaml

from features.definitions import FEATURE_NAMES, FEATURE_SERVICE_NAME, FEATURES_BY_NAME
from features.transforms import CLOCK_COLUMNS, SNAPSHOT_KEY_COLUMNS, STORED_COLUMNS

if TYPE_CHECKING:
    from feast import FeatureStore

TEMPLATE = Path(__file__).parent / "feature_repo" / "feature_store.yaml"
PUSH_SOURCE = "lead_activity_push"
PUSH_CHUNK_ROWS = 5_000
REQUEST_TIME_FIELD = "as_of_epoch_s"


class LeadFeatureStore:
    """leadscore's Feast repository in one folder: registry, online store, parquet snapshots."""

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

    @property
    def snapshots_dir(self) -> Path:
        """The offline store: one parquet file of daily snapshots per month."""
        return self.repo_dir / "data" / "lead_snapshots"

    def snapshot_files(self) -> list[Path]:
        return sorted(self.snapshots_dir.glob("*.parquet"))

    def read_snapshots(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The stored snapshots (all months), optionally only some columns."""
        files = self.snapshot_files()
        if not files:
            raise FileNotFoundError(
                f"no feature snapshots in {self.snapshots_dir}; run `leadscore features build`"
            )
        return pd.concat(
            [pd.read_parquet(f, columns=list(columns) if columns else None) for f in files],
            ignore_index=True,
        )

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
        config["project"] = self.project
        if self.online_store == "redis":
            config["online_store"] = {"type": "redis", "connection_string": self.redis_url}
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

        The snapshot file must exist first: Feast reads its schema when it applies the source.
        """
        if not self.snapshot_files():
            self.write_snapshots([empty_snapshots()])
        self.store.apply(_objects_reading(self.snapshots_dir / "*.parquet"))

    def write_snapshots(self, parts: Iterable[pd.DataFrame]) -> int:
        """Replace the offline store with these snapshot frames (e.g. one a month).

        Parts are written to a new folder that then takes the old one's place, so readers never
        see a half-written store and a rebuild leaves no stale month behind. Returns the rows.
        """
        columns = [*SNAPSHOT_KEY_COLUMNS, *STORED_COLUMNS]
        staging = self.snapshots_dir.with_name("lead_snapshots.staging")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        rows = 0
        for index, part in enumerate(parts):
            part[columns].reset_index(drop=True).to_parquet(
                staging / f"part-{index:04d}.parquet", index=False
            )
            rows += len(part)
            del part
            pyarrow.default_memory_pool().release_unused()  # hand a month's buffers back
        retired = self.snapshots_dir.with_name("lead_snapshots.old")
        shutil.rmtree(retired, ignore_errors=True)
        if self.snapshots_dir.exists():
            self.snapshots_dir.rename(retired)
        staging.rename(self.snapshots_dir)
        shutil.rmtree(retired, ignore_errors=True)
        return rows

    def push(self, stored: pd.DataFrame) -> int:
        """Write fresh stored rows (from build_snapshots) straight to the online store.

        In chunks: Feast turns every value into a protobuf object before writing, and 116k
        leads at once held gigabytes; a chunk at a time keeps that bounded.
        """
        if stored.empty:
            return 0
        from feast.data_source import PushMode

        columns = [*SNAPSHOT_KEY_COLUMNS, *STORED_COLUMNS]
        rows = stored[columns].reset_index(drop=True)
        for start in range(0, len(rows), PUSH_CHUNK_ROWS):
            chunk = rows.iloc[start : start + PUSH_CHUNK_ROWS].reset_index(drop=True)
            self.store.push(PUSH_SOURCE, chunk, to=PushMode.ONLINE)
        return len(rows)

    def historical_features(self, entities: pd.DataFrame) -> pd.DataFrame:
        """Point-in-time model inputs for (lead_id, as_of) rows through lead_scoring_v1.

        Returns the input's columns plus FEATURE_NAMES, in the input's row order.
        """
        entity_df = pd.DataFrame(
            {
                "lead_id": entities["lead_id"].astype(str).to_numpy(),
                "event_timestamp": pd.to_datetime(entities["as_of"], utc=True).to_numpy(),
                "_row": np.arange(len(entities)),
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
        rows = [{"lead_id": lead_id, REQUEST_TIME_FIELD: seconds} for lead_id in lead_ids]
        if stored:
            unknown = [c for c in stored if c not in STORED_COLUMNS and c != "officer_id"]
            if unknown:
                raise ValueError(f"not stored features: {unknown}; see STORED_COLUMNS")
            from features.feature_repo.lead_features import STORED_FEATURES

            refs: Any = [f"lead_activity:{c}" for c in (*STORED_FEATURES, *stored)]
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


def _objects_reading(snapshots_glob: Path) -> list[Any]:
    """The repository's objects with the snapshot source pointing at this store's parquet.

    The definitions keep a path relative to the repository (for `feast apply` in that folder);
    DuckDB, the offline engine, resolves relative paths against the working directory, so the
    applied copy names the file absolutely. The source files are not rewritten.
    """
    from features.feature_repo.lead_features import FEAST_OBJECTS

    objects = copy.deepcopy(list(FEAST_OBJECTS))
    uri = str(snapshots_glob.parent.resolve() / snapshots_glob.name)
    for obj in objects:
        for source in (obj, getattr(obj, "batch_source", None)):
            options = getattr(source, "file_options", None)
            if options is not None:
                options.uri = uri
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


def empty_snapshots() -> pd.DataFrame:
    columns: dict[str, Any] = {
        "lead_id": pd.Series([], dtype="string"),
        "officer_id": pd.Series([], dtype="string"),
        "as_of": pd.Series([], dtype="datetime64[ns, UTC]"),
    }
    for name, dtype in STORED_COLUMNS.items():
        columns[name] = pd.Series([], dtype=dtype)
    return pd.DataFrame(columns)
