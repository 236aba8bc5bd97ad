"""Plain-language reasons: one template per feature and direction, filled with the row's value.

A reason is what a loan officer reads next to a lead ("visited the site 6 times this week").
Its direction comes from the feature's SHAP value (log-odds): "up" raised the score, "down"
lowered it. Templates are plain strings so a saved model carries its own (CSV-trained models
get generic ones). Placeholders, filled by ``render_reason``:

- ``{value}`` the number (use a format spec, e.g. ``{value:.0f}``), ``{abs_value}``,
  ``{pct}`` (value x 100, for shares), ``{s}``/``{es}`` plural endings,
  ``{times}`` (once, twice, 3 times), ``{duration}`` (minutes as "40 minutes", "3 hours"),
  ``{days_ago}`` (today, yesterday, 5 days ago), ``{days}`` (less than a day, 1 day, 9 days),
  ``{about_months}`` (under a month, about 2 months), ``{label}`` (a category's phrase from
  ``labels``).

A template picks, in order: ``missing`` when the value is missing, ``zero`` when it is 0,
``negative`` when it is below 0, else ``up`` or ``down`` by the SHAP sign.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

Direction = str  # "up" or "down"


@dataclass(frozen=True)
class ReasonTemplate:
    """The sentences for one feature."""

    up: str
    down: str
    zero: str | None = None
    negative: str | None = None
    missing: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "up": self.up,
            "down": self.down,
            "zero": self.zero,
            "negative": self.negative,
            "missing": self.missing,
            "labels": dict(self.labels),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReasonTemplate:
        return cls(
            up=data["up"],
            down=data["down"],
            zero=data.get("zero"),
            negative=data.get("negative"),
            missing=data.get("missing"),
            labels=dict(data.get("labels") or {}),
        )


@dataclass(frozen=True)
class Reason:
    """One feature's push on one lead's score."""

    feature: str
    value: float | str | None
    shap_log_odds: float
    direction: Direction
    text: str


@dataclass(frozen=True)
class Explanation:
    """Why one lead scored as it did: the strongest pushes up and down."""

    probability: float
    raw_log_odds: float
    base_log_odds: float
    up: tuple[Reason, ...]
    down: tuple[Reason, ...]
    lead_id: str | None = None


def _count_word(n: float) -> str:
    k = round(n)
    return {1: "once", 2: "twice"}.get(k, f"{k} times")


def _duration(minutes: float) -> str:
    if minutes < 90:
        m = max(round(minutes), 1)
        return f"{m} minute{'s' if m != 1 else ''}"
    if minutes < 48 * 60:
        h = round(minutes / 60)
        return f"{h} hours"
    return f"{round(minutes / 1440)} days"


def _days_ago(days: float) -> str:
    d = math.floor(days)
    if d <= 0:
        return "today"
    return "yesterday" if d == 1 else f"{d} days ago"


def _days(days: float) -> str:
    if days < 1:
        return "less than a day"
    d = math.floor(days)
    return f"{d} day{'s' if d != 1 else ''}"


def _about_months(months: float) -> str:
    if months < 1:
        return "under a month"
    m = round(months)
    return f"about {m} month{'s' if m != 1 else ''}"


def render_reason(
    feature: str, template: ReasonTemplate, value: float | str | None, shap_log_odds: float
) -> str:
    """The sentence for one feature value and the direction of its SHAP value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return template.missing or f"no {feature.replace('_', ' ')} on record"
    if isinstance(value, str):
        label = template.labels.get(value, value.replace("_", " "))
        text = template.up if shap_log_odds >= 0 else template.down
        return text.format(label=label, value=value)
    if template.zero is not None and value == 0:
        chosen = template.zero
    elif template.negative is not None and value < 0:
        chosen = template.negative
    else:
        chosen = template.up if shap_log_odds >= 0 else template.down
    rounded = round(value)
    return chosen.format(
        value=value,
        abs_value=abs(value),
        pct=value * 100.0,
        s="" if rounded == 1 else "s",
        es="" if rounded == 1 else "es",
        times=_count_word(value),
        duration=_duration(value),
        days_ago=_days_ago(value),
        days=_days(value),
        about_months=_about_months(value),
        label=str(value),
    )


