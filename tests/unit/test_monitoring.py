"""Drift monitoring: PSI and friends on hand-made data, and `leadscore monitor` on simulated homes.

The CLI tests build two small data homes from the same seed: one unchanged, one with a rate
shock and a new low-intent lead vendor late in the history (simulator drift knobs). The first
must report no drift, the second must report it and exit 1 with --fail-on-drift.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.event_log import EventLog
from features.store import LeadFeatureStore
from features.transforms import event_columns, fold_leads, lead_profiles, open_rows_from
from leadscore.cli import app
from simulator import SimulationConfig, simulate
from training.monitoring import (
    MONITORING_EXPERIMENT,
    NEW_LEADS,
    OPEN_LEADS,
    THRESHOLDS,
    Windows,
    build_monitor_report,
    calibration_by_decile,
    calibration_gap,
    categorical_psi,
    expected_psi_noise,
    feature_drift,
    missing_share,
    missing_status,
    numeric_psi,
    psi_from_shares,
    psi_status,
    split_windows,
    worst,
)

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
runner = CliRunner()

KINDS = {"visits": "int", "gap": "float", "source": "category"}
WINDOWS = Windows(
    pd.Timestamp("2025-01-01", tz="UTC"),
    pd.Timestamp("2025-03-31", tz="UTC"),
    pd.Timestamp("2025-04-01", tz="UTC"),
    pd.Timestamp("2025-04-30", tz="UTC"),
)


def _rows(n: int, seed: int, *, gap_shift: float = 0.0, online_share: float = 0.5) -> pd.DataFrame:
    """Hand-made feature rows: a count, a rate gap, a source, and a lead age."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "visits": rng.poisson(2.0, n),
            "gap": rng.normal(0.3, 0.4, n) + gap_shift,
            "source": rng.choice(
                ["online_lead", "referral"], n, p=[online_share, 1 - online_share]
            ),
            "days_since_created": rng.uniform(0, 90, n),
        }
    )


# -- PSI on hand-made numbers ------------------------------------------------------------------


