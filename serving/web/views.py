"""What the pages show, computed from the service's answers: pure functions, no I/O.

The templates only lay these out; every label, time format, bar width and filter value is decided
here, so it can be read (and tested) without a browser.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from data_contracts.enums import LeadSource, LoanType
from features.definitions import ENGAGEMENT_TIERS, FEATURES_BY_NAME, TIMELINE_SEGMENTS

LANES: Final = ("new", "trigger", "ranked")
LANE_TITLES: Final = {"new": "New leads", "trigger": "Triggers", "ranked": "Ranked by score"}
LANE_NOTES: Final = {
    "new": "Never contacted yet, oldest waiting first: a first call within minutes converts "
    "many times better than one made hours later.",
    "trigger": "Something just changed: a rate drop below their quote, a timeline coming due, "
    "or activity in the last hour.",
    "ranked": "Everyone else you may contact now, by the model's chance they apply.",
}

SEGMENT_LABELS: Final[dict[str, dict[str, str]]] = {
    "timeline_segment": {
        "now": "Ready now",
        "1_3_months": "1–3 months",
        "3_6_months": "3–6 months",
        "6_plus_months": "6+ months",
        "unknown": "Timeline unknown",
    },
    "loan_type": {t.value: t.value.capitalize() for t in LoanType},
    "source": {s.value: s.value.replace("_", " ").capitalize() for s in LeadSource},
    "engagement_tier": {t: t.capitalize() for t in ENGAGEMENT_TIERS},
}
SEGMENT_NAMES: Final = {
    "timeline_segment": "Timeline",
    "loan_type": "Loan type",
    "source": "Source",
    "engagement_tier": "Engagement",
}
FILTER_KEYS: Final = {
    "timeline_segment": "timeline",
    "loan_type": "loan",
    "source": "source",
    "engagement_tier": "engagement",
}
"""Segment column -> the query parameter (and data attribute) that filters on it."""

OUTCOMES: Final = {
    "no_answer": "No answer",
    "voicemail": "Voicemail",
    "connected": "Connected",
    "appointment_set": "Appointment set",
    "not_interested": "Not interested",
    "asked_to_stop": "Asked to stop",
}
"""Call outcomes an officer logs with one click (the order of the buttons)."""
TEXT_SENT: Final = "text_sent"
OUTCOME_LABELS: Final = {**OUTCOMES, TEXT_SENT: "Text sent"}

RULE_LABELS: Final = {
    "opted_out": "Opted out",
    "dnc": "Do not call",
    "no_consent": "No consent",
    "applied": "Applied",
    "unknown_state": "Unknown state",
    "unknown_time_zone": "Unknown time zone",
    "state_cap_reached": "State cap reached",
    "outside_hours": "Outside calling hours",
}

EVENT_LABELS: Final = {
    "lead_created": "Lead created",
    "web_visit": "Visited the website",
    "email_sent": "Email sent",
    "email_opened": "Opened an email",
    "email_clicked": "Clicked a link in an email",
    "text_sent": "Text sent",
    "text_replied": "Replied to a text",
    "call": "Call",
    "question_asked": "Asked a question",
    "statement": "Said",
    "opt_out": "Opted out",
    "consent_granted": "Gave consent",
    "consent_revoked": "Withdrew consent",
    "dnc_request": "Asked not to be called",
    "application_submitted": "Submitted an application",
    "loan_funded": "Loan funded",
}
EVENT_KINDS: Final = {
    "lead_created": "milestone",
    "application_submitted": "milestone",
    "loan_funded": "milestone",
    "email_sent": "outbound",
    "text_sent": "outbound",
    "call": "outbound",
    "opt_out": "compliance",
    "consent_granted": "compliance",
    "consent_revoked": "compliance",
    "dnc_request": "compliance",
}
"""Everything else is the lead's own (inbound) action."""
TOPIC_LABELS: Final = {
    "rates": "rates",
    "documents": "documents",
    "pre_approval": "pre-approval",
    "credit": "credit",
    "down_payment": "down payment",
}

