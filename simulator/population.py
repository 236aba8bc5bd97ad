"""The leads: who they are, what they told us, and their latent timeline and intent.

Everything here is drawn before any follow-up happens, from a generator seeded by the config's
seed alone, so every policy meets the same leads (common random numbers).

protected_group ("A"/"B") is synthetic and exists for fairness audits only. It is drawn last,
from the lead's state and source, and nothing else in the simulation reads it. That gives a
realistic proxy risk and nothing more: P(B) = 0.22, plus 0.18 in the states of PROXY_STATES,
plus 0.08 for online leads. Outcomes never depend on it except through those two observables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from data_contracts.enums import STATE_TIME_ZONES, CreditBand, LeadSource, LoanType, UsState
from data_contracts.schemas import LEAD_COLUMNS
from simulator.clock import SECONDS_PER_DAY, SimulationClock
from simulator.config import SimulationConfig
from simulator.statements import timeline_statement

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

CONFORMING_LIMIT_USD = 766_550.0
"""2024 one-unit conforming loan limit: a loan above it is jumbo."""

STATE_POPULATION_M: dict[UsState, float] = {
    UsState.CA: 39.5, UsState.TX: 29.1, UsState.FL: 21.5, UsState.NY: 20.2, UsState.PA: 13.0,
    UsState.IL: 12.8, UsState.OH: 11.8, UsState.GA: 10.7, UsState.NC: 10.4, UsState.MI: 10.1,
    UsState.NJ: 9.3, UsState.VA: 8.6, UsState.WA: 7.7, UsState.AZ: 7.2, UsState.MA: 7.0,
    UsState.TN: 6.9, UsState.IN: 6.8, UsState.MD: 6.2, UsState.MO: 6.2, UsState.WI: 5.9,
    UsState.CO: 5.8, UsState.MN: 5.7, UsState.SC: 5.1, UsState.AL: 5.0, UsState.LA: 4.7,
    UsState.KY: 4.5, UsState.OR: 4.2, UsState.OK: 4.0, UsState.CT: 3.6, UsState.UT: 3.3,
    UsState.PR: 3.3, UsState.IA: 3.2, UsState.NV: 3.1, UsState.AR: 3.0, UsState.MS: 3.0,
    UsState.KS: 2.9, UsState.NM: 2.1, UsState.NE: 2.0, UsState.ID: 1.8, UsState.WV: 1.8,
    UsState.HI: 1.5, UsState.NH: 1.4, UsState.ME: 1.4, UsState.RI: 1.1, UsState.MT: 1.1,
    UsState.DE: 1.0, UsState.SD: 0.9, UsState.ND: 0.8, UsState.AK: 0.7, UsState.DC: 0.7,
    UsState.VT: 0.6, UsState.WY: 0.6,
}  # fmt: skip
"""Rough 2020 census populations in millions: the lead mix by state."""

PROXY_STATES: frozenset[UsState] = frozenset(
    {UsState.CA, UsState.TX, UsState.FL, UsState.NY, UsState.NJ, UsState.GA, UsState.IL,
     UsState.MD, UsState.DC, UsState.NM}
)  # fmt: skip
"""States where protected group B is more common (the documented geographic proxy)."""

SOURCES: tuple[LeadSource, ...] = tuple(LeadSource)
SOURCE_SHARE: tuple[float, ...] = (0.18, 0.55, 0.10, 0.17)  # referral, online, past, realtor
LOAN_TYPES: tuple[LoanType, ...] = tuple(LoanType)
LOAN_TYPE_SHARE: tuple[float, ...] = (0.55, 0.25, 0.12, 0.08)  # purchase, refi, invest, jumbo
CREDIT_BANDS: tuple[CreditBand, ...] = tuple(CreditBand)
CREDIT_SHARE: tuple[float, ...] = (0.28, 0.36, 0.18, 0.07, 0.11)
CREDIT_SPREAD_PCT: tuple[float, ...] = (-0.1, 0.15, 0.55, 1.1, 0.35)
LOAN_TYPE_SPREAD_PCT: tuple[float, ...] = (0.0, 0.1, 0.65, 0.15)
CONSENT_SHARE: tuple[float, float, float] = (0.85, 0.70, 0.95)  # call, text, email
UNKNOWN_ZONE_SHARE = 0.02
PRIMARY_ZONE_SHARE = 0.90

TIMELINE_EDGES_MONTHS: tuple[float, ...] = (0.0, 0.75, 2.5, 7.0, 13.0, 24.0)
TIMELINE_SHARE: dict[str, tuple[float, ...]] = {
    "default": (0.12, 0.25, 0.30, 0.23, 0.10),
    "refinance": (0.30, 0.30, 0.22, 0.13, 0.05),
    "realtor_partner": (0.20, 0.35, 0.28, 0.12, 0.05),
}
"""Latent months-to-ready by segment (ready now, weeks, months, within a year, later)."""

CREATED_HOUR_WEIGHT: tuple[float, ...] = (
    0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.5, 1.0, 1.5, 2.0, 2.2, 2.3,
    2.8, 2.5, 2.2, 2.2, 2.4, 2.8, 3.3, 3.8, 4.0, 3.6, 2.6, 1.4,
)  # fmt: skip
"""Local hour of lead forms and site activity: lunch and evening peaks."""
WEEKDAY_LEAD_WEIGHT: tuple[float, ...] = (1.05, 1.0, 1.0, 1.0, 0.95, 1.2, 1.25)

FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty",
    "Anthony", "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew",
    "Emily", "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda",
    "Brian", "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca",
    "Jason", "Sharon", "Edward", "Laura", "Jeffrey", "Cynthia", "Ryan", "Amy", "Jacob",
    "Kathleen", "Gary", "Angela", "Nicholas", "Shirley", "Eric", "Brenda", "Jonathan", "Emma",
    "Luis", "Ana", "Wei", "Mei", "Priya", "Arjun", "Fatima", "Omar", "Hiroshi", "Yuki",
    "Carlos", "Sofia", "Diego", "Lucia",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Chen", "Patel", "Kim", "Singh",
    "Wang", "Ali", "Tanaka", "Cohen", "Murphy", "Okafor",
)  # fmt: skip
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org")
"""Reserved domains (RFC 2606): synthetic addresses can never reach a real inbox."""


@dataclass(frozen=True)
class Population:
    """The leads as arrays (index = position in `leads`) plus their public table."""

    leads: pd.DataFrame
    created_s: IntArray
    day: IntArray
    officer: IntArray
    zone: IntArray  # index into clock.zones: where the lead lives (also when unknown to us)
    zone_known: BoolArray
    state_end_hour: IntArray  # local hour calls must end: 21, or 20 in FL/OK/MD
    state_cap_scope: IntArray  # 0 none, 1 calls (FL, OK), 2 calls and texts (MD)
    source: IntArray
    loan_type: IntArray
    credit: IntArray
    quoted_rate_pct: FloatArray
    consent: npt.NDArray[np.bool_]  # [lead, channel]: call, text, email
    months_to_ready: FloatArray
    intent: FloatArray
    vague_statement: BoolArray
    new_vendor: BoolArray
    protected_b: BoolArray

    @property
    def size(self) -> int:
        return len(self.created_s)


def generate_population(
    config: SimulationConfig, clock: SimulationClock, rates_pct: FloatArray
) -> Population:
    """Draw every lead of the history, ordered by creation time (lead_id L000001 first)."""
    rng = np.random.default_rng([config.seed, 101])
    n = config.total_leads
    days = clock.days

    day_weight = np.array(
        [
            WEEKDAY_LEAD_WEIGHT[clock.weekday(d)]
            * (1 + 0.15 * np.sin(2 * np.pi * (clock.date_of(d).timetuple().tm_yday - 60) / 365))
            for d in range(days)
        ]
    )
    day = np.repeat(np.arange(days), rng.multinomial(n, day_weight / day_weight.sum()))

    states = tuple(STATE_POPULATION_M)
    state_p = np.array([STATE_POPULATION_M[s] for s in states])
    state = rng.choice(len(states), size=n, p=state_p / state_p.sum())
    zone, zone_known = _zones(rng, clock, states, state)

    hour_p = np.array(CREATED_HOUR_WEIGHT) / sum(CREATED_HOUR_WEIGHT)
    local_s = rng.choice(24, size=n, p=hour_p) * 3600 + rng.integers(0, 3600, size=n)
    created = clock.local_to_utc(zone, day, local_s)
    created = np.where(created < clock.period_start_s, created + SECONDS_PER_DAY, created)
    created = np.where(created >= clock.period_end_s, created - SECONDS_PER_DAY, created)
    order = np.lexsort((np.arange(n), created))
    state, zone, zone_known, created = state[order], zone[order], zone_known[order], created[order]
    day = clock.day_of(created)

    drift = (day >= int(days * config.drift_start_fraction)) & (
        rng.random(n) < config.new_source_share
    )
    source = rng.choice(len(SOURCES), size=n, p=np.array(SOURCE_SHARE))
    source[drift] = SOURCES.index(LeadSource.ONLINE_LEAD)
    loan_type = _loan_types(rng, source, rates_pct[day] - config.start_rate_pct)
    credit = rng.choice(len(CREDIT_BANDS), size=n, p=np.array(CREDIT_SHARE))
    amount = _loan_amounts(rng, loan_type)
    quoted = (
        rates_pct[day]
        + np.array(CREDIT_SPREAD_PCT)[credit]
        + np.array(LOAN_TYPE_SPREAD_PCT)[loan_type]
        + rng.normal(0.0, 0.15, size=n)
    )
    quoted = np.clip(np.round(quoted * 8) / 8, 1.0, 14.0)  # rates are quoted in eighths

    consent = rng.random((n, 3)) < np.array(CONSENT_SHARE)
    consent[drift, 1] = rng.random(int(drift.sum())) < 0.5

    months = _months_to_ready(rng, source, loan_type)
    intent = np.exp(rng.normal(-0.245, 0.7, size=n))  # mean 1
    intent[drift] *= 0.3
    vague = rng.random(n) < 0.10 + 0.25 * (intent < 0.5) + 0.10 * (months >= 7) + 0.3 * drift
    stated = months * np.exp(rng.normal(0.0, 0.2, size=n))

    officer = np.arange(n) % config.officers
    reassigned = rng.random(n) < 0.15
    officer[reassigned] = rng.integers(0, config.officers, size=int(reassigned.sum()))

    created_dates = [clock.date_of(int(d)) for d in day]
    statements = [
        timeline_statement(
            rng,
            float(stated[i]),
            created_dates[i],
            is_refinance=bool(loan_type[i] == 1),
            is_vague=bool(vague[i]),
            quoted_rate_pct=float(quoted[i]),
        )
        for i in range(n)
    ]
    first, last, phone, email = _contact_details(rng, n)

    # Drawn last, from its own generator: nothing above depends on it.
    protected_rng = np.random.default_rng([config.seed, 102])
    in_proxy_state = np.array([s in PROXY_STATES for s in states])[state]
    p_b = 0.22 + 0.18 * in_proxy_state + 0.08 * (source == SOURCES.index(LeadSource.ONLINE_LEAD))
    protected_b = protected_rng.random(n) < p_b

    state_names = np.array([s.value for s in states], dtype=object)[state]
    end_hour = np.where(np.isin(state_names, ["FL", "OK", "MD"]), 20, 21)
    cap_scope = np.select([np.isin(state_names, ["FL", "OK"]), state_names == "MD"], [1, 2], 0)
    width = max(6, len(str(n)))
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{k:0{width}d}" for k in range(1, n + 1)],
            "officer_id": np.array(config.officer_ids, dtype=object)[officer],
            "created_at": pd.to_datetime(created, unit="s", utc=True),
            "first_name": first,
            "last_name": last,
            "phone": phone,
            "email": email,
            "state": state_names,
            "time_zone": np.where(
                zone_known, np.array(clock.zones, dtype=object)[zone], np.array(None)
            ),
            "source": np.array([s.value for s in SOURCES], dtype=object)[source],
            "loan_type": np.array([t.value for t in LOAN_TYPES], dtype=object)[loan_type],
            "loan_amount_usd": amount,
            "credit_band": np.array([c.value for c in CREDIT_BANDS], dtype=object)[credit],
            "quoted_rate_pct": quoted,
            "timeline_statement": statements,
            "consent_call": consent[:, 0],
            "consent_text": consent[:, 1],
            "consent_email": consent[:, 2],
        }
    )
    leads = leads.astype(LEAD_COLUMNS)
    return Population(
        leads=leads,
        created_s=created.astype(np.int64),
        day=day,
        officer=officer.astype(np.int64),
        zone=zone,
        zone_known=zone_known,
        state_end_hour=end_hour.astype(np.int64),
        state_cap_scope=cap_scope.astype(np.int64),
        source=source.astype(np.int64),
        loan_type=loan_type,
        credit=credit.astype(np.int64),
        quoted_rate_pct=quoted,
        consent=consent,
        months_to_ready=months,
        intent=intent,
        vague_statement=vague,
        new_vendor=drift,
        protected_b=protected_b,
    )


def _zones(
    rng: np.random.Generator, clock: SimulationClock, states: tuple[UsState, ...], state: IntArray
) -> tuple[IntArray, BoolArray]:
    """Mostly the state's main zone; 2% of leads never told us where they are."""
    n = len(state)
    zone = np.empty(n, dtype=np.int64)
    u = rng.random(n)
    for s, name in enumerate(states):
        members = np.flatnonzero(state == s)
        zones = [clock.zone_index(z) for z in STATE_TIME_ZONES[name]]
        if len(zones) == 1:
            zone[members] = zones[0]
            continue
        other = rng.integers(1, len(zones), size=len(members))
        zone[members] = np.where(
            u[members] < PRIMARY_ZONE_SHARE, zones[0], np.array(zones, dtype=np.int64)[other]
        )
    known = rng.random(n) >= UNKNOWN_ZONE_SHARE
    return zone, known


