"""The business rules of MODEL.md, once, for the step kernel and for planners.

Every rule a period obeys lives here as one compiled (numba ``njit``)
function: the step kernel (:mod:`liqenv._kernels`) calls it inside its
loops, and analytic policies call the same function from Python (an
``njit`` function is an ordinary callable), or the array front-ends below,
which evaluate it over a ladder, a batch or a range of dates.  A planner
that asks "may this store post 30% now?", "when does a closing announced
now take effect?", "how much rent does a closing at tau still owe?" or "how
many units does this shipment move?" gets the answer the environment will
apply, with no copy of the rule to drift.

==================================  ==========================================  =======
query                               function(s)                                 MODEL.md
==================================  ==========================================  =======
markdown rules as numbers           :func:`rule_vector`                         2
may markdown m follow the current   :func:`markdown_ok`, :func:`allowed_markdowns`,
                                    :func:`initial_levels`, :func:`transition_matrix`  2
nearest allowed markdown (repair)   :func:`nearest_markdown`                    2, 4
chain price under uniform pricing   :func:`chain_store`                         2
closing window                      :func:`closing_effective`, :func:`may_announce`,
                                    :func:`close_ok`, :func:`earliest_effective`  4.1, 5
rent lock                           :func:`lock_triggers`, :func:`period_cost`,
                                    :func:`rent_owed`, :func:`has_rent_lock`    5
shipments                           :func:`ship_ok`, :func:`shipped_units`,
                                    :func:`ship_cost`                           4.2
end of the event                    :func:`clears_stock`, :func:`arrival_salvaged`  5
metrics                             :func:`event_metrics`                       7
==================================  ==========================================  =======

Conventions: markdowns are fractions of list price; periods are integers
``0..T-1``; ``NO_CLOSE`` marks "no closing scheduled" (and "no rent lock"
in ``Scenario.lock_period``); comparisons of markdowns use the tolerance
``TOL``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

if TYPE_CHECKING:  # pragma: no cover
    from .scenario import MarkdownRules

__all__ = [
    "NO_CLOSE", "TOL", "MIN_LADDER_STEP", "rule_vector", "markdown_ok", "on_ladder",
    "nearest_markdown", "allowed_markdowns", "initial_levels", "transition_matrix", "chain_store",
    "closing_effective", "close_ok", "may_announce", "earliest_effective", "lock_triggers",
    "period_cost", "has_rent_lock", "rent_owed", "ship_ok", "shipped_units", "shipped_units_into",
    "ship_cost", "clears_stock",
    "arrival_salvaged", "event_metrics",
]

#: ``close_at`` of a store with no closing scheduled (and ``lock_period`` of a store with no rent lock)
NO_CLOSE = 2**31 - 1
#: tolerance of every markdown comparison
TOL = 1e-9
#: smallest markdown change on a ladder: a "change" below it is the same level
MIN_LADDER_STEP = 1e-6

_FLAGS = dict(cache=True, nogil=True)

# indices into the rule vector
MONOTONE, INITIAL_LO, INITIAL_HI, STEP_MIN, STEP_MAX, MIN_HOLD, MAX_CHANGES = range(7)


# ---------------------------------------------------------------- markdowns
def rule_vector(rules: "MarkdownRules", continuous: bool = False) -> np.ndarray:
    """The markdown rules of MODEL.md section 2 as the float vector the compiled rules read:
    ``(monotone, initial_lo, initial_hi, step_min, step_max, min_hold, max_changes)``
    (``inf`` for no upper bound, ``max_changes = -1`` for no cap).

    A change must be at least ``MIN_LADDER_STEP`` on a ladder (``TOL`` for a
    continuous price, which may move by any amount above the tolerance), so a
    "change" to the current level is never counted as one.
    """
    r = rules
    return np.array([
        float(r.monotone), r.initial_min_or_floor,
        np.inf if r.initial_max is None else r.initial_max,
        max(r.step_min, TOL if continuous else MIN_LADDER_STEP),
        np.inf if r.step_max is None else r.step_max, r.min_hold,
        -1 if r.max_changes is None else r.max_changes], dtype=np.float64)


def _as_rule_vector(rules) -> np.ndarray:
    if isinstance(rules, np.ndarray):
        return rules
    return rule_vector(rules)


@njit(**_FLAGS)
def markdown_ok(m, cur, hold, changes, t, rules):
    """Whether markdown ``m`` may be posted now (MODEL.md section 2).

    ``cur`` is the markdown posted last period, ``hold`` the periods it has
    been held (0: none posted yet), ``changes`` the changes made so far,
    ``rules`` a :func:`rule_vector`.  Period 0 (or no markdown yet): within
    ``[initial_lo, initial_hi]``.  Later: the current markdown, or, when the
    level has been held ``min_hold`` periods and fewer than ``max_changes``
    changes were made, a change of size in ``[step_min, step_max]`` (upward
    only when monotone).
    """
    if t == 0 or hold == 0:
        return rules[1] - TOL <= m <= rules[2] + TOL
    if abs(m - cur) <= TOL:
        return True
    if hold < rules[5]:
        return False
    if rules[6] >= 0 and changes >= rules[6]:
        return False
    d = m - cur
    if rules[0] == 0.0:
        d = abs(d)
    return rules[3] - TOL <= d <= rules[4] + TOL


@njit(**_FLAGS)
def on_ladder(m, ladder):
    """Whether markdown ``m`` is a level of ``ladder`` (within ``TOL``)."""
    for v in ladder:
        if abs(v - m) <= TOL:
            return True
    return False


@njit(**_FLAGS)
def nearest_markdown(m, cur, hold, changes, t, rules, ladder, continuous, md_floor):
    """The allowed markdown nearest to ``m`` (ties: the smaller markdown): how
    the environment repairs a markdown the rules forbid (MODEL.md sections 2
    and 4).  ``md_floor`` is the lowest markdown a continuous price may
    reach (``1 - price_cap / list_price``)."""
    if not continuous:
        best = cur
        bd = np.inf
        for v in ladder:
            if markdown_ok(v, cur, hold, changes, t, rules):
                dd = abs(v - m)
                if dd < bd - 1e-15:
                    bd = dd
                    best = v
        return best
    if t == 0 or hold == 0:
        return min(max(m, max(rules[1], md_floor)), min(rules[2], 1.0))
    best = cur
    bd = abs(cur - m)
    can = hold >= rules[5] and (rules[6] < 0 or changes < rules[6])
    if can and cur + rules[3] <= 1.0 + TOL:
        v = min(max(m, cur + rules[3]), min(cur + rules[4], 1.0))
        if abs(v - m) < bd:
            best, bd = v, abs(v - m)
    if can and rules[0] == 0.0 and cur - rules[3] >= md_floor - TOL:
        v = min(max(m, max(cur - rules[4], md_floor)), cur - rules[3])
        if abs(v - m) < bd:
            best, bd = v, abs(v - m)
    return best


@njit(**_FLAGS)
def _allowed_levels(rules, ladder, cur, hold, changes, t, out):
    for i in range(ladder.shape[0]):
        out[i] = markdown_ok(ladder[i], cur, hold, changes, t, rules)


def allowed_markdowns(rules, ladder, current: float, held: int, changes: int, t: int) -> np.ndarray:
    """(L,) which ladder levels a selling, open store may post in period ``t``
    (MODEL.md section 2), given the markdown ``current`` posted last period,
    the periods ``held`` it has been posted (0: none yet) and the ``changes``
    made so far.  ``rules`` is a :class:`~liqenv.scenario.MarkdownRules` or a
    :func:`rule_vector` (pass the vector for continuous pricing)."""
    ladder = np.ascontiguousarray(ladder, dtype=np.float64)
    out = np.empty(ladder.shape[0], dtype=np.bool_)
    _allowed_levels(_as_rule_vector(rules), ladder, float(current), int(held), int(changes), int(t), out)
    return out


def initial_levels(rules, ladder) -> np.ndarray:
    """(L,) the ladder levels allowed as the first markdown (period 0)."""
    return allowed_markdowns(rules, ladder, 0.0, 0, 0, 0)


def transition_matrix(rules, ladder) -> np.ndarray:
    """(L, L): entry ``[i, j]`` says a store posting level ``i``, held long
    enough (``min_hold`` periods) and with no change made yet, may post level
    ``j`` next (the diagonal, staying, is always allowed).  ``min_hold`` and
    ``max_changes`` are the planner's to track; this is the step rule alone."""
    r = _as_rule_vector(rules)
    ladder = np.asarray(ladder, dtype=np.float64)
    hold = max(int(r[MIN_HOLD]), 1)
    return np.stack([allowed_markdowns(r, ladder, v, hold, 0, 1) for v in ladder])


