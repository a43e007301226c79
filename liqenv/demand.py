"""Demand models behind one interface (MODEL.md section 3).

Both families give, for a store, a period, a price and the on-hand units,
the *distribution* of units customers want.  The environment samples it
(:meth:`DemandModel.sample`, over a whole batch at once); analytic policies
read it (:meth:`DemandModel.pmf`, :meth:`DemandModel.mean`), so a dynamic
programme solves exactly what the environment simulates (the way
FrozenLake exposes ``P``).

Parameters are stored as arrays with a leading "copy" axis of length 1 (one
scenario) or ``n_envs`` (a batch whose copies draw their own scenario at
reset, e.g. ``TwoStore-v1``'s grid); :meth:`DemandModel.set_row` rewrites one
copy's parameters.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import special, stats

from . import _kernels as _k
from . import random as lr
from .scenario import ElasticityDemand, Scenario, ValuationDemand, _per, _per_store

__all__ = ["DemandModel", "ValuationDemandModel", "ElasticityDemandModel", "make_demand"]

#: Elasticity demand floors the price at this share of list price, so that
#: ``p**(-elasticity)`` stays finite for a continuous price of 0.
MIN_PRICE_SHARE = 0.01
_KINDS = {"uniform": 0, "exponential": 1, "weibull": 2}



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
        """Units wanted, shape (B, S), int64 (before capping by on-hand), drawn by
        the same compiled code as the step kernel."""
        B, S = draws.shape
        f = lambda x, dt=np.float64: np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=dt), (B, S)))  # noqa: E731
        out = np.empty((B, S), dtype=np.int64)
        _k.sample_wanted(np.asarray(t, dtype=np.int64).reshape(B), f(price), f(on_hand, np.int64),
                         f(effect), np.ascontiguousarray(draws.key[::S]), self.kernel_arrays(), out)
        return out

    # -------------------------------------------------------- policy-facing
    def kernel_arrays(self) -> tuple:
        """The fields of :class:`liqenv._kernels.DemandArrays` (what the step
        kernel and :meth:`sample` draw from), as a plain tuple."""
        C = self.n_copies
        z2, z3 = np.zeros((C, 1)), np.zeros((C, 1, 1))
        zs = np.zeros((C, self.n_stores))
        if self.family == "valuation":
            return tuple(_k.DemandArrays(
                0, _KINDS[self.valuation], 0 if self.arrival == "poisson" else 1, self.rates, self.scale,
                self.decay, self.shape_k, self.spread, base=zs, lift=z3, elasticity=z2, beta=z2,
                z0=zs + 1.0, list_price=zs + 1.0, cv=z2, min_share=MIN_PRICE_SHARE))
        return tuple(_k.DemandArrays(
            1, 0, 0, rates=np.zeros((C, self.n_stores, 1)), scale=zs + 1.0, decay=z2 + 1.0,
            shape_k=z2 + 1.0, spread=np.zeros((C, 1), dtype=np.int64), base=self.base, lift=self.lift,
            elasticity=self.elasticity, beta=self.beta, z0=self.z0, list_price=self.list_price,
            cv=self.cv, min_share=MIN_PRICE_SHARE))

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


def _count_pmf(mu: np.ndarray, n_max: int, r: float = np.inf, effects=(1.0,),
               weights=(1.0,)) -> np.ndarray:
    """Pmf of a Poisson (``r = inf``) or negative binomial (shape ``r``) count
    with mean ``mu * u``, mixed over effects ``u`` with ``weights``.

    ``P(count = j)`` for ``j < n_max`` and the tail ``P(count >= n_max)``
    last, shape ``mu.shape + (n_max + 1,)``.  The log-pmf is evaluated in
    closed form (``log C(j+r-1, j) + r log(r/(r+m)) + j log(m/(r+m))``,
    Poisson ``j log m - m - log j!``), vectorised over ``mu``; it agrees
    with ``scipy.stats`` to about 1e-12 relative and is much faster.
    """
    mu = np.asarray(mu, dtype=float)
    j = np.arange(n_max, dtype=float)
    poisson = not np.isfinite(r)
    c = (-special.gammaln(j + 1.0) if poisson
         else special.gammaln(j + r) - special.gammaln(r) - special.gammaln(j + 1.0))
    out = np.zeros(mu.shape + (n_max + 1,))
    head = out[..., :n_max]
    buf = np.empty(mu.shape + (n_max,))
    for u, w in zip(effects, weights):
        m = (mu * u)[..., None]
        if poisson:
            logq, const = np.log(np.maximum(m, 1e-300)), -m
        else:
            logq, const = np.log(np.maximum(m / (r + m), 1e-300)), -r * np.log1p(m / r)
        np.multiply(j, logq, out=buf)
        buf += c
        buf += const + np.log(w)
        head += np.exp(buf, out=buf)
    out[..., -1] = np.clip(1.0 - head.sum(-1), 0.0, 1.0)
    return out


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
        return _k.buy_probability_v(np.asarray(x, dtype=np.float64), _KINDS[self.valuation],
                                    np.asarray(shape_k, dtype=np.float64))

    def _q(self, t, price, row_scale, row_decay, shape_k) -> np.ndarray:
        x = np.asarray(price, dtype=float) / (row_scale * row_decay ** np.asarray(t))
        return self.buy_probability(x, shape_k)

    def mean(self, s, t, price, on_hand=None, effect=1.0, row=0):
        q = self._q(t, price, self.scale[row, s], self.decay[row, 0], self.shape_k[row, 0])
        return self.rates[row, s, min(t, self.horizon - 1)] * q * effect

    def pmf(self, s, t, price, n_max, on_hand=None, effect=1.0, row=0):
        price = np.asarray(price, dtype=float)
        q = self._q(t, price, self.scale[row, s], self.decay[row, 0], self.shape_k[row, 0])
        lam = self.rates[row, s, min(t, self.horizon - 1)]
        if self.arrival == "poisson":
            return _count_pmf(lam * q, n_max)
        j = np.arange(n_max)
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
        z = z0 if on_hand is None else np.asarray(on_hand, dtype=np.float64)
        return _k.elasticity_mean_v(base, lift_t, np.asarray(price, dtype=np.float64), lp, e, z, z0,
                                    beta, np.asarray(effect, dtype=np.float64), MIN_PRICE_SHARE)

    def draw_effects(self, draws, copies=None):
        cv = self.effect_cv if copies is None or self.n_copies == 1 else self.effect_cv[copies]
        sig2 = np.log1p(cv ** 2)
        z = lr.normal(draws, lr.Streams.EFFECT, 0).reshape(draws.shape)
        return np.exp(np.sqrt(sig2) * z - 0.5 * sig2)

    def mean(self, s, t, price, on_hand=None, effect=1.0, row=0):
        return self._mu(t, price, on_hand, effect, self.base[row, s],
                        self.lift[row, 0, min(t, self.horizon - 1)], self.elasticity[row, 0],
                        self.beta[row, 0], self.z0[row, s], self.list_price[row, s])

    def pmf(self, s, t, price, n_max, on_hand=None, effect=1.0, row=0):
        mu = np.asarray(self.mean(s, t, price, on_hand, 1.0, row), dtype=float)
        return self.count_pmf(mu, n_max, effect, row)

    def count_pmf(self, mu, n_max, effect=1.0, row=0):
        """:meth:`pmf` given the expected units wanted at store effect 1.

        ``mu`` (any shape) is what :meth:`mean` returns with ``effect=1``;
        the count is negative binomial with mean ``mu * effect`` and CV
        ``cv`` (Poisson when ``cv = 0``); ``effect=None`` integrates the
        effect over its lognormal prior by 24-node Gauss-Hermite
        quadrature.  Vectorised over ``mu`` (the log-pmf is evaluated in
        closed form, not by ``scipy.stats``), so a table over many means is
        one call (:func:`_count_pmf`).  Shape ``mu.shape + (n_max + 1,)``,
        tail mass last.
        """
        cv_u = self.effect_cv[row, 0]
        if effect is None and cv_u > 0:
            nodes, weights = special.roots_hermitenorm(24)
            sig = np.sqrt(np.log1p(cv_u ** 2))
            effects, weights = np.exp(sig * nodes - 0.5 * sig ** 2), weights / weights.sum()
        else:
            effects, weights = [1.0 if effect is None else float(effect)], [1.0]
        cv = self.cv[row, 0]
        return _count_pmf(mu, n_max, 1.0 / cv ** 2 if cv > 0 else np.inf, effects, weights)


def make_demand(scenarios: Scenario | Sequence[Scenario]) -> DemandModel:
    """The demand model of one scenario (or a stack of same-shaped ones)."""
    if isinstance(scenarios, Scenario):
        scenarios = [scenarios]
    d = scenarios[0].demand
    cls = ValuationDemandModel if isinstance(d, ValuationDemand) else ElasticityDemandModel
    return cls(scenarios)
