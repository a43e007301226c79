"""The batched front-ends reproduce the single env exactly (issue: native batched env).

Parity in the manner of ``gymnasium.utils.env_match``: a batch of n copies and
n single envs seeded ``seed + i`` give identical observations, rewards,
terminations, infos and masks for random (masked) actions, through resets,
in every registered scenario; the Gymnasium ``VectorEnv`` returns what
Gymnasium's own ``SyncVectorEnv`` over single envs returns, infos included.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

import liqenv
from liqenv.integrations.sb3 import LiquidationVecEnv
from liqenv.vector import LiquidationBatch, LiquidationVectorEnv


def _masked_action(space, mask, rng):
    if isinstance(space, gym.spaces.MultiDiscrete):
        parts = np.split(mask, np.cumsum(space.nvec)[:-1])
        return np.array([rng.choice(np.flatnonzero(p)) for p in parts])
    return int(rng.choice(np.flatnonzero(mask)))


@pytest.mark.parametrize("name", list(liqenv.PRESETS))
def test_batch_matches_single_envs(name):
    n = 3
    batch = LiquidationBatch(name, n)
    batch.reset_copies(np.arange(n), [20 + i for i in range(n)])
    singles = [liqenv.LiquidationEnv(name) for _ in range(n)]
    first = np.stack([e.reset(seed=20 + i)[0] for i, e in enumerate(singles)])
    assert np.array_equal(first, batch.observe())
    rng = np.random.default_rng(1)
    ends = 0
    for _ in range(2 * batch.scenario.horizon + 1):
        masks = batch.action_masks()
        acts = []
        for i, e in enumerate(singles):
            m = e.action_masks()
            assert np.array_equal(m, masks[i])
            acts.append(_masked_action(e.action_space, m, rng))
        obs, rew, done, _ = batch.step(np.array(acts))
        for i, e in enumerate(singles):
            o, r, term, trunc, info = e.step(acts[i])
            assert np.array_equal(o, obs[i])
            assert r == rew[i] and term == done[i] and not trunc
            full = batch.info(i)
            assert info.keys() == full.keys()
            for k in info:
                assert np.array_equal(np.asarray(info[k]), np.asarray(full[k])), k
            assert e.unwrapped.render_mode is None
            if term:
                ends += 1
                o, _ = e.reset()
                batch.reset_copies([i])
                assert np.array_equal(o, batch.observe()[i])
    assert ends >= n


@pytest.mark.parametrize("name", ["SingleStore-v0", "TwoStore-v1", "DistributionCentre-v1"])
def test_sb3_vecenv_matches_dummyvecenv(name):
    n = 4
    ours = LiquidationVecEnv(name, n_envs=n, seed=3)
    ref = DummyVecEnv([lambda: liqenv.LiquidationEnv(name) for _ in range(n)])
    ref.seed(3)
    assert np.array_equal(ours.reset(), ref.reset())
    rng = np.random.default_rng(0)
    for _ in range(30):
        masks = ours.env_method("action_masks")
        ref_masks = ref.env_method("action_masks")
        for a, b in zip(masks, ref_masks):
            assert np.array_equal(a, b)
        acts = np.stack([_masked_action(ours.action_space, m, rng) for m in masks])
        o1, r1, d1, i1 = ours.step(acts)
        o2, r2, d2, i2 = ref.step(acts)
        assert np.array_equal(o1, o2) and np.allclose(r1, r2) and np.array_equal(d1, d2)
        for a, b in zip(i1, i2):
            if "terminal_observation" in b:
                assert np.array_equal(a["terminal_observation"], b["terminal_observation"])
                assert a["profit"] == b["profit"]
                assert a["sell_through"] == b["sell_through"]


def test_gymnasium_make_vec_entry_point():
    env = gym.make_vec("liqenv/Chain-v1", num_envs=4, vectorization_mode="vector_entry_point")
    assert isinstance(env.unwrapped, LiquidationVectorEnv)
    obs, _ = env.reset(seed=5)
    single = liqenv.LiquidationEnv("Chain-v1")
    assert np.array_equal(obs[2], single.reset(seed=7)[0])
    assert env.observation_space.shape == (4,) + single.observation_space.shape
    a1 = single.encode_action(markdown=0.3)
    a = np.tile(a1, (4, 1))
    for _ in range(single.scenario.horizon):
        obs, rew, term, trunc, info = env.step(a)
        *_, single_info = single.step(a1)
    assert term.all() and not trunc.any()
    assert info["_final_obs"].all()
    assert info["final_info"]["profit"][2] == single_info["profit"]
    assert info["final_info"]["revenue"].shape == (4,)


def assert_same(ours, ref, path="") -> None:
    """Equal values, dtypes and shapes, recursing into Gymnasium's dict-of-arrays infos."""
    if isinstance(ref, dict):
        assert isinstance(ours, dict) and ours.keys() == ref.keys(), (path, set(ours) ^ set(ref))
        for k in ref:
            assert_same(ours[k], ref[k], f"{path}.{k}")
    elif isinstance(ref, np.ndarray):
        assert isinstance(ours, np.ndarray), path
        assert (ours.dtype, ours.shape) == (ref.dtype, ref.shape), (path, ours.dtype, ref.dtype)
        if ref.dtype == object:  # final_obs: one observation or None per copy
            for x, y in zip(ours, ref):
                assert (x is None and y is None) or np.array_equal(x, y), path
        else:
            assert np.array_equal(ours, ref), path
    else:
        assert ours == ref, path


