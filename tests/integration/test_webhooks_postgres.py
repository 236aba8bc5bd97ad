"""The webhook outbox on a real PostgreSQL: two workers (two engines, as two processes have)
claim each delivery once, two workers scoring the same lead hot queue one lead.hot, and the
ingestion observer's SQL (the inbound trigger's count) runs there as on SQLite."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from features.event_log import EventLog
from serving.db import create_serving_tables
from serving.ingest import ingest_records
from serving.webhooks.events import IngestionWebhooks, ScoreSeen, note_scores
from serving.webhooks.store import (
    EventType,
    WebhookStore,
    enqueue,
    new_event,
    webhook_events_table,
)

pytestmark = pytest.mark.integration


def _together(work: list[Callable[[], Any]]) -> list[Any]:
    """Run the callables at the same moment in threads; their results in order."""
    start = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(slot: int) -> None:
        start.wait()
        try:
            results[slot] = work[slot]()
        except Exception as exc:  # noqa: BLE001 - the failure is what the test reports
            results[slot] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _stores(url: str) -> list[WebhookStore]:
    logs = [EventLog(url), EventLog(url)]
    create_serving_tables(logs[0].engine)
    return [WebhookStore(log.engine) for log in logs]


def test_two_workers_claim_each_delivery_once(postgres_url: str) -> None:
    stores = _stores(postgres_url)
    now = datetime.now(UTC)
    stores[0].add("http://127.0.0.1:9/h", ["lead.hot"], created_by="test")
    with stores[0].engine.begin() as conn:
        events = [
            new_event(EventType.LEAD_HOT, f"L{i}", now, {"lead_id": f"L{i}"}) for i in range(60)
        ]
        assert enqueue(conn, events, now) == 60
    claimed: list[int] = []
    for _ in range(10):
        rounds = _together(
            [
                lambda store=store: store.claim("worker", now=now, lease_s=60, limit=7)
                for store in stores
            ]
        )
        for result in rounds:
            assert not isinstance(result, Exception), result
            claimed += [c.delivery_id for c in result]
    assert len(claimed) == 60
    assert len(set(claimed)) == 60, "a delivery was claimed by both workers"
    for store in stores:
        store.engine.dispose()


def test_two_workers_scoring_a_lead_hot_at_once_queue_one_event(postgres_url: str) -> None:
    stores = _stores(postgres_url)
    stores[0].add("http://127.0.0.1:9/h", ["lead.hot"], created_by="test")
    now = datetime.now(UTC)
    for round_number in range(10):
        lead = f"HOT-{round_number}"
        seen = [ScoreSeen(lead, "lo-01", 0.6, "hot")]
        written = _together(
            [
                lambda store=store, seen=seen: note_scores(
                    store.engine, seen, model_version="1", now=now
                )
                for store in stores
            ]
        )
        assert sorted(written) == [0, 1], written
    for store in stores:
        store.engine.dispose()


def test_ingestion_queues_new_lead_opt_out_and_trigger_events(
    postgres_url: str, tiny_leads: pd.DataFrame
) -> None:
    log = EventLog(postgres_url)
    create_serving_tables(log.engine)
    store = WebhookStore(log.engine)
    store.add("http://127.0.0.1:9/h", created_by="test")
    now = datetime.now(UTC)
    leads = tiny_leads.assign(created_at=pd.Timestamp(now - timedelta(days=1)))
    records = [
        {k: (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}
        for row in leads.to_dict("records")
    ]
    ingest_records(log, "leads", records, now=now, observer=IngestionWebhooks(now))
    moment = (now - timedelta(minutes=5)).isoformat()
    events = [
        {"event_id": "V1", "lead_id": "L1", "occurred_at": moment, "event_type": "web_visit"},
        {
            "event_id": "X1",
            "lead_id": "L2",
            "occurred_at": moment,
            "event_type": "opt_out",
            "channel": "text",
        },
    ]
    ingest_records(log, "events", events, now=now, observer=IngestionWebhooks(now))
    with log.engine.connect() as conn:
        kinds = dict(
            conn.execute(
                select(webhook_events_table.c.event_type, func.count()).group_by(
                    webhook_events_table.c.event_type
                )
            ).all()
        )
    # L3 consented to texts only: it may be texted, so it is in the speed lane too
    assert kinds == {"lead.new_in_speed_lane": 3, "trigger.fired": 1, "lead.opted_out": 1}
    log.dispose()
