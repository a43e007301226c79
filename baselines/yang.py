"""Yang, Adomavicius & Gupta (2019): deterministic-representation policies.

The paper replaces stochastic demand by a *deterministic representation*
(section 3.1): on day ``t`` exactly ``B_t = E[L_t]`` customers arrive, and
their valuations are the ``B_t`` expected order statistics of the day's
valuation distribution, ``V[t, b] = scale * decay**t * E[X_(b:B_t)]`` with
``X_(1) >= X_(2) >= ...``.  Setting the price to ``V[t, j]`` sells exactly
``j`` units, so a plan is a vector of daily sales.  On that representation
this module implements

* the deterministic dynamic programme ``MAXREV(n, d)`` (section 3.3),
  vectorised over ``n`` (:func:`maxrev`, :func:`dp_plan`);
* the greedy heuristic, Algorithm 1 (section 4.1): the literal algorithm with
  the priority queue the paper suggests (:func:`greedy_heap`) and, under the
  NDMR property (non-increasing daily marginal revenue, section 4.2), the
  equivalent and much faster "top-N daily marginal revenues" selection
  (:func:`greedy_topn`).  :func:`greedy` checks Proposition 2 and falls back
  to Algorithm 1 with a warning when NDMR fails (Table 2(b));
* the policies of section 6.1 on the environment: ``pas`` (plan ahead once
  with the greedy), ``pds`` (re-solve the greedy every day from the remaining
  units and days), ``det_dp`` (plan ahead once with ``MAXREV``), ``fp``
  (fixed price), ``fq`` (fixed quantity), ``dynamic_price`` (the paper's
  "DP", a fixed-price rule re-applied every day) and ``dq`` (dynamic
  quantity).

Costs (section 4.3 and MODEL.md section 5).  A unit sold on day ``t``
(0-based) has been held ``t`` days and costs ``h * t``, so the daily revenue
is ``R(S, t, h) = S * (V[t, S] - h * t)`` and the daily marginal revenue
``r(S, t, h) = r(S, t) - h * t``, the paper's ``r(S, d) - h (d - 1)``.  The
environment also charges the units that are never sold (held ``T - 1`` days)
and pays the jobber's salvage price for them; both are a constant value
``w = salvage - h * (T - 1)`` per unsold unit, which
:class:`DeterministicDemand` carries as ``terminal_value`` and subtracts from
every marginal revenue (the paper's zero-salvage model has ``w = 0``; its
section 3.1 notes that a salvage value is such a shift).  A constant shift
keeps NDMR, so the greedy stays optimal.

Choices the paper leaves open, made here:

* ``B_t = E[L_t]`` need not be an integer (a rate of 80.4); it is rounded to
  the nearest integer (halves up).
* Expected order statistics: closed forms for Uniform(0,1),
  ``(B + 1 - i) / (B + 1)``, and Exponential(1), ``sum_{k=i}^{B} 1/k``;
  Weibull by quadrature (:func:`expected_order_statistics`).
* A plan that sells nothing on a day posts the highest price (the
  continuous price cap, or the ladder's smallest markdown).
* FQ and DQ: when the paper's ``Q = floor(N/D)`` (or ``floor(M_d / (D-d+1))``)
  is 0, one unit a day is planned instead (a literal 0 would post no price);
  a quantity above the day's ``B_t`` is clipped to ``B_t``.  FP and the
  dynamic-price rule take the smallest valuation when fewer customers than
  units remain.
* Ladder pricing: the heuristic's price is rounded to a ladder level.  By
  default (``snap="price"``) the nearest ladder price is posted;
  ``snap="sales"`` instead posts the level whose expected sales,
  ``lambda_t * P(V >= price)`` from the env's demand model, are closest to
  the plan's sales (capped by the stock).  Evaluated exactly (policy
  evaluation on the env's pmf) over the six heuristics on ``SingleStore-v0``
  and variants, nearest-price earned more in most cases and in total, so it
  is the default; ``tests/test_yang.py`` checks that on three ladder
  scenarios.
"""

from __future__ import annotations

import heapq
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import special

from liqenv.demand import make_demand
from liqenv.scenario import Scenario, ValuationDemand, _per_store

from .base import Policy, UnsupportedScenario, register

