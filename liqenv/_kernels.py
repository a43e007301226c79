"""Compiled kernels: the demand draws, the masks, a period and the observation.

Why numba: the dynamics run over a batch ``(n_envs, n_stores)``; with NumPy
a batch of one (the single env) pays ~1 us per array operation for a few
hundred operations a period, and the rejection samplers loop over the batch.
These kernels loop over copies and stores in compiled code, so the single
env, the vector envs and the analytic policies all call the same functions.
The business rules themselves are the compiled functions of
:mod:`liqenv.rules` (planners call them too); Python-facing wrappers live in
:mod:`liqenv.dynamics`, :mod:`liqenv.random`, :mod:`liqenv.demand` and
:mod:`liqenv.spaces`.

The step reads records (:class:`ModelArrays`, :class:`DemandArrays`,
:class:`StateArrays`, :class:`DecisionArrays`, :class:`StepArrays`) and runs
in phases: check the decision (closings, markdowns, transfers: nothing moves
yet), transfer, sell and charge, salvage and deliver, settle.  A new rule or
cost goes into the phase where MODEL.md section 4 places it.  Inside the
phases record fields are read into locals once, outside the store loops:
each read of an array field costs numba a reference count.

Conventions: per-copy parameter arrays have a leading axis of length 1 or B
(row ``b if C > 1 else 0``); ``NO_CLOSE`` marks "no closing scheduled".
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, vectorize

from .rules import (NO_CLOSE, TOL, arrival_salvaged, chain_store, clears_stock, close_ok,
                    closing_effective, lock_triggers, markdown_ok, nearest_markdown, on_ladder,
                    period_cost, ship_cost, ship_ok, shipped_units_into)

# ----------------------------------------------------------------- random
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_INV53 = 1.0 / 9007199254740992.0

ARRIVALS, DEMAND, GAMMA, EFFECT, THINNING = 1, 2, 3, 4, 5
_FLAGS = dict(cache=True, nogil=True)


@njit(**_FLAGS)
def mix64(x):
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


@njit(**_FLAGS)
def uniform1(key, ctr):
    """One uniform in (0,1) from a 64-bit key and counter (keyed SplitMix64)."""
    h = mix64(mix64(ctr * _GOLD + _GOLD) ^ key)
    return (float(h >> np.uint64(11)) + 0.5) * _INV53


@njit(**_FLAGS)
def draw(key, base, stream, j):
    """Uniform number ``j`` of ``stream`` for the element whose counter base is ``base``."""
    return uniform1(key, base + (np.uint64(stream) << np.uint64(36)) + (np.uint64(j) << np.uint64(16)))


@njit(**_FLAGS)
def counter_base(t, element):
    return (np.uint64(t) << np.uint64(42)) | np.uint64(element)


@njit(**_FLAGS)
def normal1(key, base, stream, j):
    """Standard normal by Box-Muller from draws 2j and 2j+1."""
    u1 = draw(key, base, stream, 2 * j)
    u2 = draw(key, base, stream, 2 * j + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


POISSON_MAX = 1e15


@njit(**_FLAGS)
def poisson1(lam, key, base, stream):
    """Exact Poisson(lam): inverse transform below 10, else Hormann's PTRS
    (the transformed rejection method NumPy uses, same constants).  A mean
    above ``POISSON_MAX`` (1e15 units in one period, which no stock can
    meet; reachable only through extreme price or noise factors, the
    scenario's own rates are bounded by ``MAX_RATE``) is drawn at
    ``POISSON_MAX`` so the count stays an int64."""
    if lam <= 0.0:
        return 0
    if lam > POISSON_MAX:
        lam = POISSON_MAX
    if lam < 10.0:
        u = draw(key, base, stream, 0)
        k = 0
        p = math.exp(-lam)
        cdf = p
        while u > cdf and k < 400:
            k += 1
            p *= lam / k
            cdf += p
        return k
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    log_invalpha = math.log(1.1239 + 1.1328 / (b - 3.4))
    vr = 0.9277 - 3.6224 / (b - 2.0)
    attempt = 0
    while True:
        U = draw(key, base, stream, 2 * attempt + 1) - 0.5
        V = draw(key, base, stream, 2 * attempt + 2)
        attempt += 1
        us = 0.5 - abs(U)
        k = math.floor((2.0 * a / us + b) * U + lam + 0.43)
        if us >= 0.07 and V <= vr:
            return int(k)
        if k < 0 or (us < 0.013 and V > us):
            continue
        if (math.log(V) + log_invalpha - math.log(a / (us * us) + b)
                <= -lam + k * loglam - math.lgamma(k + 1.0)):
            return int(k)


@njit(**_FLAGS)
def gamma1(shape, key, base, stream):
    """Exact Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 by boosting."""
    boost = shape < 1.0
    a = shape + 1.0 if boost else shape
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    attempt = 0
    while True:
        x = normal1(key, base, stream, 2 * attempt + 1)
        u = draw(key, base, stream, 2 * attempt + 1000)
        attempt += 1
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
            out = d * v
            break
    if boost:
        out *= draw(key, base, stream, 999) ** (1.0 / shape)
    return out


# ----------------------------------------------------------------- demand
@njit(**_FLAGS)
def buy_probability(x, kind, shape_k):
    """P(X >= x) for the standardised valuation (0 uniform, 1 exponential, 2 weibull)."""
    if x <= 0.0:
        return 1.0
    if kind == 0:
        return max(0.0, 1.0 - x)
    if kind == 1:
        return math.exp(-x)
    return math.exp(-(x ** shape_k))


@njit(**_FLAGS)
def elasticity_mean(base, lift, price, list_price, elasticity, on_hand, z0, beta, effect, min_share):
    """Expected units wanted under elasticity demand (MODEL.md section 3)."""
    rel = max(price / list_price, min_share)
    mu = base * lift * rel ** (-elasticity) * effect
    if beta > 0.0:
        mu *= (on_hand / z0) ** beta
    return mu


class DemandArrays(NamedTuple):
    """A batch's demand parameters (:meth:`liqenv.demand.DemandModel.kernel_arrays`);
    per-copy arrays have a leading axis of length 1 or B.  Fields a family
    does not use hold neutral placeholders."""

    family: int  # 0 valuation, 1 elasticity
    kind: int  # valuation: 0 uniform, 1 exponential, 2 weibull
    arrival: int  # valuation: 0 poisson, 1 uniform arrivals
    rates: np.ndarray  # (C,S,T) expected arrivals
    scale: np.ndarray  # (C,S) valuation scale
    decay: np.ndarray  # (C,1) valuation decay per period
    shape_k: np.ndarray  # (C,1) weibull shape
    spread: np.ndarray  # (C,1) int, uniform arrivals' half-width
    base: np.ndarray  # (C,S) elasticity: units wanted at list price
    lift: np.ndarray  # (C,1,T) elasticity: seasonal lift
    elasticity: np.ndarray  # (C,1)
    beta: np.ndarray  # (C,1) broken-assortment exponent
    z0: np.ndarray  # (C,S) reference inventory
    list_price: np.ndarray  # (C,S) (ones for valuation demand)
    cv: np.ndarray  # (C,1) gamma-Poisson CV
    min_share: float  # price floor as a share of list price


@njit(**_FLAGS)
def wanted_valuation(key, base_ctr, t, s, row, price, rates, scale, decay, shape_k, spread, kind, arrival):
    x = price / (scale[row, s] * decay[row, 0] ** t)
    q = buy_probability(x, kind, shape_k[row, 0])
    lam = rates[row, s, min(t, rates.shape[2] - 1)]
    if arrival == 0:
        return poisson1(lam * q, key, base_ctr, DEMAND)
    low = lam - spread[row, 0]
    n_arr = int(low + math.floor(draw(key, base_ctr, ARRIVALS, 0) * (2 * spread[row, 0] + 1)))
    hits = 0
    for j in range(n_arr):
        if draw(key, base_ctr, THINNING, j) < q:
            hits += 1
    return hits


@njit(**_FLAGS)
def wanted_elasticity(key, base_ctr, t, s, row, price, on_hand, effect, base, lift, elasticity, beta, z0,
                      list_price, cv, min_share):
    mu = elasticity_mean(base[row, s], lift[row, 0, min(t, lift.shape[2] - 1)], price, list_price[row, s],
                         elasticity[row, 0], on_hand, z0[row, s], beta[row, 0], effect, min_share)
    c = cv[row, 0]
    if c > 0.0:
        r = 1.0 / (c * c)
        mu = mu * gamma1(r, key, base_ctr, GAMMA) / r
    return poisson1(mu, key, base_ctr, DEMAND)


@njit(**_FLAGS)
def wanted_batch(dm, t, price, on_hand, effect, key, live, out):
    """Units customers want (MODEL.md section 3) at every (copy, store) where
    ``live`` (the others are left as they are), at ``price`` and ``on_hand``."""
    rates, scale, decay, shape_k, spread = dm.rates, dm.scale, dm.decay, dm.shape_k, dm.spread
    base, lift, elasticity, beta = dm.base, dm.lift, dm.elasticity, dm.beta
    z0, list_price, cv = dm.z0, dm.list_price, dm.cv
    B, S = out.shape
    C = scale.shape[0]
    for b in range(B):
        row = b if C > 1 else 0
        for s in range(S):
            if not live[b, s]:
                continue
            base_ctr = counter_base(t[b], s)
            if dm.family == 0:
                out[b, s] = wanted_valuation(key[b], base_ctr, t[b], s, row, price[b, s], rates, scale, decay,
                                             shape_k, spread, dm.kind, dm.arrival)
            else:
                out[b, s] = wanted_elasticity(key[b], base_ctr, t[b], s, row, price[b, s], float(on_hand[b, s]),
                                              effect[b, s], base, lift, elasticity, beta, z0, list_price, cv,
                                              dm.min_share)


# ----------------------------------------------------------------- masks
@njit(**_FLAGS)
def markdown_ok_batch(m, t, markdown, hold, changes, rules, out):
    """out[b, s, k]: markdown m[b, s, k] may be posted now by store s of copy b."""
    B, S, K = m.shape
    for b in range(B):
        for s in range(S):
            for k in range(K):
                out[b, s, k] = markdown_ok(m[b, s, k], markdown[b, s], hold[b, s], changes[b, s], t[b], rules)


@njit(**_FLAGS)
def ladder_mask(t, markdown, hold, changes, close_at, selling, rules, ladder, out):
    """out[b, s, l]: ladder level l allowed for store s (closed/DC: only the current)."""
    B, S = markdown.shape
    for b in range(B):
        for s in range(S):
            live = selling[s] and close_at[b, s] > t[b]
            for li in range(ladder.shape[0]):
                if live:
                    out[b, s, li] = markdown_ok(ladder[li], markdown[b, s], hold[b, s], changes[b, s],
                                                t[b], rules)
                else:
                    out[b, s, li] = abs(ladder[li] - markdown[b, s]) <= TOL


@njit(**_FLAGS)
def close_mask(t, close_at, closable, notice, earliest_close, T, out):
    B, S = close_at.shape
    C = notice.shape[0]
    for b in range(B):
        row = b if C > 1 else 0
        for s in range(S):
            out[b, s] = close_ok(closable[s], close_at[b, s], t[b], notice[row, s], earliest_close[row, s], T)


@njit(**_FLAGS)
def ship_mask(t, close_at, on_hand, src, dst, lead, T, out):
    B = close_at.shape[0]
    for b in range(B):
        for p in range(src.shape[0]):
            out[b, p] = ship_ok(t[b], close_at[b, src[p]], on_hand[b, src[p]], close_at[b, dst[p]], lead[p], T)


# ------------------------------------------------------------------- step
# The step's records.  The Python side passes each as a plain tuple of its
# fields (numba types a plain tuple of arrays by a fast fingerprint, a named
# tuple by a slow Python path that would cost a batch of one ~15 us a
# step); :func:`step_kernel` names them at once.
class ModelArrays(NamedTuple):
    """Structure and per-copy parameters of a batch (:meth:`liqenv.dynamics.Params.kernel_model`).

    Per-copy arrays have a leading axis C of length 1 or B (row ``b if C > 1 else 0``).
    """

    T: int  # horizon
    selling: np.ndarray  # (S,) bool: not a DC
    closable: np.ndarray  # (S,) bool
    src: np.ndarray  # (P,) source store of each allowed transfer pair
    dst: np.ndarray  # (P,) destination store
    lead: np.ndarray  # (P,) lead time
    quantities: np.ndarray  # (K,) transfer menu: fractions of the source's on-hand units
    ladder: np.ndarray  # (L,) markdown levels
    rules: np.ndarray  # (7,) liqenv.rules.rule_vector
    uniform_pricing: bool
    continuous: bool
    has_lock: bool  # some store has a rent lock
    list_price: np.ndarray  # (C,S)
    salvage_price: np.ndarray  # (C,S)
    operating: np.ndarray  # (C,S,T)
    locked_rent: np.ndarray  # (C,S,T)
    notice: np.ndarray  # (C,S)
    earliest_close: np.ndarray  # (C,S)
    lock_period: np.ndarray  # (C,S) NO_CLOSE: no rent lock
    holding: np.ndarray  # (C,1) per unit carried to the next period
    cap: np.ndarray  # (C,1) highest continuous price
    ship_cost: np.ndarray  # (C,P) per unit
    ship_fixed: np.ndarray  # (C,P) per shipment
    effect_var0: np.ndarray  # (C,1) prior variance of a store's log effect (0: no hidden effects)


class StateArrays(NamedTuple):
    """The batch state (fields of :class:`liqenv.dynamics.State`, same order), mutated in place."""

    t: np.ndarray  # (B,)
    key: np.ndarray  # (B,) uint64
    on_hand: np.ndarray  # (B,S)
    pipeline: np.ndarray  # (B,S,L) units arriving in 1..L periods
    markdown: np.ndarray  # (B,S)
    hold: np.ndarray  # (B,S)
    changes: np.ndarray  # (B,S)
    close_at: np.ndarray  # (B,S)
    locked: np.ndarray  # (B,S)
    last_sold: np.ndarray  # (B,S)
    effect: np.ndarray  # (B,S)
    effect_w: np.ndarray  # (B,S) summed precision of the sales seen (effect posterior)
    effect_wy: np.ndarray  # (B,S) precision-weighted sum of the log-effect observations
    sold_total: np.ndarray  # (B,)
    salvaged_total: np.ndarray  # (B,)
    profit_total: np.ndarray  # (B,)


class DecisionArrays(NamedTuple):
    """A decision per copy (:class:`liqenv.dynamics.Decision`)."""

    markdown: np.ndarray  # (B,S) float
    close: np.ndarray  # (B,S) bool
    ship: np.ndarray  # (B,P) menu index


class StepArrays(NamedTuple):
    """What a period produced (the fields of :class:`liqenv.dynamics.StepResult`,
    same order) and which decision components were repaired."""

    revenue: np.ndarray  # (B,)
    operating_cost: np.ndarray  # (B,)
    holding_cost: np.ndarray  # (B,)
    transfer_cost: np.ndarray  # (B,)
    salvage_value: np.ndarray  # (B,)
    reward: np.ndarray  # (B,)
    sold: np.ndarray  # (B,S)
    salvaged: np.ndarray  # (B,S)
    price: np.ndarray  # (B,S)
    shipped: np.ndarray  # (B,P)
    cancelled_shipments: np.ndarray  # (B,) shipments cancelled: destination's closing announced now
    scaled_shipments: np.ndarray  # (B,) shipments scaled down: one source's fractions summed above 1
    violations: np.ndarray  # (B,)
    done: np.ndarray  # (B,)
    store_reward: np.ndarray  # (B,S) each store's share of reward (sums to it; see _settle)
    md_bad: np.ndarray  # (B,S) markdown repaired
    close_bad: np.ndarray  # (B,S) closing refused
    ship_bad: np.ndarray  # (B,P) transfer refused
    ship_cut: np.ndarray  # (B,P) transfer cancelled or scaled down (not a violation)


@njit(**_FLAGS)
def step_kernel(model, demand, state, decision, out, strict):
    """One period for every copy (MODEL.md sections 4 and 5); the arguments
    are the fields of :class:`ModelArrays`, :class:`DemandArrays`,
    :class:`StateArrays`, :class:`DecisionArrays` and :class:`StepArrays` as
    plain tuples.  Every decision is checked (and repaired) before anything
    moves; returns the number of rule violations found, and with ``strict``
    and any violation leaves the state untouched."""
    m, dm = ModelArrays(*model), DemandArrays(*demand)
    st, d, o = StateArrays(*state), DecisionArrays(*decision), StepArrays(*out)
    B, S = st.on_hand.shape
    new_md = np.empty((B, S))
    announce = np.zeros((B, S), dtype=np.bool_)
    units = np.zeros((B, m.src.shape[0]), dtype=np.int64)
    o.violations[:] = 0
    _check_closings(m, st, d, o, announce)
    _check_markdowns(m, st, d, o, new_md)
    _plan_transfers(m, st, d, o, announce, units)
    total_viol = o.violations.sum()
    if strict:
        # strict mode refuses the cancellations and scale-downs too
        total_viol += o.cancelled_shipments.sum() + o.scaled_shipments.sum()
        if total_viol > 0:
            return total_viol
    _transfer(m, st, o, announce, units)
    live = _post_markdowns(m, st, o, new_md, announce)
    wanted = np.zeros((B, S), dtype=np.int64)
    wanted_batch(dm, st.t, o.price, st.on_hand, st.effect, st.key, live, wanted)
    _sell_and_charge(m, dm, st, o, wanted)
    _salvage_and_deliver(m, st, o)
    _settle(m, st, o)
    return total_viol


# Each phase loops over the copies itself and reads the record fields it
# needs into locals once: numba reference-counts every read of an array
# field, which inside the copy and store loops would cost more than the
# period's arithmetic.
@njit(**_FLAGS)
def _check_closings(m, st, d, o, announce):
    """Accept the closing requests the rules allow (``announce``); count the others."""
    t_, close_at, req, bad, viol = st.t, st.close_at, d.close, o.close_bad, o.violations
    closable, notice, earliest = m.closable, m.notice, m.earliest_close
    B, S = close_at.shape
    m_rows = m.list_price.shape[0]  # per-copy rows: 1 or B
    for b in range(B):
        row, t = (b if m_rows > 1 else 0), t_[b]
        for s in range(S):
            bad[b, s] = False
            if req[b, s]:
                if close_ok(closable[s], close_at[b, s], t, notice[row, s], earliest[row, s], m.T):
                    announce[b, s] = True
                elif not close_at[b, s] <= t and close_at[b, s] == NO_CLOSE:
                    bad[b, s] = True
                    viol[b] += 1


@njit(**_FLAGS)
def _check_markdowns(m, st, d, o, new_md):
    """The markdown each store posts (``new_md``), repaired to the nearest allowed
    one where the request breaks a rule (one violation at most under uniform pricing)."""
    t_, close_at, cur, hold, changes = st.t, st.close_at, st.markdown, st.hold, st.changes
    req, bad, viol = d.markdown, o.md_bad, o.violations
    selling, rules, ladder, list_price, cap = m.selling, m.rules, m.ladder, m.list_price, m.cap
    chain = chain_store(selling)
    B, S = close_at.shape
    m_rows = m.list_price.shape[0]  # per-copy rows: 1 or B
    for b in range(B):
        row, t = (b if m_rows > 1 else 0), t_[b]
        for s in range(S):
            live = selling[s] and not close_at[b, s] <= t
            bad[b, s] = False
            want = req[b, s]
            if m.uniform_pricing and chain >= 0:
                # one chain markdown: a Decision giving stores different ones is repaired
                want = req[b, chain]
                if abs(req[b, s] - want) > TOL and live:
                    bad[b, s] = True
            new_md[b, s] = want
            if live:
                ok = markdown_ok(want, cur[b, s], hold[b, s], changes[b, s], t, rules)
                if m.continuous:
                    md_floor = 1.0 - cap[row, 0] / list_price[row, s]
                    ok = ok and want >= md_floor - TOL and want <= 1.0 + TOL
                else:
                    md_floor = 0.0
                    ok = ok and on_ladder(want, ladder)
                if not ok:
                    new_md[b, s] = nearest_markdown(want, cur[b, s], hold[b, s], changes[b, s], t, rules,
                                                    ladder, m.continuous, md_floor)
                    bad[b, s] = True
        first = True
        for s in range(S):
            if bad[b, s]:
                if m.uniform_pricing and not first:
                    bad[b, s] = False  # the chain's one markdown counts once
                else:
                    viol[b] += 1
                    first = False


@njit(**_FLAGS)
def _plan_transfers(m, st, d, o, announce, units):
    """Units each pair ships (``units``); refused pairs count as violations,
    cancelled and scaled-down ones in ``cancelled_shipments`` / ``scaled_shipments``."""
    src, dst, lead, quantities, notice = m.src, m.dst, m.lead, m.quantities, m.notice
    t_, close_at, on_hand, req, bad, viol = st.t, st.close_at, st.on_hand, d.ship, o.ship_bad, o.violations
    cut, n_cancel, n_scale = o.ship_cut, o.cancelled_shipments, o.scaled_shipments
    P = src.shape[0]
    n_cancel[:] = 0
    n_scale[:] = 0
    if P == 0:
        return
    fractions = np.empty(P)
    m_rows = m.list_price.shape[0]  # per-copy rows: 1 or B
    for b in range(close_at.shape[0]):
        row, t = (b if m_rows > 1 else 0), t_[b]
        for p in range(P):
            q = req[b, p]
            bad[b, p] = False
            cut[b, p] = False
            if q > 0:
                if not ship_ok(t, close_at[b, src[p]], on_hand[b, src[p]], close_at[b, dst[p]], lead[p], m.T):
                    bad[b, p] = True
                    viol[b] += 1
                    q = 0
                else:
                    # Not violations: these depend on several components of one
                    # action, which per-component action masks cannot express, so a
                    # masked action may produce them.  A shipment to a store whose
                    # closing is announced in this same decision (effective by the
                    # arrival date) is cancelled; fractions from one source summing
                    # above 1 are scaled down pro rata (rules.shipped_units).
                    j = dst[p]
                    eff_dst = closing_effective(t, notice[row, j]) if announce[b, j] else close_at[b, j]
                    if eff_dst <= t + lead[p]:
                        q = 0
                        cut[b, p] = True
                        n_cancel[b] += 1
            fractions[p] = quantities[q]
        shipped_units_into(fractions, on_hand[b], src, units[b])
        for p in range(P):
            if fractions[p] > 0.0 and units[b, p] < int(math.floor(fractions[p] * on_hand[b, src[p]] + 1e-9)):
                cut[b, p] = True
                n_scale[b] += 1


# ---- phase 2: closings take effect, transfers leave
@njit(**_FLAGS)
def _transfer(m, st, o, announce, units):
    t_, close_at, on_hand, pipeline, notice = st.t, st.close_at, st.on_hand, st.pipeline, m.notice
    src, dst, lead, unit_cost, fixed = m.src, m.dst, m.lead, m.ship_cost, m.ship_fixed
    shipped, cost, share = o.shipped, o.transfer_cost, o.store_reward
    B, S = close_at.shape
    m_rows = m.list_price.shape[0]  # per-copy rows: 1 or B
    for b in range(B):
        row, t = (b if m_rows > 1 else 0), t_[b]
        for s in range(S):
            share[b, s] = 0.0  # the period's first term of each store's share
            if announce[b, s]:
                close_at[b, s] = closing_effective(t, notice[row, s])
        tc = 0.0
        for p in range(src.shape[0]):
            u = units[b, p]
            shipped[b, p] = u
            if u > 0:
                on_hand[b, src[p]] -= u
            c = ship_cost(u, unit_cost[row, p], fixed[row, p])
            tc += c
            share[b, src[p]] -= c  # the sender pays
        for p in range(src.shape[0]):
            u = units[b, p]
            if u > 0:
                if lead[p] == 0:
                    on_hand[b, dst[p]] += u
                else:
                    pipeline[b, dst[p], lead[p] - 1] += u
        cost[b] = tc


# ---- phase 3: markdowns posted, demand, sales, fixed costs
@njit(**_FLAGS)
def _post_markdowns(m, st, o, new_md, announce):
    """Post the markdowns and prices; returns where customers may buy."""
    t_, close_at, on_hand, md, hold, changes = st.t, st.close_at, st.on_hand, st.markdown, st.hold, st.changes
    selling, list_price, price = m.selling, m.list_price, o.price
    B, S = close_at.shape
    live = np.zeros((B, S), dtype=np.bool_)
    m_rows = m.list_price.shape[0]  # per-copy rows: 1 or B
    for b in range(B):
        row, t = (b if m_rows > 1 else 0), t_[b]
        for s in range(S):
            closed = close_at[b, s] <= t
            # post where the store was open when it decided (an announcement
            # made now with notice 0 closes it now, after deciding)
            if selling[s] and (announce[b, s] or not closed):
                if hold[b, s] > 0 and abs(new_md[b, s] - md[b, s]) > TOL:
                    changes[b, s] += 1
                    hold[b, s] = 1
                else:
                    hold[b, s] += 1
                md[b, s] = new_md[b, s]
            price[b, s] = (1.0 - md[b, s]) * list_price[row, s]
            live[b, s] = selling[s] and not closed and on_hand[b, s] > 0
    return live


@njit(**_FLAGS)
def effect_observation(n, z, mu, cv):
    """One period's observation of a store's log effect and its precision
    (Craig & Raman section 5.3): ``n`` units sold of ``z`` on hand where
    ``mu`` were expected at effect 1.  A sell-out censors the count and
    ``mu <= 0`` says nothing: precision 0.  The observation is
    ``log((n + 0.5) / (mu + 0.5)) + var/2`` with variance
    ``var = log(1 + cv^2 + 1/(mu + 0.5))`` (the gamma-Poisson count's);
    returns ``(y, var)``, ``var = inf`` when the period says nothing."""
    if n >= z or mu <= 0.0:
        return 0.0, math.inf
    var = math.log1p(cv * cv + 1.0 / (mu + 0.5))
    return math.log((n + 0.5) / (mu + 0.5)) + 0.5 * var, var


@njit(**_FLAGS)
def effect_posterior(var0, w, wy):
    """Posterior mean and standard deviation of a store's log effect: prior
    ``N(-var0/2, var0)`` (the lognormal effect of mean 1) updated with summed
    precision ``w`` and precision-weighted observations ``wy``."""
    if var0 <= 0.0:
        return 0.0, 0.0
    prior_prec = 1.0 / var0
    prec = prior_prec + w
    return (prior_prec * (-0.5 * var0) + wy) / prec, math.sqrt(1.0 / prec)


@njit(**_FLAGS)
def _sell_and_charge(m, dm, st, o, wanted):
    """Sales, revenue and fixed costs; each store's effect posterior takes in
    what it sold (MODEL.md section 6)."""
    t_, close_at, on_hand, locked = st.t, st.close_at, st.on_hand, st.locked
    price, sold, revenue, op_cost, share = o.price, o.sold, o.revenue, o.operating_cost, o.store_reward
    lock_period, operating, locked_rent = m.lock_period, m.operating, m.locked_rent
    var0, eff_w, eff_wy, selling = m.effect_var0, st.effect_w, st.effect_wy, m.selling
    base, lift, elasticity, beta, z0 = dm.base, dm.lift, dm.elasticity, dm.beta, dm.z0
    list_price, cv = dm.list_price, dm.cv
    B, S = close_at.shape
    m_rows = m.list_price.shape[0]  # per-copy rows: 1 or B
    d_rows = base.shape[0]
    for b in range(B):
        row, t = (b if m_rows > 1 else 0), t_[b]
        drow = b if d_rows > 1 else 0
        learn = var0[row, 0] > 0.0
        rev = 0.0
        op = 0.0
        for s in range(S):
            closed = close_at[b, s] <= t
            sl = min(wanted[b, s], on_hand[b, s])
            sold[b, s] = sl
            if learn and selling[s] and not closed and on_hand[b, s] > 0:
                z = float(on_hand[b, s])
                mu = elasticity_mean(base[drow, s], lift[drow, 0, min(t, lift.shape[2] - 1)], price[b, s],
                                     list_price[drow, s], elasticity[drow, 0], z, z0[drow, s], beta[drow, 0],
                                     1.0, dm.min_share)
                y, var = effect_observation(float(sl), z, mu, cv[drow, 0])
                if var < math.inf:
                    eff_w[b, s] += 1.0 / var
                    eff_wy[b, s] += y / var
            on_hand[b, s] -= sl
            r_s = sl * price[b, s]
            rev += r_s
            if m.has_lock and lock_triggers(t, lock_period[row, s], closed):
                locked[b, s] = True
            c_s = period_cost(closed, m.has_lock and locked[b, s], operating[row, s, t],
                              locked_rent[row, s, t])
            op += c_s
            share[b, s] += r_s - c_s
        revenue[b] = rev
        op_cost[b] = op


# ---- phase 4: salvage, holding, deliveries for next period
@njit(**_FLAGS)
def _salvage_and_deliver(m, st, o):
    t_, close_at, on_hand, pipeline, salvaged = st.t, st.close_at, st.on_hand, st.pipeline, o.salvaged
    holding, holding_cost, share = m.holding, o.holding_cost, o.store_reward
    B, S, Lp = pipeline.shape
    m_rows = m.list_price.shape[0]  # per-copy rows: 1 or B
    for b in range(B):
        row, t = (b if m_rows > 1 else 0), t_[b]
        last = t == m.T - 1
        hold_units = 0
        for s in range(S):
            # a closing taking effect now, or the end of the event (units in transit too)
            sv = 0
            if clears_stock(t, close_at[b, s], m.T):
                sv = on_hand[b, s]
                on_hand[b, s] = 0
            if last:
                for k in range(Lp):
                    sv += pipeline[b, s, k]
                    pipeline[b, s, k] = 0
            salvaged[b, s] = sv
        if m.src.shape[0] > 0:
            for s in range(S):
                arriving = pipeline[b, s, 0]
                for k in range(Lp - 1):
                    pipeline[b, s, k] = pipeline[b, s, k + 1]
                pipeline[b, s, Lp - 1] = 0
                if arriving > 0:
                    if arrival_salvaged(t, close_at[b, s]):
                        salvaged[b, s] += arriving
                    else:
                        on_hand[b, s] += arriving
        # every unit carried into the next period, arrivals that just landed
        # included (units still in transit are not charged; MODEL.md section 5)
        for s in range(S):
            hold_units += on_hand[b, s]
            if not last:
                share[b, s] -= holding[row, 0] * on_hand[b, s]
        holding_cost[b] = 0.0 if last else holding[row, 0] * hold_units


# ---- phase 5: the period's reward and the episode's totals
@njit(**_FLAGS)
def _settle(m, st, o):
    """The period's reward (MODEL.md section 5) and each store's share of it,
    ``store_reward``: its revenue, less its operating cost (locked rent
    included), its holding cost and the transfer cost of what it sends, plus
    its salvage value; each term is added in the phase that computes it, so
    the shares sum to ``reward`` to float rounding."""
    t_, last_sold, sold_total = st.t, st.last_sold, st.sold_total
    salvaged_total, profit_total = st.salvaged_total, st.profit_total
    salvaged, sold, salvage_price, reward, done = o.salvaged, o.sold, m.salvage_price, o.reward, o.done
    share = o.store_reward
    revenue, op, hc, tc, value = o.revenue, o.operating_cost, o.holding_cost, o.transfer_cost, o.salvage_value
    B, S = sold.shape
    m_rows = m.list_price.shape[0]  # per-copy rows: 1 or B
    for b in range(B):
        row, t = (b if m_rows > 1 else 0), t_[b]
        salv_val = 0.0
        salv_n = 0
        sold_n = 0
        for s in range(S):
            v_s = salvaged[b, s] * salvage_price[row, s]
            salv_val += v_s
            share[b, s] += v_s
            salv_n += salvaged[b, s]
            sold_n += sold[b, s]
            last_sold[b, s] = sold[b, s]
        value[b] = salv_val
        r = revenue[b] - op[b] - hc[b] - tc[b] + salv_val
        reward[b] = r
        done[b] = t == m.T - 1
        sold_total[b] += sold_n
        salvaged_total[b] += salv_n
        profit_total[b] += r
        t_[b] = t + 1


# ------------------------------------------------------- batch samplers
@njit(**_FLAGS)
def uniform_batch(key, ctr, out):
    for i in range(out.shape[0]):
        out[i] = uniform1(key[i], ctr[i])


@njit(**_FLAGS)
def draw_batch(key, base, stream, j, out):
    for i in range(out.shape[0]):
        out[i] = draw(key[i], base[i], stream, j[i])


@njit(**_FLAGS)
def poisson_batch(lam, key, base, stream, out):
    for i in range(out.shape[0]):
        out[i] = poisson1(lam[i], key[i], base[i], stream)


@njit(**_FLAGS)
def gamma_batch(shape, key, base, stream, out):
    for i in range(out.shape[0]):
        out[i] = gamma1(shape[i], key[i], base[i], stream)


@njit(**_FLAGS)
def normal_batch(key, base, stream, j, out):
    for i in range(out.shape[0]):
        out[i] = normal1(key[i], base[i], stream, j)


@njit(**_FLAGS)
def binomial_batch(n, p, key, base, stream, out):
    """Binomial(n, p) as a sum of Bernoulli draws (how uniform arrivals thin)."""
    for i in range(out.shape[0]):
        h = 0
        for j in range(n[i]):
            if draw(key[i], base[i], stream, j) < p[i]:
                h += 1
        out[i] = h


@njit(**_FLAGS)
def sample_wanted(t, price, on_hand, effect, key, demand, out):
    """Units wanted for every (copy, store), exactly as the step kernel draws them
    (``demand``: the fields of :class:`DemandArrays`, as a plain tuple)."""
    wanted_batch(DemandArrays(*demand), t, price, on_hand, effect, key, np.ones(out.shape, dtype=np.bool_), out)


# NumPy ufuncs of the same scalar formulas, for the policy-facing demand API
buy_probability_v = vectorize(["float64(float64, int64, float64)"], cache=True)(buy_probability.py_func)
elasticity_mean_v = vectorize(["float64(float64, float64, float64, float64, float64, float64, float64, "
                               "float64, float64, float64)"], cache=True)(elasticity_mean.py_func)


# ------------------------------------------------------------ observation
OBS_ON_HAND, OBS_IN_TRANSIT, OBS_MARKDOWN, OBS_LAST_SOLD, OBS_STATUS, OBS_UNTIL_CLOSE, \
    OBS_UNTIL_MAY_CLOSE, OBS_LOCK_PENDING, OBS_LOCKED, OBS_HELD, OBS_CHANGES_LEFT, OBS_EFFECT = range(12)


@njit(**_FLAGS)
def encode_obs(codes, t, on_hand, pipeline, markdown, last_sold, close_at, may_close_from,
               lock_period, locked, hold, changes, max_changes, unit_scale, T, per_store, effect_var0,
               effect_w, effect_wy, out):
    """Write the normalised observation of every copy (layout: liqenv.spaces):
    the per-store blocks first, the period and periods left in the last two
    columns (any columns between are the layout's public-parameter block)."""
    B, S = on_hand.shape
    C = may_close_from.shape[0]
    inv_u = 1.0 / unit_scale
    # Each code's column inside a store's block (-1: absent), found once, so the
    # per-store work is straight-line code: dispatching on the codes for every
    # store of every copy cost more than the writes (2.4x on Chain-v1).
    off = np.full(OBS_EFFECT + 1, -1, np.int64)
    k = 0
    for code in codes:
        off[code] = k
        if code == OBS_IN_TRANSIT:
            k += pipeline.shape[2]
        elif code == OBS_STATUS:
            k += 3
        elif code == OBS_EFFECT:
            k += 2
        else:
            k += 1
    o_oh, o_it, o_md, o_ls = off[OBS_ON_HAND], off[OBS_IN_TRANSIT], off[OBS_MARKDOWN], off[OBS_LAST_SOLD]
    o_st, o_uc, o_um, o_lp = off[OBS_STATUS], off[OBS_UNTIL_CLOSE], off[OBS_UNTIL_MAY_CLOSE], off[OBS_LOCK_PENDING]
    o_lk, o_hd, o_ch, o_ef = off[OBS_LOCKED], off[OBS_HELD], off[OBS_CHANGES_LEFT], off[OBS_EFFECT]
    J = pipeline.shape[2]
    chg_den = max(max_changes, 1)
    last = out.shape[1]
    for b in range(B):
        row = b if C > 1 else 0
        tb = t[b]
        ob = out[b]
        for s in range(S):
            k = s * per_store
            ca = close_at[b, s]
            closed = ca <= tb
            announced = ca != NO_CLOSE and not closed
            if o_oh >= 0:
                ob[k + o_oh] = on_hand[b, s] * inv_u
            if o_it >= 0:
                for j in range(J):
                    ob[k + o_it + j] = pipeline[b, s, j] * inv_u
            if o_md >= 0:
                ob[k + o_md] = markdown[b, s]
            if o_ls >= 0:
                ob[k + o_ls] = last_sold[b, s] * inv_u
            if o_st >= 0:
                ob[k + o_st] = 1.0 if (not closed and not announced) else 0.0
                ob[k + o_st + 1] = 1.0 if announced else 0.0
                ob[k + o_st + 2] = 1.0 if closed else 0.0
            if o_uc >= 0:
                ob[k + o_uc] = (ca - tb) / T if announced else 0.0
            if o_um >= 0:
                ob[k + o_um] = min(max(may_close_from[row, s] - tb, 0), T) / T
            if o_lp >= 0:
                lp = lock_period[row, s]
                pend = lp < NO_CLOSE and lp >= tb and ca > tb
                ob[k + o_lp] = min(lp - tb, T) / T if pend else 0.0
            if o_lk >= 0:
                ob[k + o_lk] = 1.0 if locked[b, s] else 0.0
            if o_hd >= 0:
                ob[k + o_hd] = min(hold[b, s], T) / T
            if o_ch >= 0:
                ob[k + o_ch] = max(max_changes - changes[b, s], 0) / chg_den
            if o_ef >= 0:
                mean, sd = effect_posterior(effect_var0[row, 0], effect_w[b, s], effect_wy[b, s])
                ob[k + o_ef] = mean
                ob[k + o_ef + 1] = sd
        ob[last - 2] = tb / T
        ob[last - 1] = (T - tb) / T
