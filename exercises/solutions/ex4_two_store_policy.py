"""Exercise 4 (reference solution): a policy for TwoStore-v0.

A fluid (deterministic) heuristic: each store prices to sell its stock over
the periods left at the expected demand the observation reports, closes when
that revenue would not cover its operating costs, and then ships its stock
to the other store if that one stays open.
"""

from __future__ import annotations

import numpy as np

LADDER = np.round(np.arange(20) * 0.05, 2)
#: demand in later periods relative to this one (the scenario's traffic falls over the event)
TRAFFIC_DECAY = 0.8


class Policy:
    def __init__(self, env):
        self.env = env.unwrapped

    def act(self, obs):
        env = self.env
        o = env.decode_observation(obs)
        mask = env.action_masks()
        S, L = 2, len(LADDER)
        left = int(o["remaining"])
        weight = sum(TRAFFIC_DECAY ** k for k in range(left))
        live = o["open"] & ~o["closed"]
        markdown, close, ship = np.zeros(S), np.zeros(S, bool), np.zeros(S, int)
        for s in range(S):
            stock = o["on_hand"][s] + o["in_transit"][s].sum()
            demand = o["demand_at_list"][s] * weight  # units wanted at list price over the periods left
            # with elasticity 2 revenue p * demand / p**2 falls with the price: price to sell out
            price = 1.0 if stock <= 0 else float(np.clip(np.sqrt(demand / stock), 0.05, 1.0))
            allowed = np.flatnonzero(mask[s * L:(s + 1) * L])
            level = allowed[np.argmin(np.abs(LADDER[allowed] - (1.0 - price)))]
            markdown[s] = LADDER[level]
            revenue = price * min(stock, demand / price ** 2) if stock > 0 else 0.0
            if live[s] and mask[2 * L + 2 * s + 1] and revenue < o["operating_cost"][s] * left:
                close[s] = True
        for s in range(S):
            other = 1 - s
            if close[s] and not close[other] and live[other] and mask[2 * L + 4 + 11 * s + 10]:
                ship[s] = 10  # the whole stock (menu: 0%, 10%, ..., 100%)
        return env.encode_action(markdown=markdown, close=close, ship=ship)
