"""The batched front-end over the same dynamics: a Gymnasium ``VectorEnv``.

:class:`LiquidationBatch` holds ``n`` copies of :class:`~liqenv.env.LiquidationEnv`
in one set of arrays and steps them with :func:`liqenv.dynamics.step`, the
very function the single env calls, so there is no second copy of any rule.
Copy ``i`` keeps its own Gymnasium generator (seeded like a single env with
``seed + i``) from which it draws its random key (and, for ``TwoStore-v0``,
its scenario) at each reset: a batch of ``n`` copies reproduces ``n`` single
envs seeded ``seed, seed+1, ...`` step for step.

:class:`LiquidationVectorEnv` is the Gymnasium ``VectorEnv`` registered as
each scenario's ``vector_entry_point``::

    gymnasium.make_vec("liqenv/Chain-v0", num_envs=256, vectorization_mode="vector_entry_point")

It behaves as ``vectorization_mode="sync"`` over single envs does, infos
included (same-step autoreset; Gymnasium's dict of arrays with ``_key``
masks; ``final_obs`` and ``final_info`` for the copies whose episode ended),
but builds each info array once per step for the whole batch.

The Stable-Baselines3 ``VecEnv`` over the same batch is
:class:`liqenv.integrations.sb3.LiquidationVecEnv` (needs the ``[sb3]`` extra).
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector.utils import batch_space
from numba import njit

from . import dynamics as dyn
from .env import build_info, info_arrays, reset_info
from .resolve import scenario_and_generator
from .render import ansi_table, dashboard, require_matplotlib
from .spaces import ActionLayout, ObservationLayout

__all__ = ["LiquidationBatch", "LiquidationVectorEnv"]


@njit(cache=True, nogil=True)
def _next_raw(next_uint64, state_addresses, out):
    """One raw 64-bit draw from each bit generator, by address: what each
    generator's ``random_raw()`` returns, without a Python call per copy."""
    for i in range(state_addresses.shape[0]):
        out[i] = next_uint64(state_addresses[i])


class LiquidationBatch:
    """``n_envs`` copies of the environment stepped as one batch."""

    def __init__(self, scenario: Any = None, n_envs: int = 1, *, strict: bool = False,
                 generator: Any = None, render_mode: str | None = None, **overrides: Any):
        if isinstance(n_envs, bool) or not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
            raise ValueError(f"n_envs={n_envs!r}: must be a positive integer")
        if render_mode not in (None, "ansi", "rgb_array"):
            raise ValueError(f"render_mode={render_mode!r}: expected None, 'ansi' or 'rgb_array'")
        if render_mode == "rgb_array":
            require_matplotlib()
        if not isinstance(strict, bool):
            raise ValueError(f"strict={strict!r}: must be true or false")
        sc, self.generator = scenario_and_generator(scenario, generator, overrides)
        self.n = int(n_envs)
        self.scenario = sc
        self.scenarios = [sc] * self.n
        self.strict = strict
        self.render_mode = render_mode
        self.params = dyn.Params([sc] * self.n if self.generator is not None else sc)
        self.action_layout = ActionLayout(sc)
        self.obs_layout = ObservationLayout(sc)
        self.single_action_space = self.action_layout.space
        self.single_observation_space = self.obs_layout.space
        #: each copy's Gymnasium generator (read-only: the batch draws from it by address)
        self.rngs: list[np.random.Generator | None] = [None] * self.n
        self._point_at_generators()
        self.state: dyn.State | None = None
        self.last_result: dyn.StepResult | None = None
        self.history: list[list[dict]] = [[] for _ in range(self.n)]
        self.units = np.full(self.n, float(sc.total_inventory))  # initial units per copy
        self.unit_cost = np.full(self.n, float(sc.unit_cost))

    # ----------------------------------------------------------------
    def reset_copies(self, idx: Sequence[int], seeds: Sequence[int | None] | None = None) -> None:
        """Reset copies ``idx`` exactly as ``LiquidationEnv.reset(seed=...)`` would."""
        idx = np.asarray(idx, dtype=np.int64)
        if seeds is not None or self.generator is not None or not self._state_address[idx].all():
            self._seed_and_draw_scenarios(idx, seeds)
        raw = np.empty(len(idx), dtype=np.uint64)
        _next_raw(self._next_uint64, self._state_address[idx], raw)
        if self.render_mode == "rgb_array":
            for i in idx.tolist():
                self.history[i] = []
        copies = idx if self.params.C > 1 else None
        fresh = dyn.reset_state(self.params, dyn.keys_from_raw(raw), copies)
        if len(idx) == self.n and (idx[:-1] < idx[1:]).all():  # every copy, in order
            self.state = fresh
        elif self.state is None:
            if len(idx) != self.n:
                raise ValueError("reset_copies: the first reset must reset every copy")
            self.state = fresh.take(np.argsort(idx))
        else:
            self.state.put(idx, fresh)

    def _point_at_generators(self) -> None:
        """Forget the generators' addresses (at construction and unpickling: a
        copy's address is taken again from ``rngs`` at its next reset)."""
        self._state_address = np.zeros(self.n, dtype=np.uintp)  # where each PCG64 keeps its state
        self._bits: list[Any] = [None] * self.n  # the bit generators at those addresses, kept alive
        self._next_uint64 = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for k in ("_state_address", "_bits", "_next_uint64"):  # addresses are this process's
            del state[k]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._point_at_generators()

    def _seed_and_draw_scenarios(self, idx: np.ndarray, seeds: Sequence[int | None] | None) -> None:
        """(Re)seed the copies given a seed or never seeded, note where their
        generators keep their state, and draw the scenarios of a generator."""
        rngs, gen = self.rngs, self.generator
        for k, i in enumerate(idx.tolist()):
            seed = None if seeds is None else seeds[k]
            if seed is not None or rngs[i] is None:
                rngs[i], _ = seeding.np_random(seed)
            bits = rngs[i].bit_generator
            if bits is not self._bits[i]:
                if not isinstance(bits, np.random.PCG64):
                    raise TypeError(f"bit generator {type(bits).__name__}: the batch draws from PCG64 only")
                self._bits[i] = bits
                self._state_address[i] = bits.ctypes.state_address
                if self._next_uint64 is None:
                    self._next_uint64 = bits.ctypes.next_uint64
            if gen is not None:
                self.scenarios[i] = gen.sample(rngs[i])
                self.params.set_row(i, self.scenarios[i])
                self.units[i] = self.scenarios[i].total_inventory
                self.unit_cost[i] = self.scenarios[i].unit_cost

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

    def info_arrays(self, idx: np.ndarray | slice = slice(None),
                    final: bool = False) -> dict[str, np.ndarray]:
        """The last step's infos of copies ``idx``, one array per key (:func:`liqenv.env.info_arrays`)."""
        return info_arrays(self.params, self.state, self.last_result, idx, self.units[idx],
                           self.unit_cost[idx], final)

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


