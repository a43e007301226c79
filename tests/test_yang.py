"""Yang et al. (2019) deterministic-representation baselines (``baselines/yang.py``).

Paper reproductions (Tables 1 and 2, the section 5.1 base case), the greedy
against the DP and brute force, the fast greedy against Algorithm 1,
Proposition 2 against the definition of NDMR, the expected order
statistics against closed forms and ``scipy.integrate.quad``, and the
policies on the environment (exact policy evaluation and paired Monte
Carlo).
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, special

import baselines
import liqenv
from baselines.adp import markov_policy_value
from baselines.base import UnsupportedScenario
from baselines.yang import (NDMRWarning, DeterministicDemand, SuffixSelector, deterministic_demand,
                            dp_plan, evaluate_prices, expected_order_statistics, fixed_price,
                            fixed_quantity_prices, greedy, greedy_heap, greedy_topn, maxrev,
                            ndmr_holds, order_statistics_quadrature, plan_value)

YANG = ("pas", "pds", "det_dp", "fp", "fq", "dynamic_price", "dq")

# Table 1 of the paper: rows = customers b = 1..4, columns = days d = 1..4.
TABLE1 = [[100, 95, 90.25, 85.74],
          [96, 91.2, 86.64, 82.31],
          [92, 87.4, 83.03, 78.88],
          [88, 83.6, 79.42, 75.45]]
# Table 2, panels (a) and (b).
TABLE2A = [[100, 90, 81], [60, 54, 48.6], [50, 45, 40.5]]
TABLE2B = [[80, 8, 0.8], [40, 4, 0.4], [30, 3, 0.3]]


# ------------------------------------------------------------- paper tables
def test_table1_optimum_fixed_price_fixed_quantity():
    dd = DeterministicDemand.from_table(TABLE1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NDMRWarning)
        sales, value = greedy(dd, 4)
    assert sales.tolist() == [2, 1, 1, 0]
    assert value == pytest.approx(377.25, abs=1e-9)
    dsales, dvalue = dp_plan(dd, 4)
    assert dsales.tolist() == [2, 1, 1, 0] and dvalue == pytest.approx(377.25, abs=1e-9)
    # fixed price: the 4th highest valuation, 92, sells 3 + 1 units
    p = fixed_price(dd, 4)
    assert p == 92
    fp_sales, fp_value = evaluate_prices(dd, np.full(4, p), 4)
    assert fp_sales.tolist() == [3, 1, 0, 0] and fp_value == pytest.approx(368.0)
    # discriminant prices to the same four customers (section 3.2): 371
    assert plan_value(dd, fp_sales, 4) == pytest.approx(371.0)
    # fixed quantity: one unit a day to the day's best customer
    fq_sales, fq_value = evaluate_prices(dd, fixed_quantity_prices(dd, 4), 4)
    assert fq_sales.tolist() == [1, 1, 1, 1] and fq_value == pytest.approx(370.99)


def test_table2b_greedy_suboptimal_and_warns():
    dd = DeterministicDemand.from_table(TABLE2B)
    assert not ndmr_holds(dd)
    with pytest.warns(NDMRWarning):
        sales, value = greedy(dd, 3)
    assert sales.tolist() == [1, 1, 1] and value == pytest.approx(88.8)
    dsales, dvalue = dp_plan(dd, 3)
    assert dsales.tolist() == [3, 0, 0] and dvalue == pytest.approx(90.0)
    # the top-N shortcut is wrong here, which is why greedy() falls back
    assert greedy_topn(dd, 3)[1] != pytest.approx(88.8)


def test_table2a_ndmr_fails_but_greedy_optimal():
    dd = DeterministicDemand.from_table(TABLE2A)
    assert not ndmr_holds(dd)
    with pytest.warns(NDMRWarning):
        sales, value = greedy(dd, 3)
    assert sales.tolist() == [1, 1, 1] and value == pytest.approx(271.0)
    assert dp_plan(dd, 3)[1] == pytest.approx(value)


def test_base_case_deterministic_revenue():
    """Section 5.1: N=100, D=10, B=100, U(0,1), alpha=0.99 gives 86.27."""
    dd = deterministic_demand(liqenv.make_scenario("SingleStore-v0"))
    assert dd.counts.tolist() == [100] * 10
    _, value = greedy(dd, 100)
    assert round(value, 2) == 86.27
    assert dp_plan(dd, 100)[1] == pytest.approx(value, abs=1e-9)


# ------------------------------------------------------ order statistics
@pytest.mark.parametrize("n", [1, 2, 7, 100, 301])
@pytest.mark.parametrize("valuation", ["uniform", "exponential"])
def test_order_statistics_quadrature_matches_closed_forms(n, valuation):
    closed = expected_order_statistics(n, valuation)
    assert np.all(np.diff(closed) < 0)
    np.testing.assert_allclose(order_statistics_quadrature(n, valuation), closed, rtol=0, atol=1e-12)
    if valuation == "exponential":  # Weibull with shape 1 is the exponential
        np.testing.assert_allclose(expected_order_statistics(n, "weibull", 1.0), closed, atol=1e-12)


@pytest.mark.parametrize("k", [1.5, 4.0, 5.0])
def test_weibull_order_statistics_match_quad(k):
    n = 60
    eos = expected_order_statistics(n, "weibull", k)
    for i in (1, 2, 30, 59, 60):
        logc = special.gammaln(n + 1) - special.gammaln(i) - special.gammaln(n - i + 1)

        def dens(x):  # x times the density of the i-th largest of n Weibull(k) draws
            s = math.exp(-x ** k)
            return x * math.exp(logc) * s ** (i - 1) * (1 - s) ** (n - i) * k * x ** (k - 1) * s

        ref = integrate.quad(dens, 0, np.inf, epsabs=1e-13, epsrel=1e-12, limit=400)[0]
        assert eos[i - 1] == pytest.approx(ref, abs=1e-10)
    # the mean of the order statistics is the mean of the distribution
    assert eos.mean() == pytest.approx(math.gamma(1 + 1 / k), abs=1e-12)


def test_non_integer_arrivals_round_half_up():
    sc = liqenv.make_scenario("Weekend-v0", arrival_rate=(80.4, 80.5, 80.6, 80, 80, 99.5, 100))
    dd = deterministic_demand(sc)
    assert dd.counts.tolist() == [80, 81, 81, 80, 80, 100, 100]
    assert np.isnan(dd.values[0, 80]) and not np.isnan(dd.values[1, 80])


# --------------------------------------------------- NDMR and Proposition 2
def _ndmr_by_definition(dd: DeterministicDemand) -> bool:
    d = dd.dmr()
    ok = True
    for t in range(dd.horizon):
        row = d[t, : dd.counts[t]]
        ok &= bool(np.all(np.diff(row) <= 1e-9 * (np.abs(row[:-1]) + np.abs(row[1:]))))
    return ok


def test_proposition2_equals_definition():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(300):
        D, B = rng.integers(1, 4), rng.integers(1, 6)
        table = -np.sort(-rng.random((D, B)) ** rng.uniform(0.3, 3), axis=1)
        dd = DeterministicDemand.from_table(table, by="day", holding_cost=rng.uniform(0, 0.1))
        assert ndmr_holds(dd) == _ndmr_by_definition(dd)
        seen.add(ndmr_holds(dd))
    assert seen == {True, False}


def _brute_force(dd: DeterministicDemand, n: int) -> float:
    R = dd.revenue()
    best = -math.inf
    for s in itertools.product(*(range(int(b) + 1) for b in dd.counts)):
        if sum(s) <= n:
            best = max(best, sum(R[t, j] for t, j in enumerate(s)) + dd.terminal_value * (n - sum(s)))
    return best


def test_maxrev_equals_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(60):
        D, B, n = rng.integers(1, 4), rng.integers(1, 5), int(rng.integers(0, 9))
        table = -np.sort(-rng.random((D, B)), axis=1)
        dd = DeterministicDemand.from_table(table, by="day", holding_cost=rng.uniform(0, 0.2),
                                            terminal_value=rng.uniform(-0.3, 0.3))
        value, _ = maxrev(dd, n)
        assert value[0, n] == pytest.approx(_brute_force(dd, n), abs=1e-12)
        sales, v = dp_plan(dd, n)
        assert sales.sum() <= n and plan_value(dd, sales, n) == pytest.approx(v, abs=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valuation=st.sampled_from(["uniform", "exponential", "weibull"]),
       shape=st.floats(1.0, 6.0), n=st.integers(1, 250), horizon=st.integers(1, 12),
       rates=st.lists(st.integers(1, 60), min_size=1, max_size=3), decay=st.floats(0.8, 1.0),
       holding=st.sampled_from([0.0, 0.0, 0.002, 0.02]), salvage=st.sampled_from([0.0, 0.0, 0.1]))
def test_greedy_equals_dp_and_topn_equals_heap(valuation, shape, n, horizon, rates, decay, holding,
                                              salvage):
    """Corollary 1 and Proposition 1 on random instances: uniform, exponential
    and Weibull (shape >= 1) satisfy NDMR, the greedy is then optimal, and
    the top-N shortcut is Algorithm 1."""
    rate = tuple(float(rates[t % len(rates)]) for t in range(horizon))
    sc = liqenv.make_scenario("SingleStore-v0", inventory=n, horizon=horizon, arrival_rate=rate,
                              valuation=valuation, weibull_shape=shape, decay=decay,
                              holding_cost=holding, salvage_rate=salvage)
    dd = deterministic_demand(sc)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NDMRWarning)
        sales, value = greedy(dd, n)
    heap_sales, heap_value = greedy_heap(dd, n)
    assert sales.tolist() == heap_sales.tolist()
    assert value == pytest.approx(heap_value, abs=1e-9)
    assert value == pytest.approx(dp_plan(dd, n)[1], rel=1e-12, abs=1e-9)


# ------------------------------------------------------------ SuffixSelector
def test_suffix_selector_matches_sorting():
    rng = np.random.default_rng(2)
    table = np.round(rng.random((30, 8)), 2)  # rounding makes ties
    mask = rng.random((30, 8)) < 0.8
    sel = SuffixSelector(table, mask)
    for t0 in (0, 5):  # the second pass starts earlier: a new episode
        for t in range(t0, 30, 3):
            days, cols = np.nonzero(mask[t:])
            vals = table[t:][days, cols]
            order = np.lexsort((cols, days, -vals))
            for m in (0, 1, 7, len(vals), len(vals) + 5):
                k = sel.kth(t, m)
                if min(m, len(vals)) <= 0:
                    assert k == -1
                    continue
                j = order[min(m, len(vals)) - 1]
                assert sel.sorted_values[k] == vals[j]
                top = order[: min(m, len(vals))]
                assert sel.count_in_day(t, k) == int(np.count_nonzero(days[top] == 0))


def test_pds_sales_today_is_algorithm1_on_the_suffix():
    for preset in ("SingleStore-v0", "Weekend-v0", "SingleStoreWeibull-v1"):
        pol = baselines.make("pds", liqenv.make_scenario(preset, holding_cost=0.003))
        rng = np.random.default_rng(3)
        for t in range(pol.scenario.horizon):
            for m in rng.integers(1, 101, 5):
                want = greedy_heap(pol.dd, int(m), start=t)[0][0]
                assert pol.sales_today(t, int(m)) == want


# ------------------------------------------------------------- policies
def _episode(env, pol, seed):
    obs, _ = env.reset(seed=seed)
    pol.reset(seed=seed, scenario=env.unwrapped.scenario)
    total, viol, term = 0.0, 0, False
    while not term:
        a = pol.act(obs)
        assert env.action_space.contains(a)
        obs, r, term, _, info = env.step(a)
        total += r
        viol += info["rule_violations"]
    return total, viol


@pytest.mark.parametrize("pricing", ["ladder", "continuous"])
@pytest.mark.parametrize("preset", ["SingleStore-v0", "Weekend-v0", "SingleStoreExp-v1"])
def test_policies_run_without_rule_violations(preset, pricing):
    assert set(YANG) <= set(baselines.available())
    env = liqenv.LiquidationEnv(preset, pricing=pricing)
    for name in YANG:
        pol = baselines.make(name, env)
        _, viol = _episode(env, pol, 0)
        assert viol == 0, name


@pytest.mark.parametrize("preset", ["TwoStore-v1", "Chain-v1"])
def test_unsupported_scenarios(preset):
    for name in YANG:
        with pytest.raises(UnsupportedScenario):
            baselines.make(name, liqenv.LiquidationEnv(preset))


def test_det_dp_value_and_pas_plan():
    sc = liqenv.make_scenario("SingleStore-v0", pricing="continuous")
    dp, pas = baselines.make("det_dp", sc), baselines.make("pas", sc)
    assert round(dp.value_estimate, 2) == 86.27
    assert dp.sales.tolist() == pas.sales.tolist()  # greedy optimal under NDMR
    assert dp.sales.sum() == 100


def test_exact_evaluation_matches_env_monte_carlo():
    """The exact policy evaluation used below agrees with env rollouts, with
    holding cost and salvage (so both charge costs the same way)."""
    env = liqenv.LiquidationEnv("SingleStore-v0", pricing="continuous", holding_cost=0.01,
                                salvage_rate=0.1)
    pol = baselines.make("pds", env)
    exact = markov_policy_value(pol)[-1]
    x = np.array([_episode(env, pol, s)[0] for s in range(400)])
    assert abs(x.mean() - exact) < 4 * x.std(ddof=1) / math.sqrt(len(x))


# Table 5 of the paper (PDS on Poisson(100), N=100, D=10, alpha=0.99).
PAPER_PDS = {"SingleStore-v0": 84.99, "SingleStoreExp-v1": 216.08, "SingleStoreWeibull-v1": 116.32}


@pytest.mark.parametrize("preset", list(PAPER_PDS))
def test_pds_expected_revenue_close_to_paper(preset):
    pol = baselines.make("pds", liqenv.make_scenario(preset, pricing="continuous"))
    assert markov_policy_value(pol)[-1] == pytest.approx(PAPER_PDS[preset], rel=0.003)


@pytest.mark.slow
def test_pds_beats_the_other_heuristics():
    """Section 6.1 on SingleStore-v0 with continuous prices.  Exact expected
    profits (policy evaluation on the env's pmf): PDS is the best.  Paired
    Monte Carlo with common seeds confirms the larger gaps (PDS vs DP is
    0.04 in expectation, too small for a quick Monte Carlo)."""
    env = liqenv.LiquidationEnv("SingleStore-v0", pricing="continuous")
    pols = {n: baselines.make(n, env) for n in ("pds", "pas", "fp", "fq", "dynamic_price", "dq")}
    exact = {n: markov_policy_value(p)[-1] for n, p in pols.items()}
    for n in pols:
        if n != "pds":
            assert exact["pds"] > exact[n], n
    seeds = range(800)
    mc = {n: np.array([_episode(env, pols[n], s)[0] for s in seeds]) for n in ("pds", "pas", "fp", "fq", "dq")}
    for n in ("pas", "fp", "fq", "dq"):
        d = mc["pds"] - mc[n]
        assert d.mean() / (d.std(ddof=1) / math.sqrt(len(d))) > 3.0, n


@pytest.mark.parametrize("overrides", [{}, {"decay": 0.9}])
def test_default_ladder_rounding_earns_more(overrides):
    """Nearest-price rounding (the default) against rounding to the level
    with the closest expected sales, summed over the heuristics."""
    sc = liqenv.make_scenario("SingleStore-v0", **overrides)
    total = {}
    for snap in ("price", "sales"):
        total[snap] = sum(markov_policy_value(baselines.make(n, sc, snap=snap))[-1]
                          for n in ("pds", "pas", "fp", "fq", "dynamic_price", "dq"))
    assert total["price"] > total["sales"]
    assert baselines.make("pds", sc).snap == "price"


def test_dq_rounding_option():
    import gymnasium as gym

    env = gym.make("liqenv/SingleStore-v0")
    floor_, round_ = baselines.make("dq", env), baselines.make("dq", env, rounding="round")
    # 19 units over 10 days: floor gives 1 a day, rounding 2, so rounding prices lower
    assert round_.price(0, 19) < floor_.price(0, 19)
    assert round_.price(0, 20) == floor_.price(0, 20)
    with pytest.raises(ValueError, match="rounding"):
        baselines.make("dq", env, rounding="ceil")
