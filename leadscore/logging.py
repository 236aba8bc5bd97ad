"""Structured logs: one JSON object per line, on stderr for the service, in a file for the CLI.

Exceptions are logged as their type and stack frames, never their message: a message can carry
a value from a request or a CSV cell (a name, a phone number), and personal data never enters
the logs.

A CLI command's terminal shows only what the command prints: every log record (MLflow's INFO
lines, alembic, GX, ...), every Python warning and every line a library prints to stdout or
stderr goes to the command log, ``<data home>/logs/leadscore.log`` (``configure_cli_logging``,
``library_output_to_log``).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import logging.handlers
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

_STANDARD: Final = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime", "color_message"}
"""LogRecord attributes that are not the caller's `extra` fields."""

QUIET_LOGGERS: Final = ("uvicorn.access",)
"""Replaced by the service's own access log (route templates, request ids, no client address)."""

CHATTY_LIBRARIES: Final = (
    "great_expectations",
    "feast",
    "mlflow",
    "alembic",
    "matplotlib",
    "numba",
    "httpx",
    "urllib3",
)
"""Libraries whose INFO records are their own bookkeeping (GX logs hundreds of lines a start);
they log warnings and errors only, unless the level asked for is DEBUG."""


CLI_LOG_FILE: Final = Path("logs") / "leadscore.log"
"""The command log, under the data home."""
LOG_ROTATION: Final[dict[str, Any]] = {
    "maxBytes": 5_000_000,
    "backupCount": 2,
    "encoding": "utf-8",
    "delay": True,
}


class JsonFormatter(logging.Formatter):
    """ts, level, logger, msg, the record's extra fields; exceptions as type and frames."""

    def __init__(self, stack_frames: int = 12) -> None:
        super().__init__()
        self.stack_frames = stack_frames

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            data["error_type"] = type(error).__name__
            data["stack"] = [
                f"{frame.filename}:{frame.lineno} in {frame.name}"
                for frame in traceback.extract_tb(error.__traceback__)[-self.stack_frames :]
            ]
        return json.dumps(data, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Send every logger's records, as JSON lines, to stream (default stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).disabled = True
    library_level = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(library_level)
    logging.captureWarnings(True)  # a library's warning is a JSON line too, not raw stderr


class _CommandLogHandler(logging.handlers.RotatingFileHandler):
    """The CLI's file handler (a class of its own so a second command in one process replaces
    it instead of adding another)."""


def configure_cli_logging(home: Path, *, debug: bool = False) -> Path:
    """Send every logger's records and Python's warnings to the command log; return its path.

    Nothing reaches the terminal: MLflow is told not to attach its own stderr handler, and
    libraries log at INFO (DEBUG with ``debug``) into the file. When the data home cannot
    hold the log (it is a file, or read-only) the log goes to the temp directory instead.
    """
    os.environ["MLFLOW_CONFIGURE_LOGGING"] = "false"
    path = home / CLI_LOG_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = _CommandLogHandler(path, **LOG_ROTATION)
    except OSError:
        path = Path(tempfile.gettempdir()) / "leadscore" / CLI_LOG_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = _CommandLogHandler(path, **LOG_ROTATION)
    handler.setFormatter(JsonFormatter(stack_frames=100))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _CommandLogHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for name in (*CHATTY_LIBRARIES, "alembic", "sqlalchemy.engine"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    # MLflow's few INFO lines per run (run links, registrations) are worth keeping.
    logging.getLogger("mlflow").setLevel(logging.DEBUG if debug else logging.INFO)
    logging.captureWarnings(True)
    return path


class _LogStream(io.TextIOBase):
    """A text stream whose lines become INFO records of one logger."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self.logger = logger
        self.pending = ""

    def write(self, text: str) -> int:
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        for line in lines:
            if line.strip():
                self.logger.info(line.rstrip())
        return len(text)

    def flush(self) -> None:
        if self.pending.strip():
            self.logger.info(self.pending.rstrip())
        self.pending = ""


@contextlib.contextmanager
def library_output_to_log(name: str = "library.output") -> Iterator[None]:
    """Lines libraries print (MLflow's "Created version ..." goes straight to stderr) go to
    the log, not the terminal, while the block runs."""
    stream = _LogStream(logging.getLogger(name))
    with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
        try:
            yield
        finally:
            stream.flush()


def log_crash(error: BaseException, command: str) -> None:
    """Write an unexpected error's type and every stack frame to the log (not its message)."""
    logging.getLogger("leadscore.cli").error(
        "command failed unexpectedly", extra={"command": command}, exc_info=error
    )
    for handler in logging.getLogger().handlers:
        handler.flush()


def command_log_path() -> Path | None:
    """Where the command log is being written (None before configure_cli_logging)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _CommandLogHandler):
            return Path(handler.baseFilename)
    return None
