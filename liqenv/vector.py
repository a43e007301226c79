"""Batched front-ends over the same dynamics: an SB3 ``VecEnv`` and a Gymnasium ``VectorEnv``.

:class:`LiquidationBatch` holds ``n`` copies of :class:`~liqenv.env.LiquidationEnv`
in one set of arrays and steps them with :func:`liqenv.dynamics.step`, the
very function the single env calls, so there is no second copy of any rule.
Copy ``i`` keeps its own Gymnasium generator (seeded like a single env with
``seed + i``) from which it draws its random key (and, for ``TwoStore-v0``,
its scenario) at each reset: a batch of ``n`` copies reproduces ``n`` single
envs seeded ``seed, seed+1, ...`` step for step.

Two front-ends:

* :class:`LiquidationVecEnv` — Stable-Baselines3 ``VecEnv`` (autoreset with
  ``terminal_observation`` in the infos, ``seed``, ``get_attr``,
  ``env_method("action_masks")`` for ``MaskablePPO``).
* :class:`LiquidationVectorEnv` — Gymnasium ``VectorEnv`` registered as each
  scenario's ``vector_entry_point``:
  ``gymnasium.make_vec("liqenv/Chain-v0", num_envs=256, vectorization_mode="vector_entry_point")``
  (same-step autoreset: ``final_obs`` / ``final_info`` in the infos).

Infos stay cheap: a step's per-copy info holds ``rule_violations`` where a
copy's decision was repaired, and at an episode's end the terminal
observation, ``profit``, ``sell_through``, ``net_recovery_on_cost`` and an
SB3-style ``episode`` record.  The full single-env info of copy ``i`` (every
cost term, per-store arrays) is :meth:`LiquidationBatch.info`, or every step
with ``full_info=True``; the batch's last :class:`~liqenv.dynamics.StepResult`
is ``last_result``.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector.utils import batch_space
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from . import dynamics as dyn
from .env import build_info, resolve_scenario
from .render import ansi_table, dashboard
from .spaces import ActionLayout, ObservationLayout

__all__ = ["LiquidationBatch", "LiquidationVecEnv", "LiquidationVectorEnv"]


class LiquidationBatch:
    """``n_envs`` copies of the environment stepped as one batch."""

    def __init__(self, scenario: Any = None, n_envs: int = 1, *, strict: bool = False,
                 generator: Any = None, render_mode: str | None = None, full_info: bool = False,
                 **overrides: Any):
        if isinstance(n_envs, bool) or not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
            raise ValueError(f"n_envs={n_envs!r}: must be a positive integer")
        if render_mode not in (None, "ansi", "rgb_array"):
            raise ValueError(f"render_mode={render_mode!r}: expected None, 'ansi' or 'rgb_array'")
        sc, self.generator = resolve_scenario(scenario, generator, overrides)
        self.n = int(n_envs)
        self.scenario = sc
        self.scenarios = [sc] * self.n
        self.strict = strict
        self.full_info = full_info
        self.render_mode = render_mode
        self.params = dyn.Params([sc] * self.n if self.generator is not None else sc)
        self.action_layout = ActionLayout(sc)
        self.obs_layout = ObservationLayout(sc)
        self.single_action_space = self.action_layout.space
        self.single_observation_space = self.obs_layout.space
        self.rngs: list[np.random.Generator | None] = [None] * self.n
        self._bits: list[Any] = [None] * self.n  # the rngs' bit generators
        self.state: dyn.State | None = None
        self.last_result: dyn.StepResult | None = None
        self.history: list[list[dict]] = [[] for _ in range(self.n)]
        self._ep_start = np.zeros(self.n)
        self._units = np.full(self.n, float(sc.total_inventory))
        self._unit_cost = np.full(self.n, float(sc.unit_cost))

    # ----------------------------------------------------------------
    def reset_copies(self, idx: Sequence[int], seeds: Sequence[int | None] | None = None) -> None:
        """Reset copies ``idx`` exactly as ``LiquidationEnv.reset(seed=...)`` would."""
        idx = np.asarray(idx, dtype=np.int64)
        rngs, gen, bits = self.rngs, self.generator, self._bits
        for k, i in enumerate(idx.tolist()):
            seed = None if seeds is None else seeds[k]
            if seed is not None or rngs[i] is None:
                rngs[i], _ = seeding.np_random(seed)
                bits[i] = rngs[i].bit_generator
            if gen is not None:
                self.scenarios[i] = gen.sample(rngs[i])
                self.params.set_row(i, self.scenarios[i])
                self._units[i] = self.scenarios[i].total_inventory
                self._unit_cost[i] = self.scenarios[i].unit_cost
        keys = dyn.episode_keys([bits[i] for i in idx.tolist()])
        if self.render_mode == "rgb_array":
            for i in idx.tolist():
                self.history[i] = []
        copies = idx if self.params.C > 1 else None
        fresh = dyn.reset_state(self.params, keys, copies)
        if self.state is None:
            if len(idx) != self.n:
                raise ValueError("reset_copies: the first reset must reset every copy")
            self.state = fresh.take(np.argsort(idx))
        else:
            self.state.put(idx, fresh)
        self._ep_start[idx] = time.perf_counter()

    def observe(self) -> np.ndarray:
        return self.obs_layout.encode(self.params, self.state)

    def refresh_observations(self, obs: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``obs`` with the rows of the copies ``idx`` (just reset) re-encoded."""
        if len(idx) == self.n:
            return self.observe()
        obs[idx] = self.obs_layout.encode(self.params, self.state.take(idx),
                                          idx if self.params.C > 1 else None)
        return obs

    def step(self, actions) -> tuple[np.ndarray, np.ndarray, np.ndarray, dyn.StepResult]:
        """Step every copy (no autoreset): observations, rewards, dones, result."""
        if self.state is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        a = self.action_layout.check(actions, batch=self.n)
        d = self.action_layout.to_decision(a, self.params)
        r = dyn.step(self.params, self.state, d, strict=self.strict)
        self.last_result = r
        if self.render_mode == "rgb_array":
            for i in range(self.n):
                self.history[i].append({"on_hand": self.state.on_hand[i].copy(), "price": r.price[i].copy(),
                                        "sold": r.sold[i].copy()})
        return self.observe(), r.reward.copy(), r.done.copy(), r

    def info(self, i: int) -> dict[str, Any]:
        """The full single-env ``info`` of copy ``i`` for the last step."""
        sc = self.scenarios[i]
        return build_info(self.params, self.state, self.last_result, i, sc.total_inventory, sc.unit_cost)

    def infos(self, r: dyn.StepResult) -> list[dict[str, Any]]:
        """Per-copy infos of the last step (cheap unless ``full_info``)."""
        if self.full_info:
            return [self.info(i) for i in range(self.n)]
        out: list[dict[str, Any]] = [{} for _ in range(self.n)]
        for i in np.flatnonzero(r.violations):
            out[i]["rule_violations"] = int(r.violations[i])
        done = np.flatnonzero(r.done)
        if done.size:
            st = self.state
            profit = st.profit_total[done]
            units = self._units[done]
            sell = (st.sold_total[done] / units).tolist()
            nrc = (profit / (units * self._unit_cost[done])).tolist()
            salv = st.salvaged_total[done].tolist()
            viol = r.violations[done].tolist()
            length = self.scenario.horizon
            now = time.perf_counter()
            took = (now - self._ep_start[done]).tolist()
            for i, pr, se, nr, sa, vi, tk in zip(done.tolist(), profit.tolist(), sell, nrc, salv, viol, took):
                out[i].update(profit=pr, sell_through=se, net_recovery_on_cost=nr, units_salvaged=sa,
                              rule_violations=vi, episode={"r": pr, "l": length, "t": tk})
        return out

    def action_masks(self) -> np.ndarray:
        if self.state is None:
            raise gym.error.ResetNeeded("call reset() before action_masks()")
        if self.action_layout.kind == "box":
            raise ValueError("action_masks: continuous pricing has no discrete choices to mask")
        return self.action_layout.masks(self.params, self.state)

    def render_copy(self, i: int):
        if self.render_mode == "ansi":
            return ansi_table(self.scenarios[i], self.params, self.state, b=i)
        if self.render_mode == "rgb_array":
            return dashboard(self.scenarios[i], self.history[i])
        return None


