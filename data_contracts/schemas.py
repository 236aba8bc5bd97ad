"""Tabular schemas: the columns and dtypes of the lead, event and market-rate tables."""

from __future__ import annotations

from typing import Final

LEAD_COLUMNS: Final[dict[str, str]] = {
    "lead_id": "string",
    "officer_id": "string",
    "created_at": "datetime64[ns, UTC]",
    "first_name": "string",
    "last_name": "string",
    "phone": "string",
    "email": "string",
    "state": "string",
    "time_zone": "string",
    "source": "string",
    "loan_type": "string",
    "loan_amount_usd": "float64",
    "credit_band": "string",
    "quoted_rate_pct": "float64",
    "timeline_statement": "string",
    "consent_call": "bool",
    "consent_text": "bool",
    "consent_email": "bool",
}
"""One row per lead, as the CRM exports it (leads.csv)."""

LEAD_REQUIRED: Final[tuple[str, ...]] = tuple(
    c for c in LEAD_COLUMNS if c not in {"time_zone", "credit_band", "timeline_statement"}
)

LEAD_PII_COLUMNS: Final[frozenset[str]] = frozenset({"first_name", "last_name", "phone", "email"})
"""Personal data: never logged, never in error bodies, never model inputs."""

EVENT_COLUMNS: Final[dict[str, str]] = {
    "event_id": "string",
    "lead_id": "string",
    "occurred_at": "datetime64[ns, UTC]",
    "event_type": "string",
    "channel": "string",
    "call_outcome": "string",
    "question_topic": "string",
    "page": "string",
    "text": "string",
}
"""One row per event (events.csv)."""

EVENT_REQUIRED: Final[tuple[str, ...]] = ("event_id", "lead_id", "occurred_at", "event_type")

MARKET_RATE_COLUMNS: Final[dict[str, str]] = {
    "date": "string",
    "rate_30y_pct": "float64",
}
"""The daily market rate for a 30-year fixed mortgage (rates.csv), for the rate-gap signal."""

TRUTH_COLUMNS: Final[dict[str, str]] = {
    "lead_id": "string",
    "true_propensity": "float64",
    "applied": "bool",
    "protected_group": "string",
}
"""Simulator-only ground truth (truth.csv): never ingested into the event log, never a feature.

true_propensity is the probability the simulator used to draw the lead's outcome under the
historical follow-up policy; protected_group is a synthetic attribute for fairness audits only.
"""

PROTECTED_COLUMNS: Final[frozenset[str]] = frozenset({"protected_group"})
