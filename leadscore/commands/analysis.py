"""Analysis commands: the follow-up policy backtest and the drift monitor."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from leadscore.settings import get_settings

if TYPE_CHECKING:
    import pandas as pd

    from models.scorer import LeadScorer
    from training.monitoring import MonitorReport

console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _mlflow_defaults() -> None:
    """No usage telemetry and no progress bars from MLflow unless the user asks for them."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def serving_queue_builder(
    candidates: pd.DataFrame,
    *,
    officer_id: str,
    at_utc: datetime,
    capacity: int,
    rank_by: Literal["probability", "expected_value"],
    compensation_bps: float,
) -> list[tuple[str, str]]:
    """The production queue (serving.queue.build_queue) as the backtest's queue builder."""
    from serving.queue import build_queue

    result = build_queue(
        candidates,
        officer_id=officer_id,
        at_utc=at_utc,
        capacity=capacity,
        rank_by=rank_by,
        compensation_bps=compensation_bps,
    )
    return [(item.lead_id, str(item.channel)) for item in result.items]


def backtest(
    officers: Annotated[int, typer.Option(help="loan officers")] = 5,
    months: Annotated[int, typer.Option(help="months replayed")] = 12,
    seed: Annotated[
        int, typer.Option(help="simulation seed (the same leads for every policy)")
    ] = 7,
    capacity: Annotated[
        int, typer.Option(help="follow-up calls per officer a day [default: 15]")
    ] = 15,
    leads_per_month: Annotated[
        int | None, typer.Option(help="new leads a month, all officers [default: 40 per officer]")
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            help="'train': train on a separate simulated history (reproducible); "
            "'champion': the registry's champion"
        ),
    ] = "train",
    policy: Annotated[
        list[str] | None,
        typer.Option(help="run only this policy (repeatable), e.g. oracle+lane [default: all]"),
    ] = None,
    jobs: Annotated[int, typer.Option(help="policies simulated at once (processes)")] = 2,
    out: Annotated[
        Path | None, typer.Option(help="report folder [default: $LEADSCORE_HOME/reports/backtest]")
    ] = None,
) -> None:
    """Replay a simulated year under each follow-up policy and compare the outcomes.

    Prints the table (the brief's before/after beside ours) and writes backtest.json,
    backtest.md and backtest.png. Every figure except the brief's is simulated.
    """
    _mlflow_defaults()
    from training.backtest import (
        POLICY_ORDER,
        BacktestConfig,
        BacktestError,
        caption,
        run_backtest,
        write_backtest_report,
    )

    settings = get_settings()
    if model not in ("train", "champion"):
        raise _fail("--model must be 'train' or 'champion'")
    try:
        config = BacktestConfig(
            officers=officers,
            months=months,
            seed=seed,
            capacity=capacity,
            leads_per_month=leads_per_month,
            start=date(2025, 1, 1),
            horizon_days=settings.horizon_days,
            compensation_bps=settings.compensation_bps,
            jobs=jobs,
        )
        config.simulation()
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    scorer = None
    source = ""
    if model == "champion":
        from models.registry import ModelNotFoundError, load_scorer

        try:
            scorer = load_scorer(settings.tracking_uri)
        except ModelNotFoundError as exc:
            raise _fail(f"{exc} (or run with --model train)") from exc
        source = f"the registry champion {scorer.version}"
    with console.status("backtesting ...") as status:
        try:
            result = run_backtest(
                config,
                queue_builder=serving_queue_builder,
                scorer=scorer,
                model_source=source,
                policies=policy or POLICY_ORDER,
                progress=lambda message: status.update(message),
            )
        except BacktestError as exc:
            raise _fail(str(exc)) from exc
    console.print(_backtest_table(result.formatted_table(), wide=console.width >= WIDE_TABLE))
    console.print(caption(result), style="dim")
    paths = write_backtest_report(result, out or settings.reports_dir / "backtest")
    for name, path in paths.items():
        console.print(f"  {name:<9} {path}")


