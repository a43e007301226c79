"""Scenario parameters: frozen, validated dataclasses (MODEL.md sections 1-5).

A :class:`Scenario` is everything public about a liquidation event: the
stores and their leases, the demand model, the markdown rules, the transfer
network and the costs.  It is immutable; :meth:`Scenario.with_overrides`
returns a modified copy (this is what ``gymnasium.make(id, **overrides)``
calls).  Every constructor validates its inputs and raises ``ValueError``
naming the field and the bad value; an override that names no field of the
scenario raises :class:`UnknownField`, a ``TypeError``.  Derived quantities (arrays over stores
and periods, the price grid, the maximum lead time, ...) are computed
properties, never stored beside their inputs.

Scenarios load from and save to YAML or JSON (``load_scenario`` /
``Scenario.save``); YAML is read with ``yaml.safe_load`` only.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Union

import numpy as np

from .rules import NO_CLOSE  # the sentinel "no closing scheduled" / "no rent lock", defined once

__all__ = [
    "LeaseTerms",
    "StoreParams",
    "TransferNetwork",
    "MarkdownRules",
    "ValuationDemand",
    "ElasticityDemand",
    "DemandParams",
    "Scenario",
    "load_scenario",
    "DEFAULT_LADDER",
    "NO_CLOSE",
    "UnknownField",
]

#: Markdown ladder of MODEL.md section 2: 0%, 5%, ..., 95%.
DEFAULT_LADDER: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(20))

_TOL = 1e-9


# --------------------------------------------------------------------------
# validation helpers
class UnknownField(TypeError, ValueError):
    """An override (a keyword of ``gymnasium.make``) that names no field of the scenario.

    A ``TypeError``, as Python and Gymnasium raise for an unexpected keyword
    (clients such as torchrl's ``GymEnv`` retry without the keyword on a
    ``TypeError``); also a ``ValueError``, so that the scripts, which report
    every bad input in one line, catch it with the others.
    """


def _fail(field_name: str, value: Any, why: str) -> None:
    raise ValueError(f"{field_name}={value!r}: {why}")


def _unknown(key: str, value: Any, why: str) -> None:
    raise UnknownField(f"{key}={value!r}: {why}")


def _nested(key: str, cls: type, data: dict) -> Any:
    """``cls(**data)`` for a nested mapping (``transfers``, ``markdowns``, a store's ``lease``,
    a store), its errors naming ``key``: a missing field is a ValueError, an unknown one an
    :class:`UnknownField` (Python's ``TypeError`` would name only the class)."""
    try:
        return cls(**data)
    except UnknownField:
        raise
    except TypeError as e:
        why = str(e).replace(f"{cls.__name__}.__init__() ", "")
        if "unexpected keyword" in why:
            raise UnknownField(f"{key}: {why}") from None
        raise ValueError(f"{key}: {why}") from None


#: Most periods of an event (per-period arrays are allocated up front).
MAX_HORIZON = 100_000
#: Largest mean demand a scenario may ask for, per store and period (arrivals, or base units at
#: list price; a lift multiplies it by at most MAX_LIFT): draws stay far inside int64.
MAX_RATE = 1e9
MAX_LIFT = 1e3
#: Largest integer field (units, periods, days): the kernels count in int64, sums included.
INT_MAX = 2**31 - 1


def _check_int(name: str, value: Any, lo: int | None = None, hi: int | None = INT_MAX) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        _fail(name, value, "must be an integer")
    if lo is not None and value < lo:
        _fail(name, value, f"must be >= {lo}")
    if hi is not None and value > hi:
        _fail(name, value, f"must be <= {hi}")


def _check_real(name: str, value: Any, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False, hi_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        _fail(name, value, "must be a number")
    if not math.isfinite(float(value)):
        _fail(name, value, "must be finite")
    if lo is not None and (value <= lo if lo_open else value < lo):
        _fail(name, value, f"must be {'>' if lo_open else '>='} {lo}")
    if hi is not None and (value >= hi if hi_open else value > hi):
        _fail(name, value, f"must be {'<' if hi_open else '<='} {hi}")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        _fail(name, value, "must be true or false")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        _fail(name, value, f"must be one of {', '.join(choices)}")


def _as_tuple(value: Any) -> Any:
    """Lists (from YAML/JSON) become tuples so the dataclasses stay hashable."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_as_tuple(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _freeze(obj: Any, *names: str) -> None:
    for n in names:
        object.__setattr__(obj, n, _as_tuple(getattr(obj, n)))


def _check_real_or_seq(name: str, value: Any, lo: float | None = None, lo_open: bool = False,
                       hi: float | None = None) -> None:
    if isinstance(value, tuple):
        if len(value) == 0:
            _fail(name, value, "must not be empty")
        for i, v in enumerate(value):
            _check_real_or_seq(f"{name}[{i}]", v, lo, lo_open, hi)
    else:
        _check_real(name, value, lo=lo, lo_open=lo_open, hi=hi)


# --------------------------------------------------------------------------
@dataclass(frozen=True)
class LeaseTerms:
    """A store's lease (MODEL.md section 5; Craig & Raman 2016 section 7.2).

    Attributes:
        earliest_close: first period in which a closing may take effect.
        notice: periods between announcing a closing and its taking effect.
        lock_period: ``t_k`` of the rent lock "open in period t_k means rent
            through t_end" (``None``: no lock).
        lock_until: ``t_end`` of the rent lock (inclusive).
        rent_fraction: share of the operating cost that is rent, owed through
            ``lock_until`` once the lock is triggered.
    """

    earliest_close: int = 0
    notice: int = 0
    lock_period: int | None = None
    lock_until: int | None = None
    rent_fraction: float = 1.0

    def __post_init__(self) -> None:
        _check_int("earliest_close", self.earliest_close, lo=0)
        _check_int("notice", self.notice, lo=0)
        if (self.lock_period is None) != (self.lock_until is None):
            _fail("lock_period", self.lock_period, "lock_period and lock_until go together")
        if self.lock_period is not None:
            _check_int("lock_period", self.lock_period, lo=0)
            _check_int("lock_until", self.lock_until, lo=0)
            if self.lock_until < self.lock_period:
                _fail("lock_until", self.lock_until, f"must be >= lock_period ({self.lock_period})")
        _check_real("rent_fraction", self.rent_fraction, lo=0.0, hi=1.0)


@dataclass(frozen=True)
class StoreParams:
    """One store or distribution centre (MODEL.md sections 1 and 5).

    ``operating_cost`` is a per-period cost paid while the store is open: one
    number for every period or a tuple with one entry per period.  A
    distribution centre (``is_dc``) holds and ships stock but has no
    customers.
    """

    name: str = "store"
    inventory: int = 0
    list_price: float = 1.0
    operating_cost: Union[float, tuple[float, ...]] = 0.0
    salvage_rate: float = 0.0
    is_dc: bool = False
    closable: bool = True
    lease: LeaseTerms = field(default_factory=LeaseTerms)

    def __post_init__(self) -> None:
        _freeze(self, "operating_cost")
        if isinstance(self.lease, dict):
            object.__setattr__(self, "lease", _nested("lease", LeaseTerms, self.lease))
        if not isinstance(self.name, str):
            _fail("name", self.name, "must be a string")
        _check_int("inventory", self.inventory, lo=0)
        _check_real("list_price", self.list_price, lo=0.0, lo_open=True)
        _check_real_or_seq("operating_cost", self.operating_cost, lo=0.0)
        _check_real("salvage_rate", self.salvage_rate, lo=0.0, hi=1.0)
        _check_bool("is_dc", self.is_dc)
        _check_bool("closable", self.closable)
        if not isinstance(self.lease, LeaseTerms):
            _fail("lease", self.lease, "must be a LeaseTerms")


@dataclass(frozen=True)
class TransferNetwork:
    """Inter-store transfers (MODEL.md section 4.2; Craig & Raman section 4).

    Matrices are indexed ``[source][destination]`` with one row per store.
    ``quantities`` is the menu of transfer sizes each allowed pair chooses
    from each period, as fractions of the source's on-hand units at decision
    time (units shipped = ``floor(fraction * on_hand)``; when one source's
    fractions sum above 1 its shipments are scaled down pro rata); the first
    entry must be 0 (ship nothing).
    """

    lead_time: tuple[tuple[int, ...], ...]
    unit_cost: tuple[tuple[float, ...], ...]
    allowed: tuple[tuple[bool, ...], ...]
    fixed_cost: tuple[tuple[float, ...], ...] | None = None
    quantities: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)

    def __post_init__(self) -> None:
        _freeze(self, "lead_time", "unit_cost", "allowed", "fixed_cost", "quantities")
        n = len(self.lead_time)
        for name in ("lead_time", "unit_cost", "allowed", "fixed_cost"):
            m = getattr(self, name)
            if m is None:
                continue
            if not isinstance(m, tuple) or len(m) != n or any(
                not isinstance(r, tuple) or len(r) != n for r in m
            ):
                _fail(name, m, f"must be a square {n}x{n} matrix (one row per store)")
        for i in range(n):
            for j in range(n):
                _check_int(f"lead_time[{i}][{j}]", self.lead_time[i][j], lo=0)
                _check_real(f"unit_cost[{i}][{j}]", self.unit_cost[i][j], lo=0.0)
                _check_bool(f"allowed[{i}][{j}]", self.allowed[i][j])
                if self.fixed_cost is not None:
                    _check_real(f"fixed_cost[{i}][{j}]", self.fixed_cost[i][j], lo=0.0)
            if self.allowed[i][i]:
                _fail(f"allowed[{i}][{i}]", True, "a store cannot ship to itself")
        q = self.quantities
        if not isinstance(q, tuple) or len(q) < 2:
            _fail("quantities", q, "needs at least two entries (0 and one transfer size)")
        for k, v in enumerate(q):
            _check_real(f"quantities[{k}]", v, lo=0.0, hi=1.0)
        if q[0] != 0:
            _fail("quantities", q, "the first entry must be 0 (ship nothing)")
        if any(b <= a for a, b in zip(q, q[1:])):
            _fail("quantities", q, "must be strictly increasing")

    @property
    def n_stores(self) -> int:
        return len(self.lead_time)

    @cached_property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        """Allowed (source, destination) pairs in row-major order."""
        return tuple((i, j) for i in range(self.n_stores) for j in range(self.n_stores)
                     if self.allowed[i][j])

    @staticmethod
    def uniform(n_stores: int, lead_time: int, unit_cost: float, fixed_cost: float = 0.0,
                quantities: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0),
                allowed: Any = None) -> "TransferNetwork":
        """A network where every allowed pair has the same lead time and costs."""
        if allowed is None:
            allowed = [[i != j for j in range(n_stores)] for i in range(n_stores)]
        return TransferNetwork(
            lead_time=[[lead_time] * n_stores for _ in range(n_stores)],
            unit_cost=[[unit_cost] * n_stores for _ in range(n_stores)],
            fixed_cost=[[fixed_cost] * n_stores for _ in range(n_stores)],
            allowed=allowed,
            quantities=quantities,
        )


@dataclass(frozen=True)
class MarkdownRules:
    """Markdown ladder and business rules (MODEL.md section 2; markdown blog).

    All markdowns are fractions of list price.  ``initial_min/max`` bound the
    markdown of period 0; ``step_min/max`` bound the size of a change;
    ``min_hold`` is how many periods a level is held before it may change;
    ``max_changes`` caps the number of changes after period 0 (``None``:
    unlimited); ``monotone`` forbids decreasing a markdown; with
    ``uniform_pricing`` every store posts the same markdown (one decision for
    the chain).
    """

    ladder: tuple[float, ...] = DEFAULT_LADDER
    monotone: bool = True
    initial_min: float | None = None
    initial_max: float | None = None
    step_min: float = 0.0
    step_max: float | None = None
    min_hold: int = 1
    max_changes: int | None = None
    uniform_pricing: bool = False

    def __post_init__(self) -> None:
        _freeze(self, "ladder")
        if not isinstance(self.ladder, tuple) or len(self.ladder) < 1:
            _fail("ladder", self.ladder, "must be a non-empty list of markdowns")
        for k, v in enumerate(self.ladder):
            _check_real(f"ladder[{k}]", v, lo=0.0, hi=1.0, hi_open=True)
        if any(b <= a for a, b in zip(self.ladder, self.ladder[1:])):
            _fail("ladder", self.ladder, "must be strictly increasing")
        _check_bool("monotone", self.monotone)
        for name in ("initial_min", "initial_max", "step_max"):
            if getattr(self, name) is not None:
                _check_real(name, getattr(self, name), lo=0.0, hi=1.0)
        _check_real("step_min", self.step_min, lo=0.0, hi=1.0)
        if self.initial_max is not None and self.initial_max < self.initial_min_or_floor:
            _fail("initial_max", self.initial_max, f"must be >= initial_min ({self.initial_min})")
        if self.step_max is not None and self.step_max < self.step_min:
            _fail("step_max", self.step_max, f"must be >= step_min ({self.step_min})")
        _check_int("min_hold", self.min_hold, lo=1)
        if self.max_changes is not None:
            _check_int("max_changes", self.max_changes, lo=0)
        _check_bool("uniform_pricing", self.uniform_pricing)
        lo = self.initial_min_or_floor
        hi = np.inf if self.initial_max is None else self.initial_max
        if not any(lo - _TOL <= m <= hi + _TOL for m in self.ladder):
            _fail("initial_min", (self.initial_min, self.initial_max),
                  "no ladder markdown lies in [initial_min, initial_max]")

    # ``None`` bounds mean "no bound"; these give the numbers the rules use.
    @property
    def initial_min_or_floor(self) -> float:
        return -np.inf if self.initial_min is None else float(self.initial_min)


_VALUATIONS = ("uniform", "exponential", "weibull")
_ARRIVALS = ("poisson", "uniform")


@dataclass(frozen=True)
class ValuationDemand:
    """Valuation demand (MODEL.md section 3; Yang et al. 2019 section 3).

    Customers arrive ``Poisson(arrival_rate)`` per period (or uniformly on
    ``{rate - arrival_spread, ..., rate + arrival_spread}``); each values the
    good at ``scale * decay**t * X`` with ``X`` from Uniform(0,1),
    Exponential(1) or Weibull(``weibull_shape``, 1) and buys one unit if the
    valuation is at least the price.  ``arrival_rate`` is one number, a tuple
    with one entry per period, or a tuple with one entry per store, each a
    number or a per-period tuple.  ``scale`` is one number or one per store.
    """

    kind: typing.ClassVar[str] = "valuation"
    arrival_rate: Any = 100.0
    arrival: str = "poisson"
    arrival_spread: int = 0
    valuation: str = "uniform"
    weibull_shape: float = 4.0
    decay: float = 0.99
    scale: Any = 1.0

    def __post_init__(self) -> None:
        _freeze(self, "arrival_rate", "scale")
        _check_real_or_seq("arrival_rate", self.arrival_rate, lo=0.0, hi=MAX_RATE)
        _check_choice("arrival", self.arrival, _ARRIVALS)
        _check_int("arrival_spread", self.arrival_spread, lo=0)
        _check_choice("valuation", self.valuation, _VALUATIONS)
        _check_real("weibull_shape", self.weibull_shape, lo=0.0, lo_open=True)
        _check_real("decay", self.decay, lo=0.0, hi=1.0, lo_open=True)
        _check_real_or_seq("scale", self.scale, lo=0.0, lo_open=True)
        if self.arrival == "poisson" and self.arrival_spread != 0:
            _fail("arrival_spread", self.arrival_spread, "only applies to arrival='uniform'")


@dataclass(frozen=True)
class ElasticityDemand:
    """Elasticity demand (MODEL.md section 3; Craig & Raman 2016 section 5.3).

    Expected units wanted in store ``s``, period ``t``:
    ``base[s] * lift(t) * (p / list_price)**(-elasticity) * (z / z0)**beta_inv * u[s]``
    with ``lift(t) = lift_end + (lift_start - lift_end) * lift_decay**t`` (or
    the explicit ``lift`` tuple), ``z0`` the store's initial inventory (or
    ``reference_inventory``), ``u[s]`` a hidden lognormal store effect with
    mean 1 and coefficient of variation ``store_effect_cv``, drawn at reset.
    The count is gamma-Poisson: a Gamma multiplier with mean 1 and CV ``cv``
    on the mean, then Poisson, i.e. negative binomial with shape ``1/cv**2``.
    """

    kind: typing.ClassVar[str] = "elasticity"
    base: Any = 10.0
    elasticity: float = 2.0
    lift_start: float = 2.5
    lift_end: float = 1.0
    lift_decay: float = 0.95
    lift: tuple[float, ...] | None = None
    beta_inv: float = 0.0
    reference_inventory: Any = None
    store_effect_cv: float = 0.0
    cv: float = 0.5

    def __post_init__(self) -> None:
        _freeze(self, "base", "lift", "reference_inventory")
        _check_real_or_seq("base", self.base, lo=0.0, hi=MAX_RATE)
        _check_real("elasticity", self.elasticity, lo=0.0)
        _check_real("lift_start", self.lift_start, lo=0.0, hi=MAX_LIFT)
        _check_real("lift_end", self.lift_end, lo=0.0, hi=MAX_LIFT)
        _check_real("lift_decay", self.lift_decay, lo=0.0, hi=1.0)
        if self.lift is not None:
            _check_real_or_seq("lift", self.lift, lo=0.0, hi=MAX_LIFT)
        _check_real("beta_inv", self.beta_inv, lo=0.0)
        if self.reference_inventory is not None:
            _check_real_or_seq("reference_inventory", self.reference_inventory, lo=0.0, lo_open=True)
        _check_real("store_effect_cv", self.store_effect_cv, lo=0.0)
        _check_real("cv", self.cv, lo=0.0)


DemandParams = Union[ValuationDemand, ElasticityDemand]
_DEMANDS = {"valuation": ValuationDemand, "elasticity": ElasticityDemand}


def _per(name: str, value: Any, n_stores: int, horizon: int) -> np.ndarray:
    """Broadcast a scalar / per-period / per-store(-per-period) value to (S, T)."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return np.full((n_stores, horizon), float(a))
    if a.ndim == 1:
        if len(a) == horizon and not (len(a) == n_stores and n_stores > 1 and horizon != n_stores):
            return np.broadcast_to(a, (n_stores, horizon)).copy()
        if len(a) == n_stores:
            return np.repeat(a[:, None], horizon, axis=1)
        _fail(name, value, f"needs 1, {horizon} (periods) or {n_stores} (stores) entries")
    if a.shape == (n_stores, horizon):
        return a.copy()
    if isinstance(value, tuple) and len(value) == n_stores:
        return np.stack([_per(f"{name}[{i}]", v, 1, horizon)[0] for i, v in enumerate(value)])
    _fail(name, value, f"must broadcast to ({n_stores} stores, {horizon} periods)")
    raise AssertionError  # pragma: no cover


def _per_store(name: str, value: Any, n_stores: int) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return np.full(n_stores, float(a))
    if a.shape == (n_stores,):
        return a.copy()
    _fail(name, value, f"needs 1 or {n_stores} (one per store) entries")
    raise AssertionError  # pragma: no cover


# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """A complete liquidation event (MODEL.md).

    Attributes:
        name: label used in tables and renders.
        horizon: number of periods ``T``.
        stores: one :class:`StoreParams` per store (or DC).
        demand: :class:`ValuationDemand` or :class:`ElasticityDemand`.
        markdowns: :class:`MarkdownRules`.
        transfers: :class:`TransferNetwork` or ``None`` (no transfers).
        pricing: ``"ladder"`` (markdown ladder) or ``"continuous"`` (a price
            in ``[0, max_price]``; single-store scenarios only).
        max_price: upper end of continuous prices; ``None`` derives it from
            the valuation distribution (see :attr:`price_cap`).
        holding_cost: cost per unit carried from one period to the next.
        unit_cost: cost value of a unit (reported net recovery only).
        period_unit: "day" or "week", for labels.
        observe_parameters: append the scenario's public parameters to the
            observation (per store: this period's operating cost and expected
            demand at list price; for the chain: the demand CV and the mean
            transfer cost; see :class:`liqenv.spaces.ObservationLayout`).  For
            scenario generators whose draws change these every episode
            (``TwoStore-v1``): the analytic policies read them from the
            scenario, a learned policy needs them in its observation.
    """

    name: str
    horizon: int
    stores: tuple[StoreParams, ...]
    demand: DemandParams = field(default_factory=ValuationDemand)
    markdowns: MarkdownRules = field(default_factory=MarkdownRules)
    transfers: TransferNetwork | None = None
    pricing: str = "ladder"
    max_price: float | None = None
    holding_cost: float = 0.0
    unit_cost: float = 0.5
    period_unit: str = "day"
    observe_parameters: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.stores, (list, tuple)):
            object.__setattr__(self, "stores", tuple(
                _nested("stores", StoreParams, s)  # its __post_init__ names a bad lease
                if isinstance(s, dict) else s for s in self.stores))
        if isinstance(self.demand, dict):
            d = dict(self.demand)
            kind = d.pop("kind", "valuation")
            _check_choice("demand.kind", kind, tuple(_DEMANDS))
            known = {f.name for f in fields(_DEMANDS[kind])}
            for k in d:
                if k not in known:  # e.g. an elasticity field while kind is missing (valuation)
                    _unknown(f"demand.{k}", d[k], f"is not a field of {kind} demand (demand.kind={kind!r})")
            object.__setattr__(self, "demand", _DEMANDS[kind](**d))
        if isinstance(self.markdowns, dict):
            object.__setattr__(self, "markdowns", _nested("markdowns", MarkdownRules, self.markdowns))
        if isinstance(self.transfers, dict):
            object.__setattr__(self, "transfers", _nested("transfers", TransferNetwork, self.transfers))
        if not isinstance(self.name, str):
            _fail("name", self.name, "must be a string")
        _check_int("horizon", self.horizon, lo=1, hi=MAX_HORIZON)
        if not isinstance(self.stores, tuple) or len(self.stores) == 0:
            _fail("stores", self.stores, "needs at least one store")
        for s in self.stores:
            if not isinstance(s, StoreParams):
                _fail("stores", s, "entries must be StoreParams")
        if not isinstance(self.demand, (ValuationDemand, ElasticityDemand)):
            _fail("demand", self.demand, "must be ValuationDemand or ElasticityDemand")
        if not isinstance(self.markdowns, MarkdownRules):
            _fail("markdowns", self.markdowns, "must be MarkdownRules")
        _check_choice("pricing", self.pricing, ("ladder", "continuous"))
        if self.max_price is not None:
            _check_real("max_price", self.max_price, lo=0.0, lo_open=True)
        _check_real("holding_cost", self.holding_cost, lo=0.0)
        _check_real("unit_cost", self.unit_cost, lo=0.0, lo_open=True)
        _check_choice("period_unit", self.period_unit, ("day", "week"))
        if not isinstance(self.observe_parameters, bool):
            _fail("observe_parameters", self.observe_parameters, "must be true or false")
        T, S = self.horizon, len(self.stores)
        if sum(s.inventory for s in self.stores) == 0:
            _fail("stores.inventory", [s.inventory for s in self.stores], "the chain holds no units")
        if all(s.is_dc for s in self.stores):
            _fail("is_dc", True, "at least one store must have customers")
        for i, s in enumerate(self.stores):
            if isinstance(s.operating_cost, tuple) and len(s.operating_cost) != T:
                _fail(f"stores[{i}].operating_cost", s.operating_cost,
                      f"needs one entry per period ({T})")
            le = s.lease
            if le.earliest_close > T:
                _fail(f"stores[{i}].lease.earliest_close", le.earliest_close,
                      f"is past the horizon ({T} periods)")
            if le.lock_period is not None and le.lock_until >= T:
                _fail(f"stores[{i}].lease.lock_until", le.lock_until,
                      f"is past the horizon (last period is {T - 1})")
        if self.transfers is not None:
            if not isinstance(self.transfers, TransferNetwork):
                _fail("transfers", self.transfers, "must be a TransferNetwork")
            if self.transfers.n_stores != S:
                _fail("transfers.lead_time", self.transfers.lead_time,
                      f"must be {S}x{S} (one row per store), not "
                      f"{self.transfers.n_stores}x{self.transfers.n_stores}")
        if self.pricing == "continuous":
            if S != 1:
                _fail("pricing", self.pricing, "continuous prices need a single-store scenario")
            if self.markdowns.uniform_pricing:
                _fail("uniform_pricing", True, "meaningless with one store")
        d = self.demand
        if isinstance(d, ValuationDemand):
            _per("arrival_rate", d.arrival_rate, S, T)
            _per_store("scale", d.scale, S)
            if d.arrival == "uniform" and np.any(self.arrival_rates < d.arrival_spread):
                _fail("arrival_spread", d.arrival_spread, "exceeds the arrival rate")
            if d.arrival == "uniform" and np.any(self.arrival_rates != np.round(self.arrival_rates)):
                _fail("arrival_rate", d.arrival_rate, "must be whole numbers with arrival='uniform'")
        else:
            _per_store("base", d.base, S)
            if d.lift is not None and len(d.lift) != T:
                _fail("lift", d.lift, f"needs one entry per period ({T})")
            if d.reference_inventory is not None:
                _per_store("reference_inventory", d.reference_inventory, S)
            if self.pricing == "continuous" and d.elasticity > 0:
                pass  # prices are floored at 1% of list (see LiquidationDynamics)

    # ---------------------------------------------------------------- derived
    @property
    def n_stores(self) -> int:
        return len(self.stores)

    @cached_property
    def inventory(self) -> np.ndarray:
        """Initial units per store, shape (S,)."""
        return np.array([s.inventory for s in self.stores], dtype=np.int64)

    @property
    def total_inventory(self) -> int:
        return int(self.inventory.sum())

    @cached_property
    def list_price(self) -> np.ndarray:
        return np.array([s.list_price for s in self.stores], dtype=float)

    @cached_property
    def salvage_price(self) -> np.ndarray:
        """Jobber's price per unit, ``salvage_rate * list_price``, shape (S,)."""
        return np.array([s.salvage_rate * s.list_price for s in self.stores], dtype=float)

    @cached_property
    def is_dc(self) -> np.ndarray:
        return np.array([s.is_dc for s in self.stores], dtype=bool)

    @cached_property
    def closable(self) -> np.ndarray:
        return np.array([s.closable for s in self.stores], dtype=bool)

    @cached_property
    def operating_costs(self) -> np.ndarray:
        """Operating cost per store and period, shape (S, T)."""
        return np.stack([_per("operating_cost", s.operating_cost, 1, self.horizon)[0]
                         for s in self.stores])

    @cached_property
    def notice(self) -> np.ndarray:
        return np.array([s.lease.notice for s in self.stores], dtype=np.int64)

    @cached_property
    def earliest_close(self) -> np.ndarray:
        return np.array([s.lease.earliest_close for s in self.stores], dtype=np.int64)

    @cached_property
    def lock_period(self) -> np.ndarray:
        """``t_k`` per store (``NO_CLOSE`` where there is no rent lock)."""
        return np.array([NO_CLOSE if s.lease.lock_period is None else s.lease.lock_period
                         for s in self.stores], dtype=np.int64)

    @cached_property
    def lock_until(self) -> np.ndarray:
        return np.array([-1 if s.lease.lock_until is None else s.lease.lock_until
                         for s in self.stores], dtype=np.int64)

    @cached_property
    def locked_rent(self) -> np.ndarray:
        """Rent owed per store and period under a triggered lock, shape (S, T)."""
        frac = np.array([s.lease.rent_fraction for s in self.stores])
        t = np.arange(self.horizon)
        owed = t[None, :] <= self.lock_until[:, None]
        return self.operating_costs * frac[:, None] * owed

    @cached_property
    def arrival_rates(self) -> np.ndarray:
        """Expected arrivals per store and period, shape (S, T) (valuation demand)."""
        d = self.demand
        if not isinstance(d, ValuationDemand):
            raise AttributeError("arrival_rates: only valuation demand has arrivals")
        rates = _per("arrival_rate", d.arrival_rate, self.n_stores, self.horizon)
        rates[self.is_dc] = 0.0
        return rates

    @cached_property
    def selling(self) -> np.ndarray:
        """Indices of stores with customers (not DCs)."""
        return np.flatnonzero(~self.is_dc)

    @cached_property
    def ladder(self) -> np.ndarray:
        return np.asarray(self.markdowns.ladder, dtype=float)

    @property
    def price_cap(self) -> float:
        """Upper end of continuous prices: ``max_price`` or, by default, the
        price at which one customer in 10,000 still buys in period 0 (list
        price for uniform valuations)."""
        if self.max_price is not None:
            return float(self.max_price)
        d = self.demand
        scale = float(np.max(_per_store("scale", getattr(d, "scale", 1.0), self.n_stores)))
        if isinstance(d, ValuationDemand):
            if d.valuation == "uniform":
                return scale
            if d.valuation == "exponential":
                return scale * math.log(1e4)
            return scale * math.log(1e4) ** (1.0 / d.weibull_shape)
        return float(self.list_price.max())

    @cached_property
    def max_lead(self) -> int:
        """Longest lead time of an allowed pair (0 without transfers)."""
        if self.transfers is None or not self.transfers.pairs:
            return 0
        return max(self.transfers.lead_time[i][j] for i, j in self.transfers.pairs)

    @property
    def has_transfers(self) -> bool:
        return self.transfers is not None and len(self.transfers.pairs) > 0

    @property
    def has_closing(self) -> bool:
        return bool(self.closable.any())

    # ------------------------------------------------------------- overrides
    def with_overrides(self, **overrides: Any) -> "Scenario":
        """A copy with fields replaced; see :func:`apply_overrides`."""
        return apply_overrides(self, overrides)

    # -------------------------------------------------------------- file I/O
    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists, numbers, strings) that :meth:`from_dict` reads back."""
        out = _plain(dataclasses.asdict(self))
        out["demand"] = {"kind": self.demand.kind, **out["demand"]}
        return out

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "Scenario":
        if not isinstance(data, dict):
            _fail("scenario", data, "must be a mapping")
        known = {f.name for f in fields(Scenario)}
        for k in data:
            if k not in known:
                _fail(k, data[k], "is not a Scenario field")
        try:
            return Scenario(**data)
        except TypeError as e:  # unknown nested keyword
            raise ValueError(f"scenario: {e}") from None

    def save(self, path: str | Path) -> None:
        """Write YAML (``.yaml``/``.yml``) or JSON (``.json``)."""
        path = Path(path)
        data = self.to_dict()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            path.write_text(yaml.safe_dump(data, sort_keys=False))
        elif path.suffix == ".json":
            path.write_text(json.dumps(data, indent=2))
        else:
            _fail("path", str(path), "must end in .yaml, .yml or .json")


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario written by :meth:`Scenario.save` (YAML via safe_load, or JSON).

    A file that cannot be read or parsed raises a one-line ``ValueError``
    naming the path (and the line and column of a syntax error).
    """
    import yaml

    path = Path(path)
    if path.suffix not in (".yaml", ".yml", ".json"):
        _fail("path", str(path), "must end in .yaml, .yml or .json")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        _fail("path", str(path), f"cannot be read ({getattr(e, 'strerror', None) or type(e).__name__})")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as e:
        _fail("path", str(path), f"is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})")
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        why = " ".join(str(getattr(e, "problem", None) or type(e).__name__).split())
        _fail("path", str(path), f"is not valid YAML ({where}{why})")
    return Scenario.from_dict(data)


