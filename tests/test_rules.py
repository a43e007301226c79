"""liqenv.rules: hand-checked cases, and agreement with the step kernel and its masks."""

from __future__ import annotations

import numpy as np
import pytest

import liqenv
from liqenv import dynamics as dyn
from liqenv import rules
from liqenv.scenario import MarkdownRules
from record_golden import lease_scenario

LADDER = np.round(np.arange(0.0, 1.0, 0.1), 2)


# ----------------------------------------------------------------- markdowns
def test_rule_vector_keeps_the_ladder_step_floor():
    assert rules.rule_vector(MarkdownRules())[rules.STEP_MIN] == 1e-6
    assert rules.rule_vector(MarkdownRules(), continuous=True)[rules.STEP_MIN] == rules.TOL
    assert rules.rule_vector(MarkdownRules(step_min=0.1))[rules.STEP_MIN] == 0.1
    v = rules.rule_vector(MarkdownRules(max_changes=None, step_max=None))
    assert v[rules.MAX_CHANGES] == -1 and v[rules.STEP_MAX] == np.inf


def test_allowed_markdowns_hand_checked():
    r = MarkdownRules(ladder=tuple(LADDER), monotone=True, initial_min=0.2, initial_max=0.4,
                      step_max=0.3, min_hold=3, max_changes=2)
    levels = lambda ok: LADDER[ok].round(2).tolist()  # noqa: E731
    assert levels(rules.allowed_markdowns(r, LADDER, 0.0, 0, 0, 0)) == [0.2, 0.3, 0.4]
    assert levels(rules.initial_levels(r, LADDER)) == [0.2, 0.3, 0.4]
    # held 2 of 3 periods: only the current level
    assert levels(rules.allowed_markdowns(r, LADDER, 0.3, 2, 0, 5)) == [0.3]
    # held long enough: up by at most 0.3 (monotone)
    assert levels(rules.allowed_markdowns(r, LADDER, 0.3, 3, 1, 5)) == [0.3, 0.4, 0.5, 0.6]
    # both changes used
    assert levels(rules.allowed_markdowns(r, LADDER, 0.3, 9, 2, 5)) == [0.3]
    free = MarkdownRules(ladder=tuple(LADDER), monotone=False, step_min=0.2)
    assert levels(rules.allowed_markdowns(free, LADDER, 0.5, 1, 0, 1)) == [0.0, 0.1, 0.2, 0.3, 0.5, 0.7,
                                                                           0.8, 0.9]


def test_transition_matrix():
    r = MarkdownRules(ladder=tuple(LADDER), monotone=True, step_max=0.2, min_hold=4)
    m = rules.transition_matrix(r, LADDER)
    assert m.shape == (10, 10) and m.diagonal().all()
    assert not m[np.tril_indices(10, -1)].any()  # monotone: never down
    assert m[2].nonzero()[0].tolist() == [2, 3, 4]


def test_nearest_markdown_hand_checked():
    rv = rules.rule_vector(MarkdownRules(monotone=True, step_max=0.2))
    # a cut back to 0.1 from 0.4 is repaired to staying at 0.4; 0.95 to 0.6
    assert rules.nearest_markdown(0.1, 0.4, 1, 0, 3, rv, LADDER, False, 0.0) == 0.4
    assert rules.nearest_markdown(0.95, 0.4, 1, 0, 3, rv, LADDER, False, 0.0) == 0.6
    # continuous: clipped to the step range
    assert rules.nearest_markdown(0.9, 0.4, 1, 0, 3, rv, LADDER, True, 0.0) == pytest.approx(0.6)


def test_chain_store():
    assert rules.chain_store(np.array([False, True, True])) == 1
    assert rules.chain_store(np.array([True, True])) == 0
    assert rules.chain_store(np.array([False])) == -1


def test_uniform_pricing_layout_reads_the_chain_store():
    """The action layout encodes the chain markdown from the store the kernel posts
    everywhere (store 0 is a DC in DistributionCentre-v1)."""
    sc = liqenv.make_scenario("DistributionCentre-v1", uniform_pricing=True)
    lay = liqenv.ActionLayout(sc)
    md = np.full((1, sc.n_stores), 0.3)
    md[0, 0] = 0.0  # the DC's entry
    a = lay.from_decision(dyn.Decision(md, np.zeros((1, sc.n_stores), bool), np.zeros((1, len(lay.pairs)), int)))
    assert sc.ladder[a[0, 0]] == pytest.approx(0.3)


