"""Calibration stays finite and order-preserving, even on a small separable slice."""

from __future__ import annotations

import numpy as np

from training.calibration import fit_calibrator


def test_platt_on_a_separable_slice_stays_finite_and_keeps_the_order() -> None:
    raw = np.array([-3.0, -2.5, -2.0, -1.0, 1.0, 2.0])
    labels = np.array([False, False, False, False, True, True])
    calibrator = fit_calibrator(raw, labels, "platt")
    probabilities = calibrator.apply(raw)
    assert np.isfinite(probabilities).all()
    assert (np.diff(probabilities) >= 0).all()
    assert 0.0 < probabilities.min() < 0.5 < probabilities.max() < 1.0


def test_platt_recovers_a_known_calibration() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(-3.0, 1.0, 20_000)
    labels = rng.random(20_000) < 1.0 / (1.0 + np.exp(-(0.5 * raw - 0.2)))
    probabilities = fit_calibrator(raw, labels, "platt").apply(raw)
    assert abs(probabilities.mean() - labels.mean()) < 0.005
