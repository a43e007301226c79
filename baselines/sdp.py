"""Stochastic dynamic programming baselines (policy ``sdp``).

Two exact-in-expectation programmes over the environment's own demand
distribution (``DemandModel.pmf``, never a re-implementation of it):

* **Single store** (Bitran & Mondschein 1997; Yang et al. 2019 section
  6.2.1): backward induction

  ``REV(n, t) = max_p E[p min(D, n) - h (n - min(D, n)) + REV(n - min(D, n), t + 1)] - o_t``

  over every inventory level ``n = 0..N``, with ``D`` the units wanted at
  price ``p`` in period ``t``, ``h`` the holding cost (charged on units
  carried out of periods ``0..T-2``), ``o_t`` the operating cost and
  ``REV(n, T-1)``'s continuation the jobber's ``salvage * n``.  Ladder
  pricing optimises over the ladder exactly; continuous pricing (the
  paper's setting) evaluates a grid of ``price_points`` prices on
  ``[0, price_cap]`` and refines each state's best grid price on the two
  neighbouring grid cells by a vectorised safeguarded parabolic (golden-
  section fallback) search down to ``xtol`` (keeping the best price
  evaluated, so the stored price earns exactly the stored value).
  ``value_estimate = REV(N, 0)``; ``decide`` looks the price up for
  ``(t, on_hand)``.  A single store on the ladder is solved by the
  per-store programme below (with markdown rules and, if closable, its
  closing decision); the continuous programme accepts only the period-0
  window among the markdown rules.

* **Per-store programme for chains** (Craig & Raman 2016 section 4,
  restricted to independent stores): without transfers and without chain-
  wide pricing the stores only share the horizon, so the chain's programme
  separates into one programme per store, with state

  - inventory on hand,
  - the markdown-rule state: current ladder level (when ``monotone``, step
    limits, ``min_hold`` or ``max_changes`` make it matter), periods the
    level has been held (capped at ``min_hold``) and changes made (capped
    at ``max_changes``); the period-0 window ``[initial_min,
    initial_max]`` is applied in period 0,
  - the closing status: open, announced with ``k`` periods to go, closed,

  and decisions markdown level and "announce the closing now" (allowed when
  the store is closable and the closing would take effect no earlier than
  ``earliest_close`` and no later than ``T-1``; with notice ``k`` it takes
  effect ``k`` periods later).  Costs follow MODEL.md section 5: operating
  cost while open, holding cost, salvage of what is on hand at the end of
  the period a closing takes effect (and at ``T-1``), and the rent lock: a
  store open in period ``lock_period`` owes ``locked_rent`` through
  ``lock_until`` after it closes, i.e. a closing taking effect in period
  ``tau > lock_period`` costs ``sum_{u >= tau} locked_rent[u]``
  (Craig & Raman section 7.2's "in for one, in for fifteen").  All of
  these rules are handled exactly.  The rent-lock state is not a separate
  state variable: it is a function of the closing period.

  Demand with a hidden store effect (elasticity demand with
  ``store_effect_cv > 0``) is the effect-integrated distribution
  (``pmf(..., effect=None)``) in every period: the policy is then exact
  only for the prior, i.e. for demand whose effect were redrawn every
  period; it does not learn the store's effect from its sales, and since
  the env draws one effect per store and episode (so a store's periods
  are correlated), ``value_estimate`` is the value of that programme, not
  an unbiased forecast of the env's profit.  Without a hidden effect it
  is exact.

Inventory grid.  A store with at most ``exact_units`` units (default 2000)
is solved on every unit, exactly (a pmf truncated where its tail is below
1e-12, when the grid is wide), unless that programme would exceed
``work_limit`` multiply-adds (large stores with many rule and closing
states, or elasticity demand whose broken-assortment effect needs one pmf
per inventory level).  Otherwise inventory lives on about ``buckets + 1``
levels (default 100): ``0`` and ``N, N - d, N - 2d, ...`` with
``d = ceil(N / buckets)``, values are linear between levels, and the
transition from a level is exact for that interpolated value function: the
probability and partial mean of demand in each cell between levels give the
two interpolation weights.  On such a grid the policy plays the decision of
the level nearest its stock (continuous prices: interpolated between the
two neighbouring levels), and ``value_estimate`` is the grid programme's
value, an approximation.  For elasticity demand the distribution of units
wanted depends on the price, period, store and stock only through its
mean, so the grid programme reads it from a table of the effect-integrated
distribution over a log-spaced grid of means (ratio ``table_ratio``,
default 1.02), mixing the two neighbouring rows so that the mean is exact.

Supported: every single-store scenario on the ladder; continuous pricing
without rules beyond the period-0 window; chains without transfers and
without uniform pricing (distribution centres included, as stores without
customers).  Anything else raises :class:`UnsupportedScenario`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from liqenv import rules as lr
from liqenv.demand import DemandModel, ElasticityDemandModel, make_demand
from liqenv.scenario import MarkdownRules, Scenario

from .base import Policy, UnsupportedScenario, register

__all__ = ["SDP", "InventoryGrid", "RuleSpace", "StoreDemand", "MeanTable", "StoreProgramme",
           "ContinuousProgramme"]

_TOL = 1e-9
_INVPHI = (math.sqrt(5.0) - 1.0) / 2.0
#: largest grid solved with dense (levels x levels) kernels when exact
_DENSE_MAX = 600
#: tail mass below which a truncated pmf is complete (its rounding noise is ~1e-15)
_TAIL = 1e-12


# ---------------------------------------------------------------------------
# inventory grid
@dataclass(frozen=True)
class InventoryGrid:
    """Inventory levels of one store: ``0`` and ``N - (m - i) d`` for ``i = 1..m``.

    ``d = 1`` is the exact per-unit grid.  Regular spacing from the top
    down leaves the one irregular cell at the bottom, ``(0, L_1]``, so a
    level's demand cells are ``[(k-1)d, kd - 1]`` for ``k = 1, 2, ...``.
    """

    N: int
    delta: int

    @staticmethod
    def make(N: int, buckets: int | None) -> "InventoryGrid":
        if buckets is None or N <= buckets:
            return InventoryGrid(N, 1)
        return InventoryGrid(N, int(math.ceil(N / buckets)))

    @cached_property
    def m(self) -> int:
        return int(math.ceil(self.N / self.delta)) if self.N > 0 else 0

    @cached_property
    def levels(self) -> np.ndarray:
        i = np.arange(self.m + 1)
        out = self.N - (self.m - i) * self.delta
        out[0] = 0
        return out.astype(np.int64)

    @property
    def n_levels(self) -> int:
        return self.m + 1

    @property
    def exact(self) -> bool:
        return self.delta == 1

    @cached_property
    def _lower(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``i >= 2`` and regular cells ``k = 1..i-1`` (flattened)."""
        i, k = np.tril_indices(self.n_levels, -1)
        keep = k >= 1
        return i[keep], k[keep]

    def nearest(self, n: int) -> int:
        """Index of the level nearest ``n`` units (ties: the lower level)."""
        L = self.levels
        j = int(np.searchsorted(L, n))
        if j >= len(L):
            return len(L) - 1
        if j > 0 and n - L[j - 1] <= L[j] - n:
            return j - 1
        return j

    def bracket(self, n: int) -> tuple[int, float]:
        """``(i, w)`` with ``n = (1 - w) L_i + w L_{i+1}`` (``w = 0`` on a level)."""
        L = self.levels
        n = min(max(n, 0), self.N)
        i = int(np.searchsorted(L, n, side="right")) - 1
        if i >= len(L) - 1:
            return len(L) - 1, 0.0
        return i, float(n - L[i]) / float(L[i + 1] - L[i])


