"""Registered scenarios and the Craig-Raman two-store grid generator.

Each preset is a function returning a :class:`~liqenv.scenario.Scenario`;
``PRESETS`` maps the Gymnasium id (without the ``liqenv/`` namespace) to it.
Numbers the papers give are used as given; numbers they do not give (the
chain scenarios' demand levels and costs) are chosen here and documented in
the README's scenario table.
"""

from __future__ import annotations

import itertools
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .scenario import (ElasticityDemand, LeaseTerms, MarkdownRules, Scenario, StoreParams,
                       TransferNetwork, UnknownField, ValuationDemand, apply_overrides)

__all__ = ["PRESETS", "GENERATORS", "TwoStoreGrid", "make_scenario", "sub_chain"]

#: Yang et al. price freely each period (their SDP and PDS); no business rules.
_FREE_PRICES = MarkdownRules(monotone=False)


def _yang(name: str, *, inventory: int, horizon: int, rate: Any, valuation: str = "uniform",
          weibull_shape: float = 4.0, list_price: float = 1.0) -> Scenario:
    return Scenario(
        name=name, horizon=horizon,
        stores=(StoreParams(name="store", inventory=inventory, closable=False, list_price=list_price),),
        demand=ValuationDemand(arrival_rate=rate, valuation=valuation,
                               weibull_shape=weibull_shape, decay=0.99),
        markdowns=_FREE_PRICES)


def single_store() -> Scenario:
    """Yang et al. (2019) Table 5 base case: N=100, T=10, Poisson(100), U(0,1), alpha=0.99."""
    return _yang("SingleStore", inventory=100, horizon=10, rate=100.0)


def single_store_exp() -> Scenario:
    """Table 5 base case with Exponential(1) valuations, list price 3.0.

    The best price lies above 1 (Yang et al. price continuously), so at list
    price 1 every policy on the markdown ladder sells out at list; at 3.0 the
    optimum lies inside the ladder (MODEL.md section 3).  Override
    ``list_price=1`` with continuous pricing for the paper's scale.
    """
    return _yang("SingleStoreExp", inventory=100, horizon=10, rate=100.0, valuation="exponential",
                 list_price=3.0)


def single_store_weibull() -> Scenario:
    """Table 5 base case with Weibull(shape 4, scale 1) valuations, list price 1.5
    (inside the ladder's reach, as for :func:`single_store_exp`)."""
    return _yang("SingleStoreWeibull", inventory=100, horizon=10, rate=100.0, valuation="weibull",
                 list_price=1.5)


def single_store_large() -> Scenario:
    """Yang et al. Table 3 base case: N=5000, T=100, Poisson(300), U(0,1), alpha=0.99."""
    return _yang("SingleStoreLarge", inventory=5000, horizon=100, rate=300.0)


def weekend() -> Scenario:
    """Yang et al. Table 7: N=100 over 7 days, Poisson(80) weekdays, Poisson(100) weekend."""
    return _yang("Weekend", inventory=100, horizon=7, rate=(80.0,) * 5 + (100.0,) * 2)