__all__ = [
    "expected_order_statistics", "order_statistics_quadrature", "DeterministicDemand",
    "deterministic_demand", "ndmr_holds", "NDMRWarning", "greedy", "greedy_heap", "greedy_topn",
    "maxrev", "dp_plan", "plan_value", "plan_prices", "evaluate_prices", "fixed_price",
    "fixed_quantity_prices", "SuffixSelector", "SingleStoreValuationPolicy", "PAS", "PDS",
    "DetDP", "FixedPrice", "FixedQuantity", "DynamicPrice", "DynamicQuantity",
]

_NDMR_RTOL = 1e-9


class NDMRWarning(UserWarning):
    """The valuations violate NDMR (Proposition 2): the greedy may be suboptimal."""


# --------------------------------------------------------------------------
# expected order statistics (section 3.1)
def _transform(valuation: str, shape: float):
    """``X = g(Y)`` with ``Y ~ Exponential(1)``: every supported valuation is
    an increasing transform of an exponential, so one quadrature serves all."""
    if valuation == "uniform":
        return lambda y: -np.expm1(-y)
    if valuation == "exponential":
        return lambda y: y
    if valuation == "weibull":
        return lambda y: y ** (1.0 / shape)
    raise ValueError(f"valuation={valuation!r}: expected uniform, exponential or weibull")


