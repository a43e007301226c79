"""Multi-store rules of thumb and plans: ``practitioner`` and ``store_pds``.

Two policies for any store scenario with a markdown ladder:

* ``practitioner`` (Craig & Raman 2016, section 2): "central managers plan a
  common markdown schedule across all stores ... the markdowns start
  relatively low, usually around 25%, and increase to approximately 85% over
  the course of a sale"; "liquidators continue to operate each store until
  its inventory is sold through or until it turns unprofitable, i.e., when
  operating costs exceed revenues"; no transfers.
* ``store_pds``: plan dynamically per store.  Every period each store
  re-plans a deterministic markdown-and-closing schedule over the remaining
  periods (a small dynamic programme over units on hand, markdown level and
  periods held, with expected sales, in the spirit of Yang et al.'s
  ``MAXREV`` and plan-dynamically-with-simulation), posts the plan's first
  markdown, and announces a closing when the best plan that announces now
  (closed once the notice runs out) beats the best plan that waits.  Demand
  is re-forecast from each store's sales (Craig & Raman section 5.3).

Helpers shared with ``craig_raman`` and ``exact_dp``:

* :func:`rule_state` rebuilds the rule-relevant part of the env's batch state
  from a decoded observation, so a policy asks :mod:`liqenv.dynamics` (the
  one copy of every business rule) which markdowns, closings and transfers
  are allowed, instead of re-implementing the rules.
* :func:`effect_posterior` / :func:`effect_estimate` read the re-forecast
  from early sales of Craig & Raman (2016) section 5.3 (a conjugate normal
  update of each store's log demand effect, kept by the env and carried in
  the observation).
* :func:`schedule_target` is the practitioners' chain markdown path of
  Craig & Raman section 2 (about 25% at the start, about 85% at the end).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from liqenv import dynamics as dyn
from liqenv import rules
from liqenv.demand import make_demand
from liqenv.scenario import NO_CLOSE, Scenario

from .base import Policy, UnsupportedScenario, register

__all__ = ["rule_state", "allowed_levels", "level_transitions", "effect_posterior", "effect_estimate",
           "schedule_target", "ship_units", "Practitioner", "StorePDS"]


def rule_state(params: dyn.Params, obs: dict) -> dyn.State:
    """A batch-of-one :class:`~liqenv.dynamics.State` with what the rules read.

    Filled from a decoded observation: period, on-hand and in-transit units,
    posted markdowns, hold counters (``held``, or 0 before the first posting
    and 1 afterwards when ``min_hold`` is 1), markdown changes made (from
    ``changes_left``) and closing dates (from ``closed`` / ``announced`` /
    ``until_close``).  Hidden fields (the store effects, the random key) are
    placeholders: no rule reads them.
    """
    S = params.S
    t = int(obs["t"])
    st = dyn.reset_state(params, np.zeros(1, dtype=np.uint64))
    st.t[:] = t
    st.on_hand[0] = obs["on_hand"]
    if "in_transit" in obs:
        L = min(st.pipeline.shape[2], np.shape(obs["in_transit"])[-1])
        st.pipeline[0, :, :L] = np.asarray(obs["in_transit"])[:, :L]
    md = np.asarray(obs["markdown"], dtype=float)
    if params.scenario.pricing == "ladder":  # observations are float32: snap to the ladder
        md = params.ladder[np.abs(md[:, None] - params.ladder[None, :]).argmin(1)]
    st.markdown[0] = md
    if "held" in obs:
        st.hold[0] = obs["held"]
    else:
        st.hold[0] = 0 if t == 0 else 1
    mc = params.scenario.markdowns.max_changes
    if mc is not None and "changes_left" in obs:
        st.changes[0] = mc - np.asarray(obs["changes_left"])
    close_at = np.full(S, NO_CLOSE, dtype=np.int64)
    if "closed" in obs:
        close_at = np.where(obs["announced"], t + np.asarray(obs["until_close"]), close_at)
        close_at = np.where(obs["closed"], t - 1 if t > 0 else 0, close_at)
    st.close_at[0] = close_at
    st.last_sold[0] = obs["last_sold"]
    return st


def allowed_levels(params: dyn.Params, obs: dict) -> np.ndarray:
    """(S, L) ladder levels each store may post now, from the env's own rule code."""
    return dyn.markdown_ladder_mask(params, rule_state(params, obs))[0]


