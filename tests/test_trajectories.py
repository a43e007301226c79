"""Hand-checkable trajectories on tiny fixed scenarios, one test per rule.

Demand in these scenarios is (practically) deterministic: exactly ``rate[s]``
customers a period, each buying (see ``helpers.tiny``), so store ``s``
sells ``min(rate[s], on hand)`` units each period at the posted price, and
every number below can be worked out by hand.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from liqenv.dynamics import RuleViolation
from liqenv.env import LiquidationEnv
from liqenv.scenario import NO_CLOSE, LeaseTerms, MarkdownRules

from helpers import InvariantChecker, tiny, tiny_network

approx = lambda x: pytest.approx(x, rel=1e-12, abs=1e-12)  # noqa: E731


def play(env, actions, seed=0, check=True):
    """Reset and play ``actions`` (callables of the env, or flat actions); return the infos."""
    obs, _ = env.reset(seed=seed)
    chk = InvariantChecker(env)
    chk.reset(obs)
    infos = []
    for a in actions:
        a = a(env) if callable(a) else a
        obs, r, term, trunc, info = env.step(a)
        if check:
            chk.check(a, obs, r, term, trunc, info)
        info["reward"] = r
        info["obs"] = env.decode_observation(obs)
        infos.append(info)
    return infos


def act(markdown=0.0, close=None, ship=None):
    return lambda env: env.encode_action(markdown=markdown, close=close, ship=ship)


def col(infos, key, s=None):
    v = [i[key] for i in infos]
    return np.array(v if s is None else [x[s] for x in v])


# ------------------------------------------------------------------ notice period
def test_notice_period_closes_k_periods_after_announcement():
    """Notice 2, announce store 0 at t=1: it trades in periods 1 and 2, is closed
    from period 3 (sells nothing, no operating cost) and salvages its 4 units then."""
    sc = tiny(inventory=(10, 20), rate=(2, 2), horizon=6, lease=LeaseTerms(notice=2),
              salvage_rate=0.5, operating_cost=1.0)
    env = LiquidationEnv(sc)
    # the request at t=2 to "not close" cannot withdraw the announcement
    plan = [act(close=[False, False]), act(close=[True, False])] + [act(close=[False, False])] * 4
    infos = play(env, plan)
    assert col(infos, "sold", 0).tolist() == [2, 2, 2, 0, 0, 0]
    assert col(infos, "sold", 1).tolist() == [2, 2, 2, 2, 2, 2]
    assert col(infos, "salvaged", 0).tolist() == [0, 0, 0, 4, 0, 0]
    assert col(infos, "salvaged", 1).tolist() == [0, 0, 0, 0, 0, 8]
    assert col(infos, "open", 0).tolist() == [True, True, True, False, False, False]
    assert col(infos, "operating_cost").tolist() == [2.0, 2.0, 2.0, 1.0, 1.0, 1.0]
    assert col(infos, "salvage_value").tolist() == [0.0, 0.0, 0.0, 2.0, 0.0, 4.0]
    assert col(infos, "reward").tolist() == [2.0, 2.0, 2.0, 3.0, 1.0, 5.0]
    assert infos[-1]["profit"] == 15.0
    assert col(infos, "rule_violations").sum() == 0
    # what the policy sees at the start of periods 1, 2, 3: open, announced
    # with 1 period to go, closed
    obs = [i["obs"] for i in infos]
    assert [bool(o["announced"][0]) for o in obs[:3]] == [False, True, False]
    assert [int(o["until_close"][0]) for o in obs[:3]] == [0, 1, 0]
    assert [bool(o["closed"][0]) for o in obs] == [False, False, True, True, True, True]


def test_notice_zero_closes_in_the_announcement_period():
    sc = tiny(inventory=(10, 20), rate=(2, 2), horizon=4, salvage_rate=0.25, operating_cost=1.0)
    env = LiquidationEnv(sc)
    infos = play(env, [act(), act(), act(close=[True, False]), act()])
    assert col(infos, "sold", 0).tolist() == [2, 2, 0, 0]
    assert col(infos, "salvaged", 0).tolist() == [0, 0, 6, 0]
    assert col(infos, "operating_cost").tolist() == [2.0, 2.0, 1.0, 1.0]
    assert infos[2]["salvage_value"] == 1.5


def test_announcement_is_masked_once_made():
    sc = tiny(inventory=(10, 20), rate=(2, 2), horizon=6, lease=LeaseTerms(notice=2))
    env = LiquidationEnv(sc)
    env.reset(seed=0)
    L = len(sc.ladder)
    assert env.action_masks()[2 * L:].tolist() == [True, True, True, True]
    env.step(env.encode_action(close=[True, False]))
    assert env.action_masks()[2 * L:].tolist() == [True, False, True, True]
    assert env.state.close_at[0].tolist() == [2, NO_CLOSE]  # announced at 0, notice 2


# ------------------------------------------------------------------ rent lock
@pytest.mark.parametrize("notice,announce_at,expected,locked", [
    (0, None, [10.0] * 7, True),                          # never closed: full cost, nothing extra
    (0, 1, [10.0, 0, 0, 0, 0, 0, 0], False),              # closed before the lock date: no rent
    (0, 2, [10.0, 10.0, 0, 0, 0, 0, 0], False),           # closed in period t_k itself: not open then
    (0, 3, [10.0, 10.0, 10.0, 6.0, 6.0, 0, 0], True),     # open in t_k: rent (60%) through t_end=4
    (1, 1, [10.0, 10.0, 0, 0, 0, 0, 0], False),           # notice 1, effective in t_k: no lock
    (1, 2, [10.0, 10.0, 10.0, 6.0, 6.0, 0, 0], True),     # notice 1, open in t_k: locked
    (0, 5, [10.0] * 5 + [0, 0], True),                    # closed after t_end: nothing owed after
])
def test_rent_lock(notice, announce_at, expected, locked):
    """``lock_period=2, lock_until=4``: open in period 2 means rent through period 4."""
    sc = tiny(inventory=(100,), rate=(1,), horizon=7, operating_cost=10.0,
              lease=LeaseTerms(notice=notice, lock_period=2, lock_until=4, rent_fraction=0.6))
    env = LiquidationEnv(sc)
    infos = play(env, [act(close=[t == announce_at]) for t in range(7)])
    assert col(infos, "operating_cost") == approx(expected)
    assert col(infos, "rule_violations").sum() == 0
    # the observation shows the lock from the end of period 2 on
    assert [bool(i["obs"]["locked"][0]) for i in infos] == [False, False] + [locked] * 5


# ------------------------------------------------------------------ earliest close
def test_earliest_close_masks_and_repairs_early_announcements():
    """earliest_close=3, notice=1: an announcement may be made from t=2 (effective 3)."""
    sc = tiny(inventory=(10, 20), rate=(2, 2), horizon=6,
              lease=LeaseTerms(earliest_close=3, notice=1))
    L = len(sc.ladder)
    env = LiquidationEnv(sc)
    obs, _ = env.reset(seed=0)
    assert env.decode_observation(obs)["until_may_close"].tolist() == [2, 2]
    assert env.action_masks()[2 * L: 2 * L + 2].tolist() == [True, False]
    env.step(env.encode_action(close=[False, False]))
    assert env.action_masks()[2 * L: 2 * L + 2].tolist() == [True, False]
    # a premature request is repaired (ignored) and counted
    _, _, _, _, info = env.step(env.encode_action(close=[True, False]))
    assert info["rule_violations"] == 1
    assert env.status.tolist() == ["open", "open"]
    assert info["sold"].tolist() == [2, 2]
    # from t=2 it is allowed and takes effect at 3
    assert env.action_masks()[2 * L: 2 * L + 2].tolist() == [True, True]
    _, _, _, _, info = env.step(env.encode_action(close=[True, False]))
    assert info["rule_violations"] == 0
    _, _, _, _, info = env.step(env.encode_action())
    assert info["sold"].tolist() == [0, 2] and info["salvaged"].tolist() == [4, 0]
    # store 1: a closing taking effect after the last period (4 + 1 = 5 is the last) ...
    env.step(env.encode_action())
    assert env.action_masks()[2 * L + 2: 2 * L + 4].tolist() == [True, False]  # t=5: 6 > T-1
    _, _, _, _, info = env.step(env.encode_action(close=[False, True]))
    assert info["rule_violations"] == 1


def test_earliest_close_strict_raises_and_leaves_state():
    sc = tiny(inventory=(10, 20), rate=(2, 2), horizon=6, lease=LeaseTerms(earliest_close=3, notice=1))
    env = LiquidationEnv(sc, strict=True)
    env.reset(seed=0)
    before = env.state.copy()
    with pytest.raises(RuleViolation, match="closing"):
        env.step(env.encode_action(close=[True, False]))
    for name in ("t", "on_hand", "close_at", "markdown", "profit_total"):
        assert np.array_equal(getattr(env.state, name), getattr(before, name)), name
    _, _, _, _, info = env.step(env.encode_action())
    assert info["rule_violations"] == 0 and info["sold"].tolist() == [2, 2]


# ------------------------------------------------------------------ lead times
def test_units_shipped_at_t_with_lead_l_are_for_sale_at_t_plus_l():
    """Ship all 10 units 0->1 at t=1 with lead 2: in transit after periods 1 (and
    shown arriving in 1 period), on hand at store 1 for period 3, sold 5 + 5."""
    net = tiny_network(2, lead=2, allowed=[[False, True], [False, False]])
    sc = tiny(inventory=(10, 0), rate=(0, 5), horizon=6, transfers=net)
    env = LiquidationEnv(sc)
    infos = play(env, [act(), act(ship=[2])] + [act()] * 4)
    assert col(infos, "shipped", 0).tolist() == [0, 10, 0, 0, 0, 0]
    assert col(infos, "in_transit").tolist() == [0, 10, 0, 0, 0, 0]
    assert col(infos, "on_hand", 0).tolist() == [10, 0, 0, 0, 0, 0]
    assert col(infos, "on_hand", 1).tolist() == [0, 0, 10, 5, 0, 0]
    assert col(infos, "sold", 1).tolist() == [0, 0, 0, 5, 5, 0]
    # the observation after period 1 shows the 10 units arriving in 1 period at store 1
    assert infos[1]["obs"]["in_transit"].tolist() == [[0, 0], [10, 0]]


def test_lead_time_zero_arrives_before_demand():
    net = tiny_network(2, lead=0, allowed=[[False, True], [False, False]])
    sc = tiny(inventory=(10, 0), rate=(0, 5), horizon=4, transfers=net)
    env = LiquidationEnv(sc)
    infos = play(env, [act(), act(ship=[2]), act(), act()])
    assert col(infos, "sold", 1).tolist() == [0, 5, 5, 0]
    assert col(infos, "in_transit").tolist() == [0, 0, 0, 0]


def test_nothing_ships_to_a_store_closing_before_arrival():
    """Store 1 closes at t=2 (announced at 0, notice 2): a lead-2 shipment at t=0
    would arrive after it closed, so it is masked and repaired."""
    net = tiny_network(2, lead=2)
    sc = tiny(inventory=(10, 10), rate=(0, 0), horizon=6, transfers=net,
              lease=LeaseTerms(notice=2))
    env = LiquidationEnv(sc)
    env.reset(seed=0)
    env.step(env.encode_action(close=[False, True]))
    L = len(sc.ladder)
    ship01 = env.action_masks()[2 * L + 4: 2 * L + 7]
    assert ship01.tolist() == [True, False, False]
    _, _, _, _, info = env.step(env.encode_action(ship=[2, 0]))
    assert info["rule_violations"] == 1 and info["shipped"].tolist() == [0, 0]
    assert info["on_hand"].tolist() == [10, 10]


# ------------------------------------------------------------------ transfer cost
def test_transfer_cost_per_unit_plus_fixed_per_shipment():
    net = tiny_network(2, lead=1, unit_cost=0.1, fixed_cost=2.5)
    sc = tiny(inventory=(10, 20), rate=(0, 0), horizon=5, transfers=net)
    env = LiquidationEnv(sc)
    # t=0: 50% of 10 (5 units) 0->1 and 100% of 20 1->0: 25 units, 2 shipments
    # t=1: nothing; t=2: store 0 holds 5 + 20 = 25, ships 50%: floor(12.5) = 12
    infos = play(env, [act(ship=[1, 2]), act(ship=[0, 0]), act(ship=[1, 0]), act(), act()])
    assert col(infos, "shipped").tolist() == [[5, 20], [0, 0], [12, 0], [0, 0], [0, 0]]
    assert col(infos, "transfer_cost") == approx([25 * 0.1 + 2 * 2.5, 0.0, 12 * 0.1 + 2.5, 0.0, 0.0])
    assert col(infos, "reward") == approx(-col(infos, "transfer_cost") + col(infos, "salvage_value"))
    assert col(infos, "on_hand").tolist() == [[25, 5], [25, 5], [13, 17], [13, 17], [0, 0]]


def test_transfer_fractions_over_one_are_scaled_pro_rata_without_creating_units():
    """Two pairs out of store 0 each asking 100%: the 10 units are split, never doubled."""
    net = tiny_network(3, lead=1, allowed=[[False, True, True], [False] * 3, [False] * 3])
    sc = tiny(inventory=(10, 1, 1), rate=(0, 0, 0), horizon=3, transfers=net)
    env = LiquidationEnv(sc)
    infos = play(env, [act(ship=[2, 2]), act(), act()])
    assert infos[0]["shipped"].tolist() == [5, 5]
    assert infos[0]["rule_violations"] == 0
    assert infos[0]["on_hand"].tolist() == [0, 6, 6]  # lead 1: on hand for period 1


# ------------------------------------------------------------------ salvage
def test_salvage_on_closing_and_at_the_end():
    """Store 0 (list 2.0, rate 0.3) closes at t=2 with 6 units: 6 * 0.6 = 3.6;
    store 1 (list 1.0, rate 0.8) ends with 2 units: 2 * 0.8 = 1.6."""
    sc = tiny(inventory=(10, 10), rate=(2, 2), horizon=4, list_price=(2.0, 1.0),
              salvage_rate=(0.3, 0.8))
    env = LiquidationEnv(sc)
    infos = play(env, [act(), act(), act(close=[True, False]), act()])
    assert col(infos, "salvaged").tolist() == [[0, 0], [0, 0], [6, 0], [0, 2]]
    assert col(infos, "salvage_value") == approx([0.0, 0.0, 3.6, 1.6])
    assert col(infos, "revenue") == approx([4.0 + 2.0, 6.0, 2.0, 2.0])
    assert infos[-1]["units_salvaged"] == 8
    assert infos[-1]["sell_through"] == 12 / 20


def test_nothing_ships_that_would_arrive_after_the_horizon():
    """MODEL.md section 4.2: a shipment arriving after period T-1 could only be
    salvaged (at the destination's rate); it is refused.  One that arrives in
    period T-1 lands at the end of period T-2 and is sold or salvaged there."""
    net = tiny_network(2, lead=3, allowed=[[False, True], [False, False]])
    sc = tiny(inventory=(10, 0), rate=(0, 0), horizon=4, transfers=net, salvage_rate=(0.3, 0.8))
    env = LiquidationEnv(sc)
    infos = play(env, [act(), act(ship=[2]), act(), act()])
    assert infos[1]["rule_violations"] == 1 and infos[1]["shipped"].tolist() == [0]
    assert infos[3]["salvaged"].tolist() == [10, 0] and infos[3]["salvage_value"] == approx(3.0)
    env = LiquidationEnv(sc)
    infos = play(env, [act(ship=[2]), act(), act(), act()])
    assert infos[0]["rule_violations"] == 0 and infos[1]["in_transit"] == 10
    assert infos[2]["in_transit"] == 0 and infos[2]["on_hand"].tolist() == [0, 10]
    assert infos[3]["salvaged"].tolist() == [0, 10] and infos[3]["salvage_value"] == approx(8.0)


def test_units_arriving_at_a_store_closed_meanwhile_go_to_its_jobber():
    net = tiny_network(2, lead=2, allowed=[[False, True], [False, False]])
    sc = tiny(inventory=(10, 4), rate=(0, 0), horizon=5, transfers=net, salvage_rate=(0.3, 0.8))
    env = LiquidationEnv(sc)
    # ship at 0 (arrives for period 2), close store 1 at 1 (notice 0)
    infos = play(env, [act(ship=[2]), act(close=[False, True]), act(), act(), act()])
    assert infos[1]["salvaged"].tolist() == [0, 14]
    assert infos[1]["salvage_value"] == approx(14 * 0.8)
    assert infos[1]["in_transit"] == 0


# ------------------------------------------------------------------ holding cost
def test_holding_cost_per_unit_on_hand_at_the_end_of_periods_0_to_T_minus_2():
    sc = tiny(inventory=(10,), rate=(2,), horizon=4, holding_cost=0.1, closable=False)
    env = LiquidationEnv(sc)
    infos = play(env, [act()] * 4)
    assert col(infos, "holding_cost") == approx([0.8, 0.6, 0.4, 0.0])
    # a unit sold in period t has cost h*t; the 2 left at the end were carried 3 periods
    per_unit = 0.1 * (2 * (0 + 1 + 2 + 3) + 2 * 3)
    assert col(infos, "holding_cost").sum() == approx(per_unit)


def test_closed_store_units_salvaged_pay_no_holding():
    sc = tiny(inventory=(10, 10), rate=(2, 2), horizon=4, holding_cost=1.0)
    env = LiquidationEnv(sc)
    infos = play(env, [act(close=[True, False]), act(), act(), act()])
    assert col(infos, "holding_cost") == approx([8.0, 6.0, 4.0, 0.0])


# ------------------------------------------------------------------ markdown rules
def _single(rules: MarkdownRules, n_stores: int = 1):
    return tiny(inventory=(100,) * n_stores, rate=(1,) * n_stores, horizon=8, closable=False,
                markdowns=rules)


MARKDOWN_CASES = {
    # name: (rules, markdowns played first, rule-breaking request, what it is repaired to)
    "monotone": (MarkdownRules(monotone=True), [0.3], 0.2, 0.3),
    "initial_min": (MarkdownRules(monotone=False, initial_min=0.2, initial_max=0.4), [], 0.0, 0.2),
    "initial_max": (MarkdownRules(monotone=False, initial_min=0.2, initial_max=0.4), [], 0.6, 0.4),
    "step_min": (MarkdownRules(monotone=True, step_min=0.15, step_max=0.2), [0.2], 0.25, 0.2),
    "step_max": (MarkdownRules(monotone=True, step_min=0.15, step_max=0.2), [0.2], 0.6, 0.4),
    "step_max_down": (MarkdownRules(monotone=False, step_max=0.1), [0.5], 0.2, 0.4),
    "min_hold": (MarkdownRules(monotone=False, min_hold=3), [0.1, 0.1], 0.2, 0.1),
    "max_changes": (MarkdownRules(monotone=False, max_changes=1), [0.1, 0.2], 0.3, 0.2),
}


def _ladder_index(sc, m):
    return int(np.argmin(np.abs(sc.ladder - m)))


@pytest.mark.parametrize("case", sorted(MARKDOWN_CASES))
def test_markdown_rule_repair_is_counted(case):
    rules, prefix, bad, fixed = MARKDOWN_CASES[case]
    sc = _single(rules)
    env = LiquidationEnv(sc)
    infos = play(env, [act(m) for m in prefix])
    assert all(i["rule_violations"] == 0 for i in infos)
    mask = env.action_masks()
    assert not mask[_ladder_index(sc, bad)] and mask[_ladder_index(sc, fixed)]
    _, _, _, _, info = env.step(env.encode_action(markdown=bad))
    assert info["rule_violations"] == 1
    assert info["price"][0] == approx(1.0 - fixed)
    assert info["revenue"] == approx(1.0 - fixed)  # one customer, one unit


@pytest.mark.parametrize("case", sorted(MARKDOWN_CASES))
def test_markdown_rule_strict_raises(case):
    rules, prefix, bad, fixed = MARKDOWN_CASES[case]
    env = LiquidationEnv(_single(rules), strict=True)
    play(env, [act(m) for m in prefix])
    before = env.state.copy()
    with pytest.raises(RuleViolation, match="markdown"):
        env.step(env.encode_action(markdown=bad))
    for name in ("t", "markdown", "hold", "changes", "on_hand", "profit_total"):
        assert np.array_equal(getattr(env.state, name), getattr(before, name)), name
    _, _, _, _, info = env.step(env.encode_action(markdown=fixed))
    assert info["rule_violations"] == 0


def test_min_hold_allows_a_change_after_the_hold():
    env = LiquidationEnv(_single(MarkdownRules(monotone=False, min_hold=3)))
    infos = play(env, [act(0.1), act(0.1), act(0.1), act(0.3), act(0.3), act(0.3), act(0.2)])
    assert col(infos, "rule_violations").tolist() == [0] * 7
    assert col(infos, "price", 0) == approx([0.9, 0.9, 0.9, 0.7, 0.7, 0.7, 0.8])


def test_max_changes_counts_changes_after_period_0():
    env = LiquidationEnv(_single(MarkdownRules(monotone=True, max_changes=2)))
    infos = play(env, [act(0.1), act(0.2), act(0.2), act(0.4), act(0.5), act(0.6)])
    assert col(infos, "rule_violations").tolist() == [0, 0, 0, 0, 1, 1]
    assert col(infos, "price", 0) == approx([0.9, 0.8, 0.8, 0.6, 0.6, 0.6])


def test_uniform_pricing_one_price_for_the_chain_one_count_per_repair():
    rules = MarkdownRules(monotone=True, uniform_pricing=True)
    sc = _single(rules, n_stores=3)
    env = LiquidationEnv(sc)
    assert env.action_space == gym.spaces.Discrete(len(sc.ladder))  # one decision for the chain
    infos = play(env, [act(0.3), act(0.2), act(0.5)])
    assert col(infos, "rule_violations").tolist() == [0, 1, 0]
    assert col(infos, "price") == approx(np.array([[0.7] * 3, [0.7] * 3, [0.5] * 3]))
    strict = LiquidationEnv(sc, strict=True)
    play(strict, [act(0.3)])
    with pytest.raises(RuleViolation):
        strict.step(strict.encode_action(markdown=0.2))


def test_uniform_pricing_mask_ignores_closed_stores():
    """With uniform pricing the chain may post a level if every open store may."""
    rules = MarkdownRules(monotone=True, uniform_pricing=True, min_hold=2)
    sc = tiny(inventory=(50, 50), rate=(1, 1), horizon=6, markdowns=rules)
    env = LiquidationEnv(sc)
    infos = play(env, [act(0.1, close=[True, False]), act(0.1)])
    # store 0 (closed, its level held only 1 period) would forbid a change now
    mask = env.action_masks()[: len(sc.ladder)]
    assert mask[_ladder_index(sc, 0.3)] and not mask[_ladder_index(sc, 0.0)]
    infos += [env.step(env.encode_action(markdown=0.3))[-1]]
    assert col(infos, "rule_violations").tolist() == [0, 0, 0]
    assert infos[-1]["price"][1] == approx(0.7)
    assert infos[-1]["sold"].tolist() == [0, 1]