def order_statistics_quadrature(n: int, valuation: str, shape: float = 4.0) -> np.ndarray:
    """Expected descending order statistics of ``n`` valuations by quadrature.

    ``E[X_(i)] = E[g(Y_(i))]`` where ``Y_(i)`` is the ``i``-th largest of
    ``n`` Exponential(1) draws (density ``n!/((i-1)!(n-i)!) e^{-y i}
    (1 - e^{-y})^{n-i}``) and ``g`` maps an exponential to the valuation
    (identity, ``1 - e^{-y}``, ``y**(1/k)``).  The integral is taken in
    ``z = log y`` (every order statistic is then a smooth bump of width at
    least about ``1/sqrt(n)``) with composite 8-point Gauss-Legendre panels;
    dividing by the quadrature of the density itself removes most of the
    remaining error.  Accurate to about 1e-12 for the closed-form cases.
    """
    if n <= 0:
        return np.zeros(0)
    g = _transform(valuation, shape)
    z_lo, z_hi = math.log(1e-14 / n), math.log(math.log(n) + 50.0)
    panels = int(math.ceil((z_hi - z_lo) * 3.0 * math.sqrt(n))) + 64
    xg, wg = np.polynomial.legendre.leggauss(8)
    edges = np.linspace(z_lo, z_hi, panels + 1)
    half = 0.5 * np.diff(edges)
    z = ((edges[:-1] + half)[:, None] + half[:, None] * xg[None, :]).ravel()
    w = (half[:, None] * wg[None, :]).ravel()
    y = np.exp(z)
    gy = g(y)
    log1m = np.log(-np.expm1(-y))  # log(1 - e^{-y})
    out = np.empty(n)
    i_all = np.arange(1, n + 1, dtype=float)
    chunk = max(1, int(4_000_000 // len(z)))
    for a in range(0, n, chunk):
        i = i_all[a: a + chunk, None]
        logc = special.gammaln(n + 1) - special.gammaln(i) - special.gammaln(n - i + 1)
        logd = logc - y[None, :] * i + (n - i) * log1m[None, :] + z[None, :]
        dens = np.exp(logd) * w[None, :]
        out[a: a + chunk] = (dens * gy[None, :]).sum(1) / dens.sum(1)
    return out


@lru_cache(maxsize=512)
def _eos_cached(n: int, valuation: str, shape: float) -> np.ndarray:
    if valuation == "uniform":
        out = (n + 1.0 - np.arange(1, n + 1)) / (n + 1.0)
    elif valuation == "exponential":
        out = np.cumsum((1.0 / np.arange(1, n + 1))[::-1])[::-1]
    else:
        out = order_statistics_quadrature(n, valuation, shape)
    out.setflags(write=False)
    return out


def expected_order_statistics(n: int, valuation: str = "uniform", shape: float = 4.0) -> np.ndarray:
    """``E[X_(i)]``, ``i = 1..n``, for ``n`` iid standardised valuations, descending.

    Yang section 3.1: the ``i``-th highest of ``n`` arriving customers'
    valuations is represented by its expectation.  Uniform(0,1):
    ``(n + 1 - i) / (n + 1)``; Exponential(1): ``sum_{k=i}^{n} 1/k``;
    Weibull(shape, 1): :func:`order_statistics_quadrature`.  Cached; the
    returned array is read-only.
    """
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"n={n!r}: must be a non-negative integer")
    _transform(valuation, shape)
    return _eos_cached(int(n), valuation, float(shape) if valuation == "weibull" else 0.0)


# --------------------------------------------------------------------------
# the deterministic representation
@dataclass(frozen=True, eq=False)
class DeterministicDemand:
    """Deterministic representation of demand (Yang section 3.1).

    Attributes:
        values: ``(D, W)`` valuations ``V[t, b]`` (customer ``b + 1`` of day
            ``t``), non-increasing along each row; NaN beyond ``counts[t]``.
        counts: ``(D,)`` customers per day ``B_t``.
        holding_cost: ``h``; a unit sold on day ``t`` (0-based) costs ``h t``.
        terminal_value: ``w``, the value of a unit still held at the end
            (salvage minus its holding cost; 0 in the paper).
    """

    values: np.ndarray
    counts: np.ndarray
    holding_cost: float = 0.0
    terminal_value: float = 0.0

    @staticmethod
    def from_table(table: Any, holding_cost: float = 0.0, terminal_value: float = 0.0,
                   by: str = "customer") -> "DeterministicDemand":
        """From a paper-style table, rows = customers ``b`` and columns = days
        (``by="customer"``, as in Tables 1 and 2) or rows = days (``by="day"``)."""
        v = np.asarray(table, dtype=float)
        if v.ndim != 2:
            raise ValueError(f"table shape {v.shape}: expected a 2-D table")
        if by == "customer":
            v = v.T
        elif by != "day":
            raise ValueError(f"by={by!r}: expected 'customer' or 'day'")
        return DeterministicDemand(v.copy(), np.full(v.shape[0], v.shape[1], dtype=np.int64),
                                   float(holding_cost), float(terminal_value))

    @property
    def horizon(self) -> int:
        return int(self.values.shape[0])

    @property
    def valid(self) -> np.ndarray:
        """``(D, W)`` mask of real customers."""
        return np.arange(self.values.shape[1])[None, :] < self.counts[:, None]

    def revenue(self) -> np.ndarray:
        """``(D, W + 1)`` daily revenue ``R(j, t, h) = j (V[t, j] - h t)`` for
        ``j = 0..W`` sold (``-inf`` for ``j > B_t``)."""
        D, W = self.values.shape
        j = np.arange(1, W + 1)
        t = np.arange(D)[:, None]
        r = np.where(self.valid, j * (self.values - self.holding_cost * t), -np.inf)
        return np.concatenate([np.zeros((D, 1)), r], axis=1)

    def dmr(self) -> np.ndarray:
        """``(D, W)`` daily marginal revenues ``r(j, t, h) - w`` of the
        ``(j+1)``-th unit on day ``t`` (section 4.2), ``-inf`` beyond ``B_t``."""
        with np.errstate(invalid="ignore"):
            R = self.revenue()
            d = R[:, 1:] - R[:, :-1] - self.terminal_value
        return np.where(self.valid, d, -np.inf)


def deterministic_demand(scenario: Scenario, store: int = 0) -> DeterministicDemand:
    """The deterministic representation of a single store's valuation demand.

    ``B_t`` = rounded expected arrivals of period ``t`` (section 4.4 allows
    them to vary by day); valuations ``scale * decay**t * E[X_(b:B_t)]``;
    holding cost and terminal value from the scenario (module docstring).
    """
    d = scenario.demand
    if not isinstance(d, ValuationDemand):
        raise ValueError(f"demand={d!r}: the deterministic representation needs valuation demand")
    T = scenario.horizon
    counts = np.floor(scenario.arrival_rates[store] + 0.5).astype(np.int64)
    W = int(counts.max()) if T else 0
    values = np.full((T, W), np.nan)
    scale = float(_per_store("scale", d.scale, scenario.n_stores)[store])
    factor = scale * d.decay ** np.arange(T, dtype=float)
    for B in np.unique(counts):
        rows = counts == B
        values[rows, :B] = factor[rows, None] * expected_order_statistics(int(B), d.valuation,
                                                                          d.weibull_shape)[None, :]
    h = float(scenario.holding_cost)
    w = float(scenario.salvage_price[store]) - h * (T - 1)
    return DeterministicDemand(values, counts, h, w)


# --------------------------------------------------------------------------
# NDMR (Proposition 2)
def ndmr_holds(dd: DeterministicDemand, start: int = 0) -> bool:
    """Proposition 2: NDMR holds iff ``Delta(b, d) / Delta(b+1, d) <= (b+2)/b``
    for ``b = 1..B-2`` and every day, ``Delta(b, d) = V_bd - V_(b+1)d``.

    Checked as ``b Delta(b) <= (b+2) Delta(b+1)`` (no division by a zero
    gap) with a relative tolerance of 1e-9 for rounding.  Holding cost and
    terminal value shift every DMR of a day by a constant and do not matter.
    """
    v = dd.values[start:]
    if v.shape[1] < 3:
        return True
    gap = v[:, :-1] - v[:, 1:]  # Delta(b) for b = 1..W-1
    b = np.arange(1, v.shape[1] - 1, dtype=float)
    lhs = b * gap[:, :-1]
    rhs = (b + 2) * gap[:, 1:]
    in_range = (b[None, :] <= (dd.counts[start:, None] - 2))
    with np.errstate(invalid="ignore"):
        bad = in_range & (lhs - rhs > _NDMR_RTOL * (np.abs(lhs) + np.abs(rhs)))
    return not bool(bad.any())


# --------------------------------------------------------------------------
# the greedy heuristic (section 4.1)
def plan_value(dd: DeterministicDemand, sales: np.ndarray, n_items: int, start: int = 0) -> float:
    """Deterministic profit of selling ``sales[k]`` units on day ``start + k``
    with ``n_items`` units in stock: revenue minus holding cost plus the
    terminal value of the units left."""
    sales = np.asarray(sales, dtype=np.int64)
    R = dd.revenue()[start:]
    got = R[np.arange(len(sales)), sales].sum()
    return float(got + dd.terminal_value * (n_items - sales.sum()))


def greedy_heap(dd: DeterministicDemand, n_items: int, start: int = 0) -> tuple[np.ndarray, float]:
    """Algorithm 1 (section 4.1), literally, with the priority queue the paper suggests.

    Assigns units one at a time to the day with the largest positive daily
    marginal revenue ``r(S_d, d)`` given the units already assigned (ties:
    the earliest day, as Algorithm 1's strict ``>`` scan does); stops when no
    day has a positive DMR or the units run out.  Valid whether or not NDMR
    holds (it is then just the heuristic, possibly suboptimal: Table 2(b)).
    ``O(N log D)``.  Returns (sales for days ``start..D-1``, value).
    """
    dmr = dd.dmr()[start:]
    D = dmr.shape[0]
    counts = dd.counts[start:]
    sales = np.zeros(D, dtype=np.int64)
    heap = [(-float(dmr[d, 0]), d) for d in range(D) if counts[d] > 0]
    heapq.heapify(heap)
    for _ in range(int(n_items)):
        if not heap or -heap[0][0] <= 0.0:
            break
        _, d = heapq.heappop(heap)
        sales[d] += 1
        if sales[d] < counts[d]:
            heapq.heappush(heap, (-float(dmr[d, sales[d]]), d))
    return sales, plan_value(dd, sales, n_items, start)


def greedy_topn(dd: DeterministicDemand, n_items: int, start: int = 0) -> tuple[np.ndarray, float]:
    """The greedy's result under NDMR: the ``N`` largest positive DMRs.

    When every day's DMRs are non-increasing, Algorithm 1 takes the positive
    DMRs in decreasing order (ties to the earliest day), so its plan is the
    top-``N`` set of all ``(day, count)`` DMRs, found with one
    ``np.argpartition``-style selection in ``O(D B)``.  Only valid under NDMR
    (use :func:`greedy`, which checks).  Returns (sales, value).
    """
    dmr = dd.dmr()[start:]
    D = dmr.shape[0]
    days, cols = np.nonzero(dmr > 0.0)
    vals = dmr[days, cols]
    n = int(n_items)
    if n <= 0:
        take = np.zeros(0, dtype=np.int64)
    elif n >= len(vals):
        take = np.arange(len(vals))
    else:
        k = len(vals) - n
        tau = np.partition(vals, k)[k]  # the N-th largest positive DMR
        above = np.flatnonzero(vals > tau)
        ties = np.flatnonzero(vals == tau)[: n - len(above)]  # row-major: earliest day first
        take = np.concatenate([above, ties])
    sales = np.bincount(days[take], minlength=D).astype(np.int64)
    return sales, plan_value(dd, sales, n, start)


def greedy(dd: DeterministicDemand, n_items: int, start: int = 0,
           method: str = "auto") -> tuple[np.ndarray, float]:
    """The greedy heuristic (Algorithm 1) on days ``start..D-1``.

    ``method="auto"`` checks NDMR (Proposition 2); when it holds the fast
    :func:`greedy_topn` gives Algorithm 1's plan, otherwise an
    :class:`NDMRWarning` is issued and the literal :func:`greedy_heap` runs.
    ``"topn"`` / ``"heap"`` force one of them.
    """
    if method == "auto":
        if ndmr_holds(dd, start):
            return greedy_topn(dd, n_items, start)
        warnings.warn("valuations violate NDMR (Yang et al. Proposition 2): the greedy heuristic "
                      "may be suboptimal; running Algorithm 1 literally", NDMRWarning, stacklevel=2)
        return greedy_heap(dd, n_items, start)
    if method == "topn":
        return greedy_topn(dd, n_items, start)
    if method == "heap":
        return greedy_heap(dd, n_items, start)
    raise ValueError(f"method={method!r}: expected auto, topn or heap")


# --------------------------------------------------------------------------
# the deterministic dynamic programme (section 3.3)
def maxrev(dd: DeterministicDemand, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """``MAXREV(n, d) = max_{0 <= j <= min(B, n)} {R(j, d, h) + MAXREV(n - j, d + 1)}``.

    Section 3.3's recursion, solved backwards and vectorised over ``n``
    (``O(D N B)`` work, memory per chunk of ``n``), with
    ``MAXREV(n, D + 1) = w n`` (``w`` = terminal value, 0 in the paper).
    Returns ``value`` of shape ``(D + 1, N + 1)`` and the maximising ``j``,
    ``choice`` of shape ``(D, N + 1)`` (ties: the smallest ``j``).
    """
    N = int(n_items)
    D = dd.horizon
    R = dd.revenue()
    value = np.empty((D + 1, N + 1))
    choice = np.zeros((D, N + 1), dtype=np.int64)
    n_all = np.arange(N + 1)
    value[D] = dd.terminal_value * n_all
    for t in range(D - 1, -1, -1):
        B = int(dd.counts[t])
        j = np.arange(B + 1)
        f = R[t, : B + 1]
        step = max(1, 2_000_000 // (B + 1))
        for a in range(0, N + 1, step):
            n = n_all[a: a + step, None]
            rest = n - j[None, :]
            cand = np.where(rest >= 0, f[None, :] + value[t + 1][np.maximum(rest, 0)], -np.inf)
            best = np.argmax(cand, axis=1)
            choice[t, a: a + step] = best
            value[t, a: a + step] = cand[np.arange(len(best)), best]
    return value, choice


def dp_plan(dd: DeterministicDemand, n_items: int) -> tuple[np.ndarray, float]:
    """The optimal deterministic plan from :func:`maxrev`: (sales per day, value)."""
    value, choice = maxrev(dd, n_items)
    sales = np.zeros(dd.horizon, dtype=np.int64)
    n = int(n_items)
    for t in range(dd.horizon):
        sales[t] = choice[t, n]
        n -= sales[t]
    return sales, float(value[0, int(n_items)])


# --------------------------------------------------------------------------
# prices and the simple strategies (sections 3.2 and 6.1)
def plan_prices(dd: DeterministicDemand, sales: np.ndarray, start: int = 0) -> np.ndarray:
    """Prices selling ``sales[k]`` units on day ``start + k``: ``V[t, S_t]``
    (the ``S_t``-th expected order statistic); ``inf`` where ``S_t = 0``."""
    sales = np.asarray(sales, dtype=np.int64)
    t = np.arange(start, start + len(sales))
    return np.where(sales > 0, dd.values[t, np.maximum(sales - 1, 0)], np.inf)


def _count_at_least(dd: DeterministicDemand, t, price) -> np.ndarray:
    """Customers of day ``t`` whose valuation is at least ``price``."""
    v = dd.values[t]
    p = np.asarray(price, dtype=float)[..., None]
    with np.errstate(invalid="ignore"):
        ok = v >= p - 1e-12 * np.maximum(1.0, np.abs(p))
    return (ok & dd.valid[t]).sum(-1)


def evaluate_prices(dd: DeterministicDemand, prices: np.ndarray, n_items: int) -> tuple[np.ndarray, float]:
    """Deterministic outcome of posting ``prices[t]`` on day ``t``: each day
    sells to every customer valuing the item at least the price, capped by
    the stock left (section 3.1).  Returns (sales, value)."""
    prices = np.asarray(prices, dtype=float)
    left = int(n_items)
    sales = np.zeros(dd.horizon, dtype=np.int64)
    value = 0.0
    for t in range(dd.horizon):
        s = min(int(_count_at_least(dd, t, prices[t])), left)
        sales[t] = s
        left -= s
        if s:
            value += s * (prices[t] - dd.holding_cost * t)
    return sales, float(value + dd.terminal_value * left)


def fixed_price(dd: DeterministicDemand, n_items: int, start: int = 0) -> float:
    """FP (sections 3.2 and 6.1): the ``N``-th highest valuation over days
    ``start..D-1`` (the smallest when fewer customers than units; ``inf`` for
    ``N = 0``)."""
    v = dd.values[start:][dd.valid[start:]]
    n = int(n_items)
    if n <= 0 or v.size == 0:
        return math.inf
    n = min(n, v.size)
    return float(np.partition(v, v.size - n)[v.size - n])


def fixed_quantity_prices(dd: DeterministicDemand, n_items: int) -> np.ndarray:
    """FQ (sections 3.2 and 6.1): day ``t`` posts the ``Q``-th valuation of
    that day, ``Q = floor(N / D)`` (at least 1, at most ``B_t``)."""
    q = max(1, int(n_items) // dd.horizon)
    sales = np.minimum(q, dd.counts)
    return plan_prices(dd, sales)


class SuffixSelector:
    """The ``M``-th largest entry among days ``t..D-1`` of a ``(D, W)`` table.

    PDS and the dynamic-price rule ask, every day, for an order statistic of
    what is left of a fixed table (DMRs or valuations) after dropping the
    past days.  Entries are ranked once (value descending, then day, then
    column, which is Algorithm 1's tie order); a presence bitmap split into
    blocks of about ``sqrt(K)`` entries, with a count per block, answers a
    query in ``O(sqrt(K))`` and drops a day in ``O(B)``.  Queries for a day
    earlier than the last one rebuild the bitmap (a new episode).
    """

    def __init__(self, table: np.ndarray, mask: np.ndarray):
        D = table.shape[0]
        days, cols = np.nonzero(mask)
        vals = table[days, cols]
        order = np.lexsort((cols, days, -vals))
        self.K = K = len(order)
        self.sorted_values = vals[order]
        rank = np.empty(K, dtype=np.int64)
        rank[order] = np.arange(K)
        self.rank = rank  # grouped by day (np.nonzero is row-major)
        self.row_ptr = np.concatenate([[0], np.cumsum(np.bincount(days, minlength=D))])
        self.bs = max(64, int(math.isqrt(max(K, 1))))
        self.n_blocks = max(1, -(-K // self.bs))
        self._reset()

    def _reset(self) -> None:
        self.present = np.ones(self.K, dtype=bool)
        self.block_count = np.bincount(np.arange(self.K) // self.bs, minlength=self.n_blocks)
        self.first_day = 0

    def _advance(self, t: int) -> None:
        if t < self.first_day:
            self._reset()
        for d in range(self.first_day, t):
            r = self.rank[self.row_ptr[d]: self.row_ptr[d + 1]]
            self.present[r] = False
            np.subtract.at(self.block_count, r // self.bs, 1)
        self.first_day = max(self.first_day, t)

    def remaining(self, t: int) -> int:
        """Entries left on days ``t..D-1``."""
        self._advance(t)
        return int(self.block_count.sum())

    def kth(self, t: int, m: int) -> int:
        """Rank of the ``m``-th largest entry of days ``t..`` (``m`` clipped to
        the entries left; -1 for ``m <= 0`` or none left)."""
        self._advance(t)
        cb = np.cumsum(self.block_count)
        m = min(int(m), int(cb[-1]) if len(cb) else 0)
        if m <= 0:
            return -1
        blk = int(np.searchsorted(cb, m))
        before = int(cb[blk - 1]) if blk else 0
        seg = np.flatnonzero(self.present[blk * self.bs: (blk + 1) * self.bs])
        return blk * self.bs + int(seg[m - before - 1])

    def count_in_day(self, t: int, rank: int) -> int:
        """Entries of day ``t`` ranked at or above ``rank``."""
        r = self.rank[self.row_ptr[t]: self.row_ptr[t + 1]]
        return int(np.count_nonzero(r <= rank))


# --------------------------------------------------------------------------
# policies (section 6.1)
SNAPS = ("price", "sales")


class SingleStoreValuationPolicy(Policy):
    """Base of the pricing heuristics for one store with valuation demand.

    Subclasses implement :meth:`price` (the day's price for ``m`` units
    left on day ``t``); this class turns it into an action: the price
    itself for continuous pricing, a ladder level otherwise (see ``snap`` in
    the module docstring).  Options: ``snap`` ("price" or "sales").
    """

    def __init__(self, scenario: Scenario, snap: str = "price", **options: Any):
        if snap not in SNAPS:
            raise ValueError(f"snap={snap!r}: expected one of {', '.join(SNAPS)}")
        self.snap = snap
        super().__init__(scenario, **options)

    @classmethod
    def check_supported(cls, scenario: Scenario) -> None:
        if not isinstance(scenario.demand, ValuationDemand):
            raise UnsupportedScenario(f"{cls.name}: needs valuation demand (Yang et al.), "
                                      f"not {type(scenario.demand).__name__}")
        if scenario.n_stores != 1 or scenario.is_dc[0]:
            raise UnsupportedScenario(f"{cls.name}: single-store scenarios only "
                                      f"({scenario.name!r} has {scenario.n_stores} stores)")

    def solve(self) -> None:
        sc = self.scenario
        self.dd = deterministic_demand(sc)
        self.demand = make_demand(sc)
        self.n_items = int(sc.inventory[0])
        self.list_price = float(sc.list_price[0])
        self.continuous = sc.pricing == "continuous"
        self.ladder_prices = (1.0 - sc.ladder) * self.list_price
        self.fixed_costs = float(sc.operating_costs[0].sum())
        self.plan()

    def plan(self) -> None:
        """Offline planning of the subclass (default: none)."""

    def price(self, t: int, m: int) -> float:
        raise NotImplementedError

    def decide(self, obs: dict[str, np.ndarray]) -> Any:
        t = min(int(obs["t"]), self.scenario.horizon - 1)
        m = int(obs["on_hand"][0])
        p = self.price(t, m) if m > 0 else math.inf
        return self.encode_price(t, p, m)

    def ladder_level(self, t: int, price: float, m: int) -> int:
        """The ladder level posted for a planned ``price`` (module docstring)."""
        lp = self.ladder_prices
        if not math.isfinite(price):
            return 0
        if self.snap == "price":
            return int(np.argmin(np.abs(lp - price)))
        planned = min(int(_count_at_least(self.dd, t, price)), m)
        expected = self.demand.mean(0, t, lp)
        return int(np.argmin(np.abs(expected - planned)))

    def encode_price(self, t: int, price: float, m: int) -> Any:
        """Action posting ``price`` (continuous) or its ladder level."""
        if self.continuous:
            p = min(price, self.scenario.price_cap)
            return self.encode(1.0 - p / self.list_price)
        return self.encode(self.scenario.ladder[self.ladder_level(t, price, m)])


@register("pas")
class PAS(SingleStoreValuationPolicy):
    """Plan-ahead strategy (section 6.1): Algorithm 1 once on the initial
    stock; day ``t`` posts the planned price whatever has sold."""

    def plan(self) -> None:
        self.sales, self.planned_value = greedy(self.dd, self.n_items)
        self.prices = plan_prices(self.dd, self.sales)

    def price(self, t: int, m: int) -> float:
        return float(self.prices[t])


@register("det_dp")
class DetDP(SingleStoreValuationPolicy):
    """Plan ahead once with the deterministic DP ``MAXREV`` (section 3.3);
    ``value_estimate`` is the plan's deterministic profit (minus the fixed
    operating costs)."""

    def plan(self) -> None:
        self.sales, v = dp_plan(self.dd, self.n_items)
        self.prices = plan_prices(self.dd, self.sales)
        self.value_estimate = v - self.fixed_costs

    def price(self, t: int, m: int) -> float:
        return float(self.prices[t])


@register("pds")
class PDS(SingleStoreValuationPolicy):
    """Plan-dynamically strategy (section 6.1): every day, Algorithm 1 on the
    units left and the days left; post the plan's price for today.

    Under NDMR the greedy's sales today are the number of today's DMRs among
    the top ``M`` positive DMRs of the remaining days, answered by a
    :class:`SuffixSelector` built once; otherwise Algorithm 1 reruns.
    """

    def plan(self) -> None:
        self.ndmr = ndmr_holds(self.dd)
        if not self.ndmr:
            warnings.warn("valuations violate NDMR (Yang et al. Proposition 2): PDS runs "
                          "Algorithm 1 literally every day", NDMRWarning, stacklevel=2)
            return
        dmr = self.dd.dmr()
        self.selector = SuffixSelector(dmr, dmr > 0.0)

    def sales_today(self, t: int, m: int) -> int:
        """Units the greedy plans to sell on day ``t`` with ``m`` units left."""
        if not self.ndmr:
            return int(greedy_heap(self.dd, m, start=t)[0][0])
        return self.selector.count_in_day(t, self.selector.kth(t, m))

    def price(self, t: int, m: int) -> float:
        s = self.sales_today(t, m)
        return float(self.dd.values[t, s - 1]) if s > 0 else math.inf


@register("fp")
class FixedPrice(SingleStoreValuationPolicy):
    """Fixed price (section 6.1): the ``N``-th expected order statistic
    across the whole horizon, posted every day."""

    def plan(self) -> None:
        self.fixed = fixed_price(self.dd, self.n_items)

    def price(self, t: int, m: int) -> float:
        return self.fixed


@register("fq")
class FixedQuantity(SingleStoreValuationPolicy):
    """Fixed quantity (section 6.1): day ``t`` posts the ``Q``-th expected
    order statistic of that day, ``Q = floor(N / D)``."""

    def plan(self) -> None:
        self.prices = fixed_quantity_prices(self.dd, self.n_items)

    def price(self, t: int, m: int) -> float:
        return float(self.prices[t])


@register("dynamic_price")
class DynamicPrice(SingleStoreValuationPolicy):
    """The paper's dynamic-price strategy "DP" (section 6.1): day ``t`` posts
    the ``M_t``-th expected order statistic across the remaining days."""

    def plan(self) -> None:
        self.selector = SuffixSelector(np.nan_to_num(self.dd.values), self.dd.valid)

    def price(self, t: int, m: int) -> float:
        k = self.selector.kth(t, m)
        return float(self.selector.sorted_values[k]) if k >= 0 else math.inf


@register("dq")
class DynamicQuantity(SingleStoreValuationPolicy):
    """Dynamic quantity "DQ" (section 6.1): day ``t`` posts the ``Q_t``-th
    expected order statistic of that day, ``Q_t = floor(M_t / (D - t))``
    (0-based ``t``; at least 1, at most ``B_t``).

    Option ``rounding``: ``"floor"`` (default, the paper's formula) or
    ``"round"`` (nearest integer).  The paper's Table 3 DQ figure lies
    closer to the rounded variant (README, "Reproducing Yang et al.").
    """

    def __init__(self, scenario: Scenario, rounding: str = "floor", **options: Any):
        if rounding not in ("floor", "round"):
            raise ValueError(f"rounding={rounding!r}: expected 'floor' or 'round'")
        self.rounding = rounding
        super().__init__(scenario, **options)

    def price(self, t: int, m: int) -> float:
        days = self.scenario.horizon - t
        share = m // days if self.rounding == "floor" else int(math.floor(m / days + 0.5))
        q = min(max(1, share), int(self.dd.counts[t]))
        return float(self.dd.values[t, q - 1]) if q > 0 else math.inf
