"""Demand models behind one interface (MODEL.md section 3).

Both families give, for a store, a period, a price and the on-hand units,
the *distribution* of units customers want.  The environment samples it
(:meth:`DemandModel.sample`, over a whole batch at once); analytic policies
read it (:meth:`DemandModel.pmf`, :meth:`DemandModel.mean`), so a dynamic
programme solves exactly what the environment simulates (the way
FrozenLake exposes ``P``).

Parameters are stored as arrays with a leading "copy" axis of length 1 (one
scenario) or ``n_envs`` (a batch whose copies draw their own scenario at
reset, e.g. ``TwoStore-v0``'s grid); :meth:`DemandModel.set_row` rewrites one
copy's parameters.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import special, stats

from . import random as lr
from .scenario import ElasticityDemand, Scenario, ValuationDemand, _per, _per_store

__all__ = ["DemandModel", "ValuationDemandModel", "ElasticityDemandModel", "make_demand"]

#: Elasticity demand floors the price at this share of list price, so that
#: ``p**(-elasticity)`` stays finite for a continuous price of 0.
MIN_PRICE_SHARE = 0.01


def _gather_t(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``a[b, :, t[b]]`` for a (copies, S, T) table and periods t (B,), as (B, S)."""
    t = np.minimum(t, a.shape[2] - 1)
    if a.shape[0] == 1:
        return a[0][:, t].T
    return a[np.arange(a.shape[0]), :, t]


class DemandModel:
    """Common interface; see the module docstring."""

    family: str = ""

    def __init__(self, scenarios: Sequence[Scenario]):
        first = scenarios[0]
        self.n_stores = first.n_stores
        self.horizon = first.horizon
        self.n_copies = len(scenarios)
        self._alloc()
        for b, sc in enumerate(scenarios):
            self.set_row(b, sc)

    # ----------------------------------------------------------- env-facing
    def draw_effects(self, draws: lr.Draws, copies=None) -> np.ndarray:
        """Hidden store effects for a batch at reset, shape (B, S).

        ``copies`` names the parameter rows of the copies being reset.
        """
        return np.ones(draws.shape)

    def sample(self, draws: lr.Draws, t: np.ndarray, price: np.ndarray, on_hand: np.ndarray,
               effect: np.ndarray) -> np.ndarray:
        """Units wanted, shape (B, S), int64 (before capping by on-hand)."""
        raise NotImplementedError

    # -------------------------------------------------------- policy-facing
    def mean(self, s: int, t: int, price, on_hand=None, effect=1.0, row: int = 0) -> np.ndarray:
        """Expected units wanted at store ``s`` in period ``t`` (broadcasts over price)."""
        raise NotImplementedError

    def pmf(self, s: int, t: int, price, n_max: int, on_hand=None, effect=1.0,
            row: int = 0) -> np.ndarray:
        """``P(wanted = j)`` for ``j = 0..n_max-1`` and ``P(wanted >= n_max)`` last.

        Shape ``price.shape + (n_max + 1,)``; rows sum to 1.  With
        ``effect=None`` the hidden store effect is integrated out over its
        prior (what a policy that has seen no sales knows).
        """
        raise NotImplementedError

    def _alloc(self) -> None:
        raise NotImplementedError

    def set_row(self, b: int, sc: Scenario) -> None:
        raise NotImplementedError


def _lump_tail(pmf_head: np.ndarray) -> np.ndarray:
    """Append ``1 - sum(head)`` (clipped at 0) as the tail mass."""
    tail = np.clip(1.0 - pmf_head.sum(-1, keepdims=True), 0.0, 1.0)
    return np.concatenate([pmf_head, tail], axis=-1)


