"""``exact_dp``: exact backward induction for tiny two-store liquidations.

Craig & Raman (2016) section 4 write store liquidation as a dynamic
programme over every store's on-hand and in-transit stock, and section 6
solve it exactly for two stores and three periods to judge their heuristic
(263,340 grid points, :class:`liqenv.TwoStoreGrid`).  This module solves the
same programme for this package's model (MODEL.md), exactly: integer units,
the env's own demand distribution (``DemandModel.pmf``, sales truncated at
the units on hand, including the broken-assortment effect of on-hand stock
on demand), and every decision the env's action space offers (any ladder
level the rules allow, closings, any pair of transfer-menu entries, both
directions at once included).

State and stages.  With one-period lead times nothing is in transit when a
period starts (a shipment leaves in period t and is on hand in t+1), so the
state is (units on hand, last markdown, open/closed) of each store.  Three
stages at most:

* last period ``T-1``: every store prices (or closes) alone, so the value is
  a sum over stores, ``W_s(z; floor)``.  Shipping then is dominated (checked:
  a unit kept earns at least the source's salvage, more than the
  destination's salvage less the transfer cost) and not considered.
* period 1 (when ``T = 3``): for an open store with ``y`` units for sale
  that receives ``x_in`` units at the end of the period,
  ``H_s(y, x_in; m) = E[revenue] - costs + sum_j P(j left | y, m) W_s(j + x_in; m)``
  is one matrix product per markdown (leftover matrix times a Hankel matrix
  of ``W_s``), and ``G_s(y, x_in; f) = max_{m allowed after f} H_s``.  The
  value of the joint state is the best of the 11 x 11 transfer-menu pairs,
  closing or not, of ``G_A + G_B - transfer costs``, on the triangle
  ``z_A + z_B <= total units``.
* period 0: one state.  Every decision's continuation is an expectation of
  the period-1 table over both stores' sales.  The table depends on the
  markdowns posted in period 0 (they are the floors of monotone markdowns),
  so instead of building 400 tables the stage first bounds every decision
  with the table whose floors allow every level (a relaxation: a higher
  floor can only lower the value), then evaluates decisions exactly in
  order of that bound and stops once the bound falls below the best exact
  value (branch and bound; the answer is exact).

Restricted problems of section 6: ``single_price=True`` (both stores post
the same markdown; the chain decision of ``uniform_pricing``),
``no_transfers=True`` and ``no_closing=True`` ("we solved the model with
store operating costs set to zero and then added store operating costs for
periods in which a store's inventory was positive": the policy optimises
without operating costs or closings, and its value charges each store's
operating cost in every period that starts with units on hand).  With a
single price the last stage no longer separates by store; its exact
solution needs a two-dimensional expectation per state and decision, which
is done for small instances only (:data:`SINGLE_PRICE_WORK`), and
:class:`UnsupportedScenario` is raised beyond.

Single-price upper bound (``single_price="relaxed"``): both stores post one
markdown in every period except the last, where each store prices alone
(its floor is the common markdown of the period before).  It relaxes only
the last period's common price, so its value lies between the exact
single-price optimum and the unrestricted optimum, and it costs about as
much as the unrestricted solve: the last stage separates again, so period 1
uses the same per-store tables ``H_s(y, x_in; m)``, except that the markdown
is shared, ``max_m [H_A(y_A, x_B; m) + H_B(y_B, x_A; m)]`` instead of
``G_A + G_B``; period 0 considers common markdowns only.  That shared
maximum is a compiled loop over states, transfer pairs and markdowns
(numba, as the env's kernels): per state it bounds every transfer pair by
``G_A + G_B`` and computes the shared maximum only for pairs the bound
cannot rule out.  Its policy is a feasible single-price policy: periods 0
and 1 follow the relaxation, and the last period posts the best common
markdown for the state reached (the last-stage value of a common markdown
is a sum of per-store terms).

Supported: two stores with customers, at most three periods, ladder prices,
no notice periods or rent locks, ``min_hold`` 1, one-period transfers, no
hidden store effect (with one the problem is partially observed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from liqenv import rules
from liqenv.demand import make_demand
from liqenv.scenario import Scenario

from .base import Policy, UnsupportedScenario, register
from .chain import ship_units

__all__ = ["TwoStoreDP", "ExactDP", "SINGLE_PRICE_WORK", "SINGLE_PRICE_OPTIONS"]

_NEG = -np.inf
#: Most terms (states x decisions x markdowns x outcomes) the single-price
#: middle stage may sum before :class:`UnsupportedScenario` is raised.
SINGLE_PRICE_WORK = 4e8
#: Accepted values of ``single_price``.
SINGLE_PRICE_OPTIONS = (False, True, "relaxed")


@njit(cache=True, nogil=True)
def _floor_max_last(HT, ok):
    """``max_{m: ok[m]} HT[..., m]`` of a (rows, cols, levels) table."""
    ny, nin, L = HT.shape
    out = np.full((ny, nin), -np.inf)
    for i in range(ny):
        for j in range(nin):
            b = -np.inf
            for m in range(L):
                if ok[m] and HT[i, j, m] > b:
                    b = HT[i, j, m]
            out[i, j] = b
    return out


@njit(cache=True, nogil=True)
def _argmax_ok(h, ok):
    b, arg = -np.inf, 0
    for m in range(h.shape[0]):
        if ok[m] and h[m] > b:
            b, arg = h[m], m
    return arg


@njit(cache=True, nogil=True)
def _ship_cost(xa, xb, unit_cost, fixed):
    """Cost of store A shipping ``xa`` and store B ``xb`` units (scalars, or
    arrays through :func:`ship_cost`): per unit plus a fixed cost per shipment
    (MODEL.md section 4.2; :func:`liqenv.rules.ship_cost` is the one-pair form)."""
    return unit_cost[0] * xa + unit_cost[1] * xb + fixed[0] * (xa > 0) + fixed[1] * (xb > 0)


#: :func:`_ship_cost` on arrays of units (numpy)
ship_cost = _ship_cost.py_func


@njit(cache=True, nogil=True)
def _relaxed_mid_kernel(zA, zB, XA, XB, kA, kB, HA, HB, GA, GB, rowA, colA, rowB, colB,
                        closeA, closeB, unit_cost, fixed, okA, okB, dec):
    """Period-1 value of both stores open with a shared markdown, per state.

    ``XA[a, i]``/``XB[b, i]``: units store A/B ships under its a-th/b-th
    menu entry (``kA[a]``/``kB[b]``) in state i; ``H*[row[y], col[x_in], m]``
    the per-store tables, ``G*`` their maxima over the store's own allowed
    levels (``okA``/``okB``); the common markdown must be allowed for both.
    A store closes only if nothing ships to it.  When ``dec`` has rows, row i
    receives (markdown, kA, kB, close A, close B) of the best decision.
    """
    n = zA.shape[0]
    KA, KB = XA.shape[0], XB.shape[0]
    best = np.full(n, -np.inf)
    ub = np.empty(KA * KB)
    rest = np.empty(KA * KB)
    want = dec.shape[0] > 0
    for i in range(n):
        top = _pair_bounds(i, zA, zB, XA, XB, GA, GB, rowA, colA, rowB, colB, closeA, closeB,
                           unit_cost, fixed, ub, rest)
        # the most promising pair first, then only pairs the bound keeps
        for j in range(KA * KB + 1):
            k = top if j == 0 else j - 1
            if (j > 0 and k == top) or ub[k] <= best[i]:
                continue
            a, b = k // KB, k % KB
            xa, xb = XA[a, i], XB[b, i]
            yA, yB = zA[i] - xa, zB[i] - xb
            ra, ca, rb, cb = rowA[yA], colA[xb], rowB[yB], colB[xa]
            s_best, m_best = _shared_markdown(HA[ra, ca], HB[rb, cb], okA, okB)
            cost = _ship_cost(xa, xb, unit_cost, fixed)
            v_open = s_best - cost
            v = max(v_open, rest[k])
            if v > best[i]:
                best[i] = v
                if want:
                    cA = closeA[yA] if xb == 0 else -np.inf
                    cB = closeB[yB] if xa == 0 else -np.inf
                    # the option that attains v (open both on ties)
                    if v_open >= rest[k]:
                        m_out, shut_a, shut_b = m_best, 0, 0
                    elif cA + cB - cost >= v:  # a closing store still posts an allowed level
                        m_out, shut_a, shut_b = m_best, 1, 1
                    elif cA + GB[rb, cb] - cost >= v:
                        m_out, shut_a, shut_b = _argmax_ok(HB[rb, cb], okB), 1, 0
                    else:
                        m_out, shut_a, shut_b = _argmax_ok(HA[ra, ca], okA), 0, 1
                    dec[i, 0] = m_out
                    dec[i, 1] = kA[a]
                    dec[i, 2] = kB[b]
                    dec[i, 3] = shut_a
                    dec[i, 4] = shut_b
    return best


@njit(cache=True, nogil=True)
def _pair_bounds(i, zA, zB, XA, XB, GA, GB, rowA, colA, rowB, colB, closeA, closeB, unit_cost, fixed,
                 ub, rest):
    """For state i and every transfer pair k: ``ub[k]``, the bound ``G_A + G_B``
    on the shared maximum (closing options exact), and ``rest[k]``, the best
    option with a store closing.  Returns the pair with the largest bound."""
    KA, KB = XA.shape[0], XB.shape[0]
    top = 0
    for a in range(KA):
        xa = XA[a, i]
        yA = zA[i] - xa
        for b in range(KB):
            xb = XB[b, i]
            yB = zB[i] - xb
            gA = GA[rowA[yA], colA[xb]]
            gB = GB[rowB[yB], colB[xa]]
            cA = closeA[yA] if xb == 0 else -np.inf
            cB = closeB[yB] if xa == 0 else -np.inf
            cost = _ship_cost(xa, xb, unit_cost, fixed)
            k = a * KB + b
            ub[k] = max(gA, cA) + max(gB, cB) - cost
            rest[k] = max(max(cA + gB, gA + cB), cA + cB) - cost
            if ub[k] > ub[top]:
                top = k
    return top


@njit(cache=True, nogil=True)
def _shared_markdown(hA, hB, okA, okB):
    """``max_m hA[m] + hB[m]`` over markdowns allowed for both stores, and its argmax."""
    s_best = -np.inf
    m_best = 0
    for m in range(okA.shape[0]):
        if okA[m] and okB[m]:
            v = hA[m] + hB[m]
            if v > s_best:
                s_best = v
                m_best = m
    return s_best, m_best


def _relaxed_option(single_price) -> bool:
    """Whether ``single_price`` asks for the relaxation; ``ValueError`` if it is no option."""
    if isinstance(single_price, str):
        if single_price != "relaxed":
            raise ValueError(f"single_price={single_price!r}: expected one of {SINGLE_PRICE_OPTIONS}")
        return True
    if not isinstance(single_price, (bool, np.bool_)):
        raise ValueError(f"single_price={single_price!r}: expected one of {SINGLE_PRICE_OPTIONS}")
    return False


def unsupported_reason(sc: Scenario, single_price: bool = False) -> str | None:
    """Why :class:`TwoStoreDP` cannot solve ``sc`` exactly (``None`` if it can);
    ``single_price=True`` asks about the exact single-price problem."""
    if sc.n_stores != 2 or sc.is_dc.any():
        return f"n_stores={sc.n_stores}: exact_dp solves scenarios with two selling stores"
    if sc.pricing != "ladder":
        return f"pricing={sc.pricing!r}: exact_dp needs ladder prices"
    if sc.horizon > 3:
        return f"horizon={sc.horizon}: exact_dp solves at most three periods"
    if np.any(sc.notice > 0):
        return f"notice={sc.notice.tolist()}: exact_dp assumes closings take effect at once"
    if rules.has_rent_lock(sc.lock_period):
        return "rent lock: exact_dp does not track lease locks"
    r = sc.markdowns
    if r.min_hold > 1 and sc.horizon > 1:
        return f"min_hold={r.min_hold}: exact_dp tracks no hold counters"
    if r.max_changes is not None and r.max_changes < sc.horizon - 1:
        return f"max_changes={r.max_changes}: exact_dp tracks no change counters"
    if float(getattr(sc.demand, "store_effect_cv", 0.0)) > 0:
        return "store_effect_cv > 0: hidden store effects make the problem partially observed"
    tn = sc.transfers
    if tn is not None:
        for i, j in tn.pairs:
            if tn.lead_time[i][j] != 1:
                return f"lead_time[{i}][{j}]={tn.lead_time[i][j]}: exact_dp needs one-period transfers"
            lowest_price = (1.0 - sc.ladder.max()) * sc.list_price[i]
            if (sc.salvage_price[j] - tn.unit_cost[i][j] > sc.salvage_price[i] + 1e-12
                    or sc.salvage_price[i] > lowest_price + 1e-12):
                return "salvage: shipping in the last period could pay, which exact_dp does not model"
    if single_price is True and sc.horizon == 3:  # "relaxed" separates by store: no limit
        Z = sc.total_inventory
        K = len(tn.quantities) if tn is not None else 1
        work = (Z + 1) * (Z + 2) / 2 * K * K * len(sc.ladder) * (Z + 1) ** 2
        if work > SINGLE_PRICE_WORK:
            return (f"single_price with {Z} units: the exact middle stage needs about {work:.1e} terms "
                    f"(limit {SINGLE_PRICE_WORK:.0e}); single-price last periods do not separate by store")
    return None


def allowed_matrix(sc: Scenario) -> np.ndarray:
    """(L+2, L) levels allowed after level f (rows 0..L-1), in period 0 (row L)
    and the union of everything (row L+1): :func:`liqenv.rules.transition_matrix`
    and :func:`liqenv.rules.initial_levels` (``min_hold`` is 1 here)."""
    rv = rules.rule_vector(sc.markdowns)
    L = len(sc.ladder)
    return np.vstack([rules.transition_matrix(rv, sc.ladder), rules.initial_levels(rv, sc.ladder)[None],
                      np.ones((1, L), dtype=bool)])


class _Table:
    """``G_s(y, x_in; f)`` of period 1 for one store and floor, on a sub-grid.

    ``rows``/``cols`` map units (y, x_in) to table indices (identity when
    ``None``); ``arg`` is the maximising markdown, used to charge true
    operating costs in the ``no_closing`` evaluation.
    """

    def __init__(self, G, arg, P0, op2, rows=None, cols=None):
        self.G, self.arg, self.P0, self.op2 = G, arg, P0, op2
        self.rows, self.cols = rows, cols

    def _rc(self, y, x):
        r = y if self.rows is None else self.rows[y]
        c = x if self.cols is None else self.cols[x]
        return r, c

    def open(self, y, x):
        r, c = self._rc(y, x)
        return self.G[r, c]

    def open_true(self, y, x):
        r, c = self._rc(y, x)
        g = self.G[r, c]
        if self.arg is None:
            return g
        p_left = 1.0 - self.P0[self.arg[r, c], r]
        return g - self.op2 * np.where(x > 0, 1.0, p_left)

    def argm(self, y, x):
        r, c = self._rc(y, x)
        return self.arg[r, c]


class _Period0:
    """Period-0 tables per store: units shipped ``x[s][k]`` and left for sale
    ``y[s][k]`` under menu entry k, leftover distributions ``R[s][m, k]`` and
    immediate values ``imm[s][m, k]`` (``imm_true``: with true operating costs)."""

    def __init__(self, x, y, R, imm, imm_true, first, dp):
        self.x, self.y, self.R, self.imm, self.imm_true, self.first = x, y, R, imm, imm_true, first
        self.dp = dp

    def cost(self, ka: int, kb: int) -> float:
        """Shipping cost of menu entries ``ka`` (store A) and ``kb`` (store B)."""
        return ship_cost(self.x[0][ka], self.x[1][kb], self.dp.unit_cost, self.dp.fixed)


class _Incumbent:
    """The best period-0 decision so far (value, true value, decision)."""

    def __init__(self, no_closing: bool):
        self.no_closing = no_closing
        self.best, self.best_true, self.dec = _NEG, _NEG, None

    def offer(self, v, vt, d) -> None:
        best = self.best
        if best == _NEG or v > best + 1e-12 * max(1.0, abs(best)):
            self.best, self.best_true, self.dec = v, (vt if self.no_closing else v), d

    def beats(self, bound) -> bool:
        """Whether ``bound`` cannot improve on the incumbent."""
        best = self.best
        return best > _NEG and bound <= best + 1e-9 * max(1.0, abs(best))


class TwoStoreDP:
    """The exact programme; see the module docstring.

    Options (Craig & Raman 2016 section 6): ``single_price=True`` one
    markdown for both open stores in every period (exact, small instances
    only; also implied by the scenario's ``uniform_pricing``);
    ``single_price="relaxed"`` the upper bound on that optimum with one
    markdown in every period but the last; ``no_transfers``;
    ``no_closing`` (not with ``"relaxed"``: the value of a policy that
    ignores operating costs bounds nothing).

    After :meth:`solve`, ``value`` is the optimal expected profit (for
    ``no_closing``: the expected profit, with operating costs, of the policy
    that optimises without them; for ``"relaxed"``: the relaxation's optimum,
    an upper bound on the single-price optimum) and ``first_decision`` the
    period-0 decision.  :meth:`decide` gives the optimal decision in any
    later state (for ``"relaxed"``: the relaxation's, except for a common
    markdown in the last period).
    """

    def __init__(self, scenario: Scenario, *, single_price: bool | str = False, no_transfers: bool = False,
                 no_closing: bool = False):
        relaxed = _relaxed_option(single_price)
        if relaxed and no_closing:
            raise ValueError("no_closing=True: not available with single_price='relaxed' (the value of a "
                             "policy that ignores operating costs is no bound on the single-price optimum)")
        single = (not relaxed) and bool(single_price or scenario.markdowns.uniform_pricing)
        why = unsupported_reason(scenario, single)
        if why:
            raise UnsupportedScenario(why)
        sc = scenario
        self.sc = sc
        self.T, self.Z, self.L = sc.horizon, sc.total_inventory, len(sc.ladder)
        self.z0 = sc.inventory.astype(np.int64)
        self.single = single
        self.relaxed = relaxed
        self.no_closing = bool(no_closing)
        self.dm = make_demand(sc)
        self.price = (1.0 - sc.ladder)[None, :] * sc.list_price[:, None]
        self.salv = sc.salvage_price.astype(float)
        self.op_true = sc.operating_costs
        self.op = np.zeros_like(self.op_true) if no_closing else self.op_true
        self.h = float(sc.holding_cost)
        t = np.arange(self.T)
        self.can_close = sc.closable[:, None] & (t[None, :] >= sc.earliest_close[:, None])
        if no_closing:
            self.can_close[:] = False
        tn = sc.transfers
        self.q = np.asarray(tn.quantities if tn is not None else (0.0,), dtype=float)
        self.ship_ok = np.zeros(2, dtype=bool)
        self.unit_cost = np.zeros(2)
        self.fixed = np.zeros(2)
        self.pair_index = {}
        if tn is not None and not no_transfers:
            for k, (i, j) in enumerate(tn.pairs):
                self.ship_ok[i] = True
                # a shipment lands at the end of its period and is carried into the
                # next, so it pays holding cost there too (MODEL.md section 5;
                # shipments in the last period, which would land after it, are masked)
                self.unit_cost[i] = tn.unit_cost[i][j] + self.h
                self.fixed[i] = 0.0 if tn.fixed_cost is None else tn.fixed_cost[i][j]
        if tn is not None:
            self.pair_index = {pair: k for k, pair in enumerate(tn.pairs)}
        self.qidx = [np.arange(len(self.q)) if self.ship_ok[s] else np.zeros(1, dtype=np.int64)
                     for s in range(2)]
        self.allowed = allowed_matrix(sc)
        self.FIRST, self.ALL = self.L, self.L + 1
        L = self.L
        self.suffix = all(np.array_equal(self.allowed[f], np.arange(L) >= f) for f in range(L))
        self.value: float | None = None
        self.first_decision: dict | None = None
        self.stats: dict[str, Any] = {}
        self._cache: dict = {}

    # ------------------------------------------------------------ sales
    def _leftover(self, s: int, t: int, m: int, ys) -> np.ndarray:
        """``R[i, j] = P(j units left | ys[i] units for sale, level m)`` at store s, period t."""
        ys = np.asarray(ys, dtype=np.int64)
        n = max(int(ys.max()), 1)
        pm = np.asarray(self.dm.pmf(s, t, self.price[s, m], n, on_hand=ys), dtype=float)
        pm = np.broadcast_to(pm, (len(ys), n + 1))
        if len(ys) == n + 1 and np.array_equal(ys, np.arange(n + 1)):
            # R[y, j] = pm[y, y - j]: a row-shifted view of the column-reversed pmf
            Fp = np.zeros((n + 1, 2 * n + 1))
            Fp[:, : n + 1] = pm[:, ::-1]
            flat = Fp.ravel()[n:]
            R = np.lib.stride_tricks.as_strided(flat, shape=(n + 1, n + 1),
                                                strides=(2 * n * flat.itemsize, flat.itemsize)).copy()
        else:
            j = np.arange(n + 1)
            a = ys[:, None] - j[None, :]
            R = np.where(a >= 0, np.take_along_axis(pm, np.clip(a, 0, n), axis=1), 0.0)
        R[:, 0] = 0.0
        R[:, 0] = np.clip(1.0 - R.sum(1), 0.0, 1.0)
        return R

    def _immediate(self, s: int, t: int, m: int, ys, R) -> np.ndarray:
        """Expected revenue less holding and operating cost of an open store."""
        left = R @ np.arange(R.shape[1])
        hold = self.h * left if t < self.T - 1 else 0.0
        return self.price[s, m] * (np.asarray(ys) - left) - hold - self.op[s, t]

    # ------------------------------------------------------- last stage
    def _last_stage(self) -> None:
        t, L, Z = self.T - 1, self.L, self.Z
        ys = np.arange(Z + 1)
        Wm = np.empty((2, L, Z + 1))
        for s in range(2):
            for m in range(L):
                R = self._leftover(s, t, m, ys)
                left = R @ np.arange(Z + 1)
                Wm[s, m] = self.price[s, m] * (ys - left) + self.salv[s] * left - self.op[s, t]
        self.Wm = Wm
        self.Wc = np.where(self.can_close[:, t][:, None], self.salv[:, None] * ys, _NEG)
        W = np.empty((2, L + 2, Z + 1))
        for f in range(L + 2):
            W[:, f] = np.maximum(Wm[:, self.allowed[f]].max(1), self.Wc)
        self.W = W

    def _last_true(self, s: int, z) -> np.ndarray:
        """True-cost correction of the last stage (``no_closing``)."""
        if not self.no_closing:
            return np.zeros(np.shape(z))
        return -self.op_true[s, self.T - 1] * (np.asarray(z) > 0)

    def _W2(self, f: int) -> np.ndarray:
        """Single-price last-stage value of both stores open, floor f: (Z+1, Z+1)."""
        Woc = np.maximum(self.Wm, self.Wc[:, None, :])
        best = None
        for m in np.flatnonzero(self.allowed[f]):
            v = Woc[0, m][:, None] + Woc[1, m][None, :]
            best = v if best is None else np.maximum(best, v)
        return best

    # ------------------------------------------------------ middle stage
    def _mid_H(self, s: int, ys, ins):
        """``H_s(y, x_in; m)`` for all levels m, y in ``ys``, x_in in ``ins``,
        and ``P(sold out | y, m)`` (for the true operating costs).

        Only entries with ``y + x_in <= Z`` are meaningful (others are 0)."""
        ys, ins = np.asarray(ys, dtype=np.int64), np.asarray(ins, dtype=np.int64)
        L, Z = self.L, self.Z
        n = max(int(ys.max()), 1)
        full = len(ys) == Z + 1 and len(ins) == Z + 1 and np.array_equal(ys, np.arange(Z + 1)) \
            and np.array_equal(ins, ys)
        H = np.zeros((L, len(ys), len(ins)))
        P0 = np.empty((L, len(ys)))
        edges = np.unique(np.linspace(0, Z + 1, 9).astype(int)) if full else None
        for m in range(L):
            R = self._leftover(s, 1, m, ys)
            imm = self._immediate(s, 1, m, ys, R)
            P0[m] = R[:, 0]
            Wpad = np.concatenate([self.W[s, m], np.zeros(max(n, int(ins.max())) + 1)])
            if full:
                # Hankel view W[j + x_in]; R is lower triangular and only
                # y + x_in <= Z is needed, so multiply by blocks of y
                Hk = np.lib.stride_tricks.sliding_window_view(Wpad, Z + 1)[: Z + 1]
                for a, b in zip(edges[:-1], edges[1:]):
                    H[m, a:b, : Z + 1 - a] = imm[a:b, None] + R[a:b, :b] @ Hk[:b, : Z + 1 - a]
            else:
                idx = np.arange(R.shape[1])[:, None] + ins[None, :]
                H[m] = imm[:, None] + R @ Wpad[idx]
        return H, P0

    def _floor_max(self, H, f):
        """``max_{m allowed after f} H[m]`` and its argmax."""
        ms = np.flatnonzero(self.allowed[f])
        best = H[ms[0]].copy()
        arg = np.full(best.shape, ms[0], dtype=np.int8)
        for m in ms[1:]:
            better = H[m] > best
            arg[better] = m
            np.maximum(best, H[m], out=best)
        return best, arg

    def _prepare_mid(self) -> None:
        Z = self.Z
        grid = np.arange(Z + 1)
        self._H, self._P0, self._Garg, self._Gcache = [], [], [], {}
        for s in range(2):
            ins = grid if self.ship_ok[1 - s] else np.zeros(1, dtype=np.int64)
            H, P0 = self._mid_H(s, grid, ins)
            arg = None
            if self.suffix and not self.single:
                # G(f) = max(H[f], G(f+1)) in place; arg tracks the maximiser
                arg = np.empty(H.shape, dtype=np.int8)
                arg[-1] = self.L - 1
                for m in range(self.L - 2, -1, -1):
                    better = H[m] > H[m + 1]
                    arg[m] = np.where(better, m, arg[m + 1])
                    np.maximum(H[m], H[m + 1], out=H[m])
            self._H.append(H)
            self._P0.append(P0)
            self._Garg.append(arg)

    def _G(self, s: int, f: int) -> _Table:
        op2 = self.op_true[s, 2] if self.no_closing else 0.0
        if self._Garg[s] is not None:  # suffix rules: H holds G already
            ff = 0 if f == self.ALL else f
            return _Table(self._H[s][ff], self._Garg[s][ff] if self.no_closing else None,
                          self._P0[s], op2)
        key = (s, f)
        if key not in self._Gcache:
            if len(self._Gcache) >= 4:
                self._Gcache.pop(next(iter(self._Gcache)))
            self._Gcache[key] = self._floor_max(self._H[s], f)
        G, arg = self._Gcache[key]
        return _Table(G, arg if self.no_closing else None, self._P0[s], op2)

    def _prepare_mid_relaxed(self) -> None:
        """Per-store tables ``H_s`` laid out (y, x_in, m) for the shared-markdown kernel."""
        Z = self.Z
        grid = np.arange(Z + 1)
        self._HT, self._GT = [], {}
        self._maps = []
        for s in range(2):
            ins = grid if self.ship_ok[1 - s] else np.zeros(1, dtype=np.int64)
            H, _ = self._mid_H(s, grid, ins)
            self._HT.append(np.ascontiguousarray(H.transpose(1, 2, 0)))
            del H
            cols = grid.copy() if self.ship_ok[1 - s] else np.zeros(Z + 1, dtype=np.int64)
            self._maps.append((grid, cols))

    def _relaxed_tabs(self, f: int):
        """(H, G, rows, cols) of both stores for floor f (full tables, G cached)."""
        tabs = []
        for s in range(2):
            key = (s, f)
            if key not in self._GT:
                if len(self._GT) >= 6:
                    self._GT.pop(next(iter(self._GT)))
                self._GT[key] = _floor_max_last(self._HT[s], self.allowed[f])
            tabs.append((self._HT[s], self._GT[key]) + self._maps[s])
        return tabs

    def _mid_relaxed_points(self, zA, zB, tabs, okA, okB, want_decision: bool = False):
        """Period-1 value of both stores open with a shared markdown allowed by
        ``okA & okB`` (the relaxation's last period prices each store alone)."""
        zA = np.ascontiguousarray(zA, dtype=np.int64)
        zB = np.ascontiguousarray(zB, dtype=np.int64)
        kA, kB = (np.ascontiguousarray(self.qidx[s], dtype=np.int64) for s in range(2))
        XA = np.ascontiguousarray(ship_units(self.q[kA][:, None], zA[None, :]))
        XB = np.ascontiguousarray(ship_units(self.q[kB][:, None], zB[None, :]))
        grid = np.arange(self.Z + 1)
        closeA = np.ascontiguousarray(self._close_value(0, 1, grid), dtype=float)
        closeB = np.ascontiguousarray(self._close_value(1, 1, grid), dtype=float)
        dec = np.zeros((len(zA) if want_decision else 0, 5), dtype=np.int64)
        (HA, GA, rowA, colA), (HB, GB, rowB, colB) = tabs
        best = _relaxed_mid_kernel(zA, zB, XA, XB, kA, kB, HA, HB, GA, GB, rowA, colA, rowB, colB,
                                   closeA, closeB, self.unit_cost, self.fixed,
                                   np.asarray(okA, dtype=np.bool_), np.asarray(okB, dtype=np.bool_), dec)
        return best, None, (dec if want_decision else None)

    def _close_value(self, s: int, t: int, y) -> np.ndarray:
        return np.where(self.can_close[s, t], self.salv[s] * np.asarray(y, dtype=float), _NEG)

    def _mid_points(self, zA, zB, gA: _Table, gB: _Table, want_decision: bool = False):
        """Period-1 value of both stores open, per state point (separate prices)."""
        n = len(zA)
        best = np.full(n, _NEG)
        best_true = np.full(n, _NEG) if self.no_closing else None
        dec = np.zeros((n, 4), dtype=np.int64) if want_decision else None  # qa, qb, closeA, closeB
        for ka in self.qidx[0]:
            xa = ship_units(self.q[ka], zA)
            yA = zA - xa
            cA = self._close_value(0, 1, yA)
            for kb in self.qidx[1]:
                xb = ship_units(self.q[kb], zB)
                yB = zB - xb
                cB = self._close_value(1, 1, yB)
                oA = gA.open(yA, xb)
                oB = gB.open(yB, xa)
                closeA = (xb == 0) & (cA > oA)
                closeB = (xa == 0) & (cB > oB)
                vA = np.where(closeA, cA, oA)
                vB = np.where(closeB, cB, oB)
                cost = ship_cost(xa, xb, self.unit_cost, self.fixed)
                v = vA + vB - cost
                better = v > best
                best = np.where(better, v, best)
                if self.no_closing:
                    vt = gA.open_true(yA, xb) + gB.open_true(yB, xa) - cost
                    best_true = np.where(better, vt, best_true)
                if want_decision:
                    dec[better] = np.stack([np.broadcast_to(ka, n), np.broadcast_to(kb, n),
                                            closeA, closeB], axis=1)[better]
        if self.no_closing:
            best_true = best_true - self.op_true[0, 1] * (zA > 0) - self.op_true[1, 1] * (zB > 0)
        return best, best_true, dec

    def _mid_single_points(self, zA, zB, f: int, want_decision: bool = False):
        """Period-1 value of both stores open with one chain markdown (floor f)."""
        n, Z = len(zA), self.Z
        best = np.full(n, _NEG)
        best_true = np.full(n, _NEG) if self.no_closing else None
        dec = np.zeros((n, 5), dtype=np.int64) if want_decision else None  # m, qa, qb, cA, cB
        grid = np.arange(Z + 1)
        for m in np.flatnonzero(self.allowed[f]):
            RA = self._leftover(0, 1, m, grid)
            RB = self._leftover(1, 1, m, grid)
            immA = self._immediate(0, 1, m, grid, RA)
            immB = self._immediate(1, 1, m, grid, RB)
            W2 = self._W2(m)
            W2t = W2 + self._last_true(0, grid)[:, None] + self._last_true(1, grid)[None, :]
            Wpad = np.zeros((2 * Z + 2, 2 * Z + 2))
            Wpad_t = np.zeros((2 * Z + 2, 2 * Z + 2))
            Wpad[: Z + 1, : Z + 1] = W2
            Wpad_t[: Z + 1, : Z + 1] = W2t
            for ka in self.qidx[0]:
                xa = ship_units(self.q[ka], zA)
                yA = zA - xa
                for kb in self.qidx[1]:
                    xb = ship_units(self.q[kb], zB)
                    yB = zB - xb
                    cost = ship_cost(xa, xb, self.unit_cost, self.fixed)
                    rows = xb[:, None, None] + grid[None, :, None]
                    cols = xa[:, None, None] + grid[None, None, :]
                    pa, pb = RA[yA], RB[yB]
                    both = np.einsum("na,nab,nb->n", pa, Wpad[rows, cols], pb)
                    v_open = immA[yA] + immB[yB] + both
                    # one store closes now: the other prices alone next period
                    eB = (pb * np.where(xa[:, None] + grid <= Z,
                                        self.W[1, m][np.minimum(xa[:, None] + grid, Z)], 0.0)).sum(1)
                    eA = (pa * np.where(xb[:, None] + grid <= Z,
                                        self.W[0, m][np.minimum(xb[:, None] + grid, Z)], 0.0)).sum(1)
                    cands = [v_open,
                             np.where(xb == 0, self._close_value(0, 1, yA) + immB[yB] + eB, _NEG),
                             np.where(xa == 0, immA[yA] + eA + self._close_value(1, 1, yB), _NEG),
                             np.where((xa == 0) & (xb == 0),
                                      self._close_value(0, 1, yA) + self._close_value(1, 1, yB), _NEG)]
                    cands = np.stack(cands) - cost
                    k = cands.argmax(0)
                    v = cands[k, np.arange(n)]
                    better = v > best
                    best = np.where(better, v, best)
                    if self.no_closing:
                        vt = (immA[yA] + immB[yB] + np.einsum("na,nab,nb->n", pa, Wpad_t[rows, cols], pb)
                              - cost)
                        best_true = np.where(better, vt, best_true)
                    if want_decision:
                        d = np.stack([np.broadcast_to(m, n), np.broadcast_to(ka, n),
                                      np.broadcast_to(kb, n), (k == 1) | (k == 3), (k == 2) | (k == 3)],
                                     axis=1)
                        dec[better] = d[better]
        if self.no_closing:
            best_true = best_true - self.op_true[0, 1] * (zA > 0) - self.op_true[1, 1] * (zB > 0)
        return best, best_true, dec

    # ---------------------------------------------------- continuation
    def _alone(self, s: int, f: int):
        """Period-1 value (and true value) of store s open alone with floor f, per unit count."""
        key = ("alone", s, f)
        if key in self._cache:
            return self._cache[key]
        Z = self.Z
        grid = np.arange(Z + 1)
        if self.T == 2:
            v = self.W[s, f]
            out = (v, v + self._last_true(s, grid))
        else:
            if self.relaxed:
                Gs = np.where(self.allowed[f], self._HT[s][:, 0, :], _NEG).max(1)
                v = np.maximum(Gs, self._close_value(s, 1, grid))
                self._cache[key] = (v, None)
                return self._cache[key]
            if hasattr(self, "_H"):
                g = self._G(s, f)
            else:  # single price: no period-1 tables were built
                H, P0 = self._mid_H(s, grid, np.zeros(1, dtype=np.int64))
                G, arg = self._floor_max(H, f)
                g = _Table(G, arg if self.no_closing else None, P0,
                           self.op_true[s, 2] if self.no_closing else 0.0,
                           cols=np.zeros(Z + 1, dtype=np.int64))
            zero = np.zeros_like(grid)
            v = np.maximum(g.open(grid, zero), self._close_value(s, 1, grid))
            vt = None
            if self.no_closing:
                vt = g.open_true(grid, zero) - self.op_true[s, 1] * (grid > 0)
            out = (v, vt)
        self._cache[key] = out
        return out

    class _Cont:
        """Lazily filled period-1 table of both stores open, for one floor pair."""

        def __init__(self, dp: "TwoStoreDP", fA: int, fB: int):
            self.dp, self.fA, self.fB = dp, fA, fB
            Z = dp.Z
            self.V = np.zeros((Z + 1, Z + 1))
            self.Vt = np.zeros((Z + 1, Z + 1)) if dp.no_closing else None
            self.done = np.zeros((Z + 1, Z + 1), dtype=bool)
            if dp.T == 2:
                grid = np.arange(Z + 1)
                if dp.single:
                    self.V = dp._W2(fA)
                else:
                    self.V = dp.W[0, fA][:, None] + dp.W[1, fB][None, :]
                if dp.no_closing:
                    self.Vt = self.V + dp._last_true(0, grid)[:, None] + dp._last_true(1, grid)[None, :]
                self.done[:] = True
            elif not (dp.single or dp.relaxed):
                self.gA, self.gB = dp._G(0, fA), dp._G(1, fB)

        def fill(self, zA, zB) -> None:
            need = ~self.done[zA, zB]
            if not need.any():
                return
            zA, zB = zA[need], zB[need]
            dp = self.dp
            if dp.single:
                v, vt, _ = dp._mid_single_points(zA, zB, self.fA)
            elif dp.relaxed:  # fA == fB: one markdown in period 0
                ok = dp.allowed[self.fA]
                v, vt, _ = dp._mid_relaxed_points(zA, zB, dp._relaxed_tabs(self.fA), ok, ok)
            else:
                v, vt, _ = dp._mid_points(zA, zB, self.gA, self.gB)
            self.V[zA, zB] = v
            if vt is not None:
                self.Vt[zA, zB] = vt
            self.done[zA, zB] = True

        def block(self, r0: int, nr: int, c0: int, nc: int):
            rr, cc = np.meshgrid(np.arange(r0, r0 + nr), np.arange(c0, c0 + nc), indexing="ij")
            self.fill(rr.ravel(), cc.ravel())
            vt = None if self.Vt is None else self.Vt[r0:r0 + nr, c0:c0 + nc]
            return self.V[r0:r0 + nr, c0:c0 + nc], vt

    # ------------------------------------------------------ first stage
    def _first_stage(self) -> None:
        """Period 0: the best of every closing decision and, by branch and
        bound, every decision that keeps both stores open."""
        if self.T == 1:
            self._first_stage_last()
            return
        p0 = self._period0()
        inc = _Incumbent(self.no_closing)
        self._offer_closings(p0, inc)
        n_pairs, n_dec = self._offer_open(p0, inc)
        self.value = float(inc.best_true)
        self.value_optimised = float(inc.best)
        self.first_decision = inc.dec
        self.stats.update(floor_pairs=n_pairs, decisions=n_dec)

    def _period0(self) -> "_Period0":
        """Sales distributions in period 0 for every transfer-menu entry and level."""
        L = self.L
        p0 = _Period0(x=[], y=[], R=[], imm=[], imm_true=[],
                      first=np.flatnonzero(self.allowed[self.FIRST]), dp=self)
        for s, z in enumerate(int(z) for z in self.z0):
            xs = ship_units(self.q[self.qidx[s]], z)
            ys = z - xs
            Rs = np.stack([self._leftover(s, 0, m, np.maximum(ys, 0)) for m in range(L)])  # (L,K,z+1)
            Rs = Rs[:, :, : z + 1] if Rs.shape[2] > z + 1 else np.pad(
                Rs, ((0, 0), (0, 0), (0, z + 1 - Rs.shape[2])))
            imm = np.stack([self._immediate(s, 0, m, ys, Rs[m]) for m in range(L)])  # (L,K)
            p0.x.append(xs)
            p0.y.append(ys)
            p0.R.append(Rs)
            p0.imm.append(imm)
            p0.imm_true.append(imm - (self.op_true[s, 0] * (z > 0) if self.no_closing else 0.0))
        return p0

    def _offer_closings(self, p0: "_Period0", inc: "_Incumbent") -> None:
        """One or both stores close in period 0 (the continuation is one store alone)."""
        first = p0.first
        for s in range(2):
            if not self.can_close[s, 0]:
                continue
            o = 1 - s
            for ko in range(len(self.qidx[o])):
                if p0.x[o][ko] > 0:
                    continue  # nothing ships to a store closing now
                for ks in range(len(self.qidx[s])):
                    xs = p0.x[s][ks]
                    clo = self.salv[s] * p0.y[s][ks]
                    c = p0.cost(ks, ko) if s == 0 else p0.cost(ko, ks)
                    # the other store closes too (then nothing may ship)
                    if self.can_close[o, 0] and xs == 0 and s == 0:
                        v = clo + self.salv[o] * p0.y[o][ko] - c
                        inc.offer(v, v, dict(close=(True, True), md=(first[0], first[0]), ship=(ks, ko)))
                    for f in first:
                        alone, alone_t = self._alone(o, f)
                        yo = p0.y[o][ko]
                        lo = np.arange(yo + 1) + xs
                        e = p0.R[o][f, ko, : yo + 1] @ alone[lo]
                        v = clo + p0.imm[o][f, ko] + e - c
                        vt = v
                        if self.no_closing:
                            vt = clo + p0.imm_true[o][f, ko] + p0.R[o][f, ko, : yo + 1] @ alone_t[lo] - c
                        md = (first[0], f) if s == 0 else (f, first[0])
                        cl = (True, False) if s == 0 else (False, True)
                        sh = (ks, ko) if s == 0 else (ko, ks)
                        inc.offer(v, vt, dict(close=cl, md=md, ship=sh))

    def _open_bounds(self, p0: "_Period0"):
        """Both stores stay open: an upper bound ``UB[combo, fA, fB]`` on every
        decision from the period-1 table whose floors allow every level (a
        higher floor can only lower the value); ``pair_ok`` the markdown pairs."""
        L = self.L
        ub_cont = self._Cont(self, self.ALL, self.ALL)
        combos = [(ka, kb) for ka in range(len(self.qidx[0])) for kb in range(len(self.qidx[1]))]
        mA_ok = np.zeros(L, dtype=bool)
        mA_ok[p0.first] = True
        pair_ok = mA_ok[:, None] & mA_ok[None, :]
        if self.single or self.relaxed:
            pair_ok &= np.eye(L, dtype=bool)
        UB = np.full((len(combos), L, L), _NEG)
        for c, (ka, kb) in enumerate(combos):
            yA, yB = p0.y[0][ka], p0.y[1][kb]
            xa, xb = p0.x[0][ka], p0.x[1][kb]
            Bv, _ = ub_cont.block(xb, yA + 1, xa, yB + 1)
            E = p0.R[0][:, ka, : yA + 1] @ Bv @ p0.R[1][:, kb, : yB + 1].T
            UB[c] = p0.imm[0][:, ka][:, None] + p0.imm[1][:, kb][None, :] + E - p0.cost(ka, kb)
        UB[:, ~pair_ok] = _NEG
        return combos, pair_ok, UB

    def _offer_open(self, p0: "_Period0", inc: "_Incumbent") -> tuple[int, int]:
        """Evaluate open-open decisions exactly in order of their bound until
        the bound falls below the incumbent (branch and bound; exact).
        Returns the floor pairs and decisions evaluated."""
        L = self.L
        combos, pair_ok, UB = self._open_bounds(p0)
        pair_ub = UB.max(0)
        n_pairs = n_dec = 0
        for flat in np.argsort(-pair_ub, axis=None):
            fA, fB = np.unravel_index(flat, (L, L))
            if not pair_ok[fA, fB]:
                continue
            if inc.beats(pair_ub[fA, fB]):
                break
            n_pairs += 1
            cont = self._Cont(self, int(fA), int(fB))
            for c in np.argsort(-UB[:, fA, fB]):
                if UB[c, fA, fB] == _NEG or inc.beats(UB[c, fA, fB]):
                    break
                ka, kb = combos[c]
                yA, yB = p0.y[0][ka], p0.y[1][kb]
                xa, xb = p0.x[0][ka], p0.x[1][kb]
                Bv, Bt = cont.block(xb, yA + 1, xa, yB + 1)
                pa, pb = p0.R[0][fA, ka, : yA + 1], p0.R[1][fB, kb, : yB + 1]
                v = p0.imm[0][fA, ka] + p0.imm[1][fB, kb] + pa @ Bv @ pb - p0.cost(ka, kb)
                vt = v
                if self.no_closing:
                    vt = p0.imm_true[0][fA, ka] + p0.imm_true[1][fB, kb] + pa @ Bt @ pb - p0.cost(ka, kb)
                n_dec += 1
                inc.offer(v, vt, dict(close=(False, False), md=(int(fA), int(fB)), ship=(ka, kb)))
        return n_pairs, n_dec

    def _first_stage_last(self) -> None:
        """T = 1: period 0 is the last period (the relaxation relaxes it: its
        value is the unrestricted one, its decision a common markdown)."""
        f, open_ = np.array([self.FIRST, self.FIRST]), np.array([True, True])
        d = self._last_decision(self.z0, f, open_)
        value = d.pop("value")
        if self.relaxed:
            value = self._last_decision(self.z0, f, open_, common=False)["value"]
        self.value = self.value_optimised = float(value)
        self.first_decision = d

    # ------------------------------------------------------------- solve
    def solve(self) -> "TwoStoreDP":
        self._last_stage()
        if self.T == 3 and self.relaxed:
            self._prepare_mid_relaxed()
        elif self.T == 3 and not self.single:
            self._prepare_mid()
        self._first_stage()
        # the big period-1 tables are not needed to act: decide() recomputes
        for name in ("_H", "_P0", "_Garg", "_Gcache", "_HT", "_GT", "_maps"):
            if hasattr(self, name):
                delattr(self, name)
        self._cache.clear()
        return self

    # ----------------------------------------------------------- acting
    def _last_decision(self, z, f, open_, common: bool | None = None) -> dict:
        """Optimal last-period decision for stores with ``z`` units, floors ``f``;
        ``common`` (default: single price or its relaxation) posts one markdown."""
        if common is None:
            common = self.single or self.relaxed
        md = np.zeros(2, dtype=np.int64)
        close = np.zeros(2, dtype=bool)
        total = 0.0
        if common and open_.all():
            # one markdown allowed after both floors; the value is a sum over stores
            Woc = np.stack([np.maximum(self.Wm[s, :, z[s]], self.Wc[s, z[s]]) for s in range(2)])
            vals = np.where(self.allowed[f[0]] & self.allowed[f[1]], Woc.sum(0), _NEG)
            m = int(vals.argmax())
            md[:] = m
            for s in range(2):
                close[s] = self.Wc[s, z[s]] > self.Wm[s, m, z[s]]
            total = float(vals[m])
        else:
            for s in range(2):
                if not open_[s]:
                    continue
                vals = np.where(self.allowed[f[s]], self.Wm[s, :, z[s]], _NEG)
                md[s] = int(vals.argmax())
                close[s] = self.Wc[s, z[s]] > vals[md[s]]
                total += max(float(vals[md[s]]), float(self.Wc[s, z[s]]))
        if self.no_closing:
            total += sum(float(self._last_true(s, z[s])) for s in range(2) if open_[s])
        return dict(close=tuple(bool(c) for c in close), md=tuple(int(m) for m in md),
                    ship=(0, 0), value=total)

    def _state_tables(self, z):
        """Per store, the period-1 tables ``H_s(y, x_in; m)`` (and ``P0``) on the
        units it may keep (``y``) and receive (``x_in``) from on-hand ``z``, with
        the maps from units to table rows and columns."""
        out = []
        for s, zs, zo in ((0, z[0], z[1]), (1, z[1], z[0])):
            ys = np.unique(zs - ship_units(self.q[self.qidx[s]], zs))
            ins = np.unique(ship_units(self.q[self.qidx[1 - s]], zo))
            H, P0 = self._mid_H(s, ys, ins)
            rows = np.zeros(self.Z + 1, dtype=np.int64)
            cols = np.zeros(self.Z + 1, dtype=np.int64)
            rows[ys] = np.arange(len(ys))
            cols[ins] = np.arange(len(ins))
            out.append((H, P0, rows, cols))
        return out

    def decide(self, t: int, z, f, open_) -> dict:
        """Optimal decision in period ``t`` for on-hand ``z`` (2,), last
        markdown levels ``f`` (2,) and open flags (2,)."""
        z = np.asarray(z, dtype=np.int64)
        f = np.asarray(f, dtype=np.int64)
        open_ = np.asarray(open_, dtype=bool)
        if t == 0:
            return dict(self.first_decision)
        if t == self.T - 1:
            d = self._last_decision(z, f, open_)
            d.pop("value")
            return d
        # period 1 of 3
        if not open_.any():
            return dict(close=(False, False), md=(int(f[0]), int(f[1])), ship=(0, 0))
        if open_.sum() == 1:
            s = int(np.flatnonzero(open_)[0])
            grid = np.array([z[s]])
            H, _ = self._mid_H(s, grid, np.array([0]))
            vals = np.where(self.allowed[f[s]], H[:, 0, 0], _NEG)
            m = int(vals.argmax())
            md = [int(f[0]), int(f[1])]
            md[s] = m
            cl = [False, False]
            cl[s] = bool(self._close_value(s, 1, z[s]) > vals[m])
            return dict(close=tuple(cl), md=tuple(md), ship=(0, 0))
        zA, zB = np.array([z[0]]), np.array([z[1]])
        if self.single:
            _, _, dec = self._mid_single_points(zA, zB, int(f[0]), want_decision=True)
            m, ka, kb, cA, cB = (int(v) for v in dec[0])
            return dict(close=(bool(cA), bool(cB)), md=(m, m), ship=(ka, kb))
        if self.relaxed:
            tabs = []
            for s, (H, _, rows, cols) in enumerate(self._state_tables(z)):
                HT = np.ascontiguousarray(H.transpose(1, 2, 0))
                tabs.append((HT, _floor_max_last(HT, self.allowed[f[s]]), rows, cols))
            _, _, dec = self._mid_relaxed_points(zA, zB, tabs, self.allowed[f[0]], self.allowed[f[1]],
                                                 want_decision=True)
            m, ka, kb, cA, cB = (int(v) for v in dec[0])
            return dict(close=(bool(cA), bool(cB)), md=(m, m), ship=(ka, kb))
        tabs = []
        for s, (H, P0, rows, cols) in enumerate(self._state_tables(z)):
            G, arg = self._floor_max(H, int(f[s]))
            op2 = self.op_true[s, 2] if self.no_closing else 0.0
            tabs.append((_Table(G, arg if self.no_closing else None, P0, op2, rows, cols), arg, rows, cols))
        _, _, dec = self._mid_points(zA, zB, tabs[0][0], tabs[1][0], want_decision=True)
        ka, kb, cA, cB = (int(v) for v in dec[0])
        xa = int(ship_units(self.q[ka], z[0]))
        xb = int(ship_units(self.q[kb], z[1]))
        md = []
        for s, (y, x) in enumerate(((z[0] - xa, xb), (z[1] - xb, xa))):
            _, arg, rows, cols = tabs[s]
            md.append(int(arg[rows[y], cols[x]]))
        return dict(close=(bool(cA), bool(cB)), md=tuple(md), ship=(ka, kb))


@register("exact_dp")
class ExactDP(Policy):
    """Exact optimum of a two-store, at most three-period scenario (Craig &
    Raman 2016 sections 4 and 6); see :mod:`baselines.exact_dp`.

    Options: ``single_price``, ``no_transfers``, ``no_closing`` solve the
    restricted problems of section 6 (``no_closing``: optimise without
    operating costs or closings; a store that starts a period with no units
    and receives none is then closed, so it stops paying).
    ``single_price="relaxed"`` solves the upper bound on the single-price
    optimum (one markdown in every period but the last) and acts as a
    feasible single-price policy: the relaxation's decisions in periods 0
    and 1, the best common markdown in the last period.
    ``value_estimate`` is the optimal expected profit (for ``"relaxed"``:
    the upper bound, not the value of the policy, which is at most it).
    """

    def __init__(self, scenario: Scenario, single_price: bool | str = False, no_transfers: bool = False,
                 no_closing: bool = False, **options: Any):
        single_price = "relaxed" if _relaxed_option(single_price) else bool(single_price)
        self.options = dict(single_price=single_price, no_transfers=bool(no_transfers),
                            no_closing=bool(no_closing))
        super().__init__(scenario, **options)

    @classmethod
    def check_supported(cls, scenario: Scenario) -> None:
        why = unsupported_reason(scenario)
        if why:
            raise UnsupportedScenario(why)

    def _timed_solve(self) -> None:
        why = unsupported_reason(self.scenario, self.options["single_price"] is True)
        if why:
            raise UnsupportedScenario(why)
        super()._timed_solve()

    def solve(self) -> None:
        self.dp = TwoStoreDP(self.scenario, **self.options).solve()
        self.value_estimate = self.dp.value
        self.stats = dict(self.dp.stats)

    def decide(self, obs: dict) -> Any:
        sc = self.scenario
        t = int(obs["t"])
        z = np.asarray(obs["on_hand"], dtype=np.int64)
        f = np.abs(sc.ladder[None, :] - np.asarray(obs["markdown"])[:, None]).argmin(1)
        closed = np.asarray(obs.get("closed", np.zeros(2, dtype=bool)), dtype=bool)
        open_ = ~closed
        d = self.dp.decide(t, z, f, open_)
        md = sc.ladder[np.asarray(d["md"])]
        md = np.where(open_, md, np.asarray(obs["markdown"]))
        if self.action_layout.uniform and open_.any():
            # one chain markdown at every entry, the open store's (liqenv.rules.chain_store)
            md[:] = md[rules.chain_store(open_)]
        close = np.asarray(d["close"], dtype=bool) & open_
        if self.options["no_closing"]:
            # stop paying for a store with nothing to sell and nothing coming
            x_in = [ship_units(self.dp.q[d["ship"][1]], z[1]), ship_units(self.dp.q[d["ship"][0]], z[0])]
            close = open_ & (z == 0) & (np.asarray(x_in) == 0) & sc.closable & (t >= sc.earliest_close)
        ship = np.zeros(self.action_layout.n_ship, dtype=np.int64)
        for (i, j), k in self.dp.pair_index.items():
            ship[k] = d["ship"][i]
        return self.encode(md, close, ship)
