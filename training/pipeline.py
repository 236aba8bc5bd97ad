"""One training run end to end: fit, evaluate against baselines, audit, gate, log, register.

The order matters: the current champion is re-scored on this run's test slice before the new
version is registered, and the alias is set only after the run is fully logged.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import mlflow
import numpy as np
import pandas as pd

from models.explain import CONTRIB_TOLERANCE, contrib_shap_max_abs_diff, tree_shap_values
from models.layout import FeatureFrameError
from models.registry import (
    CHAMPION_ALIAS,
    REGISTERED_MODEL_NAME,
    ModelNotFoundError,
    load_scorer,
    log_scorer,
)
from models.scorer import LeadScorer
from training.evaluate import (
    Evaluation,
    MethodScores,
    evaluate_methods,
    group_codes,
    interval_table,
    markdown_table,
)
from training.fairness import FairnessAudit, audit
from training.gates import ChampionComparison, GateResult, evaluate_gates, failed_gates
from training.intervals import Interval, paired_interval, weighted_roc_auc
from training.plots import calibration_figure, capture_figure, lift_figure, shap_summary_figure
from training.registry import CHALLENGER_ALIAS, mark_challenger, promote, use_store
from training.train import CAPACITY_SHARE, PreparedData, TrainConfig, fit_scorer

MODEL_METHOD: Final = "model"
SHAP_SAMPLE_ROWS: Final = 500
CONTRIB_CHECK_ROWS: Final = 200
GATE_TAG_PREFIX: Final = {"pass": "pass", "fail": "FAIL", "undecided": "UNDECIDED"}
"""How a gate's tag (``gate.<name>``) opens; the model page reads it."""


@dataclass(frozen=True)
class RegistryTarget:
    """Where runs and versions go."""

    tracking_uri: str
    artifacts_dir: Path | None = None
    model_name: str = REGISTERED_MODEL_NAME


@dataclass
class StageTimes:
    """Wall-clock seconds of each stage of a run, in the order they ran (``--verbose``)."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


@dataclass
class TrainingReport:
    """What a run produced and decided."""

    scorer: LeadScorer
    evaluation: Evaluation
    fairness: FairnessAudit
    gates: list[GateResult]
    importance: pd.DataFrame
    contrib_shap_max_abs_diff: float
    champion: ChampionComparison | None = None
    """The champion this version was compared with (None: there was none)."""
    run_id: str = ""
    version: str | None = None
    alias: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return failed_gates(self.gates)

    def metric(self, name: str) -> float:
        return self.evaluation.metric(MODEL_METHOD, name)

    def interval(self, name: str) -> Interval:
        return self.evaluation.interval(MODEL_METHOD, name)


def code_version() -> str:
    """The git commit of the code when available, else the installed package version."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        try:
            return f"leadscore=={importlib.metadata.version('leadscore')}"
        except importlib.metadata.PackageNotFoundError:
            return "unknown"


def test_leads(data: PreparedData) -> np.ndarray | None:
    """Each test row's lead: the bootstrap resamples these (None: every row is its own)."""
    test = data.slices.test
    return test["lead_id"].to_numpy() if "lead_id" in test else None


def compare_with_champion(
    target: RegistryTarget,
    data: PreparedData,
    challenger: np.ndarray,
    seed: int,
) -> ChampionComparison | None:
    """The current champion on this test slice: its ROC-AUC and the challenger's paired
    difference (None when there is no champion)."""
    try:
        champion = load_scorer(target.tracking_uri, CHAMPION_ALIAS, model_name=target.model_name)
    except ModelNotFoundError:
        return None
    version = champion.version.rsplit("/", 1)[-1]
    test = data.slices.test
    try:
        probabilities = champion.predict_proba(test)
    except FeatureFrameError as exc:
        return ChampionComparison(version, None, None, str(exc))
    labels = test["label"].to_numpy(dtype=bool)
    champion_auc = weighted_roc_auc(labels, probabilities)
    difference = paired_interval(
        weighted_roc_auc(labels, challenger), champion_auc, len(test), test_leads(data), seed=seed
    )
    return ChampionComparison(version, float(champion_auc(np.ones((1, len(test))))[0]), difference)


def _sample(matrix: np.ndarray, rows: int, seed: int) -> np.ndarray:
    if len(matrix) <= rows:
        return matrix
    index = np.sort(np.random.default_rng(seed).choice(len(matrix), rows, replace=False))
    return matrix[index]


