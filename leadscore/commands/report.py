"""The team report command: `leadscore report` writes the team page's charts and tables."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from leadscore.resources import open_event_log
from leadscore.settings import get_settings

console = Console()
err = Console(stderr=True)


def report(
    since: Annotated[
        str,
        typer.Option(
            help="90d (the 90 days ending today, from midnight in the workday time zone), a "
            "date YYYY-MM-DD, or an ISO date-time with an offset"
        ),
    ] = "90d",
    until: Annotated[
        str | None,
        typer.Option(help="a date (that day included) or an ISO date-time [default: now]"),
    ] = None,
    officer: Annotated[
        str | None, typer.Option(help="one officer's id [default: all officers]")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="folder for the report [default: $LEADSCORE_HOME/reports/team]"),
    ] = None,
) -> None:
    """Team analytics for a period: speed to lead, touches per lead, contact rates by channel,
    local hour and weekday, conversion by follow-up intensity, time to application,
    applications and revenue by source and officer, capacity used per day.

    Writes report.md (the tables), one SVG per chart and report.json (what GET /v1/analytics
    answers); prints the key figures. The same figures as the /team page.
    """
    from zoneinfo import ZoneInfo

    from serving.analytics import (
        AnalyticsInputError,
        known_officers,
        read_team_activity,
        report_window,
        team_report,
    )
    from serving.analytics_views import key_figures, markdown, sections, window_text
    from serving.db import create_serving_tables

    settings = get_settings()
    log = open_event_log(settings)
    try:
        create_serving_tables(log.engine)
        officers = known_officers(log)
        if not officers:
            err.print(
                "[red]error:[/red] the event log holds no leads yet: run `leadscore ingest` "
                "(or `leadscore demo`) first"
            )
            raise typer.Exit(2)
        window = report_window(since, until, officer, zone=ZoneInfo(settings.workday_time_zone))
        clock = time.perf_counter()
        activity = read_team_activity(log, window)
        read_s = time.perf_counter() - clock
    except AnalyticsInputError as exc:
        hint = (
            f"; officers with leads: {', '.join(officers[:20])}" if exc.field == "officer" else ""
        )
        err.print(f"[red]error:[/red] --{exc.field}: {exc}{hint}")
        raise typer.Exit(2) from None
    finally:
        log.dispose()
    clock = time.perf_counter()
    result = team_report(
        activity,
        window,
        default_capacity=settings.officer_capacity,
        compensation_bps=settings.compensation_bps,
    )
    figures_s = time.perf_counter() - clock
    clock = time.perf_counter()
    drawn = sections(result)
    charts_s = time.perf_counter() - clock

    folder = out or settings.reports_dir / "team"
    folder.mkdir(parents=True, exist_ok=True)
    written = {"markdown": folder / "report.md", "json": folder / "report.json"}
    written["markdown"].write_text(markdown(result, drawn), encoding="utf-8")
    written["json"].write_text(json.dumps(result.to_dict(), indent=1) + "\n", encoding="utf-8")
    for chart in (c for s in drawn for c in s.charts):
        path = folder / f"{chart.name}.svg"
        path.write_text(chart.svg, encoding="utf-8")
        written[chart.name] = path

    table = Table(title=f"team report: {window_text(result)}")
    for column in ("figure", "value", "note"):
        table.add_column(column)
    for figure in key_figures(result):
        table.add_row(figure.label, figure.value, figure.note)
    console.print(table)
    console.print(
        f"{len(activity.events):,} events and {len(activity.new_leads):,} new leads read in "
        f"{read_s:.2f} s; figures {figures_s:.2f} s; charts {charts_s:.2f} s",
        style="dim",
    )
    for name, path in written.items():
        console.print(f"  {name:<28} {path}")


def register(app: typer.Typer) -> None:
    app.command()(report)
