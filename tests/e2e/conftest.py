"""Browser-test fixtures: a tiny data home, the real app under uvicorn, and headless Chromium.

The data home is built once per session: two officers' simulated CRM (the project's simulator,
written to the event log), two brand-new leads nobody has called yet, the Feast online store
filled for every open lead, and an MLflow registry with two versions trained by the real
training pipeline (training.pipeline.run_training) on a seeded synthetic frame: a champion that
passed every gate and a challenger (labels shuffled) that failed them, each with its metrics,
baseline table, fairness audit and charts. The app runs in a uvicorn thread on a free
127.0.0.1 port; the browser is Debian's /usr/bin/chromium driven by Playwright.

The queue is built at a fixed instant `at` (the page's ?at= planning view) inside every
contiguous-US calling window, so the tests do not depend on the hour they run at.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
VIEWPORT = {"width": 1280, "height": 800}
WORKDAY_ZONE = "America/Chicago"
MODEL_NAME = "lead-scorer"

HAND_MADE_LEADS: tuple[dict[str, Any], ...] = (
    # Sent by the CRM minutes ago and never contacted: they head the 'new' lane.
    {"lead_id": "NEW-0001", "first_name": "Maya", "last_name": "Brooks", "minutes_ago": 45},
    {
        "lead_id": "NEW-0002",
        "first_name": "Omar",
        "last_name": "Haddad",
        "minutes_ago": 12,
        "state": "TX",
        "source": "referral",
        "loan_type": "refinance",
        "loan_amount_usd": 512_000.0,
        "quoted_rate_pct": 7.1,
        "timeline_statement": "ASAP",
        "events": (
            (2, "web_visit", {"page": "/rates"}),
            (4, "web_visit", {"page": "/refinance"}),
            (6, "question_asked", {"question_topic": "rates"}),
        ),
    },
    # Held back whenever the queue is built: no consent to call or text, no known time zone.
    {
        "lead_id": "HB-0001",
        "first_name": "Lena",
        "last_name": "Fischer",
        "minutes_ago": 60 * 24 * 6,
        "consent_call": False,
        "consent_text": False,
    },
    {
        "lead_id": "HB-0002",
        "first_name": "Sam",
        "last_name": "Ortiz",
        "minutes_ago": 60 * 24 * 9,
        "state": "TX",
        "time_zone": None,
    },
)
"""Leads added to lo-01's simulated book so every lane and the held-back list have content."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def queue_instant(now: datetime) -> datetime:
    """An instant after every outcome the tests log (now + 15 min at least) and inside every
    contiguous-US calling window: 16:00-22:45 UTC holds ET (FL's 20:00 end too), CT, MT and PT
    all year; otherwise the next 17:00 UTC (at most 18 h ahead, inside the 24-hour cap window)."""
    soon = now + timedelta(minutes=15)
    if 16 <= soon.hour < 22 or (soon.hour == 22 and soon.minute < 45):
        return soon.replace(microsecond=0)
    candidate = soon.replace(hour=17, minute=0, second=0, microsecond=0)
    return candidate if candidate > soon else candidate + timedelta(days=1)


# -- the data home -----------------------------------------------------------------------------


