"""The shared vocabulary of leadscore: what a lead and an event are, and the rules they obey."""

from data_contracts.enums import (
    CallOutcome,
    Channel,
    CreditBand,
    EventType,
    LeadSource,
    LoanType,
    QuestionTopic,
    UsState,
)
from data_contracts.models import Event, Lead

__all__ = [
    "CallOutcome",
    "Channel",
    "CreditBand",
    "Event",
    "EventType",
    "Lead",
    "LeadSource",
    "LoanType",
    "QuestionTopic",
    "UsState",
]
