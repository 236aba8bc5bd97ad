"""API test world: a small real world built once per session (event log, Feast online store, an
MLflow registry holding real LightGBM scorers), copied for each test module, and one app per
module driven through FastAPI's TestClient.

Times are relative to the real clock (the API scores "now"); queue tests pass `at` explicitly.
Tests import helpers from here by name (`from api_world import ...`), never `from conftest`:
several test folders have a conftest.py, and that import picks whichever was loaded first.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.build import refresh_online_features
from features.definitions import FEATURES
from features.event_log import EventLog
from features.store import LeadFeatureStore
from leadscore.logging import JsonFormatter
from models.calibration import Calibrator
from models.layout import FeatureLayout
from models.reasons import LEAD_REASON_TEMPLATES
from models.scorer import LeadScorer
from serving.app import create_app
from serving.config import ServingConfig, WebhookConfig
from serving.context import ServingContext

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

MODEL_NAME = "lead-scorer"
PII_MARKERS = ("Zelda", "Quintero", "+13125550199", "zelda.q@example.com")
"""The personal data of lead L-PII: tests assert it never reaches a log or an error body."""

# lead_id, officer, state, time zone, consent call/text/email, created hours ago, loan type
LEADS: tuple[tuple[str, str, str, str | None, bool, bool, bool, float, str], ...] = (
    ("L01", "lo-01", "IL", "America/Chicago", True, True, True, 24 * 30, "purchase"),
    ("L02", "lo-01", "CA", "America/Los_Angeles", True, False, True, 24 * 20, "refinance"),
    ("L03", "lo-01", "FL", "America/New_York", True, True, True, 24 * 15, "purchase"),
    ("L04", "lo-01", "MD", "America/New_York", True, True, True, 24 * 12, "jumbo"),
    ("L05", "lo-01", "OK", "America/Chicago", True, False, True, 24 * 10, "investment"),
    ("L06", "lo-01", "TX", None, True, True, True, 24 * 9, "purchase"),
    ("L07", "lo-01", "NY", "America/New_York", False, True, True, 24 * 8, "refinance"),
    ("L08", "lo-01", "AZ", "America/Phoenix", False, False, True, 24 * 7, "purchase"),
    ("L09", "lo-01", "WA", "America/Los_Angeles", True, True, True, 24 * 5, "purchase"),
    ("L10", "lo-01", "GA", "America/New_York", True, True, True, 24 * 3, "refinance"),
    ("L11", "lo-01", "CO", "America/Denver", True, True, True, 24 * 2, "purchase"),
    ("L12", "lo-01", "IL", "America/Chicago", True, True, True, 0.5, "purchase"),
    ("L13", "lo-01", "IL", "America/Chicago", True, True, True, 24 * 6, "purchase"),
    ("L14", "lo-01", "CA", "America/Los_Angeles", True, True, True, 24 * 6, "purchase"),
    ("L15", "lo-01", "FL", "America/New_York", True, True, True, 24 * 4, "refinance"),
    ("L-PII", "lo-01", "IL", "America/Chicago", True, True, True, 24 * 4, "purchase"),
    ("M01", "lo-02", "IL", "America/Chicago", True, True, True, 24 * 25, "purchase"),
    ("M02", "lo-02", "CA", "America/Los_Angeles", True, True, True, 24 * 10, "refinance"),
    ("M03", "lo-02", "NJ", "America/New_York", True, True, True, 24 * 4, "jumbo"),
    ("M04", "lo-02", "FL", "America/New_York", True, True, True, 24 * 2, "purchase"),
)


@dataclass(frozen=True)
class World:
    """Files of the session's world; modules copy them before changing anything."""

    root: Path
    log_path: Path
    feast_dir: Path
    mlflow_db: Path
    now: datetime
    versions: dict[str, str] = field(default_factory=dict)
    """'good' (champion), 'other' (a second good model), 'broken' (artifacts deleted)."""

    def tracking_uri_in(self, folder: Path) -> str:
        """A private copy of the registry database (artifacts are shared, read-only)."""
        target = folder / "mlflow.db"
        if not target.exists():
            shutil.copy(self.mlflow_db, target)
        return f"sqlite:///{target}"