def _loan_types(
    rng: np.random.Generator, source: IntArray, rate_change_pct: FloatArray
) -> IntArray:
    """Refinance inquiries follow rates down; past clients refinance, realtors bring buyers."""
    weight = np.tile(np.array(LOAN_TYPE_SHARE), (len(source), 1))
    weight[:, 1] *= np.exp(-1.5 * rate_change_pct)
    weight[source == SOURCES.index(LeadSource.PAST_CLIENT), 1] *= 1.8
    weight[source == SOURCES.index(LeadSource.REALTOR_PARTNER), 1] *= 0.2
    cumulative = np.cumsum(weight / weight.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(source))[:, None]
    return np.asarray(np.minimum((u > cumulative).sum(axis=1), len(LOAN_TYPES) - 1), np.int64)


def _loan_amounts(rng: np.random.Generator, loan_type: IntArray) -> FloatArray:
    median = np.array([340_000.0, 290_000.0, 310_000.0, 300_000.0])[loan_type]
    sigma = np.array([0.45, 0.5, 0.5, 0.8])[loan_type]
    draw = median * np.exp(rng.normal(0.0, 1.0, size=len(loan_type)) * sigma)
    jumbo = loan_type == LOAN_TYPES.index(LoanType.JUMBO)
    amount = np.where(
        jumbo,
        np.clip(CONFORMING_LIMIT_USD + draw, 767_000.0, 4_500_000.0),
        # A conforming request above the limit is re-drawn below it, not piled up at it.
        np.where(
            draw > CONFORMING_LIMIT_USD,
            CONFORMING_LIMIT_USD * rng.uniform(0.7, 0.995, size=len(loan_type)),
            np.maximum(draw, 60_000.0),
        ),
    )
    return np.where(jumbo, np.ceil(amount / 1000), np.floor(amount / 1000)) * 1000.0