@pytest.mark.parametrize("name", list(liqenv.PRESETS))
def test_gymnasium_vector_matches_sync_vector_env(name):
    """Observations, rewards, terminations and every info array, ``_key`` mask,
    ``final_obs`` and ``final_info`` equal those of Gymnasium's SyncVectorEnv
    over single envs (same-step autoreset), through two autoresets; copy 0 is
    reset once mid-episode so that only some copies end together."""
    n = 3
    env_id = f"liqenv/{name}"
    ours = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point")
    ref = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync",
                       vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})
    for a, b in zip(ours.reset(seed=11), ref.reset(seed=11)):
        assert_same(a, b)
    batch = ours.unwrapped.batch
    rng = np.random.default_rng(0)
    T = batch.scenario.horizon
    partial_ends = 0
    for t in range(2 * T + 2):
        if t == 1:
            o, i = ref.unwrapped.envs[0].reset()
            batch.reset_copies([0])
            assert np.array_equal(o, batch.observe()[0])
        if batch.action_layout.kind == "box":
            acts = ref.action_space.sample()
        else:
            masks = batch.action_masks()
            acts = np.stack([_masked_action(ours.single_action_space, m, rng) for m in masks])
        got, want = ours.step(acts), ref.step(acts)
        for a, b in zip(got, want):
            assert_same(a, b)
        partial_ends += bool(got[2].any() and not got[2].all())
    assert partial_ends >= 1  # the masks were exercised with some copies ending and some not


def test_action_masks_before_reset_raise_reset_needed():
    for env in (liqenv.LiquidationEnv("TwoStore-v1"),
                gym.make_vec("liqenv/TwoStore-v1", num_envs=2, vectorization_mode="vector_entry_point"),
                LiquidationVecEnv("TwoStore-v1", n_envs=2)):
        with pytest.raises(gym.error.ResetNeeded, match=r"reset\(\) before action_masks"):
            env.unwrapped.action_masks()
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        LiquidationVecEnv("TwoStore-v1", n_envs=2).env_method("action_masks")
    env = gym.make("liqenv/TwoStore-v1")
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        env.get_wrapper_attr("action_masks")()


def test_import_liqenv_exposes_the_vector_api_and_the_old_sb3_path_still_works():
    assert liqenv.vector.LiquidationVectorEnv is liqenv.LiquidationVectorEnv is LiquidationVectorEnv
    assert liqenv.LiquidationBatch is LiquidationBatch
    with pytest.warns(DeprecationWarning, match="liqenv.integrations.sb3"):
        assert liqenv.vector.LiquidationVecEnv is LiquidationVecEnv
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        liqenv.vector.Nope


