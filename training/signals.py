"""The DOMAIN.md signals against conversion: tables and charts for exploring lead data.

Lead-level views (from the event log's leads and events) answer "who applies?"; row-level views
(a training frame: one row per lead and as-of day, label = applied within the horizon) answer
"which signal, seen today, says a lead will apply soon?". Pure functions; the notebooks call
them. Never reads names, phones or emails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score

from data_contracts.enums import EventType
from features.definitions import FEATURES_BY_NAME

DOMAIN_SIGNALS: Final[tuple[str, ...]] = (
    "web_visits_7d",
    "emails_opened",
    "emails_clicked",
    "texts_replied",
    "reply_minutes_median",
    "questions_total",
    "timeline_segment",
    "source",
    "loan_type",
    "touches_total",
    "days_since_last_inbound",
    "rate_gap_pct",
    "engagement_tier",
)
"""DOMAIN.md's list (site visits, email engagement, response speed, questions, timeline
statements, source, loan type, touches, recency, rate movements) as model features."""

QUESTION_TOPIC_COLUMNS: Final[tuple[str, ...]] = (
    "questions_rates",
    "questions_documents",
    "questions_pre_approval",
    "questions_credit",
    "questions_down_payment",
)
SPEED_BUCKETS_MIN: Final[tuple[float, ...]] = (5.0, 30.0, 240.0, 24 * 60.0)
"""First-response buckets: within 5 minutes, 30 minutes, 4 hours, a day, later (DOMAIN.md's
speed-to-lead claim compares 5 with 30 minutes)."""
TOUCH_TYPES: Final = (EventType.CALL.value, EventType.TEXT_SENT.value, EventType.EMAIL_SENT.value)
MISSING_GROUP: Final = "missing"


def lead_outcomes(leads: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """One row per lead: profile, whether and when it applied, touches, first response.

    Columns: lead_id, officer_id, created_at, source, loan_type, credit_band, applied,
    funded, touches, inbound, first_response_min (NaN when never touched).
    """
    events = events.assign(lead_id=events["lead_id"].astype(str))
    kind = events["event_type"].astype(str)
    touches = events.loc[kind.isin(TOUCH_TYPES)]
    first_touch = touches.groupby("lead_id")["occurred_at"].min()
    applied = events.loc[kind == EventType.APPLICATION_SUBMITTED.value, "lead_id"].unique()
    funded = events.loc[kind == EventType.LOAN_FUNDED.value, "lead_id"].unique()
    inbound_types = {
        EventType.WEB_VISIT.value,
        EventType.EMAIL_OPENED.value,
        EventType.EMAIL_CLICKED.value,
        EventType.TEXT_REPLIED.value,
        EventType.QUESTION_ASKED.value,
        EventType.STATEMENT.value,
    }
    inbound = events.loc[kind.isin(inbound_types)].groupby("lead_id").size()
    ids = leads["lead_id"].astype(str)
    created = pd.to_datetime(leads["created_at"], utc=True)
    response = (first_touch.reindex(ids).to_numpy() - created.to_numpy()) / pd.Timedelta(minutes=1)
    return pd.DataFrame(
        {
            "lead_id": ids.to_numpy(),
            "officer_id": leads["officer_id"].astype(str).to_numpy(),
            "created_at": created.to_numpy(),
            "source": leads["source"].astype(str).to_numpy(),
            "loan_type": leads["loan_type"].astype(str).to_numpy(),
            "credit_band": leads["credit_band"].fillna("unknown").astype(str).to_numpy(),
            "applied": ids.isin(applied).to_numpy(),
            "funded": ids.isin(funded).to_numpy(),
            "touches": touches.groupby("lead_id").size().reindex(ids, fill_value=0).to_numpy(),
            "inbound": inbound.reindex(ids, fill_value=0).to_numpy(),
            "first_response_min": np.asarray(response, dtype=np.float64),
        }
    )


def data_overview(leads: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Headline counts: leads, events, period, application and funding rates, touches."""
    outcomes = lead_outcomes(leads, events)
    first = pd.to_datetime(events["occurred_at"], utc=True).min()
    last = pd.to_datetime(events["occurred_at"], utc=True).max()
    rows = {
        "leads": f"{len(leads):,}",
        "events": f"{len(events):,}",
        "first event": f"{first:%Y-%m-%d}",
        "last event": f"{last:%Y-%m-%d}",
        "officers": f"{outcomes['officer_id'].nunique():,}",
        "application rate (leads that applied)": f"{outcomes['applied'].mean():.1%}",
        "funded (leads)": f"{outcomes['funded'].mean():.1%}",
        "touches per lead": f"{outcomes['touches'].mean():.1f}",
        "leads with 5+ touches": f"{(outcomes['touches'] >= 5).mean():.0%}",
        "median first response": f"{outcomes['first_response_min'].median():.0f} min",
    }
    return pd.DataFrame({"value": list(rows.values())}, index=pd.Index(rows, name="measure"))