def level_transitions(scenario: Scenario) -> np.ndarray:
    """(L, L) whether a store that has held level ``i`` long enough may post
    level ``j`` next (stay, or a change within the step rules):
    :func:`liqenv.rules.transition_matrix` of a ladder scenario."""
    return rules.transition_matrix(rules.rule_vector(scenario.markdowns), scenario.ladder)


def ship_units(quantities: np.ndarray, on_hand) -> np.ndarray:
    """Units a menu entry ships from a source with ``on_hand`` units (broadcast):
    :func:`liqenv.rules.shipped_units`, each element a pair of its own source
    (one entry per source never asks for more than the source holds)."""
    q, z = np.broadcast_arrays(np.asarray(quantities, dtype=np.float64), np.asarray(on_hand))
    units = rules.shipped_units(z.ravel(), q.ravel(), np.arange(q.size)).reshape(q.shape)
    return units[()] if units.ndim == 0 else units


def rent_in_period(sc: Scenario, s: int, tau: int, locked: bool) -> float:
    """Locked rent store ``s`` pays in period ``tau`` alone if its closing takes
    effect then: :func:`liqenv.rules.rent_owed` of that period's rent."""
    one = np.where(np.arange(sc.horizon) == tau, sc.locked_rent[s], 0.0)
    return float(rules.rent_owed(one, int(sc.lock_period[s]), tau, bool(locked)))


def schedule_target(t, horizon: int, start: float = 0.25, end: float = 0.85) -> np.ndarray:
    """Practitioners' chain markdown target for period ``t`` (Craig & Raman section 2):
    linear from ``start`` in period 0 to ``end`` in the last period."""
    if horizon <= 1:
        return np.full(np.shape(t), start)
    return start + (end - start) * np.asarray(t, dtype=float) / (horizon - 1)


