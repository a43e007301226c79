"""Stable-Baselines3 ``VecEnv`` over the native batch (needs the ``[sb3]`` extra).

:class:`LiquidationVecEnv` steps :class:`liqenv.vector.LiquidationBatch`:
autoreset with ``terminal_observation`` in the infos, ``seed``,
``get_attr``, ``env_method("action_masks")`` for sb3-contrib's
``MaskablePPO``.  It gives the episodes of SB3's ``DummyVecEnv`` over
single envs seeded ``seed, seed+1, ...``.

Infos stay cheap, since SB3 wants one mapping per copy per step (see
:class:`LiquidationVecEnv` for the shared read-only empty info): a step's
info holds ``rule_violations`` where a copy's decision was repaired, and at
an episode's end the terminal observation, ``profit``, ``sell_through``,
``net_recovery_on_cost``, ``units_salvaged`` and an SB3-style ``episode``
record.  ``full_info=True`` gives every copy the single env's full info at
every step (slow); so does ``venv.batch.info(i)`` for one copy.
"""

from __future__ import annotations

import time
import types
from typing import Any, Mapping

import numpy as np

try:
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv
except ImportError as e:  # pragma: no cover - exercised by the core-install CI step
    raise ImportError("liqenv.integrations.sb3 needs Stable-Baselines3: pip install -e \".[sb3]\"") from e

from ..vector import LiquidationBatch

__all__ = ["LiquidationVecEnv", "NO_INFO"]

#: end-of-episode keys copied into the per-copy infos
EPISODE_KEYS = ("profit", "sell_through", "net_recovery_on_cost", "units_salvaged", "rule_violations")

#: The info of every copy with nothing to report in a step: one shared, read-only, empty mapping.
NO_INFO: Mapping[str, Any] = types.MappingProxyType({})


