"""Shared helpers for the environment's test suite (``from helpers import ...``).

* :func:`masked_action` samples an action from the env's own action masks,
  the way MaskablePPO does (one mask per MultiDiscrete component).
* :class:`InvariantChecker` follows an episode step by step and checks the
  invariants every step must keep (conservation of units, no negative
  stock, sales within what was for sale, closed stores stay closed and sell
  nothing, monotone markdowns, the reward identity, finiteness, the
  observation inside its space).
* :func:`tiny` builds small hand-checkable scenarios.
* :func:`sub_chain` restricts ``Chain-v1`` to some of its stores.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from liqenv.scenario import (ElasticityDemand, LeaseTerms, MarkdownRules, Scenario, StoreParams,
                             TransferNetwork, ValuationDemand)

INFO_FLOATS = ("revenue", "operating_cost", "holding_cost", "transfer_cost", "salvage_value")
INFO_ARRAYS = ("sold", "salvaged", "on_hand", "price", "open")


def split_mask(space: spaces.Space, mask: np.ndarray) -> Any:
    """The flat ``action_masks()`` vector in the form ``space.sample(mask=...)`` takes."""
    m = np.asarray(mask, dtype=np.int8)
    if isinstance(space, spaces.Discrete):
        return m
    if isinstance(space, spaces.MultiDiscrete):
        return tuple(np.split(m, np.cumsum(space.nvec)[:-1]))
    raise TypeError(f"no masks for {space}")


def masked_action(env: gym.Env) -> Any:
    """An action drawn from ``env.action_space`` restricted to ``action_masks()``."""
    u = env.unwrapped
    if u.action_layout.kind == "box":
        return env.action_space.sample()
    return env.action_space.sample(mask=split_mask(env.action_space, u.action_masks()))


def uncut_action(env: gym.Env, a: Any) -> np.ndarray:
    """Masked action ``a`` without the cuts strict mode refuses, which masks
    cannot express (several components of one action): no closing announced
    with a shipment in the same action, one shipment per source."""
    lay, p = env.unwrapped.action_layout, env.unwrapped.params
    a = np.array(a)
    if lay.n_ship:
        ship = a[lay.ship_slice]
        if ship.any():
            a[lay.close_slice] = 0
        seen = set()
        for k in range(len(ship)):
            if ship[k] and p.src[k] in seen:
                ship[k] = 0
            elif ship[k]:
                seen.add(p.src[k])
        a[lay.ship_slice] = ship
    return a


class InvariantChecker:
    """Checks the per-step invariants of one episode (call :meth:`reset` after each reset)."""

    def __init__(self, env: gym.Env):
        self.env = env
        self.u = env.unwrapped

    def reset(self, obs: np.ndarray) -> None:
        u = self.u
        sc = u.scenario
        self.sc = sc
        self.initial = sc.total_inventory
        self.sold = 0
        self.salvaged = 0
        self.profit = 0.0
        self.on_hand = u.state.on_hand[0].copy()
        self.open = np.ones(sc.n_stores, dtype=bool)
        self.price = None
        self.steps = 0
        assert int(self.on_hand.sum()) == self.initial
        assert u.observation_space.contains(obs), obs
        self.effect_sd = u.decode_observation(obs).get("effect_sd")

    def check(self, action: Any, obs: np.ndarray, reward: float, terminated: bool, truncated: bool,
              info: dict, masked: bool = False) -> None:
        u, sc, p = self.u, self.sc, self.u.params
        S = sc.n_stores
        # reward identity, exactly as documented
        assert reward == (info["revenue"] - info["operating_cost"] - info["holding_cost"]
                          - info["transfer_cost"] + info["salvage_value"])
        for k in INFO_FLOATS:
            assert isinstance(info[k], float) and np.isfinite(info[k]), (k, info[k])
        for k in ("operating_cost", "holding_cost", "transfer_cost", "salvage_value", "revenue"):
            assert info[k] >= 0.0, (k, info[k])
        assert np.isfinite(reward)
        for k in INFO_ARRAYS:
            assert info[k].shape == (S,), (k, info[k].shape)
        assert np.all(np.isfinite(info["price"]))
        sold, salv, on_hand = info["sold"], info["salvaged"], info["on_hand"]
        assert sold.dtype.kind == "i" and salv.dtype.kind == "i" and on_hand.dtype.kind == "i"
        assert np.all(sold >= 0) and np.all(salv >= 0) and np.all(on_hand >= 0)
        assert info["in_transit"] >= 0
        assert np.all(u.state.pipeline >= 0)
        # sales within what was on hand for sale: on hand at the start of the
        # period, less units shipped out, plus lead-0 arrivals
        shipped = info["shipped"]
        assert np.all(shipped >= 0)
        avail = self.on_hand.copy()
        if p.P:
            np.subtract.at(avail, p.src, shipped)
            assert np.all(avail >= 0), "shipped more than was on hand"
            now = p.lead == 0
            np.add.at(avail, p.dst[now], shipped[now])
        assert np.all(sold <= avail), (sold, avail)
        # nothing ships that would arrive after the last period (MODEL.md section 4.2)
        if p.P:
            assert np.all((shipped == 0) | (info["period"] + p.lead <= sc.horizon - 1)), shipped
        # cuts inside an allowed action are counted, per shipment, and are not violations
        for k in ("cancelled_shipments", "scaled_shipments"):
            assert isinstance(info[k], int) and 0 <= info[k] <= p.P, (k, info[k])
        # holding cost on every unit carried into the next period, arrivals included
        # (in transit not), nothing after the last period (MODEL.md section 5)
        carried = 0 if info["period"] == sc.horizon - 1 else int(on_hand.sum())
        assert np.isclose(info["holding_cost"], sc.holding_cost * carried, rtol=1e-12, atol=1e-12)
        # no customers at a DC
        assert np.all(sold[sc.is_dc] == 0)
        # closed stores sell nothing and never reopen
        is_open = info["open"]
        assert not np.any(is_open & ~self.open), "a closed store reopened"
        assert np.all(sold[~is_open] == 0)
        # monotone markdowns: the price of a store open in both periods never rises
        if sc.markdowns.monotone and self.price is not None:
            both = is_open & self.open & ~sc.is_dc
            assert np.all(info["price"][both] <= self.price[both] + 1e-12), (info["price"], self.price)
        # conservation of units
        self.sold += int(sold.sum())
        self.salvaged += int(salv.sum())
        assert self.initial == self.sold + self.salvaged + int(on_hand.sum()) + info["in_transit"], (
            self.initial, self.sold, self.salvaged, on_hand.sum(), info["in_transit"])
        assert np.array_equal(on_hand, u.state.on_hand[0])
        # observation
        assert u.observation_space.contains(obs), obs
        dec = u.decode_observation(obs)
        assert np.array_equal(dec["on_hand"], on_hand)
        if "effect_sd" in dec:  # the effect posterior only sharpens
            assert np.all(dec["effect_sd"] <= self.effect_sd + 1e-7), (dec["effect_sd"], self.effect_sd)
            self.effect_sd = dec["effect_sd"]
        if masked:
            assert info["rule_violations"] == 0, (action, info)
        assert isinstance(info["rule_violations"], int) and info["rule_violations"] >= 0
        assert truncated is False
        self.steps += 1
        self.profit += reward
        assert terminated == (self.steps == sc.horizon)
        if terminated:
            assert int(on_hand.sum()) == 0 and info["in_transit"] == 0
            assert self.initial == self.sold + self.salvaged
            assert info["units_salvaged"] == self.salvaged
            assert info["sell_through"] == self.sold / self.initial
            assert np.isclose(info["profit"], self.profit, rtol=1e-9, atol=1e-9)
            assert np.isclose(info["net_recovery_on_cost"], self.profit / (self.initial * sc.unit_cost),
                              rtol=1e-9, atol=1e-9)
        self.on_hand = on_hand.copy()
        self.open = is_open.copy()
        self.price = info["price"].copy()


def run_random(env: gym.Env, n_steps: int, seed: int, masked: bool) -> int:
    """``n_steps`` random steps (resetting at episode ends) under the invariant checks.

    Returns the total number of rule repairs seen.
    """
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    chk = InvariantChecker(env)
    chk.reset(obs)
    repairs = 0
    for _ in range(n_steps):
        a = masked_action(env) if masked else env.action_space.sample()
        obs, r, term, trunc, info = env.step(a)
        chk.check(a, obs, r, term, trunc, info, masked=masked)
        repairs += info["rule_violations"]
        if term:
            obs, _ = env.reset()
            chk.reset(obs)
    return repairs


# ------------------------------------------------------------------ tiny scenarios
def tiny(*, inventory=(10, 10), horizon=6, rate=(2, 2), scale=1e12, list_price=1.0,
         operating_cost=0.0, salvage_rate=0.0, lease=None, closable=True, markdowns=None,
         transfers=None, holding_cost=0.0, unit_cost=0.5, name="tiny") -> Scenario:
    """A small chain with (practically) deterministic demand.

    Exactly ``rate[s]`` customers arrive at store ``s`` each period (uniform
    arrivals with no spread) and each values the good at ``scale * X`` with
    ``X ~ Uniform(0, 1)``, so with the default huge ``scale`` every customer
    buys (the chance that one does not is about 1e-12 per customer): store
    ``s`` sells ``min(rate[s], on hand)`` units per period.
    """
    S = len(inventory)
    if lease is None:
        lease = LeaseTerms()
    leases = lease if isinstance(lease, (list, tuple)) else [lease] * S
    sp = list(salvage_rate) if isinstance(salvage_rate, (list, tuple)) else [salvage_rate] * S
    lp = list(list_price) if isinstance(list_price, (list, tuple)) else [list_price] * S
    stores = tuple(StoreParams(name=f"s{i}", inventory=int(inventory[i]), list_price=lp[i],
                               operating_cost=operating_cost, salvage_rate=sp[i], closable=closable,
                               lease=leases[i]) for i in range(S))
    return Scenario(
        name=name, horizon=horizon, stores=stores,
        demand=ValuationDemand(arrival_rate=tuple(float(r) for r in rate), arrival="uniform",
                               arrival_spread=0, valuation="uniform", decay=1.0, scale=scale),
        markdowns=markdowns if markdowns is not None else MarkdownRules(monotone=False),
        transfers=transfers, holding_cost=holding_cost, unit_cost=unit_cost)


def tiny_network(S: int, lead: int, unit_cost: float = 0.0, fixed_cost: float = 0.0,
                 allowed=None, quantities=(0.0, 0.5, 1.0)) -> TransferNetwork:
    return TransferNetwork.uniform(S, lead_time=lead, unit_cost=unit_cost, fixed_cost=fixed_cost,
                                   quantities=quantities, allowed=allowed)


#: ten of Chain-v1's 40 stores: 0-4 without the rent lock, 35-39 with it (locked from period 45)
CHAIN_TEN = (*range(0, 5), *range(35, 40))


from liqenv.presets import sub_chain  # noqa: E402  (re-exported: the tests' name for it)


def rules_scenario(**rule_kw) -> Scenario:
    """A small two-store chain with closings, transfers and the given markdown rules."""
    return Scenario(
        name="rules", horizon=8,
        stores=(StoreParams(name="a", inventory=60, operating_cost=1.0, salvage_rate=0.2,
                            lease=LeaseTerms(notice=1, earliest_close=2, lock_period=3, lock_until=5,
                                             rent_fraction=0.5)),
                StoreParams(name="b", inventory=30, operating_cost=1.0, salvage_rate=0.4,
                            lease=LeaseTerms(notice=0))),
        demand=ElasticityDemand(base=(6.0, 4.0), elasticity=2.0, beta_inv=0.3, store_effect_cv=0.4,
                                cv=0.7),
        markdowns=MarkdownRules(**rule_kw),
        transfers=TransferNetwork.uniform(2, lead_time=2, unit_cost=0.05, fixed_cost=0.5,
                                          quantities=(0.0, 0.3, 0.6, 1.0)),
        holding_cost=0.01)


def play_checked(env: gym.Env, policy: Any, seeds: range) -> list[np.ndarray]:
    """Play one episode per seed with a ``baselines`` policy; every action must satisfy
    the env's masks and none may be repaired (``info["rule_violations"]``).  Returns the actions."""
    offsets = np.concatenate([[0], np.cumsum(env.action_space.nvec)[:-1]])
    actions = []
    for ep in seeds:
        obs, _ = env.reset(seed=ep)
        policy.reset(seed=ep, scenario=env.unwrapped.scenario)
        done = False
        while not done:
            mask = env.unwrapped.action_masks()
            a = policy.act(obs)
            assert mask[offsets + a].all(), (a, mask)
            obs, _, done, _, info = env.step(a)
            assert info["rule_violations"] == 0
            actions.append(a)
    return actions


#: A two-scenario suite small enough for tests (floor fp, reference sdp; suite seeds).
TINY_SUITE = """name: tiny
scenarios:
  - {id: SingleStore-v0, episodes: 6, seed: 5000000, floor: fp, reference: sdp, reference_kind: exact}
  - {id: liqenv/Weekend-v0, episodes: 6, seed: 5400000, floor: fp, reference: sdp, reference_kind: exact}
"""
