"""ServingConfig: what the API needs to know, handed in by the shell (no environment reads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

MAX_BATCH_ITEMS: Final = 1000
"""Leads or events per ingestion request, lead ids per score request."""

DEFAULT_RATE_LIMIT: Final = "100/second"
"""Per token: twice the load target (50 requests a second); a runaway loop or a scraper with a
stolen token is cut off within a second."""

MAX_BODY_BYTES: Final = 1 << 20
"""1 MiB: a full batch of 1,000 events is ~250 KB; anything bigger is a mistake or an attack."""


@dataclass(frozen=True)
class WebhookConfig:
    """How webhook deliveries are sent and retried (README, Webhooks)."""

    worker: bool = True
    """Deliver from a background thread of each serving process (several workers share the
    outbox through row leases); off, `leadscore webhooks deliver` sends them."""
    max_attempts: int = 16
    """Attempts per delivery before it is marked failed (the first send included)."""
    backoff_base_s: float = 10.0
    """The wait after the first failure; each further failure doubles it, up to backoff_max_s,
    and each wait is drawn between its half and its whole (jitter)."""
    backoff_max_s: float = 3600.0
    timeout_s: float = 10.0
    """Per attempt: connect, send and read the answer."""
    lease_s: float = 60.0
    """How long a claimed delivery is its worker's; a worker that dies mid-send loses it after
    this and another sends it again (at least once). Longer than timeout_s."""
    poll_s: float = 1.0
    """How often the background worker looks for due deliveries (an event enqueued by its own
    process wakes it at once)."""
    batch_size: int = 50
    """Deliveries claimed per pass."""


@dataclass(frozen=True)
class ServingConfig:
    """Where the stores are and how the queue is cut. leadscore.commands.service builds it from
    Settings; tests build it by hand."""

    event_log_url: str
    tracking_uri: str
    feature_store_dir: Path
    online_store: str = "sqlite"
    redis_url: str = "127.0.0.1:6379"
    model_name: str = "lead-scorer"
    model_alias: str = "champion"
    model_poll_s: float = 0.0
    """Seconds between looks at the registry alias: when it moves to another version, this
    process loads it (each worker on its own, so all follow a promotion); 0 disables."""
    officer_capacity: int = 40
    compensation_bps: float = 100.0
    rank_by: Literal["probability", "expected_value"] = "probability"
    workday_time_zone: str = "America/Chicago"
    """The officers' time zone: the queue's `date` is a day there, and calls made 'today' are
    counted from its midnight."""
    feature_cache_ttl_s: float = 60.0
    """How long a lead's stored online features are reused before Feast is read again."""
    feature_cache_keep_warm_s: float = 900.0
    """Leads read in this many seconds are re-read in the background before their entries
    expire (0: no refresh-ahead)."""
    top_reasons: int = 3
    queue_cache_entries: int = 512
    """Built queues this process keeps for reuse while nothing they depend on changed
    (serving/queue_cache.py); 0: build every queue from scratch."""
    max_body_bytes: int = MAX_BODY_BYTES
    rate_limit: str = DEFAULT_RATE_LIMIT
    """Requests per token (per client address without one), in the `limits` notation
    ('100/second;3000/minute'); 'off' for none."""
    rate_limit_storage: str = "memory://"
    """Where the counts live: memory:// (this process) or a redis:// URL shared by workers."""
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    warm_up: bool = True
    """After start-up, import the contract checks (Great Expectations) and fill the feature
    cache in the background, so the first ingestion and queue do not pay for it."""