class ValuationDemandModel(DemandModel):
    """Poisson (or uniform) arrivals thinned by ``P(V >= p)`` (Yang section 3;
    Bitran & Mondschein 1997).  With Poisson arrivals the buyers are exactly
    ``Poisson(lambda * (1 - F_t(p)))``; with uniform arrivals ``A`` they are
    ``Binomial(A, 1 - F_t(p))``."""

    family = "valuation"

    def _alloc(self) -> None:
        C, S, T = self.n_copies, self.n_stores, self.horizon
        self.rates = np.zeros((C, S, T))
        self.scale = np.ones((C, S))
        self.decay = np.ones((C, 1))
        self.shape_k = np.ones((C, 1))
        self.spread = np.zeros((C, 1), dtype=np.int64)

    def set_row(self, b: int, sc: Scenario) -> None:
        d = sc.demand
        if not isinstance(d, ValuationDemand):
            raise ValueError(f"demand={d!r}: expected ValuationDemand")
        if b == 0:
            self.valuation = d.valuation
            self.arrival = d.arrival
        elif (d.valuation, d.arrival) != (self.valuation, self.arrival):
            raise ValueError("valuation: all copies of a batch need the same family")
        self.rates[b] = sc.arrival_rates
        self.scale[b] = _per_store("scale", d.scale, sc.n_stores)
        self.decay[b] = d.decay
        self.shape_k[b] = d.weibull_shape
        self.spread[b] = d.arrival_spread
        self.max_arrivals = int(np.max(self.rates + self.spread[:, :, None]))

    def buy_probability(self, x: np.ndarray, shape_k) -> np.ndarray:
        """``P(X >= x)`` for the standardised valuation X."""
        x = np.maximum(x, 0.0)
        if self.valuation == "uniform":
            return np.clip(1.0 - x, 0.0, 1.0)
        if self.valuation == "exponential":
            return np.exp(-x)
        return np.exp(-(x ** shape_k))

    def _q(self, t, price, row_scale, row_decay, shape_k) -> np.ndarray:
        x = np.asarray(price, dtype=float) / (row_scale * row_decay ** np.asarray(t))
        return self.buy_probability(x, shape_k)

    def sample(self, draws, t, price, on_hand, effect):
        q = self._q(t[:, None], price, self.scale, self.decay, self.shape_k)
        lam = _gather_t(self.rates, t)
        if self.arrival == "poisson":
            return lr.poisson(lam * q, draws)
        low = lam - self.spread
        arrivals = lr.randint(low, lam + self.spread, draws)
        return lr.binomial_small(arrivals, q, self.max_arrivals, draws)

    def mean(self, s, t, price, on_hand=None, effect=1.0, row=0):
        q = self._q(t, price, self.scale[row, s], self.decay[row, 0], self.shape_k[row, 0])
        return self.rates[row, s, min(t, self.horizon - 1)] * q * effect

    def pmf(self, s, t, price, n_max, on_hand=None, effect=1.0, row=0):
        price = np.asarray(price, dtype=float)
        q = self._q(t, price, self.scale[row, s], self.decay[row, 0], self.shape_k[row, 0])
        lam = self.rates[row, s, min(t, self.horizon - 1)]
        j = np.arange(n_max)
        if self.arrival == "poisson":
            mu = (lam * q)[..., None]
            head = stats.poisson.pmf(j, mu)
        else:
            spread = int(self.spread[row, 0])
            arrivals = np.arange(int(lam) - spread, int(lam) + spread + 1)
            head = stats.binom.pmf(j, arrivals.reshape((-1,) + (1,) * q.ndim + (1,)),
                                   q[..., None]).mean(0)
        return _lump_tail(np.asarray(head, dtype=float))


