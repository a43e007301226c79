"""Bad input to the environment: malformed actions, calls out of order, and
rule-breaking actions inside the space (repaired and counted, or raised in
strict mode), never creating or destroying inventory."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest

import liqenv
from liqenv.dynamics import RuleViolation
from liqenv.env import LiquidationEnv
from liqenv.scenario import NO_CLOSE

from helpers import InvariantChecker, masked_action, rules_scenario, uncut_action

PRESET_IDS = sorted(liqenv.PRESETS)


# ------------------------------------------------------------------ malformed actions
DISCRETE_BAD = [
    (20, "action component 0 (markdown) = 20"),
    (-1, "action component 0 (markdown) = -1"),
    (np.nan, "NaN"),
    (np.inf, "NaN or infinity"),
    (2.5, "whole numbers"),
    ([1, 2], "action shape (2,)"),
    (np.zeros((2, 2), dtype=np.int64), "action shape (2, 2)"),
    ("3", "must be integers"),
    (None, "must be integers"),
]


@pytest.mark.parametrize("action,msg", DISCRETE_BAD, ids=[repr(a)[:20] for a, _ in DISCRETE_BAD])
def test_bad_discrete_action(action, msg):
    env = gym.make("liqenv/SingleStore-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=re.escape(msg)):
        env.unwrapped.step(action)


def test_discrete_action_forms_accepted():
    env = gym.make("liqenv/SingleStore-v0").unwrapped
    env.reset(seed=0)
    for a in (3, np.int64(3), np.array(3), np.array([3]), 3.0):
        env.step(a)


def test_bad_multidiscrete_action():
    env = gym.make("liqenv/TwoStore-v1").unwrapped
    env.reset(seed=0)
    good = np.zeros(6, dtype=np.int64)
    cases = [
        (np.array([0, 0, 0, 0, 0]), "action shape (5,)"),
        (np.zeros((1, 6), dtype=np.int64), "action shape (1, 6)"),
        (np.array([0, 0, 2, 0, 0, 0]), "action component 2 (close[A]) = 2"),
        (np.array([0, 0, 0, 0, 11, 0]), "action component 4 (ship[A->B]) = 11"),
        (np.array([20, 0, 0, 0, 0, 0]), "action component 0 (markdown[A]) = 20"),
        (np.array([0, -3, 0, 0, 0, 0]), "action component 1 (markdown[B]) = -3"),
        (np.array([0.0, np.nan, 0, 0, 0, 0]), "NaN"),
        (np.array([0.5, 0, 0, 0, 0, 0]), "whole numbers"),
        (np.array(["a"] * 6), "must be integers"),
    ]
    for a, msg in cases:
        with pytest.raises(ValueError, match=re.escape(msg)):
            env.step(a)
    # a rejected action changed nothing: the period is still 0
    assert env.state.t[0] == 0
    env.step(good)
    assert env.state.t[0] == 1


@pytest.mark.parametrize("action,msg", [
    (np.array([-0.1], np.float32), "price outside"),
    (np.array([1.5], np.float32), "price outside"),
    (np.array([np.nan], np.float32), "finite"),
    (np.array([np.inf], np.float32), "finite"),
    (np.array([0.5, 0.5], np.float32), "action shape (2,)"),
    (np.array(["x"]), "finite number"),
])
def test_bad_continuous_action(action, msg):
    env = gym.make("liqenv/SingleStore-v0", pricing="continuous").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=re.escape(msg)):
        env.step(action)


def test_wrapped_env_also_rejects_bad_actions():
    env = gym.make("liqenv/Chain-v1")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action shape"):
        env.step(np.zeros(3, dtype=np.int64))


# ------------------------------------------------------------------ call order
@pytest.mark.parametrize("wrapped", [False, True])
def test_step_before_reset_raises(wrapped):
    env = gym.make("liqenv/SingleStore-v0")
    env = env if wrapped else env.unwrapped
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)


def test_action_masks_before_reset_raises():
    env = LiquidationEnv("TwoStore-v1")
    with pytest.raises(gym.error.ResetNeeded):
        env.action_masks()


@pytest.mark.parametrize("wrapped", [False, True])
def test_step_after_the_episode_ended_raises(wrapped):
    env = gym.make("liqenv/Weekend-v0")
    env = env if wrapped else env.unwrapped
    env.reset(seed=0)
    for t in range(7):
        _, _, term, _, _ = env.step(5)
        assert term == (t == 6)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(5)
    env.reset()
    env.step(5)  # fine again after a reset


@pytest.mark.parametrize("kwargs,field", [
    ({"strict": "yes"}, "strict='yes'"),
    ({"scenario": 42}, "scenario=42"),
    ({"scenario": "Nope-v0"}, "scenario='Nope-v0'"),
    ({"render_mode": "human"}, "render_mode='human'"),
])
def test_bad_constructor_arguments(kwargs, field):
    with pytest.raises(ValueError, match=re.escape(field)):
        LiquidationEnv(**kwargs)


def test_an_unknown_constructor_keyword_is_a_type_error():
    with pytest.raises(TypeError, match=re.escape("inventroy=5")):
        LiquidationEnv("SingleStore-v0", inventroy=5)


def test_bad_scenario_file_path():
    with pytest.raises((ValueError, FileNotFoundError)):
        LiquidationEnv("/nonexistent/scenario.yaml")


# ------------------------------------------------------------------ repairs
def forbidden_action(env, rng):
    """For every component, a choice the mask forbids where there is one (else an
    allowed one); returns the action and how many repairs it must cause."""
    u = env.unwrapped
    mask = u.action_masks()
    nvec = env.action_space.nvec if isinstance(env.action_space, gym.spaces.MultiDiscrete) \
        else np.array([env.action_space.n])
    lay = u.action_layout
    closing = u.state.close_at[0] != NO_CLOSE
    closed = u.state.close_at[0] <= u.state.t[0]
    a = np.zeros(len(nvec), dtype=np.int64)
    expected = 0
    chain_counted = False
    off = 0
    for k, n in enumerate(nvec):
        m = mask[off: off + n]
        off += n
        bad = np.flatnonzero(~m)
        if bad.size:
            a[k] = rng.choice(bad)
            if k < lay.price_slice.stop:
                if not (lay.uniform or closed[lay.price_stores[k]]):
                    expected += 1
                elif lay.uniform and not chain_counted:
                    expected += 1
                    chain_counted = True
            elif k < lay.close_slice.stop:
                expected += 0 if closing[lay.close_stores[k - lay.close_slice.start]] else 1
            else:
                expected += 1
        else:
            a[k] = rng.choice(np.flatnonzero(m))
    return (int(a[0]) if lay.kind == "discrete" else a), expected


ADVERSARIAL = PRESET_IDS + ["rules", "uniform"]


def _env(name, strict=False):
    if name == "rules":
        return LiquidationEnv(rules_scenario(monotone=True, initial_min=0.1, initial_max=0.3, step_min=0.1,
                                             step_max=0.2, min_hold=2, max_changes=3), strict=strict)
    if name == "uniform":
        return LiquidationEnv(rules_scenario(monotone=True, uniform_pricing=True, min_hold=2),
                              strict=strict)
    return gym.make(f"liqenv/{name}", strict=strict)


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_forbidden_choices_are_repaired_counted_and_conserve_units(name):
    """Always pick what the masks forbid: every such choice is counted, and units
    are neither created nor destroyed (checked after every step)."""
    env = _env(name)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=1)
    chk = InvariantChecker(env)
    chk.reset(obs)
    total = 0
    for _ in range(2 * env.unwrapped.scenario.horizon):
        a, expected = forbidden_action(env, rng)
        obs, r, term, trunc, info = env.step(a)
        chk.check(a, obs, r, term, trunc, info)
        assert info["rule_violations"] == expected, (a, expected, info["rule_violations"])
        total += expected
        if term:
            obs, _ = env.reset()
            chk.reset(obs)
    if name not in ("SingleStore-v0", "SingleStoreExp-v1", "SingleStoreWeibull-v1",
                    "SingleStoreLarge-v0", "Weekend-v0"):  # free prices: nothing to break
        assert total > 0


@pytest.mark.parametrize("name", ["TwoStore-v1", "Chain-v1", "DistributionCentre-v1", "rules", "uniform"])
def test_strict_mode_raises_on_forbidden_choices_and_leaves_the_state(name):
    env = _env(name, strict=True)
    lenient = _env(name)
    rng = np.random.default_rng(3)
    env.reset(seed=2)
    lenient.reset(seed=2)
    raised = 0
    for _ in range(env.unwrapped.scenario.horizon):
        a, expected = forbidden_action(env, rng)
        before = env.unwrapped.state.copy()
        if expected:
            with pytest.raises(RuleViolation):
                env.step(a)
            raised += 1
            after = env.unwrapped.state
            for f in ("t", "on_hand", "pipeline", "markdown", "hold", "changes", "close_at", "locked",
                      "profit_total", "sold_total", "salvaged_total"):
                np.testing.assert_array_equal(getattr(after, f), getattr(before, f), err_msg=f)
        # an allowed action then plays exactly like the lenient env
        m = env.unwrapped.action_masks()
        assert np.array_equal(m, lenient.unwrapped.action_masks())
        env.action_space.seed(int(rng.integers(1 << 30)))
        ok = uncut_action(env, masked_action(env))  # strict mode refuses cuts too
        o1, r1, t1, _, i1 = env.step(ok)
        o2, r2, t2, _, i2 = lenient.step(ok)
        np.testing.assert_array_equal(o1, o2)
        assert r1 == r2 and i1["rule_violations"] == 0
        if t1:
            break
    assert raised > 0
    assert issubclass(RuleViolation, ValueError)


@pytest.mark.parametrize("demand, field", [
    ({"kind": "valuation", "arrival_rate": 1e30}, "arrival_rate"),
    ({"kind": "valuation", "arrival_rate": [5.0, 1e10]}, "arrival_rate[1]"),
    ({"kind": "elasticity", "base": 1e30}, "base"),
    ({"kind": "elasticity", "base": 1.0, "lift_start": 1e6}, "lift_start"),
])
def test_demand_beyond_the_int64_safe_range_is_refused(demand, field):
    """A demand the counts cannot hold is a bad scenario, not an overflow in the kernel
    (test_bombard_api once drew arrival_rate 1e30: on_hand wrapped around and units were lost)."""
    from liqenv.scenario import Scenario

    sc = liqenv.make_scenario("SingleStore-v0").to_dict()
    sc["demand"] = demand
    with pytest.raises(ValueError, match=re.escape(field) + r"=.*must be <="):
        Scenario.from_dict(sc)


def test_the_poisson_draw_is_capped_not_wrapped():
    from liqenv import _kernels as k

    n = k.poisson1(1e300, np.uint64(1), np.uint64(2), 0)
    assert 0 < n <= 2 * k.POISSON_MAX


@pytest.mark.parametrize("key, value, named", [
    ("transfers", {}, "transfers: missing"),
    ("markdowns", {"ladderx": [0.0, 0.1]}, "markdowns: got an unexpected keyword argument 'ladderx'"),
    ("stores", [{}], r"stores.inventory=\[0\]: the chain holds no units"),
])
def test_a_bad_nested_mapping_names_its_field(key, value, named):
    """A nested mapping with a field missing or unknown names the mapping (found by test_bombard_api's
    Hypothesis search: an empty ``transfers`` mapping named only TransferNetwork.__init__)."""
    from liqenv import make_scenario
    from liqenv.scenario import Scenario

    data = make_scenario("SingleStore-v0").to_dict()
    data[key] = value
    with pytest.raises(ValueError, match=named):
        Scenario.from_dict(data)
