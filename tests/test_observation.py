"""The observation's public-parameter block (Scenario.observe_parameters)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import liqenv  # noqa: F401  (registers the scenarios)
from liqenv.scenario import Scenario
from liqenv.spaces import ObservationLayout
from liqenv.vector import LiquidationBatch


def _expected(sc: Scenario, t: int) -> dict:
    d = sc.demand
    lift = d.lift[t] if isinstance(d.lift, tuple) else d.lift
    return {"operating_cost": np.asarray(sc.operating_costs)[:, t],
            "demand_at_list": np.asarray(d.base, float) * lift,
            "demand_cv": d.cv, "transfer_cost": sc.transfers.unit_cost[0][1]}


def test_two_store_observation_carries_each_draws_public_parameters():
    env = gym.make("liqenv/TwoStore-v1")
    u = env.unwrapped
    seen = set()
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        for t in range(u.scenario.horizon):
            d = u.decode_observation(obs)
            for k, v in _expected(u.scenario, t).items():
                np.testing.assert_allclose(d[k], v, rtol=1e-5, err_msg=k)
            assert env.observation_space.contains(obs)
            seen.add(tuple(np.round(d["operating_cost"], 3)))
            obs, *_ = env.step(env.action_space.sample())
    assert len(seen) > 1  # the draws differ, and so do the observations


def test_batch_copies_observe_their_own_draws():
    b = LiquidationBatch("TwoStore-v1", 4)
    b.reset_copies(np.arange(4), seeds=[0, 1, 2, 3])
    obs = b.observe()
    for i in range(4):
        d = b.obs_layout.decode(obs[i])
        np.testing.assert_allclose(d["operating_cost"], _expected(b.scenarios[i], 0)["operating_cost"], rtol=1e-5)


@pytest.mark.parametrize("name", ["SingleStore-v0", "Chain-v1", "TransferChain-v1"])
def test_fixed_scenarios_have_no_parameter_block(name):
    sc = gym.make(f"liqenv/{name}").unwrapped.scenario
    lay = ObservationLayout(sc)
    assert lay.n_public == 0 and lay.size == lay.S * lay.per_store + 2


def test_observe_parameters_must_be_a_bool():
    sc = gym.make("liqenv/SingleStore-v0").unwrapped.scenario
    with pytest.raises(ValueError, match="observe_parameters"):
        Scenario(**{**{f: getattr(sc, f) for f in sc.__dataclass_fields__}, "observe_parameters": "yes"})
