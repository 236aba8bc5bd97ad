"""Promotion gates: a new model becomes "champion" only when every gate passes.

- auc_vs_champion: ROC-AUC no worse than the current champion's, both scored on this run's
  test slice (tolerance AUC_TOLERANCE). Passes when there is no champion yet.
- calibration_ece: ECE (10 equal-width bins) at most MAX_ECE.
- capture_vs_<rule>: capture at capacity strictly above each rank-only rule baseline
  (newest-first and the points rule for leads; for CSV data the rules that apply).
- fairness: no protected attribute or proxy among the features, and the four-fifths rule holds
  for the top-of-queue rates of every audited group.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from training.fairness import FairnessAudit

AUC_TOLERANCE: Final = 0.005
MAX_ECE: Final = 0.02


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict, the value measured, the bar it had to clear and why."""

    name: str
    passed: bool
    value: float
    threshold: float
    detail: str


@dataclass(frozen=True)
class ChampionScore:
    """The current champion re-scored on this run's test slice (auc None: could not score)."""

    version: str
    auc: float | None
    note: str = ""


def auc_gate(auc: float, champion: ChampionScore | None) -> GateResult:
    if champion is None:
        return GateResult("auc_vs_champion", True, auc, math.nan, "no champion yet")
    if champion.auc is None:
        return GateResult(
            "auc_vs_champion",
            False,
            auc,
            math.nan,
            f"champion v{champion.version} could not be scored on this test slice "
            f"({champion.note}); compare by hand and promote explicitly if intended",
        )
    bar = champion.auc - AUC_TOLERANCE
    return GateResult(
        "auc_vs_champion",
        auc >= bar,
        auc,
        bar,
        f"ROC-AUC {auc:.4f} vs champion v{champion.version} {champion.auc:.4f} "
        f"(tolerance {AUC_TOLERANCE})",
    )


def ece_gate(ece: float) -> GateResult:
    return GateResult(
        "calibration_ece", bool(ece <= MAX_ECE), ece, MAX_ECE, f"ECE {ece:.4f} (max {MAX_ECE})"
    )


def capture_gates(capture: float, rules: Mapping[str, float], capacity: int) -> list[GateResult]:
    return [
        GateResult(
            f"capture_vs_{name}",
            bool(capture > rule_capture),
            capture,
            rule_capture,
            f"captures {capture:.1%} of applications at capacity {capacity} vs "
            f"{name} {rule_capture:.1%}",
        )
        for name, rule_capture in rules.items()
    ]


def fairness_gate(fairness: FairnessAudit) -> GateResult:
    return GateResult(
        "fairness",
        fairness.passed,
        fairness.min_ratio,
        0.8,
        fairness.summary().replace("\n", "; "),
    )


def evaluate_gates(
    *,
    auc: float,
    ece: float,
    capture: float,
    rule_captures: Mapping[str, float],
    capacity: int,
    champion: ChampionScore | None,
    fairness: FairnessAudit,
) -> list[GateResult]:
    """All gates, in a fixed order."""
    return [
        auc_gate(auc, champion),
        ece_gate(ece),
        *capture_gates(capture, rule_captures, capacity),
        fairness_gate(fairness),
    ]


def failed_gates(gates: Sequence[GateResult]) -> list[str]:
    return [g.name for g in gates if not g.passed]
