"""Baselines the model must beat: newest-first, a CRM points rule, logistic regression, and the
simulator's oracle (an upper bound, only on simulated data).

Each baseline turns (training slice, test slice) into one score per test row. Rule baselines
(rank-only) are what a team without a model does today; the promotion gates require the model
to capture more applications at capacity than each of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.layout import FeatureLayout

ScoreFunction = Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class Baseline:
    """A named way to score the test slice; rule=True marks the rank-only rules the gates use."""

    name: str
    probability: bool
    rule: bool
    score: ScoreFunction
    description: str


def newest_first(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:  # noqa: ARG001
    """Newer leads first: the score is the lead's creation time."""
    created = pd.to_datetime(test["lead_created_at"], utc=True)
    return (created - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64)


POINTS_RULE: Final[dict[str, tuple[float, float]]] = {
    "web_visits_7d": (5.0, 25.0),
    "emails_opened": (2.0, 10.0),
    "emails_clicked": (5.0, 15.0),
    "texts_replied": (10.0, 30.0),
    "questions_total": (10.0, 30.0),
}
"""Points per action and the cap, the way common CRMs score hot/warm/cold."""

RECENCY_POINTS: Final[tuple[tuple[float, float], ...]] = ((1.0, 20.0), (7.0, 10.0), (30.0, 5.0))
"""Last inbound action within 1 day: +20, within 7: +10, within 30: +5; older or never: -10."""
STALE_POINTS: Final = -10.0
POINT_TIERS: Final = ((60.0, "hot"), (30.0, "warm"))
"""Tiers of the points rule: hot at 60+, warm at 30+, cold below (informational)."""


def points_score(frame: pd.DataFrame) -> np.ndarray:
    """The CRM points rule: capped points per action plus recency points."""
    total = np.zeros(len(frame), dtype=np.float64)
    for column, (points, cap) in POINTS_RULE.items():
        counts = frame[column].to_numpy(dtype=np.float64, na_value=0.0)
        total += np.minimum(counts * points, cap)
    days = frame["days_since_last_inbound"].to_numpy(dtype=np.float64, na_value=np.inf)
    recency = np.full(len(frame), STALE_POINTS)
    for limit, points in reversed(RECENCY_POINTS):
        recency[days <= limit] = points
    return np.asarray(total + recency, dtype=np.float64)


def points_rule(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:  # noqa: ARG001
    return points_score(test)


def oracle(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:  # noqa: ARG001
    """The simulator's true probability: no model can do better on average."""
    return test["oracle_propensity"].to_numpy(dtype=np.float64)


def logistic_pipeline(layout: FeatureLayout, seed: int) -> Pipeline:
    """Impute, scale and one-hot the same features, then a plain logistic regression."""
    numeric = [n for n in layout.names if layout.kinds[n] != "category"]
    categorical = list(layout.categorical_features)
    transformers = [
        (
            "numeric",
            make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
            numeric,
        ),
        (
            "categorical",
            make_pipeline(
                SimpleImputer(strategy="constant", fill_value="missing"),
                OneHotEncoder(handle_unknown="ignore"),
            ),
            categorical,
        ),
    ]
    return Pipeline(
        [
            ("features", ColumnTransformer([t for t in transformers if t[2]])),
            ("model", LogisticRegression(max_iter=2000, random_state=seed)),
        ]
    )


def _as_model_input(frame: pd.DataFrame, layout: FeatureLayout) -> pd.DataFrame:
    data = {}
    for name in layout.names:
        if layout.kinds[name] == "category":
            data[name] = frame[name].astype(object).where(frame[name].notna(), np.nan)
        else:
            data[name] = pd.to_numeric(frame[name]).astype(np.float64)
    return pd.DataFrame(data, index=frame.index)


def logistic_regression(layout: FeatureLayout, seed: int) -> ScoreFunction:
    """Fit on the training slice, score the test slice."""

    def score(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        pipeline = logistic_pipeline(layout, seed)
        pipeline.fit(_as_model_input(train, layout), train["label"].to_numpy(dtype=bool))
        return np.asarray(pipeline.predict_proba(_as_model_input(test, layout))[:, 1])

    return score


def _column_score(
    train: pd.DataFrame, test: pd.DataFrame, column: str, layout: FeatureLayout
) -> tuple[np.ndarray, np.ndarray]:
    """One column as a score (categories by their training-slice positive rate)."""
    if layout.kinds[column] == "category":
        rates = train.groupby(train[column].astype("string"))["label"].mean()
        prior = float(train["label"].mean())
        train_values = train[column].astype("string").map(rates).astype(float).fillna(prior)
        test_values = test[column].astype("string").map(rates).astype(float).fillna(prior)
        return train_values.to_numpy(), test_values.to_numpy()
    median = float(pd.to_numeric(train[column]).median())
    fill = 0.0 if np.isnan(median) else median
    return (
        pd.to_numeric(train[column]).astype(float).fillna(fill).to_numpy(),
        pd.to_numeric(test[column]).astype(float).fillna(fill).to_numpy(),
    )


def single_column_aucs(
    train: pd.DataFrame, layout: FeatureLayout, columns: Sequence[str] | None = None
) -> dict[str, float]:
    """Each column's ROC-AUC alone on the training slice, direction-free (max(auc, 1 - auc))."""
    labels = train["label"].to_numpy(dtype=bool)
    aucs: dict[str, float] = {}
    for column in columns or layout.names:
        values, _ = _column_score(train, train, column, layout)
        if np.unique(values).size < 2:
            aucs[column] = 0.5
            continue
        auc = float(roc_auc_score(labels, values))
        aucs[column] = max(auc, 1.0 - auc)
    return aucs


def best_single_column(layout: FeatureLayout, exclude: Sequence[str] = ()) -> ScoreFunction:
    """Rank by the one column that best separates the outcome on the training slice."""

    def score(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        candidates = [n for n in layout.names if n not in exclude] or list(layout.names)
        aucs = single_column_aucs(train, layout, candidates)
        best = max(candidates, key=lambda c: aucs[c])
        train_values, test_values = _column_score(train, test, best, layout)
        direction = roc_auc_score(train["label"].to_numpy(dtype=bool), train_values) >= 0.5
        return test_values if direction else -test_values

    return score


def lead_baselines(layout: FeatureLayout, seed: int, with_oracle: bool) -> tuple[Baseline, ...]:
    """The baselines for the lead model (simulated or real CRM data)."""
    baselines = [
        Baseline("newest_first", False, True, newest_first, "newer leads first"),
        Baseline("points_rule", False, True, points_rule, "CRM points for actions and recency"),
        Baseline(
            "logistic_regression",
            True,
            False,
            logistic_regression(layout, seed),
            "imputed, scaled, one-hot logistic regression on the same features",
        ),
    ]
    if with_oracle:
        baselines.append(Baseline("oracle", True, False, oracle, "the simulator's true propensity"))
    return tuple(baselines)
