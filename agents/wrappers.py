"""Training environments: a batch of scenario copies with episode records and scaled rewards.

:func:`make_training_env` builds the same stack over either batch backend:

* ``native``: :class:`liqenv.integrations.sb3.LiquidationVecEnv` (one set of arrays,
  stepped at once), when that module is importable;
* ``dummy``: SB3's ``DummyVecEnv`` over ``n_envs`` :class:`~liqenv.env.LiquidationEnv`.

Copy ``i`` is seeded ``seed + i`` at the first reset in both, so the two
backends give the same episodes.  On top sit ``VecMonitor`` (episode profit
in money units, for the logs) and :class:`VecScaleReward` (what PPO learns
from: reward divided by a fixed per-scenario scale).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper, VecMonitor

__all__ = ["VecScaleReward", "make_training_env", "native_available", "VEC_BACKENDS"]

VEC_BACKENDS = ("native", "dummy")


class VecScaleReward(VecEnvWrapper):
    """Divide rewards by a fixed positive ``scale`` (stateless, unlike ``VecNormalize``)."""

    def __init__(self, venv: VecEnv, scale: float):
        if not scale > 0:
            raise ValueError(f"scale={scale!r}: must be positive")
        super().__init__(venv)
        self.scale = float(scale)

    def reset(self) -> np.ndarray:
        return self.venv.reset()

    def step_wait(self):
        obs, rew, done, infos = self.venv.step_wait()
        return obs, (rew / self.scale).astype(np.float32), done, infos


def native_available() -> bool:
    """Whether ``liqenv.integrations.sb3.LiquidationVecEnv`` can be imported."""
    try:
        from liqenv.integrations.sb3 import LiquidationVecEnv  # noqa: F401
    except ImportError:
        return False
    return True


def make_training_env(scenario_id: str, n_envs: int, seed: int, reward_scale: float,
                      overrides: Mapping[str, Any] | None = None, vec: str = "native") -> VecEnv:
    """``n_envs`` copies of the scenario (backend ``vec``), monitored, rewards scaled."""
    overrides = dict(overrides or {})
    if vec not in VEC_BACKENDS:
        raise ValueError(f"vec={vec!r}: expected one of {', '.join(VEC_BACKENDS)}")
    if vec == "native":
        if not native_available():
            raise ValueError("vec='native': liqenv.integrations.sb3.LiquidationVecEnv is not importable; "
                             "use 'dummy'")
        from liqenv.integrations.sb3 import LiquidationVecEnv

        venv: VecEnv = LiquidationVecEnv(scenario_id, n_envs=n_envs, seed=seed, **overrides)
    else:
        from liqenv.env import LiquidationEnv

        venv = DummyVecEnv([lambda: LiquidationEnv(scenario_id, **overrides) for _ in range(n_envs)])
        venv.seed(seed)
    return VecScaleReward(VecMonitor(venv), reward_scale)