class ElasticityDemandModel(DemandModel):
    """Constant-elasticity mean with lift, broken-assortment effect and a
    hidden store effect; gamma-Poisson counts (MODEL.md section 3, Craig &
    Raman section 5.3)."""

    family = "elasticity"

    def _alloc(self) -> None:
        C, S, T = self.n_copies, self.n_stores, self.horizon
        self.base = np.zeros((C, S))
        self.lift = np.ones((C, 1, T))
        self.elasticity = np.zeros((C, 1))
        self.beta = np.zeros((C, 1))
        self.z0 = np.ones((C, S))
        self.list_price = np.ones((C, S))
        self.effect_cv = np.zeros((C, 1))
        self.cv = np.zeros((C, 1))

    def set_row(self, b: int, sc: Scenario) -> None:
        d = sc.demand
        if not isinstance(d, ElasticityDemand):
            raise ValueError(f"demand={d!r}: expected ElasticityDemand")
        base = _per_store("base", d.base, sc.n_stores)
        base[sc.is_dc] = 0.0
        self.base[b] = base
        if d.lift is not None:
            self.lift[b, 0] = np.asarray(d.lift, dtype=float)
        else:
            t = np.arange(sc.horizon)
            self.lift[b, 0] = d.lift_end + (d.lift_start - d.lift_end) * d.lift_decay ** t
        self.elasticity[b] = d.elasticity
        self.beta[b] = d.beta_inv
        if d.reference_inventory is not None:
            self.z0[b] = _per_store("reference_inventory", d.reference_inventory, sc.n_stores)
        else:
            self.z0[b] = np.maximum(sc.inventory, 1)
        self.list_price[b] = sc.list_price
        self.effect_cv[b] = d.store_effect_cv
        self.cv[b] = d.cv

    def _mu(self, t, price, on_hand, effect, base, lift_t, e, beta, z0, lp) -> np.ndarray:
        rel = np.maximum(np.asarray(price, dtype=float) / lp, MIN_PRICE_SHARE)
        mu = base * lift_t * rel ** (-e) * effect
        if on_hand is not None:
            with np.errstate(divide="ignore"):
                mu = mu * np.where(beta > 0, (np.asarray(on_hand, float) / z0) ** beta, 1.0)
        return mu

    def draw_effects(self, draws, copies=None):
        cv = self.effect_cv if copies is None or self.n_copies == 1 else self.effect_cv[copies]
        sig2 = np.log1p(cv ** 2)
        z = lr.normal(draws, lr.Streams.EFFECT, 0).reshape(draws.shape)
        return np.exp(np.sqrt(sig2) * z - 0.5 * sig2)

    def sample(self, draws, t, price, on_hand, effect):
        mu = self._mu(t, price, on_hand, effect, self.base, _gather_t(self.lift, t),
                      self.elasticity, self.beta, self.z0, self.list_price)
        if np.all(self.cv == 0):
            return lr.poisson(mu, draws)
        r = np.broadcast_to(1.0 / np.maximum(self.cv, 1e-12) ** 2, mu.shape)
        g = lr.gamma(r, draws) / r
        lam = np.where(np.broadcast_to(self.cv, mu.shape) > 0, mu * g, mu)
        return lr.poisson(lam, draws)

    def mean(self, s, t, price, on_hand=None, effect=1.0, row=0):
        return self._mu(t, price, on_hand, effect, self.base[row, s],
                        self.lift[row, 0, min(t, self.horizon - 1)], self.elasticity[row, 0],
                        self.beta[row, 0], self.z0[row, s], self.list_price[row, s])

    def pmf(self, s, t, price, n_max, on_hand=None, effect=1.0, row=0):
        if effect is None:
            cv = self.effect_cv[row, 0]
            if cv == 0:
                return self.pmf(s, t, price, n_max, on_hand, 1.0, row)
            # Gauss-Hermite quadrature over the lognormal prior of the effect
            nodes, weights = special.roots_hermitenorm(24)
            weights = weights / weights.sum()
            sig = np.sqrt(np.log1p(cv ** 2))
            out = 0.0
            for x, w in zip(nodes, weights):
                out = out + w * self.pmf(s, t, price, n_max, on_hand,
                                         float(np.exp(sig * x - 0.5 * sig ** 2)), row)
            return out
        mu = np.asarray(self.mean(s, t, price, on_hand, effect, row), dtype=float)[..., None]
        j = np.arange(n_max)
        cv = self.cv[row, 0]
        if cv == 0:
            head = stats.poisson.pmf(j, mu)
        else:
            r = 1.0 / cv ** 2
            head = stats.nbinom.pmf(j, r, r / (r + mu))
        return _lump_tail(np.asarray(head, dtype=float))


def make_demand(scenarios: Scenario | Sequence[Scenario]) -> DemandModel:
    """The demand model of one scenario (or a stack of same-shaped ones)."""
    if isinstance(scenarios, Scenario):
        scenarios = [scenarios]
    d = scenarios[0].demand
    cls = ValuationDemandModel if isinstance(d, ValuationDemand) else ElasticityDemandModel
    return cls(scenarios)
