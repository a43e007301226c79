"""Exercise 1 (reference solution): a fixed-price policy and its expected profit."""

from __future__ import annotations

import numpy as np
from scipy import stats

from exercises.common import LADDER, Instance, rollout


def expected_profit(inst: Instance, markdown: float) -> float:
    price = 1.0 - markdown
    rates = inst.arrival_rate * np.clip(1.0 - price / inst.decay ** np.arange(inst.horizon), 0.0, None)
    # units sold in total = min(N, total wanted), and the total wanted is Poisson(sum of rates)
    k = np.arange(inst.inventory)
    expected_sold = stats.poisson.sf(k, rates.sum()).sum()  # E[min(N, X)] = sum_{k<N} P(X > k)
    return float(price * expected_sold)


def best_fixed_markdown(inst: Instance) -> float:
    return float(LADDER[int(np.argmax([expected_profit(inst, m) for m in LADDER]))])


def simulate(inst: Instance, markdown: float, episodes: int, seed: int) -> np.ndarray:
    env = inst.make_env()
    action = env.unwrapped.encode_action(markdown=markdown)
    return rollout(env, lambda obs: action, range(seed, seed + episodes))
