"""Fitting the calibrator on held-out rows (leads used neither to fit trees nor to stop early).

Platt scaling is the default: two parameters fit steadily on a few thousand rows, and it is
strictly increasing, so the booster's ranking (ROC-AUC, capture at capacity) is unchanged.
Isotonic is available for large calibration slices; its flat steps create ties in the ranking.
"""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression

from models.calibration import CalibrationMethod, Calibrator

MIN_SLOPE = 1e-3
"""A slope at or below zero means the booster ranks held-out leads no better than chance;
clamping keeps the order (and the monotone constraints) instead of inverting it."""


class CalibrationError(ValueError):
    """The calibration slice cannot support a calibrator."""


def fit_platt(raw_log_odds: np.ndarray, labels: np.ndarray, ridge: float = 1e-6) -> Calibrator:
    """Logistic regression of the label on the raw log-odds (Newton's method, two parameters)."""
    x = np.column_stack([np.asarray(raw_log_odds, dtype=np.float64), np.ones(len(labels))])
    y = np.asarray(labels, dtype=np.float64)
    weights = np.array([1.0, 0.0])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(x @ weights)))
        gradient = x.T @ (p - y) + ridge * weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-10:
            break
    return Calibrator("platt", slope=max(float(weights[0]), MIN_SLOPE), intercept=float(weights[1]))


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