# --------------------------------------------------------------------------
# overrides
_STORE_FIELDS = {f.name for f in fields(StoreParams)} - {"name", "lease"}
_LEASE_FIELDS = {f.name for f in fields(LeaseTerms)}
_RULE_FIELDS = {f.name for f in fields(MarkdownRules)}
_SCENARIO_FIELDS = {f.name for f in fields(Scenario)}
#: plain names that mean something other than the field of the same name
_ALIASES = {
    "transfer_cost": ("transfers", "unit_cost"),
    "transfer_fixed_cost": ("transfers", "fixed_cost"),
    "lead_time": ("transfers", "lead_time"),
    "transfer_quantities": ("transfers", "quantities"),
    "monotone_markdowns": ("markdowns", "monotone"),
}


def _expected_type(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls).get(name)


def _coerce(cls: type, name: str, value: Any, label: str) -> Any:
    """Type-check an override value against the field's annotation."""
    hint = _expected_type(cls, name)
    value = _as_tuple(value)
    if hint in (int,) and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        _fail(label, value, "must be an integer")
    if hint in (float,) and (isinstance(value, bool) or not isinstance(value, (int, float))):
        _fail(label, value, "must be a number")
    if hint in (bool,) and not isinstance(value, bool):
        _fail(label, value, "must be true or false")
    if hint in (str,) and not isinstance(value, str):
        _fail(label, value, "must be a string")
    return value


