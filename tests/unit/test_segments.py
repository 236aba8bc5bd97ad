"""Engagement tiers and timeline segments on their boundaries; a lead's segments for serving."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.definitions import ENGAGEMENT_TIERS
from features.segments import engagement_tiers, lead_segments, timeline_segment, timeline_segments

NAN = math.nan


@pytest.mark.parametrize(
    ("days_since_last_inbound", "inbound_7d", "days_since_last_intent", "age_days", "tier"),
    [
        # hot: recent and frequent, bounds inclusive
        (3.0, 3, NAN, 30.0, "hot"),
        (0.0, 5, NAN, 30.0, "hot"),
        (3.01, 3, NAN, 30.0, "warm"),  # not recent enough for hot
        (1.0, 2, NAN, 30.0, "warm"),  # not frequent enough for hot
        # hot: application intent in the last 7 days, whatever else
        (20.0, 0, 7.0, 30.0, "hot"),
        (20.0, 0, 7.01, 30.0, "cold"),
        # warm: an inbound action in the last 14 days
        (14.0, 0, NAN, 30.0, "warm"),
        (14.01, 0, NAN, 30.0, "cold"),
        # cold: an inbound action in the last 60 days, or a new lead
        (60.0, 0, NAN, 90.0, "cold"),
        (60.01, 0, NAN, 90.0, "dormant"),
        (NAN, 0, NAN, 13.9, "cold"),
        (NAN, 0, NAN, 14.0, "dormant"),
        # dormant: never did anything and no longer new
        (NAN, 0, NAN, 200.0, "dormant"),
    ],
)
def test_engagement_tier_boundaries(
    days_since_last_inbound: float,
    inbound_7d: int,
    days_since_last_intent: float,
    age_days: float,
    tier: str,
) -> None:
    tiers = engagement_tiers(
        [days_since_last_inbound], [inbound_7d], [days_since_last_intent], [age_days]
    )

    assert tiers.tolist() == [tier]


def test_engagement_tiers_are_vectorized_and_use_the_shared_vocabulary() -> None:
    rng = np.random.default_rng(3)
    n = 500
    days = rng.uniform(0, 120, n)
    days[rng.random(n) < 0.2] = np.nan

    tiers = engagement_tiers(days, rng.integers(0, 6, n), days[::-1], rng.uniform(0, 60, n))

    assert tiers.shape == (n,)
    assert set(tiers) == set(ENGAGEMENT_TIERS)


@pytest.mark.parametrize(
    ("months", "segment"),
    [
        (0.0, "now"),
        (0.5, "now"),
        (0.51, "1_3_months"),
        (3.0, "1_3_months"),
        (3.01, "3_6_months"),
        (6.0, "3_6_months"),
        (6.01, "6_plus_months"),
        (None, "unknown"),
        (NAN, "unknown"),
    ],
)
def test_timeline_segment_boundaries(months: float | None, segment: str) -> None:
    assert timeline_segment(months) == segment
    assert timeline_segments([NAN if months is None else months]).tolist() == [segment]


def test_lead_segments_reads_the_four_segments_of_a_feature_row() -> None:
    row = {
        "timeline_segment": "3_6_months",
        "loan_type": "purchase",
        "source": "referral",
        "engagement_tier": "warm",
        "web_visits_7d": 2,
    }

    assert lead_segments(row) == {
        "timeline": "3_6_months",
        "loan_type": "purchase",
        "source": "referral",
        "engagement": "warm",
    }


def test_lead_segments_names_missing_columns() -> None:
    with pytest.raises(KeyError, match="engagement_tier"):
        lead_segments({"timeline_segment": "now", "loan_type": "jumbo", "source": "referral"})