# ------------------------------------------------------------------ two-store
@dataclass(frozen=True)
class TwoStoreGrid:
    """Craig & Raman (2016) section 6 experiment grid, one combination per reset.

    Store A holds 100 units ($1 each), store B 100..1000 in steps of 50; each
    store's operating cost per period is 5, 10 or 15% of its beginning
    inventory; transfers cost 0.01..0.10 per unit with a one-period lead
    time; the ratio of inventory to last-year sales is 0.5..5.5 in steps of
    0.5; the demand CV is 0.2..1.5 in steps of 0.1: 263,340 combinations.

    The paper's demand coefficients are not published, so demand here is
    elasticity demand with expected units at list price per period
    ``multiplier * (inventory / ratio) / horizon * lift(t)``, elasticity 2,
    lift (1.25, 1.0, 0.75), broken-assortment ``beta_inv`` 0.3 and no hidden
    store effect.  ``fixed`` pins any of the grid's fields (e.g.
    ``{"cv": 0.5}``); the rest are drawn uniformly from the grid at reset.
    """

    fixed: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)
    multiplier: float = 1.0

    AXES = {
        "inventory_b": tuple(range(100, 1001, 50)),
        "op_pct_a": (0.05, 0.10, 0.15),
        "op_pct_b": (0.05, 0.10, 0.15),
        "transfer_cost": tuple(round(0.01 * k, 2) for k in range(1, 11)),
        "ratio": tuple(round(0.5 * k, 1) for k in range(1, 12)),
        "cv": tuple(round(0.1 * k, 1) for k in range(2, 16)),
    }

    def __post_init__(self) -> None:
        for k, v in self.fixed.items():
            if k not in self.AXES:
                raise UnknownField(f"fixed.{k}={v!r}: not a grid field ({', '.join(self.AXES)})")
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"fixed.{k}={v!r}: must be a positive number")

    def __len__(self) -> int:
        n = 1
        for k, vals in self.AXES.items():
            n *= 1 if k in self.fixed else len(vals)
        return n

    def combination(self, **values: float) -> Scenario:
        """The scenario of one grid point (missing fields take the middle value)."""
        v = {k: vals[len(vals) // 2] for k, vals in self.AXES.items()}
        v.update(self.fixed)
        v.update(values)
        inv = (100, int(v["inventory_b"]))
        T = 3
        ly = [z / v["ratio"] for z in inv]
        stores = tuple(
            StoreParams(name=nm, inventory=z, operating_cost=pct * z, closable=True)
            for nm, z, pct in zip("AB", inv, (v["op_pct_a"], v["op_pct_b"])))
        sc = Scenario(
            name="TwoStore", horizon=T, stores=stores,
            demand=ElasticityDemand(base=tuple(self.multiplier * x / T for x in ly), elasticity=2.0,
                                    lift=(1.25, 1.0, 0.75), beta_inv=0.3, cv=float(v["cv"])),
            markdowns=MarkdownRules(monotone=True),
            transfers=TransferNetwork.uniform(2, lead_time=1, unit_cost=float(v["transfer_cost"]),
                                              quantities=tuple(round(0.1 * k, 1) for k in range(11))),
            unit_cost=0.5, observe_parameters=True)
        return apply_overrides(sc, self.overrides) if self.overrides else sc

    def sample(self, rng: np.random.Generator) -> Scenario:
        """Draw a grid point with the env's generator."""
        v = {k: vals[int(rng.integers(len(vals)))] for k, vals in self.AXES.items() if k not in self.fixed}
        return self.combination(**v)

    def points(self) -> itertools.product:
        """Every grid point as a dict (a lazy product; 263,340 when nothing is fixed)."""
        keys = [k for k in self.AXES if k not in self.fixed]
        for combo in itertools.product(*(self.AXES[k] for k in keys)):
            yield dict(zip(keys, combo))

    def layout_scenario(self) -> Scenario:
        """A grid point with the most inventory: fixes the observation scale."""
        return self.combination(inventory_b=self.fixed.get("inventory_b", max(self.AXES["inventory_b"])))

    def with_overrides(self, **overrides: Any) -> "TwoStoreGrid":
        fixed = dict(self.fixed)
        rest = {}
        for k, v in overrides.items():
            if k in self.AXES:
                fixed[k] = v
            elif k == "fixed":
                if not isinstance(v, dict):
                    raise ValueError(f"fixed={v!r}: must be a mapping of grid fields")
                fixed.update(v)
            else:
                rest[k] = v
        g = TwoStoreGrid(fixed=fixed, overrides={**self.overrides, **rest}, multiplier=self.multiplier)
        g.combination()  # validate the overrides now, not at the first reset
        return g


def two_store() -> Scenario:
    """The middle point of the Craig-Raman grid (the generator draws others at reset)."""
    return TwoStoreGrid().combination()


# ------------------------------------------------------------------ chains
def _chain_inventory(n: int, seed: int, low: int, high: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.integers(low, high, n) // 10 * 10).astype(int)


def chain() -> Scenario:
    """Craig & Raman (2016) section 7.2: 40 stores, 60 days, no transfers.

    Nine stores (the last nine) have the lease clause "open on day 46 means
    rent through day 60" (periods 45 and 59 here) and 14 days' notice; every
    store's demand carries a hidden lognormal store effect (CV 0.5) that a
    policy can only read from sales.  Stores hold 2,000-6,000 units ($1
    retail each), cost 0.5% of their initial inventory per day to run, and
    see demand at list price of ``inventory / 150`` units a day times a
    traffic lift falling from 2.5 to 0.4.  Markdowns follow the markdown
    blog's rules: monotone, first markdown 20-40%, changes at most 30 points,
    each level held at least 7 days.
    """
    S, T = 40, 60
    inv = _chain_inventory(S, 7, 2000, 6000)
    stores = []
    for s in range(S):
        locked = s >= S - 9
        lease = LeaseTerms(notice=14, lock_period=45, lock_until=59) if locked else LeaseTerms(notice=7)
        stores.append(StoreParams(name=f"s{s:02d}", inventory=int(inv[s]),
                                  operating_cost=round(0.005 * inv[s], 2), closable=True,
                                  salvage_rate=0.05, lease=lease))
    base = tuple(round(float(z) / 150.0, 3) for z in inv)
    return Scenario(
        name="Chain", horizon=T, stores=tuple(stores),
        demand=ElasticityDemand(base=base, elasticity=2.0, lift_start=2.5, lift_end=0.4,
                                lift_decay=0.96, beta_inv=0.3, store_effect_cv=0.5, cv=0.3),
        markdowns=MarkdownRules(monotone=True, initial_min=0.2, initial_max=0.4, step_max=0.3,
                                min_hold=7),
        unit_cost=0.5)


def transfer_chain() -> Scenario:
    """Craig & Raman (2016) section 7.3 style: 20 stores, 90 days, 20-day transfers.

    Stores ship within four regions of five stores (80 allowed pairs), each
    shipment costing 0.03 per unit plus 25 per shipment and taking 20 days
    (``lead_time=15`` or ``10`` shortens it, as the paper's what-if does).
    Demand has hidden store effects (CV 0.6), so which stores should donate
    is learnt from early sales.
    """
    S, T, region = 20, 90, 5
    inv = _chain_inventory(S, 11, 2000, 6000)
    allowed = [[(i // region == j // region) and i != j for j in range(S)] for i in range(S)]
    stores = tuple(StoreParams(name=f"s{s:02d}", inventory=int(inv[s]),
                               operating_cost=round(0.003 * inv[s], 2), closable=True,
                               salvage_rate=0.05, lease=LeaseTerms(notice=7))
                   for s in range(S))
    base = tuple(round(float(z) / 200.0, 3) for z in inv)
    return Scenario(
        name="TransferChain", horizon=T, stores=stores,
        demand=ElasticityDemand(base=base, elasticity=2.0, lift_start=2.0, lift_end=0.5,
                                lift_decay=0.97, beta_inv=0.3, store_effect_cv=0.6, cv=0.3),
        markdowns=MarkdownRules(monotone=True, initial_min=0.2, initial_max=0.4, step_max=0.3,
                                min_hold=7),
        transfers=TransferNetwork.uniform(S, lead_time=20, unit_cost=0.03, fixed_cost=25.0,
                                          quantities=(0.0, 0.1, 0.25, 0.5), allowed=allowed),
        unit_cost=0.5)


def distribution_centre() -> Scenario:
    """One DC and six stores (the markdown blog's DC section), 30 days.

    The DC holds half the units and has no customers; it ships to any store
    in 2 days at 0.02 per unit plus 10 per shipment; stores cannot ship.
    Hidden store effects (CV 0.5) make holding stock back at the DC until
    sales show where it sells worth it.
    """
    S, T = 7, 30
    inv = [6000] + [1000] * 6
    allowed = [[i == 0 and j != 0 for j in range(S)] for i in range(S)]
    stores = [StoreParams(name="dc", inventory=inv[0], operating_cost=20.0, is_dc=True,
                          closable=True, salvage_rate=0.1)]
    stores += [StoreParams(name=f"s{s}", inventory=inv[s], operating_cost=15.0, closable=True,
                           salvage_rate=0.1, lease=LeaseTerms(notice=3)) for s in range(1, S)]
    return Scenario(
        name="DistributionCentre", horizon=T, stores=tuple(stores),
        demand=ElasticityDemand(base=(0.0,) + (40.0,) * 6, elasticity=2.0, lift_start=1.5,
                                lift_end=0.7, lift_decay=0.95, beta_inv=0.2, store_effect_cv=0.5,
                                cv=0.3, reference_inventory=(1.0,) + (1000.0,) * 6),
        markdowns=MarkdownRules(monotone=True, step_max=0.3, min_hold=3),
        transfers=TransferNetwork.uniform(S, lead_time=2, unit_cost=0.02, fixed_cost=10.0,
                                          quantities=(0.0, 0.05, 0.1, 0.2, 0.4), allowed=allowed),
        unit_cost=0.5)


PRESETS: dict[str, Callable[[], Scenario]] = {
    "SingleStore-v0": single_store,
    "SingleStoreExp-v1": single_store_exp,
    "SingleStoreWeibull-v1": single_store_weibull,
    "SingleStoreLarge-v0": single_store_large,
    "Weekend-v0": weekend,
    "TwoStore-v1": two_store,
    "Chain-v1": chain,
    "TransferChain-v1": transfer_chain,
    "DistributionCentre-v1": distribution_centre,
}

#: Presets whose env draws a new scenario at every reset.
GENERATORS: dict[str, Callable[[], Any]] = {"TwoStore-v1": TwoStoreGrid}

#: Where each preset comes from (for the README's scenario table).
SOURCES = {
    "SingleStore-v0": "Yang et al. (2019) Table 5 base",
    "SingleStoreExp-v1": "Yang et al. (2019) Table 5, Exp(1), list price 3.0",
    "SingleStoreWeibull-v1": "Yang et al. (2019) Table 5, Weibull(4), list price 1.5",
    "SingleStoreLarge-v0": "Yang et al. (2019) Table 3 base",
    "Weekend-v0": "Yang et al. (2019) Table 7",
    "TwoStore-v1": "Craig & Raman (2016) section 6 grid",
    "Chain-v1": "Craig & Raman (2016) section 7.2",
    "TransferChain-v1": "Craig & Raman (2016) section 7.3",
    "DistributionCentre-v1": "markdown blog, DC section",
}


def make_scenario(name: str, **overrides: Any) -> Scenario:
    """A preset by id (``"liqenv/"`` prefix optional), with overrides applied."""
    key = name.split("/", 1)[1] if name.startswith("liqenv/") else name
    if key not in PRESETS:
        raise ValueError(f"scenario={name!r}: unknown; registered: {', '.join(PRESETS)}")
    return apply_overrides(PRESETS[key](), overrides)


def sub_chain(stores: Any, name: str = "Chain-v1") -> Scenario:
    """Preset ``name`` restricted to ``stores`` (indices): the same per-store leases, rules,
    demand and observation features, fewer stores.  For chains without transfers (a
    transfer network would have to be cut too): ``ValueError`` otherwise."""
    sc = make_scenario(name)
    if sc.transfers is not None:
        raise ValueError(f"sub_chain: {name!r} has transfers; only chains without them can be cut")
    stores = list(stores)
    return dataclasses.replace(sc, stores=tuple(sc.stores[s] for s in stores),
                               demand=dataclasses.replace(sc.demand, base=tuple(sc.demand.base[s] for s in stores)))
