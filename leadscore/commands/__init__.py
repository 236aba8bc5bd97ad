"""Command groups of the CLI; each module exposes register(app)."""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = ("data", "model", "service", "analysis")
"""leadscore/commands/<name>.py: data (simulate, ingest, validate, features, demo), model
(train, promote, rollback, models, score), service (serve, users, audit), analysis (backtest,
monitor)."""


def register_all(app: typer.Typer) -> None:
    """Attach every command module that exists; each defines register(app)."""
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"leadscore.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"leadscore.commands.{name}":
                raise
            continue
        module.register(app)
