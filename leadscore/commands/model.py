"""Model commands: train (lead frame or a CSV export), promote, rollback, models, score."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leadscore.logging import library_output_to_log
from leadscore.settings import Settings, get_settings

if TYPE_CHECKING:
    import pandas as pd

    from training.pipeline import StageTimes, TrainingReport

console = Console()
err = Console(stderr=True)

LEAD_MODEL = "lead-scorer"
CSV_MODEL = "lead-scorer-csv"


def _mlflow_defaults() -> None:
    """No usage telemetry and no progress bars from MLflow unless the user asks for them."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def _fail(message: str, code: int = 2) -> typer.Exit:
    """One line (never wrapped, brackets in a header are not markup) and exit code 2."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _training_frame(settings: Settings) -> pd.DataFrame:
    """The lead training frame through the Feast FeatureService (training/dataset.py).

    On simulated data (the simulator's truth files in the data home) it carries the oracle's
    probability and the synthetic protected group for the fairness audit.
    """
    from leadscore.resources import open_event_log, open_feature_store
    from training.dataset import DatasetError, build_training_frame

    truth_dir = settings.sim_dir if (settings.sim_dir / "truth.csv").exists() else None
    try:
        with console.status("building the training set through Feast (lead_scoring_v1) ..."):
            frame, info = build_training_frame(
                open_event_log(settings),
                open_feature_store(settings),
                horizon_days=settings.horizon_days,
                truth_dir=truth_dir,
            )
    except DatasetError as exc:
        raise _fail(str(exc)) from exc
    console.print(
        f"training set: {info.rows:,} (lead, instant) rows of {info.leads:,} leads, "
        f"{info.positives:,} applied within {info.horizon_days} days; as-of "
        f"{info.first_as_of:%Y-%m-%d} to {info.last_as_of:%Y-%m-%d}"
    )
    return frame


METRIC_FORMATS = {
    "roc_auc": ".2f",
    "pr_auc": ".3f",
    "brier": ".3f",
    "ece": ".3f",
    "capture_at_capacity": ".1%",
    "top_decile_lift": ".1f",
}
"""How each metric is printed: no more digits than its interval makes meaningful."""
GATE_MARKS = {
    "pass": "[green]PASS[/green]",
    "fail": "[red]FAIL[/red]",
    "undecided": "[yellow]UNDECIDED[/yellow]",
}


def _print_report(report: TrainingReport, tracking_uri: str, model_name: str) -> None:
    evaluation = report.evaluation
    table = Table(title="test slice: each metric with its 95% interval", show_lines=True)
    table.add_column("metric")
    methods = [str(m) for m in evaluation.table.index]
    for method in methods:
        table.add_column(method.replace("_", " "), justify="right")
    for metric in (str(c) for c in evaluation.table.columns):
        spec = METRIC_FORMATS.get(metric, ".4f")
        # the value on its own line, so a narrow terminal wraps before the interval
        table.add_row(
            metric.replace("_", " "),
            *(evaluation.interval(m, metric).text(spec).replace(" [", "\n[", 1) for m in methods),
        )
    console.print(table)
    console.print(
        f"evidence: {evaluation.evidence.text()}; intervals from {evaluation.resamples:,} "
        "resamples of the test leads (all rows of a drawn lead together)"
    )
    console.print(
        "model: ROC-AUC "
        + report.interval("roc_auc").text()
        + "  ECE "
        + report.interval("ece").text(".4f")
        + "  capture at capacity "
        + report.interval("capture_at_capacity").text(".1%")
        + f" (capacity {evaluation.capacity})"
    )
    console.print(f"pred_contrib vs TreeSHAP max |diff|: {report.contrib_shap_max_abs_diff:.2e}")
    console.print("top features (mean |SHAP|): " + ", ".join(report.importance["feature"].head(5)))
    for gate in report.gates:
        console.print(f"  {GATE_MARKS[gate.verdict]} {gate.name}: {escape(gate.detail)}")
    name_option = "" if model_name == LEAD_MODEL else f" --model-name {model_name}"
    if report.failed:
        undecided = [g.name for g in report.gates if g.undecided]
        failed = [name for name in report.failed if name not in undecided]
        kept = "the champion stays" if report.champion is not None else "no champion yet"
        verdicts = "; ".join(
            f"{label}: {', '.join(names)}"
            for label, names in (("failed", failed), ("not enough evidence", undecided))
            if names
        )
        console.print(
            f"[yellow]version {report.version} is the challenger; {kept} ({verdicts})[/yellow] "
            f"(promote by hand with `leadscore promote {report.version}{name_option}` if you "
            "accept it)"
        )
    else:
        console.print(f"[green]version {report.version} is the champion[/green]")
    console.print(f"run {report.run_id}; browse with: mlflow ui --backend-store-uri {tracking_uri}")


def train(
    csv: Annotated[
        Path | None, typer.Option(help="train from a flat CRM export instead of the lead frame")
    ] = None,
    target: Annotated[str | None, typer.Option(help="--csv: the yes/no outcome column")] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="--csv: column identifying a lead (rows grouped)")
    ] = None,
    time_column: Annotated[
        str | None, typer.Option("--time", help="--csv: date column; split by time when given")
    ] = None,
    allow_protected: Annotated[
        bool,
        typer.Option(help="--csv: let protected attributes be features (fails the fairness gate)"),
    ] = False,
    drop: Annotated[
        list[str] | None, typer.Option(help="--csv: column to leave out (repeatable)")
    ] = None,
    capacity_share: Annotated[
        float, typer.Option(help="--csv: capacity as a share of test rows (global ranking)")
    ] = 0.1,
    frame: Annotated[
        Path | None, typer.Option(help="a saved training frame (parquet) instead of Feast")
    ] = None,
    model_name: Annotated[
        str | None,
        typer.Option(help="registered model [default: lead-scorer, or lead-scorer-csv with --csv]"),
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed: same data and seed, same model")] = 42,
    threads: Annotated[
        int,
        typer.Option(
            help="LightGBM threads (on a shared 2-core machine a second thread made training "
            "slower at every size measured, up to 30x; see docs/ARCHITECTURE.md)"
        ),
    ] = 1,
    calibration: Annotated[str, typer.Option(help="platt or isotonic")] = "platt",
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow store [default: sqlite under the data home]")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="print where the time went, stage by stage")
    ] = False,
) -> None:
    """Train, evaluate against baselines, audit fairness, gate, and register the model.

    With --csv: any flat CRM export (comma, semicolon or tab; UTF-8 or Latin-1; headers as
    people write them). Example: leadscore train --csv leads.csv --target Converted
    --id "Prospect ID".
    """
    _mlflow_defaults()
    clock_start = time.perf_counter()
    import pandas as pd

    from training.pipeline import RegistryTarget, StageTimes, run_training
    from training.train import TrainConfig, TrainingFrameError, prepare_lead_data

    times = StageTimes({"start and import libraries": time.perf_counter() - clock_start})
    settings = get_settings()
    if calibration not in ("platt", "isotonic"):
        raise _fail("--calibration must be 'platt' or 'isotonic'")
    config = TrainConfig(seed=seed, num_threads=threads, calibration=calibration)  # type: ignore[arg-type]
    uri = tracking_uri or settings.tracking_uri
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    warnings: list[str] = []
    extra: dict[str, Any] = {}
    if csv is not None:
        from training.csv_import import CsvImportError, prepare_csv, read_export

        if target is None:
            raise _fail("--csv needs --target COLUMN (the yes/no outcome)")
        try:
            with times.stage("read the export"):
                raw = read_export(csv)
            with times.stage("infer columns, clean, split"), library_output_to_log():
                data, imported = prepare_csv(
                    raw,
                    target,
                    config,
                    id_column=id_column,
                    time_column=time_column,
                    allow_protected=allow_protected,
                    drop=drop or (),
                    capacity_share=capacity_share,
                    source_name=csv.name,
                )
        except CsvImportError as exc:
            raise _fail(str(exc)) from exc
        for line in imported.lines():
            console.print(f"  {escape(line)}", soft_wrap=True)
        for warning in imported.warnings:
            err.print(f"[bold red]WARNING[/bold red] {escape(warning)}", soft_wrap=True)
        warnings = imported.warnings
        extra = {"source_file": csv.name, "target": target}
        name = model_name or CSV_MODEL
    else:
        try:
            with times.stage("build the training frame"):
                lead_frame = pd.read_parquet(frame) if frame else _training_frame(settings)
            data = prepare_lead_data(
                lead_frame,
                config,
                horizon_days=settings.horizon_days,
                capacity=settings.officer_capacity,
            )
        except TrainingFrameError as exc:
            raise _fail(str(exc)) from exc
        name = model_name or LEAD_MODEL
    sizes = data.slices.sizes()
    console.print(
        f"train {sizes['train_rows']:,} rows / early stopping {sizes['early_stopping_rows']:,} / "
        f"calibration {sizes['calibration_rows']:,} / test {sizes['test_rows']:,}"
    )
    from models.layout import FeatureFrameError
    from training.calibration import CalibrationError
    from training.evaluate import EvaluationError

    try:
        with console.status("training, evaluating, logging ..."), library_output_to_log():
            report = run_training(
                data,
                config,
                RegistryTarget(uri, settings.artifacts_dir, name),
                extra_params=extra,
                warnings=warnings,
                times=times,
            )
    except (FeatureFrameError, CalibrationError, EvaluationError) as exc:
        raise _fail(str(exc)) from exc
    _print_report(report, uri, name)
    if verbose:
        _print_times(times, time.perf_counter() - clock_start, config.num_threads)


def _print_times(times: StageTimes, total: float, threads: int) -> None:
    """Where the time went (--verbose)."""
    table = Table(title=f"time, {total:.1f} s in all (LightGBM on {threads} thread(s))")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("share", justify="right")
    for stage, seconds in times.seconds.items():
        table.add_row(stage, f"{seconds:.2f}", f"{seconds / total:.0%}")
    table.add_row("other (printing, the rest)", f"{total - times.total:.2f}", "")
    console.print(table)


def promote(
    version: Annotated[str, typer.Argument(help="registered version to make champion")],
    model_name: Annotated[str, typer.Option(help="registered model")] = LEAD_MODEL,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow store")] = None,
) -> None:
    """Make a version the champion by hand (the old champion becomes previous-champion)."""
    _mlflow_defaults()
    from training.registry import RegistryError
    from training.registry import promote as promote_version

    uri = tracking_uri or get_settings().tracking_uri
    try:
        previous = promote_version(uri, version, model_name=model_name, by="human")
    except RegistryError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"{model_name} v{version} is the champion (was: {previous or 'none'})")


def rollback(
    model_name: Annotated[str, typer.Option(help="registered model")] = LEAD_MODEL,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow store")] = None,
) -> None:
    """Give the champion alias back to the previous champion."""
    _mlflow_defaults()
    from training.registry import RegistryError
    from training.registry import rollback as rollback_champion

    uri = tracking_uri or get_settings().tracking_uri
    try:
        demoted, restored = rollback_champion(uri, model_name=model_name)
    except RegistryError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"{model_name}: champion v{demoted} rolled back to v{restored}")


def models(
    model_name: Annotated[str, typer.Option(help="registered model")] = LEAD_MODEL,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow store")] = None,
) -> None:
    """List the registered versions with aliases and key test metrics."""
    _mlflow_defaults()
    from training.registry import KEY_METRICS, RegistryError, list_models

    uri = tracking_uri or get_settings().tracking_uri
    try:
        versions = list_models(uri, model_name=model_name)
    except RegistryError as exc:
        raise _fail(str(exc)) from exc
    if not versions:
        console.print(f"no versions of '{model_name}' yet; run `leadscore train`")
        return
    table = Table(title=model_name)
    for column in ("version", "aliases", "created (UTC)", *KEY_METRICS, "failed gates"):
        table.add_column(column)
    for v in versions:
        table.add_row(
            v.version,
            ", ".join(v.aliases),
            v.created_at.strftime("%Y-%m-%d %H:%M"),
            *(f"{v.metrics[m]:.4f}" if m in v.metrics else "" for m in KEY_METRICS),
            v.gates_failed,
        )
    console.print(table)


def score(
    csv: Annotated[
        Path | None, typer.Option(help="rows to score (a CRM export or feature rows)")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="write the scores here (CSV; with --engine spark a parquet folder)"),
    ] = None,
    model_name: Annotated[
        str | None,
        typer.Option(
            help="registered model [default: lead-scorer when the file has every "
            "lead feature, else lead-scorer-csv]"
        ),
    ] = None,
    alias: Annotated[str, typer.Option(help="registry alias to load")] = "champion",
    version: Annotated[str | None, typer.Option(help="a version instead of the alias")] = None,
    reasons: Annotated[bool, typer.Option(help="add the top reasons (slower)")] = True,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow store")] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="'pandas' (this process) or 'spark' (MLflow's spark_udf on Apache Spark; "
            "needs --table and --out, and leadscore[spark])"
        ),
    ] = "pandas",
    table: Annotated[
        Path | None,
        typer.Option(help="with --engine spark: a parquet table of lead features and lead_id"),
    ] = None,
    master: Annotated[
        str | None,
        typer.Option(help="Spark master [default: LEADSCORE_SPARK_MASTER, local[*]]"),
    ] = None,
) -> None:
    """Probabilities, tiers (hot/warm/cold) and top reasons for every row of a CSV.

    A CRM export is cleaned as the model's training export was: its columns may come in any
    order, extra ones are ignored, absent ones are named and count as missing. The output
    keeps the export's id column and names columns by their original headers.
    With --engine spark, a parquet table of lead features is scored on Spark instead.
    """
    _mlflow_defaults()
    if engine not in {"pandas", "spark"}:
        raise _fail(f"--engine must be 'pandas' or 'spark', got {engine!r}")
    if engine == "spark":
        if table is None or out is None:
            raise _fail("--engine spark needs --table PATH (parquet) and --out PATH")
        _score_on_spark(table, out, alias, version, tracking_uri, master)
        return
    if csv is None:
        raise _fail("name the rows to score: --csv FILE (or --engine spark --table PATH)")
    from features.definitions import FEATURE_NAMES
    from models.layout import FeatureFrameError
    from models.registry import ModelNotFoundError, load_scorer
    from training.csv_import import (
        CsvImportError,
        CsvRecipe,
        absent_columns,
        read_export,
        score_csv,
    )

    uri = tracking_uri or get_settings().tracking_uri
    try:
        raw = read_export(csv)
    except CsvImportError as exc:
        raise _fail(str(exc)) from exc
    name = model_name or (LEAD_MODEL if set(FEATURE_NAMES) <= set(raw.columns) else CSV_MODEL)
    try:
        with library_output_to_log():
            scorer = load_scorer(uri, alias, model_name=name, version=version)
    except ModelNotFoundError as exc:
        raise _fail(f"{exc} (or pick one with --alias challenger / --version N)") from exc
    recipe = scorer.metadata.get("csv_recipe")
    absent = absent_columns(raw, CsvRecipe.from_dict(recipe)) if recipe else []
    if absent and len(absent) < len(scorer.layout.names):
        err.print(
            f"[yellow]warning:[/yellow] {len(absent)} column(s) the model uses are not in "
            f"{csv.name} and count as missing in every row: {absent}"
        )
    try:
        scores = score_csv(raw, scorer, reasons=reasons)
    except (CsvImportError, FeatureFrameError) as exc:
        raise _fail(str(exc)) from exc
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        scores.to_csv(out, index=False)
        console.print(f"scored {len(scores):,} rows with {scorer.version} -> {out}")
    else:
        shown = [c for c in ("id", "probability", "tier", "reason_1", "concern_1") if c in scores]
        console.print(scores.head(20)[shown].to_string(index=False))
        if len(scores) > 20:
            console.print(f"... {len(scores) - 20:,} more rows; use --out FILE to keep them all")
    console.print(scores["tier"].value_counts().to_string())


def _score_on_spark(
    table: Path,
    out: Path,
    alias: str,
    version: str | None,
    tracking_uri: str | None,
    master: str | None,
) -> None:
    """`leadscore score --engine spark`: the registered lead model through MLflow's spark_udf."""
    import mlflow

    from features.spark_engine import SparkUnavailableError, start_spark
    from models.registry import ModelNotFoundError, load_scorer
    from training.spark_scoring import TableError, score_table_on_spark

    settings = get_settings()
    uri = tracking_uri or settings.tracking_uri
    if not table.exists():
        raise _fail(f"{table} does not exist")
    try:
        with library_output_to_log():
            scorer = load_scorer(uri, alias, model_name=LEAD_MODEL, version=version)
    except ModelNotFoundError as exc:
        raise _fail(f"{exc} (or pick one with --alias challenger / --version N)") from exc
    spark_master = master or settings.spark_master
    try:
        with console.status(f"starting Spark ({spark_master}) ..."):
            spark = start_spark(spark_master, jvm_output=settings.home_dir / "logs" / "spark.log")
    except SparkUnavailableError as exc:
        raise _fail(str(exc)) from exc
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model_uri = f"models:/{scorer.version}"  # "<name>/<version>": the version loaded above
    try:
        with console.status("scoring on Spark ..."), library_output_to_log():
            rows = score_table_on_spark(spark, table, out, model_uri, scorer)
    except TableError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"scored {rows:,} rows on Spark with {scorer.version} -> {out}")


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command()(promote)
    app.command()(rollback)
    app.command()(models)
    app.command()(score)