def events_by_month(events: pd.DataFrame) -> pd.DataFrame:
    """Event counts per calendar month (rows) and event type (columns)."""
    occurred = pd.to_datetime(events["occurred_at"], utc=True).dt.tz_localize(None)
    table = pd.crosstab(occurred.dt.to_period("M"), events["event_type"].astype(str))
    table.index.name = "month"
    return table


COUNT_EDGES: Final[tuple[int, ...]] = (0, 1, 2, 3, 5, 10)
"""Groups for counts: 0, 1, 2, 3-4, 5-9, 10+ (quantiles of a mostly-zero count collapse)."""


def _groups(values: pd.Series, bins: int) -> pd.Series:
    """Category labels; count groups for integer features; quantile bins for other numbers."""
    spec = FEATURES_BY_NAME.get(str(values.name))
    if (spec is not None and spec.kind == "category") or not pd.api.types.is_numeric_dtype(values):
        return values.astype(object).where(values.notna(), MISSING_GROUP).astype(str)
    numbers = pd.to_numeric(values)
    if spec is not None and spec.kind == "int":
        edges = np.asarray(COUNT_EDGES)
        position = np.searchsorted(edges, numbers.to_numpy(dtype=np.float64), side="right") - 1
        names = [
            f"{a}" if b - a == 1 else f"{a}-{b - 1}"
            for a, b in zip(COUNT_EDGES[:-1], COUNT_EDGES[1:], strict=True)
        ] + [f"{COUNT_EDGES[-1]}+"]
        labels = pd.Series(np.array(names, dtype=object)[np.clip(position, 0, None)], values.index)
    elif numbers.nunique() <= bins:
        labels = numbers.map(lambda v: f"{v:g}")
    else:
        labels = pd.qcut(numbers, bins, duplicates="drop").astype(str)
    return labels.where(numbers.notna(), MISSING_GROUP).astype(str)


def conversion_by(
    frame: pd.DataFrame, column: str, *, label: str = "label", bins: int = 5
) -> pd.DataFrame:
    """Rows, positives, rate and lift (rate / overall rate) by group of one column."""
    labels = frame[label].astype(bool)
    groups = _groups(frame[column], bins)
    table = pd.DataFrame(labels.groupby(groups, sort=False).agg(rows="size", positives="sum"))
    table["rate"] = table["positives"] / table["rows"]
    overall = float(labels.mean())
    table["lift"] = table["rate"] / overall if overall > 0 else np.nan
    table.index.name = column
    numeric = (
        FEATURES_BY_NAME.get(column) is not None and FEATURES_BY_NAME[column].kind != "category"
    )
    if numeric or pd.api.types.is_numeric_dtype(frame[column]):
        table = table.loc[_interval_order(list(table.index))]
    return table


def _interval_order(labels: Sequence[str]) -> list[str]:
    """Groups in numeric order (by their first number), 'missing' last."""

    def key(text: str) -> tuple[int, float]:
        if text == MISSING_GROUP:
            return (1, 0.0)
        first = re.match(r"[(\[]?\s*(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)", text)
        return (0, float(first.group(1))) if first else (0, float("inf"))

    return sorted(labels, key=key)


