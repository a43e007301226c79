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
Marsaglia-Tsang for the Gamma, Box-Muller for the normal.  They are compiled
once in :mod:`liqenv._kernels` (the step kernel calls the same functions);
this module is their array front-end.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as _k

__all__ = ["Streams", "Draws", "uniform", "poisson", "gamma", "normal", "binomial_small", "randint"]


class Streams:
    """Named draw streams, so no two uses of randomness share counters."""

    ARRIVALS = _k.ARRIVALS
    DEMAND = _k.DEMAND
    GAMMA = _k.GAMMA
    EFFECT = _k.EFFECT
    THINNING = _k.THINNING


def uniform(key: np.ndarray, counter: np.ndarray) -> np.ndarray:
    """Uniforms in (0, 1), one per element of ``counter`` (uint64, broadcast with ``key``)."""
    key, counter = np.broadcast_arrays(np.asarray(key, dtype=np.uint64), np.asarray(counter, dtype=np.uint64))
    out = np.empty(key.shape)
    _k.uniform_batch(np.ascontiguousarray(key).reshape(-1), np.ascontiguousarray(counter).reshape(-1),
                     out.reshape(-1))
    return out


class Draws:
    """Uniform source for one period of a batch, with element-wise counters.

    A counter packs ``(period, stream, draw index, element)`` into 64 bits:
    period in bits 42-63, stream in 36-41, draw index in 16-35, element
    (store) in 0-15.  ``base`` holds the period and element parts for every
    element of the batch (flattened, copy-major).
    """

    __slots__ = ("key", "base", "shape")

    def __init__(self, key: np.ndarray, period: np.ndarray, n_elements: int):
        key = np.asarray(key, dtype=np.uint64)
        t = np.asarray(period, dtype=np.int64).astype(np.uint64)
        self.shape = (key.shape[0], n_elements)
        self.key = np.repeat(key, n_elements)
        self.base = ((t[:, None] << np.uint64(42))
                     | np.arange(n_elements, dtype=np.uint64)[None, :]).reshape(-1)

    def __call__(self, stream: int, j, idx=None) -> np.ndarray:
        """Uniform number ``j`` of ``stream`` for flat elements ``idx`` (all when ``None``)."""
        key = self.key if idx is None else self.key[idx]
        base = self.base if idx is None else self.base[idx]
        jj = np.ascontiguousarray(np.broadcast_to(np.asarray(j, dtype=np.int64), key.shape))
        out = np.empty(key.shape)
        _k.draw_batch(key, base, int(stream), jj, out)
        return out


def normal(draws: Draws, stream: int, j: int) -> np.ndarray:
    """Standard normals by Box-Muller (draw indices ``2j`` and ``2j+1``), batch-shaped."""
    out = np.empty(draws.key.shape)
    _k.normal_batch(draws.key, draws.base, int(stream), int(j), out)
    return out.reshape(draws.shape)


def poisson(lam: np.ndarray, draws: Draws, stream: int = Streams.DEMAND) -> np.ndarray:
    """Exact Poisson(lam) draws for every element of the batch, int64."""
    lam = np.ascontiguousarray(np.broadcast_to(np.asarray(lam, dtype=np.float64), draws.shape)).reshape(-1)
    out = np.empty(lam.shape, dtype=np.int64)
    _k.poisson_batch(lam, draws.key, draws.base, int(stream), out)
    return out.reshape(draws.shape)


def gamma(shape: np.ndarray, draws: Draws, stream: int = Streams.GAMMA) -> np.ndarray:
    """Exact Gamma(shape, 1) draws, batch-shaped."""
    shape = np.ascontiguousarray(np.broadcast_to(np.asarray(shape, dtype=np.float64), draws.shape)).reshape(-1)
    out = np.empty(shape.shape)
    _k.gamma_batch(shape, draws.key, draws.base, int(stream), out)
    return out.reshape(draws.shape)


def binomial_small(n: np.ndarray, p: np.ndarray, n_max: int, draws: Draws,
                   stream: int = Streams.THINNING) -> np.ndarray:
    """Exact Binomial(n, p) as a sum of ``n`` Bernoulli draws (``n <= n_max``), batch-shaped."""
    n = np.ascontiguousarray(np.broadcast_to(np.asarray(n, dtype=np.int64), draws.shape)).reshape(-1)
    if np.any(n > n_max):
        raise ValueError(f"n={int(n.max())}: exceeds n_max={n_max}")
    p = np.ascontiguousarray(np.broadcast_to(np.asarray(p, dtype=np.float64), draws.shape)).reshape(-1)
    out = np.empty(n.shape, dtype=np.int64)
    _k.binomial_batch(n, p, draws.key, draws.base, int(stream), out)
    return out.reshape(draws.shape)


def randint(low: np.ndarray, high: np.ndarray, draws: Draws, stream: int = Streams.ARRIVALS) -> np.ndarray:
    """Uniform integers on ``{low, ..., high}`` (inclusive), batch-shaped."""
    u = draws(stream, 0).reshape(draws.shape)
    return (np.asarray(low) + np.floor(u * (np.asarray(high) - np.asarray(low) + 1))).astype(np.int64)
