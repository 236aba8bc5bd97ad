"""Command groups of the CLI; each module exposes register(app)."""

from __future__ import annotations

import typer

from leadscore.commands import analysis, data, model, report, service, webhooks


def register_all(app: typer.Typer) -> None:
    """Attach every command group: data (simulate, ingest, validate, features, demo), model
    (train, promote, rollback, models, score), service (serve, users, audit), webhooks, analysis
    (backtest, forward, monitor), report (the team report)."""
    for module in (data, model, service, webhooks, analysis, report):
        module.register(app)
