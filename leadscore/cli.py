"""The `leadscore` command line: one Typer app; command groups live in leadscore/commands/.

Every command runs inside ``GuardedGroup``: an error the command did not expect prints one line
(what failed, where the log is) and exits 1, never a traceback; the traceback's frames go to
the command log under the data home (leadscore/logging.py), with every library's log lines
and warnings.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from typer._click.core import Context as ClickContext  # typer vendors click 8
from typer.core import TyperGroup
from typer.exceptions import TyperException

from leadscore.commands import register_all
from leadscore.logging import command_log_path, configure_cli_logging, log_crash
from leadscore.settings import get_settings

UNEXPECTED_ERROR_EXIT = 1


class GuardedGroup(TyperGroup):
    """The command group that turns an unexpected exception into one line and exit code 1."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):  # the command's own way out
            raise
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            command = ctx.invoked_subcommand or "leadscore"
            if command_log_path() is None:  # it failed before the log was set up
                configure_cli_logging(Path(tempfile.gettempdir()) / "leadscore")
            log_crash(exc, command)
            typer.echo(
                f"error: `leadscore {command}` failed unexpectedly ({type(exc).__name__}); "
                f"the full log is in {command_log_path()}. Please report it with that log.",
                err=True,
            )
            raise typer.Exit(UNEXPECTED_ERROR_EXIT) from None


app = typer.Typer(
    cls=GuardedGroup,
    help="leadscore: whom every loan officer should call first today, and why.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    debug: bool = typer.Option(
        False, "--debug", help="log libraries at DEBUG level in the command log"
    ),
) -> None:
    """leadscore: whom every loan officer should call first today, and why."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        # Never echo the input: a database URL can hold a password.
        problems = "; ".join(
            f"LEADSCORE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        typer.echo(f"error: invalid setting(s): {problems} (see README, Settings)", err=True)
        raise typer.Exit(2) from None
    configure_cli_logging(settings.home_dir, debug=debug)


register_all(app)