def forward(
    officers: Annotated[int, typer.Option(help="loan officers")] = 5,
    months: Annotated[int, typer.Option(help="months of simulated history")] = 12,
    seed: Annotated[int, typer.Option(help="simulation seed")] = 7,
    cutoffs: Annotated[
        int, typer.Option(help="rolling origins, one window apart (as many as the history allows)")
    ] = 3,
    window_days: Annotated[int, typer.Option(help="days of queues after each cut-off")] = 28,
    capacity: Annotated[
        int | None, typer.Option(help="queue length: calls per officer a day [default: settings]")
    ] = None,
    paths: Annotated[
        int, typer.Option(help="random futures per lead-day for the as-of oracle")
    ] = 64,
    resamples: Annotated[int, typer.Option(help="bootstrap resamples of the leads")] = 1000,
    out: Annotated[
        Path | None, typer.Option(help="report folder [default: $LEADSCORE_HOME/reports/forward]")
    ] = None,
) -> None:
    """Evaluate the model as the product uses it, on a simulated history (forward-chaining).

    At each cut-off: train on what was known then (labels matured by the cut-off), rebuild every
    officer's real queue on each workday of the window with the production queue builder, and
    count the applications whose lead was in its officer's queue within the horizon before it
    applied. Prints every method (model, rules, logistic regression, both oracles) with 95%
    intervals by lead, the model's paired differences, and writes forward.json. Simulated.
    """
    _mlflow_defaults()
    from training.forward import (
        COMPARED,
        ForwardConfig,
        ForwardError,
        run_forward,
        summary_table,
        verdict,
        write_forward_report,
    )

    settings = get_settings()
    try:
        config = ForwardConfig(
            officers=officers,
            months=months,
            seed=seed,
            cutoffs=cutoffs,
            window_days=window_days,
            capacity=capacity or settings.officer_capacity,
            horizon_days=settings.horizon_days,
            compensation_bps=settings.compensation_bps,
            paths=paths,
            resamples=resamples,
        )
        config.simulation()
        config.cutoff_dates()
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    with console.status("forward-chaining ...") as status:
        try:
            result = run_forward(
                config,
                queue_builder=serving_queue_builder,
                progress=lambda message: status.update(message),
            )
        except ForwardError as exc:
            raise _fail(str(exc)) from exc
    for cutoff, window in zip(result.per_cutoff, result.windows, strict=True):
        found = result.per_cutoff[cutoff]
        console.print(
            f"cut-off {cutoff}: trained on {window.training['rows']:,} rows of "
            f"{window.training['leads']:,} leads ({window.training['applying_leads']} applied); "
            f"then {config.window_days} days of queues: {found.evidence.leads:,} open leads, "
            f"{found.applications} applications ({found.evidence.rows:,} lead-days)"
        )
    pooled = result.pooled
    table = Table(
        title=f"Forward-chaining evaluation, {len(result.windows)} cut-off(s) pooled (SIMULATED)",
        title_justify="left",
    )
    summary = summary_table(pooled)
    table.add_column("method", no_wrap=True)
    for column in summary.columns:
        table.add_column(str(column).replace("_", " "), justify="right")
    for method, row in summary.iterrows():
        table.add_row(str(method), *row.tolist())
    console.print(table)
    console.print(
        f"evidence: {pooled.applications} applications counted (per cut-off) of "
        f"{pooled.evidence.applying_leads} applying leads among {pooled.evidence.leads:,} open "
        f"leads ({pooled.evidence.rows:,} lead-days); queue {config.capacity} a day; intervals "
        f"from {config.resamples:,} resamples of the leads",
        style="dim",
    )
    for compared in COMPARED:
        for metric in ("application_capture", "roc_auc"):
            console.print(f"  {verdict(pooled, compared, metric)}")
    path = write_forward_report(result, out or settings.reports_dir / "forward")
    console.print(f"  json      {path}")


WIDE_TABLE = 160
"""Terminal columns from which the backtest table is printed as in the brief (metrics as rows,
the brief's before/after and every policy as columns); narrower terminals get it transposed."""


