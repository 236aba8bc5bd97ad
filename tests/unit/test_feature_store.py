"""The Feast repository: one definition for training and serving, online equals offline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build import build_feature_store, refresh_online_features
from features.definitions import FEATURE_NAMES
from features.event_log import EventLog
from features.store import LeadFeatureStore
from features.transforms import build_snapshots


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


@pytest.fixture
def history(tiny_leads: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows = [
        ("E01", "L1", "2025-03-01 14:00", "lead_created", None, None, None, None),
        ("E02", "L1", "2025-03-01 14:02", "call", "call", "connected", None, None),
        ("E03", "L1", "2025-03-02 09:00", "web_visit", None, None, None, "/rates"),
        ("E04", "L1", "2025-03-03 10:00", "email_sent", "email", None, None, None),
        ("E05", "L1", "2025-03-03 12:30", "email_clicked", "email", None, None, None),
        ("E06", "L1", "2025-03-04 18:00", "question_asked", None, None, "rates", None),
        ("E07", "L2", "2025-03-02 15:30", "lead_created", None, None, None, None),
        ("E08", "L2", "2025-03-02 20:00", "text_sent", "text", None, None, None),
        ("E09", "L2", "2025-03-02 20:45", "text_replied", "text", None, None, None),
        ("E10", "L2", "2025-03-05 10:00", "web_visit", None, None, None, "/apply"),
        ("E11", "L3", "2025-03-03 16:00", "lead_created", None, None, None, None),
        ("E12", "L3", "2025-03-04 16:00", "call", "call", "no_answer", None, None),
    ]
    events = pd.DataFrame(
        rows,
        columns=[
            "event_id",
            "lead_id",
            "occurred_at",
            "event_type",
            "channel",
            "call_outcome",
            "question_topic",
            "page",
        ],
    )
    events["occurred_at"] = pd.to_datetime(events["occurred_at"], utc=True)
    events["text"] = None
    days = pd.date_range("2025-02-25", "2025-03-10", freq="D")
    rates = pd.DataFrame(
        {"date": days.strftime("%Y-%m-%d"), "rate_30y_pct": np.linspace(6.9, 6.4, len(days))}
    )
    return tiny_leads, events, rates


@pytest.fixture
def loaded(
    tmp_path: Path, history: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> tuple[EventLog, LeadFeatureStore]:
    leads, events, rates = history
    log = EventLog(f"sqlite:///{tmp_path / 'log.db'}")
    log.upsert_leads(leads)
    log.append_events(events)
    log.put_market_rates(rates)
    return log, LeadFeatureStore(tmp_path / "feast")


def _assert_features_equal(left: pd.DataFrame, right: pd.DataFrame) -> None:
    for name in FEATURE_NAMES:
        a, b = left[name].to_numpy(), right[name].to_numpy()
        if a.dtype == object or b.dtype == object:
            assert list(a) == list(b), name
        else:
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=name)


def test_online_features_equal_offline_training_features(
    loaded: tuple[EventLog, LeadFeatureStore],
) -> None:
    log, store = loaded
    build_feature_store(log, store, now=datetime(2025, 3, 6, 12, tzinfo=UTC))
    as_of = _ts("2025-03-05 00:00")
    entities = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3"],
            "officer_id": ["lo-01", "lo-01", "lo-02"],
            "as_of": [as_of] * 3,
        }
    )
    offline = store.historical_features(entities)
    assert offline["officer_id"].tolist() == ["lo-01", "lo-01", "lo-02"]

    stored = build_snapshots(
        log.leads(), log.events(), log.market_rates(), as_of_times=pd.DatetimeIndex([as_of])
    )
    store.push(stored)
    # a later request time: the clock features move, the stored ones do not
    online = store.online_features(["L1", "L2", "L3"], as_of.to_pydatetime())
    assert online["has_features"].all()
    _assert_features_equal(online, offline)
    assert offline["emails_clicked"].tolist() == [1, 0, 0]
    assert offline["texts_replied"].tolist() == [0, 1, 0]


def test_clock_features_are_right_at_request_time(
    loaded: tuple[EventLog, LeadFeatureStore],
) -> None:
    log, store = loaded
    build_feature_store(log, store, now=datetime(2025, 3, 6, 12, tzinfo=UTC))
    early = store.online_features(["L1"], datetime(2025, 3, 6, 12, tzinfo=UTC))
    later = store.online_features(["L1"], datetime(2025, 3, 16, 12, tzinfo=UTC))
    delta = later["days_since_created"].iloc[0] - early["days_since_created"].iloc[0]
    assert delta == pytest.approx(10.0)
    assert later["web_visits_30d"].iloc[0] == early["web_visits_30d"].iloc[0]


def test_build_twice_gives_the_same_result(loaded: tuple[EventLog, LeadFeatureStore]) -> None:
    log, store = loaded
    now = datetime(2025, 3, 6, 12, tzinfo=UTC)
    first = build_feature_store(log, store, now=now)
    snapshot_bytes = [f.read_bytes() for f in store.snapshot_files()]
    online_first = store.online_features(["L1", "L2", "L3"], now)
    second = build_feature_store(log, store, now=now)
    assert [f.read_bytes() for f in store.snapshot_files()] == snapshot_bytes
    assert first.snapshot_rows == second.snapshot_rows
    _assert_features_equal(store.online_features(["L1", "L2", "L3"], now), online_first)
    assert first.validation.ok, first.validation.render()


def test_online_update_reflects_a_new_event_at_once(
    loaded: tuple[EventLog, LeadFeatureStore],
) -> None:
    log, store = loaded
    now = datetime(2025, 3, 6, 12, tzinfo=UTC)
    build_feature_store(log, store, now=now)
    before = store.online_features(["L3"], now)["web_visits_1d"].iloc[0]
    visit = pd.DataFrame(
        {
            "event_id": ["E99"],
            "lead_id": ["L3"],
            "occurred_at": [_ts("2025-03-06 12:30")],
            "event_type": ["web_visit"],
            "channel": [None],
            "call_outcome": [None],
            "question_topic": [None],
            "page": ["/rates"],
            "text": [None],
        }
    )
    log.append_events(visit)
    later = datetime(2025, 3, 6, 13, tzinfo=UTC)
    assert refresh_online_features(log, store, ["L3"], now=later) == 1
    after = store.online_features(["L3"], later)
    assert after["web_visits_1d"].iloc[0] == before + 1
