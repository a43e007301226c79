"""Counter-based random numbers and exact vectorised samplers.

Why not one ``numpy.random.Generator`` per environment copy?  A batch of n
copies would then need a Python call per copy per step, and a batch that
shared one generator would interleave the copies' draws, so n single
environments could never reproduce it.  Instead every copy owns a 64-bit key
(drawn from its Gymnasium ``np_random`` at reset) and each uniform is a hash
of ``(key, period, stream, index)``, the way JAX and gymnax split keys: a
copy's draws depend on nothing but its own key and counters, the whole batch
is drawn in a few array operations, and pickling the env pickles its state.

The hash is the SplitMix64 finaliser applied twice (keyed); the samplers on
top are exact: inverse transform for small Poisson means, Hormann's PTRS
transformed rejection for large ones (the method NumPy itself uses),
Marsaglia-Tsang for the Gamma, Box-Muller for the normal.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

__all__ = ["Streams", "Draws", "uniform", "poisson", "gamma", "normal", "binomial_small", "randint"]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31, _S11 = (np.uint64(k) for k in (30, 27, 31, 11))
_INV53 = 1.0 / 9007199254740992.0


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> _S30)
    x = x * _M1
    x = x ^ (x >> _S27)
    x = x * _M2
    return x ^ (x >> _S31)


class Streams:
    """Named draw streams, so no two uses of randomness share counters."""

    ARRIVALS = 1
    DEMAND = 2
    GAMMA = 3
    EFFECT = 4
    THINNING = 5


def uniform(key: np.ndarray, counter: np.ndarray) -> np.ndarray:
    """Uniforms in (0, 1), one per element of ``counter``.

    ``key`` is uint64 broadcastable against ``counter`` (uint64).  Distinct
    counters give independent-looking draws; the same (key, counter) always
    gives the same draw.
    """
    with np.errstate(over="ignore"):
        h = _mix(_mix(counter * _GOLD + _GOLD) ^ key)
    return ((h >> _S11).astype(np.float64) + 0.5) * _INV53


class Draws:
    """Uniform source for one period of a batch, with element-wise counters.

    A counter packs ``(period, stream, draw index, element)`` into 64 bits:
    period in bits 42-63, stream in 36-41, draw index in 16-35, element
    (store) in 0-15.  ``base`` holds the period and element parts for every
    element of the batch (flattened); :meth:`__call__` adds a stream and a
    draw index, so rejection samplers take as many draws as they need without
    touching another element's numbers.
    """

    __slots__ = ("key", "base", "shape")

    def __init__(self, key: np.ndarray, period: np.ndarray, n_elements: int):
        # key: (B,) uint64; period: (B,) int; elements numbered 0..n_elements-1
        key = np.asarray(key, dtype=np.uint64)
        t = np.asarray(period, dtype=np.int64).astype(np.uint64)
        self.shape = (key.shape[0], n_elements)
        self.key = np.repeat(key, n_elements)
        self.base = ((t[:, None] << np.uint64(42))
                     | np.arange(n_elements, dtype=np.uint64)[None, :]).reshape(-1)

    def __call__(self, stream: int, j, idx=None) -> np.ndarray:
        """Uniforms for flat elements ``idx`` (all when ``None``)."""
        off = np.uint64(stream << 36) + (np.asarray(j, dtype=np.uint64) << np.uint64(16))
        if idx is None:
            return uniform(self.key, self.base + off)
        return uniform(self.key[idx], self.base[idx] + off)


def normal(draws: Draws, stream: int, j: int, idx=None) -> np.ndarray:
    """Standard normals by Box-Muller (uses draw indices ``2j`` and ``2j+1``)."""
    u1 = draws(stream, 2 * j, idx)
    u2 = draws(stream, 2 * j + 1, idx)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def poisson(lam: np.ndarray, draws: Draws, stream: int = Streams.DEMAND) -> np.ndarray:
    """Exact Poisson(lam) draws for every element of the batch, int64.

    ``lam`` has the batch shape ``draws.shape``.
    """
    lam = np.asarray(lam, dtype=np.float64).reshape(-1)
    small = lam < 10.0
    if small.all():
        out = _poisson_inverse(lam, draws, stream, None)
    else:
        out = np.zeros(lam.shape, dtype=np.int64)
        idx = np.flatnonzero(small)
        if idx.size:
            out[idx] = _poisson_inverse(lam[idx], draws, stream, idx)
        idx = np.flatnonzero(~small)
        out[idx] = _poisson_ptrs(lam[idx], draws, stream, idx)
    return out.reshape(draws.shape)


def _poisson_inverse(lam: np.ndarray, draws: Draws, stream: int, idx) -> np.ndarray:
    u = draws(stream, 0, idx)
    k = np.zeros(lam.shape, dtype=np.int64)
    p = np.exp(-lam)
    cdf = p.copy()
    pending = u > cdf
    n = 0
    while pending.any():
        n += 1
        k += pending
        p = p * lam / n
        cdf = cdf + p
        pending &= u > cdf
        if n > 200:  # cdf rounding just below 1: the mass left is < 1e-60
            break
    return k


def _poisson_ptrs(lam: np.ndarray, draws: Draws, stream: int, idx: np.ndarray) -> np.ndarray:
    # Hormann (1993), "The transformed rejection method for generating Poisson
    # random variables"; the same constants as NumPy's random_poisson_ptrs.
    slam = np.sqrt(lam)
    loglam = np.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    log_invalpha = np.log(1.1239 + 1.1328 / (b - 3.4))
    vr = 0.9277 - 3.6224 / (b - 2.0)
    out = np.empty(lam.shape, dtype=np.int64)
    pending = np.arange(lam.size)
    attempt = 0
    while pending.size:
        el = idx[pending]
        U = draws(stream, 2 * attempt + 1, el) - 0.5
        V = draws(stream, 2 * attempt + 2, el)
        lp, bp, ap = lam[pending], b[pending], a[pending]
        us = 0.5 - np.abs(U)
        k = np.floor((2.0 * ap / us + bp) * U + lp + 0.43)
        accept = (us >= 0.07) & (V <= vr[pending])
        valid = (k >= 0) & ~((us < 0.013) & (V > us))
        kk = np.maximum(k, 0.0)
        lhs = np.log(V) + log_invalpha[pending] - np.log(ap / (us * us) + bp)
        rhs = -lp + kk * loglam[pending] - gammaln(kk + 1.0)
        accept |= valid & (lhs <= rhs)
        out[pending[accept]] = k[accept].astype(np.int64)
        pending = pending[~accept]
        attempt += 1
    return out


def gamma(shape: np.ndarray, draws: Draws, stream: int = Streams.GAMMA) -> np.ndarray:
    """Exact Gamma(shape, 1) draws (Marsaglia & Tsang 2000), batch-shaped."""
    shape = np.asarray(shape, dtype=np.float64).reshape(-1)
    boost = shape < 1.0
    a = np.where(boost, shape + 1.0, shape)
    d = a - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    out = np.empty(shape.shape)
    pending = np.arange(shape.size)
    attempt = 0
    while pending.size:
        x = normal(draws, stream, 2 * attempt + 1, pending)
        u = draws(stream, 2 * attempt + 1000, pending)
        dp, cp = d[pending], c[pending]
        v = (1.0 + cp * x) ** 3
        ok = v > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            accept = ok & (np.log(u) < 0.5 * x * x + dp - dp * v + dp * np.log(np.where(ok, v, 1.0)))
        out[pending[accept]] = (dp * v)[accept]
        pending = pending[~accept]
        attempt += 1
    if boost.any():
        u = draws(stream, 999)
        out = np.where(boost, out * u ** (1.0 / np.where(boost, shape, 1.0)), out)
    return out.reshape(draws.shape)


def binomial_small(n: np.ndarray, p: np.ndarray, n_max: int, draws: Draws,
                   stream: int = Streams.THINNING) -> np.ndarray:
    """Exact Binomial(n, p) as a sum of ``n`` Bernoulli draws (``n <= n_max``).

    ``n`` and ``p`` have the batch shape ``draws.shape``.
    """
    off = np.uint64(stream << 36) + (np.arange(n_max, dtype=np.uint64) << np.uint64(16))
    u = uniform(draws.key[:, None], draws.base[:, None] + off[None, :])
    n = np.asarray(n).reshape(-1, 1)
    p = np.asarray(p, dtype=float).reshape(-1, 1)
    hits = (u < p) & (np.arange(n_max)[None, :] < n)
    return hits.sum(-1).astype(np.int64).reshape(draws.shape)


def randint(low: np.ndarray, high: np.ndarray, draws: Draws, stream: int = Streams.ARRIVALS) -> np.ndarray:
    """Uniform integers on ``{low, ..., high}`` (inclusive), batch-shaped."""
    u = draws(stream, 0).reshape(draws.shape)
    return (np.asarray(low) + np.floor(u * (np.asarray(high) - np.asarray(low) + 1))).astype(np.int64)