def _backtest_table(formatted: pd.DataFrame, *, wide: bool) -> Table:
    title = "Follow-up policy backtest (SIMULATED)"
    table = Table(title=title, title_justify="left")
    if wide:
        table.add_column("metric")
        for column in formatted.columns:
            table.add_column(str(column).replace("+", "\n+"), justify="right")
        for label, row in formatted.iterrows():
            table.add_row(str(label), *row.tolist())
        return table
    short = ("response", "touches", "5+", "applied", "funded/mo", "$/month")
    table.add_column("policy", no_wrap=True)
    for name in short[: len(formatted.index)]:
        table.add_column(name, justify="right")
    for column in formatted.columns:
        table.add_row(str(column), *formatted[column].tolist())
    return table


def _read_table(path: Path) -> pd.DataFrame:
    import pandas as pd

    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    raise _fail(f"--reference {path}: use a .parquet or .csv file")


def monitor(
    fail_on_drift: Annotated[
        bool, typer.Option(help="exit with code 1 when anything drifted (for schedulers)")
    ] = False,
    reference: Annotated[
        Path | None,
        typer.Option(
            help="reference rows (.parquet/.csv): a training frame, or stored rows with an as_of "
            "column [default: open leads' features over the --reference-days before the recent "
            "window]"
        ),
    ] = None,
    recent_days: Annotated[
        int, typer.Option(help="days of open leads' features that count as recent")
    ] = 30,
    reference_days: Annotated[
        int,
        typer.Option(
            help="days before the recent window that form the reference (the newest stretch "
            "of the champion's training data)"
        ),
    ] = 30,
    alias: Annotated[
        str, typer.Option(help="registry alias of the model whose scores to check")
    ] = ("champion"),
    max_rows: Annotated[
        int, typer.Option(help="rows sampled per window (a lead's days are near-duplicates)")
    ] = 100_000,
    log_to_mlflow: Annotated[
        bool, typer.Option("--mlflow/--no-mlflow", help="log the report as an MLflow run")
    ] = True,
    out: Annotated[
        Path | None, typer.Option(help="report folder [default: $LEADSCORE_HOME/reports/monitor]")
    ] = None,
) -> None:
    """Compare recent features, scores and outcomes with the reference; write an HTML report.

    PSI per feature (open leads, and the profile of new leads), missing-value rates, PSI of the
    model's scores, and realized against predicted application rate by score decile once
    outcomes have arrived. Thresholds: training/monitoring.py (THRESHOLDS).
    """
    _mlflow_defaults()
    import numpy as np
    import pandas as pd

    from features.definitions import FEATURE_NAMES
    from features.transforms import label_entities, open_rows_from
    from leadscore.resources import open_event_log, open_feature_store
    from training.monitoring import (
        MonitoringError,
        Windows,
        build_monitor_report,
        log_monitor_run,
        model_rows,
        outcome_window,
        reference_rows,
        sample_rows,
        split_windows,
        write_monitor_report,
    )

    settings = get_settings()
    notes: list[str] = []
    try:
        folded = open_feature_store(settings).read_rows()
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from exc
    # Every open lead each day at 15:00 UTC (a US morning), as far back as the windows reach.
    last_day = pd.Timestamp(folded["changed_at"].max()).floor("D")
    span = recent_days + reference_days + settings.horizon_days
    grid = pd.date_range(last_day - pd.Timedelta(days=span), last_day, freq="D")
    stored = open_rows_from(
        folded, open_event_log(settings).market_rates(), grid + pd.Timedelta(hours=15)
    )
    del folded
    with console.status("reading features ..."):
        try:
            rows = model_rows(stored)
            del stored
            if reference is None:
                ref, recent, windows = split_windows(
                    rows, recent_days=recent_days, reference_days=reference_days
                )
            else:
                ref = reference_rows(_read_table(reference))
                _, recent, split = split_windows(rows, recent_days=recent_days, reference_days=0)
                windows = Windows(None, None, split.recent_start, split.recent_end)
                notes.append(f"reference: {reference.name}")
        except MonitoringError as exc:
            raise _fail(str(exc)) from exc
    if ref.empty:
        raise _fail(
            f"no reference rows in the {reference_days} days before the last {recent_days}; "
            "build features over a longer history or pass --reference FILE"
        )
    ref, recent = sample_rows(ref, max_rows), sample_rows(recent, max_rows)
    scorer = _monitored_scorer(settings.tracking_uri, alias, notes)
    reference_scores = recent_scores = None
    outcomes = None
    if scorer is not None:
        with console.status("scoring ..."):
            reference_scores = scorer.predict_proba(ref[list(FEATURE_NAMES)])
            recent_scores = scorer.predict_proba(recent[list(FEATURE_NAMES)])
            events = open_event_log(settings).events()
            if events.empty:
                notes.append("the event log has no events: no outcomes to compare yet")
            else:
                data_end = events["occurred_at"].max()
                done, start, end = outcome_window(
                    rows, data_end=data_end, horizon_days=settings.horizon_days,
                    recent_days=recent_days,
                )  # fmt: skip
                done = sample_rows(done, max_rows)
                if done.empty:
                    notes.append("no rows have a complete label horizon yet: no outcomes")
                else:
                    outcomes = done.assign(
                        label=label_entities(done, events, settings.horizon_days).to_numpy(),
                        probability=scorer.predict_proba(done[list(FEATURE_NAMES)]),
                    )
                    windows = Windows(
                        windows.reference_start, windows.reference_end, windows.recent_start,
                        windows.recent_end, start, end,
                    )  # fmt: skip
    report = build_monitor_report(
        ref,
        recent,
        windows=windows,
        reference_scores=None if reference_scores is None else np.asarray(reference_scores),
        recent_scores=None if recent_scores is None else np.asarray(recent_scores),
        outcomes=outcomes,
        model_version=None if scorer is None else scorer.version,
        notes=notes,
    )
    html_path = write_monitor_report(report, out or settings.reports_dir / "monitor")
    _print_monitor(report)
    console.print(f"report: {html_path}")
    if log_to_mlflow:
        run_id = log_monitor_run(
            report,
            html_path,
            tracking_uri=settings.tracking_uri,
            artifacts_dir=settings.artifacts_dir,
        )
        console.print(f"MLflow run {run_id} (experiment lead-scoring-monitoring)")
    if fail_on_drift and report.status == "drift":
        err.print("[red]drift detected[/red] (--fail-on-drift)")
        raise typer.Exit(1)