# ------------------------------------------------------------------ closings
def test_closing_window_hand_checked():
    assert rules.closing_effective(3, 2) == 5
    assert not rules.may_announce(3, 2, 6, 10)  # effective 5 < earliest 6
    assert rules.may_announce(4, 2, 6, 10)
    assert rules.may_announce(7, 2, 6, 10)  # effective 9 = T-1
    assert not rules.may_announce(8, 2, 6, 10)  # effective 10 is past the horizon
    assert rules.close_ok(True, rules.NO_CLOSE, 4, 2, 6, 10)
    assert not rules.close_ok(True, 7, 4, 2, 6, 10)  # already announced
    assert not rules.close_ok(False, rules.NO_CLOSE, 4, 2, 6, 10)
    assert rules.earliest_effective(3, 2, 6) == 6
    assert rules.earliest_effective(np.array([3, 5]), 2, 6).tolist() == [6, 7]


# ----------------------------------------------------------------- rent lock
def test_rent_owed_hand_checked():
    rent = np.array([1.0, 2.0, 3.0, 4.0, 0.0])
    tau = np.arange(6)
    # lock in period 1: a store still open then owes the rent from its closing on
    assert rules.rent_owed(rent, 1, tau).tolist() == [0.0, 0.0, 7.0, 4.0, 0.0, 0.0]
    assert rules.rent_owed(rent, 1, tau, locked=True).tolist() == [10.0, 9.0, 7.0, 4.0, 0.0, 0.0]
    assert rules.rent_owed(rent, rules.NO_CLOSE, tau).tolist() == [0.0] * 6
    assert rules.period_cost(False, True, 5.0, 2.0) == 5.0
    assert rules.period_cost(True, True, 5.0, 2.0) == 2.0
    assert rules.period_cost(True, False, 5.0, 2.0) == 0.0
    assert rules.lock_triggers(3, 3, False) and not rules.lock_triggers(3, 3, True)
    assert rules.has_rent_lock([rules.NO_CLOSE, 2]) and not rules.has_rent_lock([rules.NO_CLOSE])


@pytest.mark.parametrize("tau", [1, 2, 4, 7, 9])
def test_rent_owed_is_what_the_kernel_charges(tau):
    """Every store closed from period tau on: the operating cost the kernel
    charges from tau is the sum of rent_owed over stores."""
    sc = lease_scenario()
    p = dyn.Params(sc)
    s = dyn.reset_state(p, np.array([5], dtype=np.uint64))
    s.close_at[:] = tau
    charged = 0.0
    for t in range(sc.horizon):
        d = dyn.Decision(np.full((1, p.S), 0.2), np.zeros((1, p.S), bool), np.zeros((1, p.P), int))
        r = dyn.step(p, s, d)
        if t >= tau:
            charged += r.operating_cost[0]
    owed = sum(rules.rent_owed(sc.locked_rent[i], sc.lock_period[i], tau) for i in range(p.S))
    assert charged == pytest.approx(owed, abs=1e-12)
    # a lock is triggered (period 1 or 3) and rent runs to period 6 or 8
    assert (owed > 0) == (1 < tau <= 8)


# ----------------------------------------------------------------- transfers
def test_shipped_units_hand_checked():
    src = np.array([0, 0, 1])
    # store 0 asked for 5 + 7 of its 10 units: scaled by 10/12 to 4 + 5
    assert rules.shipped_units([10, 5], [0.5, 0.75, 0.25], src).tolist() == [4, 5, 1]
    assert rules.shipped_units([10, 5], [0.5, 0.5, 1.0], src).tolist() == [5, 5, 5]
    assert rules.shipped_units([7], [0.3], [0]).tolist() == [2]
    assert rules.ship_cost(0, 2.0, 5.0) == 0.0
    assert rules.ship_cost(3, 2.0, 5.0) == 11.0
    assert rules.ship_ok(3, rules.NO_CLOSE, 4, rules.NO_CLOSE, 2, 10)
    assert rules.ship_ok(3, 3, 4, rules.NO_CLOSE, 2, 10)  # a store closing now ships out
    assert not rules.ship_ok(3, 2, 4, rules.NO_CLOSE, 2, 10)  # closed before
    assert not rules.ship_ok(3, rules.NO_CLOSE, 0, rules.NO_CLOSE, 2, 10)  # nothing on hand
    assert not rules.ship_ok(3, rules.NO_CLOSE, 4, 5, 2, 10)  # destination closed on arrival
    assert rules.ship_ok(3, rules.NO_CLOSE, 4, rules.NO_CLOSE, 2, 6)  # arrives in the last period
    assert not rules.ship_ok(4, rules.NO_CLOSE, 4, rules.NO_CLOSE, 2, 6)  # would arrive after it