def test_sb3_vecenv_full_info_gives_each_copy_the_single_env_info():
    n = 2
    ours = LiquidationVecEnv("TwoStore-v1", n_envs=n, seed=4, full_info=True)
    singles = [liqenv.LiquidationEnv("TwoStore-v1") for _ in range(n)]
    ours.reset()
    for i, e in enumerate(singles):
        e.reset(seed=4 + i)
    for _ in range(3):
        acts = np.stack([e.encode_action(markdown=0.2) for e in singles])
        _, _, done, infos = ours.step(acts)
        for i, e in enumerate(singles):
            *_, info = e.step(acts[i])
            for k in info:
                assert np.array_equal(np.asarray(infos[i][k]), np.asarray(info[k])), k
    assert done.all() and "terminal_observation" in infos[0] and "episode" in infos[0]


def test_bad_batch_actions_name_expected_shape():
    env = LiquidationVecEnv("Chain-v1", n_envs=2, seed=0)
    env.reset()
    with pytest.raises(ValueError, match=r"expected \(2, 80\)"):
        env.step(np.zeros((3, 80), dtype=np.int64))
    with pytest.raises(ValueError, match="n_envs"):
        LiquidationVecEnv("Chain-v1", n_envs=0)


def test_per_copy_repairs_reported_in_that_copys_info():
    env = LiquidationVecEnv("SingleStore-v0", n_envs=3, seed=0, monotone=True)
    env.reset()
    env.step(np.array([10, 10, 10]))
    _, _, _, infos = env.step(np.array([10, 2, 10]))  # copy 1 lowers its markdown
    assert infos[1]["rule_violations"] == 1
    assert "rule_violations" not in infos[0] and "rule_violations" not in infos[2]


def test_ppo_and_maskable_ppo_run_on_the_vecenv():
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    env = LiquidationVecEnv("SingleStore-v0", n_envs=8, seed=0)
    PPO("MlpPolicy", env, n_steps=16, batch_size=64, n_epochs=1, seed=0).learn(256)
    env = LiquidationVecEnv("TwoStore-v1", n_envs=4, seed=0)
    MaskablePPO("MlpPolicy", env, n_steps=16, batch_size=32, n_epochs=1, seed=0).learn(128)


def test_rendering_of_a_copy_matches_the_single_env():
    batch = LiquidationBatch("TwoStore-v1", 2, render_mode="ansi")
    batch.reset_copies([0, 1], [4, 5])
    single = liqenv.LiquidationEnv("TwoStore-v1", render_mode="ansi")
    single.reset(seed=5)
    assert batch.render_copy(1) == single.render()


def test_uniform_pricing_decision_with_different_markdowns_is_repaired():
    from liqenv import dynamics as dyn

    sc = liqenv.make_scenario("Chain-v1", uniform_pricing=True)
    p = dyn.Params(sc)
    s = dyn.reset_state(p, np.array([1], dtype=np.uint64))
    md = np.full((1, sc.n_stores), 0.3)
    md[0, 5] = 0.2
    r = dyn.step(p, s, dyn.Decision(md, np.zeros((1, sc.n_stores), bool), np.zeros((1, 0), np.int64)))
    assert r.violations[0] == 1
    assert np.allclose(r.price, 0.7)
    with pytest.raises(dyn.RuleViolation):
        dyn.step(p, dyn.reset_state(p, np.array([1], dtype=np.uint64)),
                 dyn.Decision(md, np.zeros((1, sc.n_stores), bool), np.zeros((1, 0), np.int64)), strict=True)


@pytest.mark.parametrize("name", ["SingleStore-v0", "TwoStore-v1"])
def test_a_pickled_vector_env_continues_as_the_original(name):
    """The batch draws its keys from the generators by address; a copy made by
    pickling draws from its own generators, through the next autoresets."""
    import pickle

    env = gym.make_vec(f"liqenv/{name}", num_envs=3, vectorization_mode="vector_entry_point")
    env.reset(seed=2)
    env.action_space.seed(0)
    acts = [env.action_space.sample() for _ in range(4 * env.unwrapped.batch.scenario.horizon)]
    env.step(acts[0])
    twin = pickle.loads(pickle.dumps(env.unwrapped))
    for a in acts[1:]:
        got, want = twin.step(a), env.step(a)
        for x, y in zip(got, want):
            assert_same(x, y)