ROW_REASONS: Final = {"up": 3, "down": 2}
"""Reasons on a queue row: why to call first, then what holds the score back (the lead's page
shows every contribution)."""

WATERFALL_STEPS: Final = 12
"""Contributions drawn one by one; the rest are summed into one 'other features' step."""


# -- formatting --------------------------------------------------------------------------------


def percent(probability: float | None) -> str:
    """23% above 10%, one decimal below (calibrated application chances are often small)."""
    if probability is None or not math.isfinite(probability):
        return "n/a"
    value = probability * 100
    if value >= 10:
        return f"{value:.0f}%"
    if value >= 0.1:
        return f"{value:.1f}%"
    return "<0.1%"


def zone_of(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def clock(moment: datetime) -> str:
    """4:05 PM."""
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def day_and_clock(moment: datetime) -> str:
    """Tue 24 Nov, 4:05 PM."""
    return f"{moment:%a} {moment.day} {moment:%b}, {clock(moment)}"


def parse_local(iso: str | None, zone: ZoneInfo | None) -> datetime | None:
    """An ISO time with offset, in the zone (for its abbreviation) when known."""
    if not iso:
        return None
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone) if zone is not None else moment


def ago(moment: datetime, now: datetime) -> str:
    """just now, 5 min ago, 3 h ago, yesterday, 4 days ago."""
    minutes = max(0.0, (now - moment).total_seconds() / 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes:.0f} min ago"
    if minutes < 24 * 60:
        return f"{minutes / 60:.0f} h ago"
    days = int(minutes // (24 * 60))
    return "yesterday" if days == 1 else f"{days} days ago"


def waiting(minutes: float | None) -> str:
    if minutes is None:
        return ""
    if minutes < 60:
        return f"waiting {minutes:.0f} min"
    if minutes < 48 * 60:
        return f"waiting {minutes / 60:.0f} h"
    return f"waiting {minutes / 1440:.0f} days"


def money(amount: float | None) -> str:
    if amount is None or not math.isfinite(amount):
        return "n/a"
    return f"${amount:,.0f}"


# -- the queue ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """What the page shows about a lead beyond the queue item (never logged)."""

    name: str
    time_zone: str | None


@dataclass(frozen=True)
class LastContact:
    """Our latest call or text to a lead and how many touches it has had."""

    kind: str
    outcome: str | None
    at: datetime
    touches: int


@dataclass(frozen=True)
class Chip:
    key: str
    name: str
    value: str
    label: str


@dataclass(frozen=True)
class ReasonBar:
    """One SHAP reason as a small signed bar: width is |value| against the page's largest."""

    text: str
    shap: float
    direction: str
    width_pct: float

    @property
    def signed(self) -> str:
        return f"{self.shap:+.2f}"


@dataclass(frozen=True)
class QueueRow:
    rank: int
    lane: str
    lead_id: str
    name: str
    state: str
    probability: float
    score: str
    tier: str | None
    chips: list[Chip]
    filters: dict[str, str]
    reasons: list[ReasonBar]
    triggers: list[str]
    channel: str
    best_time: str
    local_now: str
    zone_abbr: str
    window_label: str
    window_tone: str
    contact_note: str
    outcomes: list[tuple[str, str]]
    expected_value: str | None
    """Shown when the queue ranks by expected value."""


@dataclass(frozen=True)
class Lane:
    key: str
    title: str
    note: str
    rows: list[QueueRow]


@dataclass(frozen=True)
class HeldRow:
    lead_id: str
    name: str
    rule: str
    rule_label: str
    reason: str
    channel: str
    next_allowed: str


@dataclass
class FilterOption:
    value: str
    label: str
    count: int = 0


@dataclass
class FilterSelect:
    key: str
    label: str
    options: list[FilterOption] = field(default_factory=list)
    selected: str = ""


def reason_bars(
    reasons: Mapping[str, Sequence[Mapping[str, Any]]],
    scale: float,
    limits: Mapping[str, int] | None = None,
) -> list[ReasonBar]:
    """Up reasons then down reasons (at most limits[direction] each), each bar's width relative
    to scale (the page's largest)."""
    bars = []
    for direction in ("up", "down"):
        shown = reasons.get(direction, ())
        if limits is not None:
            shown = shown[: limits.get(direction, len(shown))]
        for reason in shown:
            value = float(reason["shap_log_odds"])
            width = 0.0 if scale <= 0 else min(100.0, abs(value) / scale * 100)
            bars.append(ReasonBar(str(reason["text"]), value, direction, round(max(width, 3), 1)))
    return bars


def window_status(at: datetime, opens: datetime | None, closes: datetime | None) -> tuple[str, str]:
    """(label, tone) of the calling window at the build instant: open, closing soon, or shut."""
    if opens is None or closes is None:
        return "Window unknown", "warn"
    if at < opens:
        return f"Opens {clock(opens)}", "warn"
    if at >= closes:
        return "Closed for today", "bad"
    left_min = (closes - at).total_seconds() / 60
    if left_min <= 60:
        return f"Closes in {left_min:.0f} min", "warn"
    return f"Open until {clock(closes)}", "ok"


def _contact_note(item: Mapping[str, Any], last: LastContact | None, now: datetime) -> str:
    if item["lane"] == "new":
        wait = waiting(item.get("waiting_minutes"))
        return f"Never contacted{' · ' + wait if wait else ''}"
    if last is None:
        return "No call or text yet"
    what = "Call" if last.kind == "call" else "Text" if last.kind == "text_sent" else "Email"
    outcome = OUTCOME_LABELS.get(last.outcome or "", "")
    touches = f"{last.touches} touch{'es' if last.touches != 1 else ''}"
    return f"Last {what.lower()}: {outcome or 'sent'} · {ago(last.at, now)} · {touches}"


def row_outcomes(channel: str) -> list[tuple[str, str]]:
    """The one-click outcomes a row offers: call outcomes, or for a text lead 'Text sent' and
    'Asked to stop' (calling a lead the queue says to text may not be allowed)."""
    if channel == "text":
        return [
            (TEXT_SENT, OUTCOME_LABELS[TEXT_SENT]),
            ("asked_to_stop", OUTCOMES["asked_to_stop"]),
        ]
    return list(OUTCOMES.items())


def queue_rows(
    payload: Mapping[str, Any],
    people: Mapping[str, Person],
    contacts: Mapping[str, LastContact],
    *,
    now: datetime,
) -> list[QueueRow]:
    """Every queue item as a row, in the queue's order."""
    at = datetime.fromisoformat(str(payload["at"]))
    items = payload["items"]
    scale = max(
        (
            abs(float(r["shap_log_odds"]))
            for item in items
            for d in ("up", "down")
            for r in item["reasons"][d]
        ),
        default=0.0,
    )
    rows = []
    for item in items:
        lead_id = str(item["lead_id"])
        zone = zone_of(item.get("local_zone"))
        local_now = parse_local(item.get("local_time_now"), zone)
        best = parse_local(item.get("best_time_to_call"), zone)
        opens = parse_local(item.get("window_opens_local"), zone)
        closes = parse_local(item.get("window_closes_local"), zone)
        label, tone = window_status(at, opens, closes)
        segments = item.get("segments") or {}
        chips = [
            Chip(key, SEGMENT_NAMES[key], str(segments[key]), _segment_label(key, segments[key]))
            for key in SEGMENT_LABELS
            if segments.get(key)
        ]
        best_text = ""
        if best is not None:
            same_day = local_now is not None and best.date() == local_now.date()
            best_text = clock(best) if same_day else f"{best:%a} {clock(best)}"
        value = (
            item.get("expected_value_usd") if payload.get("rank_by") == "expected_value" else None
        )
        rows.append(
            QueueRow(
                rank=int(item["rank"]),
                lane=str(item["lane"]),
                lead_id=lead_id,
                name=people[lead_id].name if lead_id in people else lead_id,
                state=str(item.get("state") or ""),
                probability=float(item["probability"]),
                score=percent(float(item["probability"])),
                tier=item.get("tier"),
                chips=chips,
                filters={FILTER_KEYS[c.key]: c.value for c in chips},
                reasons=reason_bars(item["reasons"], scale, ROW_REASONS),
                triggers=list(item.get("trigger_reasons") or ()),
                channel=str(item["channel"]),
                best_time=best_text,
                local_now=clock(local_now) if local_now is not None else "unknown",
                zone_abbr=local_now.tzname() or "" if local_now is not None else "",
                window_label=label,
                window_tone=tone,
                contact_note=_contact_note(item, contacts.get(lead_id), now),
                outcomes=row_outcomes(str(item["channel"])),
                expected_value=None if value is None else money(float(value)),
            )
        )
    return rows


def _segment_label(key: str, value: Any) -> str:
    return SEGMENT_LABELS.get(key, {}).get(str(value), str(value).replace("_", " "))


def matches(row: QueueRow, lane: str, chosen: Mapping[str, str]) -> bool:
    """Does the row pass the lane and segment filters (empty = any)?"""
    if lane and row.lane != lane:
        return False
    return all(not value or row.filters.get(key) == value for key, value in chosen.items())


def lanes_of(rows: Iterable[QueueRow]) -> list[Lane]:
    """Rows grouped by lane, in lane order; empty lanes are kept (the page says so)."""
    grouped: dict[str, list[QueueRow]] = {lane: [] for lane in LANES}
    for row in rows:
        grouped.setdefault(row.lane, []).append(row)
    return [Lane(key, LANE_TITLES[key], LANE_NOTES[key], grouped[key]) for key in LANES]


def filter_selects(
    rows: Sequence[QueueRow], chosen: Mapping[str, str], lane: str
) -> list[FilterSelect]:
    """The lane select and one select per segment, with counts over the whole queue."""
    lane_select = FilterSelect("lane", "Lane", selected=lane)
    for key in LANES:
        lane_select.options.append(
            FilterOption(key, LANE_TITLES[key], sum(r.lane == key for r in rows))
        )
    selects = [lane_select]
    orders = {
        "timeline_segment": TIMELINE_SEGMENTS,
        "loan_type": tuple(t.value for t in LoanType),
        "source": tuple(s.value for s in LeadSource),
        "engagement_tier": ENGAGEMENT_TIERS,
    }
    for column, param in FILTER_KEYS.items():
        select = FilterSelect(param, SEGMENT_NAMES[column], selected=chosen.get(param, ""))
        for value in orders[column]:
            select.options.append(
                FilterOption(
                    value,
                    _segment_label(column, value),
                    sum(r.filters.get(param) == value for r in rows),
                )
            )
        selects.append(select)
    return selects


def held_rows(
    payload: Mapping[str, Any], people: Mapping[str, Person], *, workday_zone: ZoneInfo
) -> list[HeldRow]:
    """Held-back leads with the rule that held each back and when it may return (lead's time)."""
    rows = []
    for held in payload["held_back"]:
        lead_id = str(held["lead_id"])
        person = people.get(lead_id)
        when = held.get("next_allowed_utc")
        next_text = "—"
        if when:
            zone = zone_of(person.time_zone if person else None) or workday_zone
            moment = parse_local(str(when), zone)
            if moment is not None:
                next_text = f"{day_and_clock(moment)} {moment.tzname() or ''}".strip()
        rule = str(held["rule"])
        rows.append(
            HeldRow(
                lead_id=lead_id,
                name=person.name if person else lead_id,
                rule=rule,
                rule_label=RULE_LABELS.get(rule, rule.replace("_", " ")),
                reason=str(held["reason"]),
                channel=str(held["channel"]),
                next_allowed=next_text,
            )
        )
    return rows


# -- the lead ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaterfallStep:
    label: str
    detail: str
    value: float
    left_pct: float
    width_pct: float
    direction: str

    @property
    def signed(self) -> str:
        return f"{self.value:+.2f}"


@dataclass(frozen=True)
class Waterfall:
    base: float
    final: float
    steps: list[WaterfallStep]
    base_pct: float
    final_pct: float
    zero_pct: float | None


def _feature_label(feature: str) -> str:
    spec = FEATURES_BY_NAME.get(feature)
    return spec.description if spec is not None else feature.replace("_", " ")


def _value_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "missing"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    return str(value).replace("_", " ")


def waterfall(explanation: Mapping[str, Any], steps: int = WATERFALL_STEPS) -> Waterfall:
    """From the average lead (base log-odds) to this lead's score, one feature at a time, the
    largest contributions first; the rest summed into one step."""
    base = float(explanation["base_log_odds"])
    rows = [c for c in explanation["contributions"] if float(c["shap_log_odds"]) != 0.0]
    shown, rest = rows[:steps], rows[steps:]
    moves: list[tuple[str, str, float]] = [
        (
            str(c.get("text") or _feature_label(str(c["feature"]))),
            f"{_feature_label(str(c['feature']))}: {_value_text(c.get('value'))}",
            float(c["shap_log_odds"]),
        )
        for c in shown
    ]
    if rest:
        moves.append(
            (
                f"{len(rest)} other features",
                "each small",
                sum(float(c["shap_log_odds"]) for c in rest),
            )
        )
    points = [base]
    for _, _, value in moves:
        points.append(points[-1] + value)
    low, high = min(points), max(points)
    pad = max((high - low) * 0.05, 0.05)
    low, high = low - pad, high + pad
    span = high - low

    def pct(x: float) -> float:
        return round((x - low) / span * 100, 2)

    out = []
    for (label, detail, value), start in zip(moves, points[:-1], strict=True):
        end = start + value
        out.append(
            WaterfallStep(
                label=label,
                detail=detail,
                value=value,
                left_pct=pct(min(start, end)),
                width_pct=max(round(abs(value) / span * 100, 2), 0.4),
                direction="up" if value > 0 else "down",
            )
        )
    return Waterfall(
        base=base,
        final=points[-1],
        steps=out,
        base_pct=pct(base),
        final_pct=pct(points[-1]),
        zero_pct=pct(0.0) if low < 0 < high else None,
    )


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    label: str
    detail: str
    when: str
    iso: str


def timeline(events: Iterable[Mapping[str, Any]], zone: ZoneInfo) -> list[TimelineEntry]:
    """Events newest first, each with a plain label and its detail (outcome, topic, words)."""
    out = []
    for event in events:
        kind = str(event["event_type"])
        moment = event["occurred_at"]
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        local = moment.astimezone(zone)
        detail = ""
        if kind == "call":
            detail = OUTCOME_LABELS.get(str(event.get("call_outcome") or ""), "")
        elif kind == "question_asked":
            topic = str(event.get("question_topic") or "")
            detail = f"about {TOPIC_LABELS.get(topic, topic.replace('_', ' '))}" if topic else ""
        elif kind == "web_visit":
            detail = str(event.get("page") or "")
        elif kind in ("statement", "text_replied") and event.get("text"):
            detail = f"“{event['text']}”"
        elif kind in ("opt_out", "consent_granted", "consent_revoked") and event.get("channel"):
            detail = f"{event['channel']}"
        out.append(
            TimelineEntry(
                kind=EVENT_KINDS.get(kind, "inbound"),
                label=EVENT_LABELS.get(kind, kind.replace("_", " ")),
                detail=detail,
                when=f"{day_and_clock(local)}",
                iso=moment.astimezone(UTC).isoformat(),
            )
        )
    return out