def _counted(verb_up: str, verb_down: str, zero: str) -> ReasonTemplate:
    return ReasonTemplate(up=verb_up, down=verb_down, zero=zero)


def _questions(topic: str) -> ReasonTemplate:
    return ReasonTemplate(
        up=f"asked about {topic} {{times}}",
        down=f"asked about {topic} only {{times}}",
        zero=f"hasn't asked about {topic}",
    )


LEAD_REASON_TEMPLATES: Final[dict[str, ReasonTemplate]] = {
    "web_visits_1d": _counted(
        "visited the site {value:.0f} time{s} in the last day",
        "only {value:.0f} site visit{s} in the last day",
        "no site visits in the last day",
    ),
    "web_visits_7d": _counted(
        "visited the site {value:.0f} time{s} this week",
        "only {value:.0f} site visit{s} this week",
        "no site visits this week",
    ),
    "web_visits_30d": _counted(
        "visited the site {value:.0f} time{s} in the last 30 days",
        "only {value:.0f} site visit{s} in the last 30 days",
        "no site visits in the last 30 days",
    ),
    "distinct_pages": _counted(
        "looked at {value:.0f} different page{s}",
        "looked at only {value:.0f} page{s}",
        "hasn't browsed any pages",
    ),
    "days_since_last_visit": ReasonTemplate(
        up="last visited the site {days_ago}",
        down="last visited the site {days_ago}",
        missing="has never visited the site",
    ),
    "emails_sent": _counted(
        "we've sent {value:.0f} email{s}", "we've sent {value:.0f} email{s}", "no emails sent yet"
    ),
    "emails_opened": _counted(
        "opened {value:.0f} of our emails",
        "opened only {value:.0f} email{s}",
        "hasn't opened any email",
    ),
    "emails_clicked": _counted(
        "clicked through {value:.0f} email{s}",
        "clicked through only {value:.0f} email{s}",
        "hasn't clicked any email link",
    ),
    "email_open_rate": ReasonTemplate(
        up="opens {pct:.0f}% of our emails",
        down="opens only {pct:.0f}% of our emails",
        missing="no emails sent yet",
    ),
    "email_click_rate": ReasonTemplate(
        up="clicks {pct:.0f}% of our emails",
        down="clicks only {pct:.0f}% of our emails",
        missing="no emails sent yet",
    ),
    "texts_sent": _counted(
        "we've sent {value:.0f} text{s}", "we've sent {value:.0f} text{s}", "no texts sent yet"
    ),
    "texts_replied": _counted(
        "replied to {value:.0f} text{s}",
        "replied to only {value:.0f} text{s}",
        "hasn't replied to any text",
    ),
    "reply_minutes_median": ReasonTemplate(
        up="usually replies within {duration}",
        down="usually takes {duration} to reply",
        missing="has never replied",
    ),
    "reply_minutes_last": ReasonTemplate(
        up="replied to our last touch within {duration}",
        down="took {duration} to reply last time",
        missing="has never replied",
    ),
    "touches_answered_share": ReasonTemplate(
        up="answers {pct:.0f}% of our touches",
        down="answers only {pct:.0f}% of our touches",
        missing="we haven't reached out yet",
    ),
    "questions_total": _counted(
        "asked {value:.0f} question{s}",
        "asked only {value:.0f} question{s}",
        "hasn't asked any questions",
    ),
    "questions_rates": _questions("rates"),
    "questions_documents": _questions("documents"),
    "questions_pre_approval": _questions("pre-approval"),
    "questions_credit": _questions("credit"),
    "questions_down_payment": _questions("the down payment"),
    "timeline_months": ReasonTemplate(
        up="said they'd be ready in {about_months}",
        down="said they won't be ready for {about_months}",
        zero="said they're ready now",
        missing="hasn't said when they'd be ready",
    ),
    "timeline_segment": ReasonTemplate(
        up="{label}",
        down="{label}",
        labels={
            "now": "said they're ready now",
            "1_3_months": "said they'd be ready in 1-3 months",
            "3_6_months": "said they'd be ready in 3-6 months",
            "6_plus_months": "said it will be 6 months or more",
            "unknown": "hasn't given a timeline",
        },
    ),
    "touches_total": _counted(
        "we've reached out {value:.0f} time{s}",
        "we've reached out {value:.0f} time{s}",
        "we haven't reached out yet",
    ),
    "touches_call": _counted(
        "we've called {value:.0f} time{s}",
        "we've called {value:.0f} time{s}",
        "we haven't called yet",
    ),
    "touches_text": _counted(
        "we've texted {value:.0f} time{s}",
        "we've texted {value:.0f} time{s}",
        "we haven't texted yet",
    ),
    "touches_email": _counted(
        "we've emailed {value:.0f} time{s}",
        "we've emailed {value:.0f} time{s}",
        "we haven't emailed yet",
    ),
    "touches_since_last_inbound": _counted(
        "responded recently (only {value:.0f} touch{es} since)",
        "no response to the last {value:.0f} touch{es}",
        "responded since our last touch",
    ),
    "last_call_outcome": ReasonTemplate(
        up="{label}",
        down="{label}",
        labels={
            "none": "we haven't called yet",
            "no_answer": "didn't answer our last call",
            "voicemail": "our last call went to voicemail",
            "connected": "we spoke on our last call",
            "appointment_set": "booked an appointment on our last call",
            "not_interested": "said they weren't interested on our last call",
            "asked_to_stop": "asked us to stop calling",
        },
    ),
    "days_since_created": ReasonTemplate(up="came in {days_ago}", down="came in {days_ago}"),
    "days_since_last_touch": ReasonTemplate(
        up="our last touch was {days_ago}",
        down="our last touch was {days_ago}",
        missing="we haven't reached out yet",
    ),
    "days_since_last_inbound": ReasonTemplate(
        up="last responded {days_ago}",
        down="no response for {days}",
        missing="has never responded",
    ),
    "source": ReasonTemplate(
        up="{label}",
        down="{label}",
        labels={
            "referral": "referred by someone they know",
            "online_lead": "came in as an online lead",
            "past_client": "a past client",
            "realtor_partner": "referred by a realtor partner",
        },
    ),
    "loan_type": ReasonTemplate(
        up="{label}",
        down="{label}",
        labels={
            "purchase": "buying a home",
            "refinance": "looking to refinance",
            "investment": "financing an investment property",
            "jumbo": "needs a jumbo loan",
        },
    ),
    "loan_amount_usd": ReasonTemplate(
        up="asking for ${value:,.0f}", down="asking for ${value:,.0f}"
    ),
    "credit_band": ReasonTemplate(
        up="{label}",
        down="{label}",
        labels={
            "excellent": "says their credit is excellent",
            "good": "says their credit is good",
            "fair": "says their credit is fair",
            "poor": "says their credit is poor",
            "unknown": "hasn't told us their credit",
        },
    ),
    "rate_gap_pct": ReasonTemplate(
        up="market rate is {value:.1f} points below their quote",
        down="market rate is only {value:.1f} points below their quote",
        zero="market rate equals their quote",
        negative="market rate is {abs_value:.1f} points above their quote",
    ),
    "engagement_tier": ReasonTemplate(
        up="{label}",
        down="{label}",
        labels={
            "hot": "engagement is hot",
            "warm": "engagement is warm",
            "cold": "engagement has gone cold",
            "dormant": "has gone dormant",
        },
    ),
}
"""The lead model's templates, keyed by the names in features/definitions.py (a test checks
every feature has one)."""


def generic_template(column: str, kind: str) -> ReasonTemplate:
    """A template for a column we know nothing about (models trained from a CSV export)."""
    title = column.replace("{", "{{").replace("}", "}}")
    if kind == "category":
        return ReasonTemplate(
            up=f"{title} is {{label}}",
            down=f"{title} is {{label}}",
            missing=f"{title} not recorded",
        )
    if kind == "flag":
        return ReasonTemplate(
            up=f"{title}: yes",
            down=f"{title}: yes",
            zero=f"{title}: no",
            missing=f"{title} not recorded",
        )
    return ReasonTemplate(
        up=f"{title} is {{value:g}}",
        down=f"{title} is {{value:g}}",
        missing=f"{title} not recorded",
    )