def _simulated_crm(now: datetime) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from simulator import SimulationConfig, simulate
    from simulator.clock import add_months

    start = add_months(now.date() - timedelta(days=1), -2)
    world = simulate(
        SimulationConfig(officers=2, months=2, leads_per_month=30, seed=5, start=start)
    )
    leads = world.leads.copy()
    events = world.events.copy()
    template: dict[str, Any] = {str(k): v for k, v in leads.iloc[0].to_dict().items()}
    extra_leads, extra_events = [], []
    for spec in HAND_MADE_LEADS:
        fields = {k: v for k, v in spec.items() if k not in ("minutes_ago", "events")}
        created = pd.Timestamp(now - timedelta(minutes=spec["minutes_ago"]))
        extra_leads.append(
            {
                **template,
                "officer_id": "lo-01",
                "created_at": created,
                "phone": "+13125550142",
                "email": f"{str(spec['first_name']).lower()}@example.com",
                "state": "IL",
                "time_zone": "America/Chicago",
                "source": "online_lead",
                "loan_type": "purchase",
                "loan_amount_usd": 385_000.0,
                "quoted_rate_pct": 6.5,
                "timeline_statement": "our lease ends in 3 months",
                "consent_call": True,
                "consent_text": True,
                "consent_email": True,
                **fields,
            }
        )
        extra_events.append(
            {
                "event_id": f"{spec['lead_id']}-created",
                "lead_id": spec["lead_id"],
                "occurred_at": created,
                "event_type": "lead_created",
                "channel": None,
                "call_outcome": None,
                "question_topic": None,
                "page": None,
                "text": None,
            }
        )
        for minutes_after, kind, extra in spec.get("events", ()):
            extra_events.append(
                {
                    "event_id": f"{spec['lead_id']}-{len(extra_events)}",
                    "lead_id": spec["lead_id"],
                    "occurred_at": created + pd.Timedelta(minutes=minutes_after),
                    "event_type": kind,
                    "channel": None,
                    "call_outcome": None,
                    "question_topic": None,
                    "page": None,
                    "text": None,
                    **extra,
                }
            )
    leads = pd.concat([leads, pd.DataFrame(extra_leads).astype(leads.dtypes)], ignore_index=True)
    events = pd.concat(
        [events, pd.DataFrame(extra_events).astype(events.dtypes)], ignore_index=True
    )
    return leads, events, world.rates


