"""MLflow: runs, the registry, the gates that guard "champion", promote and rollback."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from models.registry import ModelNotFoundError, load_scorer
from training.pipeline import RegistryTarget, TrainingReport, run_training
from training.registry import (
    CHALLENGER_ALIAS,
    PREVIOUS_CHAMPION_ALIAS,
    RegistryError,
    alias_version,
    list_models,
    promote,
    rollback,
)
from training.train import PreparedData, Slices, TrainConfig, prepare_lead_data


@dataclass(frozen=True)
class Store:
    target: RegistryTarget
    good: TrainingReport
    worse: TrainingReport
    data: PreparedData


def _shuffled_labels(data: PreparedData, seed: int) -> PreparedData:
    """The same test slice, but trees fit on labels shuffled within the training slices."""
    rng = np.random.default_rng(seed)
    slices = data.slices

    def shuffle(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(label=rng.permutation(frame["label"].to_numpy()))

    noisy = Slices(
        train=shuffle(slices.train),
        early_stopping=shuffle(slices.early_stopping),
        calibration=slices.calibration,
        test=slices.test,
    )
    return replace(data, slices=noisy)


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, prepared: PreparedData, fast_config: TrainConfig
) -> Store:
    home = tmp_path_factory.mktemp("mlflow")
    target = RegistryTarget(f"sqlite:///{home / 'mlflow.db'}", home / "mlartifacts")
    good = run_training(prepared, fast_config, target, run_name="good")
    worse = run_training(_shuffled_labels(prepared, 1), fast_config, target, run_name="worse")
    return Store(target, good, worse, prepared)


def _copy(store: Store, tmp_path: Path) -> str:
    """A private copy of the registry database (artifacts are shared, read-only)."""
    source = Path(store.target.tracking_uri.removeprefix("sqlite:///"))
    shutil.copy(source, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_a_model_passing_every_gate_becomes_champion(store: Store) -> None:
    assert store.good.failed == []
    assert store.good.alias == "champion"
    assert alias_version(store.target.tracking_uri, "lead-scorer", "champion") == "1"


def test_a_worse_model_is_not_promoted_and_the_gate_is_named(store: Store) -> None:
    assert store.worse.alias == CHALLENGER_ALIAS
    assert "auc_vs_champion" in store.worse.failed
    uri = store.target.tracking_uri
    assert alias_version(uri, "lead-scorer", "champion") == "1"
    assert alias_version(uri, "lead-scorer", CHALLENGER_ALIAS) == "2"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    tags = client.get_model_version("lead-scorer", "2").tags
    assert "auc_vs_champion" in tags["gates_failed"]
    run = client.get_run(store.worse.run_id)
    assert run.data.metrics["gate_auc_vs_champion"] == 0.0
    assert run.data.tags["gate.auc_vs_champion"].startswith("FAIL: worse than the champion")
    # the paired difference (worse minus champion) lies wholly below zero
    assert run.data.metrics["roc_auc_minus_champion_hi"] < 0


def test_a_tiny_world_is_not_enough_evidence_and_the_champion_stays(
    store: Store,
    tmp_path: Path,
    lead_frame_factory: Callable[..., pd.DataFrame],
    fast_config: TrainConfig,
) -> None:
    tiny = prepare_lead_data(
        lead_frame_factory(80, seed=3), fast_config, horizon_days=30, capacity=5
    )
    target = RegistryTarget(_copy(store, tmp_path), store.target.artifacts_dir)
    report = run_training(tiny, fast_config, target, run_name="tiny")
    gate = next(g for g in report.gates if g.name == "auc_vs_champion")
    applying = report.evaluation.evidence.applying_leads
    assert gate.undecided, gate.detail
    assert f"not enough evidence: {applying} applications in the test window, about " in (
        gate.detail
    )
    assert report.alias == CHALLENGER_ALIAS
    assert alias_version(target.tracking_uri, "lead-scorer", "champion") == "1"
    run = mlflow.MlflowClient(tracking_uri=target.tracking_uri).get_run(report.run_id)
    assert run.data.tags["gate.auc_vs_champion"].startswith("UNDECIDED: not enough evidence")
    assert run.data.metrics["test_applying_leads"] == applying


def test_loading_the_champion_gives_identical_predictions(store: Store) -> None:
    loaded = load_scorer(store.target.tracking_uri)
    test = store.data.slices.test
    np.testing.assert_array_equal(loaded.predict_proba(test), store.good.scorer.predict_proba(test))
    np.testing.assert_array_equal(
        loaded.contributions(test.head(50)), store.good.scorer.contributions(test.head(50))
    )
    assert loaded.version == "lead-scorer/1"


def test_the_pyfunc_model_has_a_signature_and_predicts_the_same(store: Store) -> None:
    uri = store.target.tracking_uri
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    model = mlflow.pyfunc.load_model(client.get_model_version_download_uri("lead-scorer", "1"))
    inputs = model.metadata.get_input_schema().input_names()
    assert inputs == list(store.good.scorer.feature_names)
    test = store.data.slices.test.head(200)
    out = model.predict(test[inputs])
    np.testing.assert_array_equal(
        out["probability"].to_numpy(), store.good.scorer.predict_proba(test)
    )


def test_each_run_logs_fingerprint_code_version_charts_and_tables(store: Store) -> None:
    uri = store.target.tracking_uri
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(store.good.run_id)
    assert len(run.data.tags["data_fingerprint"]) == 64
    assert run.data.tags["code_version"]
    assert run.data.metrics["contrib_shap_max_abs_diff"] < 1e-6
    assert {
        "test_roc_auc",
        "test_roc_auc_lo",
        "test_roc_auc_hi",
        "test_ece",
        "test_ece_lo",
        "test_ece_hi",
        "test_capture_at_capacity",
        "baseline_points_rule_capture_at_capacity",
        "baseline_points_rule_capture_at_capacity_lo",
        "test_leads",
        "test_applying_leads",
    } <= set(run.data.metrics)
    metrics = run.data.metrics
    assert metrics["test_roc_auc_lo"] < metrics["test_roc_auc"] < metrics["test_roc_auc_hi"]
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert logged == {
        "plots/calibration.png",
        "plots/lift_by_decile.png",
        "plots/capture_at_capacity.png",
        "plots/shap_summary.png",
    }
    tables = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {"evaluation/baselines.csv", "evaluation/baselines.md"} <= tables
    artifact_root = run.info.artifact_uri
    assert artifact_root.startswith((store.target.artifacts_dir or Path()).resolve().as_uri())


def test_promote_by_hand_then_rollback_restores_the_previous_champion(
    store: Store, tmp_path: Path
) -> None:
    uri = _copy(store, tmp_path)
    assert promote(uri, "2") == "1"
    assert alias_version(uri, "lead-scorer", "champion") == "2"
    assert alias_version(uri, "lead-scorer", PREVIOUS_CHAMPION_ALIAS) == "1"
    assert alias_version(uri, "lead-scorer", CHALLENGER_ALIAS) is None
    assert rollback(uri) == ("2", "1")
    assert alias_version(uri, "lead-scorer", "champion") == "1"
    test = store.data.slices.test
    np.testing.assert_array_equal(
        load_scorer(uri).predict_proba(test), store.good.scorer.predict_proba(test)
    )
    with pytest.raises(RegistryError, match="no previous champion"):
        rollback(uri)


def test_list_models_shows_versions_aliases_and_metrics(store: Store, tmp_path: Path) -> None:
    versions = list_models(_copy(store, tmp_path))
    assert [v.version for v in versions] == ["2", "1"]
    assert versions[1].aliases == ("champion",)
    assert versions[0].aliases == (CHALLENGER_ALIAS,)
    assert versions[1].metrics["test_roc_auc"] > versions[0].metrics["test_roc_auc"]


def test_unknown_versions_and_aliases_are_clear_errors(store: Store, tmp_path: Path) -> None:
    uri = _copy(store, tmp_path)
    with pytest.raises(RegistryError, match="no version 9"):
        promote(uri, "9")
    with pytest.raises(ModelNotFoundError, match="leadscore train"):
        load_scorer(uri, "staging")


def test_cli_promote_rollback_and_models(store: Store, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from leadscore.cli import app

    uri = _copy(store, tmp_path)
    runner = CliRunner()
    promoted = runner.invoke(app, ["promote", "2", "--tracking-uri", uri])
    assert promoted.exit_code == 0, promoted.output
    assert "v2 is the champion (was: 1)" in promoted.output
    listed = runner.invoke(app, ["models", "--tracking-uri", uri])
    assert listed.exit_code == 0, listed.output
    assert "champion" in listed.output
    rolled = runner.invoke(app, ["rollback", "--tracking-uri", uri])
    assert rolled.exit_code == 0, rolled.output
    assert "rolled back to v1" in rolled.output
    again = runner.invoke(app, ["rollback", "--tracking-uri", uri])
    assert again.exit_code == 2
    assert "no previous champion" in again.output


def test_the_model_page_shows_each_metric_with_its_interval_and_the_evidence(
    store: Store,
) -> None:
    from serving.web.model_page import ModelRegistryReader

    view = ModelRegistryReader(store.target.tracking_uri, "lead-scorer").read()
    champion, challenger = view.by_alias["champion"], view.by_alias[CHALLENGER_ALIAS]
    shown = dict(champion.key_metrics)
    assert re.fullmatch(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", shown["ROC-AUC"])
    evidence = store.good.evaluation.evidence
    assert shown["Test leads (applied)"] == f"{evidence.leads:,} ({evidence.applying_leads:,})"
    model_row = next(row for row in champion.baselines if row.is_model)
    assert all("[" in value for value in model_row.values)
    gate = next(g for g in challenger.gates if g.name == "auc_vs_champion")
    assert not gate.passed
    assert "worse than the champion" in gate.detail