def _leads(now: datetime) -> pd.DataFrame:
    rows = []
    for lead_id, officer, state, zone, call, text, email, hours, loan in LEADS:
        first, last = ("Zelda", "Quintero") if lead_id == "L-PII" else ("Ana", f"Test{lead_id}")
        phone = "+13125550199" if lead_id == "L-PII" else f"+1312555{len(rows):04d}"
        rows.append(
            {
                "lead_id": lead_id,
                "officer_id": officer,
                "created_at": pd.Timestamp(now - timedelta(hours=hours)),
                "first_name": first,
                "last_name": last,
                "phone": phone,
                "email": "zelda.q@example.com" if lead_id == "L-PII" else f"{lead_id}@example.com",
                "state": state,
                "time_zone": zone,
                "source": ("referral", "online_lead", "past_client", "realtor_partner")[
                    len(rows) % 4
                ],
                "loan_type": loan,
                "loan_amount_usd": 200_000.0 + 25_000.0 * len(rows),
                "credit_band": ("excellent", "good", "fair", "unknown")[len(rows) % 4],
                "quoted_rate_pct": 6.4 + 0.1 * (len(rows) % 7),
                "timeline_statement": ("ASAP", "in 6 months", "just looking", "lease ends soon")[
                    len(rows) % 4
                ],
                "consent_call": call,
                "consent_text": text,
                "consent_email": email,
            }
        )
    return pd.DataFrame(rows)


def _events(now: datetime, leads: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows: list[dict[str, Any]] = []

    def add(lead_id: str, when: datetime, kind: str, **extra: Any) -> None:
        rows.append(
            {
                "event_id": f"E{len(rows):04d}",
                "lead_id": lead_id,
                "occurred_at": pd.Timestamp(when),
                "event_type": kind,
                "channel": extra.get("channel"),
                "call_outcome": extra.get("call_outcome"),
                "question_topic": extra.get("question_topic"),
                "page": extra.get("page"),
                "text": None,
            }
        )

    for lead in leads.itertuples():
        created = lead.created_at.to_pydatetime()
        add(lead.lead_id, created, "lead_created")
        if lead.lead_id == "L12":
            continue  # brand new: not contacted yet (the 'new' lane)
        age_h = (now - created).total_seconds() / 3600
        add(lead.lead_id, created + timedelta(minutes=3), "call", call_outcome="no_answer")
        for _ in range(int(rng.integers(1, 6))):
            when = created + timedelta(hours=float(rng.uniform(0.2, max(age_h - 0.2, 0.3))))
            add(lead.lead_id, when, "web_visit", page=str(rng.choice(["/rates", "/apply", "/"])))
        when = created + timedelta(hours=min(age_h * 0.5, 30))
        add(lead.lead_id, when, "email_sent", channel="email")
        if rng.random() < 0.5:
            add(lead.lead_id, when + timedelta(hours=1), "email_opened", channel="email")
    return pd.DataFrame(rows)


def _rates(now: datetime) -> pd.DataFrame:
    days = pd.date_range(end=now.date(), periods=60, freq="D")
    return pd.DataFrame(
        {"date": days.strftime("%Y-%m-%d"), "rate_30y_pct": np.linspace(6.9, 6.1, len(days))}
    )


def _layout() -> FeatureLayout:
    return FeatureLayout(
        names=tuple(f.name for f in FEATURES),
        kinds={f.name: f.kind for f in FEATURES},
        categories={f.name: f.categories for f in FEATURES if f.kind == "category"},
        nullable=frozenset(f.name for f in FEATURES if f.nullable),
    )


def train_scorer(seed: int, rows: int = 3000) -> LeadScorer:
    """A small real LightGBM scorer on a synthetic frame with a known signal."""
    rng = np.random.default_rng(seed)
    layout = _layout()
    data: dict[str, Any] = {}
    for spec in FEATURES:
        if spec.kind == "int":
            data[spec.name] = rng.poisson(2.0, rows)
        elif spec.kind == "float":
            values = rng.exponential(5.0, rows)
            data[spec.name] = np.where(rng.random(rows) < 0.1, np.nan, values)
        else:
            data[spec.name] = rng.choice(list(spec.categories), rows)
    frame = pd.DataFrame(data)
    logit = (
        -2.5
        + 0.4 * frame["web_visits_7d"]
        + 0.3 * frame["emails_opened"]
        - 0.05 * frame["days_since_created"]
        + (frame["loan_type"] == "refinance") * 0.5
    )
    label = rng.random(rows) < 1 / (1 + np.exp(-logit.to_numpy()))
    train_set = lgb.Dataset(
        layout.encode(frame),
        label=label.astype(float),
        feature_name=list(layout.names),
        categorical_feature=layout.categorical_indices,
    )
    params = {
        "objective": "binary",
        "num_leaves": 15,
        "learning_rate": 0.1,
        "verbose": -1,
        "seed": seed,
        "num_threads": 1,
        "min_data_in_leaf": 20,
    }
    booster = lgb.train(params, train_set, num_boost_round=40)
    return LeadScorer(
        booster,
        Calibrator("platt", slope=1.0, intercept=0.0),
        layout,
        LEAD_REASON_TEMPLATES,
        base_rate=float(label.mean()),
        batch_num_threads=1,
    )


def _register(tracking_uri: str, artifacts: Path, scorer: LeadScorer) -> str:
    import mlflow

    from models.registry import log_scorer

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name("api-tests")
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment("api-tests", artifact_location=artifacts.as_uri())
    )
    with mlflow.start_run(experiment_id=experiment_id):
        info = log_scorer(scorer, registered_model_name=MODEL_NAME)
    return str(info.registered_model_version)


