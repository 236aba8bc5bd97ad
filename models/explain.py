"""Global explanations (mean |SHAP| by feature) and the pred_contrib == TreeSHAP check.

shap is imported inside the functions: it is slow to import and serving never needs it
(serving uses LightGBM's pred_contrib, which this module proves equal to TreeSHAP).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

CONTRIB_TOLERANCE = 1e-6
"""pred_contrib and shap.TreeExplainer must agree to this (max absolute difference)."""


def tree_shap_values(booster: lgb.Booster, matrix: np.ndarray) -> tuple[np.ndarray, float]:
    """shap.TreeExplainer's SHAP values (n, n_features) in log-odds and its expected value."""
    import shap

    explainer: Any = shap.TreeExplainer(booster)
    with warnings.catch_warnings():
        # shap warns that binary LightGBM output "changed to a list"; handled just below.
        warnings.simplefilter("ignore", UserWarning)
        values = explainer.shap_values(matrix)
    if isinstance(values, list):  # older shap returns one array per class for binary models
        values = values[-1]
    expected = np.ravel(explainer.expected_value)[-1]
    return np.asarray(values, dtype=np.float64), float(expected)


def global_importance(
    booster: lgb.Booster, matrix: np.ndarray, feature_names: Sequence[str]
) -> pd.DataFrame:
    """Features by mean |SHAP| (log-odds) on the given rows, largest first."""
    values, _ = tree_shap_values(booster, matrix)
    table = pd.DataFrame(
        {
            "feature": list(feature_names),
            "mean_abs_shap": np.abs(values).mean(axis=0),
            "mean_shap": values.mean(axis=0),
        }
    )
    return table.sort_values("mean_abs_shap", ascending=False, ignore_index=True)


def contrib_shap_max_abs_diff(booster: lgb.Booster, matrix: np.ndarray) -> float:
    """Largest absolute gap between LightGBM pred_contrib and shap.TreeExplainer on these rows."""
    contrib = np.asarray(booster.predict(matrix, pred_contrib=True), dtype=np.float64)
    values, expected = tree_shap_values(booster, matrix)
    feature_gap = float(np.abs(contrib[:, :-1] - values).max(initial=0.0))
    base_gap = float(np.abs(contrib[:, -1] - expected).max(initial=0.0))
    return max(feature_gap, base_gap)
