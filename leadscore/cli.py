"""The `leadscore` command line."""

from __future__ import annotations

import typer

app = typer.Typer(help="leadscore: whom every loan officer should call first today, and why.")


@app.command()
def version() -> None:
    """Print the leadscore version."""
    typer.echo("0.1.0")
