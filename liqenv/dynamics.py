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
salvage what they hold, units carried into the next period (arrivals that
land now included) are charged holding cost; at the end of the last period every store and every
unit in transit is salvaged.  Units that arrive at the start of the next
period are put on hand at the end of this one (to a store that is closed by
then, they go to its jobber), so the observation shows what is available.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Sequence

import numpy as np

from . import _kernels as _k
from . import random as lr
from . import rules
from .demand import DemandModel, make_demand
from .scenario import NO_CLOSE, Scenario

__all__ = ["Params", "State", "Decision", "StepResult", "reset_state", "step",
           "markdown_allowed", "markdown_ladder_mask", "close_allowed", "ship_allowed",
           "RuleViolation"]



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
        r = sc.markdowns
        #: (monotone, initial_lo, initial_hi, step_min, step_max, min_hold, max_changes or -1)
        self.rule_vector = rules.rule_vector(r, continuous=sc.pricing == "continuous")
        self.ladder = sc.ladder
        self.continuous = sc.pricing == "continuous"
        self.is_dc = sc.is_dc
        self.selling = ~sc.is_dc
        self.closable = sc.closable
        self.has_closing = sc.has_closing
        self.has_lock = rules.has_rent_lock(sc.lock_period)
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
        #: prior variance of a store's log effect, log(1 + store_effect_cv^2) (0: no hidden effects)
        self.effect_var0 = np.zeros((C, 1))
        self.demand: DemandModel = make_demand(scenarios)
        #: each copy's scenario (the observation's public parameters are read from it)
        self.scenarios: list[Scenario] = list(scenarios)
        self._kernel_model: tuple | None = None
        self._kernel_demand: tuple | None = None
        for b, s in enumerate(scenarios):
            self.set_row(b, s, demand=False)

    def set_row(self, b: int, sc: Scenario, demand: bool = True) -> None:
        """Write copy ``b``'s numbers from ``sc`` (same structure required)."""
        self._kernel_model = self._kernel_demand = None
        if (sc.n_stores, sc.horizon, sc.markdowns, sc.pricing, sc.observe_parameters) != (
                self.S, self.T, self.rules, "continuous" if self.continuous else "ladder",
                self.scenario.observe_parameters):
            raise ValueError(f"scenario={sc.name!r}: structure differs from the batch's")
        self.scenarios[b] = sc
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
        self.effect_var0[b] = np.log1p(float(getattr(sc.demand, "store_effect_cv", 0.0)) ** 2)
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

    def kernel_model(self) -> tuple:
        """The fields of :class:`liqenv._kernels.ModelArrays`, as the plain tuple
        the step kernel takes (cached; :meth:`set_row` clears the cache)."""
        if self._kernel_model is None:
            self._kernel_model = tuple(_k.ModelArrays(
                T=self.T, selling=self.selling, closable=self.closable, src=self.src, dst=self.dst,
                lead=self.lead, quantities=self.quantities, ladder=self.ladder, rules=self.rule_vector,
                uniform_pricing=self.rules.uniform_pricing, continuous=self.continuous,
                has_lock=self.has_lock, list_price=self.list_price, salvage_price=self.salvage_price,
                operating=self.operating, locked_rent=self.locked_rent, notice=self.notice,
                earliest_close=self.earliest_close, lock_period=self.lock_period, holding=self.holding,
                cap=self.cap, ship_cost=self.ship_cost, ship_fixed=self.ship_fixed,
                effect_var0=self.effect_var0))
        return self._kernel_model

    def kernel_demand(self) -> tuple:
        """The demand model's :meth:`~liqenv.demand.DemandModel.kernel_arrays` (cached likewise)."""
        if self._kernel_demand is None:
            self._kernel_demand = self.demand.kernel_arrays()
        return self._kernel_demand

    def rows(self, x: np.ndarray, copies: np.ndarray | None) -> np.ndarray:
        """Copy rows of a per-copy array for the copies in ``copies``."""
        if self.C == 1 or copies is None:
            return x
        return x[copies]


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
    effect_w: np.ndarray  # (B,S) effect posterior: summed precision of the sales seen
    effect_wy: np.ndarray  # (B,S) effect posterior: precision-weighted log-effect observations
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
    cancelled_shipments: np.ndarray  # (B,) shipments cancelled: destination's closing announced now
    scaled_shipments: np.ndarray  # (B,) shipments scaled down: one source's fractions above 1
    violations: np.ndarray  # (B,) rule repairs made
    done: np.ndarray  # (B,) episode over
    #: (B,S) store s's share of ``reward``: its revenue - operating cost (locked rent
    #: included) - holding cost of the units it carries on - transfer cost of what it
    #: sends + its salvage value; sums over stores to ``reward`` (to float rounding)
    store_reward: np.ndarray


