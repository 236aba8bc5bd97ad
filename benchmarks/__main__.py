"""Run benchmarks: `python -m benchmarks` runs all but the on-request ones; `python -m benchmarks
features` runs one."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("features", "training", "serving", "ingest", "csv_import", "crash", "report")
"""Each is benchmarks/bench_<name>.py, run in its own process so peak memory is its own."""
ON_REQUEST = ("forward", "spark")
"""Run only when named: the decision-sized forward-chaining evaluation takes hours, the Spark
builds at 1M/3M/10M events about one."""


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    known = (*BENCHMARKS, *ON_REQUEST)
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(known)}", file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        print(f"== benchmark: {name}", flush=True)
        code = subprocess.call([sys.executable, "-m", f"benchmarks.bench_{name}"])
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
