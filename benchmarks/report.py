"""How a benchmark reports: a printed table and a JSON file of figures under benchmarks/results/."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": _git_commit(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_child_rss_mib() -> float:
    """Peak resident memory of the largest finished child process (a build's fold workers)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


@contextmanager
def timed() -> Iterator[dict[str, float]]:
    """Wall-clock seconds of the block, in result['seconds']."""
    result: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - start


def child_step(module: str, *args: str) -> dict[str, Any]:
    """Run one step of a benchmark module in its own process (its peak memory is its own);
    the step prints its figures as JSON on its last line."""
    out = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark step {args} failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def write(
    name: str, figures: dict[str, Any], rows: Sequence[Sequence[Any]], header: Sequence[str]
) -> Path:
    """Print the table and write benchmarks/results/<name>.json."""
    table = Table(title=name)
    for column in header:
        table.add_column(str(column))
    for row in rows:
        table.add_row(*[_cell(v) for v in row])
    Console().print(table)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **figures}, indent=2, default=str) + "\n")
    Console().print(f"figures written to {path}")
    return path


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return str(value)
