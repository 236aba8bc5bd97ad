"""The follow-up policy backtest on tiny simulated worlds: the simulator's sanity and the report.

Every policy goes through the production queue (serving.queue.build_queue, as the CLI wires it)
and meets the same simulated leads, so differences come from follow-up alone.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.commands.analysis import serving_queue_builder
from simulator import SimulationConfig
from training.backtest import (
    BRIEF_AFTER,
    BRIEF_BEFORE,
    BRIEF_COLUMNS,
    COMMISSION_PER_FUNDED_USD,
    METRICS,
    POLICY_ORDER,
    BacktestConfig,
    BacktestError,
    BacktestResult,
    run_backtest,
    train_backtest_model,
    write_backtest_report,
)
from training.train import TrainConfig

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

FAST_TRAINING = TrainConfig(num_boost_round=60, early_stopping_rounds=10, learning_rate=0.1)
HISTORY = SimulationConfig(
    officers=2, months=12, leads_per_month=80, seed=99, start=date(2024, 1, 1), daily_capacity=5
)
"""The model's separate training history: big enough for both outcomes in every slice."""


def test_ranking_by_true_propensity_does_at_least_as_well_as_newest_first() -> None:
    config = BacktestConfig(officers=2, months=3, leads_per_month=50, capacity=5, seed=7)
    result = run_backtest(
        config,
        queue_builder=serving_queue_builder,
        policies=["newest_first+lane", "oracle+lane"],
    )
    oracle = result.outcomes["oracle+lane"].metrics
    newest = result.outcomes["newest_first+lane"].metrics
    # Everything else equal: the same leads get the same first responses from the same lane.
    assert oracle["first_response_median_s"] == newest["first_response_median_s"]
    assert oracle["application_rate"] >= newest["application_rate"], (
        "calling the leads most likely to apply first converted fewer leads than calling the "
        f"newest first ({oracle['application_rate']:.1%} vs {newest['application_rate']:.1%}): "
        "the simulator's touch effect or the queue's ranking is broken"
    )


@pytest.fixture(scope="module")
def full_result() -> BacktestResult:
    """Every policy on a one-officer, two-month world, with a quickly trained model."""
    config = BacktestConfig(officers=1, months=2, leads_per_month=40, capacity=4, seed=5)
    scorer, source = train_backtest_model(config, FAST_TRAINING, history=HISTORY)
    return run_backtest(
        config, queue_builder=serving_queue_builder, scorer=scorer, model_source=source
    )


def test_table_has_every_policy_and_column(full_result: BacktestResult) -> None:
    table = full_result.table()
    assert list(table.columns) == [*BRIEF_COLUMNS, *POLICY_ORDER]
    assert list(table.index) == [m.label for m in METRICS]
    assert table.notna().all().all()
    assert table[BRIEF_COLUMNS[0]].tolist() == [BRIEF_BEFORE[m.key] for m in METRICS]
    assert table[BRIEF_COLUMNS[1]].tolist() == [BRIEF_AFTER[m.key] for m in METRICS]
    for outcome in full_result.outcomes.values():
        funded = outcome.metrics["funded_per_month"]
        assert outcome.metrics["commission_per_month_usd"] == funded * COMMISSION_PER_FUNDED_USD


def test_the_speed_to_lead_lane_answers_within_minutes_and_its_absence_shows(
    full_result: BacktestResult,
) -> None:
    response = {n: o.metrics["first_response_median_s"] for n, o in full_result.outcomes.items()}
    for name in POLICY_ORDER:
        if name.endswith("+lane"):
            assert response[name] < 120, name
        elif name != "historical":
            assert response[name] > 3600, name


def test_report_files_say_simulated_and_hold_every_policy(
    full_result: BacktestResult, tmp_path: Path
) -> None:
    paths = write_backtest_report(full_result, tmp_path / "backtest")
    markdown = paths["markdown"].read_text()
    assert "SIMULATED" in markdown
    assert all(name in markdown for name in POLICY_ORDER)
    saved = json.loads(paths["json"].read_text())
    assert saved["simulated"] is True
    assert list(saved["policies"]) == list(POLICY_ORDER)
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_requests_say_what_to_change() -> None:
    with pytest.raises(BacktestError, match="capacity"):
        BacktestConfig(capacity=0)
    with pytest.raises(BacktestError, match="unknown policies"):
        run_backtest(
            BacktestConfig(officers=1, months=1),
            queue_builder=serving_queue_builder,
            policies=["newest_first", "coin_flip"],
        )


def test_cli_prints_the_table_and_writes_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(
        app,
        [
            "backtest", "--officers", "1", "--months", "2", "--capacity", "4", "--jobs", "1",
            "--policy", "historical", "--policy", "newest_first+lane",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "SIMULATED" in result.output
    assert "newest_first" in result.output
    report = tmp_path / "home" / "reports" / "backtest"
    assert {p.name for p in report.iterdir()} == {"backtest.json", "backtest.md", "backtest.png"}
