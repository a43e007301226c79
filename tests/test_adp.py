"""ADP with linear value functions (Yang et al. 2019 section 6.2.2, ``baselines/adp.py``).

The LP's optimality certificate (primal and dual feasibility, complementary
slackness, equal objectives), the upper-bound property of the approximate
LP against an exact stochastic DP over the same candidate prices and against
exact evaluations of the ADP and PDS policies, the paper's Table 5 figure,
ladder pricing and costs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import baselines
import liqenv
from baselines.adp import expected_sales, markov_policy_value
from baselines.base import UnsupportedScenario

#: Yang et al. Table 5: ADP's average revenue, uniform valuations, N=100, D=10.
PAPER_ADP_UNIFORM = 84.89


@pytest.fixture(scope="module")
def adp_uniform():
    return baselines.make("adp", liqenv.make_scenario("SingleStore-v0", pricing="continuous"))


def test_expected_sales_is_expected_min(adp_uniform):
    dm = adp_uniform.demand
    prices = adp_uniform.candidates[3, ::17]
    S = expected_sales(dm, 3, prices, 60)
    pmf = dm.pmf(0, 3, prices, 400)  # far tail is negligible
    j = np.arange(400)
    for m in (0, 1, 13, 60):
        direct = (np.minimum(j, m) * pmf[:, :-1]).sum(1) + m * pmf[:, -1]
        np.testing.assert_allclose(S[:, m], direct, atol=1e-10)


def test_lp_optimality_certificate(adp_uniform):
    pol = adp_uniform
    res, lp = pol.lp_result, pol.lp
    A, b, c, x = lp["A_ub"], lp["b_ub"], lp["c"], res.x
    assert res.status == 0
    assert A.shape == (10 * 100 * 101, 20)
    slack = b - A @ x
    assert slack.min() > -1e-7  # primal feasible
    lam = res.ineqlin.marginals  # d(objective)/d(b_ub) <= 0 for <= rows
    assert lam.max() < 1e-9  # dual feasible
    np.testing.assert_allclose(A.T @ lam, c, atol=1e-7)  # stationarity (free variables)
    assert abs(float(lam @ slack)) < 1e-6  # complementary slackness
    assert float(b @ lam) == pytest.approx(res.fun, abs=1e-6)  # no duality gap
    assert pol.value_estimate == pytest.approx(res.fun)
    assert pol.value_estimate == pytest.approx(pol.theta[0] + pol.gamma[0] * 100)


def _restricted_sdp(pol) -> float:
    """Exact optimum over the ADP's candidate prices (section 6.2.1's SDP
    with a finite price set), by backward induction on the env's pmf."""
    sc = pol.scenario
    N, T = int(sc.inventory[0]), sc.horizon
    V = np.zeros(N + 1)
    for t in range(T - 1, -1, -1):
        P = pol.candidates[t]
        pmf = pol.demand.pmf(0, t, P, N)  # (P, N+1), last entry P(X >= N)
        new = np.zeros(N + 1)
        for m in range(1, N + 1):
            head = pmf[:, :m]
            tail = 1.0 - head.sum(1)
            sold = np.arange(m)
            val = (head * (P[:, None] * sold + V[m - sold])).sum(1) + tail * (P * m + V[0])
            new[m] = val.max()
        V = new
    return float(V[N])


def test_lp_value_bounds_exact_values(adp_uniform):
    """The constraints are exact Bellman inequalities for linear value
    functions, so theta_1 + gamma_1 N bounds every policy posting candidate
    prices: the restricted SDP optimum, the ADP policy and PDS (whose prices
    are the same 100 expected order statistics)."""
    pol = adp_uniform
    best = _restricted_sdp(pol)
    adp_value = markov_policy_value(pol)[-1]
    pds_value = markov_policy_value(baselines.make("pds", pol.scenario))[-1]
    assert pol.value_estimate >= best - 1e-9
    assert best >= adp_value - 1e-9 and best >= pds_value - 1e-9
    assert adp_value == pytest.approx(PAPER_ADP_UNIFORM, rel=0.02)


@pytest.mark.slow
def test_adp_monte_carlo_close_to_paper(adp_uniform):
    env = liqenv.LiquidationEnv("SingleStore-v0", pricing="continuous")
    pol = adp_uniform
    out = []
    for s in range(300):
        obs, _ = env.reset(seed=s)
        pol.reset(seed=s, scenario=env.scenario)
        total, term = 0.0, False
        while not term:
            obs, r, term, _, info = env.step(pol.act(obs))
            total += r
        assert info["rule_violations"] == 0
        out.append(total)
    x = np.asarray(out)
    assert x.mean() == pytest.approx(PAPER_ADP_UNIFORM, rel=0.02)
    assert x.mean() <= pol.value_estimate + 4 * x.std(ddof=1) / math.sqrt(len(x))


def test_ladder_candidates_and_costs():
    """On a ladder the candidates are the ladder prices; with holding cost and
    salvage the bound still holds against the exact policy value (so the LP
    charges costs as the env does)."""
    sc = liqenv.make_scenario("SingleStore-v0", inventory=60, horizon=6, holding_cost=0.02,
                              salvage_rate=0.15)
    pol = baselines.make("adp", sc)
    np.testing.assert_allclose(pol.candidates[0], (1 - sc.ladder) * sc.list_price[0])
    env = liqenv.LiquidationEnv(sc)
    obs, _ = env.reset(seed=0)
    pol.reset(seed=0, scenario=env.scenario)
    term = False
    while not term:
        a = pol.act(obs)
        assert env.action_space.contains(a)
        obs, _, term, _, info = env.step(a)
        assert info["rule_violations"] == 0
    exact = markov_policy_value(pol)[-1]
    assert pol.value_estimate >= exact - 1e-9
    assert pol.value_estimate - exact < 0.05 * exact


def test_state_grid_for_large_stock():
    sc = liqenv.make_scenario("SingleStore-v0", inventory=300, pricing="continuous")
    full = baselines.make("adp", sc)
    coarse = baselines.make("adp", sc, max_states=31)
    assert len(coarse.states) == 31 and coarse.states[0] == 0 and coarse.states[-1] == 300
    assert coarse.value_estimate == pytest.approx(full.value_estimate, rel=0.01)


def test_options_and_unsupported():
    with pytest.raises(ValueError):
        baselines.make("adp", liqenv.make_scenario("SingleStore-v0"), n_prices=0)
    with pytest.raises(UnsupportedScenario):
        baselines.make("adp", liqenv.LiquidationEnv("TwoStore-v1"))
