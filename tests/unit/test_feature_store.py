"""The Feast repository: one definition for training and serving, online equals offline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import features.build as feature_build
from features.build import build_feature_store, refresh_online_features
from features.definitions import FEATURE_NAMES
from features.event_log import EventLog
from features.store import WRITTEN_AT, LeadFeatureStore


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


LEADS = ["L1", "L2", "L3"]
INSTANTS = [
    _ts("2025-03-01 14:01"),  # between L1's creation and its first call
    _ts("2025-03-02 20:30"),  # between L2's text and its reply
    _ts("2025-03-05 00:00"),
    _ts("2025-03-05 10:00"),  # exactly at L2's visit: it counts
    _ts("2025-04-19 09:37"),  # 45 days after the last event: every window has emptied
]


def _stored_state(store: LeadFeatureStore) -> bytes:
    """The stored rows in effect, without when they were written: what replays must agree on."""
    rows = store.read_rows().drop(columns=[WRITTEN_AT])
    return rows.sort_values(["lead_id", "changed_at"]).reset_index(drop=True).to_json().encode()


def _online_state(store: LeadFeatureStore, at: datetime) -> bytes:
    return store.online_features(LEADS, at).drop(columns="lead_id").to_json().encode()


def test_online_features_equal_offline_training_features_at_any_instant(
    loaded: tuple[EventLog, LeadFeatureStore],
) -> None:
    log, store = loaded
    build_feature_store(log, store, now=datetime(2025, 3, 10, 12, tzinfo=UTC))
    for as_of in INSTANTS:
        entities = pd.DataFrame({"lead_id": LEADS, "as_of": [as_of] * 3})
        offline = store.historical_features(entities)
        if as_of >= _ts("2025-03-10"):  # online: each lead's newest row and today's rate
            online = store.online_features(LEADS, as_of.to_pydatetime())
            assert online["has_features"].all()
            _assert_features_equal(online, offline)
        assert offline["lead_id"].tolist() == LEADS
    late = store.historical_features(pd.DataFrame({"lead_id": LEADS, "as_of": [INSTANTS[-1]] * 3}))
    assert late["web_visits_30d"].tolist() == [0, 0, 0]
    assert late["emails_clicked"].tolist() == [1, 0, 0]
    at_visit = store.historical_features(
        pd.DataFrame({"lead_id": ["L2"], "as_of": [_ts("2025-03-05 10:00")]})
    )
    assert at_visit["web_visits_1d"].tolist() == [1]


def test_a_score_at_3pm_local_gets_exactly_the_training_row_of_that_instant(
    loaded: tuple[EventLog, LeadFeatureStore],
) -> None:
    log, store = loaded
    build_feature_store(log, store, now=datetime(2025, 3, 10, 12, tzinfo=UTC))
    three_pm = pd.Timestamp("2025-03-10 15:00", tz="America/Chicago").tz_convert("UTC")
    training_row = store.historical_features(
        pd.DataFrame({"lead_id": LEADS, "as_of": [three_pm] * 3})
    )
    served = store.online_features(LEADS, three_pm.to_pydatetime())
    _assert_features_equal(served, training_row)


def test_clock_features_are_right_at_request_time(
    loaded: tuple[EventLog, LeadFeatureStore],
) -> None:
    log, store = loaded
    build_feature_store(log, store, now=datetime(2025, 3, 6, 12, tzinfo=UTC))
    early = store.online_features(["L1"], datetime(2025, 3, 6, 12, tzinfo=UTC))
    later = store.online_features(["L1"], datetime(2025, 3, 16, 12, tzinfo=UTC))
    delta = later["days_since_created"].iloc[0] - early["days_since_created"].iloc[0]
    assert delta == pytest.approx(10.0)
    assert early["web_visits_7d"].iloc[0] == 1
    assert later["web_visits_7d"].iloc[0] == 0  # the visit slid out of the window


def test_build_twice_gives_the_same_result(loaded: tuple[EventLog, LeadFeatureStore]) -> None:
    log, store = loaded
    now = datetime(2025, 3, 6, 12, tzinfo=UTC)
    first = build_feature_store(log, store, now=now)
    stored, online = _stored_state(store), _online_state(store, now)
    second = build_feature_store(log, store, now=now)
    assert (first.mode, second.mode) == ("full", "incremental")
    assert second.stored_rows == 0  # nothing arrived: nothing folded
    assert _stored_state(store) == stored
    assert _online_state(store, now) == online
    assert first.stored_rows == 3 + 9  # a row at each lead's creation and each event moment
    assert first.validation.ok, first.validation.render()


def _visit(event_id: str, lead_id: str, when: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [event_id],
            "lead_id": [lead_id],
            "occurred_at": [_ts(when)],
            "event_type": ["web_visit"],
            "channel": [None],
            "call_outcome": [None],
            "question_topic": [None],
            "page": ["/rates"],
            "text": [None],
        }
    )


def test_incremental_build_with_a_late_event_equals_a_full_rebuild(
    loaded: tuple[EventLog, LeadFeatureStore],
) -> None:
    log, store = loaded
    now = datetime(2025, 3, 8, 12, tzinfo=UTC)
    build_feature_store(log, store, now=now)
    log.append_events(_visit("E20", "L3", "2025-03-07 09:00"))  # after L3's state: folds on
    log.append_events(_visit("E21", "L1", "2025-03-01 15:00"))  # late: older than L1's state
    incremental = build_feature_store(log, store, now=now)
    assert (incremental.mode, incremental.events, incremental.refolded_leads) == (
        "incremental",
        2,
        1,
    )
    stored, online = _stored_state(store), _online_state(store, now)
    full = build_feature_store(log, store, now=now, full=True)
    assert full.mode == "full"
    assert _stored_state(store) == stored
    assert _online_state(store, now) == online


def test_replays_in_any_order_with_duplicates_give_identical_state(
    tmp_path: Path, history: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> None:
    leads, events, rates = history
    now = datetime(2025, 3, 8, 12, tzinfo=UTC)
    states = []
    for seed in (1, 2, 3):
        home = tmp_path / f"replay-{seed}"
        log = EventLog(f"sqlite:///{home / 'log.db'}")
        store = LeadFeatureStore(home / "feast")
        log.upsert_leads(leads)
        log.put_market_rates(rates)
        shuffled = events.sample(frac=1.0, random_state=seed)
        batches = np.array_split(np.arange(len(shuffled)), 4)
        for k, batch in enumerate(batches):
            log.append_events(shuffled.iloc[batch])
            log.append_events(shuffled.iloc[batch[:2]])  # a CRM retry: duplicates
            if k == 1:
                build_feature_store(log, store, now=now)  # a build between deliveries
            refresh_online_features(log, store, shuffled.iloc[batch]["lead_id"].tolist(), now=now)
        build_feature_store(log, store, now=now)
        states.append((_stored_state(store), _online_state(store, now)))
    assert states[0] == states[1] == states[2]


def test_online_update_reflects_a_new_event_at_once_and_a_late_one_never_overwrites(
    loaded: tuple[EventLog, LeadFeatureStore],
) -> None:
    log, store = loaded
    now = datetime(2025, 3, 6, 12, tzinfo=UTC)
    build_feature_store(log, store, now=now)
    before = store.online_features(["L3"], now)["web_visits_1d"].iloc[0]
    log.append_events(_visit("E99", "L3", "2025-03-06 12:30"))
    later = datetime(2025, 3, 6, 13, tzinfo=UTC)
    assert refresh_online_features(log, store, ["L3"], now=later) == 1
    after = store.online_features(["L3"], later)
    assert after["web_visits_1d"].iloc[0] == before + 1
    assert after["days_since_last_visit"].iloc[0] == pytest.approx(0.5 / 24)

    log.append_events(_visit("E98", "L3", "2025-03-04 08:00"))  # late and older
    refresh_online_features(log, store, ["L3"], now=later)
    newest = store.online_features(["L3"], later)
    assert newest["web_visits_7d"].iloc[0] == 2  # both visits counted
    assert newest["days_since_last_visit"].iloc[0] == pytest.approx(0.5 / 24)  # newest wins


def test_a_full_build_in_worker_processes_equals_one_in_process(
    loaded: tuple[EventLog, LeadFeatureStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, store = loaded
    now = datetime(2025, 3, 8, 12, tzinfo=UTC)
    monkeypatch.setattr(feature_build, "LEADS_PER_PART", 1)  # three ranges of one lead each
    in_process = build_feature_store(log, store, now=now, full=True, workers=1)
    stored, online = _stored_state(store), _online_state(store, now)
    states = log.lead_feature_states()
    in_workers = build_feature_store(log, store, now=now, full=True, workers=2)
    assert (in_workers.leads, in_workers.events, in_workers.stored_rows) == (
        in_process.leads,
        in_process.events,
        in_process.stored_rows,
    )
    assert _stored_state(store) == stored
    assert _online_state(store, now) == online
    assert log.lead_feature_states() == states
    assert feature_build.fold_workers(3, 2) == 2
    assert feature_build.fold_workers(1) == 1  # one range: no pool