# ---------------------------------------------------------------------------
# markdown rules as a finite state
class RuleSpace:
    """The markdown business rules of MODEL.md section 2 as a finite state.

    State ``(level, held, changes)``: the current ladder level, the periods
    it has been held minus one, capped at ``min_hold - 1`` (``held ==
    H - 1`` means a change is allowed), and the changes made, capped at
    ``max_changes``.  Dimensions that cannot matter collapse to one value:
    with free prices (not monotone, every step allowed, ``min_hold = 1``,
    no ``max_changes``) the state is trivial.  The allowed levels come from
    :mod:`liqenv.rules` (:func:`~liqenv.rules.initial_levels` in period 0,
    :func:`~liqenv.rules.transition_matrix` after).
    """

    def __init__(self, rules: MarkdownRules, ladder: np.ndarray, dummy: bool = False):
        ladder = np.asarray(ladder, dtype=float)
        L = len(ladder)
        if dummy:  # a distribution centre: one "price", no rules
            initial = np.ones(L, dtype=bool)
            step = ~np.eye(L, dtype=bool)
            self.free = True
        else:
            # the env's rules (liqenv.rules); the change counter is this state's to track
            rv = lr.rule_vector(rules)
            rv[lr.MAX_CHANGES] = -1
            initial = lr.initial_levels(rv, ladder)
            off = ~np.eye(L, dtype=bool)
            step = lr.transition_matrix(rv, ladder) & off
            self.free = (not rules.monotone and rules.min_hold == 1 and rules.max_changes is None
                         and bool(step[off].all()))
        # levels that can ever be posted: the period-0 window and what steps reach
        reach = initial.copy()
        while True:
            more = reach | step[reach].any(0)
            if (more == reach).all():
                break
            reach = more
        #: ladder indices of the levels the programme prices at
        self.levels = np.flatnonzero(reach)
        self.ladder = ladder[self.levels]
        self.initial = initial[self.levels]
        self.step = step[np.ix_(self.levels, self.levels)]
        L = len(self.levels)
        if self.free:
            self.n_lev, self.H, self.NC, self.limited = 1, 1, 1, False
        else:
            self.n_lev = L
            self.H = int(rules.min_hold)
            self.limited = rules.max_changes is not None
            self.NC = int(rules.max_changes) + 1 if self.limited else 1
        self.max_changes = rules.max_changes if not dummy else None
        self.hnext = np.minimum(np.arange(self.H) + 1, self.H - 1)
        self.cnext = np.minimum(np.arange(self.NC) + 1, self.NC - 1) if self.limited else np.zeros(1, int)
        self.cvalid = (np.arange(self.NC) < self.NC - 1) if self.limited else np.ones(1, bool)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_lev, self.H, self.NC)

    def index(self, markdown: float, held: int | None, changes_left: int | None) -> tuple[int, int, int]:
        """The rule state of an observed store (after period 0)."""
        if self.free:
            return 0, 0, 0
        lev = int(np.argmin(np.abs(self.ladder - markdown)))  # among the reachable levels
        h = 0 if self.H == 1 or held is None else int(min(max(held, 1), self.H)) - 1
        c = 0
        if self.limited and changes_left is not None:
            c = int(min(max(self.max_changes - changes_left, 0), self.NC - 1))
        return lev, h, c


