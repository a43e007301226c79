"""``practitioner`` and ``store_pds`` (baselines/chain.py) on the chain scenarios.

Chain-v1 episodes (Craig & Raman section 7.2: 60 days, leases with notice
and rent locks, hidden store effects) on ten of its 40 stores, five with the
rent lock and five without (every per-store rule of the preset, at about a third
of store_pds's planning cost), with no rule repairs and every unit accounted
for; the per-store plan beating current practice on the same demand draws;
the practitioners' schedule and the re-forecast of store effects from sales;
the other store scenarios.
"""

from __future__ import annotations

import numpy as np
import pytest

import baselines
import liqenv
from baselines.chain import effect_estimate
from helpers import CHAIN_TEN, sub_chain

SEEDS = (0, 1, 2)


def play(env, pol, seed):
    obs, _ = env.reset(seed=seed)
    pol.reset(seed=seed, scenario=env.scenario)
    out = dict(profit=0.0, violations=0, sold=0, salvaged=0, markdowns=[], open=[])
    done = False
    while not done:
        obs, r, done, _, info = env.step(pol.act(obs))
        out["profit"] += r
        out["violations"] += info["rule_violations"]
        out["sold"] += int(info["sold"].sum())
        out["salvaged"] += int(info["salvaged"].sum())
        out["markdowns"].append(1.0 - info["price"] / env.scenario.list_price)
        out["open"].append(info["open"])
    out["in_transit"] = info["in_transit"]
    out["last_obs"] = env.decode_observation(obs)
    return out


@pytest.fixture(scope="module")
def chain_runs():
    env = liqenv.LiquidationEnv(sub_chain(CHAIN_TEN))
    runs = {}
    for name in ("practitioner", "store_pds"):
        pol = baselines.make(name, env)
        runs[name] = []
        for seed in SEEDS:
            res = play(env, pol, seed)
            if name == "practitioner":
                res["effect_est"] = effect_estimate(res["last_obs"], env.scenario.n_stores)
                res["effect_true"] = env.state.effect[0].copy()
            runs[name].append(res)
    return env.scenario, runs


@pytest.mark.parametrize("name", ["practitioner", "store_pds"])
def test_chain_episode_obeys_rules_and_conserves_units(chain_runs, name):
    sc, runs = chain_runs
    for res in runs[name]:
        assert res["violations"] == 0
        assert res["in_transit"] == 0
        assert res["sold"] + res["salvaged"] == sc.total_inventory


def test_store_pds_beats_practitioner_on_chain(chain_runs):
    _, runs = chain_runs
    diff = np.array([p["profit"] - q["profit"] for p, q in zip(runs["store_pds"], runs["practitioner"])])
    t_stat = diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff)))
    assert diff.mean() > 0 and t_stat > 2, diff


def test_practitioner_posts_one_rising_chain_schedule(chain_runs):
    sc, runs = chain_runs
    for res in runs["practitioner"]:
        md = np.array(res["markdowns"])  # (T, S) posted by open stores
        open_ = np.array(res["open"])
        path = []
        for t in range(sc.horizon):
            live = md[t][open_[t]]
            if len(live):
                assert np.allclose(live, live[0])  # one schedule for the chain
                path.append(live[0])
        path = np.array(path)
        assert path[0] == pytest.approx(0.25)
        assert np.all(np.diff(path) >= -1e-9)
        # changes only every min_hold (7) days, each moving toward 25% -> 85%
        changes = np.flatnonzero(np.abs(np.diff(path)) > 1e-9) + 1
        assert np.all(np.diff(changes) >= sc.markdowns.min_hold)
        assert path[-1] > 0.5


def test_effect_estimates_read_the_hidden_store_effects(chain_runs):
    _, runs = chain_runs
    for res in runs["practitioner"]:
        est, true = np.log(res["effect_est"]), np.log(res["effect_true"])
        prior_mean = -0.5 * np.log1p(liqenv.make_scenario("Chain-v1").demand.store_effect_cv ** 2)
        prior_err = np.abs(true - prior_mean).mean()
        assert np.corrcoef(est, true)[0, 1] > 0.8
        assert np.abs(est - true).mean() < 0.5 * prior_err


@pytest.mark.parametrize("scenario, overrides", [
    ("TwoStore-v1", {}),
    ("DistributionCentre-v1", {}),
    ("DistributionCentre-v1", {"uniform_pricing": True}),
    ("SingleStore-v0", {}),
])
@pytest.mark.parametrize("name", ["practitioner", "store_pds"])
def test_other_store_scenarios(name, scenario, overrides):
    env = liqenv.LiquidationEnv(scenario, **overrides)
    pol = baselines.make(name, env)
    res = play(env, pol, 3)
    assert res["violations"] == 0
    assert res["sold"] + res["salvaged"] == env.scenario.total_inventory
    if overrides.get("uniform_pricing"):
        for md, op in zip(res["markdowns"], res["open"]):
            live = md[op & ~env.scenario.is_dc]
            assert np.allclose(live, live[0]) if len(live) else True


@pytest.mark.parametrize("name", ["practitioner", "store_pds", "craig_raman"])
def test_continuous_prices_are_unsupported(name):
    with pytest.raises(baselines.UnsupportedScenario, match="ladder"):
        baselines.make(name, liqenv.make_scenario("SingleStore-v0", pricing="continuous"))


def test_rule_state_reproduces_the_env_masks():
    """Policies rebuild the rule state from the observation; the masks they
    then get from liqenv.dynamics must be the env's own action masks."""
    from baselines.chain import rule_state
    from liqenv import dynamics as dyn

    env = liqenv.LiquidationEnv("TransferChain-v1")
    lay = env.action_layout
    pol = baselines.make("practitioner", env)
    obs, _ = env.reset(seed=4)
    pol.reset(seed=4)
    for t in range(env.scenario.horizon):
        d = env.decode_observation(obs)
        st = rule_state(pol.params, d)
        want = env.action_masks()
        L = len(env.scenario.ladder)
        levels = dyn.markdown_ladder_mask(pol.params, st)[0][lay.price_stores]
        assert np.array_equal(levels.ravel(), want[: lay.n_price * L]), t
        live = st.close_at[0] > t
        allowed = dyn.markdown_allowed(pol.params, st, np.ascontiguousarray(
            np.broadcast_to(env.scenario.ladder, (1, env.scenario.n_stores, L))))[0]
        assert np.array_equal(allowed[live], levels[live])
        close = dyn.close_allowed(pol.params, st)[0][lay.close_stores]
        assert np.array_equal(close, want[lay.n_price * L:][: 2 * lay.n_close].reshape(-1, 2)[:, 1]), t
        obs, _, done, _, _ = env.step(pol.act(obs))
        if done:
            break


def test_ship_units_is_the_env_rule_elementwise():
    # one menu entry per source: the env's shipped units, broadcast over arrays
    from baselines.chain import ship_units
    from liqenv import rules
    q = np.array([0.0, 0.1, 0.25, 1 / 3, 0.5, 1.0])
    z = np.arange(0, 40)
    got = ship_units(q[:, None], z[None, :])
    assert got.shape == (len(q), len(z)) and got.dtype == np.int64
    for i, f in enumerate(q):
        for j, n in enumerate(z):
            assert got[i, j] == rules.shipped_units([n], [f], [0])[0]
    assert int(ship_units(0.3, 7)) == 2
