"""The environment core works without a learning framework (issue 9, item 4).

Run by ``.ci/run`` in a clean virtual environment that holds only
``pip install -e .`` (Gymnasium, NumPy, SciPy, Numba, PyYAML)::

    python tests/core_install_check.py

It checks that no learning framework or plotting package is importable, then
steps every registered scenario through a whole episode with
``gymnasium.make`` and with ``gymnasium.make_vec(..., "vector_entry_point")``,
and that the optional parts fail with a message naming the extra to install.
Not a pytest module: the suite's own environment has torch and SB3.
"""

from __future__ import annotations

import importlib.util
import sys

OPTIONAL = ("torch", "stable_baselines3", "sb3_contrib", "matplotlib", "tqdm", "rich")


def main() -> int:
    present = [m for m in OPTIONAL if importlib.util.find_spec(m) is not None]
    if present:
        print(f"core_install_check: {', '.join(present)} importable: not a core-only environment",
              file=sys.stderr)
        return 1

    import gymnasium as gym
    import numpy as np

    import liqenv

    assert liqenv.vector.LiquidationVectorEnv is liqenv.LiquidationVectorEnv
    for name in liqenv.PRESETS:
        env = gym.make(f"liqenv/{name}")
        env.reset(seed=0)
        env.action_space.seed(0)
        steps, term, profit = 0, False, 0.0
        while not term:
            mask = env.unwrapped.action_masks().astype(np.int8)
            space = env.action_space
            if isinstance(space, gym.spaces.MultiDiscrete):
                mask = tuple(np.split(mask, np.cumsum(space.nvec)[:-1]))
            _, reward, term, trunc, info = env.step(space.sample(mask=mask))
            profit += reward
            steps += 1
        assert steps == env.unwrapped.scenario.horizon and not trunc
        assert np.isclose(profit, info["profit"])

        venv = gym.make_vec(f"liqenv/{name}", num_envs=4, vectorization_mode="vector_entry_point")
        venv.reset(seed=0)
        venv.action_space.seed(0)
        for _ in range(steps):
            _, _, term, trunc, infos = venv.step(venv.action_space.sample())
        assert term.all() and not trunc.any() and infos["_final_info"].all()
        print(f"{name}: {steps} periods with gym.make, 4 copies with make_vec")

    try:
        import liqenv.integrations.sb3  # noqa: F401
    except ImportError as e:
        assert "[sb3]" in str(e), e
    else:
        raise AssertionError("liqenv.integrations.sb3 imported without Stable-Baselines3")
    try:
        gym.make("liqenv/SingleStore-v0", render_mode="rgb_array")
    except gym.error.DependencyNotInstalled as e:
        assert "[plot]" in str(e), e
    else:
        raise AssertionError("render_mode='rgb_array' accepted without matplotlib")
    print(f"core install ok: {len(liqenv.PRESETS)} scenarios stepped without {', '.join(OPTIONAL)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
