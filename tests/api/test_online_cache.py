"""The serving feature cache gives exactly Feast's online values, forgets a lead this process
pushes, and picks up another process's pushes after its TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from api_world import LEADS, World

from features.build import refresh_online_features
from features.definitions import FEATURE_NAMES
from features.event_log import EventLog
from features.store import LeadFeatureStore
from serving.online import OnlineFeatureCache

LEAD_IDS = [lead[0] for lead in LEADS] + ["UNKNOWN-LEAD"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def stores(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> tuple[EventLog, LeadFeatureStore]:
    import shutil

    home: Path = tmp_path_factory.mktemp("cache")
    shutil.copy(world.log_path, home / "log.db")
    shutil.copytree(world.feast_dir, home / "feast")
    return EventLog(f"sqlite:///{home / 'log.db'}"), LeadFeatureStore(home / "feast")


def _equal(cached: pd.DataFrame, feast: pd.DataFrame) -> None:
    assert cached["lead_id"].tolist() == feast["lead_id"].tolist()
    assert cached["has_features"].tolist() == feast["has_features"].tolist()
    known = feast["has_features"].to_numpy()
    for name in FEATURE_NAMES:
        a, b = cached[name].to_numpy()[known], feast[name].to_numpy()[known]
        if a.dtype == object or b.dtype == object:
            assert list(a) == list(b), name
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("days_ahead", [0.0, 0.5, 3.0, 45.0])
def test_cached_features_equal_feasts_online_read(
    stores: tuple[EventLog, LeadFeatureStore], days_ahead: float
) -> None:
    _, store = stores
    cache = OnlineFeatureCache(store, ttl_s=60)
    at = datetime.now(UTC) + timedelta(days=days_ahead)
    cached = cache.features(LEAD_IDS, at)
    _equal(cached, store.online_features(LEAD_IDS, at))
    assert not cached.set_index("lead_id").loc["UNKNOWN-LEAD", "has_features"]
    # the second read is served from memory and still equal
    misses = cache.misses
    _equal(cache.features(LEAD_IDS, at), store.online_features(LEAD_IDS, at))
    assert cache.misses == misses


def _add_visit(log: EventLog, lead_id: str, event_id: str) -> datetime:
    now = datetime.now(UTC)
    log.append_events(
        pd.DataFrame(
            [
                {
                    "event_id": event_id,
                    "lead_id": lead_id,
                    "occurred_at": pd.Timestamp(now),
                    "event_type": "web_visit",
                    "channel": None,
                    "call_outcome": None,
                    "question_topic": None,
                    "page": "/x",
                    "text": None,
                }
            ]
        ),
        now=now,
    )
    return now + timedelta(seconds=1)


def test_a_push_by_this_process_shows_at_once_another_process_after_the_ttl(
    stores: tuple[EventLog, LeadFeatureStore],
) -> None:
    log, store = stores
    clock = FakeClock()
    cache = OnlineFeatureCache(store, ttl_s=60, clock=clock)
    visits = int(cache.features(["L11"], datetime.now(UTC))["web_visits_1d"].iloc[0])

    # another worker pushes: this cache keeps its row until the TTL runs out
    now = _add_visit(log, "L11", "CACHE-1")
    refresh_online_features(log, store, ["L11"], now=now)
    assert int(cache.features(["L11"], now)["web_visits_1d"].iloc[0]) == visits
    clock.now += 61
    assert int(cache.features(["L11"], now)["web_visits_1d"].iloc[0]) == visits + 1

    # this process pushes and invalidates: the next read sees it with no wait
    now = _add_visit(log, "L11", "CACHE-2")
    refresh_online_features(log, store, ["L11"], now=now)
    cache.invalidate(["L11"])
    assert int(cache.features(["L11"], now)["web_visits_1d"].iloc[0]) == visits + 2


def test_the_few_leads_path_gives_the_same_model_input_as_the_bulk_path(
    stores: tuple[EventLog, LeadFeatureStore],
) -> None:
    """A single score encodes record by record; it must equal the queue's frame encoding."""
    from api_world import train_scorer

    _, store = stores
    cache = OnlineFeatureCache(store, ttl_s=60)
    at = datetime.now(UTC) + timedelta(hours=5)
    known = LEAD_IDS[:-1]
    layout = train_scorer(1, rows=300).layout
    records = cache.records(known, at)
    assert all(r is not None for r in records)
    by_record = layout.encode_records([r for r in records if r is not None])
    by_frame = layout.encode(cache.features(known, at))
    np.testing.assert_array_equal(by_record, by_frame)
    assert cache.records(["UNKNOWN-LEAD"], at) == [None]


def test_refresh_ahead_keeps_recently_used_leads_warm_and_forgets_idle_ones(
    stores: tuple[EventLog, LeadFeatureStore],
) -> None:
    _, store = stores
    clock = FakeClock()
    cache = OnlineFeatureCache(store, ttl_s=60, clock=clock)
    cache.rows(["L01", "L02"])
    clock.now += 20
    cache.rows(["L01"])  # L02 was read 20 s earlier than L01, both inside the keep window
    clock.now += 25  # 15 s of life left: due for a refresh within 30 s
    assert cache.refresh_ahead(within_s=30, used_within_s=900) == 2
    clock.now += 30  # past the first expiry, inside the refreshed one
    misses = cache.misses
    cache.rows(["L01", "L02"])
    assert cache.misses == misses  # served from memory: the refresh renewed them

    clock.now += 2000  # nobody asked for a long time
    assert cache.refresh_ahead(within_s=30, used_within_s=900) == 0
    assert len(cache) == 0
