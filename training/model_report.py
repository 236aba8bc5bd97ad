"""A model's report for data scientists: SHAP views, reasons, and models side by side.

The metrics themselves come from training.pipeline.evaluate_scorer and training.evaluate (the
same numbers the promotion gates read); this module adds what a person looks at next to them:
SHAP summary and dependence plots, a few leads' reasons, gates as a table, and several models
scored on one test slice with the same groups, capacity and tie-break.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from models.explain import tree_shap_values
from models.scorer import LeadScorer
from training.evaluate import Evaluation, MethodScores
from training.gates import GateResult
from training.pipeline import evaluate_on_test
from training.train import PreparedData

SHAP_ROWS: Final = 1000
"""Test rows explained for the SHAP plots (TreeSHAP costs milliseconds a row)."""


def shap_sample(
    scorer: LeadScorer, frame: pd.DataFrame, rows: int = SHAP_ROWS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(SHAP values in log-odds, encoded matrix) of a seeded sample of the frame's rows."""
    matrix = scorer.encode(frame)
    if len(matrix) > rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(matrix), rows, replace=False))
        matrix = matrix[keep]
    values, _ = tree_shap_values(scorer.booster, matrix)
    return values, matrix


def shap_importance(values: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    """Features by mean |SHAP| (log-odds), largest first, with the mean signed SHAP."""
    table = pd.DataFrame(
        {
            "feature": list(names),
            "mean_abs_shap": np.abs(values).mean(axis=0),
            "mean_shap": values.mean(axis=0),
        }
    )
    return table.sort_values("mean_abs_shap", ascending=False, ignore_index=True)


def shap_dependence_figure(
    scorer: LeadScorer, values: np.ndarray, matrix: np.ndarray, features: Sequence[str]
) -> Figure:
    """SHAP value against feature value, one panel per feature (categories by their label)."""
    names = list(scorer.layout.names)
    figure = Figure(figsize=(4.2 * len(features), 3.6), dpi=90)
    FigureCanvasAgg(figure)
    axes = np.atleast_1d(figure.subplots(1, len(features)))
    for ax, feature in zip(axes, features, strict=True):
        j = names.index(feature)
        title = scorer.layout.label(feature)
        x, y = matrix[:, j], values[:, j]
        if scorer.layout.kinds[feature] == "category":
            categories = scorer.layout.categories[feature]
            codes = np.nan_to_num(x, nan=-1).astype(int)
            labels = [categories[c] if 0 <= c < len(categories) else "missing" for c in codes]
            order = sorted(set(labels))
            positions = np.array([order.index(label) for label in labels], dtype=float)
            jitter = np.random.default_rng(0).uniform(-0.2, 0.2, len(positions))
            ax.scatter(positions + jitter, y, s=6, alpha=0.4)
            ax.set_xticks(range(len(order)), order, rotation=45, ha="right", fontsize=7)
        else:
            known = ~np.isnan(x)
            ax.scatter(x[known], y[known], s=6, alpha=0.4)
            if (~known).any():
                ax.set_title(f"{title} ({int((~known).sum())} missing not shown)", fontsize=8)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xlabel(title, fontsize=8)
        if not ax.get_title():
            ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("SHAP value (log-odds)")
    figure.tight_layout()
    return figure


def reasons_table(scorer: LeadScorer, frame: pd.DataFrame, rows: int = 5) -> pd.DataFrame:
    """The top reasons up and down of the highest-scored leads, each at its best-scored as-of
    (lead ids only, no PII)."""
    scored = frame.assign(_p=scorer.predict_proba(frame)).sort_values("_p", ascending=False)
    top = scored.drop_duplicates("lead_id").head(rows)
    explanations = scorer.explain(top.drop(columns="_p"), top_k=3)
    return pd.DataFrame(
        {
            "lead_id": top["lead_id"].astype(str).to_numpy(),
            "as_of": top["as_of"].to_numpy(),
            "probability": [e.probability for e in explanations],
            "up": ["; ".join(r.text for r in e.up) for e in explanations],
            "down": ["; ".join(r.text for r in e.down) for e in explanations],
        }
    )


def gates_table(gates: Sequence[GateResult]) -> pd.DataFrame:
    """One row per promotion gate: verdict (pass, fail, undecided), value, threshold, detail."""
    return pd.DataFrame(
        [
            {
                "gate": g.name,
                "verdict": g.verdict,
                "value": g.value,
                "threshold": g.threshold,
                "detail": g.detail,
            }
            for g in gates
        ]
    ).set_index("gate")


def compare_models(
    data: PreparedData,
    scorers: Mapping[str, LeadScorer],
    *,
    seed: int = 42,
    with_rules: bool = True,
) -> Evaluation:
    """Several models (and the rank-only rules and the oracle) on the same test slice, with the
    same officer-day groups, capacity and tie-break as the gates use."""
    test = data.slices.test
    methods = {
        name: MethodScores(scorer.predict_proba(test), probability=True)
        for name, scorer in scorers.items()
    }
    if with_rules:
        for baseline in data.baselines:
            if baseline.rule or baseline.name == "oracle":
                methods[baseline.name] = MethodScores(
                    baseline.score(data.slices.train, test), baseline.probability
                )
    return evaluate_on_test(data, methods, seed)
