"""Schemathesis 4 against the live OpenAPI, once per role's token.

`python -m benchmarks.bench_schemathesis [--examples 100] [--fresh]`.

A small world is made the product's way (2 officers, 6 months), `leadscore serve` starts on a
loopback port (the rate limit off: Schemathesis sends thousands of requests), and for each of
the crm, officer and admin tokens this runs

    st run URL/openapi.json --checks all --max-examples N --header 'Authorization: Bearer ...'

with a fixed seed and the JSON run report (`--report ndjson`). The three runs together cover every
operation with the role allowed to use it and every operation with roles that are not (which
must answer their documented 403/404, never a 5xx). Reported per role: operations, test cases
sent, failures by check (5xx, schema violations, undocumented status codes, ...), and the
exit code; figures in benchmarks/results/schemathesis.json, the failures' reproductions in the
report folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.bench_serving import _tokens, prepare_home, start_server
from benchmarks.report import write

SIMULATION = ("--officers", "2", "--months", "6", "--leads-per-month", "150", "--seed", "5")
SERVER_ERROR_CHECK = "not_a_server_error"


def _st() -> str:
    return str(Path(sys.executable).with_name("st"))


def run_role(port: int, role: str, token: str, examples: int, out: Path) -> dict[str, Any]:
    """One `st run` with this role's token; its NDJSON event stream summarised."""
    out.mkdir(parents=True, exist_ok=True)
    events = out / f"{role}.ndjson"
    command = [
        _st(),
        "run",
        f"http://127.0.0.1:{port}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(examples),
        "--seed",
        "20261203",
        "--header",
        f"Authorization: Bearer {token}",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(events),
        "--no-color",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
    ]
    clock = time.perf_counter()
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, "NO_COLOR": "1"}
    )
    seconds = time.perf_counter() - clock
    (out / f"{role}.txt").write_text(result.stdout[-200_000:] + result.stderr[-20_000:])
    return {**summarise(events), "exit_code": result.returncode, "seconds": round(seconds, 1)}


def summarise(events: Path) -> dict[str, Any]:
    """Operations, test cases and failed checks from Schemathesis' NDJSON events."""
    operations: set[str] = set()
    cases = 0
    failures: dict[str, int] = {}
    where: dict[str, list[str]] = {}
    unique: set[tuple[Any, Any, Any]] = set()
    statuses: dict[str, int] = {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        for kind, body in event.items():
            if kind != "ScenarioFinished" or not isinstance(body, dict):
                continue
            recorder = body.get("recorder") or {}
            label = recorder.get("label")
            if label:
                operations.add(label)
            for interaction in (recorder.get("interactions") or {}).values():
                response = interaction.get("response") or {}
                if response:
                    cases += 1
                    code = str(response.get("status_code"))
                    statuses[code] = statuses.get(code, 0) + 1
            for check in _checks(recorder):
                if check.get("status") == "failure":
                    failure = check.get("failure_info", {}).get("failure", {})
                    key = (failure.get("code"), failure.get("operation"), failure.get("title"))
                    unique.add(key)
    for code, operation, title in unique:
        name = f"{code} {title}"
        failures[name] = failures.get(name, 0) + 1
        where.setdefault(name, []).append(str(operation))
    server_errors = sum(n for code, n in statuses.items() if code.startswith("5"))
    return {
        "operations": len(operations),
        "cases": cases,
        "statuses": dict(sorted(statuses.items())),
        "server_errors": server_errors,
        "failed_checks": dict(sorted(failures.items())),
        "failed_operations": {k: sorted(v) for k, v in sorted(where.items())},
    }


def _checks(node: Any) -> Iterator[dict[str, Any]]:
    """Every check result ({"name", "status", ...}) anywhere in a recorder."""
    if isinstance(node, dict):
        if "name" in node and "status" in node:
            yield node
        for value in node.values():
            yield from _checks(value)
    elif isinstance(node, list):
        for value in node:
            yield from _checks(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, default=Path(tempfile.gettempdir()) / "leadscore-bench-st"
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the data home")
    parser.add_argument("--examples", type=int, default=100, help="test cases per operation")
    parser.add_argument("--roles", default="crm,officer,admin", help="tokens to run with")
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    prepare_home(args.home, fresh=args.fresh, simulation=SIMULATION)
    tokens = _tokens(args.home)
    report_dir = args.home / "schemathesis"
    server = start_server(args.home, tokens["admin"], deadline_s=600)
    try:
        runs = {
            role: run_role(server.port, role, tokens[role], args.examples, report_dir)
            for role in args.roles.split(",")
        }
    finally:
        server.stop()
    figures = {"examples_per_operation": args.examples, "report_dir": str(report_dir), "runs": runs}
    rows = [
        (
            role,
            run["operations"],
            run["cases"],
            run["server_errors"],
            ", ".join(f"{k} {v}" for k, v in run["failed_checks"].items()) or "none",
            run["server_errors"] == 0 and not run["failed_checks"],
        )
        for role, run in runs.items()
    ]
    write(
        "schemathesis",
        figures,
        rows,
        ("token", "operations", "test cases", "5xx", "failed checks (unique)", "clean"),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
