"""Timeline statements: what a lead says about when they will be ready, from the latent truth."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

DAYS_PER_MONTH = 365.25 / 12

# Each horizon has phrases anyone may use, phrases only a buyer uses (houses, leases, offers)
# and phrases only a homeowner refinancing uses (ARM resets, cash-out).
NOW_TEMPLATES: tuple[str, ...] = (
    "ASAP",
    "as soon as possible",
    "ready now",
    "we're ready to go",
    "need to lock a rate this week",
    "right away please",
)
NOW_BUYER_TEMPLATES: tuple[str, ...] = (
    "already found a house, need financing",
    "under contract, closing in {weeks} weeks",
    "we made an offer yesterday",
    "need a pre-approval letter for an offer this weekend",
)
NOW_REFINANCE_TEMPLATES: tuple[str, ...] = (
    "want to refinance right away",
    "ready to refinance now",
    "my rate is too high, want to refi now",
)
WEEKS_TEMPLATES: tuple[str, ...] = (
    "in {weeks} weeks",
    "{weeks}-{weeks_hi} weeks",
    "within the next month or two",
    "by {month}",
    "hoping to close by the end of {month}",
)
WEEKS_BUYER_TEMPLATES: tuple[str, ...] = (
    "our lease ends in {month}",
    "moving for a new job in {month}",
)
WEEKS_REFINANCE_TEMPLATES: tuple[str, ...] = ("my ARM resets in {month}",)
SOON_TEMPLATES: tuple[str, ...] = ("next month", "in a month or so")
MONTHS_TEMPLATES: tuple[str, ...] = (
    "in {months} months",
    "{months}-{months_hi} months",
    "by {month}",
    "waiting for my bonus in {month}",
    "{this_next} {season}",
    "probably around {month}",
    "maybe in {months} months",
)
MONTHS_BUYER_TEMPLATES: tuple[str, ...] = (
    "our lease ends in {month}",
    "after I sell my house",
    "once my new job starts in {month}",
    "when our apartment lease is up in {month}",
)
MONTHS_REFINANCE_TEMPLATES: tuple[str, ...] = (
    "when my ARM adjusts in {month}",
    "want to take cash out for a remodel by {month}",
)
SCHOOL_TEMPLATES: tuple[str, ...] = ("after the school year ends",)
TAX_TEMPLATES: tuple[str, ...] = ("after tax season",)
FAR_TEMPLATES: tuple[str, ...] = (
    "in about a year",
    "{this_next} {season}",
    "in {months} months or so",
    "not for a while",
    "probably {month_year}",
    "waiting for my bonus in {month}",
    "a year from now",
)
FAR_BUYER_TEMPLATES: tuple[str, ...] = (
    "after I sell my house",
    "once we've saved for the down payment",
)
FAR_REFINANCE_TEMPLATES: tuple[str, ...] = ("once my credit improves, probably {month_year}",)
NEXT_YEAR_TEMPLATES: tuple[str, ...] = ("sometime next year", "early next year")
YEAR_END_TEMPLATES: tuple[str, ...] = ("end of the year",)
VERY_FAR_TEMPLATES: tuple[str, ...] = (
    "in a year or two",
    "a couple of years out",
    "not for a while, just planning ahead",
    "long-term plan, maybe {ready_year}",
    "sometime in {ready_year}",
    "in 18 months or so",
)
VAGUE_TEMPLATES: tuple[str, ...] = (
    "just looking",
    "not sure yet",
    "just curious about rates",
    "exploring my options",
    "no rush",
    "depends on rates",
    "whenever the numbers work",
    "still deciding",
    "haven't decided",
    "browsing for now",
    "just want to see what I qualify for",
)
VAGUE_BUYER_TEMPLATES: tuple[str, ...] = (
    "just starting to look",
    "depends on what we can afford",
)
VAGUE_REFINANCE_TEMPLATES: tuple[str, ...] = (
    "if rates drop",
    "when rates come down",
    "if I can get under {target_rate}%",
)

ALL_TEMPLATES: tuple[str, ...] = (
    NOW_TEMPLATES
    + NOW_BUYER_TEMPLATES
    + NOW_REFINANCE_TEMPLATES
    + WEEKS_TEMPLATES
    + WEEKS_BUYER_TEMPLATES
    + WEEKS_REFINANCE_TEMPLATES
    + SOON_TEMPLATES
    + MONTHS_TEMPLATES
    + MONTHS_BUYER_TEMPLATES
    + MONTHS_REFINANCE_TEMPLATES
    + SCHOOL_TEMPLATES
    + TAX_TEMPLATES
    + FAR_TEMPLATES
    + FAR_BUYER_TEMPLATES
    + FAR_REFINANCE_TEMPLATES
    + NEXT_YEAR_TEMPLATES
    + YEAR_END_TEMPLATES
    + VERY_FAR_TEMPLATES
    + VAGUE_TEMPLATES
    + VAGUE_BUYER_TEMPLATES
    + VAGUE_REFINANCE_TEMPLATES
)


MONTH_NAMES: tuple[str, ...] = (
    "", "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
"""English month names, independent of the machine's locale."""