def _monitored_scorer(tracking_uri: str, alias: str, notes: list[str]) -> LeadScorer | None:
    from models.registry import ModelNotFoundError, load_scorer

    try:
        return load_scorer(tracking_uri, alias)
    except ModelNotFoundError:
        notes.append(f"no model with alias '{alias}' in the registry: scores and outcomes skipped")
        return None


def _print_monitor(report: MonitorReport) -> None:
    colors = {"ok": "green", "warn": "yellow", "drift": "red", "n/a": "dim"}
    console.print(
        f"status: [{colors[report.status]}]{report.status.upper()}[/{colors[report.status]}]  "
        f"model: {report.model_version or 'none'}"
    )
    for name, value in report.windows.describe().items():
        console.print(f"  {name}: {value}")
    table = Table(title="most moved features (PSI)", title_justify="left")
    for column in ("population", "feature", "PSI", "missing ref", "missing recent", "status"):
        table.add_column(column, justify="left" if column in ("population", "feature") else "right")
    for population, frame in report.populations.items():
        for row in frame.head(5).itertuples():
            table.add_row(
                population,
                str(row.feature),
                f"{row.psi:.3f}",
                f"{row.missing_reference:.1%}",
                f"{row.missing_recent:.1%}",
                f"[{colors[str(row.status)]}]{row.status}[/{colors[str(row.status)]}]",
            )
    console.print(table)
    if report.score is not None:
        for row in report.score.itertuples():
            console.print(f"  score PSI, {row.population}: {row.psi:.3f} ({row.status})")
    if report.calibration is not None:
        console.print(
            f"  realized vs predicted by decile: mean |gap| {report.calibration_gap:.4f} "
            f"({report.calibration_status})"
        )
    for note in report.notes:
        console.print(f"  note: {note}", style="dim")
    drifted = report.drifted("drift")
    if drifted:
        console.print(f"[red]drift:[/red] {', '.join(drifted)}")


def register(app: typer.Typer) -> None:
    app.command()(backtest)
    app.command()(forward)
    app.command()(monitor)
