"""Turning the booster's log-odds into calibrated probabilities (a score of 0.2 means ~20%).

Only the applying half lives here (serving needs it); fitting lives in training.calibration.
Both maps are non-decreasing in the raw score, so calibration never reverses the booster's
order or its monotone constraints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

CalibrationMethod = Literal["platt", "isotonic", "identity"]


@dataclass(frozen=True)
class Calibrator:
    """Platt: sigmoid(slope * log_odds + intercept); isotonic: a step map on log-odds."""

    method: CalibrationMethod
    slope: float = 1.0
    intercept: float = 0.0
    knots_log_odds: tuple[float, ...] = ()
    knots_probability: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.method == "platt" and self.slope <= 0:
            raise ValueError("a Platt calibrator needs a positive slope (it must keep the order)")
        if self.method == "isotonic" and (
            len(self.knots_log_odds) < 1 or len(self.knots_log_odds) != len(self.knots_probability)
        ):
            raise ValueError("an isotonic calibrator needs matching, non-empty knot lists")

    def apply(self, raw_log_odds: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw booster log-odds."""
        raw = np.asarray(raw_log_odds, dtype=np.float64)
        if self.method == "isotonic":
            return np.interp(raw, self.knots_log_odds, self.knots_probability)
        slope, intercept = (self.slope, self.intercept) if self.method == "platt" else (1.0, 0.0)
        return 1.0 / (1.0 + np.exp(-(slope * raw + intercept)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "slope": self.slope,
            "intercept": self.intercept,
            "knots_log_odds": list(self.knots_log_odds),
            "knots_probability": list(self.knots_probability),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibrator:
        return cls(
            method=data["method"],
            slope=float(data["slope"]),
            intercept=float(data["intercept"]),
            knots_log_odds=tuple(float(x) for x in data["knots_log_odds"]),
            knots_probability=tuple(float(x) for x in data["knots_probability"]),
        )
