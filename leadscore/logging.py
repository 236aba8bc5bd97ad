"""Structured logs: one JSON object per line on stderr, for the service and the CLI.

Exceptions are logged as their type and stack frames, never their message: a message can carry
a value from a request (a name, a phone number), and personal data never enters the logs.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
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


class JsonFormatter(logging.Formatter):
    """ts, level, logger, msg, the record's extra fields; exceptions as type and frames."""

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
                for frame in traceback.extract_tb(error.__traceback__)[-12:]
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
