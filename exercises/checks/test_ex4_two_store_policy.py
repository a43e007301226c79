"""Checks of exercise 4 (a policy for TwoStore-v0), on episodes drawn from the class seed."""

import baselines
import gymnasium as gym
import numpy as np

from exercises.common import implementation, rng_for, rollout

ex = implementation("ex4_two_store_policy")
SEEDS = rng_for(4).integers(2**31, size=200)
SHARE = 0.95


def test_policy_keeps_the_rules():
    env = gym.make("liqenv/TwoStore-v0", strict=True)  # a rule-breaking action raises
    policy = ex.Policy(env)
    rollout(env, policy.act, SEEDS[:20])


def test_policy_beats_store_pds():
    env = gym.make("liqenv/TwoStore-v0")
    policy = ex.Policy(env)
    yours = rollout(env, policy.act, SEEDS)
    ref = baselines.make("store_pds", env)
    profits = []
    for seed in SEEDS:
        obs, _ = env.reset(seed=int(seed))
        ref.reset(seed=int(seed), scenario=env.unwrapped.scenario)
        done, profit = False, 0.0
        while not done:
            obs, reward, done, _, _ = env.step(ref.act(obs))
            profit += reward
        profits.append(profit)
    target = SHARE * np.mean(profits)
    assert yours.mean() >= target, (f"mean profit {yours.mean():.2f} over {len(SEEDS)} episodes; "
                                    f"{SHARE:.0%} of store_pds is {target:.2f}")
