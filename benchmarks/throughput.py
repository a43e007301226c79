"""Environment throughput: single env, SB3 DummyVecEnv/SubprocVecEnv, the native batch
(Gymnasium vector and SB3 VecEnv) against the kernel alone, PPO fps.

Usage::

    python benchmarks/throughput.py [--seconds 2] [--ppo-steps 16384] [--out benchmarks/results/throughput.md]

Every figure is env-steps per second (one env-step = one period of one copy)
measured in this one run, with random actions drawn up front so that
action sampling is not timed.  At each batch size, "kernel alone" steps the
same copies with :func:`liqenv.dynamics.step` on decisions decoded up front,
restoring a fresh state when the episodes end: no action checks,
observations, infos or random keys.  The batched front-ends' rows give their
rate as a share of it.  PPO frames per second compare SB3's PPO on
``DummyVecEnv`` and on the native ``LiquidationVecEnv`` with the same number
of envs and hyperparameters, in the same run, as a ratio; and MaskablePPO
on ``Chain-v1`` with sb3-contrib's policy against :mod:`agents.maskable`'s.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import liqenv
from liqenv import cli
from liqenv import dynamics as dyn
from liqenv.integrations.sb3 import LiquidationVecEnv
from liqenv.vector import LiquidationBatch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/publish.py, also when imported
from publish import publish  # noqa: E402


def _actions(space, n, rng):
    space.seed(int(rng.integers(1 << 31)))
    return [space.sample() for _ in range(n)]


def time_single(make, seconds: float) -> float:
    env = make()
    env.reset(seed=0)
    acts = _actions(env.action_space, 512, np.random.default_rng(0))
    n, i, t0 = 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        _, _, term, trunc, _ = env.step(acts[i % 512])
        i += 1
        n += 1
        if term or trunc:
            env.reset()
    return n / (time.perf_counter() - t0)


def time_vec(venv, seconds: float) -> float:
    """A Gymnasium vector env (``single_action_space``) or an SB3 VecEnv."""
    single = getattr(venv, "single_action_space", venv.action_space)
    venv.reset(seed=0) if isinstance(venv, gym.vector.VectorEnv) else venv.reset()
    rng = np.random.default_rng(0)
    acts = [np.stack(_actions(single, venv.num_envs, rng)) for _ in range(8)]
    for a in acts:  # warm-up: first calls load compiled code
        venv.step(a)
    n, i, t0 = 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        venv.step(acts[i % 8])
        i += 1
        n += venv.num_envs
    rate = n / (time.perf_counter() - t0)
    venv.close()
    return rate


def time_kernel(name: str, n_envs: int, seconds: float) -> float:
    """The bare dynamics: ``dynamics.step`` over ``n_envs`` copies (see the module docstring)."""
    batch = LiquidationBatch(name, n_envs)
    batch.reset_copies(np.arange(n_envs), list(range(n_envs)))
    p, s, layout = batch.params, batch.state, batch.action_layout
    fresh = s.copy()
    rng = np.random.default_rng(0)
    decisions = [layout.to_decision(layout.check(np.stack(_actions(batch.single_action_space, n_envs, rng)),
                                                 batch=n_envs), p) for _ in range(8)]
    def play(i: int) -> None:
        r = dyn.step(p, s, decisions[i % 8])
        if r.done.any():
            ended = np.flatnonzero(r.done)
            s.put(ended, fresh.take(ended))

    for i in range(8):  # warm-up, as for the front-ends
        play(i)
    n, i, t0 = 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        play(i)
        i += 1
        n += n_envs
    return n / (time.perf_counter() - t0)


def ppo_fps(venv, steps: int) -> float:
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    model = PPO("MlpPolicy", venv, n_steps=256, batch_size=512, n_epochs=4, seed=0, verbose=0)
    model.learn(512)  # warm-up
    t0 = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - t0)


def maskable_fps(policy, steps: int) -> float:
    """MaskablePPO frames per second on the native batched Chain-v1 (16 envs)."""
    import torch
    from sb3_contrib import MaskablePPO

    torch.set_num_threads(1)
    venv = LiquidationVecEnv("Chain-v1", n_envs=16, seed=0)
    model = MaskablePPO(policy, venv, n_steps=120, batch_size=960, n_epochs=5, seed=0, verbose=0,
                        policy_kwargs=dict(net_arch=[256, 256]))
    model.learn(1920)  # warm-up
    t0 = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = cli.Parser(prog="throughput.py", description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=cli.real(0, 3600), default=2.0, help="time per measurement")
    ap.add_argument("--ppo-steps", type=cli.count(1, 10**8), default=16384, help="PPO timesteps per fps measurement")
    ap.add_argument("--out", default="benchmarks/results/throughput.md")
    args = ap.parse_args(argv)
    try:
        cli.output_file("--out", args.out, suffixes=(".md",))
    except cli.UsageError as e:
        ap.error(str(e))
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    rows = []
    for name, sizes in (("SingleStore-v0", (16, 256, 1024, 4096)), ("Chain-v1", (16, 64, 256))):
        eid = f"liqenv/{name}"
        rows.append((name, "gymnasium.make (checker + order wrappers)", 1,
                     time_single(lambda: gym.make(eid), args.seconds), None))
        rows.append((name, "env.unwrapped", 1,
                     time_single(lambda: gym.make(eid).unwrapped, args.seconds), None))
        rows.append((name, "SB3 DummyVecEnv", 16,
                     time_vec(DummyVecEnv([lambda: liqenv.LiquidationEnv(name)] * 16), args.seconds), None))
        rows.append((name, "SB3 SubprocVecEnv", 16,
                     time_vec(SubprocVecEnv([lambda: liqenv.LiquidationEnv(name)] * 16), args.seconds), None))
        for n in sizes:
            kernel = time_kernel(name, n, args.seconds)
            rows.append((name, "kernel alone (dynamics.step)", n, kernel, kernel))
            gym_vec = gym.make_vec(eid, num_envs=n, vectorization_mode="vector_entry_point")
            rows.append((name, "Gymnasium make_vec (vector_entry_point)", n, time_vec(gym_vec, args.seconds),
                         kernel))
            rows.append((name, "SB3 VecEnv (liqenv.integrations.sb3)", n,
                         time_vec(LiquidationVecEnv(name, n_envs=n, seed=0), args.seconds), kernel))
    n_ppo = 16
    dummy = ppo_fps(DummyVecEnv([lambda: liqenv.LiquidationEnv("SingleStore-v0")] * n_ppo), args.ppo_steps)
    native = ppo_fps(LiquidationVecEnv("SingleStore-v0", n_envs=n_ppo, seed=0), args.ppo_steps)
    from agents.maskable import FastMaskablePolicy

    chain_steps = 1920 * 4
    m_contrib = maskable_fps("MlpPolicy", chain_steps)
    m_fast = maskable_fps(FastMaskablePolicy, chain_steps)

    cmd = "python benchmarks/throughput.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [f"Command: `{cmd.strip()}` (seed 0); machine: {platform.machine()} {platform.processor() or ''}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}.", "",
             "| scenario | front-end | envs | env-steps/s | share of kernel alone |",
             "|---|---|---:|---:|---:|"]
    for name, fe, n, rate, kernel in rows:
        share = "" if kernel is None else f"{rate / kernel:.0%}"
        lines.append(f"| {name} | {fe} | {n} | {rate:,.0f} | {share} |")
    rate = {(name, fe, n): r for name, fe, n, r, _ in rows}
    for name, n in (("SingleStore-v0", 1024), ("Chain-v1", 256)):
        k, g, b = (rate[name, fe, n] for fe in ("kernel alone (dynamics.step)",
                                                "Gymnasium make_vec (vector_entry_point)",
                                                "SB3 VecEnv (liqenv.integrations.sb3)"))
        lines += ["", f"{name} at {n} envs: Gymnasium vector {g / k:.0%} of the kernel alone, "
                      f"SB3 VecEnv {b / k:.0%}; Gymnasium vector / SB3 VecEnv {g / b:.2f}x."]
    lines += ["", f"PPO on SingleStore-v0, {n_ppo} envs, n_steps 256, batch 512, 4 epochs: "
              f"DummyVecEnv {dummy:,.0f} frames/s, native {native:,.0f} frames/s "
              f"(ratio {native / dummy:.2f}x).",
              "", f"MaskablePPO on Chain-v1 (40 stores, 80 action dimensions), native batch of 16, n_steps 120, "
              f"batch 960, 5 epochs, [256, 256]: sb3-contrib's MlpPolicy {m_contrib:,.0f} frames/s, "
              f"agents.maskable.FastMaskablePolicy {m_fast:,.0f} frames/s (ratio {m_fast / m_contrib:.1f}x)."]
    publish("\n".join(lines), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
