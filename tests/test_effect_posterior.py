"""The effect posterior in the observation (MODEL.md section 6; issue 11 item 1).

The step kernel keeps, per copy and store, the conjugate normal update of
each store's log demand effect (Craig & Raman section 5.3) and the
observation carries its mean and standard deviation.  The oracle here is the
estimator the chain baselines kept before it moved into liqenv, written out
in plain NumPy from the recorded prices, on-hand units and sales of played
episodes: the observation must equal it (float32 rounding aside), in the
single env and in every copy of a vector env.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import baselines
import liqenv
from baselines.chain import effect_estimate, effect_posterior
from liqenv.demand import make_demand
from liqenv.vector import LiquidationBatch

HIDDEN = ("Chain-v1", "TransferChain-v1", "DistributionCentre-v1")


class Oracle:
    """The pre-move ``baselines.chain.EffectEstimator``: prior ``N(-s0^2/2, s0^2)``,
    ``s0^2 = log(1 + cv_u^2)``; each period an open, non-DC store with stock
    that did not sell out adds ``y = log((n+.5)/(mu+.5)) + var/2`` with
    ``var = log(1 + cv^2 + 1/(mu+.5))``, ``mu`` expected at effect 1."""

    def __init__(self, sc):
        self.sc, self.dm = sc, make_demand(sc)
        s0 = np.log1p(sc.demand.store_effect_cv ** 2)
        self.prior_mean, self.prior_prec = -0.5 * s0, 1.0 / s0
        self.w = np.zeros(sc.n_stores)
        self.wy = np.zeros(sc.n_stores)

    def update(self, t, price, on_hand, open_, sold):
        for s in np.flatnonzero(open_ & ~self.sc.is_dc & (on_hand > 0)):
            n = float(sold[s])
            if n >= on_hand[s]:
                continue
            mu = float(self.dm.mean(int(s), t, price[s], on_hand=float(on_hand[s]), effect=1.0))
            if mu <= 0:
                continue
            var = np.log1p(self.sc.demand.cv ** 2 + 1.0 / (mu + 0.5))
            self.w[s] += 1.0 / var
            self.wy[s] += (np.log((n + 0.5) / (mu + 0.5)) + 0.5 * var) / var

    def posterior(self):
        prec = self.prior_prec + self.w
        return (self.prior_prec * self.prior_mean + self.wy) / prec, np.sqrt(1.0 / prec)


@pytest.mark.parametrize("env_id", HIDDEN)
def test_observation_carries_the_posterior_of_a_recorded_episode(env_id):
    env = liqenv.LiquidationEnv(env_id)
    sc = env.scenario
    oracle = Oracle(sc)
    pol = baselines.make("practitioner", env)
    obs, _ = env.reset(seed=4)
    pol.reset(seed=4, scenario=sc)
    d = env.decode_observation(obs)
    np.testing.assert_allclose(d["effect_mean"], oracle.posterior()[0], rtol=1e-6)
    np.testing.assert_allclose(d["effect_sd"], oracle.posterior()[1], rtol=1e-6)
    rng = np.random.default_rng(0)
    done, learned = False, 0
    while not done:
        t = int(env.state.t[0])
        a = pol.act(obs)
        if env.action_layout.n_ship:  # some random transfers, so on-hand units move too
            m = env.action_masks()
            ship = env.action_layout.ship_slice
            k0 = sum(env.action_layout.nvec[: ship.start])
            for i, c in enumerate(range(ship.start, ship.stop)):
                ok = np.flatnonzero(m[k0 + i * env.action_layout.K: k0 + (i + 1) * env.action_layout.K])
                a[c] = rng.choice(ok) if rng.random() < 0.05 else 0
        before = env.state.on_hand[0].copy()
        open_ = env.state.close_at[0] > t
        obs, _, done, _, info = env.step(a)
        out = np.zeros(sc.n_stores, dtype=np.int64)
        p = env.params
        if p.P:
            np.add.at(out, p.src, info["shipped"])
        on_hand = before - out
        # stores closing now sold nothing (closed before customers came)
        open_ &= env.state.close_at[0] > t
        oracle.update(t, info["price"], on_hand, open_, info["sold"])
        d = env.decode_observation(obs)
        mean, sd = oracle.posterior()
        np.testing.assert_allclose(d["effect_mean"], mean.astype(np.float32), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(d["effect_sd"], sd.astype(np.float32), rtol=1e-6, atol=1e-7)
        learned = max(learned, int((oracle.w > 0).sum()))
    assert learned > sc.n_stores // 2  # most stores' posteriors moved


def test_vector_copies_keep_their_own_posterior():
    """A batch's copy b observes what a single env with copy b's seed observes."""
    seeds = [10, 11, 12]
    batch = LiquidationBatch("Chain-v1", len(seeds))
    batch.reset_copies(np.arange(len(seeds)), seeds=seeds)
    singles = [liqenv.LiquidationEnv("Chain-v1") for _ in seeds]
    for e, sd in zip(singles, seeds):
        e.reset(seed=sd)
    act = np.zeros((len(seeds), singles[0].action_layout.n), dtype=np.int64)  # hold list price
    for _ in range(8):
        obs = batch.step(act)[0]
        for b, e in enumerate(singles):
            np.testing.assert_array_equal(obs[b], e.step(act[b])[0])
    assert np.abs(batch.obs_layout.decode(obs)["effect_mean"] - batch.obs_layout.decode(obs)["effect_mean"][0]).max() > 0


def test_policies_read_the_posterior_from_the_observation():
    env = liqenv.LiquidationEnv("Chain-v1")
    obs, _ = env.reset(seed=1)
    for _ in range(5):
        obs, *_ = env.step(baselines.make("practitioner", env).act(obs))
    d = env.decode_observation(obs)
    mean, var = effect_posterior(d, env.scenario.n_stores)
    np.testing.assert_array_equal(mean, d["effect_mean"])
    np.testing.assert_allclose(effect_estimate(d, env.scenario.n_stores), np.exp(mean + var / 2))
    # no hidden effects: no block, effect 1
    env1 = liqenv.LiquidationEnv("SingleStore-v0")
    d1 = env1.decode_observation(env1.reset(seed=0)[0])
    assert "effect_mean" not in d1
    np.testing.assert_array_equal(effect_estimate(d1, 1), [1.0])


#: Actions of the chain policies recorded before the effect estimate moved
#: from baselines/chain.py (each policy kept its own history) into the
#: observation: practitioner on the three chains, seeds 0-2, and store_pds on
#: DistributionCentre, seed 0, on the -v0 scenarios.  These policies never
#: ship and the scenarios have no holding cost, so the -v1 dynamics play
#: their episodes exactly as -v0 did.
RECORDED = Path(__file__).parent / "data" / "chain_actions_v0.npz"


@pytest.mark.parametrize("key", sorted(k for k in np.load(RECORDED).files if not k.endswith("/profit")))
def test_chain_policies_act_as_before_the_move(key):
    rec = np.load(RECORDED)
    sc_name, name, seed = key.split("/")
    env = liqenv.LiquidationEnv(f"{sc_name}-v1")
    pol = baselines.make(name, env)
    obs, _ = env.reset(seed=int(seed))
    pol.reset(seed=int(seed), scenario=env.scenario)
    acts, done, profit = [], False, 0.0
    while not done:
        a = pol.act(obs)
        acts.append(np.asarray(a))
        obs, r, done, _, _ = env.step(a)
        profit += r
    np.testing.assert_array_equal(np.array(acts), rec[key])
    assert profit == float(rec[f"{key}/profit"])
