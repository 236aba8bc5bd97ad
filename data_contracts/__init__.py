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
from data_contracts.reading import ContractError, RawTable, read_table
from data_contracts.records import validate_records
from data_contracts.suites import FeatureColumnRule
from data_contracts.validation import (
    RuleFailure,
    ValidationReport,
    ValidationResult,
    validate,
    validate_feature_table,
)

__all__ = [
    "CallOutcome",
    "Channel",
    "ContractError",
    "CreditBand",
    "Event",
    "EventType",
    "FeatureColumnRule",
    "Lead",
    "LeadSource",
    "LoanType",
    "QuestionTopic",
    "RawTable",
    "RuleFailure",
    "UsState",
    "ValidationReport",
    "ValidationResult",
    "read_table",
    "validate",
    "validate_feature_table",
    "validate_records",
]
