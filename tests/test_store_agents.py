"""Per-store agents (agents/store_agents.py) and the per-store reward of the kernel (issue 11)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import liqenv
from liqenv.presets import make_scenario
from liqenv.spaces import ActionLayout, ObservationLayout
from liqenv.vector import LiquidationBatch

from agents.store_agents import StoreAgents, StoreAgentsVecEnv
from test_factored import one_torch_thread, sub_chain  # noqa: F401  (an autouse fixture)

ROOT = Path(__file__).resolve().parents[1]
MULTI = ["Chain-v1", "TransferChain-v1", "DistributionCentre-v1", "TwoStore-v1"]


def sample_masked(rng: np.random.Generator, masks: np.ndarray, nvec: np.ndarray) -> np.ndarray:
    """One uniformly random allowed choice per component, for every row of ``masks``."""
    off = np.concatenate([[0], np.cumsum(nvec)])
    out = np.empty((masks.shape[0], len(nvec)), dtype=np.int64)
    for d in range(len(nvec)):
        seg = masks[:, off[d]: off[d + 1]]
        assert seg.any(1).all(), f"component {d} has no allowed choice"
        u = rng.random(seg.shape) * seg  # the largest positive score is a uniform allowed choice
        out[:, d] = np.argmax(u + seg * 1e-12, axis=1)
    return out


def random_actions(rng: np.random.Generator, batch: LiquidationBatch) -> np.ndarray:
    al = batch.action_layout
    if al.kind == "box":
        return rng.uniform(0.0, batch.scenario.price_cap, (batch.n, 1))
    if al.kind == "discrete":
        m = batch.action_layout.masks(batch.params, batch.state)
        return sample_masked(rng, m, np.array([al.L]))[:, 0]
    return sample_masked(rng, batch.action_masks(), al.nvec)


# ------------------------------------------------------------------ kernel: store_reward
@pytest.mark.parametrize("sid", sorted(liqenv.PRESETS))
def test_store_rewards_sum_to_the_reward_on_every_preset(sid):
    """store_reward (B,S) sums over stores to reward at every step (masked random actions,
    episodes reset as they end: 64 copies x 60 periods = 3,840 steps a preset)."""
    rng = np.random.default_rng(sorted(liqenv.PRESETS).index(sid))
    b = LiquidationBatch(sid, 64)
    b.reset_copies(np.arange(64), list(range(64)))
    S = b.scenario.n_stores
    seen = {"transfer": 0.0, "holding": 0.0, "salvage": 0.0}
    for _ in range(60):
        _, _, done, r = b.step(random_actions(rng, b))
        assert r.store_reward.shape == (64, S)
        np.testing.assert_allclose(r.store_reward.sum(axis=1), r.reward, rtol=1e-12, atol=1e-9)
        assert r.violations.sum() == 0
        seen["transfer"] += r.transfer_cost.sum()
        seen["holding"] += r.holding_cost.sum()
        seen["salvage"] += r.salvage_value.sum()
        if done.any():
            b.reset_copies(np.flatnonzero(done))
    if b.scenario.transfers is not None:
        assert seen["transfer"] > 0  # the shares were tested with transfer costs in them


def test_store_reward_is_each_stores_own_accounting():
    """Period 0 of TwoStore-v1 with store 0 shipping to store 1: each share is the store's
    revenue - its operating cost - holding on what it carries on + its salvage value, and the
    sender (only) pays the transfer."""
    b = LiquidationBatch("TwoStore-v1", 1)
    b.reset_copies([0], [3])
    p, al = b.params, b.action_layout
    a = al.encode(np.zeros(p.S))
    a[al.ship_slice.start] = al.K - 1  # pair 0 ships its largest fraction
    _, _, _, r = b.step(a[None])
    src, dst = int(p.src[0]), int(p.dst[0])
    assert r.shipped[0, 0] > 0 and r.transfer_cost[0] > 0
    own = (r.sold[0] * r.price[0] - p.operating[0, :, 0] - p.holding[0, 0] * b.state.on_hand[0]
           + r.salvaged[0] * p.salvage_price[0])
    own[src] -= r.transfer_cost[0]
    np.testing.assert_allclose(r.store_reward[0], own, rtol=1e-12)
    assert dst != src


# ------------------------------------------------------------------ the split
@pytest.mark.parametrize("sid", MULTI)
def test_agent_columns_are_the_store_columns_and_the_global_ones(sid):
    sc = make_scenario(sid)
    ag, names = StoreAgents(sc), ObservationLayout(sc).feature_names()
    for s, st in enumerate(sc.stores):
        assert [names[c] for c in ag.store_cols[s]] == [n for n in names if n.startswith(f"{st.name}.")]
    assert "t" in [names[c] for c in ag.global_cols] and "remaining" in [names[c] for c in ag.global_cols]
    assert not any(n.partition(".")[0] in {st.name for st in sc.stores} for n in (names[c] for c in ag.global_cols))


@pytest.mark.parametrize("sid", MULTI)
def test_obs_masks_and_actions_round_trip_and_masks_hold_at_every_step(sid):
    """Chain actions -> agent actions -> chain actions is the identity; agent masks split the
    chain masks (padding: choice 0 only); actions sampled from the agent masks are never
    repaired; rewards are the store shares; a chain's agents end and reset together."""
    n = 3
    env = StoreAgentsVecEnv(sid, n_chains=n, seed=0)
    ag, S = env.agents, env.S
    rng = np.random.default_rng(1)
    obs = env.reset()
    assert obs.shape == (n * S, ag.obs_size) and env.observation_space.shape == (ag.obs_size,)
    ends, T = 0, env.batch.scenario.horizon
    for _ in range(2 * T + 3):
        chain_obs = env.batch.observe()
        np.testing.assert_array_equal(ag.observations(chain_obs), obs)
        own = obs.reshape(n, S, -1)[:, :, : ag.store_cols.shape[1]]
        np.testing.assert_array_equal(own, chain_obs[:, ag.store_cols])
        cm, m = env.batch.action_masks(), env.action_masks()
        a = sample_masked(rng, m, ag.nvec)
        ca = ag.chain_actions(a)
        # the chain action respects the chain masks
        off = np.concatenate([[0], np.cumsum(env.batch.action_layout.nvec)])
        for j in range(ca.shape[1]):
            assert cm[np.arange(n), off[j] + ca[:, j]].all()
        np.testing.assert_array_equal(ag.chain_actions(ag.agent_actions(ca)), ca)
        # padded components allow choice 0 only
        aoff = np.concatenate([[0], np.cumsum(ag.nvec)])
        used = np.zeros((S, len(ag.nvec)), bool)
        used[ag.store_of, ag.slot_of] = True
        for s in range(S):
            for d in np.flatnonzero(~used[s]):
                seg = m.reshape(n, S, -1)[:, s, aoff[d]: aoff[d + 1]]
                assert seg[:, 0].all() and not seg[:, 1:].any()
        env.step_async(a)
        obs, rew, dones, infos = env.step_wait()
        r = env.batch.last_result
        assert r.violations.sum() == 0
        np.testing.assert_array_equal(rew, r.store_reward.reshape(-1).astype(np.float32))
        d = dones.reshape(n, S)
        assert (d == d[:, :1]).all()
        for k in np.flatnonzero(dones):
            assert infos[k]["terminal_observation"].shape == (ag.obs_size,)
            ends += 1
        if dones.any():  # auto-reset: the chain's agents see period 0 again
            t_col = list(ObservationLayout(env.batch.scenario).feature_names()).index("t")
            i = int(np.flatnonzero(d[:, 0])[0])
            assert env.batch.state.t[i] == 0 and env.batch.observe()[i, t_col] == 0
    assert ends == (2 * T + 3) // T * n * S


