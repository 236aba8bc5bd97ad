"""Wiring: the event log and feature store that Settings point at (imported lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadscore.settings import Settings

if TYPE_CHECKING:
    from features.event_log import EventLog
    from features.store import LeadFeatureStore


def open_event_log(settings: Settings) -> EventLog:
    """The event log at LEADSCORE_DATABASE_URL (default: SQLite under the data home)."""
    from features.event_log import EventLog

    return EventLog(settings.event_log_url)


def open_feature_store(settings: Settings) -> LeadFeatureStore:
    """The Feast repository's working copy under the data home."""
    from features.store import LeadFeatureStore

    return LeadFeatureStore(
        settings.feature_store_dir,
        online_store=settings.online_store,
        redis_url=settings.redis_url,
    )