def _set_stores(sc: Scenario, name: str, value: Any, lease: bool) -> tuple[StoreParams, ...]:
    S = sc.n_stores
    value = _as_tuple(value)
    per_period = name == "operating_cost"
    if isinstance(value, tuple) and not (per_period and len(value) == sc.horizon and S != sc.horizon):
        if len(value) != S:
            _fail(name, value, f"needs one value or one per store ({S})")
        values = value
    else:
        values = (value,) * S
    out = []
    for s, v in zip(sc.stores, values):
        if lease:
            v = _coerce(LeaseTerms, name, v, name)
            out.append(dataclasses.replace(s, lease=dataclasses.replace(s.lease, **{name: v})))
        else:
            v = _coerce(StoreParams, name, v, name)
            out.append(dataclasses.replace(s, **{name: v}))
    return tuple(out)


def _transfer_override(sc: Scenario, name: str, value: Any) -> TransferNetwork:
    tn = sc.transfers
    if tn is None:
        _unknown(name, value, "this scenario has no transfer network")
    value = _as_tuple(value)
    if name in ("lead_time", "unit_cost", "fixed_cost") and not isinstance(value, tuple):
        if name == "lead_time":
            _check_int(name, value, lo=0)
        else:
            _check_real(name, value, lo=0.0)
        value = tuple(tuple(value for _ in range(tn.n_stores)) for _ in range(tn.n_stores))
    n = tn.n_stores
    if name in ("lead_time", "unit_cost", "fixed_cost", "allowed") and value is not None and (
            not isinstance(value, tuple) or len(value) != n
            or any(not isinstance(r, tuple) or len(r) != n for r in value)):
        _fail(name, value, f"must be a square {n}x{n} matrix (one row per store)")
    return dataclasses.replace(tn, **{name: value})


