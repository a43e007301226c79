"""Checks of exercise 5 (observation features for PPO): a short training run."""

import baselines
import numpy as np

from exercises.common import (EX5_INSTANCE, evaluate_model, exercise_seed, implementation, rng_for,
                              train_ppo_on_features)

ex = implementation("ex5_features")
EVAL_SEEDS = rng_for(5).integers(2**31, size=500)


def test_features_shape():
    env = EX5_INSTANCE.make_env()
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            x = np.asarray(ex.features(env.unwrapped.decode_observation(obs)), dtype=float)
            assert x.shape == (ex.N_FEATURES,) and np.all(np.isfinite(x)), x
            obs, _, done, _, _ = env.step(env.action_space.sample())


def test_ppo_beats_best_fixed_markdown():
    optimum = baselines.make("sdp", EX5_INSTANCE.make_env()).value_estimate
    fixed = baselines.make("sdp", EX5_INSTANCE.make_env(max_changes=0)).value_estimate
    threshold = fixed + 0.5 * (optimum - fixed)
    model = train_ppo_on_features(ex.features, ex.N_FEATURES, seed=exercise_seed())
    profits = evaluate_model(model, ex.features, ex.N_FEATURES, EVAL_SEEDS)
    assert profits.mean() >= threshold, (
        f"PPO on your features earned {profits.mean():.3f} on {len(profits)} episodes; needed {threshold:.3f} "
        f"(best single markdown {fixed:.3f}, optimum {optimum:.3f})")