# ---------------------------------------------------------------------------
# demand as the programme reads it
class MeanTable:
    """Effect-integrated distribution of units wanted on a log grid of means.

    For elasticity demand the count depends on price, period, store and
    stock only through its mean ``mu`` (at store effect 1); row ``g`` holds
    ``F(x) = P(D <= x)`` and ``PM(x) = E[D; D <= x]`` for ``x = -1..X-1``
    (column ``x + 1``) of ``ElasticityDemandModel.count_pmf(mu_g,
    effect=None)``.  A mean between two rows is read as the mixture of the
    two rows whose mean is exactly ``mu``; the grid ratio bounds the error
    (a variance change of order ``(ratio - 1)**2 mu**2 / 4``).
    """

    def __init__(self, model: ElasticityDemandModel, mus: np.ndarray, x_max: int,
                 ratio: float = 1.02, row: int = 0):
        mus = np.asarray(mus, dtype=float)
        pos = mus[mus > 0]
        if pos.size == 0:
            grid = np.array([0.0, 1.0])
        else:
            lo, hi = float(pos.min()), float(pos.max())
            g = max(2, int(math.ceil(math.log(hi / lo) / math.log(ratio))) + 1) if hi > lo else 2
            grid = np.concatenate([[0.0], np.geomspace(lo, max(hi, lo * ratio), g)])
        self.mu = grid
        self.x_max = int(x_max)
        G = len(grid)
        self.F = np.zeros((G, self.x_max + 1))
        self.PM = np.zeros((G, self.x_max + 1))
        j = np.arange(self.x_max, dtype=float)
        step = max(1, int(4_000_000 // max(self.x_max, 1)))
        for a in range(0, G, step):
            f = model.count_pmf(grid[a: a + step], self.x_max, effect=None, row=row)[:, :-1]
            self.F[a: a + step, 1:] = np.cumsum(f, axis=1)
            self.PM[a: a + step, 1:] = np.cumsum(f * j, axis=1)

    @property
    def locate(self):
        """``locate(mu) -> (g, w)`` with ``mu = w mu_g + (1 - w) mu_{g+1}``
        (a function that holds the grid of means only, not the table)."""
        grid = self.mu

        def locate(mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mu = np.clip(np.asarray(mu, dtype=float), 0.0, grid[-1])
            g = np.clip(np.searchsorted(grid, mu, side="right") - 1, 0, len(grid) - 2)
            lo, hi = grid[g], grid[g + 1]
            return g, (hi - mu) / (hi - lo)

        return locate


class StoreDemand:
    """Units wanted at one store, in the forms the programmes need.

    ``cells(t, price)`` gives, per price (and per inventory level when
    demand depends on stock), ``F`` and ``PM`` at the grid's cell edges
    ``x = k d - 1`` and at ``x = L_i - 1``; ``pmf(t, price, J)`` the pmf
    itself, truncated at ``J`` (per-unit grid).  Both come from
    ``DemandModel.pmf`` with ``effect=None`` (or a :class:`MeanTable` built
    from ``count_pmf``).
    """

    def __init__(self, model: DemandModel, s: int, grid: InventoryGrid, stock: bool,
                 table: MeanTable | None = None, row: int = 0):
        self.model, self.s, self.grid, self.stock, self.row = model, s, grid, stock, row
        self.tabled = table is not None
        if table is not None:  # keep only this store's columns of the table
            L = grid.levels
            reg = np.arange(grid.m) * grid.delta  # column of x = k d - 1
            self._t_reg = (table.F[:, reg], table.PM[:, reg])
            self._t_lev = (table.F[:, L], table.PM[:, L])
            self._locate = table.locate

    def _price_shape(self, price: np.ndarray, diag: bool) -> np.ndarray:
        # all-actions: (A,) -> (A, 1) when rows vary by level; diag: (nl,)
        if diag:
            return price
        return price[:, None] if self.stock else price

    def pmf(self, t: int, price: np.ndarray, n_max: int, diag: bool = False,
            rows: np.ndarray | None = None) -> np.ndarray:
        """Pmf rows, tail last: (A, nl|1, n_max + 1) for every price at every
        level (one row per price when demand ignores stock), or with
        ``diag`` (k, n_max + 1) for price ``k`` at level ``rows[k]``."""
        if diag:
            lev = self.grid.levels if rows is None else self.grid.levels[rows]
            return self.model.pmf(self.s, t, price, n_max, on_hand=lev if self.stock else None,
                                  effect=None, row=self.row)
        p = self._price_shape(price, diag)
        oh = self.grid.levels if self.stock else None
        f = self.model.pmf(self.s, t, p, n_max, on_hand=oh, effect=None, row=self.row)
        return f if self.stock else f[:, None]

    def cells(self, t: int, price: np.ndarray, diag: bool = False):
        """``(Freg, PMreg, Flev, PMlev)``: (R, nl|1, m) and (R, nl)."""
        g = self.grid
        L = g.levels
        if self.tabled:
            p = self._price_shape(price, diag)
            oh = L if self.stock else None
            mu = np.asarray(self.model.mean(self.s, t, p, on_hand=oh, effect=1.0, row=self.row), float)
            if diag:
                mu = np.broadcast_to(mu, (g.n_levels,))[None]
            else:
                mu = np.broadcast_to(mu if self.stock else mu[:, None], (len(price), g.n_levels))
            gi, w = self._locate(mu)  # (R, nl)
            out = []
            for tab in self._t_reg:
                out.append(w[..., None] * tab[gi] + (1.0 - w)[..., None] * tab[gi + 1])
            lev = np.arange(g.n_levels)
            for tab in self._t_lev:
                out.append(w * tab[gi, lev] + (1.0 - w) * tab[gi + 1, lev])
            return tuple(out)
        f = self.pmf(t, price, g.N, diag)
        f = f[None] if diag else f  # (R, nl|1, N+1)
        j = np.arange(g.N, dtype=float)
        F = np.zeros(f.shape[:-1] + (g.N + 1,))
        PM = np.zeros_like(F)
        F[..., 1:] = np.cumsum(f[..., :-1], axis=-1)
        PM[..., 1:] = np.cumsum(f[..., :-1] * j, axis=-1)
        reg = np.arange(g.m) * g.delta
        if not (self.stock or diag):  # one row per price, shared by the levels
            Flev, PMlev = F[:, 0, L], PM[:, 0, L]
        else:
            lev = np.arange(g.n_levels)
            Flev, PMlev = F[:, lev, L], PM[:, lev, L]
        return F[..., reg], PM[..., reg], Flev, PMlev


def dense_kernel(grid: InventoryGrid, Freg, PMreg, Flev, PMlev) -> tuple[np.ndarray, np.ndarray]:
    """Transition matrices ``K[r, i, i']`` and expected sales ``E[min(D, L_i)]``.

    From level ``L_i`` the stock left is ``L_i - min(D, L_i)``; the value
    function is linear between levels, so the demand cell ``[(k-1)d,
    kd - 1]`` sends its probability ``P_k`` to the levels ``i - k`` and
    ``i - k + 1`` with weights ``P_k - w_k`` and ``w_k = k P_k - M_k / d``
    (``M_k = E[D; cell]``); the bottom cell ``(0, L_1]`` likewise with gap
    ``L_1``, and ``D >= L_i`` leaves nothing.  With ``d = 1`` this is the
    exact per-unit transition.
    """
    L = grid.levels
    nl, m, d = grid.n_levels, grid.m, grid.delta
    R = max(Freg.shape[0], Flev.shape[0])
    K = np.zeros((R, nl, nl))
    emin = PMlev + L * (1.0 - Flev)
    emin = np.broadcast_to(emin, (R, nl)).copy()
    emin[:, 0] = 0.0
    K[:, 0, 0] = 1.0
    if m == 0:
        return K, emin
    per_level = Freg.shape[1] > 1
    if m >= 2:
        P = np.diff(Freg, axis=-1)  # cells k = 1..m-1
        M = np.diff(PMreg, axis=-1)
        k = np.arange(1, m, dtype=float)
        wup = k * P - M / d
        wdn = P - wup
        ii, kk = grid._lower
        src = ii if per_level else np.zeros_like(ii)
        K[:, ii, ii - kk] = wdn[:, src, kk - 1]
        K[:, ii, ii - kk + 1] += wup[:, src, kk - 1]
    i = np.arange(1, nl)
    src = i if per_level else np.zeros_like(i)
    Flo, PMlo = Freg[:, src, i - 1], PMreg[:, src, i - 1]
    Pb = Flev[:, i] - Flo
    Mb = PMlev[:, i] - PMlo
    wup_b = (L[i] * Pb - Mb) / L[1]
    K[:, i, 1] += wup_b
    K[:, i, 0] += Pb - wup_b + (1.0 - Flev[:, i])
    return K, emin


# ---------------------------------------------------------------------------
class _Ops:
    """Expected sales and the expectation operator of one period, for a
    vector of prices (``diag=False``: every price at every level) or one
    price per level (``diag=True``)."""

    def __init__(self, demand: StoreDemand, banded: bool):
        self.demand = demand
        self.banded = banded
        self.grid = demand.grid
        self._J: dict[int, int] = {}

    def __call__(self, t: int, price: np.ndarray, diag: bool = False, rows: np.ndarray | None = None):
        """``(emin, apply)``: expected units sold (A, nl) and ``W -> E[W(next)]``
        ((nl, C) or per price (A, nl, C) -> (A, nl, C)); with ``diag``,
        price ``k`` at level ``rows[k]`` (all levels when ``rows`` is None):
        (k,) and (nl, C) -> (k, C)."""
        if self.banded:
            return self._banded(t, price, diag, rows)
        if diag and rows is not None:  # the kernel rows come for every level
            full = np.zeros(self.grid.n_levels)
            full[rows] = price
            price = full
        K, emin = dense_kernel(self.grid, *self.demand.cells(t, price, diag))
        if diag:
            K, emin = K[0], emin[0]
            if rows is not None:
                K, emin = K[rows], emin[rows]
        return emin, (lambda W: np.matmul(K, W))

    def _banded(self, t, price, diag, rows):
        g = self.grid
        J = self._J.get(t, min(g.N, 64))
        while True:
            f = self.demand.pmf(t, price, J, diag, rows)
            if J >= g.N or f[..., -1].max() <= _TAIL:
                break
            J = min(g.N, 2 * J)
        self._J[t] = max(J, self._J.get(t, 0))
        nl = g.n_levels
        idx, smin = self._band(J)
        if diag:  # f (k, J+1): one price per level
            r = np.arange(nl) if rows is None else rows
            emin = np.einsum("ij,ij->i", f, smin[r])

            def apply_diag(W):
                if W.shape[1] == 1:
                    return np.einsum("ij,ij->i", f, W[idx[r], 0])[:, None]
                return np.einsum("ij,ijc->ic", f, W[idx[r]])

            return emin, apply_diag
        shared = not self.demand.stock  # f (A, 1, J+1), else (A, nl, J+1)
        f2 = f[:, 0, :] if shared else None
        emin = f2 @ smin.T if shared else np.einsum("aij,ij->ai", f, smin)

        def apply(W):
            if W.ndim == 2:
                Wg = W[idx]  # (nl, J+1, C)
                if shared:
                    C = W.shape[1]
                    return (f2 @ Wg.transpose(1, 0, 2).reshape(J + 1, nl * C)).reshape(-1, nl, C)
                return np.einsum("aij,ijc->aic", f, Wg)
            out = np.empty(W.shape)
            for a in range(W.shape[0]):
                fa = np.broadcast_to(f[a] if f.shape[0] > 1 else f[0], (nl, J + 1))
                out[a] = np.einsum("ij,ijc->ic", fa, W[a][idx])
            return out

        return emin, apply

    def _band(self, J: int) -> tuple[np.ndarray, np.ndarray]:
        """Stock left ``max(i - j, 0)`` and units sold ``min(i, j)`` for
        level ``i`` and demand ``j = 0..J`` (``J``: the lumped tail)."""
        if getattr(self, "_band_J", None) != J:
            i = np.arange(self.grid.n_levels)[:, None]
            j = np.arange(J + 1)[None, :]
            self._band_cache = (np.maximum(i - j, 0), np.minimum(i, j).astype(float))
            self._band_J = J
        return self._band_cache


# ---------------------------------------------------------------------------
@dataclass
class _Costs:
    T: int
    op: np.ndarray  # (T,) operating cost while open
    holding: float
    salvage: float
    closable: bool
    notice: int
    earliest: int
    closing_cost: np.ndarray  # (T,) locked rent owed from a closing taking effect then

    @staticmethod
    def of(sc: Scenario, s: int) -> "_Costs":
        T = sc.horizon
        return _Costs(T=T, op=sc.operating_costs[s].astype(float), holding=float(sc.holding_cost),
                      salvage=float(sc.salvage_price[s]), closable=bool(sc.closable[s]),
                      notice=int(sc.notice[s]), earliest=int(sc.earliest_close[s]),
                      closing_cost=lr.rent_owed(sc.locked_rent[s], int(sc.lock_period[s]), np.arange(T)))

    def may_announce(self, t: int) -> bool:
        return self.closable and bool(lr.may_announce(t, self.notice, self.earliest, self.T))


class StoreProgramme:
    """Ladder-price programme of one store: markdown rules, closing, rent lock.

    ``solve()`` runs backward induction over ``(t, level, rule state,
    closing status)`` and keeps, for an open store with no closing
    announced, the markdown (``-1``: keep the current one) and whether to
    announce; after an announcement the programme of that closing date is
    re-solved on demand (:meth:`decide`), since it is a few periods long.
    """

    def __init__(self, sc: Scenario, s: int, rules: RuleSpace, demand: StoreDemand,
                 prices: np.ndarray, banded: bool):
        self.s = s
        self.rules = rules
        self.grid = demand.grid
        self.prices = np.asarray(prices, dtype=float)
        self.costs = _Costs.of(sc, s)
        self.ops = _Ops(demand, banded)
        c = self.costs
        self.Z = 1 + c.notice if (c.closable and c.notice >= 1) else 1
        self._chains: dict[int, dict[int, np.ndarray]] = {}
        self.value = float("nan")

    # -- one period ------------------------------------------------------
    def _expect(self, t: int, cont: np.ndarray) -> np.ndarray:
        """``Q[a, i, h, c, z]``: revenue plus expected continuation for
        price ``a`` and next rule state ``(level(a), h, c)``."""
        rs = self.rules
        nl = self.grid.n_levels
        A = len(self.prices)
        emin, apply = self.ops(t, self.prices)
        Zc = cont.shape[-1]
        if rs.free:
            E = apply(cont.reshape(nl, Zc)).reshape(A, nl, 1, 1, Zc)
        else:
            Wa = np.ascontiguousarray(np.moveaxis(cont, 1, 0)).reshape(A, nl, -1)
            E = apply(Wa).reshape(A, nl, rs.H, rs.NC, Zc)
        return E + (self.prices[:, None] * emin)[:, :, None, None, None]

    def _bellman(self, t: int, cont: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best trading value and markdown per state, operating cost paid."""
        rs = self.rules
        Q = self._expect(t, cont)
        nl, Zc = Q.shape[1], Q.shape[-1]
        shape = (nl,) + rs.shape + (Zc,)
        if t == 0 or rs.free:
            Qf = Q[:, :, 0, 0, :]
            if t == 0:
                Qf = np.where(rs.initial[:, None, None], Qf, -np.inf)
            a = Qf.argmax(0)
            V = np.take_along_axis(Qf, a[None], 0)[0]
            V = np.broadcast_to(V[:, None, None, None, :], shape).copy()
            dec = np.broadcast_to(a[:, None, None, None, :], shape).copy()
        else:
            Qt = np.moveaxis(Q, 0, 1)  # (nl, L, H, NC, Zc)
            V = Qt[:, :, rs.hnext].copy()
            dec = np.broadcast_to(np.arange(rs.n_lev)[None, :, None, None, None], shape).copy()
            Qc = Qt[:, :, 0][:, :, rs.cnext]  # (nl, A, NC, Zc)
            X = np.where(rs.step[None, :, :, None, None], Qc[:, None], -np.inf)
            ca = X.argmax(2)
            cv = np.take_along_axis(X, ca[:, :, None], 2)[:, :, 0]
            h = rs.H - 1
            better = rs.cvalid[None, None, :, None] & (cv > V[:, :, h])
            V[:, :, h] = np.where(better, cv, V[:, :, h])
            dec[:, :, h] = np.where(better, ca, dec[:, :, h])
        V -= self.costs.op[t]
        return V, dec

    def _terminal(self, tau: int) -> np.ndarray:
        """Value at the start of period ``tau`` of a store closing then."""
        return self.costs.salvage * self.grid.levels - self.costs.closing_cost[tau]

    def _continuation(self, t: int, W: np.ndarray | None, Z: int) -> np.ndarray:
        """Value of the stock left at the end of period ``t`` by status ``z``
        (``z = 0`` open, ``z = k`` closing ``k`` periods after ``t``)."""
        c, L = self.costs, self.grid.levels.astype(float)
        shape = (len(L),) + self.rules.shape + (Z,)
        if t == c.T - 1:
            return np.broadcast_to((c.salvage * L)[:, None, None, None, None], shape).copy()
        out = np.empty(shape)
        out[..., 0] = W[..., 0]
        if Z > 1:
            out[..., 1] = self._terminal(t + 1)[:, None, None, None]
            out[..., 2:] = W[..., 1: Z - 1]
        out -= (c.holding * L)[:, None, None, None, None]
        return out

    # -- the programme -----------------------------------------------------
    def solve(self) -> float:
        c = self.costs
        T, K = c.T, c.notice
        W = None
        self.markdown: list[np.ndarray] = [None] * T
        self.close: list[np.ndarray] = [None] * T
        dtype = np.int8 if len(self.prices) < 127 else np.int16
        for t in range(T - 1, -1, -1):
            cont = self._continuation(t, W, self.Z)
            V, dec = self._bellman(t, cont)
            md, cl = dec[..., 0].astype(dtype), np.zeros(V.shape[:-1], dtype=bool)
            if c.may_announce(t):
                if K == 0:
                    opt = np.broadcast_to(self._terminal(t)[:, None, None, None], V.shape[:-1])
                    opt_md = np.full(V.shape[:-1], -1, dtype=dtype)
                else:
                    opt, opt_md = V[..., K], dec[..., K].astype(dtype)
                cl = opt > V[..., 0]
                V[..., 0] = np.where(cl, opt, V[..., 0])
                md = np.where(cl, opt_md, md)
            self.markdown[t], self.close[t] = md, cl
            W = V
        self.value = float(W[-1, 0, 0, 0, 0])
        return self.value

    def chain(self, tau: int) -> dict[int, np.ndarray]:
        """Markdowns of an open store closing in period ``tau`` (announced)."""
        if tau not in self._chains:
            c = self.costs
            out = {}
            W = None
            t0 = max(tau - c.notice + 1, 1)
            for t in range(tau - 1, t0 - 1, -1):
                if t == tau - 1:
                    L = self.grid.levels.astype(float)
                    cont = (self._terminal(tau) - c.holding * L)[:, None, None, None, None]
                    cont = np.broadcast_to(cont, (len(L),) + self.rules.shape + (1,)).copy()
                else:
                    cont = W - (c.holding * self.grid.levels)[:, None, None, None, None]
                W, dec = self._bellman(t, cont)
                out[t] = dec[..., 0]
            self._chains[tau] = out
        return self._chains[tau]

    def decide(self, t: int, on_hand: int, rule: tuple[int, int, int],
               until_close: int) -> tuple[int, bool]:
        """Ladder index (``-1``: keep) and closing announcement for a store."""
        i = self.grid.nearest(on_hand)
        if until_close > 0:
            return int(self.chain(t + until_close)[t][(i,) + rule]), False
        return int(self.markdown[t][(i,) + rule]), bool(self.close[t][(i,) + rule])


def maximise_bracketed(f, a, b, c, fa, fb, fc, xtol: float, max_iter: int = 10,
                       ftol: float = 1e-11):
    """Vectorised safeguarded parabolic search for the maximum of ``f`` on ``[a, c]``.

    ``f(x, k)`` gives the values at points ``x`` of problems ``k`` (an index
    array: only unfinished problems are evaluated);
    ``b`` is a start point in ``[a, c]`` (the best grid point) and ``fa,
    fb, fc`` the values at ``a, b, c`` where known (NaN: evaluate).  Each
    iteration fits a parabola through ``a < b < c`` when ``f(b)`` is the
    largest of the three (a bracket) and evaluates its vertex, falling back
    to a golden-section step when the vertex is unusable; without a bracket
    it bisects towards the larger end value.  A problem stops once the step
    is below ``xtol`` or the three values agree to ``ftol`` (relative),
    where a parabola only fits rounding noise; the improvements shrink about
    tenfold per iteration, so ``max_iter = 10`` leaves about 1e-12.
    Returns the best point evaluated and its value, so the result is
    always consistent with ``f``.
    """
    a, b, c, fa, fb, fc = _initial_bracket(f, a, b, c, fa, fb, fc)
    best = np.argmax(np.stack([fa, fb, fc]), axis=0)
    best_x = np.choose(best, [a, b, c])
    best_f = np.choose(best, [fa, fb, fc])
    done = c - a <= xtol
    for _ in range(max_iter):
        if done.all():
            break
        bracket = (fb >= fa) & (fb >= fc)
        u, usable = _trial_point(a, b, c, fa, fb, fc, bracket, done, xtol)
        live = np.flatnonzero(~done)
        fu = fb.copy()
        fu[live] = f(u[live], live)
        better = (fu > best_f) & ~done
        best_x, best_f = np.where(better, u, best_x), np.where(better, fu, best_f)
        step = np.abs(u - b)
        fb_old = fb
        a, b, c, fa, fb, fc = _narrow(a, b, c, fa, fb, fc, u, fu, bracket, done)
        # below the values' rounding noise a parabola says nothing more
        scale = ftol * np.maximum(1.0, np.abs(fb))
        flat = (np.maximum(fb, np.maximum(fa, fc)) - np.minimum(fa, fc)) <= scale
        # a parabolic step that moved the value by less than that has converged
        converged = usable & (np.abs(fu - fb_old) <= scale)
        done = done | (c - a <= xtol) | (usable & (step < xtol)) | flat | converged
    return best_x, best_f


def _initial_bracket(f, a, b, c, fa, fb, fc):
    """``a <= b <= c`` with ``b`` strictly inside and every value known (evaluated where NaN)."""
    fa, fb, fc = (np.array(x, dtype=float) for x in (fa, fb, fc))
    lo_edge, hi_edge = b - a <= _TOL, c - b <= _TOL
    fa = np.where(lo_edge, fb, fa)  # b sits on an end: move it inside
    fc = np.where(hi_edge, fb, fc)
    edge = lo_edge | hi_edge
    b = np.where(edge, 0.5 * (a + c), b)
    fb = np.where(edge, np.nan, fb)
    for x, fx in ((a, fa), (b, fb), (c, fc)):
        unknown = np.flatnonzero(np.isnan(fx))
        if unknown.size:
            fx[unknown] = f(x[unknown], unknown)
    return a, b, c, fa, fb, fc


def _trial_point(a, b, c, fa, fb, fc, bracket, done, xtol):
    """The next point of each problem (the parabola's vertex, else a golden
    step; without a bracket the bisection towards the larger end) and
    whether the vertex was used."""
    num = (b - a) ** 2 * (fb - fc) - (b - c) ** 2 * (fb - fa)
    den = (b - a) * (fb - fc) - (b - c) * (fb - fa)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = b - 0.5 * num / den
    wide_right = (c - b) > (b - a)
    golden = np.where(wide_right, b + (1 - _INVPHI) * (c - b), b - (1 - _INVPHI) * (b - a))
    usable = bracket & (den > 0) & np.isfinite(u) & (u > a + 0.5 * xtol) & (u < c - 0.5 * xtol)
    usable &= np.abs(u - b) >= 0.25 * xtol
    u = np.where(usable, u, golden)
    # no bracket: bisect towards the larger end (the maximum lies that way)
    u = np.where(bracket, u, np.where(fa >= fc, 0.5 * (a + b), 0.5 * (b + c)))
    return np.where(done, b, u), usable


def _narrow(a, b, c, fa, fb, fc, u, fu, bracket, done):
    """The bracket after evaluating ``u``: around the best of the four points,
    or without a bracket the larger end with (a, u, b) or (b, u, c)."""
    right = u > b
    up = fu >= fb
    na = np.where(right, np.where(up, b, a), np.where(up, a, u))
    nc = np.where(right, np.where(up, c, u), np.where(up, b, c))
    nfa = np.where(right, np.where(up, fb, fa), np.where(up, fa, fu))
    nfc = np.where(right, np.where(up, fc, fu), np.where(up, fb, fc))
    nb, nfb = np.where(up, u, b), np.where(up, fu, fb)
    left_end = fa >= fc
    na = np.where(bracket, na, np.where(left_end, a, b))
    nfa = np.where(bracket, nfa, np.where(left_end, fa, fb))
    nc = np.where(bracket, nc, np.where(left_end, b, c))
    nfc = np.where(bracket, nfc, np.where(left_end, fb, fc))
    nb, nfb = np.where(bracket, nb, u), np.where(bracket, nfb, fu)
    keep = done
    return (np.where(keep, a, na), np.where(keep, b, nb), np.where(keep, c, nc),
            np.where(keep, fa, nfa), np.where(keep, fb, nfb), np.where(keep, fc, nfc))


class ContinuousProgramme:
    """Continuous-price programme of one store (Yang section 6.2.1).

    Each period: expected value at ``price_points`` prices on ``[0, cap]``
    for every level, then a refinement of every level's best grid price on
    the two neighbouring grid cells (``[p_{k-1}, p_{k+1}]``, intersected
    with the period-0 window) by :func:`maximise_bracketed` (parabolic
    steps safeguarded by golden-section ones); the best price evaluated is
    stored with its exact value.
    """

    def __init__(self, sc: Scenario, demand: StoreDemand, banded: bool, price_points: int,
                 xtol: float):
        self.grid = demand.grid
        self.costs = _Costs.of(sc, 0)
        self.ops = _Ops(demand, banded)
        cap = sc.price_cap
        lp = float(sc.list_price[0])
        r = sc.markdowns
        self.window = (max(0.0, lp * (1.0 - (1.0 if r.initial_max is None else r.initial_max))),
                       min(cap, lp * (1.0 - max(r.initial_min_or_floor, 1.0 - cap / lp))))
        self.cap = cap
        self.price_points = int(price_points)
        self.xtol = float(xtol)
        self.value = float("nan")

    def solve(self) -> float:
        c, g = self.costs, self.grid
        L = g.levels.astype(float)
        T = c.T
        grid_p = np.linspace(0.0, self.cap, self.price_points)
        step = grid_p[1] - grid_p[0]
        self.price = np.zeros((T, g.n_levels))
        self.values = np.zeros((T, g.n_levels))
        W = None
        for t in range(T - 1, -1, -1):
            cont = c.salvage * L if t == T - 1 else W - c.holding * L
            emin, apply = self.ops(t, grid_p)
            Q = grid_p[:, None] * emin + apply(cont[:, None])[:, :, 0]
            lo_w, hi_w = self.window if t == 0 else (0.0, self.cap)
            ok = (grid_p >= lo_w - _TOL) & (grid_p <= hi_w + _TOL)
            if not ok.any():  # a window narrower than the grid step
                ok = np.abs(grid_p - lo_w) == np.abs(grid_p - lo_w).min()
            Q = np.where(ok[:, None], Q, -np.inf)
            k = Q.argmax(0)
            best_x, best_f = grid_p[k], Q[k, np.arange(g.n_levels)]
            a = np.maximum(best_x - step, lo_w)
            cc = np.minimum(best_x + step, hi_w)
            cols = np.arange(g.n_levels)
            km, kp = np.maximum(k - 1, 0), np.minimum(k + 1, len(grid_p) - 1)
            fa = np.where(np.abs(grid_p[km] - a) <= _TOL, Q[km, cols], np.nan)
            fc = np.where(np.abs(grid_p[kp] - cc) <= _TOL, Q[kp, cols], np.nan)

            def f(x, rows, t=t, cont=cont):
                e, ap = self.ops(t, x, diag=True, rows=rows)
                return x * e + ap(cont[:, None])[:, 0]

            best_x, best_f = maximise_bracketed(f, a, best_x, cc, fa, best_f, fc, self.xtol)
            self.price[t] = best_x
            self.values[t] = best_f - c.op[t]
            W = self.values[t]
        self.value = float(W[-1])
        return self.value

    def decide(self, t: int, on_hand: int) -> float:
        i, w = self.grid.bracket(on_hand)
        if w == 0.0:
            return float(self.price[t, i])
        return float((1.0 - w) * self.price[t, i] + w * self.price[t, i + 1])


# ---------------------------------------------------------------------------
@register("sdp")
class SDP(Policy):
    """Stochastic dynamic programming (see the module docstring).

    Options: ``buckets`` (grid size for large stores, 100), ``exact_units``
    (largest store solved per unit, 2000), ``work_limit`` (largest per-unit
    programme, in multiply-adds, 2e10), ``price_points`` (continuous price
    grid, 201), ``xtol`` (golden-section tolerance on the price, 1e-7),
    ``table_ratio`` (ratio of the mean grid of elasticity demand, 1.02).

    Attributes after solving: ``value_estimate`` (expected profit of the
    programme), ``store_values`` (per store), ``exact`` (per store: solved
    per unit), ``programmes`` (the per-store programmes; a chain's policy
    keeps per store one int8 markdown and one closing flag per period,
    level and rule state, and its columns of the mean table).
    """

    def __init__(self, scenario: Scenario, buckets: int = 100, exact_units: int = 2000,
                 work_limit: float = 2e10, price_points: int = 201, xtol: float = 1e-7,
                 table_ratio: float = 1.02, **options: Any):
        for name, v, lo in (("buckets", buckets, 1), ("exact_units", exact_units, 0),
                            ("price_points", price_points, 3)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name}={v!r}: must be an integer >= {lo}")
        for name, v in (("work_limit", work_limit), ("xtol", xtol)):
            if not (isinstance(v, (int, float)) and v > 0):
                raise ValueError(f"{name}={v!r}: must be a positive number")
        if not (isinstance(table_ratio, (int, float)) and table_ratio > 1.0):
            raise ValueError(f"table_ratio={table_ratio!r}: must be > 1")
        self.buckets, self.exact_units, self.work_limit = int(buckets), int(exact_units), float(work_limit)
        self.price_points, self.xtol, self.table_ratio = int(price_points), float(xtol), float(table_ratio)
        super().__init__(scenario, **options)

    @classmethod
    def check_supported(cls, scenario: Scenario) -> None:
        sc = scenario
        if sc.has_transfers:
            raise UnsupportedScenario(
                "sdp: transfers couple the stores' inventories; the per-store programme "
                "needs independent stores (no transfer pairs)")
        if sc.markdowns.uniform_pricing and len(sc.selling) > 1:
            raise UnsupportedScenario(
                "sdp: uniform (chain-wide) pricing couples the stores; the per-store "
                "programme needs store-level prices")
        if sc.pricing == "continuous":
            r = sc.markdowns
            if (r.monotone or r.min_hold > 1 or r.max_changes is not None or r.step_min > 0
                    or r.step_max is not None):
                raise UnsupportedScenario(
                    "sdp: continuous pricing with monotone/step/hold/change rules would need "
                    "the last price as a continuous state; only the period-0 window is supported")

    # -- solving -------------------------------------------------------------
    def _work(self, sc: Scenario, s: int, rules: RuleSpace, stock: bool, nodes: int) -> float:
        """Multiply-adds of the per-unit programme of store ``s`` (an estimate).

        Per period: the expectation over demand for every price, level and
        rule/closing column (a band of ``J`` demands wide when the grid is
        banded, all levels when dense), the continuous refinement (about a
        dozen one-price-per-level evaluations), and the pmf evaluations
        (times the prior's quadrature nodes).  ``J`` is bounded for Poisson
        valuation demand by the largest arrival rate, otherwise by ``N``.
        """
        N = int(sc.inventory[s])
        nl = N + 1
        continuous = sc.pricing == "continuous"
        A = 1 if sc.is_dc[s] else (self.price_points if continuous else len(sc.ladder))
        Z = 1 + int(sc.notice[s]) if sc.closable[s] else 1
        banded = continuous or nl > _DENSE_MAX
        J = nl
        d = sc.demand
        if banded and getattr(d, "kind", "") == "valuation" and d.arrival == "poisson":
            lam = float(sc.arrival_rates[s].max())
            J = min(nl, int(lam + 12.0 * math.sqrt(lam) + 40))
        per_t = A * nl * (J if banded else nl) * rules.H * rules.NC * Z
        if continuous:
            per_t += 13 * nl * J
        pmf = (A + (13 if continuous else 0)) * (nl if stock else 1) * (J if banded else N) * nodes
        return sc.horizon * (per_t + pmf)

    def solve(self) -> None:
        sc = self.scenario
        model = make_demand(sc)
        self.model = model
        S = sc.n_stores
        stock = isinstance(model, ElasticityDemandModel) and float(model.beta[0, 0]) > 0
        nodes = 24 if isinstance(model, ElasticityDemandModel) and model.effect_cv[0, 0] > 0 else 1
        ladder = sc.ladder
        grids, rules, exact = [], [], []
        for s in range(S):
            rs = RuleSpace(sc.markdowns, ladder[:1] if sc.is_dc[s] else ladder, dummy=bool(sc.is_dc[s]))
            N = int(sc.inventory[s])
            ex = N <= self.exact_units and self._work(sc, s, rs, stock, nodes) <= self.work_limit
            grids.append(InventoryGrid.make(N, None if ex else self.buckets))
            rules.append(rs)
            exact.append(ex)
        self.exact = exact
        table = None
        if isinstance(model, ElasticityDemandModel) and not all(exact):
            mus = []
            for s in range(S):
                if exact[s]:
                    continue
                p = self._prices(sc, s, rules[s])
                oh = grids[s].levels[None, :] if stock else None
                for t in range(sc.horizon):
                    mus.append(np.ravel(model.mean(s, t, p[:, None], on_hand=oh, effect=1.0)))
            x_max = max(int(sc.inventory[s]) for s in range(S) if not exact[s])
            table = MeanTable(model, np.concatenate(mus), x_max, self.table_ratio)
        self.programmes = []
        for s in range(S):
            g = grids[s]
            dem = StoreDemand(model, s, g, stock, None if exact[s] else table)
            banded = exact[s] and (g.n_levels > _DENSE_MAX or sc.pricing == "continuous")
            if sc.pricing == "continuous":
                prog = ContinuousProgramme(sc, dem, banded, self.price_points, self.xtol)
            else:
                prog = StoreProgramme(sc, s, rules[s], dem, self._prices(sc, s, rules[s]), banded)
            prog.solve()
            self.programmes.append(prog)
        self.store_values = np.array([p.value for p in self.programmes])
        self.value_estimate = float(self.store_values.sum())

    @staticmethod
    def _prices(sc: Scenario, s: int, rules: RuleSpace) -> np.ndarray:
        """Prices of the programme's actions (a distribution centre: one dummy)."""
        if sc.is_dc[s]:
            return np.array([float(sc.list_price[s])])
        return (1.0 - rules.ladder) * float(sc.list_price[s])

    # -- acting --------------------------------------------------------------
    def decide(self, obs: dict[str, np.ndarray]) -> Any:
        sc = self.scenario
        S = sc.n_stores
        t = int(obs["t"])
        on_hand = np.atleast_1d(obs["on_hand"])
        if sc.pricing == "continuous":
            price = self.programmes[0].decide(t, int(on_hand[0]))
            return self.encode(1.0 - price / float(sc.list_price[0]))
        ladder = sc.ladder
        cur = np.atleast_1d(obs["markdown"])
        markdown = np.zeros(S)
        close = np.zeros(S, dtype=bool)
        closed = np.atleast_1d(obs.get("closed", np.zeros(S, bool)))
        announced = np.atleast_1d(obs.get("announced", np.zeros(S, bool)))
        until = np.atleast_1d(obs.get("until_close", np.zeros(S, int)))
        held = obs.get("held")
        left = obs.get("changes_left")
        for s in range(S):
            prog = self.programmes[s]
            keep = ladder[int(np.argmin(np.abs(ladder - cur[s])))]
            markdown[s] = keep
            if closed[s]:
                continue
            rule = (0, 0, 0) if (t == 0 or sc.is_dc[s]) else prog.rules.index(
                float(cur[s]), None if held is None else int(np.atleast_1d(held)[s]),
                None if left is None else int(np.atleast_1d(left)[s]))
            a, cl = prog.decide(t, int(on_hand[s]), rule, int(until[s]) if announced[s] else 0)
            if a < 0 and t == 0:  # closing at once: any period-0 level will do
                a = int(np.flatnonzero(prog.rules.initial)[0])
            if a >= 0 and not sc.is_dc[s]:  # a distribution centre posts no price
                markdown[s] = prog.rules.ladder[a]
            close[s] = cl
        return self.encode(markdown, close)
