"""Fitting the calibrator on held-out rows (leads used neither to fit trees nor to stop early).

Platt scaling is the default: two parameters fit steadily on a few thousand rows, and it is
strictly increasing, so the booster's ranking (ROC-AUC, capture at capacity) is unchanged.
Isotonic is available for large calibration slices; its flat steps create ties in the ranking.
"""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from models.calibration import CalibrationMethod, Calibrator

MIN_SLOPE = 1e-3
"""A slope at or below zero means the booster ranks held-out leads no better than chance;
clamping keeps the order (and the monotone constraints) instead of inverting it."""


class CalibrationError(ValueError):
    """The calibration slice cannot support a calibrator."""


PLATT_C = 100.0
"""Inverse L2 strength: weak enough not to bias a few thousand rows, strong enough to keep
the fit finite when a small slice is separable (plain Newton steps diverged to slopes of 1e8)."""


def fit_platt(raw_log_odds: np.ndarray, labels: np.ndarray) -> Calibrator:
    """Logistic regression of the label on the raw log-odds (two parameters, scikit-learn)."""
    x = np.asarray(raw_log_odds, dtype=np.float64).reshape(-1, 1)
    y = np.asarray(labels, dtype=bool)
    model = LogisticRegression(C=PLATT_C, max_iter=1000).fit(x, y)
    slope, intercept = float(model.coef_[0, 0]), float(model.intercept_[0])
    return Calibrator("platt", slope=max(slope, MIN_SLOPE), intercept=intercept)


def fit_isotonic(raw_log_odds: np.ndarray, labels: np.ndarray) -> Calibrator:
    """A non-decreasing step map from log-odds to probability (scikit-learn's isotonic fit)."""
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    isotonic.fit(np.asarray(raw_log_odds, dtype=np.float64), np.asarray(labels, dtype=np.float64))
    return Calibrator(
        "isotonic",
        knots_log_odds=tuple(float(v) for v in isotonic.X_thresholds_),
        knots_probability=tuple(float(v) for v in isotonic.y_thresholds_),
    )


def fit_calibrator(
    raw_log_odds: np.ndarray, labels: np.ndarray, method: CalibrationMethod = "platt"
) -> Calibrator:
    """The calibrator of the chosen method, fit on the calibration slice."""
    labels = np.asarray(labels, dtype=bool)
    if method == "identity":
        return Calibrator("identity")
    if labels.all() or not labels.any():
        raise CalibrationError(
            f"the calibration slice has {int(labels.sum())} positive label(s) out of "
            f"{len(labels)}; it needs both outcomes. Train on more leads or a longer period."
        )
    if method == "isotonic":
        return fit_isotonic(raw_log_odds, labels)
    return fit_platt(raw_log_odds, labels)