def _model_test_frame() -> Callable[..., pd.DataFrame]:
    """tests/model's seeded training frame with a known signal (loaded by path: both test
    folders have a conftest module)."""
    path = REPO / "tests" / "model" / "conftest.py"
    spec = importlib.util.spec_from_file_location("leadscore_model_test_frames", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    factory: Callable[..., pd.DataFrame] = module.make_lead_frame
    return factory


def _train_registry(tracking_uri: str, artifacts: Path) -> dict[str, str]:
    """A champion (every gate passed) and a challenger (shuffled labels: gates failed)."""
    from training.pipeline import RegistryTarget, run_training
    from training.train import TrainConfig, prepare_lead_data

    config = TrainConfig(
        num_boost_round=200, early_stopping_rounds=20, learning_rate=0.1, num_threads=1
    )
    frame = _model_test_frame()(1500, seed=7)
    target = RegistryTarget(tracking_uri, artifacts, MODEL_NAME)
    data = prepare_lead_data(frame, config, horizon_days=30, capacity=5)
    good = run_training(data, config, target, run_name="e2e-champion")
    shuffled = frame.assign(label=np.random.default_rng(1).permutation(frame["label"].to_numpy()))
    worse_data = prepare_lead_data(shuffled, config, horizon_days=30, capacity=5)
    worse = run_training(worse_data, config, target, run_name="e2e-challenger")
    return {"champion": str(good.version), "challenger": str(worse.version)}


@dataclass(frozen=True)
class Home:
    """The prepared data home and what the tests need to know about it."""

    root: Path
    event_log_url: str
    tracking_uri: str
    feature_store_dir: Path
    tokens: dict[str, str]
    versions: dict[str, str]
    now: datetime
    at: datetime

    @property
    def at_param(self) -> str:
        return self.at.strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def same_workday(self) -> bool:
        """Do calls logged now count toward the planning instant's day?"""
        zone = ZoneInfo(WORKDAY_ZONE)
        return self.at.astimezone(zone).date() == datetime.now(UTC).astimezone(zone).date()


def build_home(root: Path) -> Home:
    from features.build import refresh_online_features
    from features.event_log import EventLog
    from features.store import LeadFeatureStore
    from serving.auth import UserStore
    from serving.db import create_serving_tables
    from serving.lead_state import lead_states, open_mask

    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    leads, events, rates = _simulated_crm(now)
    url = f"sqlite:///{root / 'leadscore.db'}"
    log = EventLog(url)
    log.upsert_leads(leads, now=now)
    log.append_events(events, now=now)
    log.put_market_rates(rates)
    store = LeadFeatureStore(root / "feast")
    store.apply()
    states = lead_states(log, at=now, lead_ids=leads["lead_id"].tolist())
    refresh_online_features(log, store, states.loc[open_mask(states), "lead_id"].tolist(), now=now)
    create_serving_tables(log.engine)
    users = UserStore(log.engine)
    tokens = {
        "officer": users.add("ana-lo-01", "officer", officer_id="lo-01")[1],
        "officer2": users.add("ben-lo-02", "officer", officer_id="lo-02")[1],
        "admin": users.add("admin", "admin")[1],
        "manager": users.add("manager", "manager")[1],
        "crm": users.add("crm", "crm")[1],
    }
    log.dispose()
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    versions = _train_registry(tracking_uri, root / "mlartifacts")
    return Home(
        root=root,
        event_log_url=url,
        tracking_uri=tracking_uri,
        feature_store_dir=root / "feast",
        tokens=tokens,
        versions=versions,
        now=now,
        at=queue_instant(datetime.now(UTC)),
    )


# -- the running app ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """The running app: its URL, the data home, and its serving context (to check the event
    log behind what the page shows)."""

    base_url: str
    home: Home
    ctx: Any


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium (`make browser`, as root) to run "
            "the browser tests"
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def home(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Home:  # noqa: ARG001
    return build_home(tmp_path_factory.mktemp("e2e-home"))


@pytest.fixture(scope="session")
def site(home: Home) -> Iterator[Site]:
    import uvicorn

    from serving.app import create_app
    from serving.config import ServingConfig

    config = ServingConfig(
        event_log_url=home.event_log_url,
        tracking_uri=home.tracking_uri,
        feature_store_dir=home.feature_store_dir,
        workday_time_zone=WORKDAY_ZONE,
    )
    app = create_app(config)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="e2e-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start within 60 s (see the log above)")
        time.sleep(0.05)
    app.state.ctx.wait_for_warm_up()  # the contract checks load now, not on the first click
    try:
        yield Site(f"http://127.0.0.1:{port}", home, app.state.ctx)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


# -- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def new_page(browser: Any, site: Site) -> Iterator[Callable[..., Any]]:
    """Open a fresh browser context (its own cookies) and return its page."""
    contexts: list[Any] = []

    def open_page(**options: Any) -> Any:
        context = browser.new_context(
            base_url=site.base_url, viewport=options.pop("viewport", VIEWPORT), **options
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def sign_in(site: Site) -> Callable[[Any, str], None]:
    """Sign a page in through the form with the token of 'officer', 'officer2', 'admin' or
    'manager'."""

    def do(page: Any, who: str) -> None:
        page.goto("/login")
        page.get_by_label("Access token").fill(site.home.tokens[who])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/login" not in url)

    return do


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def check_accessibility() -> Callable[[Any, str], None]:
    """axe-core (bundled by axe-playwright-python) on the page: no serious or critical
    violation; the full report is saved under test-artifacts/e2e/."""
    import json

    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    def check(page: Any, name: str) -> None:
        results = Axe().run(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        violations = results.response["violations"]
        (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(violations, indent=1))
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} - {[n['target'] for n in v['nodes']][:5]}"
            for v in violations
            if v.get("impact") in ("serious", "critical")
        ]
        assert bad == [], f"axe-core found serious or critical violations on {name}: {bad}"

    return check


def copy_screenshot(source: Path, name: str) -> None:
    """Refresh the README's copy when LEADSCORE_UPDATE_SCREENSHOTS=1 (by hand, not in CI),
    reduced to a 256-colour palette to keep the repository small."""
    if os.environ.get("LEADSCORE_UPDATE_SCREENSHOTS") != "1":
        return
    from PIL import Image

    target = REPO / "docs" / "screenshots" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as image:
        image.convert("RGB").quantize(colors=256).save(target, optimize=True)


@pytest.fixture
def screenshot(artifacts: Path) -> Callable[[Any, str], Path]:
    def take(page: Any, name: str) -> Path:
        path = artifacts / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        copy_screenshot(path, f"{name}.png")
        return path

    return take
