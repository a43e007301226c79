"""Tests of the stochastic dynamic programmes (``baselines/sdp.py``).

* Optimality against brute force on tiny instances: every policy of a
  one-store, two-period problem is enumerated and valued by exact
  expectation over the demand pmf; bigger tiny instances (rule states,
  two stores with closings, notice, earliest close and a rent lock) are
  searched exhaustively (expectimax over every joint decision of the whole
  chain, so the per-store separation is checked too).  The reference
  follows MODEL.md sections 2-5 step by step, independently of the
  programme's code.
* The programme's value is what the policy earns in the env (Monte Carlo,
  99% confidence interval).
* Yang et al. (2019) Table 5's SDP figures.
* The inventory grid (buckets, mean table) against the per-unit programme.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from functools import lru_cache

import numpy as np
import pytest
from scipy import stats

import baselines
from baselines.base import UnsupportedScenario
from baselines.sdp import SDP, InventoryGrid, dense_kernel, maximise_bracketed
from liqenv.demand import make_demand
from liqenv.env import LiquidationEnv
from liqenv.scenario import (NO_CLOSE, ElasticityDemand, LeaseTerms, MarkdownRules, Scenario,
                             StoreParams, ValuationDemand)

from helpers import sub_chain


# ---------------------------------------------------------------------------
# an independent reference of the model (MODEL.md sections 2-5)
class Reference:
    """Exact expected values by brute force, one period at a time as the
    env plays it: closings announced, markdown posted, demand, sales,
    operating cost (locked rent when closed), salvage of a store whose
    closing takes effect (and of everything at the end), holding cost."""

    def __init__(self, sc: Scenario):
        self.sc = sc
        self.d = make_demand(sc)
        self.lad = sc.ladder
        self.r = sc.markdowns
        self._pmf = {}

    def pmf(self, s, t, a, n):
        key = (s, t, a, n)
        if key not in self._pmf:
            price = (1 - self.lad[a]) * self.sc.list_price[s]
            oh = n if isinstance(self.sc.demand, ElasticityDemand) else None
            f = self.d.pmf(s, t, np.array(price), n, on_hand=oh, effect=None)
            self._pmf[key] = np.asarray(f, float).ravel()
        return self._pmf[key]

    def markdowns(self, s, t, st):
        """Ladder indices the rules allow (``liqenv.dynamics.markdown_allowed``)."""
        n, cur, hold, changes, close_at, locked = st
        r, lad = self.r, self.lad
        if t == 0 or hold == 0:
            lo = -np.inf if r.initial_min is None else r.initial_min
            hi = np.inf if r.initial_max is None else r.initial_max
            return [a for a in range(len(lad)) if lo - 1e-9 <= lad[a] <= hi + 1e-9]
        can = hold >= r.min_hold and (r.max_changes is None or changes < r.max_changes)
        out = []
        for a in range(len(lad)):
            d = lad[a] - lad[cur]
            d = abs(d) if not r.monotone else d
            smax = np.inf if r.step_max is None else r.step_max
            if a == cur or (can and max(r.step_min, 1e-6) - 1e-9 <= d <= smax + 1e-9):
                out.append(a)
        return out

    def may_close(self, s, t, st):
        sc = self.sc
        eff = t + sc.notice[s]
        return bool(sc.closable[s] and st[4] == NO_CLOSE and eff >= sc.earliest_close[s]
                    and eff <= sc.horizon - 1)

    def actions(self, s, t, st):
        closed_before = st[4] <= t
        mds = [st[1]] if closed_before else self.markdowns(s, t, st)
        closes = [False, True] if self.may_close(s, t, st) else [False]
        return [(a, c) for a in mds for c in closes]

    def step(self, s, t, st, a, close):
        """[(probability, reward, next state)] of store ``s`` in period ``t``."""
        sc = self.sc
        T = sc.horizon
        n, cur, hold, changes, close_at, locked = st
        closed_before = close_at <= t
        if close:
            close_at = t + int(sc.notice[s])
        closed = close_at <= t
        live = not closed_before
        changed = False
        if live:
            changed = hold > 0 and a != cur
            cur = a
        price = (1 - self.lad[cur]) * sc.list_price[s]
        if closed or n == 0:
            sales = [(1.0, 0)]
        else:
            f = self.pmf(s, t, cur, n)
            sales = [(f[k], k) for k in range(n)] + [(f[n], n)]
        locked2 = locked or (t == sc.lock_period[s] and not closed)
        op = sc.operating_costs[s, t] if not closed else (sc.locked_rent[s, t] if locked2 else 0.0)
        if live:
            hold, changes = (1 if changed else hold + 1), changes + int(changed)
        out = []
        for p, k in sales:
            n2 = n - k
            leave = close_at == t or t == T - 1
            salv = n2 * sc.salvage_price[s] if leave else 0.0
            n3 = 0 if leave else n2
            h = sc.holding_cost * n3 if t < T - 1 else 0.0
            out.append((p, k * price - op - h + salv, (n3, cur, hold, changes, close_at, locked2)))
        return out

    def start(self):
        return tuple((int(n), 0, 0, 0, NO_CLOSE, False) for n in self.sc.inventory)

    def expectimax(self) -> float:
        """Best expected profit over every joint decision (exhaustive search)."""
        T, S = self.sc.horizon, self.sc.n_stores

        @lru_cache(maxsize=None)
        def V(t, state):
            if t == T:
                return 0.0
            best = -np.inf
            for joint in itertools.product(*(self.actions(s, t, state[s]) for s in range(S))):
                outs = [self.step(s, t, state[s], *joint[s]) for s in range(S)]
                v = 0.0
                for combo in itertools.product(*outs):
                    p = math.prod(o[0] for o in combo)
                    if p == 0.0:
                        continue
                    v += p * (sum(o[1] for o in combo) + V(t + 1, tuple(o[2] for o in combo)))
                best = max(best, v)
            return best

        return V(0, self.start())

    def enumerate_two_periods(self) -> float:
        """Best expected profit over all policies of a one-store, two-period
        problem: a period-0 action and one period-1 action per reachable
        state, each policy valued by exact expectation."""
        assert self.sc.n_stores == 1 and self.sc.horizon == 2
        st0 = self.start()[0]
        best = -np.inf
        for a0 in self.actions(0, 0, st0):
            outs = self.step(0, 0, st0, *a0)
            states = sorted({o[2] for o in outs})
            choices = [self.actions(0, 1, x) for x in states]
            for plan in itertools.product(*choices):
                rule = dict(zip(states, plan))
                v = 0.0
                for p, r, x in outs:
                    v += p * (r + sum(q * r1 for q, r1, _ in self.step(0, 1, x, *rule[x])))
                best = max(best, v)
        return best


def one_store(N=3, T=2, ladder=(0.0, 0.3, 0.6), rate=2.0, holding=0.0, salvage=0.0, op=0.0,
              valuation="uniform", decay=0.9, **rules) -> Scenario:
    return Scenario(
        name="tiny", horizon=T,
        stores=(StoreParams(inventory=N, closable=False, salvage_rate=salvage, operating_cost=op),),
        demand=ValuationDemand(arrival_rate=rate, valuation=valuation, decay=decay),
        markdowns=MarkdownRules(ladder=ladder, **rules), holding_cost=holding)


TWO_PERIOD_CASES = {
    "free": dict(monotone=False),
    "monotone": dict(monotone=True),
    "holding-salvage": dict(monotone=False, holding=0.15, salvage=0.25),
    "monotone-costs": dict(monotone=True, holding=0.1, salvage=0.3, op=0.2, valuation="exponential"),
    "window-step": dict(monotone=True, initial_min=0.3, step_max=0.3, rate=3.0),
    "hold2": dict(monotone=False, min_hold=2, salvage=0.1),
}


@pytest.mark.parametrize("case", sorted(TWO_PERIOD_CASES))
def test_single_store_equals_policy_enumeration(case):
    kw = dict(TWO_PERIOD_CASES[case])
    sc = one_store(**kw)
    pol = baselines.make("sdp", sc)
    assert pol.exact == [True]
    assert pol.value_estimate == pytest.approx(Reference(sc).enumerate_two_periods(), abs=1e-10)


@pytest.mark.parametrize("rules", [
    dict(monotone=True, min_hold=2, max_changes=1, rate=1.5),
    dict(monotone=False, min_hold=3, T=5, ladder=(0.0, 0.4, 0.8), decay=0.7),
    dict(monotone=False, min_hold=1, max_changes=1, holding=0.05, rate=1.5),
    dict(monotone=True, step_max=0.3, salvage=0.2, op=0.1, rate=1.5)])
def test_single_store_rule_states_equal_expectimax(rules):
    sc = one_store(**{"N": 3, "T": 4, **rules})
    pol = baselines.make("sdp", sc)
    assert pol.value_estimate == pytest.approx(Reference(sc).expectimax(), abs=1e-10)


def chain_of_two(demand="valuation", notice=1, **kw) -> Scenario:
    """Two stores, four periods: notice, earliest close, rent locks, costs."""
    stores = (
        StoreParams(name="a", inventory=3, operating_cost=(0.35, 0.35, 0.5, 0.6), salvage_rate=0.2,
                    lease=LeaseTerms(notice=notice, earliest_close=2, lock_period=1, lock_until=3,
                                     rent_fraction=0.7)),
        StoreParams(name="b", inventory=2, operating_cost=0.45, salvage_rate=0.1,
                    lease=LeaseTerms(notice=0, lock_period=1, lock_until=3, rent_fraction=0.6)),
    )
    if demand == "valuation":
        dem = ValuationDemand(arrival_rate=(1.6, 1.1), valuation="uniform", decay=0.85)
    else:
        dem = ElasticityDemand(base=(0.8, 0.6), elasticity=1.5, lift=(1.2, 1.0, 0.8, 0.6),
                               beta_inv=0.5, cv=0.6)
    return Scenario(name="two", horizon=4, stores=stores, demand=dem,
                    markdowns=MarkdownRules(ladder=(0.0, 0.3, 0.6), **kw), holding_cost=0.03)


@pytest.mark.parametrize("demand,rules", [("valuation", dict(monotone=True)),
                                          ("valuation", dict(monotone=True, notice=2)),
                                          ("elasticity", dict(monotone=True, min_hold=2)),
                                          ("valuation", dict(monotone=False, max_changes=1))])
def test_closing_chain_equals_joint_expectimax(demand, rules):
    sc = chain_of_two(demand, **rules)
    pol = baselines.make("sdp", sc)
    assert pol.exact == [True, True]
    ref = Reference(sc).expectimax()
    assert pol.value_estimate == pytest.approx(ref, abs=1e-10)
    # the problem must exercise closing: forbidding it changes the optimum
    no_close = baselines.make("sdp", sc.with_overrides(closable=False))
    assert no_close.value_estimate < pol.value_estimate - 1e-6


def test_distribution_centre_closes_like_a_store_without_customers():
    sc = chain_of_two("valuation", notice=2, monotone=True)
    sc = dataclasses.replace(sc, stores=(sc.stores[0], dataclasses.replace(
        sc.stores[1], inventory=3, is_dc=True, lease=LeaseTerms(notice=1))))
    pol = baselines.make("sdp", sc)
    assert pol.value_estimate == pytest.approx(Reference(sc).expectimax(), abs=1e-10)
    # announce at once, closed in period 1: one period's operating and holding cost, then salvage
    assert pol.store_values[1] == pytest.approx(-0.45 - 3 * 0.03 + 3 * 0.1)
    env = LiquidationEnv(sc, strict=True)
    obs, _ = env.reset(seed=0)
    pol.reset(seed=0, scenario=env.scenario)
    obs, *_ = env.step(pol.act(obs))  # announced in period 0 ...
    assert env.unwrapped.status[1] == "closed"  # ... closed from period 1
    obs, _, _, _, info = env.step(pol.act(obs))
    assert info["salvaged"][1] == 3


# ---------------------------------------------------------------------------
# the value is what the policy earns in the env
def rollout_profits(env, pol, episodes, seed0=0):
    out = np.empty(episodes)
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed0 + ep)
        pol.reset(seed=seed0 + ep, scenario=env.scenario)
        total, done = 0.0, False
        while not done:
            obs, r, done, _, info = env.step(pol.act(obs))
            total += r
        out[ep] = total
    return out


def assert_in_ci(values, target, level=0.99):
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    assert abs(values.mean() - target) <= half, (values.mean(), half, target)


@pytest.mark.slow
@pytest.mark.parametrize("pricing", ["ladder", "continuous"])
def test_value_matches_monte_carlo_single_store(pricing):
    env = LiquidationEnv("SingleStore-v0", pricing=pricing, strict=True)
    pol = baselines.make("sdp", env)
    assert_in_ci(rollout_profits(env, pol, 600), pol.value_estimate)


@pytest.mark.slow
def test_value_matches_monte_carlo_closing_chain():
    env = LiquidationEnv(chain_of_two("elasticity", notice=2, monotone=True, min_hold=2), strict=True)
    pol = baselines.make("sdp", env)
    assert_in_ci(rollout_profits(env, pol, 3000), pol.value_estimate)


# ---------------------------------------------------------------------------
# Yang et al. (2019) Table 5, SDP column (N=100, D=10, Poisson(100), alpha 0.99)
@pytest.mark.parametrize("preset,paper", [("SingleStore-v0", 85.58), ("SingleStoreExp-v1", 216.39),
                                          ("SingleStoreWeibull-v1", 117.32)])
def test_yang_table5_sdp(preset, paper):
    pol = baselines.make("sdp", LiquidationEnv(preset, pricing="continuous"))
    assert pol.value_estimate == pytest.approx(paper, rel=0.005)


def test_continuous_beats_ladder_and_refinement_beats_grid():
    env = LiquidationEnv("SingleStore-v0", pricing="continuous")
    ladder = baselines.make("sdp", LiquidationEnv("SingleStore-v0")).value_estimate
    grid_only = baselines.make("sdp", env, price_points=21, xtol=1.0).value_estimate  # no refinement
    refined = baselines.make("sdp", env, price_points=21).value_estimate
    fine = baselines.make("sdp", env).value_estimate
    assert ladder < grid_only < refined <= fine + 1e-9
    assert fine - refined < 0.1 * (fine - grid_only)


def test_maximise_bracketed_finds_interior_and_edge_maxima():
    top = np.array([0.3, 0.0, 1.0])
    f = lambda x, k: -(x - top[k]) ** 2  # noqa: E731
    a, b, c = np.array([0.2, 0.0, 0.8]), np.array([0.25, 0.0, 0.9]), np.array([0.4, 0.2, 1.0])
    fb = f(b, np.arange(3))
    x, fx = maximise_bracketed(f, a, b, c, np.full(3, np.nan), fb, np.full(3, np.nan), 1e-9, max_iter=60)
    assert x == pytest.approx(top, abs=1e-6)
    assert np.all(fx >= fb)


# ---------------------------------------------------------------------------
# the inventory grid
def test_dense_kernel_is_exact_per_unit_and_conserves_mass():
    grid = InventoryGrid.make(7, None)
    f = stats.poisson.pmf(np.arange(7), 2.5)
    F = np.concatenate([[0.0], np.cumsum(f)])
    PM = np.concatenate([[0.0], np.cumsum(f * np.arange(7))])
    K, emin = dense_kernel(grid, F[None, None, :7], PM[None, None, :7], F[None, grid.levels],
                           PM[None, grid.levels])
    for n in range(8):
        want = np.zeros(8)
        for j in range(n):
            want[n - j] += f[j]
        want[0] += 1 - f[:n].sum()
        assert K[0, n] == pytest.approx(want, abs=1e-14)
        assert emin[0, n] == pytest.approx(sum(min(j, n) * f[j] for j in range(7)) + n * (1 - f.sum()))
    coarse = InventoryGrid.make(50, 7)
    assert coarse.levels[0] == 0 and coarse.levels[-1] == 50
    assert np.all(np.diff(coarse.levels[1:]) == coarse.delta)


@pytest.mark.parametrize("preset,kw", [("SingleStore-v0", dict(inventory=300)),
                                       ("SingleStoreWeibull-v1", dict(inventory=300, pricing="continuous"))])
def test_buckets_approximate_the_per_unit_programme(preset, kw):
    env = LiquidationEnv(preset, **kw)
    exact = baselines.make("sdp", env)
    grid = baselines.make("sdp", env, exact_units=0, buckets=30)
    assert exact.exact == [True] and grid.exact == [False]
    assert grid.value_estimate == pytest.approx(exact.value_estimate, rel=0.005)


def test_mean_table_approximates_the_per_unit_chain_programme():
    sc = Scenario(
        name="pair", horizon=12,
        stores=tuple(StoreParams(name=f"s{i}", inventory=z, operating_cost=0.004 * z, salvage_rate=0.05,
                                 lease=LeaseTerms(notice=2, lock_period=8, lock_until=11) if i else
                                 LeaseTerms(notice=3)) for i, z in enumerate((240, 160))),
        demand=ElasticityDemand(base=(12.0, 7.0), elasticity=2.0, lift_start=2.0, lift_end=0.5,
                                lift_decay=0.85, beta_inv=0.3, store_effect_cv=0.5, cv=0.3),
        markdowns=MarkdownRules(monotone=True, initial_min=0.2, initial_max=0.4, step_max=0.3,
                                min_hold=3))
    exact = baselines.make("sdp", sc, work_limit=1e12)
    grid = baselines.make("sdp", sc, exact_units=0, buckets=40)
    assert exact.exact == [True, True] and grid.exact == [False, False]
    assert grid.value_estimate == pytest.approx(exact.value_estimate, rel=0.01)


def test_chain_policy_plays_by_the_rules():
    """Four Chain-v1 stores (two with the rent lock) on the bucketed grid."""
    env = LiquidationEnv(sub_chain([0, 1, 38, 39]), strict=True)
    pol = baselines.make("sdp", env)
    assert pol.exact == [False] * 4 and np.all(np.isfinite(pol.store_values))
    rollout_profits(env, pol, 2)  # strict: a rule violation would raise


# ---------------------------------------------------------------------------
@pytest.mark.parametrize("preset,over,why", [
    ("TransferChain-v1", {}, "transfers"),
    ("DistributionCentre-v1", {}, "transfers"),
    ("Chain-v1", {"uniform_pricing": True}, "uniform"),
    ("SingleStore-v0", {"pricing": "continuous", "monotone_markdowns": True}, "continuous"),
])
def test_unsupported_scenarios_say_why(preset, over, why):
    with pytest.raises(UnsupportedScenario, match=why):
        baselines.make("sdp", LiquidationEnv(preset, **over))


def test_bad_options_raise():
    with pytest.raises(ValueError, match="buckets"):
        SDP(LiquidationEnv("SingleStore-v0").scenario, buckets=0)
    with pytest.raises(ValueError, match="unknown option"):
        SDP(LiquidationEnv("SingleStore-v0").scenario, nonsense=1)
