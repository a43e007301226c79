"""Checks of exercise 3 (the markdowns the business rules allow)."""

import gymnasium as gym
import numpy as np
import pytest

from exercises.common import implementation, rng_for

ex = implementation("ex3_markdown_rules")


def random_rules(rng):
    """Overrides of SingleStore-v0 drawing one set of markdown rules."""
    return dict(monotone_markdowns=bool(rng.random() < 0.7), min_hold=int(rng.integers(1, 4)),
                step_min=float(rng.choice([0.0, 0.05, 0.1])), step_max=[None, 0.2, 0.3][rng.integers(3)],
                max_changes=[None, 1, 2, 3][rng.integers(4)], initial_min=[None, 0.1, 0.2][rng.integers(3)],
                initial_max=[None, 0.4, 0.6][rng.integers(3)], horizon=int(rng.integers(4, 12)))


RNG = rng_for(3)
CASES = [(random_rules(RNG), int(RNG.integers(2**32))) for _ in range(6)]


@pytest.mark.parametrize("overrides, seed", CASES, ids=lambda x: ",".join(f"{k}={v}" for k, v in x.items())
                         if isinstance(x, dict) else str(x))
def test_mask_equals_env(overrides, seed):
    env = gym.make("liqenv/SingleStore-v0", **overrides)
    u = env.unwrapped
    rng = np.random.default_rng(seed)  # the states visited
    for _ in range(8):
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        done = False
        while not done:
            want = u.action_masks()
            got = np.asarray(ex.feasible_markdowns(u.decode_observation(obs), u.scenario.markdowns), dtype=bool)
            assert got.shape == want.shape and np.array_equal(got, want), (
                f"period {u.decode_observation(obs)['t']}, markdown {u.decode_observation(obs)['markdown']}: "
                f"env allows levels {np.flatnonzero(want).tolist()}, yours {np.flatnonzero(got).tolist()}")
            # mostly allowed moves (so the rules bind), sometimes any level (the env repairs it)
            allowed = np.flatnonzero(want)
            action = int(rng.choice(allowed)) if rng.random() < 0.8 else int(rng.integers(len(want)))
            obs, _, done, _, _ = env.step(action)
