"""Charts logged with every training run: calibration, lift, capture at capacity, SHAP summary.

Figures are built with matplotlib's object API on the Agg canvas (no display, no global
pyplot state), except the SHAP summary, which shap draws through pyplot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from training.evaluate import reliability_table

PLOT_LABEL_LENGTH = 60
"""Longer feature names (a CSV header can be a whole question) are cut to fit a chart."""


def _figure(width: float = 6.4, height: float = 4.8) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def calibration_figure(labels: np.ndarray, probabilities: Mapping[str, np.ndarray]) -> Figure:
    """Reliability diagram: mean predicted vs observed rate per equal-count bin (the ECE's)."""
    figure = _figure()
    axes = figure.subplots()
    top = 0.0
    for name, p in probabilities.items():
        table = reliability_table(p, labels)
        axes.plot(table["predicted"], table["observed"], marker="o", label=name)
        top = max(top, float(table["predicted"].max()), float(table["observed"].max()))
    top = min(1.0, top * 1.1 + 0.01)
    axes.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect")
    axes.set(
        xlim=(0, top),
        ylim=(0, top),
        xlabel="mean predicted probability",
        ylabel="observed application rate",
        title="Calibration (test slice, 10 equal-count bins)",
    )
    axes.legend()
    return figure


def lift_figure(lift: pd.DataFrame) -> Figure:
    """Lift by score decile for each method (1 = highest scores)."""
    figure = _figure()
    axes = figure.subplots()
    for name in lift.columns:
        axes.plot(lift.index, lift[name], marker="o", label=name)
    axes.axhline(1.0, linestyle="--", color="grey")
    axes.set(
        xlabel="score decile (1 = highest)",
        ylabel="lift over the base rate",
        title="Lift by decile (test slice)",
        xticks=list(lift.index),
    )
    axes.legend()
    return figure


def capture_figure(capture_curve: pd.DataFrame, capacity: int) -> Figure:
    """Share of applications captured in each officer-day's top K, by K and method."""
    figure = _figure()
    axes = figure.subplots()
    for name in capture_curve.columns:
        axes.plot(capture_curve.index, capture_curve[name], marker="o", label=name)
    axes.axvline(capacity, linestyle="--", color="grey", label=f"capacity {capacity}")
    axes.set(
        xlabel="calls per ranking group (K)",
        ylabel="share of applications captured",
        ylim=(0, 1.02),
        title="Capture at capacity (test slice)",
    )
    axes.legend()
    return figure


def shap_summary_figure(
    shap_values: np.ndarray, matrix: np.ndarray, feature_names: Sequence[str]
) -> Figure:
    """shap's beeswarm summary of the sampled rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    labels = [
        n if len(n) <= PLOT_LABEL_LENGTH else n[: PLOT_LABEL_LENGTH - 3] + "..."
        for n in feature_names
    ]
    shap.summary_plot(shap_values, matrix, feature_names=labels, show=False, max_display=20)
    figure: Figure = plt.gcf()
    plt.close(figure)
    return figure
