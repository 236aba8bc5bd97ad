"""Enumerations every layer shares: sources, loan types, channels, event types, outcomes, states."""

from __future__ import annotations

from enum import StrEnum


class LeadSource(StrEnum):
    """Where a lead came from (DOMAIN.md segments)."""

    REFERRAL = "referral"
    ONLINE_LEAD = "online_lead"
    PAST_CLIENT = "past_client"
    REALTOR_PARTNER = "realtor_partner"


class LoanType(StrEnum):
    PURCHASE = "purchase"
    REFINANCE = "refinance"
    INVESTMENT = "investment"
    JUMBO = "jumbo"


class CreditBand(StrEnum):
    """Self-reported credit band; 'unknown' when the lead did not say."""

    EXCELLENT = "excellent"
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"
    UNKNOWN = "unknown"


class Channel(StrEnum):
    """Contact channels; consent is recorded per channel."""

    CALL = "call"
    TEXT = "text"
    EMAIL = "email"


class CallOutcome(StrEnum):
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    CONNECTED = "connected"
    APPOINTMENT_SET = "appointment_set"
    NOT_INTERESTED = "not_interested"
    ASKED_TO_STOP = "asked_to_stop"


class QuestionTopic(StrEnum):
    RATES = "rates"
    DOCUMENTS = "documents"
    PRE_APPROVAL = "pre_approval"
    CREDIT = "credit"
    DOWN_PAYMENT = "down_payment"


class EventType(StrEnum):
    """Everything the CRM can tell us happened to a lead.

    Outbound touches are ours (email_sent, text_sent, call); inbound actions are the lead's
    (web_visit, email_opened, email_clicked, text_replied, question_asked, statement).
    """

    LEAD_CREATED = "lead_created"
    WEB_VISIT = "web_visit"
    EMAIL_SENT = "email_sent"
    EMAIL_OPENED = "email_opened"
    EMAIL_CLICKED = "email_clicked"
    TEXT_SENT = "text_sent"
    TEXT_REPLIED = "text_replied"
    CALL = "call"
    QUESTION_ASKED = "question_asked"
    STATEMENT = "statement"
    OPT_OUT = "opt_out"
    CONSENT_GRANTED = "consent_granted"
    CONSENT_REVOKED = "consent_revoked"
    DNC_REQUEST = "dnc_request"
    APPLICATION_SUBMITTED = "application_submitted"
    LOAN_FUNDED = "loan_funded"


OUTBOUND_EVENT_TYPES: frozenset[EventType] = frozenset(
    {EventType.EMAIL_SENT, EventType.TEXT_SENT, EventType.CALL}
)
"""Touches: contacts we make."""

INBOUND_EVENT_TYPES: frozenset[EventType] = frozenset(
    {
        EventType.WEB_VISIT,
        EventType.EMAIL_OPENED,
        EventType.EMAIL_CLICKED,
        EventType.TEXT_REPLIED,
        EventType.QUESTION_ASKED,
        EventType.STATEMENT,
    }
)
"""Inbound actions: things the lead does."""

EVENT_CHANNEL: dict[EventType, Channel] = {
    EventType.EMAIL_SENT: Channel.EMAIL,
    EventType.EMAIL_OPENED: Channel.EMAIL,
    EventType.EMAIL_CLICKED: Channel.EMAIL,
    EventType.TEXT_SENT: Channel.TEXT,
    EventType.TEXT_REPLIED: Channel.TEXT,
    EventType.CALL: Channel.CALL,
}
"""The channel an event type implies; opt-outs and consent changes carry theirs explicitly."""

EVENT_TYPES_REQUIRING_CHANNEL: frozenset[EventType] = frozenset(
    {EventType.OPT_OUT, EventType.CONSENT_GRANTED, EventType.CONSENT_REVOKED}
)


