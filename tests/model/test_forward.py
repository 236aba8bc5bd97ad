"""Forward-chaining evaluation: application capture counts applications (not lead-days) on a
hand-built queue with known answers, and training at a cut-off never sees a label that matures
after it."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from data_contracts.enums import EventType
from leadscore.cli import app
from simulator import HistoricalPolicy, SimulatedWorld, SimulationConfig, simulate
from training.forward import (
    METHODS,
    ForwardConfig,
    ForwardError,
    ViewRecorder,
    application_capture,
    capture_indicators,
    queued_rows,
    run_forward,
    training_frame_at,
    write_forward_report,
)
from training.intervals import weighted_share
from training.train import TrainConfig

HORIZON = 30
WORLD = SimulationConfig(officers=2, months=7, leads_per_month=70, seed=21, start=date(2025, 1, 1))


def top_by_probability(
    candidates: pd.DataFrame,
    *,
    officer_id: str,  # noqa: ARG001
    at_utc: datetime,  # noqa: ARG001
    capacity: int,
    rank_by: str,  # noqa: ARG001
    compensation_bps: float,  # noqa: ARG001
) -> list[tuple[str, str]]:
    """A queue builder without lanes or rules: the officer's `capacity` most probable leads."""
    top = candidates.sort_values("probability", ascending=False, kind="stable").head(capacity)
    return [(str(lead), "call") for lead in top["lead_id"]]


# lead, officer, day, probability, label (applied within the horizon after that day's start)
HAND_BUILT = [
    # officer A, capacity 2: a1 applies and is queued on d2 (rank 1) -> captured
    ("a1", "A", "d1", 0.10, True),
    ("a1", "A", "d2", 0.90, True),
    ("a2", "A", "d1", 0.80, False),
    ("a2", "A", "d2", 0.80, False),
    ("a2", "A", "d3", 0.80, False),
    ("a3", "A", "d1", 0.01, True),  # applies, never in the queue -> missed (3 labelled days)
    ("a3", "A", "d2", 0.01, True),
    ("a3", "A", "d3", 0.01, True),
    ("a4", "A", "d1", 0.50, False),
    ("a4", "A", "d2", 0.05, False),
    ("a4", "A", "d3", 0.70, False),
    # officer B: b1 applies the day after d1, queued on d1 -> captured
    ("b1", "B", "d1", 0.95, True),
    ("b2", "B", "d1", 0.90, False),  # queued, applies long after the horizon: not counted
    ("b2", "B", "d2", 0.90, False),
    ("b3", "B", "d1", 0.10, False),
    # officer C: c1 queued on d1 only, when its application was beyond the horizon -> missed
    ("c1", "C", "d1", 0.99, False),
    ("c1", "C", "d2", 0.01, True),
    ("c1", "C", "d3", 0.01, True),
    ("c2", "C", "d2", 0.60, False),
    ("c2", "C", "d3", 0.60, False),
    ("c3", "C", "d2", 0.50, False),
    ("c3", "C", "d3", 0.50, False),
]


def hand_built_queue() -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.DataFrame(HAND_BUILT, columns=["lead_id", "officer_id", "day", "probability", "y"])
    at = dict.fromkeys(("d1", "d2", "d3"), datetime(2025, 6, 2, 19))
    queued = queued_rows(
        frame, frame["day"].to_numpy(), at, top_by_probability, capacity=2, compensation_bps=0
    )
    return frame, queued


def test_the_queue_is_each_officers_top_k_of_each_day() -> None:
    frame, queued = hand_built_queue()
    chosen = set(frame.loc[queued, ["lead_id", "day"]].itertuples(index=False, name=None))
    assert chosen == {
        ("a1", "d2"), ("a2", "d1"), ("a2", "d2"), ("a2", "d3"), ("a4", "d1"), ("a4", "d3"),
        ("b1", "d1"), ("b2", "d1"), ("b2", "d2"),
        ("c1", "d1"), ("c2", "d2"), ("c2", "d3"), ("c3", "d2"), ("c3", "d3"),
    }  # fmt: skip


def test_capture_counts_applications_once_whatever_their_lead_days() -> None:
    frame, queued = hand_built_queue()
    labels = frame["y"].to_numpy()
    keys = frame["lead_id"].to_numpy()
    found = application_capture(keys, labels, queued)
    # a1, a3, b1 and c1 applied; a1 and b1 were in the queue on a labelled day.
    assert (found.applications, found.captured) == (4, 2)
    assert found.share == pytest.approx(0.5)
    rowwise = (labels & queued).sum() / labels.sum()
    assert rowwise == pytest.approx(2 / 8), "the lead-day share the metric must not report"
    captured, counted = capture_indicators(keys, labels, queued)
    weighted = weighted_share(captured, counted)(np.ones((1, len(frame))))
    assert weighted[0] == pytest.approx(0.5)
    # Drawing a1 twice in a resample counts its application twice, a3 not at all.
    weights = np.where(keys == "a1", 2.0, np.where(keys == "a3", 0.0, 1.0))[None, :]
    assert weighted_share(captured, counted)(weights)[0] == pytest.approx(3 / 4)