def apply_overrides(sc: Scenario, overrides: dict[str, Any]) -> Scenario:
    """Return ``sc`` with ``overrides`` applied.

    Keys are plain field names, looked up in this order: the scenario
    (``horizon``, ``pricing``, ``holding_cost``, ...), the stores (applied to
    every store; a list gives one value per store: ``inventory``,
    ``salvage_rate``, ``operating_cost``, ...), the leases (``notice``,
    ``earliest_close``, ...), the markdown rules (``min_hold``,
    ``uniform_pricing``, ...), the demand model (``arrival_rate``, ``decay``,
    ``valuation``, ``cv``, ...), and the aliases ``transfer_cost``,
    ``transfer_fixed_cost``, ``lead_time``, ``transfer_quantities``,
    ``monotone_markdowns``.  Dotted paths address one field exactly:
    ``"markdowns.min_hold"``, ``"stores.3.inventory"``,
    ``"stores.0.lease.notice"``, ``"demand.cv"``, ``"transfers.lead_time"``
    (``__`` may stand for ``.``).  A key that names no field of ``sc`` raises
    :class:`UnknownField` (a ``TypeError``), a bad value ``ValueError``, each
    naming the key and the value.
    """
    for raw_key, value in overrides.items():
        key = raw_key.replace("__", ".")
        if "." in key:
            sc = _apply_path(sc, key, value)
        else:
            sc = _apply_plain(sc, key, value)
    return sc


