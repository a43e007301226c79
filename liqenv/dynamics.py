"""The liquidation dynamics, written once over a batch (MODEL.md sections 2, 4, 5).

Everything here works on arrays of shape ``(n_envs, n_stores)``; the single
Gymnasium env is a batch of one and the vectorised front-ends are batches of
many, so there is exactly one copy of every rule.

* :class:`Params` holds a scenario's numbers as arrays with a leading
  "copies" axis (1, or ``n_envs`` when copies draw their own scenario).
* :class:`State` is the mutable batch state.
* :class:`Decision` is a structured decision: a markdown per store, a
  closing announcement per store, a transfer size (index into the
  scenario's quantity menu) per allowed pair.
* :func:`reset_state`, :func:`step` and the rule functions
  (:func:`markdown_allowed`, :func:`close_allowed`, :func:`ship_allowed`).

Order within a period (MODEL.md section 4): closings are announced (a
closing with notice 0 takes effect at once), transfers leave (lead time 0
arrives before demand), markdowns are posted, demand is realised and sales
happen, costs are charged, stores whose closing takes effect this period
salvage what they hold; at the end of the last period every store and every
unit in transit is salvaged.  Units that arrive at the start of the next
period are put on hand at the end of this one (to a store that is closed by
then, they go to its jobber), so the observation shows what is available.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np

from . import random as lr
from .demand import DemandModel, make_demand
from .scenario import NO_CLOSE, Scenario

__all__ = ["Params", "State", "Decision", "StepResult", "reset_state", "step",
           "markdown_allowed", "markdown_ladder_mask", "close_allowed", "ship_allowed",
           "RuleViolation"]

_TOL = 1e-9


class RuleViolation(ValueError):
    """Raised in strict mode when a decision breaks a business rule."""


class Params:
    """A scenario compiled to arrays (leading axis: copies, length 1 or n_envs).

    Structural quantities (number of stores, horizon, ladder, rules, allowed
    transfer pairs and their lead times, pricing mode) must agree across
    copies; numbers (inventory, costs, demand) may differ.
    """

    def __init__(self, scenarios: Scenario | Sequence[Scenario]):
        if isinstance(scenarios, Scenario):
            scenarios = [scenarios]
        sc = scenarios[0]
        self.scenario = sc
        self.S = sc.n_stores
        self.T = sc.horizon
        self.C = len(scenarios)
        self.rules = sc.markdowns
        self.ladder = sc.ladder
        self.continuous = sc.pricing == "continuous"
        self.is_dc = sc.is_dc
        self.selling = ~sc.is_dc
        self.closable = sc.closable
        self.has_closing = sc.has_closing
        self.has_lock = bool(np.any(sc.lock_period < NO_CLOSE))
        tn = sc.transfers
        pairs = tn.pairs if tn is not None else ()
        self.P = len(pairs)
        self.src = np.array([i for i, _ in pairs], dtype=np.int64)
        self.dst = np.array([j for _, j in pairs], dtype=np.int64)
        self.lead = np.array([tn.lead_time[i][j] for i, j in pairs], dtype=np.int64)
        self.quantities = np.asarray(tn.quantities if tn is not None else (0.0,), dtype=float)
        self.L = max(sc.max_lead, 1)
        C, S, T = self.C, self.S, self.T
        self.inventory = np.zeros((C, S), dtype=np.int64)
        self.list_price = np.ones((C, S))
        self.salvage_price = np.zeros((C, S))
        self.operating = np.zeros((C, S, T))
        self.locked_rent = np.zeros((C, S, T))
        self.notice = np.zeros((C, S), dtype=np.int64)
        self.earliest_close = np.zeros((C, S), dtype=np.int64)
        self.lock_period = np.full((C, S), NO_CLOSE, dtype=np.int64)
        self.lock_until = np.full((C, S), -1, dtype=np.int64)
        self.holding = np.zeros((C, 1))
        self.unit_cost = np.ones((C, 1))
        self.cap = np.ones((C, 1))
        self.ship_cost = np.zeros((C, self.P))
        self.ship_fixed = np.zeros((C, self.P))
        self.demand: DemandModel = make_demand(scenarios)
        for b, s in enumerate(scenarios):
            self.set_row(b, s, demand=False)

    def set_row(self, b: int, sc: Scenario, demand: bool = True) -> None:
        """Write copy ``b``'s numbers from ``sc`` (same structure required)."""
        if (sc.n_stores, sc.horizon, sc.markdowns, sc.pricing) != (
                self.S, self.T, self.rules, "continuous" if self.continuous else "ladder"):
            raise ValueError(f"scenario={sc.name!r}: structure differs from the batch's")
        self.inventory[b] = sc.inventory
        self.list_price[b] = sc.list_price
        self.salvage_price[b] = sc.salvage_price
        self.operating[b] = sc.operating_costs
        self.locked_rent[b] = sc.locked_rent
        self.notice[b] = sc.notice
        self.earliest_close[b] = sc.earliest_close
        self.lock_period[b] = sc.lock_period
        self.lock_until[b] = sc.lock_until
        self.holding[b] = sc.holding_cost
        self.unit_cost[b] = sc.unit_cost
        self.cap[b] = sc.price_cap
        if self.P:
            tn = sc.transfers
            pairs = tn.pairs
            if len(pairs) != self.P or any(tn.lead_time[i][j] != l for (i, j), l in zip(pairs, self.lead)):
                raise ValueError("transfers: all copies of a batch need the same pairs and lead times")
            self.ship_cost[b] = [tn.unit_cost[i][j] for i, j in pairs]
            fc = tn.fixed_cost
            self.ship_fixed[b] = [0.0 if fc is None else fc[i][j] for i, j in pairs]
        if demand:
            self.demand.set_row(b, sc)

    def rows(self, x: np.ndarray, copies: np.ndarray | None) -> np.ndarray:
        """Copy rows of a per-copy array for the copies in ``copies``."""
        if self.C == 1 or copies is None:
            return x
        return x[copies]

    def at(self, table: np.ndarray, t: np.ndarray) -> np.ndarray:
        """``table[b, :, t[b]]`` of a (copies, S, T) table, shape (B, S)."""
        t = np.minimum(t, self.T - 1)
        if table.shape[0] == 1:
            return table[0][:, t].T
        return table[np.arange(table.shape[0]), :, t]


