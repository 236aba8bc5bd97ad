"""`kill -9` of the server during a 10k-event ingest (issue 14, item 2.7): the batches the
crash interrupted are stored whole or not at all, and after a restart and the client's re-sends
every acknowledged event is stored exactly once. One crash a run here; 20 in
`python -m benchmarks.bench_crash` (benchmarks/results/crash.json)."""

from __future__ import annotations

import random

import pytest
from api_world import World

from benchmarks.bench_crash import leads_created, run_iteration

pytestmark = pytest.mark.slow


def test_a_server_killed_mid_ingest_loses_and_doubles_nothing_acknowledged(world: World) -> None:
    seed = random.SystemRandom().randrange(1_000_000)  # a new kill moment every run
    created = leads_created(world.root)
    result = run_iteration(world.root, created, world.now, seed, events=10_000, batch=500)
    assert result.problems == [], f"seed {seed}: {result}"
    assert result.resent_batches >= 1, f"seed {seed}: the kill came after the last answer"