@njit(**_FLAGS)
def chain_store(selling):
    """Under uniform pricing the chain's one markdown is the entry of the
    first selling store (the lowest-numbered store that is not a DC) of a
    per-store markdown vector (MODEL.md section 2, "chain-wide pricing");
    -1 if no store sells.  The action layout reads and writes that entry,
    the kernel posts it at every store."""
    for s in range(selling.shape[0]):
        if selling[s]:
            return s
    return -1


# ------------------------------------------------------------------ closings
@njit(**_FLAGS)
def closing_effective(t, notice):
    """Period a closing announced in period ``t`` takes effect (MODEL.md
    section 4.1): ``t + notice`` (notice 0: this very period)."""
    return t + notice


@njit(**_FLAGS)
def may_announce(t, notice, earliest_close, T):
    """Whether a closing may be announced in period ``t`` by a closable store
    with nothing announced yet: it takes effect no earlier than
    ``earliest_close`` (the lease) and within the horizon ``T`` (MODEL.md
    sections 4.1 and 5)."""
    eff = closing_effective(t, notice)
    return eff >= earliest_close and eff <= T - 1


@njit(**_FLAGS)
def close_ok(closable, close_at, t, notice, earliest_close, T):
    """Whether store with closing state ``close_at`` (``NO_CLOSE``: none
    announced) may announce a closing in period ``t``: closable, nothing
    announced yet (announcements are irrevocable, a closed store stays
    closed), and :func:`may_announce`."""
    if not closable or close_at != NO_CLOSE:
        return False
    return may_announce(t, notice, earliest_close, T)


