"""``craig_raman``: the store-liquidation heuristic of Craig & Raman (2016), section 5.

The heuristic commits, at each re-solve, to a markdown schedule per store,
closing dates and one batch of transfers leaving now, and is re-solved on a
rolling horizon (``every`` periods), acting on the first period's
decisions.  It decomposes into

* the **subproblem** (section 5.1): for fixed markdown schedules, a
  mixed-integer programme over store-open binaries ``b_st`` (non-increasing
  in t; forced open until a closing can take effect, i.e. for the notice
  period and until ``earliest_close``; announced closings fixed), transfers
  ``x_rs >= 0`` leaving now (arriving after the pair's lead time, only to a
  store still open then; an optional fixed cost per shipment with a binary)
  and, per demand scenario, sales.  The paper's bilinear demand scaling
  ``gamma_st = 1 + g_s (inflow - outflow)`` with ``g_s = beta_inv / z_s``
  multiplies data ``d^k_st``, so ``gamma_st d^k_st`` is linear in ``x``; its
  lost-sales constraint ``xi >= b (gamma d - zeta) + (1 - b) gamma d`` is
  written with sales ``sigma = gamma d - xi``: ``0 <= sigma <= gamma d``,
  cumulative sales within the units available (on hand, less outflow, plus
  arrivals so far), and ``sigma <= M b``.  The objective is expected revenue
  plus the jobber's salvage of what is left, less operating costs, locked
  rent (a store open in its lock period owes rent through ``lock_until``:
  ``sum rent_t (b_{t_k} - b_t)``, linear because ``b`` is non-increasing),
  transfer and shipment costs.  Solved with ``scipy.optimize.milp`` (HiGHS),
  one programme per group of stores linked by usable transfer pairs.
* the **master problem** (section 5.2): a search over markdown schedules.
  A schedule is a ladder level per remaining period that obeys the rules
  from the store's current state (today's levels from the env's rule code;
  later changes only after ``min_hold`` periods, of an allowed step,
  monotone when required).  Each store's family is every such schedule when
  there are at most ``max_family`` of them (two stores, three periods: 1,540
  each), otherwise the schedules "start at level l, wait w change dates,
  then move d levels at every change date".  With transfers held fixed the
  subproblem separates by store and its optimum is a choice of closing date,
  so every family member is scored exactly by enumerating closing dates;
  stores' schedules start at their best scores, and, where stores share
  transfers, coordinate ascent re-scores one store's family at the current
  transfers and solves the MILP for its best ``n_milp`` candidates, taken in
  order of nondecreasing minimum markdown with the paper's stopping rule
  (stop once ``(1 - min m) * sum z_s`` cannot beat the best value).  With
  ``uniform_pricing`` one chain schedule is searched the same way.
* **demand scenarios** (sections 5.3 and 6): for every store, period and
  schedule, the expected demand of the env's model at the schedule's price
  and at the store's expected on-hand units along the schedule (the
  broken-assortment effect of depletion), at the store's re-estimated
  effect; the count distribution is the model's own (``count_pmf``), mixed
  over the effect's posterior; its percentiles 10, 30, 50, 70 and 90 (equal
  probability) are the scenario values.  A store's scenario paths are every
  combination of the per-period points when there are at most
  ``max_paths`` (three periods: 125), otherwise the five comonotone paths
  (the k-th percentile in every period).

The transfer decision maps ``x_rs`` to the nearest entry of the env's
quantity menu (a fraction of the source's on-hand units).  Between
re-solves the policy follows the plan (no new transfers).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.special import roots_hermitenorm

from liqenv import dynamics as dyn
from liqenv import rules
from liqenv.demand import make_demand
from liqenv.scenario import NO_CLOSE, ElasticityDemand, Scenario

from .base import Policy, UnsupportedScenario, register
from .chain import effect_posterior, level_transitions, rule_state

__all__ = ["CraigRaman", "PERCENTILES", "Subproblem"]

#: Scenario percentiles of section 6 (equal probability).
PERCENTILES = (0.1, 0.3, 0.5, 0.7, 0.9)
_NEG = -np.inf


# --------------------------------------------------------------------------
# demand scenarios
class QuantileTable:
    """Percentiles of the model's demand count as a function of its mean.

    Exact (``count_pmf``, mixed over a lognormal effect posterior by
    Gauss-Hermite quadrature) on a grid of means up to ``mu_exact``, linear
    in between; above, the percentiles scale with the mean (the count's
    Poisson part is then negligible next to its gamma part).
    """

    def __init__(self, demand, log_mean: float, log_var: float, pcts=PERCENTILES,
                 mu_exact: float = 300.0, n_grid: int = 64, nodes: int = 5):
        self.pcts = np.asarray(pcts, float)
        if log_var > 1e-12:
            x, w = roots_hermitenorm(nodes)
            u = np.exp(log_mean + np.sqrt(log_var) * x)
            w = w / w.sum()
        else:
            u, w = np.array([np.exp(log_mean)]), np.array([1.0])
        grid = np.concatenate([[0.0], np.geomspace(1e-3, mu_exact, n_grid - 1)])
        cv = float(demand.cv[0, 0])
        n_max = int(min(20000, mu_exact * u.max() * (1.0 + 4.0 * cv) + 20.0 * np.sqrt(mu_exact) + 60))
        cdf = 0.0
        for ui, wi in zip(u, w):
            cdf = cdf + wi * np.cumsum(demand.count_pmf(grid, n_max, effect=float(ui)), axis=-1)
        # smallest j with P(count <= j) >= p
        q = (cdf[:, None, :] < self.pcts[None, :, None] - 1e-12).sum(-1).astype(float)
        self.grid, self.q = grid, np.minimum(q, n_max)
        self.top_ratio = self.q[-1] / grid[-1]

    def __call__(self, mu) -> np.ndarray:
        """Percentiles, shape ``mu.shape + (K,)``."""
        mu = np.asarray(mu, float)
        flat = mu.ravel()
        out = np.empty((flat.size, len(self.pcts)))
        for k in range(len(self.pcts)):
            out[:, k] = np.interp(flat, self.grid, self.q[:, k])
        big = flat > self.grid[-1]
        out[big] = flat[big, None] * self.top_ratio[None, :]
        return out.reshape(mu.shape + (len(self.pcts),))


# --------------------------------------------------------------------------
# schedule families
def schedule_family(R: int, cur: int, held: int, first: bool, today_ok: np.ndarray,
                    next_ok: np.ndarray, min_hold: int, changes_left: int | None,
                    max_family: int) -> np.ndarray:
    """Rule-feasible level schedules over ``R`` periods, shape (F, R).

    Every feasible schedule when there are at most ``max_family`` of them,
    else the parametric family described in the module docstring.
    """
    rs = _ScheduleRules(cur, held, first, next_ok, max(min_hold, 1), changes_left)
    starts = [lv for lv in range(len(today_ok)) if today_ok[lv]]
    if _count_schedules(rs, R, starts, max_family) <= max_family:
        return _all_schedules(rs, R, starts)
    return _parametric_schedules(rs, R, starts)


@dataclass
class _ScheduleRules:
    """What constrains a store's schedule: the level posted now (``cur``),
    held ``held`` periods (``first``: none posted yet), the allowed steps
    ``next_ok`` (L, L), the hold ``H`` and the changes left (None: no cap)."""

    cur: int
    held: int
    first: bool
    next_ok: np.ndarray
    H: int
    changes_left: int | None

    def start(self, lv: int) -> tuple[int, int]:
        """(periods held capped at H, changes made) after posting ``lv`` today."""
        h = 1 if (self.first or lv != self.cur) else self.held + 1
        return min(h, self.H), 0 if (self.first or lv == self.cur) else 1

    def changes(self, h: int, ch: int) -> bool:
        """Whether a store that has held its level ``h`` periods, after ``ch`` changes, may change it now."""
        return h >= self.H and (self.changes_left is None or ch < self.changes_left)


def _count_schedules(rs: _ScheduleRules, R: int, starts: list[int], max_family: int) -> int:
    """Feasible schedules (``max_family + 1`` once there are more), by dynamic
    programming over (level, held, changes); changes are tracked only when limited."""
    cap = 10 ** 9

    def ch_of(ch):
        return 0 if rs.changes_left is None else ch

    states: dict = {}
    for lv in starts:
        h, ch = rs.start(lv)
        key = (lv, h, ch_of(ch))
        states[key] = states.get(key, 0) + 1
    for _ in range(1, R):
        nxt: dict = {}
        for (lv, h, ch), n in states.items():
            key = (lv, min(h + 1, rs.H), ch)
            nxt[key] = min(cap, nxt.get(key, 0) + n)
            if rs.changes(h, ch):
                for nl in np.flatnonzero(rs.next_ok[lv]):
                    if nl == lv:
                        continue
                    key = (int(nl), 1, ch_of(ch + 1))
                    nxt[key] = min(cap, nxt.get(key, 0) + n)
        states = nxt
        if sum(states.values()) > max_family:
            return max_family + 1
    return sum(states.values())


def _all_schedules(rs: _ScheduleRules, R: int, starts: list[int]) -> np.ndarray:
    """Every feasible schedule, depth first (keep the level before changing it)."""
    out = []

    def rec(seq, lv, h, ch):
        if len(seq) == R:
            out.append(list(seq))
            return
        seq.append(lv)
        rec(seq, lv, min(h + 1, rs.H), ch)
        seq.pop()
        if rs.changes(h, ch):
            for nl in np.flatnonzero(rs.next_ok[lv]):
                if nl != lv:
                    seq.append(int(nl))
                    rec(seq, int(nl), 1, ch + 1)
                    seq.pop()

    for lv in starts:
        h, ch = rs.start(lv)
        rec([lv], lv, h, ch)
    return np.array(out, dtype=np.int64).reshape(-1, R)


def _parametric_schedules(rs: _ScheduleRules, R: int, starts: list[int]) -> np.ndarray:
    """The parametric family: start level, wait ``w`` change dates, then move
    ``d`` levels (or the largest allowed step below) at each change date."""
    next_ok, H = rs.next_ok, rs.H
    L = len(next_ok)
    steps = [d for d in range(0, L) if d == 0 or any(next_ok[lv, lv + d] for lv in range(L - d))]
    fam = set()
    for lv0 in starts:
        e1 = H if (rs.first or lv0 != rs.cur) else max(1, H - rs.held)
        dates = list(range(e1, R, H))
        ch0 = rs.start(lv0)[1]
        for d in steps:
            for w in range(0, max(1, len(dates)) + 1):
                fam.add(tuple(_step_schedule(rs, R, lv0, ch0, dates[w:] if d else [], d)))
    return np.array(sorted(fam), dtype=np.int64).reshape(-1, R)


def _step_schedule(rs: _ScheduleRules, R: int, lv: int, ch: int, dates: list[int], d: int) -> list[int]:
    """Schedule from level ``lv`` moving up by ``d`` levels (at most, as
    allowed) at each of ``dates`` while changes are left."""
    L = len(rs.next_ok)
    seq = [lv] * R
    for e in dates:
        nl = min(lv + d, L - 1)
        while nl > lv and not rs.next_ok[lv, nl]:
            nl -= 1
        if nl == lv or (rs.changes_left is not None and ch >= rs.changes_left):
            continue
        lv, ch = nl, ch + 1
        for k in range(e, R):
            seq[k] = lv
    return seq


# --------------------------------------------------------------------------
@dataclass
class StoreData:
    """One open store's inputs to the subproblem at a re-solve."""

    s: int
    z: float  # units on hand now
    pipe: np.ndarray  # (R,) units arriving (already shipped) by relative period
    price: np.ndarray  # (F, R) prices of the family's schedules
    levels: np.ndarray  # (F, R) ladder levels
    d: np.ndarray  # (F, P, R) scenario demands along each path
    paths: np.ndarray  # (P, R) percentile index of each path in each period
    g: float  # beta_inv / z (section 5.3)
    op: np.ndarray  # (R,) operating costs
    salv: float
    close_min: int  # first relative period a closing may take effect (R: never)
    close_fixed: int | None  # announced closing's relative period
    dates: np.ndarray  # closing dates the plan may choose (relative; R means never)
    lock: tuple | None  # ("pending", tk, tu, rent (R,)) or ("locked", tu, rent (R,))


