"""Hand-computed trajectories of the fidelity fixes of issue 10 section 2
(MODEL.md sections 4.2 and 5): holding cost on arrivals, shipments that
would arrive after the horizon masked, and the shipments the rules cut
inside an allowed action (cancelled, scaled down) counted in ``info`` and
refused in strict mode.

The scenarios have no demand (``base = 0``), so every number below follows
from the rules alone.
"""

from __future__ import annotations

import numpy as np
import pytest

import liqenv
from liqenv import dynamics as dyn
from liqenv.scenario import (ElasticityDemand, LeaseTerms, MarkdownRules, Scenario, StoreParams,
                             TransferNetwork)

H = 0.1  # holding cost per unit carried
UNIT, FIXED = 0.02, 1.0  # transfer cost per unit and per shipment


def quiet(n_stores=2, inventory=(10, 10), lead=1, horizon=4, notice=1) -> Scenario:
    stores = tuple(StoreParams(name=chr(65 + s), inventory=inventory[s], closable=True,
                               lease=LeaseTerms(notice=notice)) for s in range(n_stores))
    return Scenario(
        name="quiet", horizon=horizon, stores=stores,
        demand=ElasticityDemand(base=(0.0,) * n_stores, elasticity=2.0),
        markdowns=MarkdownRules(monotone=False),
        transfers=TransferNetwork.uniform(n_stores, lead_time=lead, unit_cost=UNIT, fixed_cost=FIXED,
                                          quantities=(0.0, 0.5, 0.6, 1.0)),
        holding_cost=H)


def act(env, ship=None, close=None):
    """Hold list price everywhere; ship menu indices per pair; announce closings."""
    S = env.scenario.n_stores
    return env.encode_action(markdown=np.zeros(S), close=np.zeros(S, bool) if close is None else close,
                             ship=np.zeros(env.params.P, int) if ship is None else ship)


def pair(env, i, j) -> int:
    return [tuple(x) for x in zip(env.params.src, env.params.dst)].index((i, j))


def test_arrivals_are_charged_holding_when_they_land():
    env = liqenv.LiquidationEnv(quiet(lead=1))
    env.reset(seed=0)
    ship = np.zeros(env.params.P, int)
    ship[pair(env, 0, 1)] = 1  # half of A's 10 units to B, lead 1
    _, r, *_, info = env.step(act(env, ship))
    # 5 left at A, 5 landed at B on top of its 10: 20 units carried into period 1
    assert info["shipped"][pair(env, 0, 1)] == 5
    assert info["on_hand"].tolist() == [5, 15]
    assert info["holding_cost"] == pytest.approx(H * 20)
    assert info["transfer_cost"] == pytest.approx(5 * UNIT + FIXED)
    assert r == pytest.approx(-H * 20 - 5 * UNIT - FIXED)


def test_units_in_transit_are_not_charged_until_they_land():
    env = liqenv.LiquidationEnv(quiet(lead=2))
    env.reset(seed=0)
    ship = np.zeros(env.params.P, int)
    ship[pair(env, 0, 1)] = 1
    *_, info = env.step(act(env, ship))
    assert info["in_transit"] == 5 and info["holding_cost"] == pytest.approx(H * 15)
    *_, info = env.step(act(env))
    assert info["in_transit"] == 0 and info["holding_cost"] == pytest.approx(H * 20)
    # the last period carries nothing into a next one
    env.step(act(env))
    *_, info = env.step(act(env))
    assert info["period"] == 3 and info["holding_cost"] == 0.0


def test_shipments_arriving_after_the_horizon_are_masked_and_refused():
    env = liqenv.LiquidationEnv(quiet(lead=2, horizon=4))
    env.reset(seed=0)
    k = pair(env, 0, 1)
    lay = env.action_layout
    first = int(np.sum(lay.nvec[: lay.ship_slice.start]))
    ship_mask = lambda: env.action_masks()[first + k * lay.K: first + (k + 1) * lay.K]  # noqa: E731
    env.step(act(env))  # period 0
    assert ship_mask()[1:].all()  # period 1: arrives in period 3 = T-1
    env.step(act(env))
    assert not ship_mask()[1:].any()  # period 2: would arrive in period 4 > T-1
    ship = np.zeros(env.params.P, int)
    ship[k] = 1
    *_, info = env.step(act(env, ship))
    assert info["rule_violations"] == 1 and info["shipped"][k] == 0 and info["transfer_cost"] == 0.0
    strict = liqenv.LiquidationEnv(quiet(lead=2, horizon=4), strict=True)
    strict.reset(seed=0)
    strict.step(act(strict))
    strict.step(act(strict))
    with pytest.raises(dyn.RuleViolation, match="transfer not allowed"):
        strict.step(act(strict, ship))


def test_a_shipment_to_a_store_announced_closing_is_cancelled_and_counted():
    env = liqenv.LiquidationEnv(quiet(lead=1, notice=1))
    env.reset(seed=0)
    ship = np.zeros(env.params.P, int)
    ship[pair(env, 0, 1)] = 1
    close = np.array([False, True])  # B closes at t + 1 = the arrival date
    a = act(env, ship, close)
    offsets = np.concatenate([[0], np.cumsum(env.action_layout.nvec)[:-1]])
    assert env.action_masks()[offsets + a].all()  # every component is allowed on its own
    *_, info = env.step(act(env, ship, close))
    assert info["cancelled_shipments"] == 1 and info["scaled_shipments"] == 0
    assert info["rule_violations"] == 0
    assert info["shipped"].sum() == 0 and info["transfer_cost"] == 0.0
    strict = liqenv.LiquidationEnv(quiet(lead=1, notice=1), strict=True)
    strict.reset(seed=0)
    with pytest.raises(dyn.RuleViolation, match="cancelled"):
        strict.step(act(strict, ship, close))
    assert strict.state.t[0] == 0  # nothing moved


def test_fractions_above_one_are_scaled_down_and_counted():
    env = liqenv.LiquidationEnv(quiet(n_stores=3, inventory=(10, 10, 10)))
    env.reset(seed=0)
    ship = np.zeros(env.params.P, int)
    ship[pair(env, 0, 1)] = ship[pair(env, 0, 2)] = 2  # 0.6 + 0.6 of A's 10 units
    *_, info = env.step(act(env, ship))
    # asked 6 + 6 > 10: each scaled to floor(6 * 10 / 12) = 5
    assert info["shipped"][pair(env, 0, 1)] == 5 and info["shipped"][pair(env, 0, 2)] == 5
    assert info["scaled_shipments"] == 2 and info["cancelled_shipments"] == 0
    assert info["rule_violations"] == 0
    strict = liqenv.LiquidationEnv(quiet(n_stores=3, inventory=(10, 10, 10)), strict=True)
    strict.reset(seed=0)
    with pytest.raises(dyn.RuleViolation, match="scaled down"):
        strict.step(act(strict, ship))
    # one pair at 0.6 and one at 0.0: nothing cut
    ship[pair(env, 0, 2)] = 0
    *_, info = strict.step(act(strict, ship))
    assert info["scaled_shipments"] == 0 and info["shipped"][pair(env, 0, 1)] == 6