def test_psi_of_known_shares() -> None:
    # (0.25 - 0.5) ln(0.25/0.5) + (0.75 - 0.5) ln(0.75/0.5)
    expected = 0.25 * math.log(2) + 0.25 * math.log(1.5)
    assert psi_from_shares(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(expected)
    assert psi_from_shares(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == 0.0


def test_psi_is_zero_for_identical_data_and_grows_with_the_shift() -> None:
    values = np.random.default_rng(0).normal(size=5000)
    assert numeric_psi(values, values) == pytest.approx(0.0, abs=1e-12)
    small = numeric_psi(values, values + 0.1)
    large = numeric_psi(values, values + 1.0)
    assert 0 < small < THRESHOLDS.psi_warn
    assert large > THRESHOLDS.psi_drift


def test_numeric_psi_counts_values_beyond_the_reference_range() -> None:
    reference = np.arange(100, dtype=float)
    assert numeric_psi(reference, reference + 1000) > THRESHOLDS.psi_drift
    assert numeric_psi(reference, reference - 1000) > THRESHOLDS.psi_drift


def test_values_turning_missing_move_the_psi_and_the_missing_rate() -> None:
    reference = np.linspace(0, 1, 1000)
    recent = reference.copy()
    recent[::2] = np.nan
    assert numeric_psi(reference, recent) > THRESHOLDS.psi_drift
    assert missing_share(recent) == pytest.approx(0.5)
    assert missing_status(0.0, 0.5) == "drift"
    assert missing_status(0.10, 0.12) == "ok"


def test_categorical_psi_sees_a_new_category_and_a_changed_mix() -> None:
    reference = ["a"] * 50 + ["b"] * 50
    assert categorical_psi(reference, reference[::-1]) == pytest.approx(0.0)
    assert categorical_psi(reference, ["a"] * 50 + ["c"] * 50) > THRESHOLDS.psi_drift
    assert 0 < categorical_psi(reference, ["a"] * 55 + ["b"] * 45) < THRESHOLDS.psi_warn


def test_sampling_noise_keeps_a_small_sample_from_raising_an_alarm() -> None:
    assert expected_psi_noise(10, 60, 180) == pytest.approx(9 * (1 / 60 + 1 / 180))
    assert psi_status(0.3) == "drift"
    assert psi_status(0.3, noise=0.15) == "warn"
    assert psi_status(0.05) == "ok"
    assert psi_status(math.nan) == "n/a"


def test_worst_status_wins() -> None:
    assert worst(["ok", "warn", "n/a"]) == "warn"
    assert worst(["ok", "drift", "warn"]) == "drift"
    assert worst(["n/a"]) == "n/a"


# -- feature tables, scores and outcomes ---------------------------------------------------------


def test_unchanged_data_reports_no_drift() -> None:
    table = feature_drift(_rows(4000, 1), _rows(4000, 2), KINDS)
    assert set(table["feature"]) == set(KINDS)
    assert (table["status"] == "ok").all(), table


def test_a_shifted_feature_is_flagged_and_the_others_are_not() -> None:
    table = feature_drift(_rows(4000, 1), _rows(4000, 2, gap_shift=1.0), KINDS).set_index("feature")
    assert table.at["gap", "status"] == "drift"
    assert table.loc[["visits", "source"], "status"].eq("ok").all()
    assert table.index[0] == "gap"  # most drifted first


def test_too_few_rows_give_no_verdict() -> None:
    table = feature_drift(_rows(20, 1), _rows(20, 2, gap_shift=3.0), KINDS)
    assert (table["status"] == "n/a").all()


def test_calibration_by_decile_orders_scores_and_measures_the_gap() -> None:
    rng = np.random.default_rng(3)
    predicted = rng.uniform(0, 0.4, 20_000)
    calibrated = calibration_by_decile(predicted, rng.random(20_000) < predicted)
    assert list(calibrated["decile"]) == list(range(1, 11))
    assert calibrated["rows"].sum() == 20_000
    assert calibrated["predicted_rate"].is_monotonic_decreasing
    assert calibration_gap(calibrated) < THRESHOLDS.calibration_warn
    overconfident = calibration_by_decile(predicted, rng.random(20_000) < predicted / 3)
    assert calibration_gap(overconfident) > THRESHOLDS.calibration_drift


def test_report_combines_features_scores_and_outcomes() -> None:
    reference, recent = _rows(3000, 1), _rows(3000, 2)
    rng = np.random.default_rng(4)
    scores_ref, scores_now = rng.uniform(0, 0.2, 3000), rng.uniform(0, 0.2, 3000)
    outcomes = pd.DataFrame({"probability": scores_ref, "label": rng.random(3000) < scores_ref})
    calm = build_monitor_report(
        reference,
        recent,
        windows=WINDOWS,
        kinds=KINDS,
        reference_scores=scores_ref,
        recent_scores=scores_now,
        outcomes=outcomes,
    )
    assert calm.status == "ok"
    assert set(calm.populations) == {OPEN_LEADS, NEW_LEADS}
    assert calm.calibration_status == "ok"
    shifted = build_monitor_report(
        reference,
        recent,
        windows=WINDOWS,
        kinds=KINDS,
        reference_scores=scores_ref,
        recent_scores=scores_now + 0.15,
        outcomes=outcomes.assign(label=False),
    )
    assert shifted.status == "drift"
    assert f"{OPEN_LEADS}: score" in shifted.drifted()
    assert "calibration by score decile" in shifted.drifted()
    assert shifted.metrics()["drifted_count"] >= 2


def test_split_windows_keeps_the_recent_days_and_the_reference_before_them() -> None:
    as_of = pd.date_range("2025-01-01", periods=100, freq="D", tz="UTC")
    rows = pd.DataFrame({"as_of": as_of, "x": np.arange(100)})
    reference, recent, windows = split_windows(rows, recent_days=30, reference_days=40)
    assert len(recent) == 30
    assert len(reference) == 40
    assert reference["as_of"].max() < recent["as_of"].min()
    assert windows.recent_end == as_of[-1]


# -- the CLI on simulated data homes -------------------------------------------------------------

DRIFT_KNOBS = {
    "rate_shock_pct": -1.5,
    "rate_shock_at_fraction": 0.8,
    "new_source_share": 0.8,
    "drift_start_fraction": 0.8,
}


def _home(root: Path, **knobs: float) -> Path:
    """A data home whose feature store holds the stored rows of a small simulated CRM."""
    world = simulate(
        SimulationConfig(
            officers=2, months=7, leads_per_month=50, seed=11, record_daily_hazard=False, **knobs
        )
    )
    rows = fold_leads(lead_profiles(world.leads), event_columns(world.events)).rows
    LeadFeatureStore(root / "feast").write_rows([rows], replace=True)
    EventLog(f"sqlite:///{root / 'leadscore.db'}").put_market_rates(world.rates)
    return root


@pytest.fixture(scope="module")
def unchanged_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _home(tmp_path_factory.mktemp("unchanged"))


@pytest.fixture(scope="module")
def drifted_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _home(tmp_path_factory.mktemp("drifted"), **DRIFT_KNOBS)


def test_monitor_on_unchanged_data_reports_no_drift(
    unchanged_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_HOME", str(unchanged_home))
    result = runner.invoke(app, ["monitor", "--fail-on-drift", "--no-mlflow"])
    assert result.exit_code == 0, result.output
    assert "DRIFT" not in result.output
    page = (unchanged_home / "reports" / "monitor" / "index.html").read_text()
    assert "data:image/png;base64," in page


def test_monitor_on_drifted_data_reports_it_logs_it_and_fails(
    drifted_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_HOME", str(drifted_home))
    result = runner.invoke(app, ["monitor", "--fail-on-drift"])
    assert result.exit_code == 1, result.output
    assert "rate_gap_pct" in result.output
    assert "DRIFT" in (drifted_home / "reports" / "monitor" / "index.html").read_text()
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{drifted_home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(MONITORING_EXPERIMENT)
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.tags["status"] == "drift"
    assert run.data.metrics["open_leads.psi.rate_gap_pct"] > THRESHOLDS.psi_drift
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "monitor")}
    assert "monitor/index.html" in artifacts


def test_monitor_without_the_flag_reports_drift_but_exits_zero(
    drifted_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_HOME", str(drifted_home))
    result = runner.invoke(app, ["monitor", "--no-mlflow"])
    assert result.exit_code == 0, result.output
    assert "DRIFT" in result.output


def test_monitor_reads_a_reference_file(
    unchanged_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_HOME", str(unchanged_home))
    rows = LeadFeatureStore(unchanged_home / "feast").read_rows()
    rates = EventLog(f"sqlite:///{unchanged_home / 'leadscore.db'}").market_rates()
    days = pd.date_range(rows["changed_at"].max().floor("D") - pd.Timedelta(days=90), periods=91)
    stored = open_rows_from(rows, rates, days)
    last = stored["as_of"].max()
    window = stored["as_of"].between(last - pd.Timedelta(days=75), last - pd.Timedelta(days=45))
    reference = tmp_path / "reference.parquet"
    stored.loc[window].to_parquet(reference)
    result = runner.invoke(
        app, ["monitor", "--reference", str(reference), "--fail-on-drift", "--no-mlflow"]
    )
    assert result.exit_code == 0, result.output
    assert "reference: given file" in result.output
    assert "reference.parquet" in result.output