def effect_posterior(obs: dict, n_stores: int) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance of each store's log demand effect, read
    from the observation (Craig & Raman section 5.3: "sales during the first
    week ... convey considerable information about sales throughout a
    liquidation").  The env keeps the conjugate normal update itself
    (:func:`liqenv._kernels.effect_observation`), so an analytic policy acts
    on exactly what a learned one observes; without hidden store effects
    (no ``effect_mean`` in the observation) the effect is 1: log 0, variance 0."""
    if "effect_mean" not in obs:
        return np.zeros(n_stores), np.zeros(n_stores)
    return np.asarray(obs["effect_mean"], float), np.asarray(obs["effect_sd"], float) ** 2


def effect_estimate(obs: dict, n_stores: int) -> np.ndarray:
    """Posterior mean of each store's demand effect (lognormal mean of :func:`effect_posterior`)."""
    mean, var = effect_posterior(obs, n_stores)
    return np.exp(mean + 0.5 * var)


def read_observation(params: dyn.Params, obs: dict):
    """What a chain policy reads each period: the rule state, the ladder mask
    of each store and which stores are closed (the env's own rule code)."""
    st = rule_state(params, obs)
    mask = dyn.markdown_ladder_mask(params, st)[0]
    return st, mask, st.close_at[0] <= int(obs["t"])


def _check_ladder(scenario: Scenario, name: str) -> None:
    if scenario.pricing != "ladder":
        raise UnsupportedScenario(f"pricing={scenario.pricing!r}: {name} posts ladder markdowns")


@register("practitioner")
class Practitioner(Policy):
    """Current liquidation practice (Craig & Raman 2016, section 2).

    One markdown schedule for the chain: the target rises linearly from
    ``start`` (25%) in period 0 to ``end`` (85%) in the last period and each
    period every open store posts the allowed ladder level nearest the
    target (the rules' ``min_hold`` sets the cadence of changes, their step
    limits the size).  A store is closed (announced so that it takes effect
    at the earliest date the notice allows) once it has nothing left to
    sell, or when its expected revenue in the period the closing would take
    effect, at the schedule's markdown and with its re-forecast demand, is
    below the operating cost it would save then.  No transfers.
    """

    def __init__(self, scenario: Scenario, start: float = 0.25, end: float = 0.85, **options: Any):
        self.start, self.end = float(start), float(end)
        super().__init__(scenario, **options)

    @classmethod
    def check_supported(cls, scenario: Scenario) -> None:
        _check_ladder(scenario, "practitioner")

    def solve(self) -> None:
        self.params = dyn.Params(self.scenario)
        self.demand = make_demand(self.scenario)

    def decide(self, obs: dict) -> Any:
        sc, p = self.scenario, self.params
        t, T = int(obs["t"]), sc.horizon
        st, mask, closed = read_observation(p, obs)
        live = ~closed & ~sc.is_dc
        if sc.markdowns.uniform_pricing and live.any():
            mask = np.broadcast_to(mask[live].all(0), mask.shape)
        target = float(schedule_target(t, T, self.start, self.end))
        dist = np.where(mask, np.abs(sc.ladder - target), np.inf)
        md = sc.ladder[dist.argmin(1)]
        if sc.markdowns.uniform_pricing and live.any():
            md[:] = md[rules.chain_store(live)]  # one chain markdown, at every entry (liqenv.rules.chain_store)
        else:
            md = np.where(closed, st.markdown[0], md)

        close = np.zeros(sc.n_stores, dtype=bool)
        if sc.has_closing:
            ok = dyn.close_allowed(p, st)[0]
            z = st.on_hand[0] + st.pipeline[0].sum(1)
            te = t + sc.notice
            u = effect_estimate(obs, sc.n_stores)
            for s in np.flatnonzero(ok):
                if z[s] == 0:
                    close[s] = True
                    continue
                tt = int(te[s])
                target_te = float(schedule_target(tt, T, self.start, self.end))
                m_te = sc.ladder[np.abs(sc.ladder - target_te).argmin()]
                price = (1.0 - max(m_te, md[s])) * sc.list_price[s]
                # fluid projection of the units left by the effective date
                zz = float(z[s])
                for k in range(t, tt):
                    zz -= min(zz, float(self.demand.mean(int(s), k, price, on_hand=zz,
                                                                    effect=u[s])))
                rev = price * min(zz, float(self.demand.mean(int(s), tt, price, on_hand=zz,
                                                                        effect=u[s])))
                saved = sc.operating_costs[s, tt] - rent_in_period(sc, int(s), tt, st.locked[0, s])
                close[s] = rev < saved
        return self.encode(md, close)


@register("store_pds")
class StorePDS(Policy):
    """Per-store plan-dynamically (see the module docstring).

    Each period, for every open store, a deterministic dynamic programme over
    (units on hand, on a grid of ``grid`` points; markdown level; periods the
    level has been held) and the remaining periods, with sales
    ``min(expected demand, units)`` at the store's re-estimated demand
    effect, plans markdowns and the closing date under the scenario's rules
    (ladder, monotone, step sizes, ``min_hold``; notice, earliest closing,
    rent lock).  A store that may announce a closing now is planned twice,
    announcing now (closed at ``t + notice``) and waiting (closed no earlier
    than a period later); the better plan decides.  The policy posts the
    plan's markdown for today.  With ``uniform_pricing`` the chain posts the
    level with the largest planned profit summed over the open stores.  No
    transfers.
    """

    def __init__(self, scenario: Scenario, grid: int = 25, **options: Any):
        self.grid = int(grid)
        if self.grid < 3:
            raise ValueError(f"grid={grid!r}: needs at least 3 points")
        super().__init__(scenario, **options)

    @classmethod
    def check_supported(cls, scenario: Scenario) -> None:
        _check_ladder(scenario, "store_pds")

    def solve(self) -> None:
        sc = self.scenario
        self.params = dyn.Params(sc)
        self.demand = make_demand(sc)
        self.next_ok = level_transitions(sc)
        self.price = (1.0 - sc.ladder)[None, :] * sc.list_price[:, None]  # (S, L)
        self.effect = np.ones(sc.n_stores)  # this period's effect estimates (set by decide)

    def _closing_value(self, stores, x, tau: int, locked) -> np.ndarray:
        """Salvage less rent still owed, for stores closing in period ``tau``."""
        sc = self.scenario
        rent = np.array([rules.rent_owed(sc.locked_rent[s], int(sc.lock_period[s]), tau, bool(lk))
                         for s, lk in zip(stores, locked)], dtype=float).reshape(len(stores))
        return sc.salvage_price[stores][:, None] * x - rent[:, None]

    def _sales(self, stores, tau: int, x) -> np.ndarray:
        """Expected units sold (n, L, G) at every level for units ``x`` (n, G);
        the demand model is asked once per distinct store (a store planned
        twice shares its grid)."""
        u = self.effect
        L = len(self.scenario.ladder)
        uniq, first, inv = np.unique(stores, return_index=True, return_inverse=True)
        mu = np.stack([np.broadcast_to(np.asarray(self.demand.mean(
            int(s), tau, self.price[s][:, None], on_hand=x[i][None, :], effect=u[s]), float),
            (L, x.shape[1])) for s, i in zip(uniq, first)])
        return np.minimum(mu[inv.ravel()], x[:, None, :])

    def _plan(self, t: int, z, stores, close_from, close_at, locked):
        """Backward pass; ``V[k]`` (n, L, H, G) is the value at the start of
        period ``t + k`` given units (grid), last level and periods held."""
        sc, T, L = self.scenario, self.scenario.horizon, len(self.scenario.ladder)
        H, G, n = max(sc.markdowns.min_hold, 1), self.grid, len(stores)
        xg = z[:, None] * np.linspace(0.0, 1.0, G)[None, :]
        dx = np.maximum(z / (G - 1), 1e-12)
        V_next = np.broadcast_to(sc.salvage_price[stores][:, None, None, None] * xg[:, None, None, :],
                                 (n, L, H, G))
        keep = np.minimum(np.arange(H) + 1, H - 1)  # held hh+1 periods -> hh+2 (capped)
        rows = (np.arange(n * L * H) * G).reshape(n, L, H, 1)  # start of each grid row
        tables = {T - t: V_next}
        for tau in range(T - 1, t, -1):
            sold = self._sales(stores, tau, xg)
            left = xg[:, None, :] - sold
            rev = self.price[stores][:, :, None] * sold - sc.operating_costs[stores, tau][:, None, None]
            if tau < T - 1:
                rev = rev - sc.holding_cost * left
            # V_next at the units left, linearly interpolated on the grid, for every hold
            pos = np.clip(left / dx[:, None, None], 0.0, G - 1.0)
            i0 = np.minimum(pos.astype(np.int64), G - 2)
            w = (pos - i0)[:, :, None, :]
            lin = rows + i0[:, :, None, :]
            flat = np.ascontiguousarray(V_next).ravel()
            at = np.take(flat, lin) * (1.0 - w) + np.take(flat, lin + 1) * w
            V = rev[:, :, None, :] + at[:, :, keep, :]  # keep the level
            fresh = rev + at[:, :, 0, :]  # post level l' anew: held 1 period next
            change = np.where(self.next_ok[None, :, :, None], fresh[:, None, :, :], -np.inf).max(2)
            V[:, :, H - 1, :] = np.maximum(V[:, :, H - 1, :], change)
            close = self._closing_value(stores, xg, tau, locked)[:, None, None, :]
            V = np.where((tau >= close_from)[:, None, None, None], np.maximum(V, close), V)
            V = np.where((tau >= close_at)[:, None, None, None], close, V)
            tables[tau - t] = V
            V_next = V
        return tables, dx

    def _today(self, t: int, z, stores, levels_ok, cur, held, close_from, close_at, locked):
        """Planned profit of posting each level today (n, L); closing today
        (when allowed or forced) replaces every level's value."""
        sc, L = self.scenario, len(self.scenario.ladder)
        H, G, n = max(sc.markdowns.min_hold, 1), self.grid, len(stores)
        tables, dx = self._plan(t, z, stores, close_from, close_at, locked)
        zc = z.astype(float)[:, None]
        sold = self._sales(stores, t, zc)[:, :, 0]
        left = zc - sold
        rev = self.price[stores] * sold - sc.operating_costs[stores, t][:, None]
        if t < sc.horizon - 1:
            rev = rev - sc.holding_cost * left
        Vn = tables[1]
        pos = np.clip(left / dx[:, None], 0.0, G - 1.0)
        i0 = np.minimum(pos.astype(np.int64), G - 2)
        w = pos - i0
        hold_stay = np.minimum(held + 1, H) - 1
        ar = np.arange(n)
        q = np.empty((n, L))
        for lv in range(L):
            hh = np.where((lv != cur) | (t == 0), 0, hold_stay)
            row = Vn[ar, lv, hh]
            q[:, lv] = rev[:, lv] + row[ar, i0[:, lv]] * (1 - w[:, lv]) + row[ar, i0[:, lv] + 1] * w[:, lv]
        q = np.where(levels_ok, q, -np.inf)
        close_now = self._closing_value(stores, zc, t, locked)[:, 0]
        q = np.where((t >= close_at)[:, None], close_now[:, None], q)
        return q

    def decide(self, obs: dict) -> Any:
        sc, p = self.scenario, self.params
        t, T = int(obs["t"]), sc.horizon
        st, mask, closed = read_observation(p, obs)
        self.effect = effect_estimate(obs, sc.n_stores)
        md = st.markdown[0].copy()
        close = np.zeros(sc.n_stores, dtype=bool)
        stores = np.flatnonzero(~closed)
        if len(stores):
            z_all = st.on_hand[0] + st.pipeline[0].sum(1)
            can_now = (dyn.close_allowed(p, st)[0] if sc.has_closing
                       else np.zeros(sc.n_stores, dtype=bool))
            announced = st.close_at[0] < NO_CLOSE
            # waiting: the earliest closing date is a period later (or the lease's)
            wait_from = rules.earliest_effective(t + 1, sc.notice, sc.earliest_close)
            cf = np.where(sc.closable & ~announced, wait_from, T + 1)
            ca = np.where(announced, st.close_at[0], T + 1)
            ann = stores[can_now[stores]]
            virt = np.concatenate([stores, ann])
            cf_v = np.concatenate([cf[stores], np.full(len(ann), T + 1)])
            ca_v = np.concatenate([ca[stores], t + sc.notice[ann]])
            cur = np.abs(sc.ladder[None, :] - md[virt, None]).argmin(1)
            q = self._today(t, z_all[virt], virt, mask[virt], cur, st.hold[0][virt], cf_v, ca_v,
                            st.locked[0][virt])
            n = len(stores)
            q_wait = q[:n]
            q_best = q_wait.copy()
            for k, s in enumerate(ann):
                i = int(np.flatnonzero(stores == s)[0])
                if q[n + k].max() > q_wait[i].max():
                    close[s] = True
                    q_best[i] = q[n + k]
            if sc.markdowns.uniform_pricing:
                live = ~sc.is_dc[stores] & ~close[stores]
                tot = np.where(live[:, None], np.where(np.isfinite(q_best), q_best, -1e18), 0.0).sum(0)
                ok = np.where(live[:, None], mask[stores], True).all(0)
                if not ok.any():
                    ok = mask[stores].any(0)
                lv = np.full(n, int(np.where(ok, tot, -np.inf).argmax()))
            else:
                # a store closing now still posts a markdown (any allowed one will do)
                q_pick = np.where(mask[stores], q_best, -np.inf)
                lv = np.where(np.isfinite(q_pick).any(1), q_pick.argmax(1), cur[:n])
            if sc.markdowns.uniform_pricing:
                md[:] = sc.ladder[lv[0]]  # one chain markdown, at every entry (liqenv.rules.chain_store)
            else:
                md[stores] = np.where(sc.is_dc[stores], md[stores], sc.ladder[lv])
        return self.encode(md, close)