# ------------------------------------------------------------------ reset
def episode_keys(bit_generators: Sequence[Any]) -> np.ndarray:
    """One episode key per copy, drawn from each copy's Gymnasium bit generator.

    A key is one raw 64-bit draw shifted right by one bit: exactly what
    ``np_random.integers(0, 2**63, dtype=np.uint64)`` returns (for a range of
    2**63 Lemire's method takes one draw, never rejects, and keeps the top 63
    bits) at about a tenth of the cost, which matters when a batch of 1,024
    copies ends its episodes together.
    """
    return keys_from_raw(np.fromiter([b.random_raw() for b in bit_generators], np.uint64,
                                     len(bit_generators)))


def keys_from_raw(raw: np.ndarray) -> np.ndarray:
    """Episode keys from one raw 64-bit draw per copy (see :func:`episode_keys`;
    the batched front-ends draw the raws of many copies in one compiled call)."""
    return raw >> np.uint64(1)


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
        effect=effect, effect_w=np.zeros((B, S)), effect_wy=np.zeros((B, S)), sold_total=np.zeros(B, dtype=np.int64),
        salvaged_total=np.zeros(B, dtype=np.int64), profit_total=np.zeros(B))


# ------------------------------------------------------------------ rules
# The rules themselves are the compiled functions of liqenv.rules, shared
# with the step kernel; these wrappers evaluate them over a batch for masks
# and for analytic policies.
def markdown_allowed(p: Params, s: State, m: np.ndarray) -> np.ndarray:
    """Whether markdown(s) ``m`` ((B,S) or (B,S,K)) may be posted now by open stores.

    Period 0: within ``[initial_min, initial_max]``; later the current
    markdown, or, once held ``min_hold`` periods and with fewer than
    ``max_changes`` changes so far, a change of size in ``[step_min,
    step_max]`` (upward only when ``monotone``).
    """
    m = np.asarray(m, dtype=np.float64)
    m3 = np.ascontiguousarray(m if m.ndim == 3 else m[..., None])
    out = np.empty(m3.shape, dtype=np.bool_)
    _k.markdown_ok_batch(m3, s.t, s.markdown, s.hold, s.changes, p.rule_vector, out)
    return out if m.ndim == 3 else out[..., 0]


def markdown_ladder_mask(p: Params, s: State) -> np.ndarray:
    """(B,S,L) ladder levels each store may post now (closed stores and DCs:
    only their current markdown, a no-op)."""
    out = np.empty((s.batch_size, p.S, len(p.ladder)), dtype=np.bool_)
    _k.ladder_mask(s.t, s.markdown, s.hold, s.changes, s.close_at, p.selling, p.rule_vector,
                   p.ladder, out)
    return out


def close_allowed(p: Params, s: State, copies=None) -> np.ndarray:
    """(B,S) whether a closing may be announced now: closable, not closed or
    already announced (announcements are irrevocable), taking effect
    (``t + notice``) no earlier than ``earliest_close`` and within the horizon."""
    notice, earliest = p.rows(p.notice, copies), p.rows(p.earliest_close, copies)
    out = np.empty((s.batch_size, p.S), dtype=np.bool_)
    _k.close_mask(s.t, s.close_at, p.closable, np.ascontiguousarray(notice),
                  np.ascontiguousarray(earliest), p.T, out)
    return out