def _apply_plain(sc: Scenario, key: str, value: Any) -> Scenario:
    if key in _ALIASES:
        group, name = _ALIASES[key]
        return _apply_path(sc, f"{group}.{name}", value)
    if key in _SCENARIO_FIELDS and key not in ("stores", "demand", "markdowns", "transfers"):
        if key == "max_price" and value is None:
            return dataclasses.replace(sc, max_price=None)
        return dataclasses.replace(sc, **{key: _coerce(Scenario, key, value, key)})
    if key in _STORE_FIELDS:
        return dataclasses.replace(sc, stores=_set_stores(sc, key, value, lease=False))
    if key in _LEASE_FIELDS:
        return dataclasses.replace(sc, stores=_set_stores(sc, key, value, lease=True))
    if key in _RULE_FIELDS:
        return dataclasses.replace(
            sc, markdowns=dataclasses.replace(sc.markdowns, **{key: _coerce(MarkdownRules, key, value, key)}))
    dcls = type(sc.demand)
    if key in {f.name for f in fields(dcls)}:
        return dataclasses.replace(
            sc, demand=dataclasses.replace(sc.demand, **{key: _coerce(dcls, key, value, key)}))
    other = ElasticityDemand if dcls is ValuationDemand else ValuationDemand
    if key in {f.name for f in fields(other)}:
        _unknown(key, value, f"is a field of {other.__name__}, but this scenario uses {dcls.__name__}")
    _unknown(key, value, "names no scenario field")
    raise AssertionError  # pragma: no cover


