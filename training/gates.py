"""Promotion gates: a new model becomes "champion" only when every gate passes.

- auc_vs_champion: the challenger's ROC-AUC minus the champion's, both scored on this run's
  test rows, with the 95% interval of the difference from lead-clustered resamples shared by
  both (a paired comparison). It passes when the lower bound is above -AUC_MARGIN (not worse
  by more than the margin, with 95% confidence); fails when the upper bound is below 0 (worse
  with 95% confidence); otherwise, or with fewer than MIN_APPLYING_LEADS applying test leads
  (too few for a trustworthy interval), the data cannot decide: "not enough evidence", with
  the applications that would be needed, and the champion stays. Passes when there is no
  champion yet.
- calibration_ece: ECE (10 equal-count bins) at most MAX_ECE.
- capture_vs_<rule>: capture at capacity strictly above each rank-only rule baseline
  (newest-first and the points rule for leads; for CSV data the rules that apply).
- fairness: no protected attribute or proxy among the features, and the four-fifths rule holds
  for the top-of-queue rates of every audited group.

A gate that cannot decide blocks promotion like a failed one; it is reported as undecided.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from training.fairness import FairnessAudit
from training.intervals import Evidence, Interval

AUC_MARGIN: Final = 0.02
"""How much worse than the champion (ROC-AUC) a challenger may be and still be promoted."""
MIN_APPLYING_LEADS: Final = 20
"""Below this many applying test leads a percentile bootstrap interval is not trustworthy."""
MAX_ECE: Final = 0.02


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict, the value measured, the bar it had to clear and why.

    undecided: the data could not decide (not enough evidence); it blocks promotion.
    """

    name: str
    passed: bool
    value: float
    threshold: float
    detail: str
    undecided: bool = False

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "undecided" if self.undecided else "fail"


@dataclass(frozen=True)
class ChampionComparison:
    """The current champion re-scored on this run's test rows.

    difference: challenger minus champion ROC-AUC with its paired interval (None: the champion
    could not be scored, see note).
    """

    version: str
    champion_auc: float | None
    difference: Interval | None
    note: str = ""


def applications_needed(evidence: Evidence, difference: Interval) -> int | None:
    """About how many applying test leads would let the gate decide (None: unknown).

    An interval's half-width shrinks as 1/sqrt(applications). To pass at the observed
    difference d the half-width must fall below d + margin; when d is already beyond the
    margin, below |d| (to show the challenger is worse).
    """
    d, half = difference.estimate, difference.half_width
    needed_half = d + AUC_MARGIN if d > -AUC_MARGIN else abs(d)
    if not (math.isfinite(half) and needed_half > 0) or evidence.applying_leads == 0:
        return None
    estimate = evidence.applying_leads * (half / needed_half) ** 2
    return max(MIN_APPLYING_LEADS, int(float(f"{math.ceil(estimate):.2g}")))


def not_enough_evidence(evidence: Evidence, difference: Interval) -> str:
    """The sentence a user reads when the data cannot decide."""
    needed = applications_needed(evidence, difference)
    about = "how many are needed is unknown" if needed is None else f"about {needed:,} needed"
    return (
        f"not enough evidence: {evidence.applying_leads:,} applications in the test window, {about}"
    )


def auc_gate(auc: Interval, champion: ChampionComparison | None, evidence: Evidence) -> GateResult:
    name = "auc_vs_champion"
    if champion is None:
        return GateResult(name, True, auc.estimate, math.nan, "no champion yet")
    if champion.difference is None or champion.champion_auc is None:
        return GateResult(
            name,
            False,
            auc.estimate,
            math.nan,
            f"champion v{champion.version} could not be scored on this test slice "
            f"({champion.note}); compare by hand and promote explicitly if intended",
        )
    d = champion.difference
    facts = (
        f"ROC-AUC {auc.text()} vs champion v{champion.version} {champion.champion_auc:.2f}; "
        f"difference {d.text('+.3f')} (paired by lead, {d.usable:,} resamples), "
        f"margin {AUC_MARGIN}"
    )
    if evidence.applying_leads >= MIN_APPLYING_LEADS and d.low > -AUC_MARGIN:
        return GateResult(name, True, d.low, -AUC_MARGIN, f"not worse beyond the margin: {facts}")
    if evidence.applying_leads >= MIN_APPLYING_LEADS and d.high < 0:
        return GateResult(name, False, d.high, 0.0, f"worse than the champion: {facts}")
    return GateResult(
        name,
        False,
        d.low,
        -AUC_MARGIN,
        f"{not_enough_evidence(evidence, d)}; {facts}",
        undecided=True,
    )


def ece_gate(ece: Interval) -> GateResult:
    return GateResult(
        "calibration_ece",
        bool(ece.estimate <= MAX_ECE),
        ece.estimate,
        MAX_ECE,
        f"ECE {ece.text('.4f')} (equal-count bins; max {MAX_ECE})",
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
    auc: Interval,
    ece: Interval,
    capture: float,
    rule_captures: Mapping[str, float],
    capacity: int,
    champion: ChampionComparison | None,
    evidence: Evidence,
    fairness: FairnessAudit,
) -> list[GateResult]:
    """All gates, in a fixed order."""
    return [
        auc_gate(auc, champion, evidence),
        ece_gate(ece),
        *capture_gates(capture, rule_captures, capacity),
        fairness_gate(fairness),
    ]


def failed_gates(gates: Sequence[GateResult]) -> list[str]:
    """Every gate that did not pass, undecided ones included (they block promotion too)."""
    return [g.name for g in gates if not g.passed]
