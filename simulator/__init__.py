"""A synthetic mortgage CRM: leads, events, outcomes and each lead's true propensity.

`simulate(SimulationConfig(...), policy)` steps a world day by day under a follow-up policy
(default: HistoricalPolicy, the brief's "before"); `write_world` writes it to disk.
"""

from __future__ import annotations

from simulator.config import SimulationConfig, SimulationConfigError
from simulator.engine import PolicyError
from simulator.policies import (
    CRM_SUMMARY_COLUMNS,
    PLAN_COLUMNS,
    CadencePolicy,
    DayView,
    FollowUpPolicy,
    HistoricalPolicy,
)
from simulator.world import (
    SimulatedWorld,
    simulate,
    simulate_policies,
    world_summary,
    write_world,
)

__all__ = [
    "CRM_SUMMARY_COLUMNS",
    "PLAN_COLUMNS",
    "CadencePolicy",
    "DayView",
    "FollowUpPolicy",
    "HistoricalPolicy",
    "PolicyError",
    "SimulatedWorld",
    "SimulationConfig",
    "SimulationConfigError",
    "simulate",
    "simulate_policies",
    "world_summary",
    "write_world",
]