class LiquidationVecEnv(VecEnv):
    """Stable-Baselines3 ``VecEnv`` over :class:`~liqenv.vector.LiquidationBatch`.

    ``LiquidationVecEnv("liqenv/SingleStore-v0", n_envs=1024, seed=0, **overrides)``.
    ``seed`` seeds copy ``i`` with ``seed + i`` at the first reset.

    **Infos.**  ``step`` returns one info per copy, as SB3's API requires, but
    the copies with nothing to report (no episode end, no repaired decision;
    nearly all of them, nearly always) all get the same object, :data:`NO_INFO`,
    a read-only empty ``types.MappingProxyType``, instead of a fresh dict each
    per step: at 1,024 copies the fresh dicts were about a quarter of a step's
    cost.  A copy whose episode ended (``terminal_observation``, ``episode``
    and the end-of-episode metrics) or whose decision was repaired
    (``rule_violations``) gets its own dict.  Writing into the shared mapping
    raises ``TypeError``, so a write can never leak from one copy to another;
    it also cannot be pickled or deep-copied (``dict(info)`` copies it).

    Every consumer in Stable-Baselines3 and sb3-contrib 2.9 reads the infos of
    copies that are not done and writes only into done copies' infos (checked
    in their source): ``PPO``/``A2C`` ``collect_rollouts`` and sb3-contrib's
    ``MaskablePPO``/``RecurrentPPO`` (``infos[idx].get`` for done copies only),
    ``_update_info_buffer`` (``info.get``), ``OffPolicyAlgorithm._store_transition``
    and the replay buffers (``info.get``; ``terminal_observation`` of done
    copies), ``VecMonitor`` (copies a done copy's info before writing),
    ``VecNormalize``, ``VecTransposeImage`` and ``VecFrameStack`` (write
    ``terminal_observation`` only where it is present), ``VecExtractDictObs``
    (likewise; it needs a Dict observation space, which no scenario has),
    ``VecCheckNan`` and ``VecVideoRecorder`` (do not touch infos),
    ``evaluate_policy`` and sb3-contrib's masked ``evaluate_policy`` (read
    ``"episode"`` of done copies).  ``HerReplayBuffer`` deep-copies stored
    infos and so would fail, but it needs a goal-conditioned Dict observation
    space, which no scenario has.  Your own callback or wrapper that writes
    into a step's infos must copy first (``dict(info)``), as ``VecMonitor``
    does; ``full_info=True`` gives every copy its own dict.
    """

    def __init__(self, scenario: Any = "SingleStore-v0", n_envs: int = 8, seed: int | None = None,
                 full_info: bool = False, **kwargs: Any):
        self.batch = LiquidationBatch(scenario, n_envs, **kwargs)
        self.full_info = bool(full_info)
        self.render_mode = self.batch.render_mode
        super().__init__(n_envs, self.batch.single_observation_space, self.batch.single_action_space)
        if seed is not None:
            self.seed(seed)
        self._actions = None
        self._ep_start = np.zeros(n_envs)

    # SB3 API -----------------------------------------------------------
    def reset(self) -> np.ndarray:
        self.batch.reset_copies(np.arange(self.num_envs), self._seeds)
        self._reset_seeds()
        self._reset_options()
        self._ep_start[:] = time.perf_counter()
        obs = self.batch.observe()
        self.reset_infos = [{"period": 0} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        actions = np.asarray(self._actions)
        if self.batch.action_layout.kind == "discrete" and actions.ndim == 2 and actions.shape[1] == 1:
            actions = actions[:, 0]
        obs, rew, done, r = self.batch.step(actions)
        if self.full_info:
            infos = [self.batch.info(i) for i in range(self.num_envs)]
        else:
            infos = [NO_INFO] * self.num_envs  # one shared read-only mapping (class docstring)
            for i in np.flatnonzero(r.violations).tolist():
                infos[i] = {"rule_violations": int(r.violations[i])}
        if done.any():
            idx = np.flatnonzero(done)
            self._end_episodes(infos, idx, obs[idx])  # obs[idx] is a copy
            self.batch.reset_copies(idx)
            self._ep_start[idx] = time.perf_counter()
            obs = self.batch.refresh_observations(obs, idx)
        return obs, rew.astype(np.float32), done, infos

    def _end_episodes(self, infos: list[dict], idx: np.ndarray, last_obs: np.ndarray) -> None:
        """Give copies ``idx`` the terminal observation and the episode's record
        (one dict literal per copy: at 1,024 copies this loop is most of the cost
        of an episode's end)."""
        final = self.batch.info_arrays(idx, final=True)
        profit, sell, nrc, salvaged, repairs = (final[k].tolist() for k in EPISODE_KEYS)
        length = self.batch.scenario.horizon
        took = (time.perf_counter() - self._ep_start[idx]).tolist()
        for i, last, tk, pr, st, nr, sa, rv in zip(idx.tolist(), last_obs, took, profit, sell, nrc,
                                                   salvaged, repairs):
            end = {"profit": pr, "sell_through": st, "net_recovery_on_cost": nr, "units_salvaged": sa,
                   "rule_violations": rv, "episode": {"r": pr, "l": length, "t": tk},
                   "terminal_observation": last, "TimeLimit.truncated": False}
            if self.full_info:
                infos[i].update(end)
            else:
                infos[i] = end

    def close(self) -> None:
        return None

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        idx = list(self._get_indices(indices))
        if attr_name == "scenario":
            return [self.batch.scenarios[i] for i in idx]
        if attr_name == "render_mode":
            return [self.batch.render_mode] * len(idx)
        if hasattr(self.batch, attr_name):
            return [getattr(self.batch, attr_name)] * len(idx)
        raise AttributeError(f"attr_name={attr_name!r}: LiquidationVecEnv copies have no such attribute")

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        raise AttributeError(f"attr_name={attr_name!r}: the copies' attributes are read-only")

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        idx = list(self._get_indices(indices))
        if method_name == "action_masks":
            m = self.batch.action_masks()
            return [m[i] for i in idx]
        if method_name == "render":
            return [self.batch.render_copy(i) for i in idx]
        if method_name == "decode_observation":
            return [self.batch.obs_layout.decode(*method_args, **method_kwargs) for _ in idx]
        raise AttributeError(f"method_name={method_name!r}: not supported by LiquidationVecEnv")

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))

    def get_images(self):
        return [self.batch.render_copy(i) for i in range(self.num_envs)]

    def action_masks(self) -> np.ndarray:
        """All copies' masks, shape (n_envs, sum(nvec)); ``ResetNeeded`` before ``reset()``."""
        return self.batch.action_masks()
