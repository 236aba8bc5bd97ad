"""Timeline-statement parser: when a lead says they will be ready ("my lease ends in August").

Reading rules (each documented so a loan officer can predict the answer):

- ``ready_at`` is the *earliest* moment the statement allows: a range takes its lower bound
  ("6-8 weeks" is 6 weeks, "in a year or two" is 12 months), a month name its first day
  ("in August" is August 1st, or the day given: "August 15"), a season its first month
  (meteorological, northern hemisphere: spring March, summer June, fall September, winter
  December), "end of the year" December 1st, "next year" January 1st of next year, "next month"
  the first of next month. "after <month/season>" is the first day after it ends.
  Deadlines are read as the date they name ("within 90 days" is 90 days, "by fall" is fall).
- A month or season already past this year means next year; the current one means now
  ("this summer" said in July is now; "next summer" said in July is next June).
- "ASAP", "right away", "ready now", "already found a house", "under contract" mean now.
- When several times are stated the earliest wins ("lease ends in August, bonus in March"
  is March); a stated time beats a vague phrase ("just looking, maybe next spring" is spring).
- What the parser cannot read is unknown, never a guess. Vague or contingent statements with no
  time ("just looking", "not sure", "after I sell", "waiting for my bonus") are unknown and
  ``rule`` names the intent (just_looking, not_sure, no_rush, not_ready, after_sale, lease,
  bonus), so a statement about timing can still be told from one that is not ("unknown").
- Durations convert with an average month of 365.25 / 12 days, so "3 months" is 3.0 months and
  ready_at is stated_at + 91.3125 days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final

from features.segments import timeline_segment

DAYS_PER_MONTH: Final = 365.25 / 12
"""An average month in days; durations and months_to_ready use it both ways."""


@dataclass(frozen=True, slots=True)
class TimelineParse:
    """What a timeline statement says, read at the moment it was stated."""

    months_to_ready: float | None
    ready_at: datetime | None
    segment: str
    rule: str


# -- normalisation --------------------------------------------------------------------------

_APOSTROPHES = re.compile(r"['’‘`´]")
_DASHES = re.compile(r"[‐‑‒–—―]")
_DIGIT_RANGE = re.compile(r"(?<=\d)\s*-\s*(?=\d)")
_ORDINAL = re.compile(r"(?<=\d)(?:st|nd|rd|th)\b")
_NON_WORD = re.compile(r"(?:[^a-z0-9.]|(?<!\d)\.|\.(?!\d))+")


def _normalize(statement: str) -> str:
    """Lower case, no punctuation (decimal points kept), digit ranges as 'to', single spaces."""
    text = _APOSTROPHES.sub("", statement.lower())
    text = _DASHES.sub("-", text)
    text = _DIGIT_RANGE.sub(" to ", text)
    text = _ORDINAL.sub("", text)
    return _NON_WORD.sub(" ", text).strip()


# -- numbers --------------------------------------------------------------------------------

_SMALL_NUMBERS: Final[dict[str, int]] = {
    word: value
    for value, word in enumerate(
        (
            *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
            *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"),
            *("seventeen", "eighteen", "nineteen"),
        )
    )
}
_TENS: Final[dict[str, int]] = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_VAGUE_NUMBERS: Final[dict[str, float]] = {
    "a couple of": 2,
    "a couple": 2,
    "couple of": 2,
    "couple": 2,
    "a few": 3,
    "few": 3,
    "several": 3,
    "half a": 0.5,
    "half an": 0.5,
    "a": 1,
    "an": 1,
}
_UNITS_WORDS = "|".join(w for w in _SMALL_NUMBERS if w != "zero")
_TENS_WORDS = "|".join(_TENS)
_NUMBER = (
    r"(?:\d+(?:\.\d+)?"
    rf"|(?:{_TENS_WORDS})(?:\s(?:{_UNITS_WORDS}))?"
    rf"|(?:{'|'.join(_SMALL_NUMBERS)})"
    rf"|{'|'.join(re.escape(w) for w in _VAGUE_NUMBERS)})"
)
_UNIT_MONTHS: Final[dict[str, float]] = {
    "day": 1 / DAYS_PER_MONTH,
    "week": 7 / DAYS_PER_MONTH,
    "month": 1.0,
    "year": 12.0,
}


def _number(words: str) -> float:
    if words in _VAGUE_NUMBERS:
        return float(_VAGUE_NUMBERS[words])
    if words in _SMALL_NUMBERS:
        return float(_SMALL_NUMBERS[words])
    tens, _, units = words.partition(" ")
    if tens in _TENS:
        return float(_TENS[tens] + _SMALL_NUMBERS.get(units, 0))
    return float(words)


def _unit(word: str) -> str:
    if word.startswith(("d",)):
        return "day"
    if word.startswith(("w",)):
        return "week"
    if word.startswith(("mo", "mth")):
        return "month"
    return "year"


# -- patterns ---------------------------------------------------------------------------------

_MONTHS: Final[dict[str, int]] = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sept": 9,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
# Ordinary English words or short forms: a month only after a time preposition ("in may").
_MONTHS_NEEDING_CONTEXT: Final = frozenset({"may", "mar", "jan", "jun", "jul", "aug", "sep"})
_SEASON_START_MONTH: Final[dict[str, int]] = {
    "spring": 3,
    "summer": 6,
    "fall": 9,
    "autumn": 9,
    "winter": 12,
}
_SEASONS_NEEDING_CONTEXT: Final = frozenset({"fall"})  # "if rates fall"
_TIME_CONTEXT = re.compile(
    r"(?:\b(?:in|by|until|til|till|around|early|mid|late|end of|this|next|before|after|come|"
    r"from|starting|beginning of|start of|on|ends|end|expires|is up|during|the)\s)$"
)

_YEAR_END = re.compile(r"\b(?:end of (?:the |this )?year|year end|end of year|eoy)\b")
_NEXT_YEAR_END = re.compile(r"\bend of next year\b")
_MONTH = re.compile(
    r"\b(?P<after>after )?(?:(?:the )?(?P<next>next) )?"
    rf"(?P<month>{'|'.join(sorted(_MONTHS, key=len, reverse=True))})\b"
    r"(?: (?P<day>[12]?\d|3[01])\b(?! (?:days?|weeks?|months?|years?)\b))?"
    r"(?: (?:of )?(?P<year>20\d\d|next year|this year)\b)?"
)
_SEASON = re.compile(
    r"\b(?P<after>after )?(?:the )?(?:(?P<qual>this|next) )?"
    rf"(?P<season>{'|'.join(_SEASON_START_MONTH)})\b"
    r"(?: (?:of )?(?P<year>20\d\d|next year|this year)\b)?"
)
_THIS_TIME_NEXT_YEAR = re.compile(r"\bthis time next year\b")
_NEXT_YEAR = re.compile(r"\b(?:next year|new year|first of the year|after the holidays)\b")
_CALENDAR_YEAR = re.compile(r"\b(?:in|by|until|til|till|during|early|before) (?P<year>20\d\d)\b")
_NEXT_MONTH = re.compile(r"\bnext month\b")
_MONTH_END = re.compile(r"\bend of (?:the |this )?month\b")
_NEXT_WEEK = re.compile(r"\bnext week\b")
_DURATION = re.compile(
    rf"\b(?P<n1>{_NUMBER})(?: (?:to|or) (?P<n2>{_NUMBER}))?(?P<half1> and a half)? ?"
    r"(?P<unit>days?|weeks?|wks?|months?|mos?|mths?|years?|yrs?)\b(?P<half2> and a half)?"
)
_PAST_BEFORE = re.compile(r"\b(?:past|last|for the past|been|since)\s$")
_NOW = re.compile(
    r"\b(?:asap|a s a p|as soon as possible|right away|immediately|straight away|"
    r"(?<!not )(?<!nt )ready (?:right )?now|this week|this month|under contract|"
    r"(?:made|making|put in) an offer|offer (?:was )?accepted|"
    r"(?<!not )(?<!nt )(?<!never )(?<!yet )(?:already )?found (?:a|the|our|my) "
    r"(?:house|home|place|property|condo)|already (?:have|got) (?:a|the) (?:house|home|place))\b"
)

# Intents without a time, in priority order: the first that matches names the rule.
_INTENTS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    (
        "after_sale",
        re.compile(
            r"\b(?:sell (?:my|our|the) (?:house|home|condo|place|property)|sell first|"
            r"(?:after|once|when|until) (?:i|we) sell|(?:need|have|want) to sell|"
            r"selling (?:my|our|the)|sale of (?:my|our|the))"
        ),
    ),
    ("lease", re.compile(r"\blease\b")),
    ("bonus", re.compile(r"\bbonus\b")),
    ("not_ready", re.compile(r"\bnot (?:quite |yet )?ready\b|\bnt (?:quite )?ready\b")),
    (
        "just_looking",
        re.compile(
            r"\b(?:just (?:looking|browsing|curious|checking|exploring|researching|starting)|"
            r"browsing|window shopping|curious|looking around|doing (?:some )?research|"
            r"researching|exploring|getting a feel|shopping around)\b"
        ),
    ),
    (
        "not_sure",
        re.compile(
            r"\b(?:not sure|unsure|dont know|do not know|no idea|undecided|tbd|"
            r"to be determined|depends|(?:havent|have not|not) decided|who knows)\b"
        ),
    ),
    (
        "no_rush",
        re.compile(
            r"\b(?:no rush|no hurry|not in a (?:rush|hurry)|someday|some day|one day|eventually|"
            r"down the road|in the future|no (?:timeline|time frame|timeframe|plans?))\b"
        ),
    ),
)


# -- candidates: what the text says, before the statement's date is known -------------------


@dataclass(frozen=True, slots=True)
class _Candidate:
    rule: str
    months: float = 0.0  # duration
    month: int = 0  # calendar month 1-12 (month and season rules)
    day: int = 1
    year: int = 0  # explicit calendar year, 0 when not stated
    years_ahead: int = 0  # "next year" after a month, season or year end
    upcoming_after_current: bool = False  # "next August" said in August: next year
    after_span_months: int = 0  # "after August": the month after (1); "after summer": 3


def _blank(text: str, match: re.Match[str]) -> str:
    """Hide a match from later patterns so "end of next year" is not also "next year"."""
    return text[: match.start()] + " " * (match.end() - match.start()) + text[match.end() :]


def _year_parts(year: str | None) -> tuple[int, int]:
    if year is None or year == "this year":
        return 0, 0
    if year == "next year":
        return 0, 1
    return int(year), 0


@lru_cache(maxsize=8192)
def _read(text: str) -> tuple[tuple[_Candidate, ...], str]:
    """Timing candidates in a normalised statement, and the intent rule when it has none."""
    found: list[_Candidate] = []
    for match in _NEXT_YEAR_END.finditer(text):
        found.append(_Candidate("year_end", month=12, years_ahead=1))
        text = _blank(text, match)
    for match in _YEAR_END.finditer(text):
        found.append(_Candidate("year_end", month=12))
        text = _blank(text, match)
    for match in _MONTH.finditer(text):
        name = match["month"]
        qualified = match["next"] or match["after"]
        if name in _MONTHS_NEEDING_CONTEXT and not (
            qualified or _TIME_CONTEXT.search(text[: match.start()])
        ):
            continue
        year, years_ahead = _year_parts(match["year"])
        found.append(
            _Candidate(
                "month",
                month=_MONTHS[name],
                day=int(match["day"]) if match["day"] else 1,
                year=year,
                years_ahead=years_ahead,
                upcoming_after_current=bool(match["next"]),
                after_span_months=1 if match["after"] else 0,
            )
        )
        text = _blank(text, match)
    for match in _SEASON.finditer(text):
        name = match["season"]
        qualified = match["qual"] or match["after"]
        if name in _SEASONS_NEEDING_CONTEXT and not (
            qualified or _TIME_CONTEXT.search(text[: match.start()])
        ):
            continue
        year, years_ahead = _year_parts(match["year"])
        found.append(
            _Candidate(
                "season",
                month=_SEASON_START_MONTH[name],
                year=year,
                years_ahead=years_ahead,
                upcoming_after_current=match["qual"] == "next",
                after_span_months=3 if match["after"] else 0,
            )
        )
        text = _blank(text, match)
    for match in _THIS_TIME_NEXT_YEAR.finditer(text):
        found.append(_Candidate("duration", months=12.0))
        text = _blank(text, match)
    for match in _NEXT_YEAR.finditer(text):
        found.append(_Candidate("next_year", month=1, years_ahead=1))
        text = _blank(text, match)
    for match in _CALENDAR_YEAR.finditer(text):
        found.append(_Candidate("calendar_year", month=1, year=int(match["year"])))
        text = _blank(text, match)
    for match in _NEXT_MONTH.finditer(text):
        found.append(_Candidate("next_month"))
        text = _blank(text, match)
    for match in _MONTH_END.finditer(text):
        found.append(_Candidate("next_month"))
        text = _blank(text, match)
    for match in _NEXT_WEEK.finditer(text):
        found.append(_Candidate("duration", months=7 / DAYS_PER_MONTH))
        text = _blank(text, match)
    for match in _DURATION.finditer(text):
        before = text[: match.start()]
        if text[match.end() :].startswith(" ago") or _PAST_BEFORE.search(before):
            continue  # "we started 3 months ago", "for the past 2 years": not a timeline
        if (
            match["n1"] == "one"
            and match["unit"] == "day"
            and not before.endswith(("in ", "within "))
        ):
            continue  # "one day" is someday
        count = _number(match["n1"]) + (0.5 if match["half1"] or match["half2"] else 0.0)
        found.append(_Candidate("duration", months=count * _UNIT_MONTHS[_unit(match["unit"])]))
        text = _blank(text, match)
    if _NOW.search(text):
        found.append(_Candidate("now"))
    if found:
        return tuple(found), ""
    for rule, pattern in _INTENTS:
        if pattern.search(text):
            return (), rule
    return (), "unknown"


# -- resolution against the statement's date -------------------------------------------------


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _resolve(candidate: _Candidate, stated_at: datetime) -> datetime:
    """The UTC moment a candidate names, never before stated_at."""
    if candidate.rule == "now":
        return stated_at
    if candidate.rule == "duration":
        return stated_at + timedelta(days=candidate.months * DAYS_PER_MONTH)
    if candidate.rule == "next_month":
        year, month = _add_months(stated_at.year, stated_at.month, 1)
        return datetime(year, month, 1, tzinfo=UTC)
    day = 1 if candidate.after_span_months else candidate.day
    if candidate.year or candidate.years_ahead:
        year = candidate.year or stated_at.year + candidate.years_ahead
        month = candidate.month
    elif candidate.rule in {"month", "season"}:
        period_months = 3 if candidate.rule == "season" else 1
        months_in = (stated_at.month - candidate.month) % 12
        if months_in >= period_months:  # the period is ahead: its next start
            months_ahead = (candidate.month - stated_at.month) % 12
        elif candidate.after_span_months:  # "after summer" in July: this summer's end
            months_ahead = -months_in
        elif candidate.upcoming_after_current:  # "next summer" in July: next year's
            months_ahead = 12 - months_in
        elif candidate.rule == "month" and day > stated_at.day:
            months_ahead = 0  # "August 20" said on August 5
        else:  # "this summer" in July, "in August" in August
            return stated_at
        year, month = _add_months(stated_at.year, stated_at.month, months_ahead)
    else:  # year_end this year
        year, month = stated_at.year, candidate.month
    year, month = _add_months(year, month, candidate.after_span_months)
    try:
        moment = datetime(year, month, day, tzinfo=UTC)
    except ValueError:  # "February 30": the month's first day
        moment = datetime(year, month, 1, tzinfo=UTC)
    return max(moment, stated_at)


def parse_timeline(statement: str, stated_at: datetime) -> TimelineParse:
    """Read a lead's timeline statement as of the moment it was stated (tz-aware)."""
    if stated_at.tzinfo is None or stated_at.utcoffset() is None:
        raise ValueError(
            "stated_at has no time zone; pass an aware datetime, e.g. datetime(..., tzinfo=UTC)"
        )
    stated_at = stated_at.astimezone(UTC)
    text = _normalize(statement or "")
    if not text:
        return TimelineParse(None, None, "unknown", "empty")
    candidates, intent = _read(text)
    if not candidates:
        return TimelineParse(None, None, "unknown", intent)
    ready_at, rule = min((_resolve(c, stated_at), c.rule) for c in candidates)
    months = (ready_at - stated_at).total_seconds() / 86_400 / DAYS_PER_MONTH
    return TimelineParse(months, ready_at, timeline_segment(months), rule)
