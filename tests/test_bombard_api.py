"""Bombardment of the Python API: Hypothesis draws scenario dictionaries, valid and invalid.

Each dictionary is a small preset's ``Scenario.to_dict()`` with one change:
a field set to a good value, a field set to a bad one (negative, zero, NaN,
infinite, huge, wrong type, empty list, None), a key deleted or an unknown
key added.  Building it (``Scenario.from_dict`` then ``LiquidationEnv``)
either succeeds, and the env passes Gymnasium's ``check_env`` and a random
rollout keeps inventory conservation and the reward identity at every step,
or raises ``ValueError``/``TypeError`` naming the field; never anything else.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqenv import make_scenario
from liqenv.env import LiquidationEnv
from liqenv.scenario import Scenario


def _small(name: str, **over) -> dict:
    return make_scenario(name, **over).to_dict()


BASES = [
    _small("SingleStore-v0", inventory=20, horizon=4),
    _small("SingleStore-v0", inventory=20, horizon=4, pricing="continuous"),
    _small("Weekend-v0", inventory=15),
    _small("TwoStore-v1"),
    _small("DistributionCentre-v1", horizon=5),
]
BAD_VALUES = [-1, 0, -0.5, math.nan, math.inf, -math.inf, 10**30, "x", None, [], {}, True, [1, 2, 3]]


def _paths(d, prefix=()):
    """Every leaf path of a nested dict/list (lists of numbers count as one leaf too)."""
    out = []
    items = d.items() if isinstance(d, dict) else enumerate(d)
    for k, v in items:
        p = (*prefix, k)
        if isinstance(v, (dict, list)) and v:
            out.append(p)
            out.extend(_paths(v, p))
        else:
            out.append(p)
    return out


def _get_parent(d, path):
    for k in path[:-1]:
        d = d[k]
    return d


@st.composite
def scenario_dicts(draw):
    """``(dict, change, path)``: a base dictionary with one change at ``path``."""
    base = copy.deepcopy(draw(st.sampled_from(BASES)))
    change = draw(st.sampled_from(["good", "bad", "delete", "unknown"]))
    if change == "good":
        # (other presets' per-period fields must change with the horizon)
        goods = [("stores", 0, "inventory"), ("holding_cost",)] + [("horizon",)] * (base["name"] == "SingleStore")
        path = draw(st.sampled_from(goods))
        value = {"horizon": draw(st.integers(1, 6)), "inventory": draw(st.integers(1, 40)),
                 "holding_cost": draw(st.floats(0.0, 0.1))}[path[-1]]
        _get_parent(base, path)[path[-1]] = value
        return base, change, path
    paths = [p for p in _paths(base) if not isinstance(p[-1], int) or change == "bad"]
    path = draw(st.sampled_from(paths))
    parent = _get_parent(base, path)
    if change == "bad":
        parent[path[-1]] = draw(st.sampled_from(BAD_VALUES))
    elif change == "delete":
        if isinstance(parent, list):
            parent.pop(path[-1])
        else:
            del parent[path[-1]]
    else:
        target = parent if isinstance(parent, dict) else base
        path = (*path[:-1], "no_such_field") if isinstance(parent, dict) else ("no_such_field",)
        target["no_such_field"] = 1
    return base, change, path


def _names(path) -> list[str]:
    """Words an error about ``path`` may name: its keys (the leaf first)."""
    return [str(k) for k in reversed(path) if isinstance(k, str)]


def rollout(env, seed: int) -> None:
    """A random episode, checking the reward identity and inventory conservation at every step."""
    u = env.unwrapped
    env.action_space.seed(seed)
    env.reset(seed=seed)
    initial = int(u.scenario.total_inventory)
    sold = salvaged = 0
    done = False
    while not done:
        _, r, term, trunc, info = env.step(env.action_space.sample())
        assert r == (info["revenue"] - info["operating_cost"] - info["holding_cost"]
                     - info["transfer_cost"] + info["salvage_value"])
        assert np.isfinite(r)
        sold += int(info["sold"].sum())
        salvaged += int(info["salvaged"].sum())
        assert int(info["on_hand"].sum()) + info["in_transit"] + sold + salvaged == initial
        done = term or trunc
    assert info["in_transit"] == 0 or salvaged + sold <= initial


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(), st.integers(0, 2**16))
def test_scenario_dicts_build_a_sound_env_or_raise_naming_the_field(case, seed):
    data, change, path = case
    try:
        env = LiquidationEnv(Scenario.from_dict(copy.deepcopy(data)))
    except (ValueError, TypeError) as e:
        assert change != "good", f"a good change at {path} was refused: {e}"
        msg = str(e)
        assert "\n" not in msg.strip(), msg
        assert any(n in msg for n in _names(path)) or (change == "delete" and "missing" in msg), \
            f"{change} at {path}: the error does not name it: {msg}"
        return
    assert change != "unknown", f"an unknown key at {path} was accepted"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checker's advice on the price Box (see test_conformance)
        check_env(env, skip_render_check=True)
    rollout(env, seed)


@pytest.mark.parametrize("bad", [123, None, ["SingleStore-v0"], {"name": "x"}])
def test_resolver_refuses_non_strings_with_value_error(bad):
    import liqenv

    with pytest.raises(ValueError, match="scenario="):
        liqenv.resolve_scenario(bad)


def test_file_env_needs_a_file(tmp_path):
    import gymnasium as gym

    with pytest.raises(TypeError, match="path="):
        gym.make("liqenv/File-v0")
    with pytest.raises(ValueError, match="registered id"):
        gym.make("liqenv/File-v0", path="SingleStore-v0")
    with pytest.raises(ValueError, match="not found"):
        gym.make("liqenv/File-v0", path=str(tmp_path / "none.yaml"))