def _season(month: int) -> str:
    return {12: "winter", 1: "winter", 2: "winter"}.get(
        month, "spring" if month <= 5 else "summer" if month <= 8 else "fall"
    )


def _season_year(day: date) -> int:
    """Winter belongs to the year it starts in (December)."""
    return day.year - 1 if day.month <= 2 else day.year


def timeline_statement(
    rng: np.random.Generator,
    stated_months: float,
    created: date,
    is_refinance: bool,
    is_vague: bool,
    quoted_rate_pct: float,
) -> str:
    """One statement consistent with `stated_months` (or a vague one), in varied wording."""
    ready = created + timedelta(days=round(stated_months * DAYS_PER_MONTH))
    fields = {
        "weeks": max(2, round(stated_months * 4.35)),
        "weeks_hi": max(2, round(stated_months * 4.35)) + int(rng.integers(1, 4)),
        "months": max(2, round(stated_months)),
        "months_hi": max(2, round(stated_months)) + int(rng.integers(1, 3)),
        "month": MONTH_NAMES[ready.month],
        "month_year": MONTH_NAMES[ready.month]
        + (" next year" if ready.year > created.year else ""),
        "season": _season(ready.month),
        "this_next": "next" if _season_year(ready) > _season_year(created) else "this",
        "ready_year": str(ready.year),
        "target_rate": f"{max(3.0, round((quoted_rate_pct - 0.5) * 4) / 4):g}",
    }

    def pool(
        shared: tuple[str, ...], buyer: tuple[str, ...], refi: tuple[str, ...]
    ) -> tuple[str, ...]:
        return shared + (refi if is_refinance else buyer)

    if is_vague:
        choices = pool(VAGUE_TEMPLATES, VAGUE_BUYER_TEMPLATES, VAGUE_REFINANCE_TEMPLATES)
    elif stated_months < 0.75:
        choices = pool(NOW_TEMPLATES, NOW_BUYER_TEMPLATES, NOW_REFINANCE_TEMPLATES * 2)
        fields["weeks"] = int(rng.integers(3, 6))
    elif stated_months < 2.5:
        choices = pool(WEEKS_TEMPLATES, WEEKS_BUYER_TEMPLATES, WEEKS_REFINANCE_TEMPLATES)
        choices += SOON_TEMPLATES if stated_months < 1.6 else ()
    elif stated_months < 7:
        school = SCHOOL_TEMPLATES if ready.month in (6, 7) else ()
        choices = pool(
            MONTHS_TEMPLATES, MONTHS_BUYER_TEMPLATES + school, MONTHS_REFINANCE_TEMPLATES
        )
        choices += TAX_TEMPLATES if ready.month in (4, 5) else ()
    elif stated_months < 13:
        choices = pool(FAR_TEMPLATES, FAR_BUYER_TEMPLATES, FAR_REFINANCE_TEMPLATES)
        choices += NEXT_YEAR_TEMPLATES if ready.year == created.year + 1 else ()
        choices += YEAR_END_TEMPLATES if ready.year == created.year and ready.month >= 11 else ()
    else:
        choices = VERY_FAR_TEMPLATES + (
            NEXT_YEAR_TEMPLATES if ready.year == created.year + 1 else ()
        )
    text = choices[int(rng.integers(len(choices)))].format(**fields)
    return _vary_wording(rng, text)


def _vary_wording(rng: np.random.Generator, text: str) -> str:
    """People type differently: capitals, a full stop, an exclamation mark, all caps."""
    roll = rng.random()
    if roll < 0.45:
        text = text[0].upper() + text[1:]
    elif roll < 0.50:
        text = text.upper()
    ending = rng.random()
    if ending < 0.2:
        text += "."
    elif ending < 0.25:
        text += "!"
    return text
