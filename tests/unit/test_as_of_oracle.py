"""The as-of oracle knows the past and not the future: two histories that share their past and
differ after the as-of day give it the same states and the same answer; another past changes
it; another Monte Carlo seed moves it only by Monte Carlo noise; and it is calibrated better
than a constant."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from features.transforms import label_entities
from simulator import SimulatedWorld, SimulationConfig, SimulationConfigError, simulate
from simulator.as_of import AsOfOracleError, as_of_propensity

AS_OF = date(2025, 4, 2)
DAYS = tuple(AS_OF + timedelta(days=k) for k in range(0, 42, 3))
CONFIG = SimulationConfig(
    officers=2,
    months=6,
    leads_per_month=120,
    seed=17,
    start=date(2025, 1, 1),
    as_of_state_dates=DAYS,
)


@pytest.fixture(scope="module")
def world() -> SimulatedWorld:
    return simulate(CONFIG)


@pytest.fixture(scope="module")
def other_future() -> SimulatedWorld:
    """The same past to the start of AS_OF, every draw after it from another seed."""
    return simulate(replace(CONFIG, future_seed=9_999, future_from=AS_OF))


def _on(world: SimulatedWorld, day: date) -> pd.DataFrame:
    states = world.as_of_states
    return states.loc[states["date"] == day.isoformat()].reset_index(drop=True)


def test_another_future_changes_the_outcomes_not_the_as_of_answer(
    world: SimulatedWorld, other_future: SimulatedWorld
) -> None:
    cut = pd.Timestamp(AS_OF, tz="America/Chicago").tz_convert("UTC")
    before = world.events.loc[world.events["occurred_at"] < cut]
    pd.testing.assert_frame_equal(
        before, other_future.events.loc[other_future.events["occurred_at"] < cut]
    )
    after = world.events.loc[world.events["occurred_at"] >= cut]
    assert not after.reset_index(drop=True).equals(
        other_future.events.loc[other_future.events["occurred_at"] >= cut].reset_index(drop=True)
    ), "the futures must really differ"
    states, others = _on(world, AS_OF), _on(other_future, AS_OF)
    pd.testing.assert_frame_equal(states, others)
    np.testing.assert_array_equal(
        as_of_propensity(states, CONFIG, paths=32, seed=1),
        as_of_propensity(others, CONFIG, paths=32, seed=1),
    )


def test_another_past_changes_the_answer(world: SimulatedWorld) -> None:
    """Draws from two weeks before the as-of day on differ: the states and answers must too."""
    other_past = simulate(replace(CONFIG, future_seed=9_999, future_from=AS_OF - timedelta(14)))
    states = _on(world, AS_OF)
    others = _on(other_past, AS_OF).set_index("lead_id")
    common = states.loc[states["lead_id"].isin(others.index)].reset_index(drop=True)
    others = others.loc[common["lead_id"]].reset_index()
    assert not np.allclose(common["readiness"], others["readiness"])
    here = as_of_propensity(common, CONFIG, paths=32, seed=1)
    there = as_of_propensity(others, CONFIG, paths=32, seed=1)
    assert np.abs(here - there).max() > 0.01


def test_another_monte_carlo_seed_moves_it_only_by_noise(world: SimulatedWorld) -> None:
    states = _on(world, AS_OF)
    a = as_of_propensity(states, CONFIG, paths=64, seed=1)
    b = as_of_propensity(states, CONFIG, paths=64, seed=2)
    assert not np.array_equal(a, b)
    assert np.corrcoef(a, b)[0, 1] > 0.97
    assert abs(a.mean() - b.mean()) < 0.1 * a.mean()


def test_it_is_calibrated_better_than_a_constant(world: SimulatedWorld) -> None:
    states = world.as_of_states
    p = as_of_propensity(states, CONFIG, paths=32, seed=3)
    y = label_entities(states[["lead_id", "as_of"]], world.events, 30).to_numpy(dtype=float)
    assert y.sum() >= 10, "too few applications to judge calibration"
    constant = np.full(len(y), y.mean())
    assert np.mean((p - y) ** 2) < np.mean((constant - y) ** 2)
    assert p.mean() == pytest.approx(y.mean(), rel=0.5)
    top = p >= np.quantile(p, 0.9)
    assert y[top].mean() > 3 * y.mean(), "the top decile must hold far more applications"


def test_bad_requests_say_what_to_change(world: SimulatedWorld) -> None:
    with pytest.raises(AsOfOracleError, match="as_of_state_dates"):
        as_of_propensity(world.leads, CONFIG)
    with pytest.raises(SimulationConfigError, match="set both or neither"):
        SimulationConfig(future_seed=3)