def evaluate_on_test(
    data: PreparedData, methods: Mapping[str, MethodScores], seed: int
) -> Evaluation:
    """Methods scored on the test slice with the gates' groups, capacity and tie-break."""
    test = data.slices.test
    return evaluate_methods(
        test["label"].to_numpy(dtype=bool),
        methods,
        group_codes(test, data.capture_groups),
        data.capacity,
        seed=seed,
        capacity_share=(
            test[CAPACITY_SHARE].to_numpy(dtype=np.float64) if CAPACITY_SHARE in test else None
        ),
        leads=test_leads(data),
    )


def evaluate_scorer(data: PreparedData, scorer: LeadScorer, seed: int) -> Evaluation:
    """The model and every baseline on the test slice."""
    test = data.slices.test
    methods = {MODEL_METHOD: MethodScores(scorer.predict_proba(test), probability=True)}
    for baseline in data.baselines:
        methods[baseline.name] = MethodScores(
            baseline.score(data.slices.train, test), baseline.probability
        )
    return evaluate_on_test(data, methods, seed)


def run_training(
    data: PreparedData,
    config: TrainConfig,
    target: RegistryTarget,
    *,
    run_name: str = "train",
    extra_params: Mapping[str, Any] | None = None,
    warnings: list[str] | None = None,
    times: StageTimes | None = None,
) -> TrainingReport:
    """Fit, evaluate, audit, gate; log the run; register a version; set champion or challenger.

    ``times`` (when given) receives the seconds each stage took.
    """
    clock = times if times is not None else StageTimes()
    with clock.stage("open the MLflow store"):
        experiment_id = use_store(target.tracking_uri, target.artifacts_dir)
    with clock.stage("fit LightGBM and calibrate"):
        scorer = fit_scorer(data, config)
    test = data.slices.test
    with clock.stage("evaluate against baselines (with bootstrap intervals)"):
        evaluation = evaluate_scorer(data, scorer, config.seed)
    in_top_k = evaluation.ranks[MODEL_METHOD] <= evaluation.capacity_rows
    fairness = audit(
        data.layout.display_names,
        {c: test[c].to_numpy() for c in data.audit_columns},
        in_top_k,
    )
    with clock.stage("score the current champion"):
        champion = compare_with_champion(
            target, data, evaluation.methods[MODEL_METHOD].scores, config.seed
        )
    rules = {
        b.name: evaluation.metric(b.name, "capture_at_capacity") for b in data.baselines if b.rule
    }
    gates = evaluate_gates(
        auc=evaluation.interval(MODEL_METHOD, "roc_auc"),
        ece=evaluation.interval(MODEL_METHOD, "ece"),
        capture=evaluation.metric(MODEL_METHOD, "capture_at_capacity"),
        rule_captures=rules,
        capacity=data.capacity,
        champion=champion,
        evidence=evaluation.evidence,
        fairness=fairness,
    )
    with clock.stage("SHAP values"):
        matrix = scorer.encode(test)
        sample = _sample(matrix, SHAP_SAMPLE_ROWS, config.seed)
        shap_values, _ = tree_shap_values(scorer.booster, sample)
        importance = pd.DataFrame(
            {
                "feature": list(data.layout.display_names),
                "mean_abs_shap": np.abs(shap_values).mean(axis=0),
            }
        ).sort_values("mean_abs_shap", ascending=False, ignore_index=True)
        contrib_gap = contrib_shap_max_abs_diff(
            scorer.booster, _sample(matrix, CONTRIB_CHECK_ROWS, config.seed + 1)
        )
    report = TrainingReport(
        scorer=scorer,
        evaluation=evaluation,
        fairness=fairness,
        gates=gates,
        importance=importance,
        contrib_shap_max_abs_diff=contrib_gap,
        champion=champion,
        warnings=list(warnings or []),
    )
    if contrib_gap >= CONTRIB_TOLERANCE:
        report.warnings.append(
            f"LightGBM pred_contrib differs from shap.TreeExplainer by {contrib_gap:.2e} "
            f"(tolerance {CONTRIB_TOLERANCE}); reasons may not match SHAP"
        )
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        report.run_id = run.info.run_id
        with clock.stage("log the run (params, metrics, plots)"):
            _log_run(data, config, report, shap_values, sample, extra_params or {})
        with clock.stage("log and register the model"):
            info = log_scorer(
                scorer,
                registered_model_name=target.model_name,
                input_example=test[list(data.layout.names)].head(3),
            )
    report.version = str(info.registered_model_version)
    scorer.version = f"{target.model_name}/{report.version}"
    with clock.stage("set tags and alias"):
        _set_alias(target, report, data.fingerprint)
    return report