def earliest_effective(t, notice, earliest_close):
    """The earliest period a closing announced in period ``t`` or later can
    take effect: ``max(t + notice, earliest_close)`` (broadcasts).  Whether
    it is within the horizon is :func:`may_announce`'s question."""
    return np.maximum(np.asarray(t) + notice, earliest_close)


# ----------------------------------------------------------------- rent lock
@njit(**_FLAGS)
def lock_triggers(t, lock_period, closed):
    """The rent lock ``(t_k, t_end)`` triggers when the store is open in
    period ``t_k`` (MODEL.md section 5, Craig & Raman section 7.2)."""
    return t == lock_period and not closed


@njit(**_FLAGS)
def period_cost(closed, locked, operating_t, locked_rent_t):
    """A store's fixed cost of one period: its operating cost while open,
    the locked rent once closed after its lock triggered (``locked_rent``
    is zero after ``t_end``), nothing otherwise (MODEL.md section 5)."""
    if not closed:
        return operating_t
    if locked:
        return locked_rent_t
    return 0.0


def has_rent_lock(lock_period) -> bool:
    """Whether any store's lease has a rent lock (``lock_period`` of ``NO_CLOSE``: none)."""
    return bool(np.any(np.asarray(lock_period) < NO_CLOSE))


def rent_owed(locked_rent, lock_period: int, tau, locked: bool = False):
    """Rent a store still owes, in total, if its closing takes effect in
    period ``tau`` (MODEL.md section 5): the locked rent of periods
    ``tau..T-1`` when the lock has triggered (``locked``) or will have
    (open in ``t_k``, that is ``tau > lock_period``), else 0.

    ``locked_rent`` is the store's row of ``Scenario.locked_rent`` (T,);
    ``tau`` broadcasts and may be ``T`` or more (never closes: 0 owed).
    This is the sum of what the step charges (:func:`period_cost`) after a
    closing at ``tau``.
    """
    rent = np.asarray(locked_rent, dtype=np.float64)
    T = rent.shape[-1]
    tail = np.concatenate([np.cumsum(rent[::-1])[::-1], [0.0]])  # tail[u] = sum_{v >= u}
    tau = np.asarray(tau)
    owed = np.logical_or(locked, tau > lock_period)
    return np.where(owed, tail[np.minimum(tau, T)], 0.0)