class LiquidationVecEnv(VecEnv):
    """Stable-Baselines3 ``VecEnv`` over :class:`LiquidationBatch`.

    ``LiquidationVecEnv("liqenv/SingleStore-v0", n_envs=1024, seed=0, **overrides)``.
    ``seed`` seeds copy ``i`` with ``seed + i`` at the first reset.
    """

    def __init__(self, scenario: Any = "SingleStore-v0", n_envs: int = 8, seed: int | None = None,
                 **kwargs: Any):
        self.batch = LiquidationBatch(scenario, n_envs, **kwargs)
        self.render_mode = self.batch.render_mode
        super().__init__(n_envs, self.batch.single_observation_space, self.batch.single_action_space)
        if seed is not None:
            self.seed(seed)
        self._actions = None

    # SB3 API -----------------------------------------------------------
    def reset(self) -> np.ndarray:
        self.batch.reset_copies(np.arange(self.num_envs), self._seeds)
        self._reset_seeds()
        self._reset_options()
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
        infos = self.batch.infos(r)
        if done.any():
            idx = np.flatnonzero(done)
            for i, last in zip(idx.tolist(), obs[idx]):  # obs[idx] is a copy
                infos[i]["terminal_observation"] = last
                infos[i]["TimeLimit.truncated"] = False
            self.batch.reset_copies(idx)
            obs = self.batch.refresh_observations(obs, idx)
        return obs, rew.astype(np.float32), done, infos

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
        """All copies' masks, shape (n_envs, sum(nvec))."""
        return self.batch.action_masks()


