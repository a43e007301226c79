"""Random-action invariant runs (Jumanji's env_not_smoke, PettingZoo's bombardment test).

Every registered scenario and a few rule-heavy hand-built ones are driven by
raw ``action_space.sample()`` actions (which break rules and get repaired)
and by actions sampled from ``action_masks()`` (which must never count a
repair); :class:`helpers.InvariantChecker` checks every step.  A Hypothesis
state machine then drives random mixtures of masked, raw and structured
actions, resets and reseeds on small scenarios.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import liqenv
from liqenv.env import LiquidationEnv

from helpers import InvariantChecker, masked_action, rules_scenario, run_random, uncut_action

#: steps per scenario and sampling mode (episodes are reset as they end)
N_STEPS = 1200

PRESET_IDS = sorted(liqenv.PRESETS)


@pytest.mark.parametrize("masked", [False, True], ids=["raw", "masked"])
@pytest.mark.parametrize("env_id", PRESET_IDS)
def test_random_actions_keep_invariants(env_id, masked):
    env = gym.make(f"liqenv/{env_id}")
    repairs = run_random(env, N_STEPS, seed=PRESET_IDS.index(env_id), masked=masked)
    if masked:
        assert repairs == 0
    env.close()


def test_raw_actions_do_get_repaired_somewhere():
    """The raw runs above exercise repairs (else they would test nothing more than the masked ones)."""
    env = gym.make("liqenv/Chain-v1")
    assert run_random(env, 120, seed=3, masked=False) > 0


RULE_SETS = {
    "monotone_steps": dict(monotone=True, initial_min=0.1, initial_max=0.3, step_min=0.1,
                           step_max=0.25),
    "hold_and_cap": dict(monotone=True, min_hold=3, max_changes=2),
    "free_steps": dict(monotone=False, step_min=0.1, step_max=0.2, min_hold=2),
    "uniform": dict(monotone=True, uniform_pricing=True, initial_max=0.2, min_hold=2, max_changes=3),
}


@pytest.mark.parametrize("masked", [False, True], ids=["raw", "masked"])
@pytest.mark.parametrize("rules", sorted(RULE_SETS))
def test_rule_heavy_scenarios_keep_invariants(rules, masked):
    env = LiquidationEnv(rules_scenario(**RULE_SETS[rules]))
    repairs = run_random(env, 800, seed=11, masked=masked)
    if masked:
        assert repairs == 0
    else:
        assert repairs > 0


@pytest.mark.parametrize("env_id", ["SingleStore-v0", "SingleStoreWeibull-v1"])
def test_continuous_pricing_keeps_invariants(env_id):
    env = gym.make(f"liqenv/{env_id}", pricing="continuous")
    assert run_random(env, 600, seed=5, masked=False) == 0  # every price in the Box is allowed


def test_masked_actions_in_strict_mode_never_raise():
    """Strict mode raises on a repair, and on a shipment cut inside an allowed
    action; masked actions without such cuts must never raise."""
    envs = [gym.make(f"liqenv/{env_id}", strict=True)
            for env_id in ("TwoStore-v1", "TransferChain-v1", "DistributionCentre-v1", "Chain-v1")]
    for env in envs + [LiquidationEnv(rules_scenario(**RULE_SETS["uniform"]), strict=True)]:
        env.action_space.seed(2)
        obs, _ = env.reset(seed=2)
        chk = InvariantChecker(env)
        chk.reset(obs)
        for _ in range(300):
            a = uncut_action(env, masked_action(env))
            obs, r, term, trunc, info = env.step(a)
            chk.check(a, obs, r, term, trunc, info, masked=True)
            assert info["cancelled_shipments"] == info["scaled_shipments"] == 0
            if term:
                obs, _ = env.reset()
                chk.reset(obs)


def test_masked_actions_are_cut_only_where_counted():
    """Without strict mode, masked random actions do get cut on the transfer
    scenarios (so the counts are exercised), never as violations."""
    cuts = 0
    for env_id in ("TwoStore-v1", "DistributionCentre-v1"):
        env = gym.make(f"liqenv/{env_id}")
        env.action_space.seed(4)
        env.reset(seed=4)
        for _ in range(200):
            *_, term, _, info = env.step(masked_action(env))
            assert info["rule_violations"] == 0
            cuts += info["cancelled_shipments"] + info["scaled_shipments"]
            if term:
                env.reset()
    assert cuts > 0


def test_mask_choices_are_exactly_the_unrepaired_ones():
    """On a small chain, try every value of every component (others kept at a
    masked choice): a masked-in value is accepted without repair and a
    masked-out one is repaired and counted, except the no-ops (announcing
    again the closing of a store already closing or closed, a markdown for a
    closed store), which change nothing and count nothing."""
    env = LiquidationEnv(rules_scenario(**RULE_SETS["hold_and_cap"]))
    env.action_space.seed(0)
    env.reset(seed=0)
    nvec = env.action_space.nvec
    offsets = np.concatenate([[0], np.cumsum(nvec)])
    for _ in range(env.scenario.horizon - 1):
        mask = env.action_masks()
        base = masked_action(env)
        saved = env.state.copy()
        lay = env.action_layout
        closing = env.state.close_at[0] != liqenv.scenario.NO_CLOSE
        closed = env.state.close_at[0] <= env.state.t[0]
        for k in range(len(nvec)):
            if lay.close_slice.start <= k < lay.close_slice.stop:
                noop = bool(closing[lay.close_stores[k - lay.close_slice.start]])
            elif k < lay.price_slice.stop:
                noop = bool(closed[lay.price_stores[k]])
            else:
                noop = False
            for v in range(nvec[k]):
                a = base.copy()
                a[k] = v
                env.state = saved.copy()
                env._done = False
                _, _, _, _, info = env.step(a)
                if mask[offsets[k] + v] or noop:
                    assert info["rule_violations"] == 0, (k, v)
                else:
                    assert info["rule_violations"] >= 1, (k, v, env.state.t)
        env.state = saved.copy()
        env._done = False
        env.step(base)


# ------------------------------------------------------------------ stateful
SMALL = {
    "rules": lambda: rules_scenario(monotone=True, min_hold=2, step_max=0.3, max_changes=3),
    "uniform": lambda: rules_scenario(monotone=True, uniform_pricing=True, min_hold=2),
    "twostore": lambda: "TwoStore-v1",
    "single": lambda: "SingleStore-v0",
}


class LiquidationMachine(RuleBasedStateMachine):
    """Random sequences of masked / raw / structured actions, resets and reseeds."""

    @initialize(which=st.sampled_from(sorted(SMALL)), seed=st.integers(0, 2**16))
    def make(self, which, seed):
        self.env = LiquidationEnv(SMALL[which]())
        self.env.action_space.seed(seed)
        obs, _ = self.env.reset(seed=seed)
        self.chk = InvariantChecker(self.env)
        self.chk.reset(obs)
        self.done = False
        self.last_info = None

    def _step(self, a, masked):
        obs, r, term, trunc, info = self.env.step(a)
        self.chk.check(a, obs, r, term, trunc, info, masked=masked)
        self.done = term
        self.last_info = info

    @precondition(lambda self: not self.done)
    @rule()
    def masked_step(self):
        self._step(masked_action(self.env), masked=True)

    @precondition(lambda self: not self.done)
    @rule(data=st.data())
    def raw_step(self, data):
        sp = self.env.action_space
        if isinstance(sp, gym.spaces.Discrete):
            a = data.draw(st.integers(0, sp.n - 1))
        else:
            a = np.array([data.draw(st.integers(0, n - 1)) for n in sp.nvec], dtype=np.int64)
        self._step(a, masked=False)

    @precondition(lambda self: not self.done)
    @rule(md=st.floats(0.0, 0.95), close=st.booleans())
    def structured_step(self, md, close):
        u = self.env.unwrapped
        S = u.params.S
        closes = np.zeros(S, bool)
        if close and u.action_layout.n_close:
            closes[u.action_layout.close_stores[0]] = True
        ship = np.full(u.params.P, len(u.params.quantities) - 1) if u.params.P else None
        self._step(u.encode_action(markdown=md, close=closes, ship=ship), masked=False)

    @precondition(lambda self: self.done)
    @rule()
    def step_after_end_raises(self):
        with np.testing.assert_raises(gym.error.ResetNeeded):
            self.env.step(self.env.action_space.sample())

    @rule(seed=st.one_of(st.none(), st.integers(0, 2**16)))
    def reset(self, seed):
        obs, _ = self.env.reset(seed=seed)
        self.chk.reset(obs)
        self.done = False

    @invariant()
    def state_is_consistent(self):
        if not hasattr(self, "env"):
            return
        s = self.env.unwrapped.state
        assert np.all(s.on_hand >= 0) and np.all(s.pipeline >= 0)
        assert 0 <= int(s.t[0]) <= self.env.unwrapped.scenario.horizon
        assert not np.isnan(s.profit_total).any()


LiquidationMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestLiquidationMachine = LiquidationMachine.TestCase
