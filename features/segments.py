"""Segment rules: timeline segment from months to ready, engagement tier, and a lead's segments."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from features.definitions import ENGAGEMENT_TIERS

TIMELINE_SEGMENT_MAX_MONTHS: Final[tuple[tuple[str, float], ...]] = (
    ("now", 0.5),
    ("1_3_months", 3.0),
    ("3_6_months", 6.0),
)
"""Upper bounds (inclusive) in months to ready; anything later is '6_plus_months'."""

HOT_RECENT_INBOUND_DAYS: Final = 3.0
HOT_MIN_INBOUND_7D: Final = 3
HOT_INTENT_DAYS: Final = 7.0
WARM_INBOUND_DAYS: Final = 14.0
COLD_INBOUND_DAYS: Final = 60.0
NEW_LEAD_DAYS: Final = 14.0

APPLICATION_INTENT_PAGE: Final = re.compile(r"/(?:apply|pre-?approval)\b", re.IGNORECASE)
"""A web visit to one of these pages is an application-intent signal (as is a pre-approval
question)."""


def timeline_segment(months_to_ready: float | None) -> str:
    """The timeline segment of one lead: now, 1_3_months, 3_6_months, 6_plus_months or unknown."""
    if months_to_ready is None or months_to_ready != months_to_ready:  # None or NaN
        return "unknown"
    for segment, max_months in TIMELINE_SEGMENT_MAX_MONTHS:
        if months_to_ready <= max_months:
            return segment
    return "6_plus_months"


def timeline_segments(months_to_ready: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Vectorized timeline_segment: NaN months give 'unknown'."""
    months = np.asarray(months_to_ready, dtype=np.float64)
    conditions = [months <= max_months for _, max_months in TIMELINE_SEGMENT_MAX_MONTHS]
    conditions.append(months > TIMELINE_SEGMENT_MAX_MONTHS[-1][1])
    choices = [segment for segment, _ in TIMELINE_SEGMENT_MAX_MONTHS] + ["6_plus_months"]
    return np.select(conditions, choices, default="unknown").astype(object)


def engagement_tiers(
    days_since_last_inbound: npt.ArrayLike,
    inbound_7d: npt.ArrayLike,
    days_since_last_intent: npt.ArrayLike,
    days_since_created: npt.ArrayLike,
) -> npt.NDArray[np.object_]:
    """The engagement tier of each lead, first rule that holds (NaN days mean 'never'):

    - hot: an inbound action in the last 3 days and at least 3 inbound actions in the last
      7 days, or an application-intent signal in the last 7 days (a visit to an /apply or
      /pre-approval page, or a pre-approval question);
    - warm: an inbound action in the last 14 days;
    - cold: an inbound action in the last 60 days, or the lead is less than 14 days old
      (too new to call dormant);
    - dormant: otherwise.

    Bounds are inclusive ("in the last 3 days" is days_since <= 3.0).
    """
    inbound_days = np.asarray(days_since_last_inbound, dtype=np.float64)
    recent_count = np.asarray(inbound_7d, dtype=np.float64)
    intent_days = np.asarray(days_since_last_intent, dtype=np.float64)
    age_days = np.asarray(days_since_created, dtype=np.float64)
    hot = ((inbound_days <= HOT_RECENT_INBOUND_DAYS) & (recent_count >= HOT_MIN_INBOUND_7D)) | (
        intent_days <= HOT_INTENT_DAYS
    )
    warm = inbound_days <= WARM_INBOUND_DAYS
    cold = (inbound_days <= COLD_INBOUND_DAYS) | (age_days < NEW_LEAD_DAYS)
    hot_, warm_, cold_, dormant_ = ENGAGEMENT_TIERS
    return np.select([hot, warm, cold], [hot_, warm_, cold_], default=dormant_).astype(object)


def lead_segments(features_row: Mapping[str, Any]) -> dict[str, str]:
    """The four segments of one lead (each gets its own cadence), from its feature row."""
    wanted = {
        "timeline": "timeline_segment",
        "loan_type": "loan_type",
        "source": "source",
        "engagement": "engagement_tier",
    }
    missing = [column for column in wanted.values() if column not in features_row]
    if missing:
        raise KeyError(
            f"feature row lacks {missing}; pass a row of compute_features() or model_frame()"
        )
    return {segment: str(features_row[column]) for segment, column in wanted.items()}
