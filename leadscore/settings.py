"""The one Settings object: every knob of leadscore, read from LEADSCORE_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting, with a default that works on a laptop (README lists them all)."""

    model_config = SettingsConfigDict(env_prefix="LEADSCORE_", extra="ignore")

    home: Path = Field(
        default=Path(".leadscore"),
        description="data home: event log, feature store, MLflow store, simulated data",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the event log, users and audit; default SQLite under home",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking/registry URI; default SQLite under home"
    )
    online_store: str = Field(
        default="sqlite", description="Feast online store: 'sqlite' (default) or 'redis'"
    )
    redis_url: str = Field(default="127.0.0.1:6379", description="Redis for the online store")
    horizon_days: int = Field(default=30, ge=1, le=365, description="label horizon in days")
    officer_capacity: int = Field(default=40, ge=1, le=500, description="calls per officer a day")
    compensation_bps: float = Field(
        default=100.0, ge=0, description="lender's compensation in basis points of loan amount"
    )
    rank_by: str = Field(
        default="probability", description="queue ranking: 'probability' or 'expected_value'"
    )
    host: str = Field(default="127.0.0.1", description="address `leadscore serve` binds")
    port: int = Field(default=8000, ge=1, le=65535, description="port `leadscore serve` binds")
    workers: int = Field(
        default=1, ge=1, le=64, description="uvicorn worker processes of `leadscore serve`"
    )
    log_level: str = Field(default="INFO", description="log level of the JSON logs")
    model_alias: str = Field(
        default="champion", description="registry alias `leadscore serve` loads at start-up"
    )
    workday_time_zone: str = Field(
        default="America/Chicago",
        description="officers' time zone: the queue's date is a day there; calls made today "
        "count from its midnight",
    )
    model_poll_s: float = Field(
        default=30.0,
        ge=0,
        description="seconds between a serving process's looks at the registry alias; when it "
        "moves, the process loads the new version (0: only at start-up and on reload)",
    )
    queue_cache_entries: int = Field(
        default=512,
        ge=0,
        description="built queues a serving process keeps and reuses while no event of the "
        "officer's leads and no lead record arrived (0: build every queue)",
    )
    feature_cache_ttl_s: float = Field(
        default=60.0,
        ge=0,
        description="seconds a serving process reuses a lead's stored online features before "
        "reading the online store again (its own pushes invalidate at once)",
    )
    spark_master: str = Field(
        default="local[*]",
        description="Spark master for `--engine spark`: local[N] on this machine, "
        "spark://host:7077, yarn or k8s://... on a cluster",
    )
    spark_dir: Path | None = Field(
        default=None,
        description="Spark's working folder (event-log export, folded rows); on a cluster a "
        "path every executor and the driver see; default: spark/ under home",
    )

    rate_limit: str = Field(
        default="100/second",
        description="requests per token (per client address without one): '100/second', "
        "several joined by ';', or 'off'; health, readiness and metrics are never limited",
    )
    rate_limit_storage: str | None = Field(
        default=None,
        description="where rate-limit counts live: memory:// (one process) or redis://host:port/db "
        "(shared by workers); default the online store's Redis when it is Redis, else memory",
    )

    webhook_worker: bool = Field(
        default=True,
        description="each `leadscore serve` process delivers webhooks from a background thread "
        "(off: `leadscore webhooks deliver` sends them)",
    )
    webhook_max_attempts: int = Field(
        default=16, ge=1, le=100, description="attempts per webhook delivery before it is failed"
    )
    webhook_backoff_base_s: float = Field(
        default=10.0, gt=0, description="seconds before the first retry; each retry doubles it"
    )
    webhook_backoff_max_s: float = Field(
        default=3600.0, gt=0, description="the longest wait between two webhook attempts"
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="seconds a webhook receiver has to answer"
    )
    webhook_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="seconds a worker holds a claimed delivery; after it another worker may "
        "send it again (longer than the timeout)",
    )

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def sim_dir(self) -> Path:
        """Where `leadscore simulate` writes and `leadscore ingest` reads by default."""
        return self.home_dir / "sim"

    @property
    def event_log_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'leadscore.db'}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home_dir / 'mlflow.db'}"

    @property
    def artifacts_dir(self) -> Path:
        return self.home_dir / "mlartifacts"

    @property
    def feature_store_dir(self) -> Path:
        """Feast's working copy: feature_store.yaml, registry and online store."""
        return self.home_dir / "feast"

    @property
    def feature_data_dir(self) -> Path:
        """Parquet snapshots: the Feast offline store's file source."""
        return self.home_dir / "features"

    @property
    def spark_work_dir(self) -> Path:
        """Where `--engine spark` exports the event log and Spark writes the folded rows."""
        return (self.spark_dir or self.home_dir / "spark").expanduser().resolve()

    @property
    def reports_dir(self) -> Path:
        return self.home_dir / "reports"


def get_settings() -> Settings:
    """Read the settings now (never at import time)."""
    return Settings()
