"""Conformance: the Gymnasium and Stable-Baselines3 checkers on every registered
scenario, ``gymnasium.make`` overrides, observation bounds and rendering."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import liqenv

from helpers import masked_action

PRESET_IDS = sorted(liqenv.PRESETS)
CONTINUOUS_IDS = ["SingleStore-v0", "SingleStoreExp-v1", "SingleStoreWeibull-v1"]
#: the only checker warning we accept: the continuous action is the price itself
#: (as in Yang et al.), so its Box is [0, max_price] rather than [-1, 1]
BOX_ADVICE = r".*symmetric and normalized"


def _cases():
    for env_id in PRESET_IDS:
        yield pytest.param(env_id, {}, id=env_id)
    for env_id in CONTINUOUS_IDS:
        yield pytest.param(env_id, {"pricing": "continuous"}, id=f"{env_id}-continuous")


def test_every_preset_is_registered():
    for env_id in PRESET_IDS:
        assert f"liqenv/{env_id}" in gym.registry
    assert len(PRESET_IDS) == 9


CHECKERS = {
    "gymnasium": lambda env: gym_check_env(env, skip_render_check=True),
    "stable-baselines3": lambda env: sb3_check_env(env, warn=True),
}


@pytest.mark.parametrize("checker", list(CHECKERS))
@pytest.mark.parametrize("env_id,overrides", _cases())
def test_env_checkers(env_id, overrides, checker):
    env = gym.make(f"liqenv/{env_id}", **overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=BOX_ADVICE)
        CHECKERS[checker](env.unwrapped)


@pytest.mark.parametrize("render_mode", ["ansi", "rgb_array"])
def test_gymnasium_checker_with_rendering(render_mode):
    env = gym.make("liqenv/TwoStore-v1", render_mode=render_mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env.unwrapped)


def test_continuous_pricing_gives_a_box_of_prices():
    for env_id in CONTINUOUS_IDS:
        env = gym.make(f"liqenv/{env_id}", pricing="continuous")
        sp = env.action_space
        assert isinstance(sp, gym.spaces.Box) and sp.shape == (1,)
        assert sp.low[0] == 0.0 and sp.high[0] == pytest.approx(env.unwrapped.scenario.price_cap)
    assert gym.make("liqenv/SingleStore-v0", pricing="continuous").action_space.high[0] == 1.0


def test_make_with_plain_overrides_changes_the_scenario():
    env = gym.make("liqenv/SingleStore-v0", inventory=1800, horizon=60, valuation="weibull",
                   arrival_rate=120.0, decay=0.98, weibull_shape=3.0, holding_cost=0.001,
                   salvage_rate=0.1)
    sc = env.unwrapped.scenario
    assert sc.total_inventory == 1800 and sc.horizon == 60
    d = sc.demand
    assert (d.valuation, d.arrival_rate, d.decay, d.weibull_shape) == ("weibull", 120.0, 0.98, 3.0)
    assert sc.holding_cost == 0.001 and sc.stores[0].salvage_rate == 0.1
    # and the env runs the overridden scenario
    obs, info = env.reset(seed=0)
    assert info["on_hand"].tolist() == [1800]
    assert env.unwrapped.decode_observation(obs)["remaining"] == 60
    n = 0
    term = False
    while not term:
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        n += 1
    assert n == 60
    assert info["sold"].sum() + info["salvaged"].sum() <= 1800


def test_make_overrides_on_chain_scenarios():
    env = gym.make("liqenv/Chain-v1", min_hold=2, cv=0.8, notice=3, pricing="ladder")
    sc = env.unwrapped.scenario
    assert sc.markdowns.min_hold == 2 and sc.demand.cv == 0.8
    assert {s.lease.notice for s in sc.stores} == {3}
    env = gym.make("liqenv/TransferChain-v1", lead_time=10, transfer_cost=0.05)
    tn = env.unwrapped.scenario.transfers
    assert {tn.lead_time[i][j] for i, j in tn.pairs} == {10}
    assert {tn.unit_cost[i][j] for i, j in tn.pairs} == {0.05}
    env = gym.make("liqenv/Chain-v1", **{"stores.3.inventory": 777})
    assert env.unwrapped.scenario.stores[3].inventory == 777
    assert env.unwrapped.scenario.stores[2].inventory != 777


def test_make_overrides_on_the_two_store_grid():
    env = gym.make("liqenv/TwoStore-v1", cv=0.5, inventory_b=300, salvage_rate=0.2)
    for seed in range(4):
        env.reset(seed=seed)
        sc = env.unwrapped.scenario
        assert sc.demand.cv == 0.5
        assert sc.stores[1].inventory == 300
        assert all(s.salvage_rate == 0.2 for s in sc.stores)


@pytest.mark.parametrize("bad", [{"inventory": "many"}, {"decay": 1.5}])
def test_make_with_a_bad_override_value_raises_value_error(bad):
    with pytest.raises(ValueError, match=list(bad)[0]) as e:
        gym.make("liqenv/SingleStore-v0", **bad)
    assert not isinstance(e.value, TypeError)


@pytest.mark.parametrize("env_id", PRESET_IDS)
@pytest.mark.parametrize("bad", [{"frameskip": 4}, {"inventroy": 5}, {"stores.99.inventory": 5},
                                 {"markdowns.colour": 1}])
def test_an_unknown_keyword_raises_type_error_naming_it(env_id, bad):
    """As Python and Gymnasium do for an unexpected keyword: clients such as
    torchrl's GymEnv retry without the keyword on a TypeError."""
    key = list(bad)[0]
    with pytest.raises(TypeError, match=re.escape(key)):
        gym.make(f"liqenv/{env_id}", **bad)
    with pytest.raises(TypeError, match=re.escape(key)):
        gym.make_vec(f"liqenv/{env_id}", num_envs=2, vectorization_mode="vector_entry_point", **bad)


