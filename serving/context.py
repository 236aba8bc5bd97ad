"""ServingContext: the stores, the model and the caches one serving process shares."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from features.event_log import EventLog
from features.store import LeadFeatureStore
from serving.audit import AuditLog
from serving.auth import UserStore
from serving.config import ServingConfig
from serving.db import create_serving_tables
from serving.model import (
    ModelHolder,
    ModelLoadError,
    ScorerLoader,
    registry_alias_resolver,
    registry_loader,
)
from serving.online import OnlineFeatureCache
from serving.queue_cache import QueueCache
from serving.webhooks.store import WebhookStore

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger("leadscore.serving")


def public_readiness(state: dict[str, Any]) -> dict[str, Any]:
    """What /readyz tells anyone: each part's name and 'ok' or 'unavailable', no reasons."""
    checks: dict[str, str] = state["checks"]
    states = {name: "ok" if value == "ok" else "unavailable" for name, value in checks.items()}
    return {"ready": bool(state["ready"]), "checks": states}


class ServingContext:
    """Everything the routes and the service functions share, opened once per process."""

    def __init__(
        self,
        config: ServingConfig,
        *,
        event_log: EventLog | None = None,
        feature_store: LeadFeatureStore | None = None,
        loader: ScorerLoader | None = None,
    ) -> None:
        self.config = config
        self.event_log = event_log or EventLog(config.event_log_url)
        create_serving_tables(self.event_log.engine)
        self.users = UserStore(self.event_log.engine)
        self.audit = AuditLog(self.event_log.engine)
        self.webhooks = WebhookStore(self.event_log.engine)
        self.webhook_wake = threading.Event()
        """Set when this process queued a webhook delivery: the worker sends it at once."""
        self.feature_store = feature_store or LeadFeatureStore(
            config.feature_store_dir,
            online_store=config.online_store,
            redis_url=config.redis_url,
        )
        self.feast_lock = threading.RLock()
        """Feast's SQLite online store shares one connection between threads: one call at a
        time (reads through the cache, pushes after ingestion, the readiness probe)."""
        self.features = OnlineFeatureCache(
            self.feature_store, ttl_s=config.feature_cache_ttl_s, store_lock=self.feast_lock
        )
        self.model = ModelHolder(
            loader or registry_loader(config.tracking_uri, config.model_name),
            alias=config.model_alias,
            resolver=registry_alias_resolver(config.tracking_uri, config.model_name),
        )
        self.on_model_change: Callable[[str], None] | None = None
        """Told the new version when the alias follower swaps the model (the app's metrics)."""
        self.queues = QueueCache(config.queue_cache_entries)
        self.write_lock = threading.Lock()
        """Serializes event-log writes (idempotence by id is check-then-insert) and online
        pushes; contract checks run outside it."""
        self.started_at = datetime.now(UTC)
        self.start_seconds: dict[str, float] = {}
        self.feature_store_error: str | None = None
        self.warm: dict[str, bool] = {"contracts": False}
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._webhook_thread: threading.Thread | None = None

    # -- start-up ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the feature store and load the model (each failure is kept for /readyz, not
        raised: the process stays up and says why it is not ready)."""
        self._timed("feature_store", self._open_feature_store)
        self._timed("model", self._load_model)
        if self.config.warm_up:
            self._background("warm_contracts", self._warm_contracts)
        if self.config.model_poll_s > 0:
            threading.Thread(
                target=self._follow_model_alias,
                args=(self.config.model_poll_s,),
                name="leadscore-follow-model",
                daemon=True,
            ).start()
        ttl, keep = self.config.feature_cache_ttl_s, self.config.feature_cache_keep_warm_s
        if ttl > 0 and keep > 0:
            thread = threading.Thread(
                target=self._keep_features_warm,
                args=(ttl, keep),
                name="leadscore-keep-warm",
                daemon=True,
            )
            thread.start()
        if self.config.webhooks.worker:
            self._start_webhook_worker()

    def _start_webhook_worker(self) -> None:
        """Deliver the outbox from this process (each worker process runs one; leases keep a
        delivery with one of them)."""
        from serving.webhooks.delivery import WebhookDeliverer

        deliverer = WebhookDeliverer(self.webhooks, self.config.webhooks)

        def run() -> None:
            try:
                deliverer.run(self._stopping, self.webhook_wake)
            finally:
                deliverer.close()

        self._webhook_thread = threading.Thread(target=run, name="leadscore-webhooks", daemon=True)
        self._webhook_thread.start()

    def _follow_model_alias(self, every_s: float) -> None:
        """Every worker looks at the registry alias on its own: a promotion (or rollback)
        reaches all of them within every_s, with no restart and no message between them."""
        while not self._stopping.wait(every_s):
            try:
                loaded = self.model.follow_alias()
            except ModelLoadError as exc:
                log.warning(
                    "the alias moved to a model that failed to load; the old one keeps serving",
                    extra={"error": str(exc)},
                )
                continue
            except Exception as exc:  # noqa: BLE001 - the registry may be down; look again
                log.warning(
                    "could not read the model registry's alias",
                    extra={"error": f"{type(exc).__name__}"},
                )
                continue
            if loaded is not None:
                log.info("model follows the alias", extra={"model_version": loaded.version})
                if self.on_model_change is not None:
                    self.on_model_change(loaded.version)

    def _keep_features_warm(self, ttl_s: float, keep_s: float) -> None:
        """Refresh-ahead: every quarter TTL, re-read recently used leads due within half a TTL."""
        while not self._stopping.wait(max(1.0, ttl_s / 4)):
            try:
                self.features.refresh_ahead(within_s=ttl_s / 2, used_within_s=keep_s)
            except Exception:  # noqa: BLE001 - a failed refresh leaves reads to the request
                log.warning("feature refresh-ahead failed", exc_info=True)

    def _timed(self, name: str, step: Callable[[], None]) -> None:
        clock = time.perf_counter()
        step()
        self.start_seconds[name] = round(time.perf_counter() - clock, 3)

    def _open_feature_store(self) -> None:
        try:
            _ = self.feature_store.store  # imports Feast and reads the registry
            self.feature_store_error = None
        except Exception as exc:  # noqa: BLE001 - reported by /readyz
            self.feature_store_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("feature store unavailable", extra={"error": self.feature_store_error})

    def _load_model(self) -> None:
        try:
            loaded = self.model.load()
            log.info("model loaded", extra={"model_version": loaded.version})
        except ModelLoadError as exc:
            log.warning("no model loaded", extra={"error": str(exc)})

    def _warm_contracts(self) -> None:
        """Build the record rules (and read the time-zone database) now, not on the first
        ingestion. Great Expectations is never loaded here: the API does not use it."""
        from data_contracts.records import validate_records

        sample = {
            "event_id": "warm-up",
            "lead_id": "warm-up",
            "occurred_at": "2020-01-01T00:00:00Z",
            "event_type": "web_visit",
        }
        validate_records("leads", [], now=datetime.now(UTC), source="warm-up")
        validate_records("events", [sample], now=datetime.now(UTC), source="warm-up")
        self.warm["contracts"] = True

    def _background(self, name: str, work: Callable[[], None]) -> None:
        def run() -> None:
            try:
                self._timed(name, work)
            except Exception:  # noqa: BLE001 - warm-up is an optimisation; log and go on
                log.exception("warm-up step failed", extra={"step": name})

        thread = threading.Thread(target=run, name=f"leadscore-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def wait_for_warm_up(self, timeout_s: float = 120.0) -> None:
        for thread in self._threads:
            thread.join(timeout_s)

    # -- readiness --------------------------------------------------------------------------

    def readiness(self) -> dict[str, Any]:
        """{'ready': bool, 'checks': {name: 'ok' or the reason}}: model loaded, stores reachable."""
        checks: dict[str, str] = {}
        current = self.model.current
        checks["model"] = (
            "ok"
            if current is not None
            else (f"no model loaded: {self.model.last_error or 'loading'}")
        )
        try:
            self.event_log.ping()
            checks["event_log"] = "ok"
        except Exception as exc:  # noqa: BLE001 - the reason is the answer
            checks["event_log"] = f"unreachable: {type(exc).__name__}"
        if self.feature_store_error is not None:
            checks["feature_store"] = f"unavailable: {self.feature_store_error}"
        else:
            try:
                with self.feast_lock:
                    self.feature_store.store.get_online_features(
                        features=["lead_activity:source"],
                        entity_rows=[{"lead_id": "readiness-probe"}],
                    )
                checks["feature_store"] = "ok"
            except Exception as exc:  # noqa: BLE001 - the reason is the answer
                checks["feature_store"] = f"unreachable: {type(exc).__name__}: {exc}"[:300]
        return {
            "ready": all(v == "ok" for v in checks.values()),
            "checks": checks,
            "model_version": None if current is None else current.version,
            "model_last_error": self.model.last_error,
            "process_id": os.getpid(),
            "warm": dict(self.warm),
            "start_seconds": dict(self.start_seconds),
        }

    def close(self) -> None:
        self._stopping.set()
        self.webhook_wake.set()
        if self._webhook_thread is not None:
            # an attempt in flight ends within the webhook timeout; its lease covers the rest
            self._webhook_thread.join(self.config.webhooks.timeout_s + 1.0)
        self.event_log.dispose()