def _months_to_ready(rng: np.random.Generator, source: IntArray, loan_type: IntArray) -> FloatArray:
    n = len(source)
    shares = np.tile(np.array(TIMELINE_SHARE["default"]), (n, 1))
    shares[loan_type == LOAN_TYPES.index(LoanType.REFINANCE)] = TIMELINE_SHARE["refinance"]
    shares[source == SOURCES.index(LeadSource.REALTOR_PARTNER)] = TIMELINE_SHARE["realtor_partner"]
    cumulative = np.cumsum(shares, axis=1)
    segment = np.minimum((rng.random(n)[:, None] > cumulative).sum(axis=1), 4)
    edges = np.array(TIMELINE_EDGES_MONTHS)
    low, high = edges[segment], edges[segment + 1]
    return np.asarray(low + rng.random(n) * (high - low), dtype=np.float64)


def _contact_details(
    rng: np.random.Generator, n: int
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Names from small lists, fictional 555-01XX phone numbers, reserved-domain emails."""
    first = np.array(FIRST_NAMES, dtype=object)[rng.integers(0, len(FIRST_NAMES), size=n)]
    last = np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), size=n)]
    # NANP area code NXX: N is 2-9, and N11 codes are service codes, not areas.
    area = rng.integers(2, 10, size=n) * 100 + rng.integers(0, 100, size=n)
    area = np.where(area % 100 == 11, area + 1, area)
    line = rng.integers(100, 200, size=n)  # 555-0100..0199 is reserved for fiction
    suffix = rng.integers(1, 100, size=n)
    with_suffix = rng.random(n) < 0.6
    domain = np.array(EMAIL_DOMAINS, dtype=object)[rng.integers(0, len(EMAIL_DOMAINS), size=n)]
    phones = [f"+1{a:03d}555{x:04d}" for a, x in zip(area, line, strict=True)]
    emails = [
        f"{f.lower()}.{s.lower()}{k if w else ''}@{d}"
        for f, s, k, w, d in zip(first, last, suffix, with_suffix, domain, strict=True)
    ]
    return list(first), list(last), phones, emails
