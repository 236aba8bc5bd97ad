"""The Feast online store on a real Redis: what the build pushes is what serving reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from features.build import build_feature_store, refresh_online_features
from features.event_log import EventLog
from features.store import LeadFeatureStore

pytestmark = pytest.mark.integration


def test_redis_online_store_serves_what_the_build_pushed(
    tmp_path: Path, redis_address: str, tiny_leads: pd.DataFrame, tiny_events: pd.DataFrame
) -> None:
    log = EventLog(f"sqlite:///{tmp_path / 'log.db'}")
    log.upsert_leads(tiny_leads)
    log.append_events(tiny_events)
    days = pd.date_range("2025-02-25", "2025-03-10", freq="D")
    log.put_market_rates(pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "rate_30y_pct": 6.5}))
    now = datetime(2025, 3, 6, 12, tzinfo=UTC)
    # a project name of its own keeps this test's keys apart from anything else in Redis
    project = f"leadscore_it_{uuid.uuid4().hex[:8]}"
    redis_store = LeadFeatureStore(
        tmp_path / "feast-redis", online_store="redis", redis_url=redis_address, project=project
    )
    sqlite_store = LeadFeatureStore(tmp_path / "feast-sqlite")
    build_feature_store(log, redis_store, now=now)
    build_feature_store(log, sqlite_store, now=now)
    ids = ["L1", "L2", "L3"]
    from_redis = redis_store.online_features(ids, now)
    from_sqlite = sqlite_store.online_features(ids, now)
    assert from_redis["has_features"].all()
    pd.testing.assert_frame_equal(from_redis, from_sqlite)

    # A late event older than L1's newest: the refolded row keeps L1's newest event time and
    # must still replace the stored one (Feast's Redis store would skip it as "not newer").
    late = tiny_events.iloc[:1].assign(
        event_id="LATE-1",
        lead_id="L1",
        event_type="web_visit",
        occurred_at=pd.Timestamp("2025-03-01 14:30", tz="UTC"),
        page="/rates",
    )
    log.append_events(late)
    for store in (redis_store, sqlite_store):
        refresh_online_features(log, store, ["L1"], now=now)
    from_redis = redis_store.online_features(ids, now)
    pd.testing.assert_frame_equal(from_redis, sqlite_store.online_features(ids, now))
    assert from_redis["web_visits_30d"].iloc[0] == from_sqlite["web_visits_30d"].iloc[0] + 1
    redis_store.store.teardown()