def _masked(arrays: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    """Per-copy arrays as Gymnasium vector infos: each key with its ``_key`` mask,
    zero where the mask is off (as ``VectorEnv._add_info`` leaves them); no key
    when no copy has it."""
    out: dict[str, Any] = {}
    if not mask.any():
        return out
    every = bool(mask.all())
    for k, v in arrays.items():
        if not every:
            v[~mask] = 0
        out[k] = v
        out[f"_{k}"] = mask.copy()
    return out


class LiquidationVectorEnv(gym.vector.VectorEnv):
    """Gymnasium ``VectorEnv`` over :class:`LiquidationBatch` (same-step autoreset).

    Its observations, rewards, terminations and infos equal those of
    ``gymnasium.make_vec(id, n, vectorization_mode="sync")`` over single envs
    seeded alike.  Infos: the step's info of every copy whose episode goes on;
    for the copies whose episode ended, ``final_obs``, ``final_info`` (their
    last step's info, end-of-episode keys included) and, at the top level,
    the info of the reset that followed (``on_hand``, ``period``).
    """

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
        every = np.ones(self.num_envs, dtype=bool)
        return self.batch.observe(), _masked(reset_info(self.batch.state, slice(None)), every)

    def step(self, actions):
        b = self.batch
        obs, rew, done, _ = b.step(actions)
        infos = {} if done.all() else _masked(b.info_arrays(), ~done)
        if done.any():
            idx = np.flatnonzero(done)
            final_obs = np.full(self.num_envs, None, dtype=object)
            final_obs[idx] = list(obs[idx])
            infos["final_obs"], infos["_final_obs"] = final_obs, done.copy()
            infos["final_info"], infos["_final_info"] = _masked(b.info_arrays(final=True), done), done.copy()
            b.reset_copies(idx)
            obs = b.refresh_observations(obs, idx)
            for k, v in reset_info(b.state, idx).items():
                if k not in infos:
                    infos[k] = np.zeros((self.num_envs,) + v.shape[1:], dtype=v.dtype)
                    infos[f"_{k}"] = np.zeros(self.num_envs, dtype=bool)
                infos[k][idx] = v
                infos[f"_{k}"][idx] = True
        return obs, rew, done, np.zeros(self.num_envs, dtype=bool), infos

    def action_masks(self) -> np.ndarray:
        """All copies' masks, shape (num_envs, sum(nvec)); ``ResetNeeded`` before ``reset()``."""
        return self.batch.action_masks()

    def render(self):
        return tuple(self.batch.render_copy(i) for i in range(self.num_envs))


def __getattr__(name: str):
    # the SB3 VecEnv lived here until it moved to the [sb3] integration
    if name == "LiquidationVecEnv":
        warnings.warn("liqenv.vector.LiquidationVecEnv moved to liqenv.integrations.sb3.LiquidationVecEnv",
                      DeprecationWarning, stacklevel=2)
        from .integrations.sb3 import LiquidationVecEnv

        return LiquidationVecEnv
    raise AttributeError(f"module 'liqenv.vector' has no attribute {name!r}")