def write_world(
    root: Path,
    now: datetime,
    *,
    event_log_url: str | None = None,
    feature_store: LeadFeatureStore | None = None,
) -> World:
    """Event log + online store + registry under root (the event log and the feature store
    elsewhere when given: PostgreSQL, Redis)."""
    leads, rates = _leads(now), _rates(now)
    events = _events(now, leads)
    log = EventLog(event_log_url or f"sqlite:///{root / 'log.db'}")
    log.upsert_leads(leads, now=now)
    log.append_events(events, now=now)
    log.put_market_rates(rates)
    store = feature_store or LeadFeatureStore(root / "feast")
    store.apply()
    refresh_online_features(log, store, leads["lead_id"].tolist(), now=now)
    log.dispose()

    mlflow_db = root / "mlflow.db"
    uri = f"sqlite:///{mlflow_db}"
    artifacts = root / "mlartifacts"
    versions = {
        "good": _register(uri, artifacts, train_scorer(1)),
        "other": _register(uri, artifacts, train_scorer(2)),
        "broken": _register(uri, artifacts, train_scorer(3)),
    }
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.set_registered_model_alias(MODEL_NAME, "champion", versions["good"])
    # A version whose files are gone: loading it fails, as a corrupt upload would.
    source = client.get_model_version_download_uri(MODEL_NAME, versions["broken"])
    shutil.rmtree(source.removeprefix("file://"))
    return World(root, root / "log.db", root / "feast", mlflow_db, now, versions)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    return write_world(tmp_path_factory.mktemp("world"), now)


