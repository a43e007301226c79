"""The SB3 VecEnv's infos (liqenv.integrations.sb3): copies with nothing to report share one
read-only empty mapping; a copy whose episode ended gets its own dict, and SB3's wrappers and
sb3-contrib's MaskablePPO train through it."""

from __future__ import annotations

import numpy as np
import pytest

from liqenv.integrations.sb3 import NO_INFO, LiquidationVecEnv


def test_idle_copies_share_a_read_only_info_and_done_copies_get_their_own():
    env = LiquidationVecEnv("SingleStore-v0", n_envs=4, seed=3)
    obs = env.reset()
    horizon = env.batch.scenario.horizon
    for t in range(horizon):
        before = obs.copy()
        obs, _, done, infos = env.step(np.zeros(4, dtype=np.int64))
        if t < horizon - 1:
            assert not done.any()
            assert all(info is NO_INFO for info in infos)
            with pytest.raises(TypeError):
                infos[0]["mine"] = 1  # cannot leak into the other copies' infos
            assert "mine" not in infos[1] and len(NO_INFO) == 0
    assert done.all()
    assert len({id(info) for info in infos}) == 4  # each done copy its own dict
    for i, info in enumerate(infos):
        assert info is not NO_INFO and info["episode"]["r"] == pytest.approx(info["profit"])
        assert info["terminal_observation"].shape == before[i].shape
        assert not np.array_equal(info["terminal_observation"], obs[i])  # the last state, not the reset one
        info["mine"] = i  # writable: SB3's VecNormalize / VecFrameStack write here
    assert [info["mine"] for info in infos] == [0, 1, 2, 3]


def test_terminal_observation_is_the_single_envs_last_observation():
    import liqenv

    env = LiquidationVecEnv("TwoStore-v1", n_envs=2, seed=7)
    env.reset()
    single = liqenv.LiquidationEnv("TwoStore-v1")
    single.reset(seed=8)
    done = np.zeros(2, bool)
    while not done.any():
        act = single.encode_action(markdown=0.1)
        last, *_ = single.step(act)
        _, _, done, infos = env.step(np.stack([act, act]))
    assert done.all()
    assert np.array_equal(infos[1]["terminal_observation"], last)


def test_maskable_ppo_trains_under_vecmonitor_and_vecnormalize():
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

    env = VecNormalize(VecMonitor(LiquidationVecEnv("TwoStore-v1", n_envs=4, seed=0)))
    model = MaskablePPO("MlpPolicy", env, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(384)
    assert model.num_timesteps >= 384
    # episodes ended inside the rollouts: VecMonitor's records reached SB3's info buffer
    assert len(model.ep_info_buffer) > 0 and all("r" in e and "l" in e for e in model.ep_info_buffer)