class UsState(StrEnum):
    """US states, DC and Puerto Rico by USPS code."""

    AL = "AL"
    AK = "AK"
    AZ = "AZ"
    AR = "AR"
    CA = "CA"
    CO = "CO"
    CT = "CT"
    DE = "DE"
    DC = "DC"
    FL = "FL"
    GA = "GA"
    HI = "HI"
    ID = "ID"
    IL = "IL"
    IN = "IN"
    IA = "IA"
    KS = "KS"
    KY = "KY"
    LA = "LA"
    ME = "ME"
    MD = "MD"
    MA = "MA"
    MI = "MI"
    MN = "MN"
    MS = "MS"
    MO = "MO"
    MT = "MT"
    NE = "NE"
    NV = "NV"
    NH = "NH"
    NJ = "NJ"
    NM = "NM"
    NY = "NY"
    NC = "NC"
    ND = "ND"
    OH = "OH"
    OK = "OK"
    OR = "OR"
    PA = "PA"
    PR = "PR"
    RI = "RI"
    SC = "SC"
    SD = "SD"
    TN = "TN"
    TX = "TX"
    UT = "UT"
    VT = "VT"
    VA = "VA"
    WA = "WA"
    WV = "WV"
    WI = "WI"
    WY = "WY"


STATE_TIME_ZONES: dict[UsState, tuple[str, ...]] = {
    UsState.AL: ("America/Chicago",),
    UsState.AK: ("America/Anchorage", "America/Adak"),
    UsState.AZ: ("America/Phoenix",),
    UsState.AR: ("America/Chicago",),
    UsState.CA: ("America/Los_Angeles",),
    UsState.CO: ("America/Denver",),
    UsState.CT: ("America/New_York",),
    UsState.DE: ("America/New_York",),
    UsState.DC: ("America/New_York",),
    UsState.FL: ("America/New_York", "America/Chicago"),
    UsState.GA: ("America/New_York",),
    UsState.HI: ("Pacific/Honolulu",),
    UsState.ID: ("America/Boise", "America/Los_Angeles"),
    UsState.IL: ("America/Chicago",),
    UsState.IN: ("America/Indiana/Indianapolis", "America/Chicago"),
    UsState.IA: ("America/Chicago",),
    UsState.KS: ("America/Chicago", "America/Denver"),
    UsState.KY: ("America/New_York", "America/Chicago"),
    UsState.LA: ("America/Chicago",),
    UsState.ME: ("America/New_York",),
    UsState.MD: ("America/New_York",),
    UsState.MA: ("America/New_York",),
    UsState.MI: ("America/Detroit", "America/Menominee"),
    UsState.MN: ("America/Chicago",),
    UsState.MS: ("America/Chicago",),
    UsState.MO: ("America/Chicago",),
    UsState.MT: ("America/Denver",),
    UsState.NE: ("America/Chicago", "America/Denver"),
    UsState.NV: ("America/Los_Angeles",),
    UsState.NH: ("America/New_York",),
    UsState.NJ: ("America/New_York",),
    UsState.NM: ("America/Denver",),
    UsState.NY: ("America/New_York",),
    UsState.NC: ("America/New_York",),
    UsState.ND: ("America/Chicago", "America/Denver"),
    UsState.OH: ("America/New_York",),
    UsState.OK: ("America/Chicago",),
    UsState.OR: ("America/Los_Angeles", "America/Boise"),
    UsState.PA: ("America/New_York",),
    UsState.PR: ("America/Puerto_Rico",),
    UsState.RI: ("America/New_York",),
    UsState.SC: ("America/New_York",),
    UsState.SD: ("America/Chicago", "America/Denver"),
    UsState.TN: ("America/Chicago", "America/New_York"),
    UsState.TX: ("America/Chicago", "America/Denver"),
    UsState.UT: ("America/Denver",),
    UsState.VT: ("America/New_York",),
    UsState.VA: ("America/New_York",),
    UsState.WA: ("America/Los_Angeles",),
    UsState.WV: ("America/New_York",),
    UsState.WI: ("America/Chicago",),
    UsState.WY: ("America/Denver",),
}
"""IANA time zones in use in each state, the most populous first.

A lead's own time zone (from its area code or address) wins; when it is unknown and its state
spans several zones, the lead is not callable (DOMAIN.md: unknown local time zone).
"""

US_TIME_ZONES: frozenset[str] = frozenset(z for zones in STATE_TIME_ZONES.values() for z in zones)


def state_time_zone(state: UsState | str) -> str | None:
    """The state's time zone when the whole state shares one, else None (ambiguous)."""
    zones = STATE_TIME_ZONES[UsState(state)]
    return zones[0] if len(zones) == 1 else None