def test_a_keyword_of_a_feature_the_scenario_lacks_is_unknown():
    with pytest.raises(TypeError, match="lead_time=3: this scenario has no transfer network"):
        gym.make("liqenv/SingleStore-v0", lead_time=3)
    with pytest.raises(TypeError, match="elasticity=2.0: is a field of ElasticityDemand"):
        gym.make("liqenv/SingleStore-v0", elasticity=2.0)


@pytest.mark.parametrize("env_id,overrides", _cases())
def test_observation_always_inside_its_space(env_id, overrides):
    env = gym.make(f"liqenv/{env_id}", **overrides)
    env.action_space.seed(0)
    sp = env.observation_space
    assert sp.dtype == np.float32
    for episode in range(2):
        obs, _ = env.reset(seed=episode)
        assert sp.contains(obs)
        term = False
        while not term:
            a = env.action_space.sample() if episode == 0 else masked_action(env)
            obs, r, term, trunc, info = env.step(a)
            assert sp.contains(obs), obs[~((obs >= sp.low) & (obs <= sp.high))]
            assert obs.shape == sp.shape and obs.dtype == np.float32


def test_observation_extremes_stay_inside_the_space():
    """Sell nothing (top price, no customers) or everything at once: still inside."""
    env = gym.make("liqenv/SingleStore-v0", arrival_rate=0.0)
    obs, _ = env.reset(seed=0)
    for _ in range(10):
        obs, *_ = env.step(0)
        assert env.observation_space.contains(obs)
    env = gym.make("liqenv/SingleStore-v0", arrival_rate=5000.0)
    env.reset(seed=0)
    obs, *_ = env.step(19)
    assert env.observation_space.contains(obs)
    assert env.unwrapped.decode_observation(obs)["last_sold"] == 100


@pytest.mark.parametrize("env_id", PRESET_IDS)
def test_ansi_render_has_one_line_per_store(env_id):
    env = gym.make(f"liqenv/{env_id}", render_mode="ansi")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    out = env.render()
    assert isinstance(out, str)
    lines = out.rstrip("\n").split("\n")
    stores = env.unwrapped.scenario.stores
    body = lines[-len(stores):]
    assert len(lines) == len(stores) + 2  # a title line and a column header
    for st, line in zip(stores, body):
        assert line.startswith(st.name)
    on_hand = env.unwrapped.state.on_hand[0]
    for line, z in zip(body, on_hand):
        assert int(line.split()[1]) == z


@pytest.mark.parametrize("env_id", ["SingleStore-v0", "DistributionCentre-v1"])
def test_rgb_array_render(env_id):
    env = gym.make(f"liqenv/{env_id}", render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(3):
        env.step(env.action_space.sample())
    img = env.render()
    assert isinstance(img, np.ndarray) and img.ndim == 3 and img.shape[2] == 3
    assert img.dtype == np.uint8 and img.shape[0] > 10 and img.shape[1] > 10
    assert img.min() < img.max()  # something was drawn
    env.close()


def test_render_without_mode_returns_none():
    env = gym.make("liqenv/SingleStore-v0")
    env.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert env.unwrapped.render() is None


def test_bad_render_mode_raises():
    with pytest.raises(ValueError, match="render_mode"):
        liqenv.LiquidationEnv("SingleStore-v0", render_mode="human")


def test_action_masks_shape_matches_the_space():
    for env_id in PRESET_IDS:
        env = gym.make(f"liqenv/{env_id}")
        env.reset(seed=0)
        m = env.unwrapped.action_masks()
        sp = env.action_space
        n = sp.n if isinstance(sp, gym.spaces.Discrete) else int(sp.nvec.sum())
        assert m.shape == (n,) and m.dtype == bool
    env = gym.make("liqenv/SingleStore-v0", pricing="continuous")
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.unwrapped.action_masks()


def test_encode_decode_action_round_trip():
    env = gym.make("liqenv/TwoStore-v1")
    env.reset(seed=0)
    u = env.unwrapped
    a = u.encode_action(markdown=[0.25, 0.4], close=[False, True], ship=[3, 0])
    assert env.action_space.contains(a)
    d = u.decode_action(a)
    assert d["markdown"].tolist() == pytest.approx([0.25, 0.4])
    assert d["close"].tolist() == [False, True]
    assert d["ship"].tolist() == [3, 0]
    assert d["ship_units"][0] == int(np.floor(0.3 * u.state.on_hand[0, 0] + 1e-9))


def test_the_module_qualified_id_works_in_a_fresh_interpreter():
    """What a SubprocVecEnv worker started by forkserver or spawn does: look the
    id up without having imported liqenv; the ``liqenv:`` prefix imports it."""
    code = ("import gymnasium as gym, sys; env = gym.make('liqenv:liqenv/TwoStore-v1'); "
            "env.reset(seed=0); assert 'liqenv' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
