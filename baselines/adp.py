"""Approximate dynamic programming for single-store liquidation (Yang et al. 2019, section 6.2.2).

The value of holding ``M`` units at the start of day ``d`` is approximated by
a linear function ``REV_d(M) ~ theta_d + gamma_d M`` (Topaloglu & Kunnumkal
2006; the linear-programming approach of Farias & Van Roy 2003).  The
parameters solve the linear programme::

    min  theta_1 + gamma_1 N
    s.t. theta_d + gamma_d M >= p S_d(p, M) + theta_{d+1} + gamma_{d+1} (M - S_d(p, M))
                                   for every candidate price p, stock M, day d < D
         theta_D + gamma_D M >= p S_D(p, M)

with ``S_d(p, M) = E[min(demand, M)]`` the expected sales, computed from the
environment's own demand pmf (:meth:`liqenv.demand.ValuationDemandModel.pmf`),
so the programme uses exactly the model the env simulates.  It is solved
with SciPy's HiGHS (``scipy.optimize.linprog``), not the paper's CVXOPT.
The policy posts ``argmax_p {p S_d + theta_{d+1} + gamma_{d+1} (M - S_d)}``
(``argmax_p p S_D`` on the last day), as in the paper.

Because the approximation is linear, ``E[theta + gamma M']`` is exactly
``theta + gamma (M - S)``: the constraints are the exact Bellman inequalities
of the price-restricted problem, so ``theta_1 + gamma_1 N`` (the policy's
``value_estimate``) is an upper bound on the expected profit of *any* policy
that posts candidate prices, the ADP policy included (tested).

Choices made here, beyond the paper:

* Candidate prices: with continuous pricing, the 100 expected order
  statistics of a sample of 100 from day ``d``'s valuation distribution (the
  paper's set; option ``n_prices``); on a markdown ladder, the ladder's
  prices themselves (the only prices the env accepts).
* Costs as the env charges them (MODEL.md section 5): holding cost ``h`` on
  the units carried into the next day, ``h (M - S)``, and the salvage price
  of the units left after the last day (both 0 in the paper's set-up).
* States: every ``M = 0..N`` while ``N < max_states`` (default 1001),
  otherwise ``max_states`` evenly spaced stock levels (the bound above then
  holds only on those levels).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from scipy import optimize, sparse

from liqenv.scenario import Scenario, _per_store

from .base import Policy, register
from .yang import SingleStoreValuationPolicy, expected_order_statistics

__all__ = ["ADP", "expected_sales", "solve_adp_lp", "markov_policy_value"]


def expected_sales(demand, t: int, prices: np.ndarray, m_max: int, store: int = 0) -> np.ndarray:
    """``E[min(demand_t(p), M)]`` for every price and ``M = 0..m_max``, shape (P, m_max + 1).

    ``E[min(X, M)] = sum_{k=1}^{M} P(X >= k)``, with the survival function
    read off the demand model's pmf (its last entry is ``P(X >= m_max)``).
    """
    prices = np.asarray(prices, dtype=float)
    out = np.zeros(prices.shape + (m_max + 1,))
    if m_max == 0:
        return out
    pmf = demand.pmf(store, t, prices, m_max)
    surv = np.cumsum(pmf[..., ::-1], axis=-1)[..., ::-1]  # P(X >= k), k = 0..m_max
    out[..., 1:] = np.cumsum(surv[..., 1:], axis=-1)
    return out


def solve_adp_lp(prices: np.ndarray, sales: np.ndarray, states: np.ndarray, holding_cost: float = 0.0,
                 salvage: float = 0.0) -> tuple[np.ndarray, np.ndarray, Any, dict]:
    """Solve section 6.2.2's linear programme with HiGHS.

    Args:
        prices: ``(D, P)`` candidate prices per day.
        sales: ``(D, P, len(states))`` expected sales ``S_d(p, M)``.
        states: stock levels ``M`` the constraints are written for.
        holding_cost, salvage: per-unit costs as in MODEL.md section 5.

    Returns ``(theta, gamma, result, lp)`` where ``result`` is SciPy's
    ``OptimizeResult`` and ``lp`` holds ``c``, ``A_ub``, ``b_ub`` (the
    programme as ``min c x, A_ub x <= b_ub``, ``x = (theta, gamma)``).
    Raises ``RuntimeError`` if HiGHS does not report an optimum.
    """
    D, P = prices.shape
    M = np.asarray(states, dtype=float)
    nM = len(M)
    S = np.asarray(sales, dtype=float)
    p = prices[:, :, None]
    left = M[None, None, :] - S
    reward = p * S
    last = np.zeros(D, dtype=bool)
    last[-1] = True
    reward = reward + np.where(last[:, None, None], salvage * left, -holding_cost * left)
    n_rows = D * P * nM
    row = np.arange(n_rows).reshape(D, P, nM)
    d_idx = np.broadcast_to(np.arange(D)[:, None, None], (D, P, nM))
    Mb = np.broadcast_to(M[None, None, :], (D, P, nM))
    # -theta_d - gamma_d M + theta_{d+1} + gamma_{d+1} (M - S) <= -reward
    rows = [row.ravel(), row.ravel()]
    cols = [d_idx.ravel(), (D + d_idx).ravel()]
    vals = [-np.ones(n_rows), -Mb.ravel()]
    nl = ~last
    r2 = row[nl].ravel()
    d2 = d_idx[nl].ravel()
    rows += [r2, r2]
    cols += [d2 + 1, D + d2 + 1]
    vals += [np.ones(len(r2)), left[nl].ravel()]
    A = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_rows, 2 * D))
    b = -reward.ravel()
    c = np.zeros(2 * D)
    c[0] = 1.0
    c[D] = float(M.max())
    res = optimize.linprog(c, A_ub=A, b_ub=b, bounds=[(None, None)] * (2 * D), method="highs")
    if res.status != 0:
        raise RuntimeError(f"ADP linear programme: HiGHS status {res.status}: {res.message}")
    return res.x[:D], res.x[D:], res, {"c": c, "A_ub": A, "b_ub": b}


@register("adp")
class ADP(SingleStoreValuationPolicy):
    """ADP with linear value functions (section 6.2.2); see the module docstring.

    Options: ``n_prices`` (continuous candidate prices per day, default
    100), ``max_states`` (stock levels in the LP, default 1001).
    """

    def __init__(self, scenario: Scenario, n_prices: int = 100, max_states: int = 1001, **options: Any):
        if isinstance(n_prices, bool) or int(n_prices) != n_prices or n_prices < 1:
            raise ValueError(f"n_prices={n_prices!r}: must be a positive integer")
        if isinstance(max_states, bool) or int(max_states) != max_states or max_states < 2:
            raise ValueError(f"max_states={max_states!r}: must be an integer >= 2")
        self.n_prices = int(n_prices)
        self.max_states = int(max_states)
        super().__init__(scenario, **options)

    def plan(self) -> None:
        sc = self.scenario
        d = sc.demand
        D, N = sc.horizon, self.n_items
        if self.continuous:
            eos = expected_order_statistics(self.n_prices, d.valuation, d.weibull_shape)
            scale = float(_per_store("scale", d.scale, sc.n_stores)[0])
            self.candidates = scale * d.decay ** np.arange(D)[:, None] * eos[None, :]
            self.candidates = np.minimum(self.candidates, sc.price_cap)
        else:
            self.candidates = np.broadcast_to(self.ladder_prices, (D, len(self.ladder_prices))).copy()
        if N + 1 <= self.max_states:
            self.states = np.arange(N + 1)
        else:
            self.states = np.unique(np.rint(np.linspace(0, N, self.max_states)).astype(np.int64))
        table = np.stack([expected_sales(self.demand, t, self.candidates[t], N) for t in range(D)])
        self.sales_table = table[:, :, self.states] if len(self.states) != N + 1 else table
        self.salvage = float(sc.salvage_price[0])
        self.holding = float(sc.holding_cost)
        self.theta, self.gamma, self.lp_result, self.lp = solve_adp_lp(
            self.candidates, self.sales_table, self.states, self.holding, self.salvage)
        self.lp_value = float(self.theta[0] + self.gamma[0] * N)
        self.value_estimate = self.lp_value - self.fixed_costs

    def choose(self, t: int, m: int) -> int:
        """Index of the candidate price posted on day ``t`` with ``m`` units."""
        S = expected_sales(self.demand, t, self.candidates[t], m)[:, m]
        if t + 1 < self.scenario.horizon:
            score = (self.candidates[t] + self.holding - self.gamma[t + 1]) * S
        else:
            score = (self.candidates[t] - self.salvage) * S
        return int(np.argmax(score))

    def price(self, t: int, m: int) -> float:
        return float(self.candidates[t, self.choose(t, m)])

    def decide(self, obs: dict[str, np.ndarray]) -> Any:
        t = min(int(obs["t"]), self.scenario.horizon - 1)
        m = int(obs["on_hand"][0])
        if m <= 0:
            return self.encode_price(t, math.inf, m)
        if self.continuous:
            return self.encode_price(t, self.price(t, m), m)
        return self.encode(self.scenario.ladder[self.choose(t, m)])


def markov_policy_value(policy: Policy, scenario: Scenario | None = None,
                        price_of: Callable[[Any], float] | None = None) -> np.ndarray:
    """Exact expected profit of a policy whose price depends only on (day, stock).

    Backward recursion of section 6.2.1 for a *fixed* policy (policy
    evaluation rather than optimisation) on a single-store valuation-demand
    scenario: ``V_t(M) = E[p min(X, M) - h (M - min(X, M)) + V_{t+1}(M - min(X, M))]``
    with ``X`` from the env's demand pmf and ``V_T(M) = salvage * M``, minus
    the fixed operating costs.  The policy is queried through
    :meth:`Policy.decide` with ``{"t", "on_hand", ...}``; every Yang policy
    (and ADP) qualifies, as do open-loop plans.  Returns ``V_0(M)`` for
    ``M = 0..N`` (the expected profit from ``N`` units is the last entry).
    Cost ``O(T N^2)``: for small scenarios (tests, Table 5 sizes).
    """
    from liqenv.demand import make_demand

    sc = scenario or policy.scenario
    demand = make_demand(sc)
    N, T = int(sc.inventory[0]), sc.horizon
    h, salv = float(sc.holding_cost), float(sc.salvage_price[0])
    ladder_prices = (1.0 - sc.ladder) * float(sc.list_price[0])

    def to_price(a: Any) -> float:
        if price_of is not None:
            return price_of(a)
        if sc.pricing == "continuous":
            return float(np.asarray(a).reshape(-1)[0])
        return float(ladder_prices[int(np.asarray(a).reshape(-1)[0])])

    m_all = np.arange(N + 1)
    V = salv * m_all.astype(float)
    for t in range(T - 1, -1, -1):
        newV = np.zeros(N + 1)
        for m in range(1, N + 1):
            obs = {"t": np.int64(t), "on_hand": np.array([m]), "remaining": np.int64(T - t),
                   "markdown": np.zeros(1), "last_sold": np.zeros(1, dtype=np.int64)}
            p = to_price(policy.decide(obs))
            pmf = demand.pmf(0, t, p, m)  # P(X=j), j<m, and P(X>=m)
            sold = np.arange(m + 1)
            left = m - sold
            cost = h * left if t < T - 1 else 0.0
            newV[m] = float(np.dot(pmf, p * sold - cost + V[left]))
        newV[0] = V[0]
        V = newV
    return V - float(sc.operating_costs[0].sum())