def test_uniform_pricing_gives_the_chain_markdown_to_the_first_selling_store():
    sc = make_scenario("Chain-v1")
    sc = dataclasses.replace(sc, markdowns=dataclasses.replace(sc.markdowns, uniform_pricing=True))
    ag, al = StoreAgents(sc), ActionLayout(sc)
    assert al.n_price == 1 and ag.store_of[0] == 0 and ag.slot_of[0] == 0
    assert ag.chain_actions(ag.agent_actions(np.arange(al.n)[None] % 2)).tolist() == [list(np.arange(al.n) % 2)]


def test_single_store_scenarios_are_refused():
    with pytest.raises(ValueError, match="per-store"):
        StoreAgents(make_scenario("SingleStore-v0"))


# ------------------------------------------------------------------ training and loading
SMALL = {"policy": "per-store", "n_envs": 4, "n_steps": 60, "batch_size": 1200, "n_epochs": 4,
         "net_arch": [64, 64], "learning_rate": 1e-3}


def per_store_model(sc, hp_over: dict, seed: int = 0):
    from agents.config import build_model, load_hyperparams
    from agents.store_agents import make_store_agents_env

    hp = load_hyperparams("Chain-v1", {**SMALL, **hp_over})
    venv = make_store_agents_env(sc, hp.n_envs, 123, float((sc.inventory * sc.list_price).sum()))
    return hp, build_model(hp, venv, seed=seed, scenario=sc)


