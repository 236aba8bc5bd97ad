"""The `leadscore` command line: one Typer app; command groups live in leadscore/commands/."""

from __future__ import annotations

import typer

from leadscore.commands import register_all

app = typer.Typer(
    help="leadscore: whom every loan officer should call first today, and why.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
register_all(app)
