"""The Feast adapter: apply the repository, write snapshots, materialize, read and push features.

The repository's definitions live in features/feature_repo/; this adapter runs them in a
working folder under the data home (feature_store.yaml copied there, online store chosen by
the caller), so `rm -rf .leadscore` resets the feature store with everything else.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from features.definitions import FEATURE_NAMES, FEATURE_SERVICE_NAME, FEATURES_BY_NAME
from features.transforms import SNAPSHOT_KEY_COLUMNS, STORED_COLUMNS

if TYPE_CHECKING:
    from feast import FeatureStore

TEMPLATE = Path(__file__).parent / "feature_repo" / "feature_store.yaml"
PUSH_SOURCE = "lead_activity_push"
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
    def snapshots_path(self) -> Path:
        return self.repo_dir / "data" / "lead_snapshots.parquet"

    @property
    def is_applied(self) -> bool:
        return (self.repo_dir / "data" / "registry.db").exists()

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
        if not self.snapshots_path.exists():
            self.write_snapshots(_empty_snapshots())
        self.store.apply(_objects_reading(self.snapshots_path))

    def write_snapshots(self, snapshots: pd.DataFrame) -> Path:
        """Replace the offline store's parquet with these snapshots (one row per lead and day)."""
        self.snapshots_path.parent.mkdir(parents=True, exist_ok=True)
        columns = [*SNAPSHOT_KEY_COLUMNS, *STORED_COLUMNS]
        frame = snapshots[columns].reset_index(drop=True)
        tmp = self.snapshots_path.with_suffix(".parquet.tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(self.snapshots_path)  # readers never see a half-written file
        return self.snapshots_path

    def materialize(self, start: datetime, end: datetime) -> None:
        """Load the latest snapshot of every lead in [start, end] into the online store."""
        self.store.materialize(start_date=start, end_date=end)

    def push(self, stored: pd.DataFrame) -> int:
        """Write fresh stored rows (from build_snapshots) straight to the online store."""
        if stored.empty:
            return 0
        from feast.data_source import PushMode

        columns = [*SNAPSHOT_KEY_COLUMNS, *STORED_COLUMNS]
        self.store.push(PUSH_SOURCE, stored[columns].reset_index(drop=True), to=PushMode.ONLINE)
        return len(stored)

    def historical_features(self, entities: pd.DataFrame) -> pd.DataFrame:
        """Point-in-time model inputs for (lead_id, as_of) rows through lead_scoring_v1.

        Returns the input's columns plus FEATURE_NAMES, in the input's row order.
        """
        entity_df = entities.reset_index(drop=True).copy()
        entity_df["_row"] = np.arange(len(entity_df))
        entity_df["event_timestamp"] = pd.to_datetime(entity_df.pop("as_of"), utc=True)
        entity_df[REQUEST_TIME_FIELD] = _epoch_seconds(entity_df["event_timestamp"])
        service = self.store.get_feature_service(FEATURE_SERVICE_NAME)
        job = self.store.get_historical_features(entity_df=entity_df, features=service)
        frame = job.to_df().sort_values("_row").reset_index(drop=True)
        frame["as_of"] = frame["event_timestamp"]
        keep = [c for c in entities.columns if c not in FEATURE_NAMES]
        result = frame[keep].copy()
        for name, values in _typed_features(frame).items():
            result[name] = values
        return result

    def online_features(self, lead_ids: Sequence[str], as_of: datetime) -> pd.DataFrame:
        """Model inputs of these leads from the online store, clock features at as_of.

        Leads the online store does not know come back with missing stored features; callers
        drop them (`has_features`).
        """
        seconds = as_of.astimezone(UTC).timestamp()
        rows = [{"lead_id": lead_id, REQUEST_TIME_FIELD: seconds} for lead_id in lead_ids]
        service = self.store.get_feature_service(FEATURE_SERVICE_NAME)
        frame = self.store.get_online_features(features=service, entity_rows=rows).to_df()
        result = pd.DataFrame({"lead_id": frame["lead_id"].astype(str)})
        result["has_features"] = frame["source"].notna().to_numpy()
        for name, values in _typed_features(frame).items():
            result[name] = values
        return result


def _objects_reading(snapshots_path: Path) -> list[Any]:
    """The repository's objects with the snapshot source pointing at this store's parquet.

    The definitions keep a path relative to the repository (for `feast apply` in that folder);
    DuckDB, the offline engine, resolves relative paths against the working directory, so the
    applied copy names the file absolutely. The source files are not rewritten.
    """
    from features.feature_repo.lead_features import FEAST_OBJECTS

    objects = copy.deepcopy(list(FEAST_OBJECTS))
    uri = str(snapshots_path.resolve())
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


def _empty_snapshots() -> pd.DataFrame:
    columns: dict[str, Any] = {
        "lead_id": pd.Series([], dtype="string"),
        "officer_id": pd.Series([], dtype="string"),
        "as_of": pd.Series([], dtype="datetime64[ns, UTC]"),
    }
    for name, dtype in STORED_COLUMNS.items():
        columns[name] = pd.Series([], dtype=dtype)
    return pd.DataFrame(columns)
