"""Checks of exercise 2 (the single-store Bellman recursion)."""

import baselines
import numpy as np
import pytest

from exercises.common import implementation, random_instances

ex = implementation("ex2_bellman")
INSTANCES = random_instances(2, 6, costs=True)


@pytest.mark.parametrize("inst", INSTANCES, ids=str)
def test_value_equals_sdp(inst):
    exact = baselines.make("sdp", inst.make_env()).value_estimate
    assert ex.value(inst) == pytest.approx(exact, abs=1e-6)


@pytest.mark.parametrize("inst", INSTANCES[:2], ids=str)
def test_value_table(inst):
    V = np.asarray(ex.value_table(inst), dtype=float)
    assert V.shape == (inst.horizon + 1, inst.inventory + 1)
    np.testing.assert_allclose(V[-1], inst.salvage_rate * np.arange(inst.inventory + 1), atol=1e-9)
    assert V[0, inst.inventory] == pytest.approx(ex.value(inst), abs=1e-12)
    np.testing.assert_allclose(V[:, 0], 0.0, atol=1e-9)
    # row t is the value of the same store starting in period t: valuations already decayed by decay**t
    for t in range(1, inst.horizon):
        later = inst.make_env(horizon=inst.horizon - t, scale=inst.decay ** t)
        assert V[t, inst.inventory] == pytest.approx(baselines.make("sdp", later).value_estimate, abs=1e-6)