def signal_strength(
    frame: pd.DataFrame, columns: Sequence[str] = DOMAIN_SIGNALS, *, label: str = "label"
) -> pd.DataFrame:
    """Each signal alone: ROC-AUC as a ranking (direction-free), its direction, and the
    application rate of its best and worst group. Strongest first."""
    y = frame[label].to_numpy(dtype=bool)
    overall = float(y.mean())
    rows = []
    for column in columns:
        groups = conversion_by(frame, column, label=label)
        encoded = _groups(frame[column], 5).map(groups["rate"]).to_numpy(dtype=np.float64)
        auc = float(roc_auc_score(y, encoded)) if 0 < y.sum() < y.size else np.nan
        values = pd.to_numeric(frame[column], errors="coerce")
        direction = ""
        spec = FEATURES_BY_NAME.get(column)
        if spec is not None and spec.kind != "category" and values.nunique() > 1:
            raw = roc_auc_score(y, values.fillna(values.median()).to_numpy())
            direction = "higher is better" if raw >= 0.5 else "lower is better"
        rows.append(
            {
                "signal": column,
                "auc": max(auc, 1 - auc),
                "direction": direction,
                "best_group": str(groups["rate"].idxmax()),
                "best_rate": float(groups["rate"].max()),
                "worst_group": str(groups["rate"].idxmin()),
                "worst_rate": float(groups["rate"].min()),
                "overall_rate": overall,
            }
        )
    table = pd.DataFrame(rows).sort_values("auc", ascending=False, ignore_index=True)
    return table.set_index("signal")


def question_topics(frame: pd.DataFrame, *, label: str = "label") -> pd.DataFrame:
    """Application rate of rows whose lead asked about each topic, against those who did not."""
    rows = []
    for column in QUESTION_TOPIC_COLUMNS:
        asked = pd.to_numeric(frame[column]).to_numpy() > 0
        y = frame[label].to_numpy(dtype=bool)
        rows.append(
            {
                "topic": column.removeprefix("questions_"),
                "rows_asked": int(asked.sum()),
                "rate_asked": float(y[asked].mean()) if asked.any() else np.nan,
                "rate_not_asked": float(y[~asked].mean()) if (~asked).any() else np.nan,
            }
        )
    table = pd.DataFrame(rows).set_index("topic")
    table["lift"] = table["rate_asked"] / table["rate_not_asked"]
    return table


def speed_to_lead(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Application rate of leads by how fast they got a first response (lead_outcomes rows)."""
    minutes = outcomes["first_response_min"].to_numpy(dtype=np.float64)
    edges = (0.0, *SPEED_BUCKETS_MIN, np.inf)
    names = [
        f"within {_minutes(b)}" if a == 0 else f"{_minutes(a)} to {_minutes(b)}"
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    names[-1] = f"after {_minutes(edges[-2])}"
    index = np.searchsorted(np.asarray(edges[1:]), minutes, side="left")
    group = np.where(
        np.isnan(minutes), "never", np.array(names, dtype=object)[np.minimum(index, 4)]
    )
    table = pd.DataFrame(
        outcomes.groupby(group, sort=False)["applied"].agg(leads="size", rate="mean")
    )
    order = [n for n in [*names, "never"] if n in table.index]
    table = table.loc[order]
    table.index.name = "first response"
    return table


def _minutes(value: float) -> str:
    if value < 60:
        return f"{value:g} min"
    if value < 24 * 60:
        return f"{value / 60:g} h"
    return f"{value / 1440:g} d"


def signal_figure(
    frame: pd.DataFrame,
    columns: Sequence[str] = DOMAIN_SIGNALS,
    *,
    label: str = "label",
    title: str = "",
) -> Figure:
    """One bar chart per signal: application rate by group, the overall rate dashed."""
    n = len(columns)
    width = 4
    height = int(np.ceil(n / width))
    figure = Figure(figsize=(4 * width, 3.2 * height), dpi=90)
    FigureCanvasAgg(figure)
    axes = np.atleast_1d(figure.subplots(height, width)).ravel()
    overall = float(frame[label].mean())
    for ax, column in zip(axes, columns, strict=False):
        table = conversion_by(frame, column, label=label)
        positions = np.arange(len(table))
        ax.bar(positions, table["rate"], color="#1f77b4")
        ax.axhline(overall, color="grey", linestyle="--")
        ax.set_xticks(positions, [str(i) for i in table.index], rotation=45, ha="right", fontsize=7)
        ax.set_title(column, fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