@dataclass
class Api:
    """One module's app: the client, its context, tokens by role and the world."""

    client: TestClient
    ctx: ServingContext
    tokens: dict[str, str]
    world: World
    home: Path

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}

    def get(self, path: str, who: str, **kwargs: Any) -> Any:
        headers = {**self.headers(who), **kwargs.pop("headers", {})}
        return self.client.get(path, headers=headers, **kwargs)

    def post(self, path: str, who: str, **kwargs: Any) -> Any:
        headers = {**self.headers(who), **kwargs.pop("headers", {})}
        return self.client.post(path, headers=headers, **kwargs)

    def delete(self, path: str, who: str, **kwargs: Any) -> Any:
        headers = {**self.headers(who), **kwargs.pop("headers", {})}
        return self.client.delete(path, headers=headers, **kwargs)


def serving_config(world: World, home: Path, **overrides: Any) -> ServingConfig:
    """A private copy of the world's stores under home, and the config pointing at it."""
    if not (home / "log.db").exists():
        shutil.copy(world.log_path, home / "log.db")
        shutil.copytree(world.feast_dir, home / "feast")
    options: dict[str, Any] = {
        "event_log_url": f"sqlite:///{home / 'log.db'}",
        "tracking_uri": world.tracking_uri_in(home),
        "feature_store_dir": home / "feast",
        "warm_up": False,
        "rate_limit": "off",  # fuzz tests outrun 100 requests a second; tests/reliability sets one
        "webhooks": WebhookConfig(worker=False),  # tests that deliver start their own
    }
    options.update(overrides)
    return ServingConfig(**options)


@pytest.fixture(scope="module")
def api(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("api")
    app = create_app(serving_config(world, home))
    with TestClient(app) as client:
        ctx: ServingContext = app.state.ctx
        tokens = {
            "admin": ctx.users.add("admin-1", "admin")[1],
            "crm": ctx.users.add("crm-1", "crm")[1],
            "officer": ctx.users.add("ana", "officer", officer_id="lo-01")[1],
            "officer2": ctx.users.add("ben", "officer", officer_id="lo-02")[1],
            "manager": ctx.users.add("mia-manager", "manager")[1],
            "bad": "ls_not-a-real-token",
        }
        yield Api(client, ctx, tokens, world, home)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every log record of the request, as the service writes it (JSON lines)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def next_midday(now: datetime) -> datetime:
    """The next 17:00 UTC: inside every contiguous-US calling window, all year."""
    candidate = now.replace(hour=17, minute=0, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


def queue_at(now: datetime | None = None) -> datetime:
    """A build instant inside every test lead's calling window (16:00-23:00 UTC covers ET, CT,
    MT and PT, FL's 20:00 ET end included, all year) and at most 18 h ahead, so contacts made
    now still fall in its 24-hour cap window."""
    soon = (now or datetime.now(UTC)) + timedelta(minutes=1)
    if 16 <= soon.hour < 23:
        return soon
    return next_midday(soon)


def event(event_id: str, lead_id: str, event_type: str, **fields: Any) -> dict[str, Any]:
    """An API event dict occurring a second ago (or at fields['occurred_at'])."""
    when = fields.pop("occurred_at", datetime.now(UTC) - timedelta(seconds=1))
    return {
        "event_id": event_id,
        "lead_id": lead_id,
        "occurred_at": when.isoformat() if isinstance(when, datetime) else when,
        "event_type": event_type,
        **fields,
    }


def new_lead(lead_id: str, officer_id: str = "lo-01", **fields: Any) -> dict[str, Any]:
    """An API lead dict created a minute ago."""
    lead: dict[str, Any] = {
        "lead_id": lead_id,
        "officer_id": officer_id,
        "created_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "first_name": "Nia",
        "last_name": "New",
        "phone": "+13125550142",
        "email": "nia@example.com",
        "state": "IL",
        "time_zone": "America/Chicago",
        "source": "online_lead",
        "loan_type": "purchase",
        "loan_amount_usd": 320000,
        "quoted_rate_pct": 6.6,
        "timeline_statement": "ASAP",
        "consent_call": True,
        "consent_text": True,
        "consent_email": True,
    }
    lead.update(fields)
    return lead