def ship_allowed(p: Params, s: State) -> np.ndarray:
    """(B,P) whether each allowed pair may ship now: the source is not closed
    before this period (a store closing now may still ship out) and holds
    units; the destination is not closed or scheduled to close by the arrival
    date ``t + lead``, which is within the horizon (:func:`liqenv.rules.ship_ok`)."""
    out = np.empty((s.batch_size, p.P), dtype=np.bool_)
    if p.P:
        _k.ship_mask(s.t, s.close_at, s.on_hand, p.src, p.dst, p.lead, p.T, out)
    return out


# ------------------------------------------------------------------- step

def _arg(x, dtype, shape) -> np.ndarray:
    """``x`` as a C-contiguous array of ``dtype`` and ``shape`` (no copy when it already is)."""
    if (type(x) is np.ndarray and x.dtype == dtype and x.shape == shape
            and x.flags.c_contiguous):
        return x
    return np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=dtype), shape))


def step(p: Params, s: State, d: Decision, copies: np.ndarray | None = None,
         strict: bool = False) -> StepResult:
    """Play one period for every copy; mutates ``s`` in place.

    Decisions that break a business rule are repaired to the nearest allowed
    choice and counted in ``violations``; with ``strict=True`` they raise
    :class:`RuleViolation` instead (the state is then left untouched).
    Shipments the rules cut inside an allowed action (to a store whose
    closing this action announces, or fractions of one source above 1) are
    counted in ``cancelled_shipments`` / ``scaled_shipments``; with
    ``strict=True`` they raise too.
    The period itself is :func:`liqenv._kernels.step_kernel`; the rules it
    applies are :mod:`liqenv.rules`.
    """
    if copies is not None and p.C > 1:
        raise ValueError("copies: step() runs the whole batch, aligned with the parameter rows")
    B, S, P = s.batch_size, p.S, p.P
    md = _arg(d.markdown, np.float64, (B, S))
    cl = _arg(d.close, np.bool_, (B, S))
    sh = _arg(d.ship, np.int64, (B, P))
    e = np.empty  # the kernel writes every output element
    r = StepResult(revenue=e(B), operating_cost=e(B), holding_cost=e(B), transfer_cost=e(B),
                   salvage_value=e(B), reward=e(B), sold=e((B, S), np.int64),
                   salvaged=e((B, S), np.int64), price=e((B, S)), shipped=e((B, P), np.int64),
                   cancelled_shipments=e(B, np.int64), scaled_shipments=e(B, np.int64),
                   violations=e(B, np.int64), done=e(B, np.bool_), store_reward=e((B, S)))
    md_bad, close_bad, ship_bad = e((B, S), np.bool_), e((B, S), np.bool_), e((B, P), np.bool_)
    ship_cut = e((B, P), np.bool_)
    # plain tuples in the field order of the kernel's records (see liqenv._kernels)
    n_bad = _k.step_kernel(
        p.kernel_model(), p.kernel_demand(),
        (s.t, s.key, s.on_hand, s.pipeline, s.markdown, s.hold, s.changes, s.close_at, s.locked,
         s.last_sold, s.effect, s.effect_w, s.effect_wy, s.sold_total, s.salvaged_total, s.profit_total),
        (md, cl, sh),
        (r.revenue, r.operating_cost, r.holding_cost, r.transfer_cost, r.salvage_value, r.reward,
         r.sold, r.salvaged, r.price, r.shipped, r.cancelled_shipments, r.scaled_shipments, r.violations,
         r.done, r.store_reward, md_bad, close_bad, ship_bad, ship_cut),
        strict)
    if n_bad and strict:
        parts = []
        for what, m in (("closing not allowed for stores", close_bad),
                        ("markdown not allowed for stores", md_bad),
                        ("transfer not allowed on pairs", ship_bad),
                        ("transfer cancelled (destination's closing announced in the same action) "
                         "or scaled down (one source's fractions above 1) on pairs", ship_cut)):
            if m.any():
                parts.append(f"{what} {np.argwhere(m)[:, 1].tolist()}")
        raise RuleViolation("; ".join(parts))
    return r
