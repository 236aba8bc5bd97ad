"""Who may be contacted now: calling hours, consent, opt-out, do-not-call and state caps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd

from data_contracts.enums import US_TIME_ZONES, Channel, UsState, state_time_zone


class Rule(StrEnum):
    """Stable codes for a compliance decision; every held-back lead carries one."""

    ELIGIBLE = "eligible"
    OPTED_OUT = "opted_out"
    DNC = "dnc"
    NO_CONSENT = "no_consent"
    APPLIED = "applied"
    UNKNOWN_STATE = "unknown_state"
    UNKNOWN_TIME_ZONE = "unknown_time_zone"
    STATE_CAP_REACHED = "state_cap_reached"
    OUTSIDE_HOURS = "outside_hours"


BLOCKING_ORDER: Final[tuple[Rule, ...]] = (
    Rule.OPTED_OUT,
    Rule.DNC,
    Rule.NO_CONSENT,
    Rule.APPLIED,
    Rule.UNKNOWN_STATE,
    Rule.UNKNOWN_TIME_ZONE,
    Rule.STATE_CAP_REACHED,
    Rule.OUTSIDE_HOURS,
)
"""The first rule that blocks a lead is the one reported. When a state cap and closed hours both
block, the one that clears later is reported; either way 'next allowed' satisfies both."""


@dataclass(frozen=True, slots=True)
class CallingRule:
    """When a lead in one jurisdiction may be called or texted, and how often."""

    window_start_local: time
    window_end_local: time
    max_contacts_per_24h: int | None
    capped_channels: frozenset[Channel]
    source: str


FEDERAL_RULE: Final = CallingRule(
    window_start_local=time(8, 0),
    window_end_local=time(21, 0),
    max_contacts_per_24h=None,
    capped_channels=frozenset(),
    # TCPA: no telephone solicitation before 8 a.m. or after 9 p.m. at the called party's location.
    source="47 CFR 64.1200(c)(1)",
)

STATE_RULES: Final[Mapping[UsState, CallingRule]] = {
    # 8 a.m.-8 p.m.; at most 3 calls per 24 h on the same subject. Florida Telemarketing Act,
    # Fla. Stat. 501.616(6), as amended with the Florida Telephone Solicitation Act (2021).
    UsState.FL: CallingRule(
        time(8, 0), time(20, 0), 3, frozenset({Channel.CALL}), "Fla. Stat. 501.616(6); FTSA"
    ),
    # 8 a.m.-8 p.m.; at most 3 calls per 24 h on the same subject.
    # Oklahoma Telephone Solicitation Act (2022).
    UsState.OK: CallingRule(
        time(8, 0), time(20, 0), 3, frozenset({Channel.CALL}), "Oklahoma Telephone Solicitation Act"
    ),
    # 8 a.m.-8 p.m.; at most 3 calls or texts per 24 h on the same subject.
    # Maryland Stop the Spam Calls Act (2023).
    UsState.MD: CallingRule(
        time(8, 0),
        time(20, 0),
        3,
        frozenset({Channel.CALL, Channel.TEXT}),
        "Maryland Stop the Spam Calls Act",
    ),
}
"""Stricter state rules; every other state follows FEDERAL_RULE. All our outbound contacts are
about one subject (the lead's mortgage), so every call (and, in MD, every text) counts."""

TIMED_CHANNELS: Final = frozenset({Channel.CALL, Channel.TEXT})
"""Channels bound by calling hours, state caps and the do-not-call list (the FCC treats a text
as a call under the TCPA); email answers to consent and opt-out only (CAN-SPAM)."""

CAP_PERIOD: Final = timedelta(hours=24)

LEAD_FIELDS: Final[tuple[str, ...]] = (
    "lead_id",
    "state",
    "time_zone",
    "consent_call",
    "consent_text",
    "consent_email",
    "opted_out_call",
    "opted_out_text",
    "opted_out_email",
    "dnc",
    "applied",
)
"""What eligibility reads for each lead. A missing consent value means no consent; a missing
opt-out or DNC value means blocked (we cannot show it was not requested)."""

CONTACT_FIELDS: Final[tuple[str, ...]] = ("lead_id", "occurred_at", "channel")

_CHANNEL_NOUN: Final[dict[Channel, str]] = {
    Channel.CALL: "calls",
    Channel.TEXT: "texts",
    Channel.EMAIL: "email",
}


class ComplianceInputError(ValueError):
    """The leads or contacts handed to the compliance rules are malformed."""


def calling_rule(state: UsState | str) -> CallingRule:
    """The calling rule for a state: its own when stricter, else the federal one."""
    return STATE_RULES.get(UsState(state), FEDERAL_RULE)


@lru_cache(maxsize=1024)
def _zone_info(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _require_zone(name: str) -> ZoneInfo:
    zone = _zone_info(name)
    if zone is None:
        raise ComplianceInputError(
            f"'{name}' is not an IANA time zone; use a name such as 'America/Chicago'"
        )
    return zone


def _require_utc(at_utc: datetime, name: str = "at_utc") -> datetime:
    if at_utc.tzinfo is None or at_utc.utcoffset() is None:
        raise ComplianceInputError(f"{name} has no time zone; pass an aware datetime in UTC")
    return at_utc.astimezone(UTC)


def local_zone(state: str | None, time_zone: str | None) -> str | None:
    """The lead's IANA zone: its own when valid, else its state's single zone, else None."""
    return _resolve_place(_text_or_none(state), _text_or_none(time_zone)).zone


def _text_or_none(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


@dataclass(frozen=True, slots=True)
class _Place:
    state: UsState | None
    zone: str | None
    rule: CallingRule | None
    problem: Rule | None
    problem_reason: str


@lru_cache(maxsize=4096)
def _resolve_place(state: str | None, time_zone: str | None) -> _Place:
    us_state: UsState | None
    try:
        us_state = UsState(state.upper()) if state is not None else None
    except ValueError:
        us_state = None
    zone: str | None = None
    zone_problem = ""
    if time_zone is not None:
        if _zone_info(time_zone) is not None:
            zone = time_zone
        else:
            # The raw value is not echoed: a bad field may hold anything, even personal data.
            zone_problem = "unknown time zone: the one on file is not an IANA name"
    elif us_state is not None:
        zone = state_time_zone(us_state)
        if zone is None:
            zone_problem = (
                f"unknown time zone: {us_state} spans several zones and the lead has none on file"
            )
    else:
        zone_problem = "unknown time zone: no time zone and no valid state on file"
    if us_state is None:
        return _Place(
            None,
            zone,
            None,
            Rule.UNKNOWN_STATE,
            "unknown state: not a USPS code, so the state's calling rules cannot be applied",
        )
    rule = calling_rule(us_state)
    if zone is None:
        return _Place(us_state, None, rule, Rule.UNKNOWN_TIME_ZONE, zone_problem)
    return _Place(us_state, zone, rule, None, "")


def _instant(day: date, clock: time, zone: ZoneInfo, *, latest: bool) -> datetime:
    """A local wall-clock time on a day, as a UTC instant.

    A wall time can be ambiguous (the repeated hour in November) or missing (the skipped hour in
    March). Both folds are tried: a window opens at the later reading and closes at the earlier
    one, so a daylight-saving change can only shorten the window, never stretch it.
    """
    first = datetime.combine(day, clock, tzinfo=zone).replace(fold=0).astimezone(UTC)
    second = datetime.combine(day, clock, tzinfo=zone).replace(fold=1).astimezone(UTC)
    return max(first, second) if latest else min(first, second)


def _bounds(day: date, zone: ZoneInfo, rule: CallingRule) -> tuple[datetime, datetime]:
    opens = _instant(day, rule.window_start_local, zone, latest=True)
    closes = _instant(day, rule.window_end_local, zone, latest=False)
    return opens, closes


@dataclass(frozen=True, slots=True)
class Window:
    """The legal calling window that contains at_utc, or the next one when it is closed."""

    zone: str
    is_open: bool
    local_now: datetime
    opens_at_utc: datetime
    closes_at_utc: datetime
    opens_at_local: datetime
    closes_at_local: datetime


def _window(zone_name: str, rule: CallingRule, at_utc: datetime) -> Window:
    zone = _require_zone(zone_name)
    local_now = at_utc.astimezone(zone)
    today = local_now.date()
    opens, closes = _bounds(today, zone, rule)
    if at_utc >= closes:
        opens, closes = _bounds(today + timedelta(days=1), zone, rule)
    return Window(
        zone=zone_name,
        is_open=opens <= at_utc < closes,
        local_now=local_now,
        opens_at_utc=opens,
        closes_at_utc=closes,
        opens_at_local=opens.astimezone(zone),
        closes_at_local=closes.astimezone(zone),
    )


def calling_window(lead_zone: str, state: UsState | str, at_utc: datetime) -> Window:
    """Whether at_utc is inside the lead's legal calling window, and when it opens and closes."""
    return _window(lead_zone, calling_rule(state), _require_utc(at_utc))


def zone_abbreviation(zone_name: str, at_utc: datetime) -> str:
    """'ET', 'CT', 'MT', 'PT', 'AKT', 'HT', 'AT' for US zones; the zone's own name elsewhere."""
    name = _require_utc(at_utc).astimezone(_require_zone(zone_name)).tzname() or zone_name
    if zone_name in US_TIME_ZONES and len(name) >= 3 and name[-2:] in ("ST", "DT"):
        return name[:-2] + "T"
    return name


def _when(moment_utc: datetime, zone_name: str, now_utc: datetime) -> str:
    """'08:00 CT', '08:00 CT tomorrow' or '08:00 CT on Mon', in the lead's local time."""
    zone = _require_zone(zone_name)
    local = moment_utc.astimezone(zone)
    days = (local.date() - now_utc.astimezone(zone).date()).days
    text = f"{local:%H:%M} {zone_abbreviation(zone_name, moment_utc)}"
    if days == 1:
        return f"{text} tomorrow"
    if days > 1:
        return f"{text} on {local:%a %d %b}"
    return text


BEST_SLOTS_LOCAL: Final[tuple[tuple[time, time], ...]] = (
    (time(8, 0), time(9, 0)),
    (time(16, 0), time(18, 0)),
)
"""DOMAIN.md: the best contact windows in the lead's local time."""

PREFERRED_WEEKDAYS: Final = frozenset({2, 3})
"""Wednesday and Thursday (date.weekday()) are the best days (DOMAIN.md)."""

WORST_SLOTS: Final = frozenset({(0, 0), (4, 1)})
"""(weekday, slot index): Monday morning and Friday afternoon are the worst (DOMAIN.md)."""

WORST_SLOT_PENALTY: Final = timedelta(hours=24)
"""Waiting up to a day is better than calling in a worst slot."""

PREFERRED_DAY_BONUS: Final = timedelta(hours=36)
"""Waiting up to a day and a half is worth it to call on a Wednesday or Thursday instead; so a
lead whose Monday is over waits for Wednesday morning, while one whose Saturday is over is
called on Sunday."""


def best_time_to_call(lead_zone: str, state: UsState | str, at_utc: datetime) -> datetime:
    """The next best contact slot (8-9 AM, 4-6 PM local) inside the legal window, local time.

    Today's remaining slots come first (now, when a slot is under way), except a Monday-morning
    or Friday-afternoon one: speed beats the day of the week. Otherwise it is a choice between
    days: a slot's cost is its wait, plus WORST_SLOT_PENALTY for a worst slot, minus
    PREFERRED_DAY_BONUS on Wednesday or Thursday; the cheapest wins, the earlier on a tie.
    """
    return _best_time(lead_zone, calling_rule(state), _require_utc(at_utc))


def _best_time(zone_name: str, rule: CallingRule, at_utc: datetime) -> datetime:
    zone = _require_zone(zone_name)
    today = at_utc.astimezone(zone).date()
    best: datetime | None = None
    best_cost: timedelta | None = None
    for offset in range(9):
        day = today + timedelta(days=offset)
        legal_open, legal_close = _bounds(day, zone, rule)
        for index, (start, end) in enumerate(BEST_SLOTS_LOCAL):
            slot_start = max(_instant(day, start, zone, latest=True), legal_open)
            slot_end = min(_instant(day, end, zone, latest=False), legal_close)
            if slot_start >= slot_end or slot_end <= at_utc:
                continue
            candidate = max(slot_start, at_utc)
            worst = (day.weekday(), index) in WORST_SLOTS
            if offset == 0 and not worst:
                return candidate.astimezone(zone)
            cost = candidate - at_utc
            if worst:
                cost += WORST_SLOT_PENALTY
            if day.weekday() in PREFERRED_WEEKDAYS:
                cost -= PREFERRED_DAY_BONUS
            if best_cost is None or cost < best_cost:
                best, best_cost = candidate, cost
    if best is None:  # unreachable with a non-empty slot inside the legal window
        raise ComplianceInputError(f"no best-time slot fits the legal window in {zone_name}")
    return best.astimezone(zone)


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether one lead may be contacted on one channel at one instant, and why."""

    eligible: bool
    rule: Rule
    reason: str
    channel: Channel
    local_zone: str | None
    next_allowed_utc: datetime | None


BoolArray = npt.NDArray[np.bool_]


def _flag(frame: pd.DataFrame, column: str, *, missing: bool) -> BoolArray:
    """A yes/no column as booleans; missing values become `missing`."""
    series = frame[column]
    if series.dtype == bool:
        return series.to_numpy(dtype=bool)
    values = series.to_numpy(dtype=object)
    absent = pd.isna(values)
    ok = np.array(
        [
            a or isinstance(v, bool | np.bool_) or v in (0, 1)
            for a, v in zip(absent, values, strict=True)
        ],
        dtype=bool,
    )
    if not ok.all():
        bad = frame["lead_id"].to_numpy(dtype=object)[~ok][0]
        raise ComplianceInputError(
            f"column '{column}' must hold true/false; lead '{bad}' has another value"
        )
    return np.where(absent, missing, values).astype(bool)


def utc_timestamps(frame: pd.DataFrame, column: str) -> pd.Series[Any]:
    """A timestamp column in UTC; naive timestamps are refused (their zone is a guess)."""
    series = frame[column]
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return pd.Series(series.dt.tz_convert(UTC))
    if series.isna().all():
        return pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_dtype(series.dtype):
        raise ComplianceInputError(
            f"column '{column}' has timestamps without a time zone; store them in UTC"
        )
    values = series.dropna().to_numpy(dtype=object)
    if not all(isinstance(v, datetime) and v.utcoffset() is not None for v in values):
        raise ComplianceInputError(
            f"column '{column}' must hold timestamps with a time zone (UTC); "
            "found text or naive timestamps"
        )
    return pd.Series(pd.to_datetime(series, utc=True), index=series.index)


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ComplianceInputError(f"{what} lacks column(s) {missing}; expected {list(columns)}")


def _lead_columns_for(channel: Channel) -> tuple[str, ...]:
    needed = ["lead_id", "state", "time_zone", f"consent_{channel}", f"opted_out_{channel}"]
    needed += ["dnc", "applied"] if channel in TIMED_CHANNELS else ["applied"]
    return tuple(needed)


def _cap_counts(
    lead_ids: npt.NDArray[np.object_],
    rules: Sequence[CallingRule | None],
    contacts: pd.DataFrame | None,
    at_utc: datetime,
) -> tuple[npt.NDArray[np.int64], dict[str, list[datetime]]]:
    """Per lead, the contacts in the last 24 h that count toward its state's cap (newest first)."""
    counts = np.zeros(len(lead_ids), dtype=np.int64)
    times: dict[str, list[datetime]] = {}
    if contacts is None or contacts.empty:
        return counts, times
    _require_columns(contacts, CONTACT_FIELDS, "contacts")
    occurred = utc_timestamps(contacts, "occurred_at")
    # Every contact after the cut-off counts, even one stamped later than at_utc (clock skew):
    # counting it can only make the cap stricter.
    keep = (occurred > pd.Timestamp(at_utc - CAP_PERIOD)).to_numpy(dtype=bool)
    recent = pd.DataFrame(
        {
            "lead_id": contacts["lead_id"].to_numpy(dtype=object)[keep].astype(str),
            "occurred_at": occurred[keep].array,
            "channel": contacts["channel"].to_numpy(dtype=object)[keep].astype(str),
        }
    )
    if recent.empty:
        return counts, times
    caps = np.array(
        [r.max_contacts_per_24h if r is not None and r.max_contacts_per_24h else 0 for r in rules],
        dtype=np.int64,
    )
    for channels in {r.capped_channels for r in rules if r is not None and r.capped_channels}:
        rows = np.array(
            [r is not None and r.capped_channels == channels for r in rules], dtype=bool
        )
        counted = recent[recent["channel"].isin([str(c) for c in channels])]
        per_lead = counted.groupby("lead_id").size()
        counts[rows] = per_lead.reindex(lead_ids[rows]).fillna(0).to_numpy(dtype=np.int64)
        # Contact times are needed only to say when a capped lead may be contacted again.
        capped_ids = set(lead_ids[rows & (counts >= caps) & (caps > 0)])
        if capped_ids:
            at_cap = counted[counted["lead_id"].isin(capped_ids)]
            for lead_id, group in at_cap.groupby("lead_id"):
                stamps = pd.DatetimeIndex(group["occurred_at"]).sort_values(ascending=False)
                times[str(lead_id)] = list(stamps.to_pydatetime())
    return counts, times


def _next_allowed(
    zone_name: str, rule: CallingRule, at_utc: datetime, newest_first: Sequence[datetime]
) -> datetime:
    """The first instant both the calling window and the state cap allow a contact."""
    moment = at_utc
    for _ in range(8):
        moved = False
        cap = rule.max_contacts_per_24h
        if cap is not None:
            inside = [t for t in newest_first if t > moment - CAP_PERIOD]
            if len(inside) >= cap:
                moment = inside[cap - 1] + CAP_PERIOD
                moved = True
        window = _window(zone_name, rule, moment)
        if not window.is_open:
            moment = window.opens_at_utc
            moved = True
        if not moved:
            return moment
    return moment


@dataclass(frozen=True, slots=True)
class _Common:
    """What every channel's decision shares: places, windows and contacts in the cap period."""

    lead_ids: npt.NDArray[np.object_]
    places: list[_Place]
    windows: dict[int, Window]
    in_window: BoolArray
    counted: npt.NDArray[np.int64]
    newest_first: dict[str, list[datetime]]


def _common(leads: pd.DataFrame, at: datetime, contacts: pd.DataFrame | None) -> _Common:
    _require_columns(leads, ("lead_id", "state", "time_zone"), "leads")
    lead_ids = leads["lead_id"].astype(str).to_numpy(dtype=object)
    places = _places(leads)
    # Places come from a cache, so equal places are one object: id() is a cheap key.
    windows: dict[int, Window] = {}
    in_window = np.zeros(len(leads), dtype=bool)
    for i, place in enumerate(places):
        if place.zone is not None and place.rule is not None:
            window = windows.get(id(place))
            if window is None:
                window = windows[id(place)] = _window(place.zone, place.rule, at)
            in_window[i] = window.is_open
    counted, newest_first = _cap_counts(lead_ids, [p.rule for p in places], contacts, at)
    return _Common(lead_ids, places, windows, in_window, counted, newest_first)


def assess_channels(
    leads: pd.DataFrame,
    *,
    at_utc: datetime,
    channels: Sequence[Channel | str] = (Channel.CALL, Channel.TEXT),
    contacts: pd.DataFrame | None = None,
) -> dict[Channel, pd.DataFrame]:
    """assess_eligibility for several channels at once, sharing the work they have in common."""
    at = _require_utc(at_utc)
    chosen = [Channel(c) for c in channels]
    for channel in chosen:
        _require_columns(leads, _lead_columns_for(channel), "leads")
    common = _common(leads, at, contacts)
    return {channel: _decide(leads, common, channel, at) for channel in chosen}


def assess_eligibility(
    leads: pd.DataFrame,
    *,
    at_utc: datetime,
    channel: Channel | str = Channel.CALL,
    contacts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every lead's decision for one channel at one instant, vectorized.

    leads: one row per lead with the LEAD_FIELDS the channel needs. contacts: our outbound
    contacts (lead_id, occurred_at UTC, channel) for the state caps. Returns a frame on the
    leads' index: lead_id, eligible, rule, reason, local_zone, next_allowed_utc, contacts_24h
    (the contacts that count toward the lead's state cap).
    """
    decided = assess_channels(leads, at_utc=at_utc, channels=(channel,), contacts=contacts)
    return decided[Channel(channel)]


def _decide(leads: pd.DataFrame, common: _Common, chosen: Channel, at: datetime) -> pd.DataFrame:
    n = len(leads)
    lead_ids, places, windows = common.lead_ids, common.places, common.windows
    in_window, counted, newest_first = common.in_window, common.counted, common.newest_first
    opted_out = _flag(leads, f"opted_out_{chosen}", missing=True)
    consent = _flag(leads, f"consent_{chosen}", missing=False)
    applied = _flag(leads, "applied", missing=False)
    timed = chosen in TIMED_CHANNELS
    dnc = _flag(leads, "dnc", missing=True) if timed else np.zeros(n, dtype=bool)
    cap_reached = np.array(
        [
            p.rule is not None
            and p.rule.max_contacts_per_24h is not None
            and chosen in p.rule.capped_channels
            and k >= p.rule.max_contacts_per_24h
            for p, k in zip(places, counted, strict=True)
        ],
        dtype=bool,
    )
    unknown_state = np.array([p.problem is Rule.UNKNOWN_STATE for p in places], dtype=bool)
    unknown_zone = np.array([p.problem is Rule.UNKNOWN_TIME_ZONE for p in places], dtype=bool)
    blocked: dict[Rule, BoolArray] = {
        Rule.OPTED_OUT: opted_out,
        Rule.DNC: dnc,
        Rule.NO_CONSENT: ~consent,
        Rule.APPLIED: applied,
        Rule.UNKNOWN_STATE: unknown_state & timed,
        Rule.UNKNOWN_TIME_ZONE: unknown_zone & timed,
        Rule.STATE_CAP_REACHED: cap_reached,
        Rule.OUTSIDE_HOURS: ~in_window & timed,
    }
    codes = np.select(
        [blocked[r] for r in BLOCKING_ORDER],
        [str(r) for r in BLOCKING_ORDER],
        default=str(Rule.ELIGIBLE),
    ).astype(object)
    # Capped while the window is shut: whichever clears later is the rule the officer sees.
    for i in np.flatnonzero((codes == str(Rule.STATE_CAP_REACHED)) & ~in_window).tolist():
        place = places[i]
        cap = place.rule.max_contacts_per_24h if place.rule is not None else None
        stamps = newest_first.get(lead_ids[i], [])
        if (
            cap is not None
            and len(stamps) >= cap
            and stamps[cap - 1] + CAP_PERIOD <= windows[id(place)].opens_at_utc
        ):
            codes[i] = str(Rule.OUTSIDE_HOURS)

    reasons: list[str] = []
    next_allowed: list[datetime | None] = []
    # Outside a state cap, a reason depends only on the rule, the place and the count.
    memo: dict[tuple[str, int, int], tuple[str, datetime | None]] = {}
    for i, code in enumerate(codes.tolist()):
        place, count = places[i], int(counted[i])
        key = (code, id(place), count)
        explained = memo.get(key) if code != Rule.STATE_CAP_REACHED else None
        if explained is None:
            explained = _explain(
                Rule(code), place, chosen, count, windows, newest_first.get(lead_ids[i], []), at
            )
            memo[key] = explained
        reasons.append(explained[0])
        next_allowed.append(explained[1])

    return pd.DataFrame(
        {
            "lead_id": lead_ids,
            "eligible": codes == str(Rule.ELIGIBLE),
            "rule": codes,
            "reason": reasons,
            "local_zone": [p.zone for p in places],
            "next_allowed_utc": _utc_array(next_allowed).array,
            "contacts_24h": counted,
        },
        index=leads.index,
    )


def _utc_array(moments: Sequence[datetime | None]) -> pd.DatetimeIndex:
    """UTC instants (None: NaT) as a pandas array; few distinct values, so convert each once."""
    nanoseconds: dict[datetime | None, int] = {None: np.iinfo(np.int64).min}
    for moment in moments:
        if moment is not None and moment not in nanoseconds:
            nanoseconds[moment] = pd.Timestamp(moment).as_unit("ns").value
    values = np.fromiter((nanoseconds[m] for m in moments), dtype=np.int64, count=len(moments))
    return pd.DatetimeIndex(values.view("datetime64[ns]")).tz_localize(UTC)


def _places(leads: pd.DataFrame) -> list[_Place]:
    seen: dict[tuple[object, object], _Place] = {}
    out: list[_Place] = []
    for raw in zip(
        leads["state"].to_numpy(dtype=object),
        leads["time_zone"].to_numpy(dtype=object),
        strict=True,
    ):
        place = seen.get(raw)
        if place is None:
            place = seen[raw] = _resolve_place(_text_or_none(raw[0]), _text_or_none(raw[1]))
        out.append(place)
    return out


def _explain(
    rule: Rule,
    place: _Place,
    channel: Channel,
    counted: int,
    windows: Mapping[int, Window],
    newest_first: Sequence[datetime],
    at_utc: datetime,
) -> tuple[str, datetime | None]:
    """The human reason for one decision, and when the lead may be contacted next."""
    noun = _CHANNEL_NOUN[channel]
    if rule is Rule.ELIGIBLE:
        if channel not in TIMED_CHANNELS or place.zone is None or place.rule is None:
            return f"consent to {noun} on file", None
        window = windows[id(place)]
        text = f"within calling hours until {_when(window.closes_at_utc, place.zone, at_utc)}"
        cap = place.rule.max_contacts_per_24h
        if cap is not None and channel in place.rule.capped_channels:
            text += f"; {counted} of {cap} {place.state} contacts in 24 h used"
        return text, None
    fixed = {
        Rule.OPTED_OUT: f"opted out of {noun}",
        Rule.DNC: "on the internal do-not-call list",
        Rule.NO_CONSENT: f"no recorded consent to {noun}",
        Rule.APPLIED: "already applied: follow-up belongs to the loan pipeline",
        Rule.UNKNOWN_STATE: place.problem_reason,
        Rule.UNKNOWN_TIME_ZONE: place.problem_reason,
    }
    if rule in fixed:
        return fixed[rule], None
    if place.zone is None or place.rule is None or place.state is None:
        raise AssertionError(f"rule '{rule}' needs a known zone and state")
    when = _next_allowed(place.zone, place.rule, at_utc, newest_first)
    if rule is Rule.STATE_CAP_REACHED:
        counted_noun = " or ".join(_CHANNEL_NOUN[c] for c in sorted(place.rule.capped_channels))
        return (
            f"{place.state} cap reached: {counted} {counted_noun} in the last 24 h "
            f"(next allowed {_when(when, place.zone, at_utc)})"
        ), when
    return f"outside calling hours until {_when(when, place.zone, at_utc)}", when


def eligibility(
    lead: Mapping[str, Any],
    *,
    at_utc: datetime,
    recent_contacts_utc: Sequence[datetime] = (),
    recent_texts_utc: Sequence[datetime] = (),
    channel: Channel | str = Channel.CALL,
) -> Decision:
    """One lead's decision for one channel at at_utc (the rules of assess_eligibility).

    recent_contacts_utc: our recent outbound calls to the lead; recent_texts_utc: our recent
    texts (they count toward the cap only where the state says so, e.g. MD).
    """
    chosen = Channel(channel)
    fields = _lead_columns_for(chosen)
    missing = [f for f in fields if f not in lead]
    if missing:
        raise ComplianceInputError(f"lead lacks field(s) {missing}; expected {list(fields)}")
    frame = pd.DataFrame([{field: lead[field] for field in fields}])
    stamps = [_require_utc(t, "recent_contacts_utc") for t in recent_contacts_utc]
    texts = [_require_utc(t, "recent_texts_utc") for t in recent_texts_utc]
    contacts = pd.DataFrame(
        {
            "lead_id": [str(lead.get("lead_id"))] * (len(stamps) + len(texts)),
            "occurred_at": pd.to_datetime(stamps + texts, utc=True),
            "channel": [str(Channel.CALL)] * len(stamps) + [str(Channel.TEXT)] * len(texts),
        }
    )
    row = assess_eligibility(frame, at_utc=at_utc, channel=chosen, contacts=contacts).iloc[0]
    when = row["next_allowed_utc"]
    return Decision(
        eligible=bool(row["eligible"]),
        rule=Rule(row["rule"]),
        reason=str(row["reason"]),
        channel=chosen,
        local_zone=row["local_zone"],
        next_allowed_utc=None if pd.isna(when) else pd.Timestamp(when).to_pydatetime(),
    )
