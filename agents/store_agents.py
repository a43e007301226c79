"""Per-store agents: one shared MaskablePPO policy, each store trained on its own reward (issue 11).

On ``Chain-v1`` a chain-level PPO gets one reward per period for 80 action
components, so every store's gradient carries the noise of the other 39
stores' outcomes.  Multi-agent RL's cure (parameter sharing; e.g.
SuperSuit's PettingZoo-to-VecEnv conversion) treats each store as an agent
with its own reward, all agents sharing one network, and lets stock
MaskablePPO train on the flattened batch of (chain copy, store) agents.

* :class:`StoreAgents` is the one split of a chain into agents: chain
  observations -> agent observations, chain masks -> agent masks, agent
  actions -> the chain action.  An agent observes its store's columns
  (every ``<store>.<feature>`` of :meth:`liqenv.spaces.ObservationLayout.feature_names`,
  in order), the store's static flags (selling, closable), the global
  columns (``t``, ``remaining``, public chain parameters) and a chain
  summary (mean and max over stores of each per-store column).  Its action
  is its own components: the markdown level, the close flag (when the
  scenario has closings) and, for each outgoing transfer pair, the menu
  choice; components a store lacks (the markdown of a DC, the close flag
  of a store that cannot close, pairs beyond its own) are padding, masked
  to choice 0.  Under uniform pricing the chain's one markdown belongs to
  the agent of the first selling store (:func:`liqenv.rules.chain_store`,
  the store whose entry the kernel posts everywhere); the other agents'
  markdowns are padding.
* :class:`StoreAgentsVecEnv` is the SB3 ``VecEnv`` over a
  :class:`~liqenv.vector.LiquidationBatch` of ``n_chains`` copies with
  ``n_chains * S`` agents (agent ``k``: chain ``k // S``, store ``k % S``);
  agent ``k``'s reward is ``StepResult.store_reward[k // S, k % S]`` (the
  store's share of the chain's reward, MODEL.md section 5), so the agents'
  rewards sum to the chain's.
* :class:`StoreAgentsPolicy` is a :class:`agents.policy.PPOPolicy` that
  acts on chain observations and masks (the evaluation harness's
  ``act`` / ``act_batch``) through the same :class:`StoreAgents` split.
* :class:`PerStoreMaskablePolicy` marks a per-store model:
  ``FastMaskablePolicy`` unchanged, saved by reference in the model zip, so
  :func:`agents.policy.PPOPolicy` recognises a per-store model and wraps it.

Steps: ``total_timesteps``, ``eval_freq`` and the learning curve count chain
steps as for every other policy; SB3 counts agent transitions, ``S`` per
chain step (:func:`agent_steps_per_chain_step`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from liqenv import rules
from liqenv.spaces import ActionLayout, ObservationLayout
from liqenv.vector import LiquidationBatch

from .maskable import FastMaskablePolicy
from .policy import PPOPolicy

__all__ = ["StoreAgents", "StoreAgentsVecEnv", "StoreAgentsPolicy", "PerStoreMaskablePolicy",
           "make_store_agents_env", "agent_steps_per_chain_step"]


class StoreAgents:
    """The split of a chain scenario into per-store agents (see the module docstring).

    ``ValueError`` for a scenario whose action space is not ``MultiDiscrete``
    (one store: nothing to split, or continuous pricing).
    """

    kind = "multidiscrete"  # read by agents.maskable.rare_action_bias
    n_price = 1  # the agent's first component is its markdown

    def __init__(self, scenario: Any):
        al, ol = ActionLayout(scenario), ObservationLayout(scenario)
        if al.kind != "multidiscrete":
            raise ValueError(f"policy='per-store': scenario {scenario.name!r} has a {al.kind!r} action "
                             "space; per-store agents need several stores (MultiDiscrete actions)")
        self.scenario, self.S = scenario, scenario.n_stores
        S, per, c0 = self.S, ol.per_store, self.S * ol.per_store
        cols = np.arange(c0).reshape(S, per)
        if ol.n_public:  # each store's public parameters: operating cost, demand at list price
            cols = np.concatenate([cols, c0 + np.arange(S)[:, None], c0 + S + np.arange(S)[:, None]], axis=1)
        self.store_cols = cols  # (S, F)
        self.global_cols = np.setdiff1d(np.arange(ol.size), cols.ravel())  # (G,) in order
        self.flags = np.zeros((S, 2), dtype=np.float32)
        self.flags[scenario.selling, 0] = 1.0
        self.flags[:, 1] = scenario.closable
        F = cols.shape[1]
        lo, hi = ol.low[cols].min(0), ol.high[cols].max(0)
        self.observation_space = spaces.Box(
            low=np.concatenate([lo, [0, 0], ol.low[self.global_cols], lo, lo]).astype(np.float32),
            high=np.concatenate([hi, [1, 1], ol.high[self.global_cols], hi, hi]).astype(np.float32),
            dtype=np.float32)
        self.obs_size = 3 * F + 2 + len(self.global_cols)
        # agent components: markdown, close flag (if any store may close), outgoing pairs
        out_pairs = [[p for p, (i, _) in enumerate(al.pairs) if i == s] for s in range(S)]
        n_out = max((len(o) for o in out_pairs), default=0)
        has_close = al.n_close > 0
        self.nvec = np.array([al.L] + [2] * has_close + [al.K] * n_out, dtype=np.int64)
        self.action_space = spaces.MultiDiscrete(self.nvec)
        # chain component j is agent slot (store_of[j], slot_of[j])
        store_of, slot_of = [], []
        price_stores = [rules.chain_store(~scenario.is_dc)] if al.uniform else list(al.price_stores)
        for s in price_stores:
            store_of.append(int(s)), slot_of.append(0)
        for s in al.close_stores:
            store_of.append(int(s)), slot_of.append(1)
        for p, (i, _) in enumerate(al.pairs):
            store_of.append(int(i)), slot_of.append(int(has_close) + 1 + out_pairs[i].index(p))
        self.store_of, self.slot_of = np.array(store_of, np.int64), np.array(slot_of, np.int64)
        if len(self.store_of) != al.n:
            raise AssertionError("every chain component must belong to one agent slot")
        # masks: agent flat position -> chain flat position (-1: padding, allowed only at choice 0)
        chain_off = np.concatenate([[0], np.cumsum(al.nvec)])
        agent_off = np.concatenate([[0], np.cumsum(self.nvec)])
        src = np.full((S, int(agent_off[-1])), -1, dtype=np.int64)
        for j, (s, c) in enumerate(zip(self.store_of, self.slot_of)):
            src[s, agent_off[c]: agent_off[c + 1]] = np.arange(chain_off[j], chain_off[j + 1])
        pad = np.zeros(src.shape, dtype=bool)
        pad[:, agent_off[:-1]] = True  # choice 0 of each component
        self._mask_src, self._pad = src, pad & (src < 0)
        self.n_chain, self._chain_width = al.n, int(chain_off[-1])

    # ------------------------------------------------------------------
    def observations(self, obs: np.ndarray) -> np.ndarray:
        """(B*S, obs_size) agent observations from (B, chain size) chain observations."""
        o = np.asarray(obs, dtype=np.float32).reshape(-1, len(self.global_cols) + self.store_cols.size)
        B, S = o.shape[0], self.S
        own = o[:, self.store_cols]  # (B, S, F)
        glob = np.broadcast_to(o[:, None, self.global_cols], (B, S, len(self.global_cols)))
        mean = np.broadcast_to(own.mean(1, keepdims=True), own.shape)
        mx = np.broadcast_to(own.max(1, keepdims=True), own.shape)
        flags = np.broadcast_to(self.flags, (B, S, 2))
        return np.concatenate([own, flags, glob, mean, mx], axis=2).reshape(B * S, self.obs_size)

    def masks(self, masks: np.ndarray) -> np.ndarray:
        """(B*S, sum(nvec)) agent masks from (B, sum(chain nvec)) chain masks."""
        m = np.asarray(masks, dtype=bool).reshape(-1, self._chain_width)
        out = np.where(self._mask_src >= 0, m[:, np.maximum(self._mask_src, 0)], self._pad)
        return out.reshape(-1, self._mask_src.shape[1])

    def chain_actions(self, actions: np.ndarray) -> np.ndarray:
        """(B, n) chain actions from (B*S, len(nvec)) agent actions (padding ignored)."""
        a = np.asarray(actions, dtype=np.int64).reshape(-1, self.S, len(self.nvec))
        return a[:, self.store_of, self.slot_of]

    def agent_actions(self, actions: np.ndarray) -> np.ndarray:
        """(B*S, len(nvec)) agent actions from (B, n) chain actions (padding: 0); inverse of
        :meth:`chain_actions`."""
        a = np.asarray(actions, dtype=np.int64).reshape(-1, self.n_chain)
        out = np.zeros((a.shape[0], self.S, len(self.nvec)), dtype=np.int64)
        out[:, self.store_of, self.slot_of] = a
        return out.reshape(-1, len(self.nvec))


def agent_steps_per_chain_step(policy: str, scenario: Any) -> int:
    """Transitions SB3 counts per chain step: ``S`` for ``policy='per-store'``, else 1."""
    return scenario.n_stores if policy == "per-store" else 1


class StoreAgentsVecEnv(VecEnv):
    """SB3 ``VecEnv`` of the per-store agents of ``n_chains`` chain copies (module docstring).

    ``seed`` seeds chain ``i`` with ``seed + i`` at the first reset, as
    :class:`liqenv.integrations.sb3.LiquidationVecEnv` does.  All agents of a
    chain end their episode together; the chain is then reset and each of
    its agents gets its ``terminal_observation`` (and the chain's ``profit``).
    """

    def __init__(self, scenario: Any = "Chain-v1", n_chains: int = 8, seed: int | None = None, **kwargs: Any):
        self.batch = LiquidationBatch(scenario, n_chains, **kwargs)
        self.agents = StoreAgents(self.batch.scenario)
        self.n_chains, self.S = int(n_chains), self.agents.S
        self.render_mode = None
        super().__init__(self.n_chains * self.S, self.agents.observation_space, self.agents.action_space)
        self._chain_seeds: list[int | None] = [None] * self.n_chains
        if seed is not None:
            self.seed(seed)
        self._actions = None

    def seed(self, seed: int | None = None) -> list[int | None]:
        self._chain_seeds = [None if seed is None else int(seed) + i for i in range(self.n_chains)]
        return self._chain_seeds

    def reset(self) -> np.ndarray:
        self.batch.reset_copies(np.arange(self.n_chains), self._chain_seeds)
        self._chain_seeds = [None] * self.n_chains
        self._reset_options()
        self.reset_infos = [{"period": 0} for _ in range(self.num_envs)]
        return self.agents.observations(self.batch.observe())

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, _, done, r = self.batch.step(self.agents.chain_actions(self._actions))
        rew = r.store_reward.reshape(-1).astype(np.float32)
        dones = np.repeat(done, self.S)
        infos: list[dict] = [{} for _ in range(self.num_envs)]
        if done.any():
            idx = np.flatnonzero(done)
            last = self.agents.observations(obs[idx]).reshape(len(idx), self.S, -1)
            profit = self.batch.state.profit_total[idx].tolist()
            for k, i in enumerate(idx.tolist()):
                for s in range(self.S):
                    infos[i * self.S + s] = {"terminal_observation": last[k, s], "profit": profit[k],
                                             "TimeLimit.truncated": False}
            self.batch.reset_copies(idx)
            obs = self.batch.refresh_observations(obs, idx)
        return self.agents.observations(obs), rew, dones, infos

    def action_masks(self) -> np.ndarray:
        """Every agent's mask, shape (n_chains * S, sum(nvec))."""
        return self.agents.masks(self.batch.action_masks())

    def close(self) -> None:
        return None

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        idx = list(self._get_indices(indices))
        if attr_name == "scenario":
            return [self.batch.scenarios[i // self.S] for i in idx]
        if attr_name == "render_mode":
            return [None] * len(idx)
        if attr_name == "action_masks":
            return [self.action_masks] * len(idx)
        raise AttributeError(f"attr_name={attr_name!r}: StoreAgentsVecEnv agents have no such attribute")

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        raise AttributeError(f"attr_name={attr_name!r}: the agents' attributes are read-only")

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        idx = list(self._get_indices(indices))
        if method_name == "action_masks":
            m = self.action_masks()
            return [m[i] for i in idx]
        raise AttributeError(f"method_name={method_name!r}: not supported by StoreAgentsVecEnv")

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))

    def get_images(self):
        return [None] * self.num_envs


def make_store_agents_env(scenario_id: str, n_chains: int, seed: int, reward_scale: float,
                          overrides: Any = None, vec: str = "native") -> VecEnv:
    """The training env of ``policy='per-store'``: :class:`StoreAgentsVecEnv`, monitored,
    rewards scaled (as :func:`agents.wrappers.make_training_env` does for a chain)."""
    from .wrappers import VecScaleReward

    if vec != "native":
        raise ValueError(f"vec={vec!r}: policy 'per-store' trains on the native batch only")
    venv = StoreAgentsVecEnv(scenario_id, n_chains=n_chains, seed=seed, **dict(overrides or {}))
    return VecScaleReward(VecMonitor(venv), reward_scale)


class PerStoreMaskablePolicy(FastMaskablePolicy):
    """:class:`~agents.maskable.FastMaskablePolicy` over one agent's observation and action
    (``policy='per-store'``); its class, saved in the model zip, marks a per-store model."""

    per_store = True


class StoreAgentsPolicy(PPOPolicy):
    """A per-store model acting on a chain (``PPOPolicy(path, env)`` returns one for a
    per-store model): splits the chain's observations and masks with :class:`StoreAgents`,
    predicts every store's action with the shared model, assembles the chain action."""

    def _check_spaces(self, scenario: Any) -> None:
        self.agents = StoreAgents(scenario)
        if (self.model.observation_space.shape != self.agents.observation_space.shape
                or self.model.action_space != self.agents.action_space):
            raise ValueError(f"model {self.model_path!r}: per-store model for agent observations of shape "
                             f"{self.model.observation_space.shape} and actions {self.model.action_space}; "
                             f"scenario {scenario.name!r}'s agents have {self.agents.observation_space.shape} "
                             f"and {self.agents.action_space}")

    def act(self, observation: np.ndarray) -> np.ndarray:
        return self.act_batch(np.asarray(observation)[None], self.action_masks()[None])[0]

    def act_batch(self, observations: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
        if masks is None:
            raise ValueError("act_batch: a per-store MaskablePPO model needs the batch's action masks")
        a, _ = self.model.predict(self.agents.observations(observations), deterministic=self.deterministic,
                                  action_masks=self.agents.masks(masks))
        return self.agents.chain_actions(a)
