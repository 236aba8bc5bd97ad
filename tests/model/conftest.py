"""Model-test fixtures: a seeded synthetic training frame with a known signal, and a small
trained scorer.

The frame follows the training-frame contract (training/train.py): one row per lead and
snapshot day, every feature in features/definitions.py, a label drawn from a logistic function
of a few features, and oracle_propensity equal to that probability.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.definitions import FEATURES, LAST_CALL_OUTCOMES
from models.scorer import LeadScorer
from training.train import PreparedData, TrainConfig, fit_scorer, prepare_lead_data

# No network from tests: MLflow's usage telemetry off (before anything imports mlflow).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

START = pd.Timestamp("2024-01-01", tz="UTC")
TIMELINE_MONTHS_AT_START = {"now": 0.0, "1_3_months": 2.0, "3_6_months": 4.5, "6_plus_months": 9.0}
TIMELINE_EFFECT = {
    "now": 1.0,
    "1_3_months": 0.5,
    "3_6_months": 0.0,
    "6_plus_months": -0.6,
    "unknown": -0.2,
}
BANK_CSV = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "bank_telemarketing.csv"

FrameFactory = Callable[..., pd.DataFrame]


def _segment(months: np.ndarray) -> np.ndarray:
    return np.select(
        [np.isnan(months), months < 1, months < 3, months < 6],
        ["unknown", "now", "1_3_months", "3_6_months"],
        "6_plus_months",
    )


def make_lead_frame(
    n_leads: int = 1500,
    *,
    seed: int = 7,
    span_days: int = 120,
    life_days: int = 40,
    step_days: int = 2,
    n_officers: int = 4,
    intercept: float = -4.0,
) -> pd.DataFrame:
    """A training frame with a plausible signal (engagement, timeline, rate gap, recency)."""
    rng = np.random.default_rng(seed)
    created = START + pd.to_timedelta(rng.uniform(0, span_days, n_leads), unit="D")
    lead = pd.DataFrame(
        {
            "lead_id": [f"L{i:05d}" for i in range(n_leads)],
            "officer_id": [f"lo-{k:02d}" for k in rng.integers(0, n_officers, n_leads)],
            "lead_created_at": created,
            "engagement": rng.gamma(2.0, 0.5, n_leads),
            "timeline0": rng.choice(
                [0.0, 2.0, 4.5, 9.0, np.nan], n_leads, p=[0.15, 0.25, 0.25, 0.15, 0.2]
            ),
            "source": rng.choice(
                ["referral", "online_lead", "past_client", "realtor_partner"],
                n_leads,
                p=[0.2, 0.5, 0.1, 0.2],
            ),
            "loan_type": rng.choice(
                ["purchase", "refinance", "investment", "jumbo"], n_leads, p=[0.5, 0.3, 0.1, 0.1]
            ),
            "credit_band": rng.choice(["excellent", "good", "fair", "poor", "unknown"], n_leads),
            "loan_amount_usd": np.round(rng.lognormal(12.7, 0.4, n_leads), -3),
            "quoted_rate_pct": rng.normal(6.8, 0.4, n_leads),
            "protected_group": rng.choice(["A", "B"], n_leads, p=[0.6, 0.4]),
        }
    )
    # Snapshots on a shared calendar, so every officer-day ranks all its active leads.
    grid = START + pd.to_timedelta(np.arange(0, span_days + life_days, step_days), unit="D")
    rows = lead.merge(pd.DataFrame({"as_of": grid}), how="cross")
    age = (rows["as_of"] - rows["lead_created_at"]).dt.total_seconds().to_numpy() / 86400
    rows = rows[(age >= 0) & (age < life_days)].reset_index(drop=True)
    n = len(rows)
    d = (rows["as_of"] - rows["lead_created_at"]).dt.total_seconds().to_numpy() / 86400
    e = rows["engagement"].to_numpy()
    decay = np.exp(-d / 60)

    visits_7d = rng.poisson(1.5 * e * decay)
    visits_30d = visits_7d + rng.poisson(3.0 * e * decay)
    emails_sent = (d // 3 + 1).astype(np.int64)
    emails_opened = rng.binomial(emails_sent, np.clip(0.2 + 0.2 * e, 0, 0.9))
    emails_clicked = rng.binomial(emails_opened, 0.3)
    texts_sent = (d // 5 + 1).astype(np.int64)
    texts_replied = rng.binomial(texts_sent, np.clip(0.1 + 0.15 * e, 0, 0.9))
    calls = (d // 4 + 1).astype(np.int64)
    topics = {
        t: rng.poisson(0.15 * e)
        for t in ("rates", "documents", "pre_approval", "credit", "down_payment")
    }
    questions_total = sum(topics.values())
    months = np.maximum(rows["timeline0"].to_numpy() - d / 30, 0)
    segment = _segment(months)
    since_inbound = np.where(rng.random(n) < 0.05, np.nan, rng.exponential(5 / e))
    touches_since_inbound = rng.poisson(2 / e)
    market = 6.5 + 0.4 * np.sin((rows["as_of"] - START).dt.days.to_numpy() / 40)
    rate_gap = rows["quoted_rate_pct"].to_numpy() - market
    touches_total = calls + texts_sent + emails_sent
    tier = np.select(
        [visits_7d >= 3, visits_7d >= 1, visits_30d >= 1], ["hot", "warm", "cold"], "dormant"
    )

    frame = pd.DataFrame(
        {
            "lead_id": rows["lead_id"],
            "officer_id": rows["officer_id"],
            "as_of": rows["as_of"],
            "lead_created_at": rows["lead_created_at"],
            "web_visits_1d": rng.binomial(visits_7d, 1 / 7),
            "web_visits_7d": visits_7d,
            "web_visits_30d": visits_30d,
            "distinct_pages": rng.poisson(1 + visits_30d),
            "days_since_last_visit": np.where(
                visits_30d > 0, rng.uniform(0, np.where(visits_7d > 0, 7, 30)), np.nan
            ),
            "emails_sent": emails_sent,
            "emails_opened": emails_opened,
            "emails_clicked": emails_clicked,
            "email_open_rate": emails_opened / emails_sent,
            "email_click_rate": emails_clicked / emails_sent,
            "texts_sent": texts_sent,
            "texts_replied": texts_replied,
            "reply_minutes_median": np.where(texts_replied > 0, rng.lognormal(4, 1, n), np.nan),
            "reply_minutes_last": np.where(texts_replied > 0, rng.lognormal(4, 1.2, n), np.nan),
            "touches_answered_share": (emails_opened + texts_replied) / touches_total,
            "questions_total": questions_total,
            **{f"questions_{t}": v for t, v in topics.items()},
            "timeline_months": months,
            "timeline_segment": segment,
            "touches_total": touches_total,
            "touches_call": calls,
            "touches_text": texts_sent,
            "touches_email": emails_sent,
            "touches_since_last_inbound": touches_since_inbound,
            "last_call_outcome": rng.choice(LAST_CALL_OUTCOMES[:5], n),
            "days_since_created": d,
            "days_since_last_touch": rng.uniform(0, 3, n),
            "days_since_last_inbound": since_inbound,
            "source": rows["source"],
            "loan_type": rows["loan_type"],
            "loan_amount_usd": rows["loan_amount_usd"],
            "credit_band": rows["credit_band"],
            "rate_gap_pct": rate_gap,
            "engagement_tier": tier,
            "protected_group": rows["protected_group"],
        }
    )
    logit = (
        intercept
        + 0.25 * np.minimum(visits_7d, 8)
        + 0.15 * np.minimum(emails_clicked, 5)
        + 0.35 * np.minimum(texts_replied, 4)
        + 0.3 * np.minimum(questions_total, 4)
        - 0.08 * np.minimum(touches_since_inbound, 15)
        - 0.04 * np.minimum(np.nan_to_num(since_inbound, nan=60.0), 60)
        + pd.Series(segment).map(TIMELINE_EFFECT).to_numpy()
        + 0.5 * np.clip(rate_gap, -1, 1) * np.where(rows["loan_type"] == "refinance", 2, 1)
        + rows["source"].map({"referral": 0.4, "past_client": 0.3}).fillna(0).to_numpy()
        - 0.01 * d
    )
    propensity = 1 / (1 + np.exp(-logit))
    frame["oracle_propensity"] = propensity
    frame["label"] = rng.random(n) < propensity
    for spec in FEATURES:
        if spec.kind == "int":
            frame[spec.name] = frame[spec.name].astype(np.int64)
        elif spec.kind == "float":
            frame[spec.name] = frame[spec.name].astype(np.float64)
        else:
            frame[spec.name] = frame[spec.name].astype(str)
    return frame


FAST_CONFIG = TrainConfig(
    num_boost_round=200, early_stopping_rounds=20, learning_rate=0.1, num_threads=1
)
"""Few rounds, a high learning rate: a test-sized model in well under a second. One thread:
on a shared, busy machine a second OpenMP thread makes LightGBM several times slower."""


@pytest.fixture(scope="session")
def lead_frame_factory() -> FrameFactory:
    return make_lead_frame


@pytest.fixture(scope="session")
def fast_config() -> TrainConfig:
    return FAST_CONFIG


@pytest.fixture(scope="session")
def lead_frame() -> pd.DataFrame:
    return make_lead_frame()


@pytest.fixture(scope="session")
def prepared(lead_frame: pd.DataFrame) -> PreparedData:
    return prepare_lead_data(lead_frame, FAST_CONFIG, horizon_days=30, capacity=5)


@pytest.fixture(scope="session")
def scorer(prepared: PreparedData) -> LeadScorer:
    return fit_scorer(prepared, FAST_CONFIG)


@pytest.fixture(scope="session")
def bank_csv() -> Path:
    if not BANK_CSV.exists():
        pytest.skip(f"{BANK_CSV} is absent (a clone without ../shared/data)")
    return BANK_CSV
