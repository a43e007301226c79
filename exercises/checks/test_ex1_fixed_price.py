"""Checks of exercise 1 (a fixed-price policy and its expected profit)."""

import baselines
import numpy as np
import pytest

from exercises.common import LADDER, implementation, random_instances, rng_for, rollout

ex = implementation("ex1_fixed_price")
INSTANCES = random_instances(1, 4)
MARKDOWNS = (0.0, 0.25, 0.5, 0.8)


@pytest.mark.parametrize("inst", INSTANCES[:2], ids=str)
def test_simulate_replays_the_env(inst):
    seed = int(rng_for(1).integers(1_000_000))
    env = inst.make_env()
    action = env.unwrapped.encode_action(markdown=0.3)
    expected = rollout(env, lambda obs: action, range(seed, seed + 20))
    got = np.asarray(ex.simulate(inst, 0.3, 20, seed), dtype=float)
    np.testing.assert_allclose(got, expected, atol=1e-9)


@pytest.mark.parametrize("inst", INSTANCES, ids=str)
def test_expected_profit_is_exact(inst):
    """Equal to the exact DP whose ladder holds only that markdown."""
    for m in MARKDOWNS:
        exact = baselines.make("sdp", inst.make_env(ladder=[m])).value_estimate
        assert ex.expected_profit(inst, m) == pytest.approx(exact, abs=1e-6), f"markdown {m}"


@pytest.mark.parametrize("inst", INSTANCES[:2], ids=str)
def test_expected_profit_matches_simulation(inst):
    seed = int(rng_for(1).integers(1_000_000, 2_000_000))
    for m in (0.2, 0.6):
        sim = np.asarray(ex.simulate(inst, m, 1000, seed), dtype=float)
        se = sim.std(ddof=1) / np.sqrt(len(sim))
        assert abs(ex.expected_profit(inst, m) - sim.mean()) <= 4 * se + 1e-9, f"markdown {m}"


@pytest.mark.parametrize("inst", INSTANCES, ids=str)
def test_best_fixed_markdown(inst):
    """As good as the exact DP allowed one markdown for the whole event (max_changes=0)."""
    best = ex.best_fixed_markdown(inst)
    assert np.isclose(LADDER, best).any(), f"{best} is not on the ladder"
    exact = baselines.make("sdp", inst.make_env(max_changes=0)).value_estimate
    assert ex.expected_profit(inst, best) == pytest.approx(exact, abs=1e-6)