def _apply_path(sc: Scenario, key: str, value: Any) -> Scenario:
    parts = key.split(".")
    head = parts[0]
    if head == "stores" and len(parts) >= 3:
        try:
            idx = int(parts[1])
        except ValueError:
            _unknown(key, value, "store index must be an integer")
        if not 0 <= idx < sc.n_stores:
            _unknown(key, value, f"store index out of range (0..{sc.n_stores - 1})")
        s = sc.stores[idx]
        if parts[2] == "lease" and len(parts) == 4 and parts[3] in _LEASE_FIELDS:
            new = dataclasses.replace(s, lease=dataclasses.replace(
                s.lease, **{parts[3]: _coerce(LeaseTerms, parts[3], value, key)}))
        elif len(parts) == 3 and parts[2] in _STORE_FIELDS | {"name"}:
            new = dataclasses.replace(s, **{parts[2]: _coerce(StoreParams, parts[2], value, key)})
        else:
            _unknown(key, value, "names no store field")
        stores = list(sc.stores)
        stores[idx] = new
        return dataclasses.replace(sc, stores=tuple(stores))
    if len(parts) == 2:
        name = parts[1]
        if head == "markdowns" and name in _RULE_FIELDS:
            return dataclasses.replace(sc, markdowns=dataclasses.replace(
                sc.markdowns, **{name: _coerce(MarkdownRules, name, value, key)}))
        if head == "demand" and name in {f.name for f in fields(type(sc.demand))}:
            return dataclasses.replace(sc, demand=dataclasses.replace(
                sc.demand, **{name: _coerce(type(sc.demand), name, value, key)}))
        if head == "transfers" and name in {f.name for f in fields(TransferNetwork)}:
            return dataclasses.replace(sc, transfers=_transfer_override(sc, name, value))
        if head == "lease" and name in _LEASE_FIELDS:
            return dataclasses.replace(sc, stores=_set_stores(sc, name, value, lease=True))
    _unknown(key, value, "names no scenario field")
    raise AssertionError  # pragma: no cover