# ----------------------------------------------------------------- transfers
@njit(**_FLAGS)
def ship_ok(t, src_close_at, src_on_hand, dst_close_at, lead):
    """Whether a pair may ship in period ``t`` (MODEL.md section 4.2): the
    source is not closed before this period (a store closing now may still
    ship out) and holds units; the destination is not closed or scheduled to
    close by the arrival date ``t + lead``."""
    return src_close_at >= t and src_on_hand > 0 and dst_close_at > t + lead


@njit(**_FLAGS)
def shipped_units_into(fractions, on_hand, src, units):
    """:func:`shipped_units` of one copy, written into ``units`` (the compiled form the kernel calls)."""
    S = on_hand.shape[0]
    P = src.shape[0]
    out = np.zeros(S, dtype=np.int64)
    for p in range(P):
        units[p] = int(math.floor(fractions[p] * on_hand[src[p]] + 1e-9))
        out[src[p]] += units[p]
    for s in range(S):
        if out[s] > on_hand[s]:
            scale = on_hand[s] / max(out[s], 1)
            for p in range(P):
                if src[p] == s:
                    units[p] = int(math.floor(units[p] * scale + 1e-9))


def shipped_units(on_hand, fractions, src) -> np.ndarray:
    """(P,) units each pair ships (MODEL.md section 4.2): ``floor(fraction *
    on_hand[src])``, and where the pairs leaving one source ask for more than
    it holds, each scaled down pro rata (``floor(units * on_hand / asked)``).

    ``on_hand`` (S,) units at each store, ``fractions`` (P,) the menu
    fraction chosen for each pair (0: none), ``src`` (P,) the source store
    of each pair.  The env's kernel moves exactly these units.
    """
    fr = np.ascontiguousarray(fractions, dtype=np.float64)
    units = np.empty(fr.shape[0], dtype=np.int64)
    shipped_units_into(fr, np.ascontiguousarray(on_hand, dtype=np.int64),
                   np.ascontiguousarray(src, dtype=np.int64), units)
    return units


@njit(**_FLAGS)
def ship_cost(units, unit_cost, fixed):
    """Cost of one shipment of ``units`` (MODEL.md section 4.2): per-unit cost
    plus the fixed cost of a shipment; nothing when nothing ships."""
    if units > 0:
        return units * unit_cost + fixed
    return 0.0


# ------------------------------------------------------------ end of event
@njit(**_FLAGS)
def clears_stock(t, close_at, T):
    """Whether a store's on-hand units go to the jobber at the end of period
    ``t``: its closing takes effect now, or the event ends (``t = T-1``,
    when units in transit to it go too) (MODEL.md section 5)."""
    return close_at == t or t == T - 1


@njit(**_FLAGS)
def arrival_salvaged(t, close_at):
    """Whether units landing at a store at the end of period ``t`` (due next
    period) go to its jobber because it is closed by then (MODEL.md section 5)."""
    return close_at <= t + 1


def event_metrics(sold_total, profit_total, initial_units, unit_cost):
    """``(sell_through, net_recovery_on_cost)`` of finished episodes (MODEL.md
    section 7): units sold to customers over initial units, and profit over
    ``initial_units * unit_cost``.  Scalars or arrays (broadcast)."""
    return sold_total / initial_units, profit_total / (initial_units * unit_cost)