class LiquidationVectorEnv(gym.vector.VectorEnv):
    """Gymnasium ``VectorEnv`` over :class:`LiquidationBatch` (same-step autoreset)."""

    metadata = {"render_modes": ["ansi", "rgb_array"],
                "autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 1, scenario: Any = "SingleStore-v0", **kwargs: Any):
        self.batch = LiquidationBatch(scenario, num_envs, **kwargs)
        self.num_envs = num_envs
        self.render_mode = self.batch.render_mode
        self.single_observation_space = self.batch.single_observation_space
        self.single_action_space = self.batch.single_action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict | None = None):
        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed: expected {self.num_envs} seeds, got {len(seeds)}")
        self.batch.reset_copies(np.arange(self.num_envs), seeds)
        return self.batch.observe(), {}

    def step(self, actions):
        obs, rew, done, r = self.batch.step(actions)
        infos: dict[str, Any] = {}
        for k in ("revenue", "operating_cost", "holding_cost", "transfer_cost", "salvage_value"):
            infos[k] = getattr(r, k).copy()
            infos[f"_{k}"] = np.ones(self.num_envs, dtype=bool)
        infos["rule_violations"] = r.violations.copy()
        infos["_rule_violations"] = np.ones(self.num_envs, dtype=bool)
        if done.any():
            for i in np.flatnonzero(done):
                infos = self._add_info(infos, {"final_obs": obs[i].copy(), "final_info": self.batch.info(i)}, i)
            idx = np.flatnonzero(done)
            self.batch.reset_copies(idx)
            obs = self.batch.refresh_observations(obs, idx)
        return obs, rew, done, np.zeros(self.num_envs, dtype=bool), infos

    def action_masks(self) -> np.ndarray:
        return self.batch.action_masks()

    def render(self):
        return tuple(self.batch.render_copy(i) for i in range(self.num_envs))