def mean_profit(sc, act_batch, episodes: int = 16, seed: int = 4_000_000) -> np.ndarray:
    """Each episode's profit on env seeds ``seed ..`` (common random numbers for every policy)."""
    b = LiquidationBatch(sc, episodes)
    b.reset_copies(np.arange(episodes), list(range(seed, seed + episodes)))
    done = np.zeros(episodes, bool)
    while not done.all():
        _, _, done, _ = b.step(act_batch(b.observe(), b.action_masks()))
        assert b.last_result.violations.sum() == 0
    return b.state.profit_total.copy()


def test_save_load_round_trip_through_ppo_policy(tmp_path):
    """A saved per-store model loads through PPOPolicy (and evaluate.py's loader) as a
    StoreAgentsPolicy that acts like the in-memory model, on the env's masks."""
    from agents.policy import PPOPolicy, is_per_store, load_ppo
    from agents.store_agents import StoreAgentsPolicy
    from baselines.evaluation import make_env

    _, model = per_store_model(make_scenario("Chain-v1"), {"initial_act_prob": 0.01})
    model.save(tmp_path / "m.zip")
    assert is_per_store(model) and is_per_store(tmp_path / "m.zip")
    env = make_env("Chain-v1")
    obs, _ = env.reset(seed=5)
    live, saved = PPOPolicy(model, env), load_ppo(str(tmp_path / "m.zip"), env)
    assert type(live) is StoreAgentsPolicy and type(saved) is StoreAgentsPolicy
    for _ in range(10):
        a = saved.act(obs)
        np.testing.assert_array_equal(a, live.act(obs))
        assert env.action_space.contains(a)
        obs, _, _, _, info = env.step(a)
        assert info.get("rule_violations", 0) == 0
    masks = np.stack([env.unwrapped.action_masks()] * 2)
    np.testing.assert_array_equal(saved.act_batch(np.stack([obs, obs]), masks), [a := saved.act(obs), a])
    # a flat (chain) model is still a PPOPolicy
    from agents.config import build_model, load_hyperparams
    from agents.wrappers import make_training_env

    hp = load_hyperparams("Chain-v1", {"policy": "mlp", "n_envs": 2, "n_steps": 8, "batch_size": 16})
    flat = build_model(hp, make_training_env("liqenv/Chain-v1", 2, 0, 1.0), seed=0)
    assert type(PPOPolicy(flat, env)) is PPOPolicy and not is_per_store(flat)


def test_per_store_hyperparameters_are_checked():
    from agents.config import load_hyperparams

    with pytest.raises(ValueError, match="policy"):
        load_hyperparams("Chain-v1", {"policy": "per-store", "algo": "ppo", "initial_act_prob": None})
    with pytest.raises(ValueError, match="hide_features"):
        load_hyperparams("Chain-v1", {"policy": "per-store", "hide_features": ["effect_mean"]})
    with pytest.raises(ValueError, match="batch_size"):
        per_store_model(sub_chain([0, 1]), {"n_envs": 1, "n_steps": 8, "batch_size": 17})


class _EnvOf:
    """The smallest env a MaskablePPO adapter accepts: the scenario's spaces (masks come in act_batch)."""

    def __init__(self, sc):
        self.scenario = sc
        self.unwrapped = self
        self.observation_space = ObservationLayout(sc).space
        self.action_space = ActionLayout(sc).space


def test_train_py_per_store_end_to_end(tmp_path):
    """train.py --set policy=per-store: validations count chain steps, the final table has the
    per-store model, evaluate.py loads model.zip unchanged.  On TransferChain-v1 (transfers: padded
    agent components) rather than Chain-v1, whose report solves SDP for 40 stores (minutes)."""
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "--scenario", "TransferChain-v1",
                           "--set", "policy=per-store", "--timesteps", "240", "--n-envs", "2", "--set", "n_steps=60",
                           "--set", "batch_size=1200", "--set", "n_epochs=1", "--set", "eval_freq=120",
                           "--set", "eval_episodes=2", "--eval-episodes", "2", "--baselines", "practitioner",
                           "--no-progress", "--out", str(out)], capture_output=True, text=True, env=env,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = json.loads((out / "state.json").read_text())
    assert [c["timesteps"] for c in state["curve"]] == [120, 240]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_120.zip", "step_240.zip"]
    res = json.loads((out / "results.json").read_text())
    assert "ppo" in json.dumps(res) and "practitioner" in json.dumps(res)
    again = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "--scenario", "TransferChain-v1", "--policies",
                            f"ppo={out / 'model.zip'}", "--episodes", "2"],
                           capture_output=True, text=True, env=env, timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
