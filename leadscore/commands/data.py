"""Data commands: simulate, ingest, validate, features build, and the demo (the main job)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from leadscore.resources import open_event_log, open_feature_store
from leadscore.settings import Settings, get_settings

console = Console()
err = Console(stderr=True)

features_app = typer.Typer(
    help="Build and inspect engagement features (Feast).", no_args_is_help=True
)


def default_start(months: int, today: date | None = None) -> date:
    """`months` months before yesterday, so the simulated history ends just before today.

    (Ending yesterday keeps every simulated event in the past in any time zone, so none is
    rejected as 'in the future' and today's queue is built on a complete history.)
    """
    from simulator.clock import add_months

    yesterday = (today or datetime.now(UTC).date()) - timedelta(days=1)
    return add_months(yesterday, -months)


def simulate(
    officers: Annotated[int, typer.Option(help="loan officers")] = 5,
    months: Annotated[int, typer.Option(help="months of history")] = 12,
    leads_per_month: Annotated[int, typer.Option(help="new leads a month, all officers")] = 200,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same bytes")] = 7,
    start: Annotated[
        str | None,
        typer.Option(help="first day, YYYY-MM-DD [default: so the history ends yesterday]"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="output folder [default: $LEADSCORE_HOME/sim]")
    ] = None,
) -> None:
    """Write a synthetic mortgage CRM: leads, events, daily rates and the ground truth."""
    from simulator import SimulationConfig, SimulationConfigError, simulate, write_world

    settings = get_settings()
    try:
        first_day = date.fromisoformat(start) if start else default_start(months)
        config = SimulationConfig(
            officers=officers,
            months=months,
            leads_per_month=leads_per_month,
            seed=seed,
            start=first_day,
        )
    except (ValueError, SimulationConfigError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    target = out or settings.sim_dir
    with console.status(f"simulating {months} months for {officers} officers ..."):
        world = simulate(config)
        paths = write_world(world, target)
    applied = float(world.truth["applied"].mean())
    console.print(
        f"simulated {len(world.leads):,} leads and {len(world.events):,} events "
        f"from {config.start} to {config.end} (application rate {applied:.1%})"
    )
    for name, path in paths.items():
        console.print(f"  {name:<13} {path}")


def _default_inputs(settings: Settings) -> list[Path]:
    from features.ingestion import SIMULATOR_FILES

    paths = [settings.sim_dir / name for name, _ in SIMULATOR_FILES]
    missing = [p for p in paths if not p.exists()]
    if missing:
        err.print(
            f"[red]error:[/red] no files given and {missing[0]} does not exist; "
            "run `leadscore simulate` first or name the files to ingest"
        )
        raise typer.Exit(2)
    return paths


def ingest(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="CSV or JSON Lines files of leads, events or rates [default: simulated]"
        ),
    ] = None,
) -> None:
    """Load leads, events and rates through the data contracts into the event log.

    Valid rows are stored, invalid rows quarantined with their reasons (rule by rule below).
    Exits non-zero only when nothing usable came in.
    """
    from data_contracts import ContractError
    from features.ingestion import ingest_files

    settings = get_settings()
    paths = files or _default_inputs(settings)
    log = open_event_log(settings)
    try:
        with _progress() as bar:
            task = bar.add_task("ingest", total=len(paths))

            def show(path: Path, done: int, total: int) -> None:
                bar.update(task, description=path.name, completed=done, total=total)

            results = ingest_files(log, paths, now=datetime.now(UTC), progress=show)
            bar.update(task, completed=len(paths))
    except (ContractError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    table = Table(title=f"ingested into {_safe_url(settings.event_log_url)}")
    for column in ("file", "kind", "rows", "stored", "duplicates", "quarantined"):
        table.add_column(column, justify="right" if column not in ("file", "kind") else "left")
    for r in results:
        table.add_row(
            r.source,
            r.kind,
            f"{r.rows:,}",
            f"{len(r.stored):,}",
            f"{len(r.duplicates):,}",
            f"{r.quarantined + len(r.problems):,}",
        )
    console.print(table)
    for r in results:
        if r.report is not None and r.report.failures:
            console.print(r.report.render())
        for problem in r.problems:
            console.print(f"  {problem}")
    if not any(r.usable for r in results):
        err.print("[red]nothing usable came in[/red]")
        raise typer.Exit(1)


def validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="CSV or JSON Lines files [default: the simulated leads and events]"),
    ] = None,
) -> None:
    """Check files against the data contracts, rule by rule, without storing anything.

    Events are checked against the leads in the same call and in the event log.
    Exits 1 when any rule fails.
    """
    import pandas as pd

    from data_contracts import ContractError, read_table
    from data_contracts import validate as run_contract
    from features.ingestion import detect_kind

    settings = get_settings()
    paths = files or [p for p in _default_inputs(settings) if p.name != "rates.csv"]
    now = datetime.now(UTC)
    failed = False
    try:
        kinds = {p: detect_kind(p) for p in paths}
        created = open_event_log(settings).lead_created_at()
        for path in sorted(paths, key=lambda p: kinds[p] != "leads"):
            kind = kinds[path]
            if kind == "rates":
                continue
            with console.status(f"validating {path} ..."):
                raw = read_table(path, kind)
                result = run_contract(
                    raw, kind, now=now, lead_created_at=created if kind == "events" else None
                )
            if kind == "leads":
                fresh = result.valid.set_index("lead_id")["created_at"]
                created = pd.concat([created[~created.index.isin(fresh.index)], fresh])
            console.print(result.report.render())
            failed |= not result.report.ok
    except (ContractError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if failed:
        raise typer.Exit(1)


@features_app.command("build")
def features_build(
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="fold every event from scratch and replace the stored rows "
            "(default: only events that arrived since the last build)",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="processes a full build folds ranges of 20,000 leads in (default: one a core; "
            "a log of one range folds in this process)",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="where a full build folds: 'pandas' (this machine) or 'spark' (Apache Spark, "
            "same functions and rows; needs --full and leadscore[spark])",
        ),
    ] = "pandas",
    master: Annotated[
        str | None,
        typer.Option(
            "--master",
            help="Spark master for --engine spark, e.g. local[2] or spark://host:7077 "
            "[default: LEADSCORE_SPARK_MASTER, local[*]]",
        ),
    ] = None,
) -> None:
    """Fold the event log into stored feature rows -> parquet -> Feast offline and online.

    One stored row per lead per change (its creation and each event time); clock features
    (days since ..., windowed counts, months to the stated timeline, the rate gap) are derived
    when a score is asked for. Incremental: only events that arrived since the last build are
    folded, onto each touched lead's saved state; --full gives the same state from scratch.
    With --engine spark a full build's fold runs on Spark (Spark's own log: logs/spark.log).
    """
    from features.build import build_feature_store

    settings = get_settings()
    if engine not in {"pandas", "spark"}:
        err.print(f"[red]error:[/red] --engine must be 'pandas' or 'spark', got {engine!r}")
        raise typer.Exit(2)
    if engine == "spark" and not full:
        err.print(
            "[red]error:[/red] --engine spark runs full builds: add --full (an incremental build "
            "folds only the new events, in this process)"
        )
        raise typer.Exit(2)
    log = open_event_log(settings)
    store = open_feature_store(settings)
    spark_fold = None
    if engine == "spark":
        from features.spark_engine import SparkUnavailableError, spark_full_fold, start_spark

        spark_master = master or settings.spark_master
        try:
            with console.status(f"starting Spark ({spark_master}) ..."):
                spark = start_spark(
                    spark_master, jvm_output=settings.home_dir / "logs" / "spark.log"
                )
        except SparkUnavailableError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
        spark_fold = spark_full_fold(spark, settings.spark_work_dir)
    with _progress() as bar:
        task = bar.add_task("features", total=None)

        def show(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        report = build_feature_store(
            log,
            store,
            now=datetime.now(UTC),
            full=full,
            progress=show,
            workers=workers,
            spark_fold=spark_fold,
        )
    console.print(
        f"{report.mode} build: {report.events:,} events of {report.leads:,} leads folded into "
        f"{report.stored_rows:,} stored rows ({report.refolded_leads:,} leads refolded); "
        f"{report.online_rows:,} leads online "
        f"({', '.join(f'{k} {v:.1f}s' for k, v in report.seconds.items())})"
    )
    console.print(f"feature repository: {store.repo_dir}")
    if not report.validation.ok:
        console.print(report.validation.render())
        raise typer.Exit(1)


def demo(
    seed: Annotated[int, typer.Option(help="simulation seed")] = 7,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="end by running the API (uvicorn)")
    ] = True,
) -> None:
    """The main job on the embedded default: simulate, ingest, build features, train, serve."""
    settings = get_settings()
    console.rule("1. simulate")
    simulate(seed=seed)
    console.rule("2. ingest through the data contracts")
    ingest(files=None)
    console.rule("3. build features (Feast)")
    features_build(full=False)
    console.rule("4. train, evaluate, gate and register the model (MLflow)")
    from leadscore.commands.model import train

    train()
    console.print(f"\n[green]done.[/green] data home: {settings.home_dir}")
    from leadscore.commands.service import demo_service

    demo_service(settings, serve=serve)


def _progress() -> Progress:
    """A progress bar for steps longer than a second (files, months of snapshots)."""
    return Progress(
        TextColumn("{task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _safe_url(url: str) -> str:
    """A database URL without its password, for printing."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def register(app: typer.Typer) -> None:
    app.command()(simulate)
    app.command()(ingest)
    app.command()(validate)
    app.add_typer(features_app, name="features")
    app.command()(demo)