def _set_alias(target: RegistryTarget, report: TrainingReport, fingerprint: str) -> None:
    """Tag the new version and make it champion (gates passed) or challenger."""
    assert report.version is not None
    failed = report.failed
    client = mlflow.MlflowClient(tracking_uri=target.tracking_uri, registry_uri=target.tracking_uri)
    client.set_model_version_tag(
        target.model_name, report.version, "gates_failed", ",".join(failed) or "none"
    )
    client.set_model_version_tag(target.model_name, report.version, "data_fingerprint", fingerprint)
    if failed:
        mark_challenger(target.tracking_uri, report.version, model_name=target.model_name)
        report.alias = CHALLENGER_ALIAS
    else:
        promote(target.tracking_uri, report.version, model_name=target.model_name, by="gates")
        report.alias = CHAMPION_ALIAS


def _log_run(
    data: PreparedData,
    config: TrainConfig,
    report: TrainingReport,
    shap_values: np.ndarray,
    sample: np.ndarray,
    extra_params: Mapping[str, Any],
) -> None:
    """Params, metrics, tags and artifacts of the active run."""
    evaluation = report.evaluation
    mlflow.log_params(
        {
            **config.as_params(),
            **extra_params,
            **data.slices.sizes(),
            "capacity": data.capacity,
            "capture_groups": ",".join(data.capture_groups) or "global",
            "trees": report.scorer.booster.num_trees(),
            "calibrator": json.dumps(report.scorer.calibrator.to_dict())[:500],
        }
    )
    metrics: dict[str, float] = {}
    for method, row in interval_table(evaluation).iterrows():
        prefix = "test" if method == MODEL_METHOD else f"baseline_{method}"
        metrics.update({f"{prefix}_{k}": float(v) for k, v in row.items() if pd.notna(v)})
    evidence = evaluation.evidence
    metrics.update(
        {
            "test_leads": evidence.leads,
            "test_applying_leads": evidence.applying_leads,
            "bootstrap_resamples": evaluation.resamples,
        }
    )
    if report.champion is not None and report.champion.difference is not None:
        difference = report.champion.difference
        metrics.update(
            {
                "champion_roc_auc": report.champion.champion_auc or math.nan,
                "roc_auc_minus_champion": difference.estimate,
                "roc_auc_minus_champion_lo": difference.low,
                "roc_auc_minus_champion_hi": difference.high,
            }
        )
    for gate in report.gates:
        metrics[f"gate_{gate.name}"] = 1.0 if gate.passed else 0.0
    metrics["contrib_shap_max_abs_diff"] = report.contrib_shap_max_abs_diff
    if report.fairness.impacts:
        metrics["fairness_min_adverse_impact_ratio"] = report.fairness.min_ratio
    mlflow.log_metrics(metrics)
    failed = report.failed
    mlflow.set_tags(
        {
            "data_fingerprint": data.fingerprint,
            "code_version": code_version(),
            "data_kind": str(data.metadata.get("data", "")),
            "gates_passed": str(not failed).lower(),
            "gates_failed": ",".join(failed) or "none",
            **{
                f"gate.{g.name}": f"{GATE_TAG_PREFIX[g.verdict]}: {g.detail[:4000]}"
                for g in report.gates
            },
            **({"warnings": " | ".join(report.warnings)[:4000]} if report.warnings else {}),
        }
    )
    test = data.slices.test
    labels = test["label"].to_numpy(dtype=bool)
    probabilities = {
        name: method.scores for name, method in evaluation.methods.items() if method.probability
    }
    mlflow.log_figure(calibration_figure(labels, probabilities), "plots/calibration.png")
    mlflow.log_figure(lift_figure(evaluation.lift), "plots/lift_by_decile.png")
    mlflow.log_figure(
        capture_figure(evaluation.capture_curve, data.capacity), "plots/capture_at_capacity.png"
    )
    mlflow.log_figure(
        shap_summary_figure(shap_values, sample, data.layout.display_names),
        "plots/shap_summary.png",
    )
    with tempfile.TemporaryDirectory(prefix="leadscore-run-") as tmp:
        folder = Path(tmp)
        interval_table(evaluation).to_csv(folder / "baselines.csv", index_label="method")
        (folder / "baselines.md").write_text(markdown_table(evaluation.table))
        evaluation.lift.to_csv(folder / "lift_by_decile.csv")
        evaluation.capture_curve.to_csv(folder / "capture_at_capacity.csv")
        report.importance.to_csv(folder / "shap_importance.csv", index=False)
        (folder / "gates.json").write_text(
            json.dumps([g.__dict__ for g in report.gates], indent=1, default=str)
        )
        (folder / "fairness.txt").write_text(report.fairness.summary() + "\n")
        mlflow.log_artifacts(str(folder), "evaluation")
