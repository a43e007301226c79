"""Compiled kernels: the one implementation of the rules, the demand draws and a period.

Why numba: the dynamics run over a batch ``(n_envs, n_stores)``; with NumPy
a batch of one (the single env) pays ~1 us per array operation for a few
hundred operations a period, and the rejection samplers loop over the batch.
These kernels loop over copies and stores in compiled code, so the single
env, the vector envs and the analytic policies' rule checks all call the
same functions.  Python-facing wrappers live in :mod:`liqenv.dynamics`,
:mod:`liqenv.random`, :mod:`liqenv.demand` and :mod:`liqenv.spaces`.

Conventions: per-copy parameter arrays have a leading axis of length 1 or B
(row ``b if C > 1 else 0``); ``NO_CLOSE`` marks "no closing scheduled".
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, vectorize

from .rules import (NO_CLOSE, TOL, arrival_salvaged, chain_store, clears_stock, close_ok,
                    lock_triggers, markdown_ok, nearest_markdown, on_ladder, period_cost, ship_cost,
                    ship_ok)

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


@njit(**_FLAGS)
def poisson1(lam, key, base, stream):
    """Exact Poisson(lam): inverse transform below 10, else Hormann's PTRS
    (the transformed rejection method NumPy uses, same constants)."""
    if lam <= 0.0:
        return 0
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


@njit(**_FLAGS)
def wanted_valuation(key, base_ctr, t, s, row, price, rates, scale, decay, shape_k, spread,
                     kind, arrival):
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
def wanted_elasticity(key, base_ctr, t, s, row, price, on_hand, effect, ebase, lift, elasticity,
                      beta, z0, list_price, cv, min_share):
    mu = elasticity_mean(ebase[row, s], lift[row, 0, min(t, lift.shape[2] - 1)], price,
                         list_price[row, s], elasticity[row, 0], on_hand, z0[row, s], beta[row, 0],
                         effect, min_share)
    c = cv[row, 0]
    if c > 0.0:
        r = 1.0 / (c * c)
        mu = mu * gamma1(r, key, base_ctr, GAMMA) / r
    return poisson1(mu, key, base_ctr, DEMAND)


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
def ship_mask(t, close_at, on_hand, src, dst, lead, out):
    B = close_at.shape[0]
    for b in range(B):
        for p in range(src.shape[0]):
            out[b, p] = ship_ok(t[b], close_at[b, src[p]], on_hand[b, src[p]], close_at[b, dst[p]], lead[p])


# ------------------------------------------------------------------- step
@njit(**_FLAGS)
def _closed_before(close_at, t, announced_now):
    """Closed before this period's decisions (an announcement made now with
    notice 0 takes effect now but the store was open when it decided)."""
    if announced_now:
        return False
    return close_at <= t


@njit(**_FLAGS)
def step_kernel(
    # structure
    T, selling, closable, src, dst, lead, quantities, ladder, rules, uniform_pricing, continuous,
    has_lock,
    # per-copy parameters
    list_price, salvage_price, operating, locked_rent, notice, earliest_close, lock_period,
    holding, cap, ship_cost, ship_fixed,
    # demand
    family, d_kind, d_arrival, d_rates, d_scale, d_decay, d_shape, d_spread,
    e_base, e_lift, e_elast, e_beta, e_z0, e_cv, min_share,
    # state (mutated)
    st_t, st_key, on_hand, pipeline, markdown, hold, changes, close_at, locked, last_sold, effect,
    sold_total, salvaged_total, profit_total,
    # decision
    md_req, close_req, ship_req,
    # outputs
    revenue, operating_cost, holding_cost, transfer_cost, salvage_value, reward, sold, salvaged,
    price, shipped, violations, done, md_bad, close_bad, ship_bad, over,
    strict,
):
    """One period for every copy (MODEL.md sections 4 and 5).  Returns the
    number of rule violations found; with ``strict`` and any violation the
    state is left untouched."""
    B, S = on_hand.shape
    P = src.shape[0]
    C = notice.shape[0]
    Lp = pipeline.shape[2]
    new_md = np.empty((B, S))
    announce = np.zeros((B, S), dtype=np.bool_)
    units = np.zeros((B, P), dtype=np.int64)
    total_viol = 0
    first_sel = -1
    for s in range(S):
        if selling[s]:
            first_sel = s
            break
    # ---- validate and repair every decision before anything moves
    for b in range(B):
        row = b if C > 1 else 0
        t = st_t[b]
        v = 0
        for s in range(S):
            closed_before = close_at[b, s] <= t
            md_bad[b, s] = False
            close_bad[b, s] = False
            over[b, s] = False
            if close_req[b, s]:
                if close_ok(closable[s], close_at[b, s], t, notice[row, s], earliest_close[row, s], T):
                    announce[b, s] = True
                elif not closed_before and close_at[b, s] == NO_CLOSE:
                    close_bad[b, s] = True
                    v += 1
            want = md_req[b, s]
            if uniform_pricing and first_sel >= 0:
                # one chain markdown: the first selling store's entry; a
                # Decision giving stores different markdowns is repaired
                want = md_req[b, first_sel]
                if abs(md_req[b, s] - want) > TOL and selling[s] and not closed_before:
                    md_bad[b, s] = True
            new_md[b, s] = want
            if selling[s] and not closed_before:
                ok = markdown_ok(want, markdown[b, s], hold[b, s], changes[b, s], t, rules)
                if continuous:
                    md_floor = 1.0 - cap[row, 0] / list_price[row, s]
                    ok = ok and want >= md_floor - TOL and want <= 1.0 + TOL
                else:
                    md_floor = 0.0
                    ok = ok and on_ladder(want, ladder)
                if not ok:
                    new_md[b, s] = nearest_markdown(want, markdown[b, s], hold[b, s], changes[b, s], t,
                                                    rules, ladder, continuous, md_floor)
                    md_bad[b, s] = True
        if uniform_pricing:
            first = True
            for s in range(S):
                if md_bad[b, s]:
                    if first:
                        v += 1
                        first = False
                    else:
                        md_bad[b, s] = False
        else:
            for s in range(S):
                if md_bad[b, s]:
                    v += 1
        if P > 0:
            out = np.zeros(S, dtype=np.int64)
            for p in range(P):
                q = ship_req[b, p]
                ship_bad[b, p] = False
                if q > 0:
                    if not ship_ok(t, close_at[b, src[p]], on_hand[b, src[p]], close_at[b, dst[p]], lead[p]):
                        ship_bad[b, p] = True
                        v += 1
                        q = 0
                    else:
                        # Not violations: these depend on several components of one
                        # action, which per-component action masks cannot express, so a
                        # masked action may produce them.  A shipment to a store whose
                        # closing is announced in this same decision (effective by the
                        # arrival date) is cancelled; fractions from one source summing
                        # above 1 are scaled down pro rata below.
                        eff_dst = t + notice[row, dst[p]] if announce[b, dst[p]] else close_at[b, dst[p]]
                        if eff_dst <= t + lead[p]:
                            q = 0
                units[b, p] = int(math.floor(quantities[q] * on_hand[b, src[p]] + 1e-9))
                out[src[p]] += units[b, p]
            for s in range(S):
                if out[s] > on_hand[b, s]:
                    scale = on_hand[b, s] / max(out[s], 1)
                    for p in range(P):
                        if src[p] == s:
                            units[b, p] = int(math.floor(units[b, p] * scale + 1e-9))
        violations[b] = v
        total_viol += v
    if strict and total_viol > 0:
        return total_viol

    # ---- apply
    for b in range(B):
        row = b if C > 1 else 0
        t = st_t[b]
        key = st_key[b]
        last = t == T - 1
        done[b] = last
        for s in range(S):
            if announce[b, s]:
                close_at[b, s] = t + notice[row, s]
        # transfers
        tc = 0.0
        for p in range(P):
            u = units[b, p]
            shipped[b, p] = u
            if u > 0:
                on_hand[b, src[p]] -= u
                tc += u * ship_cost[row, p] + ship_fixed[row, p]
        for p in range(P):
            u = units[b, p]
            if u > 0:
                if lead[p] == 0:
                    on_hand[b, dst[p]] += u
                else:
                    pipeline[b, dst[p], lead[p] - 1] += u
        transfer_cost[b] = tc
        rev = 0.0
        op = 0.0
        salv_val = 0.0
        salv_n = 0
        sold_n = 0
        hold_units = 0
        for s in range(S):
            closed = close_at[b, s] <= t
            # post the markdown where the store was open when it decided
            if selling[s] and not _closed_before(close_at[b, s], t, announce[b, s]):
                if hold[b, s] > 0 and abs(new_md[b, s] - markdown[b, s]) > TOL:
                    changes[b, s] += 1
                    hold[b, s] = 1
                else:
                    hold[b, s] += 1
                markdown[b, s] = new_md[b, s]
            pr = (1.0 - markdown[b, s]) * list_price[row, s]
            price[b, s] = pr
            # demand and sales
            base_ctr = counter_base(t, s)
            sl = 0
            if selling[s] and not closed and on_hand[b, s] > 0:
                if family == 0:
                    w = wanted_valuation(key, base_ctr, t, s, row, pr, d_rates, d_scale, d_decay, d_shape,
                                         d_spread, d_kind, d_arrival)
                else:
                    w = wanted_elasticity(key, base_ctr, t, s, row, pr, float(on_hand[b, s]), effect[b, s],
                                          e_base, e_lift, e_elast, e_beta, e_z0, list_price, e_cv, min_share)
                sl = min(w, on_hand[b, s])
            sold[b, s] = sl
            on_hand[b, s] -= sl
            rev += sl * pr
            sold_n += sl
            # costs
            if has_lock and t == lock_period[row, s] and not closed:
                locked[b, s] = True
            if not closed:
                op += operating[row, s, t]
            elif has_lock and locked[b, s]:
                op += locked_rent[row, s, t]
            # salvage on closing now and at the end (in transit at the destination)
            sv = 0
            if close_at[b, s] == t or last:
                sv = on_hand[b, s]
                on_hand[b, s] = 0
            if last:
                for k in range(Lp):
                    sv += pipeline[b, s, k]
                    pipeline[b, s, k] = 0
            salvaged[b, s] = sv
            hold_units += on_hand[b, s]
        hc = 0.0 if last else holding[row, 0] * hold_units
        # deliveries for next period
        if P > 0:
            for s in range(S):
                arriving = pipeline[b, s, 0]
                for k in range(Lp - 1):
                    pipeline[b, s, k] = pipeline[b, s, k + 1]
                pipeline[b, s, Lp - 1] = 0
                if arriving > 0:
                    if close_at[b, s] <= t + 1:
                        salvaged[b, s] += arriving
                    else:
                        on_hand[b, s] += arriving
        for s in range(S):
            salv_val += salvaged[b, s] * salvage_price[row, s]
            salv_n += salvaged[b, s]
            last_sold[b, s] = sold[b, s]
        revenue[b] = rev
        operating_cost[b] = op
        holding_cost[b] = hc
        salvage_value[b] = salv_val
        r = rev - op - hc - tc + salv_val
        reward[b] = r
        sold_total[b] += sold_n
        salvaged_total[b] += salv_n
        profit_total[b] += r
        st_t[b] = t + 1
    return total_viol




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
def sample_wanted(t, price, on_hand, effect, key, S, family, d_kind, d_arrival, d_rates, d_scale,
                  d_decay, d_shape, d_spread, e_base, e_lift, e_elast, e_beta, e_z0, list_price,
                  e_cv, min_share, out):
    """Units wanted for every (copy, store), exactly as the step kernel draws them."""
    B = t.shape[0]
    C = d_scale.shape[0]
    for b in range(B):
        row = b if C > 1 else 0
        for s in range(S):
            base_ctr = counter_base(t[b], s)
            if family == 0:
                out[b, s] = wanted_valuation(key[b], base_ctr, t[b], s, row, price[b, s], d_rates, d_scale,
                                             d_decay, d_shape, d_spread, d_kind, d_arrival)
            else:
                out[b, s] = wanted_elasticity(key[b], base_ctr, t[b], s, row, price[b, s],
                                              float(on_hand[b, s]), effect[b, s], e_base, e_lift, e_elast,
                                              e_beta, e_z0, list_price, e_cv, min_share)


# NumPy ufuncs of the same scalar formulas, for the policy-facing demand API
buy_probability_v = vectorize(["float64(float64, int64, float64)"], cache=True)(buy_probability.py_func)
elasticity_mean_v = vectorize(["float64(float64, float64, float64, float64, float64, float64, float64, "
                               "float64, float64, float64)"], cache=True)(elasticity_mean.py_func)


# ------------------------------------------------------------ observation
OBS_ON_HAND, OBS_IN_TRANSIT, OBS_MARKDOWN, OBS_LAST_SOLD, OBS_STATUS, OBS_UNTIL_CLOSE, \
    OBS_UNTIL_MAY_CLOSE, OBS_LOCK_PENDING, OBS_LOCKED, OBS_HELD, OBS_CHANGES_LEFT = range(11)


@njit(**_FLAGS)
def encode_obs(codes, t, on_hand, pipeline, markdown, last_sold, close_at, may_close_from,
               lock_period, locked, hold, changes, max_changes, unit_scale, T, per_store, out):
    """Write the normalised observation of every copy (layout: liqenv.spaces):
    the per-store blocks first, the period and periods left in the last two
    columns (any columns between are the layout's public-parameter block)."""
    B, S = on_hand.shape
    C = may_close_from.shape[0]
    inv_u = 1.0 / unit_scale
    for b in range(B):
        row = b if C > 1 else 0
        tb = t[b]
        for s in range(S):
            k = s * per_store
            closed = close_at[b, s] <= tb
            announced = close_at[b, s] != NO_CLOSE and not closed
            for code in codes:
                if code == OBS_ON_HAND:
                    out[b, k] = on_hand[b, s] * inv_u
                    k += 1
                elif code == OBS_IN_TRANSIT:
                    for j in range(pipeline.shape[2]):
                        out[b, k] = pipeline[b, s, j] * inv_u
                        k += 1
                elif code == OBS_MARKDOWN:
                    out[b, k] = markdown[b, s]
                    k += 1
                elif code == OBS_LAST_SOLD:
                    out[b, k] = last_sold[b, s] * inv_u
                    k += 1
                elif code == OBS_STATUS:
                    out[b, k] = 1.0 if (not closed and not announced) else 0.0
                    out[b, k + 1] = 1.0 if announced else 0.0
                    out[b, k + 2] = 1.0 if closed else 0.0
                    k += 3
                elif code == OBS_UNTIL_CLOSE:
                    out[b, k] = (close_at[b, s] - tb) / T if announced else 0.0
                    k += 1
                elif code == OBS_UNTIL_MAY_CLOSE:
                    out[b, k] = min(max(may_close_from[row, s] - tb, 0), T) / T
                    k += 1
                elif code == OBS_LOCK_PENDING:
                    lp = lock_period[row, s]
                    pend = lp < NO_CLOSE and lp >= tb and close_at[b, s] > tb
                    out[b, k] = min(lp - tb, T) / T if pend else 0.0
                    k += 1
                elif code == OBS_LOCKED:
                    out[b, k] = 1.0 if locked[b, s] else 0.0
                    k += 1
                elif code == OBS_HELD:
                    out[b, k] = min(hold[b, s], T) / T
                    k += 1
                elif code == OBS_CHANGES_LEFT:
                    out[b, k] = max(max_changes - changes[b, s], 0) / max(max_changes, 1)
                    k += 1
        out[b, out.shape[1] - 2] = tb / T
        out[b, out.shape[1] - 1] = (T - tb) / T
