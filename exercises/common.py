"""What the exercises and their checks share: the instance seed, the
implementation under test, small single-store instances and rollouts.

Students may read and use everything here; nothing in it gives an answer
away.  ``LIQENV_EXERCISE_SEED`` (an integer, default 0) draws the instances
and evaluation episodes of every check, so an instructor can give each class
(or each grading run) its own; ``LIQENV_EXERCISE_IMPL`` picks the code the
checks grade: ``stubs`` (the student files ``exercises/exN_*.py``, default)
or ``solutions`` (``exercises/solutions/``).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any, Callable

import gymnasium as gym
import numpy as np

import liqenv  # noqa: F401  (registers liqenv/*)

__all__ = ["exercise_seed", "rng_for", "implementation", "Instance", "random_instances",
           "LADDER", "rollout", "EX5_INSTANCE", "EX5_STEPS",
           "FeatureObservation", "train_ppo_on_features", "evaluate_model"]

#: The markdown ladder of every single-store scenario: 0%, 5%, ..., 95%.
LADDER = np.round(np.arange(20) * 0.05, 2)
IMPLS = ("stubs", "solutions")


def exercise_seed() -> int:
    """``LIQENV_EXERCISE_SEED`` as an integer (default 0)."""
    raw = os.environ.get("LIQENV_EXERCISE_SEED", "0")
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"LIQENV_EXERCISE_SEED={raw!r}: must be an integer") from None


def rng_for(exercise: int) -> np.random.Generator:
    """The generator of one exercise's instances (depends on the class seed only)."""
    return np.random.default_rng([exercise_seed(), exercise])


def implementation(module: str) -> ModuleType:
    """The module the checks grade: ``exercises.<module>`` or ``exercises.solutions.<module>``."""
    impl = os.environ.get("LIQENV_EXERCISE_IMPL", "stubs")
    if impl not in IMPLS:
        raise ValueError(f"LIQENV_EXERCISE_IMPL={impl!r}: expected one of {', '.join(IMPLS)}")
    prefix = "exercises." if impl == "stubs" else "exercises.solutions."
    return importlib.import_module(prefix + module)


@dataclass(frozen=True)
class Instance:
    """A small ``SingleStore-v0`` variant (Yang et al. 2019's model, MODEL.md section 3).

    One store holds ``inventory`` units with list price 1; for ``horizon``
    periods, ``Poisson(arrival_rate)`` customers arrive, each valuing the
    good at ``decay**t * U`` with ``U ~ Uniform(0, 1)``, and buys one unit
    when the valuation is at least the posted price ``1 - markdown``.  Units
    carried out of periods ``0 .. horizon-2`` cost ``holding_cost`` each;
    what is left after the last period is sold for ``salvage_rate`` each.
    Markdowns are any of :data:`LADDER`, freely up or down.
    """

    inventory: int
    horizon: int
    arrival_rate: float
    decay: float
    holding_cost: float = 0.0
    salvage_rate: float = 0.0

    def overrides(self) -> dict[str, Any]:
        """The keyword overrides of ``gym.make("liqenv/SingleStore-v0", ...)``."""
        return asdict(self)

    def make_env(self, **kwargs: Any) -> gym.Env:
        """``gym.make("liqenv/SingleStore-v0", **overrides)``: the instance's fields,
        updated with ``kwargs`` (any further scenario field, or env argument)."""
        return gym.make("liqenv/SingleStore-v0", **{**self.overrides(), **kwargs})


def random_instances(exercise: int, n: int, *, costs: bool = False) -> list[Instance]:
    """``n`` small instances drawn for ``exercise`` from the class seed.

    Inventories of 1-40 units over 1-6 periods, demand from scarce to
    plentiful; ``costs`` adds holding costs and salvage values.
    """
    rng = rng_for(exercise)
    out = []
    for _ in range(n):
        horizon = int(rng.integers(1, 7))
        inventory = int(rng.integers(1, 41))
        rate = float(np.round(rng.uniform(0.3, 2.5) * inventory / horizon, 2))
        decay = float(np.round(rng.uniform(0.7, 1.0), 3))
        hold = float(np.round(rng.uniform(0.0, 0.05), 3)) if costs else 0.0
        salvage = float(np.round(rng.uniform(0.0, 0.3), 3)) if costs else 0.0
        out.append(Instance(inventory, horizon, rate, decay, hold, salvage))
    return out


def rollout(env: gym.Env, act: Callable[[np.ndarray], Any], seeds) -> np.ndarray:
    """Profit of ``act`` (observation -> action) on one episode per env seed."""
    profits = []
    for seed in seeds:
        obs, _ = env.reset(seed=int(seed))
        done, profit = False, 0.0
        while not done:
            obs, reward, done, truncated, _ = env.step(act(obs))
            profit += reward
            done = done or truncated
        profits.append(profit)
    return np.array(profits)


# ----------------------------------------------------------- exercise 5 harness
#: The instance of exercise 5: selling late is worth much less (decay 0.8),
#: so the best markdown depends on the period and the stock left.  Its exact
#: optimum (``sdp``) is 10.40 and the best single markdown (``sdp`` with
#: ``max_changes=0``) 8.74.
EX5_INSTANCE = Instance(inventory=30, horizon=6, arrival_rate=12.0, decay=0.8)
#: PPO's training budget in exercise 5 (env steps; about 20 s on a busy 2-core laptop).
EX5_STEPS = 10_000


class FeatureObservation(gym.ObservationWrapper):
    """Shows the agent ``features(decoded observation)`` instead of the raw observation."""

    def __init__(self, env: gym.Env, features: Callable[[dict], Any], n_features: int):
        super().__init__(env)
        self.features = features
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (n_features,), np.float32)

    def observation(self, obs: np.ndarray) -> np.ndarray:
        x = np.asarray(self.features(self.env.unwrapped.decode_observation(obs)), dtype=np.float32)
        if x.shape != self.observation_space.shape or not np.all(np.isfinite(x)):
            raise ValueError(f"features: expected {self.observation_space.shape[0]} finite floats, got {x!r}")
        return x


def train_ppo_on_features(features: Callable[[dict], Any], n_features: int, *, steps: int = EX5_STEPS,
                          seed: int = 0, inst: Instance = EX5_INSTANCE):
    """A short PPO run (Stable-Baselines3) on ``inst`` that sees only ``features``.

    8 env copies, rollouts of 64 steps per copy, minibatches of 128, 10
    epochs, learning rate 3e-3 decaying linearly, no discounting, rewards
    divided by the initial units; the repository's full setting for
    ``SingleStore-v0`` is ``agents/hyperparams.yaml`` (300,000 steps).
    Returns the trained model.
    """
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    scale = float(inst.inventory)

    def make() -> gym.Env:
        env = FeatureObservation(inst.make_env(), features, n_features)
        return gym.wrappers.TransformReward(env, lambda r: r / scale)

    venv = make_vec_env(make, n_envs=8, seed=10_000_000 * (seed + 1))
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=128, n_epochs=10, gamma=1.0,
                learning_rate=lambda left: 3e-3 * left, policy_kwargs=dict(net_arch=[64, 64]),
                seed=seed, device="cpu", verbose=0)
    return model.learn(steps)


def evaluate_model(model, features: Callable[[dict], Any], n_features: int, seeds,
                   inst: Instance = EX5_INSTANCE) -> np.ndarray:
    """Profits of ``model``'s deterministic policy on one episode per env seed."""
    env = FeatureObservation(inst.make_env(), features, n_features)
    return rollout(env, lambda obs: int(model.predict(obs, deterministic=True)[0]), seeds)