#: Seconds per subproblem MILP: a safety net, far above what the presets' MILPs need (see CraigRaman).
MILP_TIME_LIMIT = 30.0


class Subproblem:
    """Section 5.1 for a group of stores linked by transfers; see the module docstring."""

    def __init__(self, stores: list[StoreData], pairs: list[tuple], R: int,
                 time_limit: float = MILP_TIME_LIMIT):
        self.stores, self.pairs, self.R = stores, pairs, R
        self.time_limit = time_limit
        self.limit_hits = 0  # MILPs stopped at the time limit (their incumbent was used)

    # closed form with transfers fixed ---------------------------------
    def score(self, i: int, inflow: np.ndarray, outflow: float, in_total: float,
              latest_arrival: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact subproblem value of every schedule of store ``i`` with transfers
        fixed (``inflow[tau]``: units arrived by period tau), maximised over
        closing dates; returns (value (F,), closing date (F,))."""
        st, R = self.stores[i], self.R
        gamma = 1.0 + st.g * (inflow - outflow)  # (R,)
        D = st.d * np.maximum(gamma, 0.0)[None, None, :]
        F, P, _ = D.shape
        avail = st.z - outflow + np.cumsum(st.pipe) + inflow  # units there by period tau, none sold
        sold_cum = np.zeros((F, P))
        rev_cum = np.zeros((F, P, R + 1))
        sold_by = np.zeros((F, P, R + 1))
        for tau in range(R):
            sold = np.clip(np.minimum(D[:, :, tau], avail[tau] - sold_cum), 0.0, None)
            sold_cum = sold_cum + sold
            rev_cum[:, :, tau + 1] = rev_cum[:, :, tau] + st.price[:, tau][:, None] * sold
            sold_by[:, :, tau + 1] = sold_cum
        total_units = st.z - outflow + st.pipe.sum() + in_total
        val = (rev_cum + st.salv * (total_units - sold_by)).mean(1)  # (F, R+1) by closing date c
        c = np.arange(R + 1)
        val = val - np.concatenate([[0.0], np.cumsum(st.op)])[None, :]
        val = val - self._rent(i, c)[None, :]
        ok = self._close_ok(i, latest_arrival)
        val = np.where(ok[None, :], val, _NEG)
        best = val.argmax(1)
        return val[np.arange(F), best], best

    def _close_ok(self, i: int, latest_arrival: int) -> np.ndarray:
        """Closing dates c (0..R, R meaning never) allowed for store i."""
        st, R = self.stores[i], self.R
        c = np.arange(R + 1)
        if st.close_fixed is not None:
            return c == min(st.close_fixed, R)
        ok = np.isin(c, st.dates) | (c == R)
        if latest_arrival >= 0:  # it must be open when shipments arrive
            ok &= (c > latest_arrival) if latest_arrival < R else (c == R)
        return ok

    def _rent(self, i: int, c: np.ndarray, only: int | None = None) -> np.ndarray:
        """Locked rent owed by store i if it closes at relative period c
        (:func:`liqenv.rules.rent_owed`); ``only``: the rent of that period alone."""
        st = self.stores[i]
        if st.lock is None:
            return np.zeros(len(c))
        locked = st.lock[0] == "locked"
        tk = NO_CLOSE if locked else st.lock[1]
        rent = st.lock[-1]
        if only is not None:
            rent = np.where(np.arange(len(rent)) == only, rent, 0.0)
        return rules.rent_owed(rent, tk, c, locked)

    # the MILP -------------------------------------------------------------
    def solve(self, choice: list[int]) -> dict:
        """Solve the MILP for schedule ``choice[i]`` of each store."""
        m = _MILP(self, choice)
        res = m.solve(self.time_limit)
        self.limit_hits += res.status == 1  # 1: time limit reached, res.x is the incumbent
        return m.decode(res)

    def rent_coefficients(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Locked rent of store ``i`` as a linear function of its open flags:
        ``rent owed = const.sum() - coef @ open`` (``const``: by period) for any closing date (open in
        periods ``< c``), from :func:`liqenv.rules.rent_owed` of each period's
        rent (the rent of period ``t`` is owed for closings in a window of
        dates, so its part is a difference of open flags)."""
        st, R = self.stores[i], self.R
        coef, const = np.zeros(R), np.zeros(R)
        if st.lock is None:
            return coef, const
        c = np.arange(R + 1)
        for t in range(R):
            owed = self._rent(i, c, only=t)  # (R+1,) by closing date
            const[t] = owed[0]
            coef -= owed[1:] - owed[:-1]  # b_u = [c > u]
        return coef, const

    @staticmethod
    def _tree(paths: np.ndarray):
        """Scenario tree of the paths' prefixes: per node its depth, parent
        (-1 at the root level), probability and one path through it."""
        P, R = paths.shape
        depth, parent, prob, first = [], [], [], []
        prev = None
        offset = 0
        for t in range(R):
            _, idx, inv, cnt = np.unique(paths[:, : t + 1], axis=0, return_index=True,
                                         return_inverse=True, return_counts=True)
            inv = inv.ravel()
            n_t = len(idx)
            depth += [t] * n_t
            prob += list(cnt / P)
            first += list(idx)
            if prev is None:
                parent += [-1] * n_t
            else:
                par = np.empty(n_t, dtype=np.int64)
                par[inv] = prev[0] + prev[1]  # node of each path's prefix one period shorter
                parent += list(par)
            prev = (offset, inv)
            offset += n_t
        return np.array(depth), np.array(parent), np.array(prob), np.array(first)

    def flows(self, x: np.ndarray, i: int) -> tuple[np.ndarray, float, float, int]:
        """(inflow by period (R,), outflow, total inflow, latest arrival or -1) of store i."""
        R = self.R
        inflow = np.zeros(R)
        total, latest = 0.0, -1
        out = 0.0
        for p, (a, b_, lead, _, _) in enumerate(self.pairs):
            if x[p] <= 1e-9:
                continue
            if b_ == i:
                total += x[p]
                latest = max(latest, lead)
                if lead < R:
                    inflow[lead:] += x[p]
            if a == i:
                out += x[p]
        return inflow, out, total, latest


class _MILP:
    """The section 5.1 MILP of a :class:`Subproblem` for one schedule per
    store, built one constraint family at a time (variables: an open flag
    per segment between allowed closing dates, units per transfer pair, a
    shipment flag per pair with a fixed cost, sales per scenario-tree node)."""

    def __init__(self, sub: Subproblem, choice: list[int]):
        self.sub, self.choice = sub, list(choice)
        R, S = sub.R, len(sub.stores)
        # sales depend on a path's prefix only: one variable per node of the
        # scenario tree (depth t = period t)
        self.trees = [sub._tree(st.paths) for st in sub.stores]
        self._segments()
        npair = len(sub.pairs)
        self.has_fixed = [p[4] > 0 for p in sub.pairs]
        self.off_b = 0
        self.off_x = self.off_b + int(self.seg_off[-1])
        off_y = self.off_x + npair
        self.off_sig = off_y + sum(self.has_fixed)
        self.sig_off = np.cumsum([0] + [len(tr[0]) for tr in self.trees])
        n = self.off_sig + int(self.sig_off[-1])
        self.yidx = {}
        for p in range(npair):
            if self.has_fixed[p]:
                self.yidx[p] = off_y + len(self.yidx)
        self.c = np.zeros(n)  # maximise c @ v + const
        self.const = 0.0
        self.lb, self.ub = np.zeros(n), np.full(n, np.inf)
        self.integ = np.zeros(n)
        self.rows, self.cols, self.vals, self.rlo, self.rhi = [], [], [], [], []
        self.into = [[p for p in range(npair) if sub.pairs[p][1] == i] for i in range(S)]
        self.outof = [[p for p in range(npair) if sub.pairs[p][0] == i] for i in range(S)]
        self.transfers()
        for i in range(S):
            self.open_flags(i)
            self.fixed_costs(i)
            self.outflow(i)
            self.sales(i)

    def _segments(self) -> None:
        """Open/closed is one binary per segment between allowed closing dates."""
        sub, R = self.sub, self.sub.R
        self.seg_of, self.seg_start = [], []
        for i in range(len(sub.stores)):
            ok = sub._close_ok(i, -1)[:R]
            starts = [0] + [t for t in range(1, R) if ok[t]]
            self.seg_of.append(np.searchsorted(starts, np.arange(R), side="right") - 1)
            self.seg_start.append(starts)
        self.seg_off = np.cumsum([0] + [len(st_) for st_ in self.seg_start])

    def bi(self, i: int, t: int) -> int:
        """Variable of store i's open flag in period t."""
        return self.off_b + int(self.seg_off[i]) + int(self.seg_of[i][t])

    def add(self, entries, lo: float, hi: float) -> None:
        """One row ``lo <= sum v * var <= hi`` of ``(var, v)`` entries."""
        r = len(self.rlo)
        for j, v in entries:
            self.rows.append(r)
            self.cols.append(j)
            self.vals.append(v)
        self.rlo.append(lo)
        self.rhi.append(hi)

    def transfers(self) -> None:
        """Units per pair: cost and salvage moved, the fixed cost's flag, the
        destination open when the shipment arrives."""
        sub, R = self.sub, self.sub.R
        for p, (a, b_, lead, cost, fixed) in enumerate(sub.pairs):
            j = self.off_x + p
            self.ub[j] = sub.stores[a].z
            self.c[j] = -cost - sub.stores[a].salv + sub.stores[b_].salv
            if self.has_fixed[p]:
                y = self.yidx[p]
                self.c[y] = -fixed
                self.ub[y] = 1
                self.integ[y] = 1
                self.add([(j, 1.0), (y, -sub.stores[a].z)], -np.inf, 0.0)
            self.add([(j, 1.0), (self.bi(b_, min(lead, R - 1)), -sub.stores[a].z)], -np.inf, 0.0)

    def open_flags(self, i: int) -> None:
        """Store i's segment flags: binary, open before its first allowed
        closing date, closed from an announced closing on, never reopened."""
        st = self.sub.stores[i]
        self.const += st.salv * (st.z + st.pipe.sum())
        ok = self.sub._close_ok(i, -1)
        starts = self.seg_start[i]
        for g_, t0 in enumerate(starts):
            j = self.off_b + int(self.seg_off[i]) + g_
            self.integ[j] = 1
            self.ub[j] = 1
            if not ok[t0]:  # the first segment, before any allowed closing date
                self.lb[j] = 1
            if st.close_fixed is not None and t0 >= st.close_fixed:
                self.ub[j] = 0
            if g_ + 1 < len(starts):
                self.add([(j + 1, 1.0), (j, -1.0)], -np.inf, 0.0)

    def fixed_costs(self, i: int) -> None:
        """Operating cost of every open period and the locked rent a closing owes."""
        st, R = self.sub.stores[i], self.sub.R
        for t in range(R):
            self.c[self.bi(i, t)] -= st.op[t]
        if st.lock is not None:
            coef, const = self.sub.rent_coefficients(i)
            for t in range(R):
                self.c[self.bi(i, t)] += coef[t]
                self.const -= const[t]

    def outflow(self, i: int) -> None:
        """A store ships at most the units it holds."""
        if self.outof[i]:
            self.add([(self.off_x + p, 1.0) for p in self.outof[i]], -np.inf, self.sub.stores[i].z)

    def sales(self, i: int) -> None:
        """Sales per tree node: within the scenario's demand (scaled by
        transfers, section 5.3), within the units available along the path,
        none while closed."""
        sub = self.sub
        st, pairs = sub.stores[i], sub.pairs
        price, d = st.price[self.choice[i]], st.d[self.choice[i]]  # (R,), (P, R)
        into, outof = self.into[i], self.outof[i]
        M = st.z + st.pipe.sum() + sum(sub.stores[pairs[p][0]].z for p in into)
        cum_pipe = np.cumsum(st.pipe)
        depth, parent, prob, first_path = self.trees[i]
        base = self.off_sig + int(self.sig_off[i])
        for node in range(len(depth)):
            t = int(depth[node])
            j = base + node
            dk = float(d[first_path[node], t])
            self.c[j] = prob[node] * (price[t] - st.salv)
            arrived = [p for p in into if pairs[p][2] <= t]
            # sales within scaled demand: sigma - d g (in_t - out) <= d
            e = [(j, 1.0)]
            if dk > 0:
                e += [(self.off_x + p, -dk * st.g) for p in arrived]
                e += [(self.off_x + p, dk * st.g) for p in outof]
            self.add(e, -np.inf, dk)
            # sales along the path so far within the units available by then
            e, a = [], node
            while a >= 0:
                e.append((base + a, 1.0))
                a = int(parent[a])
            e += [(self.off_x + p, 1.0) for p in outof]
            e += [(self.off_x + p, -1.0) for p in arrived]
            self.add(e, -np.inf, st.z + cum_pipe[t])
            # no sales while closed (M: the most this scenario could sell then)
            inflow_max = sum(sub.stores[pairs[p][0]].z for p in arrived)
            Mk = min(M, dk * (1.0 + st.g * inflow_max))
            if Mk <= 0:
                self.ub[j] = 0.0
            else:
                self.add([(j, 1.0), (self.bi(i, t), -Mk)], -np.inf, 0.0)
                if inflow_max > 0:
                    # valid and tighter: own demand needs the store open,
                    # only the transfer-induced part can come without it
                    e = [(j, 1.0), (self.bi(i, t), -dk)]
                    e += [(self.off_x + p, -dk * st.g) for p in arrived]
                    self.add(e, -np.inf, 0.0)

    def solve(self, time_limit: float):
        A = sparse.csr_array((self.vals, (self.rows, self.cols)), shape=(len(self.rlo), len(self.c)))
        res = milp(-self.c, constraints=LinearConstraint(A, self.rlo, self.rhi), integrality=self.integ,
                   bounds=Bounds(self.lb, self.ub),
                   options={"time_limit": time_limit, "mip_rel_gap": 1e-6, "presolve": True})
        if res.x is None:
            raise RuntimeError(f"craig_raman subproblem: {res.message}")
        return res

    def decode(self, res) -> dict:
        """value, open flags ``b`` (S, R), pair units ``x`` and the schedules."""
        v = res.x
        S = len(self.sub.stores)
        bseg = np.rint(v[self.off_b: self.off_x]).astype(bool)
        b = np.stack([bseg[int(self.seg_off[i]) + self.seg_of[i]] for i in range(S)])
        x = np.maximum(v[self.off_x: self.off_x + len(self.sub.pairs)], 0.0)
        return dict(value=float(-res.fun + self.const), b=b, x=x, choice=list(self.choice))


def _groups(stores: list[int], pairs: list[tuple], uniform: bool) -> list[list[int]]:
    """Groups of stores linked by usable pairs (union-find); one group for a chain schedule."""
    parent = {s: s for s in stores}

    def root(s):
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for _, a, b_, *_ in pairs:
        parent[root(a)] = root(b_)
    if uniform and stores:
        for s in stores:
            parent[root(s)] = root(stores[0])
    groups: dict = {}
    for s in stores:
        groups.setdefault(root(s), []).append(s)
    return list(groups.values())


class _Evaluator:
    """What the schedule search asks of a subproblem: closed-form scores,
    each schedule's smallest markdown and the paper's bound."""

    def __init__(self, sc: Scenario, sub: Subproblem):
        self.sc, self.sub = sc, sub
        self.dc = [bool(sc.is_dc[st.s]) for st in sub.stores]
        self.units = np.array([(st.z + st.pipe.sum()) * sc.list_price[st.s] for st in sub.stores])
        self.salv_rate = max((st.salv / sc.list_price[st.s] for st in sub.stores), default=0.0)

    def bound(self, m: float) -> float:
        """The paper's bound: revenue plus salvage cannot exceed every unit
        sold at the smallest markdown ``m`` (or salvaged, if that pays more)."""
        return self.units.sum() * max(1.0 - m, self.salv_rate)

    def scores(self, i: int, x: np.ndarray) -> np.ndarray:
        """Closed-form value of every schedule of store i with transfers ``x`` fixed."""
        inflow, out, tot, latest = self.sub.flows(x, i)
        return self.sub.score(i, inflow, out, tot, latest)[0]

    def min_md(self, i: int, f: int) -> float:
        return 1.0 if self.dc[i] else float(self.sc.ladder[self.sub.stores[i].levels[f]].min())


# --------------------------------------------------------------------------
@register("craig_raman")
class CraigRaman(Policy):
    """Craig & Raman (2016) section 5 heuristic on a rolling horizon; see the module docstring.

    Options: ``every`` (re-solve every k periods; default: every period up
    to 10 periods, else about ten re-solves per event), ``max_paths``
    (product scenario paths up to this many, else comonotone),
    ``max_family`` (enumerate all rule-feasible schedules up to this many),
    ``n_milp`` (MILPs per store per coordinate-ascent round), ``rounds``,
    ``max_starts`` (groups with at most this many transfer pairs also start
    the search from "ship a source's whole stock on one pair"),
    ``time_limit`` (seconds per MILP, default 30: a safety net; when it runs
    out the incumbent is used, :attr:`limit_hits` counts it and a warning says
    that the results now depend on the machine's speed.  The largest MILPs
    met, on ``TransferChain-v1``, solve to optimality in under 4 s on this
    project's 2-core machine; a 1 s limit stopped about a fifth of them,
    so the heuristic's profits varied from run to run).  ``value_estimate``: the first
    solve's subproblem value (expected profit the plan predicts).
    """

    def __init__(self, scenario: Scenario, every: int | None = None, max_paths: int = 125,
                 max_family: int = 3000, n_milp: int = 1, rounds: int = 2, time_limit: float = MILP_TIME_LIMIT,
                 max_starts: int = 6, **options: Any):
        T = scenario.horizon
        self.every = int(every) if every is not None else (1 if T <= 10 else max(1, round(T / 10)))
        if self.every < 1:
            raise ValueError(f"every={every!r}: must be >= 1")
        self.max_paths, self.max_family = int(max_paths), int(max_family)
        self.n_milp, self.rounds, self.time_limit = int(n_milp), int(rounds), float(time_limit)
        self.max_starts = int(max_starts)
        self.limit_hits = 0
        super().__init__(scenario, **options)

    @classmethod
    def check_supported(cls, scenario: Scenario) -> None:
        if scenario.pricing != "ladder":
            raise UnsupportedScenario(f"pricing={scenario.pricing!r}: craig_raman posts ladder markdowns")
        if not isinstance(scenario.demand, ElasticityDemand):
            raise UnsupportedScenario("craig_raman builds its scenarios from elasticity demand's count "
                                      "distribution (Craig & Raman section 5.3)")

    def solve(self) -> None:
        sc = self.scenario
        self.params = dyn.Params(sc)
        self.demand = make_demand(sc)
        self.learns_effects = float(getattr(sc.demand, "store_effect_cv", 0.0)) > 0.0
        S = sc.n_stores
        # this period's posterior of each store's log effect (read from the observation by decide)
        self.log_mean, self.log_var = np.zeros(S), np.zeros(S)
        self.next_ok = level_transitions(sc)
        self.plan = None
        self.value_estimate = None
        self._first_value = None
        self._cache: dict = {}

    def reset(self, seed: int | None = None, scenario: Scenario | None = None) -> None:
        super().reset(seed, scenario)
        self.plan = None

    # ------------------------------------------------------------ inputs
    def _store_data(self, t: int, st: dyn.State, s: int, mask_row: np.ndarray, tables: dict) -> StoreData:
        sc, R = self.scenario, self.scenario.horizon - t
        L = len(sc.ladder)
        z = float(st.on_hand[0, s])
        pipe = np.zeros(R)
        for k in range(st.pipeline.shape[2]):
            if k + 1 < R:
                pipe[k + 1] += st.pipeline[0, s, k]
        cur = int(np.abs(sc.ladder - st.markdown[0, s]).argmin())
        if sc.is_dc[s]:
            levels = np.full((1, R), cur)
        else:
            mc = sc.markdowns.max_changes
            levels = schedule_family(R, cur, int(st.hold[0, s]), t == 0 or st.hold[0, s] == 0, mask_row,
                                     self.next_ok, sc.markdowns.min_hold,
                                     None if mc is None else int(mc - st.changes[0, s]), self.max_family)
        price = (1.0 - sc.ladder[levels]) * sc.list_price[s]
        d, paths = self._scenarios(t, s, z, pipe, price, tables)
        beta = float(sc.demand.beta_inv)
        close_fixed = None
        announced = st.close_at[0, s] < NO_CLOSE
        if announced:
            close_fixed = int(st.close_at[0, s] - t)
            close_min = close_fixed
        elif not sc.closable[s]:
            close_min = R
        else:
            close_min = int(rules.earliest_effective(t, sc.notice[s], sc.earliest_close[s])) - t
            close_min = min(close_min, R)
        # closing dates: every period until the next re-solve, then every
        # `every` periods (a plan only acts on closings it announces before then)
        if close_fixed is not None:
            dates = np.array([close_fixed])
        else:
            dates = np.union1d(np.arange(close_min, min(close_min + self.every, R)),
                               np.arange(close_min + self.every, R, self.every))
        lock = None
        if sc.lock_period[s] < NO_CLOSE and sc.lock_until[s] >= t:
            rent = sc.locked_rent[s, t:]
            tu = int(sc.lock_until[s] - t)
            if st.locked[0, s]:
                lock = ("locked", tu, rent)
            elif sc.lock_period[s] >= t:
                lock = ("pending", int(sc.lock_period[s] - t), tu, rent)
        return StoreData(s=s, z=z, pipe=pipe, price=price, levels=levels, d=d, paths=paths,
                         g=beta / max(z, 1.0), op=sc.operating_costs[s, t:].copy(),
                         salv=float(sc.salvage_price[s]), close_min=close_min,
                         close_fixed=close_fixed, dates=dates.astype(np.int64), lock=lock)

    def _scenarios(self, t: int, s: int, z: float, pipe: np.ndarray, price: np.ndarray,
                   tables: dict) -> np.ndarray:
        """(F, P, R) scenario demands of store s along each path for each
        schedule's prices, and the paths' percentile indices (P, R)."""
        sc = self.scenario
        F, R = price.shape
        K = len(PERCENTILES)
        if K ** R <= self.max_paths:
            paths = np.array(list(itertools.product(range(K), repeat=R))).reshape(-1, R)
        else:  # comonotone: the k-th percentile in every period
            paths = np.repeat(np.arange(K)[:, None], R, axis=1)
        if sc.is_dc[s]:
            return np.zeros((F, len(paths), R)), paths
        u = float(np.exp(self.log_mean[s] + 0.5 * self.log_var[s]))
        mu = np.empty((F, R))
        inv = np.full(F, z)
        dm = self.demand
        for tau in range(R):
            inv = inv + pipe[tau]
            mu[:, tau] = np.asarray(dm.mean(s, t + tau, price[:, tau], on_hand=np.maximum(inv, 0.0),
                                            effect=1.0), float)
            inv = inv - np.minimum(mu[:, tau] * u, inv)
        key = s if self.learns_effects else -1
        if key not in tables:
            tables[key] = QuantileTable(dm, float(self.log_mean[s]), float(self.log_var[s]))
        q = tables[key](mu)  # (F, R, K), effect included
        return q[:, np.arange(R)[None, :], paths], paths  # (F, P, R)

    # ------------------------------------------------------------ search
    def _search(self, sub: Subproblem, uniform: bool) -> dict:
        """Section 5.2: schedules proposed by the closed form, checked by the
        MILP, then coordinate ascent over stores (not for a chain schedule)."""
        ev = _Evaluator(self.scenario, sub)
        patterns = self._patterns(sub)
        if uniform:
            return self._search_uniform(sub, ev, patterns)
        best, seen = None, set()
        for x in patterns:
            choice = tuple(int(np.argmax(ev.scores(i, x))) for i in range(len(sub.stores)))
            if choice in seen:
                continue
            seen.add(choice)
            res = sub.solve(list(choice))
            if best is None or res["value"] > best["value"] + 1e-9:
                best = res
        if not sub.pairs:
            return best
        return self._ascent(sub, ev, best)

    def _patterns(self, sub: Subproblem) -> list[np.ndarray]:
        """Transfer patterns to start from: none, and (few pairs) a source's
        whole stock shipped on one pair, so schedules made for a large inflow
        or outflow are proposed to the MILP too."""
        none = np.zeros(len(sub.pairs))
        patterns = [none]
        if 0 < len(sub.pairs) <= self.max_starts:
            for p, (a, *_rest) in enumerate(sub.pairs):
                x = none.copy()
                x[p] = sub.stores[a].z
                patterns.append(x)
        return patterns

    def _search_uniform(self, sub: Subproblem, ev: "_Evaluator", patterns) -> dict:
        """One chain schedule: every selling store takes family member f."""
        S, dc = len(sub.stores), ev.dc
        F = next((len(st.levels) for st, d in zip(sub.stores, dc) if not d), 1)
        best, seen = None, set()
        for x in patterns:
            tot = sum(ev.scores(i, x) for i in range(S) if not dc[i]) if not all(dc) else np.zeros(F)
            for f in np.argsort(-tot)[: max(1, self.n_milp)]:
                choice = tuple(0 if dc[i] else int(f) for i in range(S))
                if choice in seen:
                    continue
                seen.add(choice)
                m = min(ev.min_md(i, choice[i]) for i in range(S))
                if best is not None and ev.bound(m) <= best["value"]:  # the paper's stopping rule
                    continue
                res = sub.solve(list(choice))
                if best is None or res["value"] > best["value"]:
                    best = res
        return best

    def _ascent(self, sub: Subproblem, ev: "_Evaluator", best: dict) -> dict:
        """Coordinate ascent: each store in turn tries its ``n_milp`` best
        schedules given the others' transfers, in order of the paper's bound."""
        S = len(sub.stores)
        for _ in range(self.rounds):
            improved = False
            for i in range(S):
                if ev.dc[i]:
                    continue
                top = np.argsort(-ev.scores(i, best["x"]))[: self.n_milp]
                others = min((ev.min_md(j, best["choice"][j]) for j in range(S) if j != i), default=1.0)
                mins = np.array([min(ev.min_md(i, f), others) for f in top])
                for f, m in zip(top[np.argsort(mins, kind="stable")], np.sort(mins, kind="stable")):
                    if ev.bound(m) <= best["value"]:  # the paper's stopping rule
                        break
                    if int(f) == best["choice"][i]:
                        continue
                    cand = list(best["choice"])
                    cand[i] = int(f)
                    res = sub.solve(cand)
                    if res["value"] > best["value"] + 1e-9:
                        best, improved = res, True
            if not improved:
                break
        return best

    def _resolve(self, obs: dict) -> None:
        """Re-plan from the observed state: one subproblem per group of stores
        linked by usable transfers (one group for a chain schedule)."""
        sc, p = self.scenario, self.params
        t = int(obs["t"])
        R = sc.horizon - t
        st = rule_state(p, obs)
        # the plan is a function of the observed state and the demand estimate
        key = (t, st.on_hand.tobytes(), st.pipeline.tobytes(), st.markdown.tobytes(), st.hold.tobytes(),
               st.changes.tobytes(), st.close_at.tobytes(), st.locked.tobytes(),
               np.round(self.log_mean, 12).tobytes(), np.round(self.log_var, 12).tobytes())
        if key in self._cache:
            self.plan = dict(self._cache[key])
            return
        mask = dyn.markdown_ladder_mask(p, st)[0]
        closed = st.close_at[0] <= t
        open_stores = [int(s) for s in np.flatnonzero(~closed)]
        uniform = sc.markdowns.uniform_pricing
        if uniform:
            live = ~closed & ~sc.is_dc
            if live.any():
                mask = np.broadcast_to(mask[live].all(0), mask.shape)
        tables: dict = {}
        data = {s: self._store_data(t, st, s, mask[s], tables) for s in open_stores}
        pairs_all = self._usable_pairs(st, data)
        plan = dict(t=t, levels={}, close={}, ship=np.zeros(p.P, dtype=np.int64), value=0.0)
        for members in _groups(open_stores, pairs_all, uniform):
            self._plan_group(plan, members, data, pairs_all, st, R, uniform)
        self._cap_shipments(plan)
        self.plan = plan
        if len(self._cache) > 512:
            self._cache.clear()
        self._cache[key] = dict(plan)
        if self._first_value is None:
            self._first_value = plan["value"]
            self.value_estimate = plan["value"]

    def _usable_pairs(self, st: dyn.State, data: dict) -> list[tuple]:
        """Transfer pairs usable now between open stores, (k, a, b, lead, unit cost, fixed cost)."""
        sc, p = self.scenario, self.params
        pairs_all = []
        tn = sc.transfers
        ok = dyn.ship_allowed(p, st)[0] if p.P else np.zeros(0, dtype=bool)
        for k, (a, b_) in enumerate(tn.pairs if tn is not None else ()):
            if ok[k] and a in data and b_ in data and data[b_].close_fixed is None:
                fixed = 0.0 if tn.fixed_cost is None else float(tn.fixed_cost[a][b_])
                pairs_all.append((k, a, b_, int(tn.lead_time[a][b_]), float(tn.unit_cost[a][b_]), fixed))
        return pairs_all

    def _plan_group(self, plan: dict, members: list[int], data: dict, pairs_all: list[tuple],
                    st: dyn.State, R: int, uniform: bool) -> None:
        """Solve one group's subproblem and write its schedules, closing dates
        and shipments (as menu entries) into ``plan``."""
        tn = self.scenario.transfers
        idx = {s: i for i, s in enumerate(members)}
        gp = [(idx[a], idx[b_], lead, cost, fixed) for (_, a, b_, lead, cost, fixed) in pairs_all
              if a in idx and b_ in idx]
        keys = [k for (k, a, b_, *_) in pairs_all if a in idx and b_ in idx]
        sub = Subproblem([data[s] for s in members], gp, R, self.time_limit)
        res = self._search(sub, uniform)
        if sub.limit_hits and not self.limit_hits:
            warnings.warn(f"craig_raman: a subproblem MILP stopped at time_limit={self.time_limit} s and "
                          "its incumbent was used; results now depend on the machine's speed",
                          RuntimeWarning, stacklevel=3)
        self.limit_hits += sub.limit_hits
        plan["value"] += res["value"]
        for i, s in enumerate(members):
            plan["levels"][s] = data[s].levels[res["choice"][i]]
            b = res["b"][i]
            plan["close"][s] = int(np.argmin(b)) if not b.all() else R
        for k, xv, (a, b_, *_rest) in zip(keys, res["x"], gp):
            src = members[a]
            on = float(st.on_hand[0, src])
            if on > 0 and xv > 0.5:
                q = np.asarray(tn.quantities)
                plan["ship"][k] = int(np.abs(q - xv / on).argmin())

    def _cap_shipments(self, plan: dict) -> None:
        """The menu entries of one source must not ship more than it holds."""
        p = self.params
        if p.P:
            q = np.asarray(self.scenario.transfers.quantities)
            for a in np.unique(p.src):
                ks = np.flatnonzero(p.src == a)
                while q[plan["ship"][ks]].sum() > 1.0 + 1e-9:
                    j = ks[np.argmax(q[plan["ship"][ks]])]
                    plan["ship"][j] -= 1

    def decide(self, obs: dict) -> Any:
        sc, p = self.scenario, self.params
        t = int(obs["t"])
        self.log_mean, self.log_var = effect_posterior(obs, sc.n_stores)
        if self.plan is None or t - self.plan["t"] >= self.every or t < self.plan["t"]:
            self._resolve(obs)
        plan = self.plan
        tau = t - plan["t"]
        st = rule_state(p, obs)
        mask = dyn.markdown_ladder_mask(p, st)[0]
        closed = st.close_at[0] <= t
        md = st.markdown[0].copy()
        close = np.zeros(sc.n_stores, dtype=bool)
        can = dyn.close_allowed(p, st)[0] if sc.has_closing else close
        for s, lv in plan["levels"].items():
            if closed[s] or sc.is_dc[s]:
                continue
            want = sc.ladder[lv[min(tau, len(lv) - 1)]]
            allowed = sc.ladder[mask[s]]
            md[s] = allowed[np.abs(allowed - want).argmin()] if len(allowed) else md[s]
        for s, c in plan["close"].items():
            if can[s] and c < sc.horizon - plan["t"] and c - int(sc.notice[s]) <= tau:
                close[s] = True
        if sc.markdowns.uniform_pricing:
            live = ~closed & ~sc.is_dc
            if live.any():
                first = int(rules.chain_store(live))
                md[:] = md[first]
        ship = plan["ship"] if tau == 0 else np.zeros(p.P, dtype=np.int64)
        if p.P:
            ok = dyn.ship_allowed(p, st)[0]
            ship = np.where(ok, ship, 0)
            # nothing ships to a store announced to close now
            dst_closing = close[p.dst] & (t + sc.notice[p.dst] <= t + p.lead)
            ship = np.where(dst_closing, 0, ship)
        return self.encode(md, close, ship)
