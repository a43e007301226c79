"""Exercise 2 (reference solution): the single-store Bellman recursion."""

from __future__ import annotations

import numpy as np
from scipy import stats

from exercises.common import LADDER, Instance


def sales_distribution(inst: Instance, t: int, markdown: float) -> np.ndarray:
    """``W[n, k]``: probability of selling ``k`` units in period ``t`` with ``n`` on hand."""
    N = inst.inventory
    rate = inst.arrival_rate * max(0.0, 1.0 - (1.0 - markdown) / inst.decay ** t)
    pmf = stats.poisson.pmf(np.arange(N + 1), rate)
    tail = stats.poisson.sf(np.arange(N + 1) - 1, rate)  # P(D >= n)
    W = np.zeros((N + 1, N + 1))
    for n in range(N + 1):
        W[n, :n] = pmf[:n]
        W[n, n] = tail[n]
    return W


def value_table(inst: Instance) -> np.ndarray:
    N, T = inst.inventory, inst.horizon
    V = np.zeros((T + 1, N + 1))
    n = np.arange(N + 1)
    k = np.arange(N + 1)
    V[T] = inst.salvage_rate * n
    for t in range(T - 1, -1, -1):
        hold = inst.holding_cost if t < T - 1 else 0.0
        left = np.clip(n[:, None] - k[None, :], 0, None)  # units left when k are sold
        best = np.full(N + 1, -np.inf)
        for m in LADDER:
            W = sales_distribution(inst, t, m)
            gain = (1.0 - m) * k[None, :] - hold * left + V[t + 1][left]
            best = np.maximum(best, (W * gain).sum(axis=1))
        V[t] = best
    return V


def value(inst: Instance) -> float:
    return float(value_table(inst)[0, inst.inventory])
