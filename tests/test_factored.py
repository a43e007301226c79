"""The store-factored MaskablePPO policy (agents/factored.py): layout, symmetry, masks, transfer, learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th

from agents.config import build_model, load_hyperparams
from agents.factored import FactoredLayout, FactoredMaskablePolicy, transfer
from agents.maskable import FastMaskablePolicy
from agents.policy import PPOPolicy
from agents.wrappers import VecScaleReward, make_training_env
from baselines.evaluation import evaluate, make_env
from helpers import CHAIN_TEN, play_checked, sub_chain
from liqenv.presets import PRESETS, make_scenario
from liqenv.spaces import ActionLayout, ObservationLayout

MULTI_STORE = sorted(k for k, f in PRESETS.items() if ActionLayout(f()).kind == "multidiscrete")
SMALL = dict(n_envs=2, n_steps=32, batch_size=32, n_epochs=1, embed_dim=16)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """As train.py: one thread (two threads on a loaded 2-core machine spin for minutes)."""
    n = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(n)


def native_env(scenario, n_envs: int = 2, seed: int = 0):
    from stable_baselines3.common.vec_env import VecMonitor

    from liqenv.integrations.sb3 import LiquidationVecEnv

    scale = float((scenario.inventory * scenario.list_price).sum())
    return VecScaleReward(VecMonitor(LiquidationVecEnv(scenario, n_envs=n_envs, seed=seed)), scale)


def bare_policy(scenario, embed_dim: int = 16) -> FactoredMaskablePolicy:
    """An untrained policy for ``scenario`` with large random weights (so that outputs differ)."""
    ol, al = ObservationLayout(scenario), ActionLayout(scenario)
    pol = FactoredMaskablePolicy(ol.space, al.space, lambda _: 1e-3, layout=FactoredLayout.from_scenario(scenario),
                                 embed_dim=embed_dim)
    g = th.Generator().manual_seed(0)
    with th.no_grad():
        for p in pol.parameters():
            p.copy_(th.randn(p.shape, generator=g) * 0.5)
    return pol


def permute_obs(obs: np.ndarray, layout: FactoredLayout, perm: np.ndarray) -> np.ndarray:
    """Store ``s`` of the result is store ``perm[s]`` of ``obs``."""
    out = obs.copy()
    cols = np.asarray(layout.store_cols)
    out[:, cols] = obs[:, cols[perm]]
    return out


# ------------------------------------------------------------------ layout
@pytest.mark.parametrize("sid", MULTI_STORE)
def test_layout_assigns_every_column_by_its_feature_name(sid):
    sc = make_scenario(sid)
    lo = FactoredLayout.from_scenario(sc)
    names = ObservationLayout(sc).feature_names()
    for s, st in enumerate(sc.stores):
        assert [names[c] for c in lo.store_cols[s]] == [f"{st.name}.{f}" for f in lo.store_features]
    assert [names[c] for c in lo.global_cols] == list(lo.global_features)
    cols = sorted([c for row in lo.store_cols for c in row] + list(lo.global_cols))
    assert cols == list(range(len(names)))  # each column once, store or global
    assert {"t", "remaining"} <= set(lo.global_features)


def test_single_store_scenarios_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="MultiDiscrete"):
        FactoredLayout.from_scenario(make_scenario("SingleStore-v0"))
    with pytest.raises(ValueError, match="policy"):
        load_hyperparams("SingleStore-v0", {"policy": "factored"})  # algo ppo
    with pytest.raises(ValueError, match="policy"):
        load_hyperparams("Chain-v1", {"policy": "transformer"})


# ------------------------------------------------------------------ symmetry
def _logits_and_value(pol, obs):
    x = th.as_tensor(obs)
    with th.no_grad():
        return pol.mlp_extractor.forward_actor(x).numpy(), pol.predict_values(x).numpy()[:, 0]


def test_permuting_stores_permutes_the_store_logits_and_keeps_the_value():
    sc = sub_chain([0, 1, 2, 35, 36, 37])  # three stores with the rent lock, three without
    pol, lo = bare_policy(sc), FactoredLayout.from_scenario(sc)
    S, L = lo.n_stores, lo.n_levels
    rng = np.random.default_rng(0)
    obs = rng.uniform(0, 1, (5, lo.obs_size)).astype(np.float32)
    perm = np.array([4, 0, 5, 2, 1, 3])
    a, v = _logits_and_value(pol, obs)
    b, w = _logits_and_value(pol, permute_obs(obs, lo, perm))
    md, cl = a[:, : S * L].reshape(5, S, L), a[:, S * L:].reshape(5, S, 2)
    md_p, cl_p = b[:, : S * L].reshape(5, S, L), b[:, S * L:].reshape(5, S, 2)
    np.testing.assert_allclose(md_p, md[:, perm], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cl_p, cl[:, perm], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w, v, rtol=1e-5, atol=1e-5)
    assert np.abs(md_p - md).max() > 1e-2  # the stores' logits differ: the check is not vacuous


def test_swapping_two_stores_swaps_their_transfer_logits():
    """TwoStore-v1: markdown, close and ship A->B / B->A follow the swap; the value does not move."""
    sc = make_scenario("TwoStore-v1")
    pol, lo = bare_policy(sc), FactoredLayout.from_scenario(sc)
    assert lo.pairs == ((0, 1), (1, 0))
    rng = np.random.default_rng(1)
    obs = rng.uniform(0, 1, (4, lo.obs_size)).astype(np.float32)
    a, v = _logits_and_value(pol, obs)
    b, w = _logits_and_value(pol, permute_obs(obs, lo, np.array([1, 0])))
    L, K = lo.n_levels, lo.n_menu
    split = np.cumsum([L, L, 2, 2, K])
    pa, pb = np.split(a, split, axis=1), np.split(b, split, axis=1)
    for i, j in ((0, 1), (2, 3), (4, 5)):  # markdown, close, ship of the two stores / pairs
        np.testing.assert_allclose(pb[i], pa[j], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(pb[j], pa[i], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w, v, rtol=1e-5, atol=1e-5)
    assert np.abs(pa[4] - pa[5]).max() > 1e-2


# ------------------------------------------------------------------ config and masks
def test_chains_default_to_factored_and_mlp_stays_reachable():
    venv = make_training_env("liqenv/Chain-v1", 2, 0, 1.0)
    model = build_model(load_hyperparams("Chain-v1", SMALL), venv, seed=0)
    assert isinstance(model.policy, FactoredMaskablePolicy)
    flat = build_model(load_hyperparams("Chain-v1", {**SMALL, "policy": "mlp"}), venv, seed=0)
    assert type(flat.policy) is FastMaskablePolicy
    assert list(flat.policy.mlp_extractor.policy_net[0].weight.shape) == [256, make_env("Chain-v1")
                                                                        .observation_space.shape[0]]


def test_initial_act_prob_sets_the_closing_and_shipping_probability():
    sid = "liqenv/TransferChain-v1"
    venv = make_training_env(sid, 2, 0, 1.0)
    model = build_model(load_hyperparams(sid, {**SMALL, "initial_act_prob": 0.01}), venv, seed=0)
    obs = venv.reset()
    with th.no_grad():
        dist = model.policy.get_distribution(th.as_tensor(obs))
    lo = model.policy.layout
    logp = dist.logp.numpy()  # (B, components, max choices)
    n_price = len(lo.price_stores)
    close = np.exp(logp[:, n_price: n_price + len(lo.close_stores), 1])
    ship = 1 - np.exp(logp[:, n_price + len(lo.close_stores):, 0])
    np.testing.assert_allclose(close, 0.01, rtol=0.3)
    np.testing.assert_allclose(ship, 0.01, rtol=0.3)


@pytest.mark.parametrize("sid", MULTI_STORE)
def test_factored_actions_respect_the_masks_on_every_multi_store_preset(sid):
    """An untrained factored policy with the uniform start (frequent closings and transfers)."""
    venv = make_training_env(f"liqenv/{sid}", 2, 0, 1.0)
    model = build_model(load_hyperparams(sid, {**SMALL, "policy": "factored", "initial_act_prob": None}),
                        venv, seed=0)
    model.learn(64)
    env = make_env(sid)
    pol = PPOPolicy(model, env, deterministic=False)  # sampled: closings and transfers happen
    decided = [env.unwrapped.action_layout.to_decision(a[None], env.unwrapped.params)
               for a in play_checked(env, pol, range(2))]
    acted = {"close": sum(bool(d.close.any()) for d in decided),
             "ship": sum(bool((d.ship > 0).any()) for d in decided)}
    assert acted["close"] > 0  # the masks were exercised by closings (and transfers where allowed)
    if env.unwrapped.action_layout.n_ship:
        assert acted["ship"] > 0


def test_uniform_pricing_gets_one_chain_markdown_from_the_pooled_stores():
    from liqenv.env import LiquidationEnv
    from liqenv.scenario import apply_overrides

    sc = apply_overrides(sub_chain([0, 1, 2, 36]), {"uniform_pricing": True})
    lo = FactoredLayout.from_scenario(sc)
    assert lo.uniform and lo.nvec[0] == lo.n_levels and len(lo.nvec) == 1 + len(lo.close_stores)
    pol = bare_policy(sc)
    obs = np.random.default_rng(2).uniform(0, 1, (3, lo.obs_size)).astype(np.float32)
    a, v = _logits_and_value(pol, obs)
    b, w = _logits_and_value(pol, permute_obs(obs, lo, np.array([2, 0, 3, 1])))
    np.testing.assert_allclose(b[:, : lo.n_levels], a[:, : lo.n_levels], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w, v, rtol=1e-5, atol=1e-5)
    env = LiquidationEnv(sc)
    model = build_model(load_hyperparams("Chain-v1", SMALL), native_env(sc), seed=0, scenario=sc)
    obs, _ = env.reset(seed=0)
    done = False
    while not done:
        act, _ = model.predict(obs, deterministic=False, action_masks=env.action_masks())
        obs, _, done, _, info = env.step(act)
        assert info["rule_violations"] == 0


# ------------------------------------------------------------------ persistence and transfer
def test_save_load_round_trip_gives_the_same_actions(tmp_path):
    sid = "liqenv/TransferChain-v1"
    venv = make_training_env(sid, 2, 0, 1.0)
    model = build_model(load_hyperparams(sid, {**SMALL, "initial_act_prob": 0.2}), venv, seed=0)
    model.learn(64)
    model.save(tmp_path / "m.zip")
    from sb3_contrib import MaskablePPO

    back = MaskablePPO.load(tmp_path / "m.zip", device="cpu")
    assert isinstance(back.policy, FactoredMaskablePolicy)
    env = make_env(sid)
    obs, _ = env.reset(seed=3)
    for _ in range(10):
        m = env.unwrapped.action_masks()
        a, _ = model.predict(obs, deterministic=True, action_masks=m)
        b, _ = back.predict(obs, deterministic=True, action_masks=m)
        np.testing.assert_array_equal(a, b)
        with th.no_grad():
            x = th.as_tensor(obs[None])
            assert th.equal(model.policy.predict_values(x), back.policy.predict_values(x))
        obs, *_ = env.step(a)


def test_a_model_trained_on_ten_stores_acts_on_the_forty_store_chain():
    small = sub_chain(CHAIN_TEN)
    venv = native_env(small)
    hp = load_hyperparams("Chain-v1", {**SMALL, "initial_act_prob": 0.05})
    model = build_model(hp, venv, seed=0, scenario=small)
    model.learn(128)
    big = make_env("Chain-v1")
    moved = transfer(model, big)
    assert moved.policy.layout.n_stores == 40 and model.policy.layout.n_stores == 10
    for (k, p), (k2, q) in zip(model.policy.state_dict().items(), moved.policy.state_dict().items()):
        assert k == k2 and th.equal(p, q)
    obs, _ = big.reset(seed=0)
    done, steps = False, 0
    while not done:
        a, _ = moved.predict(obs, deterministic=False, action_masks=big.unwrapped.action_masks())
        obs, _, done, _, info = big.step(a)
        assert info["rule_violations"] == 0
        steps += 1
    assert steps == big.unwrapped.scenario.horizon
    # and it can be trained further on the big chain (transfer onto a training batch)
    tuned = transfer(model, make_training_env("liqenv/Chain-v1", 2, 1, 1.0))
    tuned.learn(64)
    assert tuned.policy.layout.n_stores == 40


def test_transfer_refuses_a_chain_with_other_features():
    small = sub_chain([0, 1, 2])
    model = build_model(load_hyperparams("Chain-v1", SMALL), native_env(small), seed=0, scenario=small)
    with pytest.raises(ValueError, match="store_features"):
        transfer(model, make_env("TransferChain-v1"))
    flat = build_model(load_hyperparams("Chain-v1", {**SMALL, "policy": "mlp"}), native_env(small), seed=0,
                       scenario=small)
    with pytest.raises(ValueError, match="FactoredMaskablePolicy"):
        transfer(flat, make_env("Chain-v1"))


# ------------------------------------------------------------------ learning
@pytest.mark.slow
def test_factored_ppo_learns_to_beat_the_practitioner_rule_on_two_store():
    """A short run on TwoStore-v1 beats the practitioner rule on 300 common episodes (paired)."""
    sid = "liqenv/TwoStore-v1"
    hp = load_hyperparams(sid, {"policy": "factored", "n_envs": 8, "n_steps": 64, "batch_size": 128,
                                "n_epochs": 10, "total_timesteps": 15_000})
    sc = make_env(sid).unwrapped.scenario
    venv = make_training_env(sid, hp.n_envs, 123, float((sc.inventory * sc.list_price).sum()))
    model = build_model(hp, venv, seed=0)
    policies = {"ppo": lambda env: PPOPolicy(model, env), "practitioner": "practitioner"}

    def gap() -> float:
        r = evaluate(sid, policies, episodes=300, seed=5_000_000)["results"]
        return float(np.mean(np.subtract(r["ppo"]["profits"], r["practitioner"]["profits"])))

    assert gap() < 0  # the untrained policy loses: the test can fail
    model.learn(hp.total_timesteps)
    assert gap() > 0


# ------------------------------------------------------------------ ablation: hidden features
@pytest.mark.parametrize("policy", ["mlp", "factored"])
def test_hidden_features_do_not_change_the_policy_and_survive_save_load_and_transfer(policy, tmp_path):
    """``hide_features: [effect_mean, effect_sd]`` (the ablation without the posterior): the actor's
    logits and the value do not depend on those columns, do depend on the others, and the hiding
    is restored from a saved model and moved with ``transfer``."""
    from sb3_contrib import MaskablePPO

    from agents.maskable import HideColumns

    sc = sub_chain(list(range(5)) + list(range(35, 40)))  # the 40-store chain's features (locks too)
    hp = load_hyperparams("Chain-v1", {**SMALL, "policy": policy, "hide_features": ["effect_mean", "effect_sd"]})
    model = build_model(hp, native_env(sc), seed=0, scenario=sc)
    pol = model.policy
    names = ObservationLayout(sc).feature_names()
    hidden = [c for c, n in enumerate(names) if n.endswith((".effect_mean", ".effect_sd"))]
    assert isinstance(pol.features_extractor, HideColumns) and len(hidden) == 20
    assert list(pol.features_extractor.hidden_columns) == hidden
    with th.no_grad():
        for p in pol.parameters():  # large weights: every visible column moves the outputs
            p.add_(th.randn(p.shape, generator=th.Generator().manual_seed(1)) * 0.5)
    rng = np.random.default_rng(0)
    x = rng.random((3, len(names))).astype(np.float32)
    y = x.copy()
    y[:, hidden] = rng.random((3, len(hidden)))

    def outputs(policy_, obs):  # (action logits, value): the paths SB3's rollout and update take
        with th.no_grad():
            o = th.as_tensor(obs)
            return policy_.action_net(policy_.mlp_extractor.forward_actor(policy_.extract_features(o))), \
                policy_.predict_values(o)

    (la, va), (lb, vb) = outputs(pol, x), outputs(pol, y)
    assert th.equal(la, lb) and th.equal(va, vb)
    z = x.copy()
    z[:, names.index("s00.on_hand")] += 0.5
    assert not th.equal(outputs(pol, z)[0], la)
    model.save(tmp_path / "m.zip")
    back = MaskablePPO.load(tmp_path / "m.zip", device="cpu")
    assert back.policy.features_extractor.hidden_columns == pol.features_extractor.hidden_columns
    assert th.equal(outputs(back.policy, y)[1], va)
    if policy == "factored":
        big = make_env("Chain-v1")
        moved = transfer(model, big)
        big_names = ObservationLayout(big.unwrapped.scenario).feature_names()
        assert [big_names[c].split(".")[1] for c in moved.policy.features_extractor.hidden_columns] == \
            ["effect_mean", "effect_sd"] * 40


def test_hide_features_names_an_unknown_feature():
    with pytest.raises(ValueError, match="hide_features: 'effect_mode'"):
        build_model(load_hyperparams("Chain-v1", {**SMALL, "hide_features": ["effect_mode"]}),
                    native_env(sub_chain([0, 1])), seed=0, scenario=sub_chain([0, 1]))
    with pytest.raises(ValueError, match="hide_features"):
        load_hyperparams("SingleStore-v0", {"hide_features": ["effect_mean"]})