@pytest.mark.parametrize("name", ["TransferChain-v1", "DistributionCentre-v1"])
def test_shipped_units_agree_with_the_kernel(name):
    env = liqenv.LiquidationEnv(name)
    p = env.params
    rng = np.random.default_rng(1)
    s = dyn.reset_state(p, np.arange(6, dtype=np.uint64))
    for _ in range(env.scenario.horizon - 1):
        ok = dyn.ship_allowed(p, s)
        ship = rng.integers(0, len(p.quantities), ok.shape) * ok * (rng.random(ok.shape) < 0.5)
        want = np.stack([rules.shipped_units(s.on_hand[b], p.quantities[ship[b]], p.src)
                         for b in range(s.batch_size)])
        d = dyn.Decision(s.markdown.copy(), np.zeros((s.batch_size, p.S), bool), ship)
        r = dyn.step(p, s, d)
        assert np.array_equal(r.shipped, want)
        cost = [sum(rules.ship_cost(u, c, f) for u, c, f in zip(r.shipped[b], p.ship_cost[0], p.ship_fixed[0]))
                for b in range(s.batch_size)]
        assert np.array_equal(r.transfer_cost, cost)


# --------------------------------------------------- masks agree with rules
@pytest.mark.parametrize("make", [lambda: liqenv.make_scenario("Chain-v1"),
                                  lambda: lease_scenario(step_min=0.1, step_max=0.3, min_hold=2,
                                                         max_changes=3),
                                  lambda: liqenv.make_scenario("DistributionCentre-v1")])
def test_kernel_masks_agree_with_rules_on_random_states(make):
    sc = make()
    p = dyn.Params(sc)
    rng = np.random.default_rng(0)
    B, S, T = 64, p.S, sc.horizon
    s = dyn.reset_state(p, np.arange(B, dtype=np.uint64))
    s.t[:] = rng.integers(0, T, B)
    s.markdown[:] = rng.choice(sc.ladder, (B, S))
    s.hold[:] = rng.integers(0, 5, (B, S))
    s.changes[:] = rng.integers(0, 4, (B, S))
    s.on_hand[:] = rng.integers(0, 3, (B, S))
    s.close_at[:] = np.where(rng.random((B, S)) < 0.3, s.t[:, None] + rng.integers(-3, 4, (B, S)), rules.NO_CLOSE)
    lm, cm, sm = dyn.markdown_ladder_mask(p, s), dyn.close_allowed(p, s), dyn.ship_allowed(p, s)
    for b in range(B):
        t = int(s.t[b])
        for i in range(S):
            if not sc.is_dc[i] and s.close_at[b, i] > t:
                want = rules.allowed_markdowns(p.rule_vector, sc.ladder, s.markdown[b, i], s.hold[b, i],
                                               s.changes[b, i], t)
                assert np.array_equal(lm[b, i], want)
            may = (rules.may_announce(t, sc.notice[i], sc.earliest_close[i], T) and sc.closable[i]
                   and s.close_at[b, i] == rules.NO_CLOSE)
            assert cm[b, i] == may
        for k, (i, j) in enumerate(zip(p.src, p.dst)):
            assert sm[b, k] == rules.ship_ok(t, s.close_at[b, i], s.on_hand[b, i], s.close_at[b, j], p.lead[k], p.T)


# -------------------------------------------------------------- end of event
def test_end_of_event_and_metrics():
    assert rules.clears_stock(4, 4, 10) and rules.clears_stock(9, rules.NO_CLOSE, 10)
    assert not rules.clears_stock(4, 5, 10)
    assert rules.arrival_salvaged(4, 5) and not rules.arrival_salvaged(4, 6)
    assert rules.event_metrics(30, 45.0, 60, 1.5) == (0.5, 0.5)
    st, nrc = rules.event_metrics(np.array([30, 60]), np.array([45.0, 90.0]), 60, 1.5)
    assert st.tolist() == [0.5, 1.0] and nrc.tolist() == [0.5, 1.0]


def test_episode_info_metrics_use_event_metrics():
    env = liqenv.LiquidationEnv("SingleStore-v0")
    env.reset(seed=3)
    done, info = False, {}
    while not done:
        _, _, done, _, info = env.step(5)
    sc = env.scenario
    assert (info["sell_through"], info["net_recovery_on_cost"]) == rules.event_metrics(
        float(env.state.sold_total[0]), info["profit"], sc.total_inventory, sc.unit_cost)