def test_an_application_counts_once_per_cutoff_window() -> None:
    keys = np.array(["w1/x", "w1/x", "w2/x", "w2/y"])
    labels = np.array([True, True, True, False])
    queued = np.array([False, True, False, True])
    found = application_capture(keys, labels, queued)
    assert (found.applications, found.captured) == (2, 1)


@pytest.fixture(scope="module")
def world() -> SimulatedWorld:
    return simulate(WORLD)


def test_training_at_a_cutoff_uses_only_labels_matured_by_then(world: SimulatedWorld) -> None:
    cutoff = pd.Timestamp("2025-05-12", tz="UTC")
    frame = training_frame_at(world, cutoff, HORIZON)
    assert (frame["as_of"] + pd.Timedelta(days=HORIZON) <= cutoff).all()
    assert frame["as_of"].max() > cutoff - pd.Timedelta(days=HORIZON + 8), "rows up to the cut-off"
    assert frame["label"].any()
    # Rewrite the future: every lead applies the day after the cut-off and nothing else
    # happens. A frame that read anything after the cut-off would change.
    events = world.events
    past = events.loc[events["occurred_at"] < cutoff]
    fake = events.iloc[: len(world.leads)].copy()
    fake["event_id"] = [f"F{k:09d}" for k in range(len(fake))]
    fake["lead_id"] = world.leads["lead_id"].to_numpy()
    fake["occurred_at"] = cutoff + pd.Timedelta(days=1)
    fake["event_type"] = EventType.APPLICATION_SUBMITTED.value
    rewritten = SimulatedWorld(
        **{**world.__dict__, "events": pd.concat([past, fake], ignore_index=True)}
    )
    again = training_frame_at(rewritten, cutoff, HORIZON)
    without_oracle = [c for c in frame.columns if c != "oracle_propensity"]
    pd.testing.assert_frame_equal(frame[without_oracle], again[without_oracle])


def test_the_recording_policy_leaves_the_history_unchanged(world: SimulatedWorld) -> None:
    day = date(2025, 3, 5)
    recorder = ViewRecorder(record_days=frozenset({day}))
    recorded = simulate(WORLD, recorder)
    pd.testing.assert_frame_equal(recorded.events, world.events)
    assert isinstance(recorder, HistoricalPolicy)
    assert set(recorder.views) == {day}
    assert len(recorder.views[day]) > 0


def test_cutoffs_leave_room_for_the_window_and_its_labels() -> None:
    config = ForwardConfig(officers=2, months=9, cutoffs=3, window_days=21)
    cutoffs = config.cutoff_dates()
    end = config.simulation().end
    assert len(cutoffs) == 3
    assert all((end - c).days >= config.window_days + config.horizon_days for c in cutoffs)
    assert all(d.weekday() < 5 for c in cutoffs for d in config.workdays(c))
    with pytest.raises(ForwardError, match="simulate more months"):
        ForwardConfig(months=4).cutoff_dates()


def test_cli_says_what_to_change_when_the_history_is_too_short(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"LEADSCORE_HOME": str(tmp_path), "COLUMNS": "120"}
    shown = runner.invoke(app, ["forward", "--help"], env=env)
    assert shown.exit_code == 0
    assert "cut-off" in shown.output
    refused = runner.invoke(app, ["forward", "--months", "4"], env=env)
    assert refused.exit_code == 2
    assert "simulate more months" in refused.output


def test_a_small_run_queues_every_officer_day_and_counts_the_same_applications(
    tmp_path: Path,
) -> None:
    config = ForwardConfig(
        officers=2,
        months=8,
        leads_per_month=200,
        seed=5,
        cutoffs=1,
        window_days=7,
        capacity=10,
        paths=8,
        resamples=50,
    )
    fast = TrainConfig(num_boost_round=60, early_stopping_rounds=10, learning_rate=0.1)
    result = run_forward(config, queue_builder=top_by_probability, train_config=fast)
    (window,) = result.windows
    rows = window.rows
    assert set(rows["day"]) == {d.isoformat() for d in config.workdays(window.cutoff)}
    for method in METHODS:
        per_queue = rows.groupby(["day", "officer_id"])[f"{method}_queued"].sum()
        assert (per_queue == config.capacity).all(), method
    assert {m: c.applications for m, c in result.pooled.captures.items()} == dict.fromkeys(
        METHODS, result.pooled.applications
    )
    assert result.pooled.applications == rows.loc[rows["label"], "lead_id"].nunique()
    assert window.training["rows"] > 0
    assert (rows["as_of_oracle"].between(0, 1)).all()
    path = write_forward_report(result, tmp_path)
    assert '"simulated": true' in path.read_text()
