"""The one list of model features: names, types, meaning, and the domain's monotone directions.

Training, serving, the Feast repository and the feature-table contract all read this list, so a
feature exists in one place. Clock features (``days_since_*``, ``timeline_months``, the segments
that depend on them) are derived at request time from stored timestamps; see CLOCK_FEATURES.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["int", "float", "category"]


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One model input. monotone: +1 more means likelier to apply, -1 less, 0 no claim."""

    name: str
    kind: Kind
    description: str
    monotone: Literal[-1, 0, 1] = 0
    nullable: bool = False
    categories: tuple[str, ...] = ()


TIMELINE_SEGMENTS: Final = ("now", "1_3_months", "3_6_months", "6_plus_months", "unknown")
ENGAGEMENT_TIERS: Final = ("hot", "warm", "cold", "dormant")
LAST_CALL_OUTCOMES: Final = (
    "none",
    "no_answer",
    "voicemail",
    "connected",
    "appointment_set",
    "not_interested",
    "asked_to_stop",
)

FEATURES: Final[tuple[FeatureSpec, ...]] = (
    # website engagement
    FeatureSpec("web_visits_1d", "int", "site visits in the 24 hours before as-of", +1),
    FeatureSpec("web_visits_7d", "int", "site visits in the 7 days before as-of", +1),
    FeatureSpec("web_visits_30d", "int", "site visits in the 30 days before as-of", +1),
    FeatureSpec("distinct_pages", "int", "distinct pages visited since the lead was created"),
    FeatureSpec(
        "days_since_last_visit", "float", "days from the last visit to as-of", nullable=True
    ),
    # email and text engagement
    FeatureSpec("emails_sent", "int", "emails we sent"),
    FeatureSpec("emails_opened", "int", "emails the lead opened", +1),
    FeatureSpec("emails_clicked", "int", "emails the lead clicked", +1),
    FeatureSpec("email_open_rate", "float", "opened / sent", nullable=True),
    FeatureSpec("email_click_rate", "float", "clicked / sent", nullable=True),
    FeatureSpec("texts_sent", "int", "texts we sent"),
    FeatureSpec("texts_replied", "int", "texts the lead replied to", +1),
    # response speed
    FeatureSpec(
        "reply_minutes_median",
        "float",
        "median minutes from our touch to the lead's reply",
        nullable=True,
    ),
    FeatureSpec(
        "reply_minutes_last", "float", "minutes from our touch to the last reply", nullable=True
    ),
    FeatureSpec("touches_answered_share", "float", "share of our touches answered", nullable=True),
    # questions
    FeatureSpec("questions_total", "int", "questions the lead asked", +1),
    FeatureSpec("questions_rates", "int", "questions about rates"),
    FeatureSpec("questions_documents", "int", "questions about documents"),
    FeatureSpec("questions_pre_approval", "int", "questions about pre-approval"),
    FeatureSpec("questions_credit", "int", "questions about credit"),
    FeatureSpec("questions_down_payment", "int", "questions about the down payment"),
    # timeline statement
    FeatureSpec(
        "timeline_months",
        "float",
        "months from as-of until the lead said they would be ready (0 when due)",
        nullable=True,
    ),
    FeatureSpec("timeline_segment", "category", "timeline segment", categories=TIMELINE_SEGMENTS),
    # touches and recency
    FeatureSpec("touches_total", "int", "our outbound touches (calls, texts, emails)"),
    FeatureSpec("touches_call", "int", "calls we made"),
    FeatureSpec("touches_text", "int", "texts we sent"),
    FeatureSpec("touches_email", "int", "emails we sent"),
    FeatureSpec(
        "touches_since_last_inbound", "int", "touches since the lead last did anything", -1
    ),
    FeatureSpec(
        "last_call_outcome", "category", "outcome of our last call", categories=LAST_CALL_OUTCOMES
    ),
    FeatureSpec("days_since_created", "float", "lead age in days at as-of"),
    FeatureSpec("days_since_last_touch", "float", "days since our last touch", nullable=True),
    FeatureSpec(
        "days_since_last_inbound",
        "float",
        "days since the lead's last inbound action",
        -1,
        nullable=True,
    ),
    # the lead's profile
    FeatureSpec(
        "source",
        "category",
        "lead source",
        categories=("referral", "online_lead", "past_client", "realtor_partner"),
    ),
    FeatureSpec(
        "loan_type",
        "category",
        "loan type",
        categories=("purchase", "refinance", "investment", "jumbo"),
    ),
    FeatureSpec("loan_amount_usd", "float", "requested loan amount in USD"),
    FeatureSpec(
        "credit_band",
        "category",
        "self-reported credit band",
        categories=("excellent", "good", "fair", "poor", "unknown"),
    ),
    FeatureSpec(
        "rate_gap_pct",
        "float",
        "lead's quoted rate minus the market rate on as-of (positive: market is better)",
    ),
    FeatureSpec(
        "engagement_tier", "category", "hot, warm, cold or dormant", categories=ENGAGEMENT_TIERS
    ),
)

FEATURE_NAMES: Final[tuple[str, ...]] = tuple(f.name for f in FEATURES)
FEATURES_BY_NAME: Final[dict[str, FeatureSpec]] = {f.name: f for f in FEATURES}
CATEGORICAL_FEATURES: Final[tuple[str, ...]] = tuple(
    f.name for f in FEATURES if f.kind == "category"
)
MONOTONE_CONSTRAINTS: Final[dict[str, int]] = {f.name: f.monotone for f in FEATURES if f.monotone}
"""Where the domain is sure of the direction (DOMAIN.md signals); LightGBM enforces them."""

CLOCK_FEATURES: Final[frozenset[str]] = frozenset(
    {
        "web_visits_1d",
        "web_visits_7d",
        "web_visits_30d",
        "rate_gap_pct",
        "days_since_created",
        "days_since_last_touch",
        "days_since_last_inbound",
        "days_since_last_visit",
        "timeline_months",
        "timeline_segment",
        "engagement_tier",
    }
)
"""Features that move with the clock (days since, windowed counts, months to the stated
timeline, the gap to the market rate of the as-of day): derived at request time from a stored
row, the market rate and the as-of instant."""

FEATURE_SERVICE_NAME: Final = "lead_scoring_v1"
ENTITY_KEY: Final = "lead_id"