@dataclass
class State:
    """Batch state; every array has the batch as its first axis."""

    t: np.ndarray  # (B,) period about to be played
    key: np.ndarray  # (B,) uint64 random key of the episode
    on_hand: np.ndarray  # (B,S) units available for sale or transfer
    pipeline: np.ndarray  # (B,S,L) units arriving in 1..L periods
    markdown: np.ndarray  # (B,S) markdown posted last period (fraction of list)
    hold: np.ndarray  # (B,S) periods the current markdown has been held (0: none yet)
    changes: np.ndarray  # (B,S) markdown changes since period 0
    close_at: np.ndarray  # (B,S) period a closing takes effect (NO_CLOSE: none)
    locked: np.ndarray  # (B,S) rent lock triggered
    last_sold: np.ndarray  # (B,S) units sold last period
    effect: np.ndarray  # (B,S) hidden store effect (never observed)
    sold_total: np.ndarray  # (B,) units sold so far
    salvaged_total: np.ndarray  # (B,) units salvaged so far
    profit_total: np.ndarray  # (B,) profit so far

    @property
    def batch_size(self) -> int:
        return self.t.shape[0]

    def copy(self) -> "State":
        return State(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def take(self, idx) -> "State":
        return State(**{f.name: getattr(self, f.name)[idx].copy() for f in fields(self)})

    def put(self, idx, other: "State") -> None:
        for f in fields(self):
            getattr(self, f.name)[idx] = getattr(other, f.name)

    def closed(self) -> np.ndarray:
        """(B,S) closed in the period about to be played."""
        return self.close_at <= self.t[:, None]


@dataclass
class Decision:
    """A structured decision for a batch.

    ``markdown`` (B,S): markdown fraction per store (ignored for DCs and
    closed stores); for continuous pricing ``1 - price / list_price``.
    ``close`` (B,S): announce a closing now.  ``ship`` (B,P): index into the
    transfer quantity menu for each allowed pair (0: ship nothing).
    """

    markdown: np.ndarray
    close: np.ndarray
    ship: np.ndarray


@dataclass
class StepResult:
    """What one period produced, per copy (B,) or per copy and store (B,S)."""

    revenue: np.ndarray
    operating_cost: np.ndarray
    holding_cost: np.ndarray
    transfer_cost: np.ndarray
    salvage_value: np.ndarray
    reward: np.ndarray
    sold: np.ndarray
    salvaged: np.ndarray
    price: np.ndarray
    shipped: np.ndarray  # (B,P) units sent per pair
    violations: np.ndarray  # (B,) rule repairs made
    done: np.ndarray  # (B,) episode over


# ------------------------------------------------------------------ reset
def reset_state(p: Params, keys: np.ndarray, copies: np.ndarray | None = None) -> State:
    """Fresh states for ``len(keys)`` copies (``copies``: their Params rows)."""
    B = len(keys)
    S, L = p.S, p.L
    keys = np.asarray(keys, dtype=np.uint64)
    inv = np.broadcast_to(p.rows(p.inventory, copies), (B, S)).copy()
    # period 2**22-1 is never played: reset draws cannot collide with a step's
    draws = lr.Draws(keys, np.full(B, (1 << 22) - 1), S)
    effect = np.broadcast_to(p.demand.draw_effects(draws, copies), (B, S)).copy()
    zeros = np.zeros((B, S), dtype=np.int64)
    return State(
        t=np.zeros(B, dtype=np.int64), key=keys, on_hand=inv,
        pipeline=np.zeros((B, S, L), dtype=np.int64),
        markdown=np.zeros((B, S)), hold=zeros.copy(), changes=zeros.copy(),
        close_at=np.full((B, S), NO_CLOSE, dtype=np.int64),
        locked=np.zeros((B, S), dtype=bool), last_sold=zeros.copy(),
        effect=effect, sold_total=np.zeros(B, dtype=np.int64),
        salvaged_total=np.zeros(B, dtype=np.int64), profit_total=np.zeros(B))


# ------------------------------------------------------------------ rules
def _markdown_window(p: Params, s: State) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Allowed markdowns per (B,S): (lo, hi) of a change, can_change, first.

    In period 0 the allowed set is ``[initial_min, initial_max]``.  Later it
    is the current markdown plus, when a change is allowed (held for
    ``min_hold`` periods, fewer than ``max_changes`` changes so far), the
    markdowns ``cur + d`` with ``step_min <= d <= step_max`` (and also
    ``-d`` when markdowns may decrease).
    """
    r = p.rules
    first = (s.t == 0)[:, None] | (s.hold == 0)
    can = s.hold >= r.min_hold
    if r.max_changes is not None:
        can &= s.changes < r.max_changes
    step_min = max(r.step_min, 1e-6)
    step_max = np.inf if r.step_max is None else r.step_max
    return first, can, np.float64(step_min), np.float64(step_max)


def markdown_allowed(p: Params, s: State, m: np.ndarray) -> np.ndarray:
    """Whether markdown(s) ``m`` ((B,S) or (B,S,K)) are allowed now."""
    r = p.rules
    first, can, dmin, dmax = _markdown_window(p, s)
    cur = s.markdown
    if m.ndim == 3:
        first, can, cur = first[..., None], can[..., None], cur[..., None]
    lo_i = r.initial_min_or_floor - _TOL
    hi_i = (np.inf if r.initial_max is None else r.initial_max) + _TOL
    ok_first = (m >= lo_i) & (m <= hi_i)
    d = m - cur
    if not r.monotone:
        d = np.abs(d)
    stay = np.abs(m - cur) <= _TOL
    ok_later = stay | (can & (d >= dmin - _TOL) & (d <= dmax + _TOL))
    return np.where(first, ok_first, ok_later)


def markdown_ladder_mask(p: Params, s: State) -> np.ndarray:
    """(B,S,L) which ladder levels each store may post now.

    The same rule as :func:`markdown_allowed`, evaluated as index intervals
    on the ladder (the allowed changes are a contiguous run of levels), which
    is much cheaper than testing every level.
    """
    r = p.rules
    lad = p.ladder
    first, can, dmin, dmax = _markdown_window(p, s)
    ar = np.arange(len(lad))
    cur = s.markdown[..., None]
    lo = np.searchsorted(lad, s.markdown + dmin - _TOL, "left")[..., None]
    hi = np.searchsorted(lad, s.markdown + dmax + _TOL, "right")[..., None] - 1
    mask = can[..., None] & (ar >= lo) & (ar <= hi)
    if not r.monotone:
        lo2 = np.searchsorted(lad, s.markdown - dmax - _TOL, "left")[..., None]
        hi2 = np.searchsorted(lad, s.markdown - dmin + _TOL, "right")[..., None] - 1
        mask |= can[..., None] & (ar >= lo2) & (ar <= hi2)
    mask |= np.abs(lad - cur) <= _TOL
    lo_i = r.initial_min_or_floor - _TOL
    hi_i = (np.inf if r.initial_max is None else r.initial_max) + _TOL
    init = (lad >= lo_i) & (lad <= hi_i)
    return np.where(first[..., None], init, mask)


def on_ladder(p: Params, m: np.ndarray) -> np.ndarray:
    """Whether markdowns ``m`` are ladder levels."""
    i = np.minimum(np.searchsorted(p.ladder, m - _TOL), len(p.ladder) - 1)
    return np.abs(p.ladder[i] - m) <= _TOL


def _nearest_allowed(p: Params, s: State, m: np.ndarray) -> np.ndarray:
    """The allowed markdown nearest to ``m`` (ties: the smaller markdown)."""
    if not p.continuous:
        mask = markdown_ladder_mask(p, s)
        dist = np.where(mask, np.abs(p.ladder - m[..., None]), np.inf)
        return p.ladder[np.argmin(dist, axis=-1)]
    r = p.rules
    first, can, dmin, dmax = _markdown_window(p, s)
    floor = 1.0 - p.cap / p.list_price  # price at most the cap
    lo_i = np.maximum(r.initial_min_or_floor, floor)
    hi_i = np.minimum(1.0 if r.initial_max is None else r.initial_max, 1.0)
    cand_first = np.clip(m, lo_i, hi_i)
    cur = s.markdown
    up = np.clip(m, cur + dmin, np.minimum(cur + dmax, 1.0))
    cands = [cur, np.where(can & (cur + dmin <= 1.0 + _TOL), up, cur)]
    if not r.monotone:
        down = np.clip(m, np.maximum(cur - dmax, floor), cur - dmin)
        cands.append(np.where(can & (cur - dmin >= floor - _TOL), down, cur))
    cands = np.stack(cands)
    best = cands[np.argmin(np.abs(cands - m), axis=0), np.arange(m.shape[0])[:, None], np.arange(m.shape[1])]
    return np.where(first, cand_first, best)


def close_allowed(p: Params, s: State, copies=None) -> np.ndarray:
    """(B,S) whether a closing may be announced now.

    A store may announce if it is closable, not closed, not already
    announced (announcements are irrevocable), and the closing would take
    effect (``t + notice``) no earlier than ``earliest_close`` and within the
    horizon.
    """
    eff = s.t[:, None] + p.rows(p.notice, copies)
    return (p.closable & (s.close_at == NO_CLOSE) & (eff >= p.rows(p.earliest_close, copies))
            & (eff <= p.T - 1))


def ship_allowed(p: Params, s: State) -> np.ndarray:
    """(B,P) whether each allowed pair may ship now.

    The source must not be closed before this period (a store closing now
    may still ship out); the destination must not be closed or scheduled to
    close by the arrival date ``t + lead``.  Shipments arriving after the
    last period are allowed; they are salvaged at the destination's rate.
    """
    if not p.P:
        return np.zeros((s.batch_size, 0), dtype=bool)
    t = s.t[:, None]
    src_ok = s.close_at[:, p.src] >= t
    src_ok &= s.on_hand[:, p.src] > 0
    dst_ok = s.close_at[:, p.dst] > t + p.lead
    return src_ok & dst_ok


# ------------------------------------------------------------------- step
def step(p: Params, s: State, d: Decision, copies: np.ndarray | None = None,
         strict: bool = False) -> StepResult:
    """Play one period for every copy; mutates ``s`` in place.

    Decisions that break a business rule are repaired to the nearest allowed
    choice and counted in ``violations``; with ``strict=True`` they raise
    :class:`RuleViolation` instead (the state is then left untouched).
    """
    B, S = s.batch_size, p.S
    t = s.t
    tcol = t[:, None]
    viol = np.zeros(B, dtype=np.int64)
    complaints: list[str] = []
    closed_before = s.close_at <= tcol
    rows = lambda x: p.rows(x, copies)  # noqa: E731

    # 1. closings ---------------------------------------------------------
    close_req = np.asarray(d.close, dtype=bool)
    close_ok = close_allowed(p, s, copies) if p.has_closing else np.zeros((B, S), dtype=bool)
    bad = close_req & ~close_ok & ~closed_before & (s.close_at == NO_CLOSE)
    if bad.any():
        viol += bad.sum(1)
        complaints.append(f"closing not allowed for stores {np.argwhere(bad)[:, 1].tolist()}")
    announce = close_req & close_ok

    # 3. markdowns (checked before anything moves, so strict mode can raise)
    live = p.selling & ~closed_before
    want = np.asarray(d.markdown, dtype=float)
    if p.rules.uniform_pricing:
        want = np.broadcast_to(want, (B, S))
    ok = markdown_allowed(p, s, want)
    if p.continuous:
        ok &= (want >= 1.0 - rows(p.cap) / rows(p.list_price) - _TOL) & (want <= 1.0 + _TOL)
    else:
        ok &= on_ladder(p, want)
    bad = live & ~ok
    if p.rules.uniform_pricing:
        bad = bad & (np.cumsum(live, axis=1) == 1)  # one chain decision, one count
    new_md = np.where(live & ~ok, _nearest_allowed(p, s, want), want) if bad.any() else want
    if bad.any():
        viol += bad.sum(1)
        complaints.append(f"markdown not allowed for stores {np.argwhere(bad)[:, 1].tolist()}")

    # 2. transfers (decided on what is on hand now) ----------------------
    if p.P:
        q = np.asarray(d.ship, dtype=np.int64)
        ok = ship_allowed(p, s)
        bad = (q > 0) & ~ok
        if bad.any():
            viol += bad.sum(1)
            complaints.append(f"transfer not allowed on pairs {np.argwhere(bad)[:, 1].tolist()}")
            q = np.where(bad, 0, q)
        # The two cases below depend on several components of one action, which
        # per-component masks cannot express: a masked action may produce them,
        # so they are resolved as documented semantics, not counted as
        # violations. A shipment to a store whose closing is announced in this
        # same decision (effective by the arrival date) is cancelled; fractions
        # from one source summing above 1 are scaled down pro rata.
        eff_new = np.where(announce, tcol + rows(p.notice), s.close_at)
        q = np.where(eff_new[:, p.dst] > tcol + p.lead, q, 0)
        units = np.floor(p.quantities[q] * s.on_hand[:, p.src] + 1e-9).astype(np.int64)
        out = np.zeros((B, S), dtype=np.int64)
        np.add.at(out, (slice(None), p.src), units)
        over = out > s.on_hand
        if over.any():
            scale = np.where(over, s.on_hand / np.maximum(out, 1), 1.0)
            units = np.floor(units * scale[:, p.src] + 1e-9).astype(np.int64)
            out = np.zeros((B, S), dtype=np.int64)
            np.add.at(out, (slice(None), p.src), units)
    if strict and complaints:
        raise RuleViolation("; ".join(complaints))

    s.close_at = np.where(announce, tcol + rows(p.notice), s.close_at)
    closed = s.close_at <= tcol  # closed in this period (includes closings taking effect now)

    transfer_cost = np.zeros(B)
    shipped = np.zeros((B, p.P), dtype=np.int64)
    if p.P:
        shipped = units
        s.on_hand -= out
        now = p.lead == 0
        if now.any():
            np.add.at(s.on_hand, (slice(None), p.dst[now]), units[:, now])
        later = ~now
        if later.any():
            np.add.at(s.pipeline, (slice(None), p.dst[later], p.lead[later] - 1), units[:, later])
        transfer_cost = (units * rows(p.ship_cost)).sum(1) + ((units > 0) * rows(p.ship_fixed)).sum(1)

    # 3'. post markdowns (a change resets the hold counter) --------------
    changed = live & (s.hold > 0) & (np.abs(new_md - s.markdown) > _TOL)
    s.markdown = np.where(live, new_md, s.markdown)
    price = (1.0 - s.markdown) * rows(p.list_price)

    # 4. demand and sales -------------------------------------------------
    selling_now = p.selling & ~closed
    draws = lr.Draws(s.key, t, S)
    wanted = p.demand.sample(draws, t, price, s.on_hand, s.effect)
    sold = np.where(selling_now, np.minimum(wanted, s.on_hand), 0)
    s.on_hand -= sold
    revenue = (sold * price).sum(1)

    # costs ---------------------------------------------------------------
    op = p.at(p.operating, t)
    if p.has_lock:
        s.locked |= (tcol == rows(p.lock_period)) & ~closed
        rent = p.at(p.locked_rent, t)
        operating = np.where(~closed, op, np.where(s.locked, rent, 0.0)).sum(1)
    else:
        operating = np.where(~closed, op, 0.0).sum(1)

    # closings that take effect now, and the end of the event: the jobber
    # takes what is left (in-transit units at their destination's rate) ----
    last = t == p.T - 1
    leave = (s.close_at == tcol) | last[:, None]
    salv_units = np.where(leave, s.on_hand, 0)
    s.on_hand = s.on_hand - salv_units
    if last.any():
        salv_units = salv_units + np.where(last[:, None], s.pipeline.sum(2), 0)
        s.pipeline[last] = 0
    if np.any(p.holding):
        holding = np.where(last, 0.0, rows(p.holding)[:, 0] * s.on_hand.sum(1))
    else:
        holding = np.zeros(B)

    # deliveries for next period ------------------------------------------
    if p.P and p.L:
        arriving = s.pipeline[:, :, 0].copy()
        s.pipeline[:, :, :-1] = s.pipeline[:, :, 1:]
        s.pipeline[:, :, -1] = 0
        to_closed = s.close_at <= tcol + 1
        salv_units = salv_units + np.where(to_closed, arriving, 0)
        s.on_hand += np.where(to_closed, 0, arriving)
    salvage = (salv_units * rows(p.salvage_price)).sum(1)

    # markdown bookkeeping ------------------------------------------------
    s.changes += changed
    s.hold = np.where(live, np.where(changed, 1, s.hold + 1), s.hold)

    reward = revenue - operating - holding - transfer_cost + salvage
    s.last_sold = sold
    s.sold_total += sold.sum(1)
    s.salvaged_total += salv_units.sum(1)
    s.profit_total += reward
    s.t = t + 1
    return StepResult(revenue=revenue, operating_cost=operating, holding_cost=holding,
                      transfer_cost=transfer_cost, salvage_value=salvage, reward=reward,
                      sold=sold, salvaged=salv_units, price=price, shipped=shipped,
                      violations=viol, done=last)
