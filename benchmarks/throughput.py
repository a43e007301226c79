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
rate as a share of it; the kernel and the two front-ends at one size take
turns in ``--slices`` slices, so that the load of other processes on a shared
machine falls on the three alike and their ratios (issue 10's targets:
Gymnasium vector >= 0.8x the SB3 VecEnv, both >= 50% of the kernel alone, at
SingleStore-v0 1,024 envs and Chain-v1 256) hold even where the absolute
rates do not.  The load average at the start and the end is recorded.  PPO frames per second compare SB3's PPO on
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


KERNEL = "kernel alone (dynamics.step)"
GYM_VEC = "Gymnasium make_vec (vector_entry_point)"
SB3_VEC = "SB3 VecEnv (liqenv.integrations.sb3)"


def _actions(space, n, rng):
    space.seed(int(rng.integers(1 << 31)))
    return [space.sample() for _ in range(n)]


def time_single(make, seconds: float) -> float:
    env = make()
    env.reset(seed=0)
    acts = _actions(env.action_space, 512, np.random.default_rng(0))
    for a in acts[:8]:  # warm-up, as for the batched front-ends: first calls load compiled code
        if any(env.step(a)[2:4]):
            env.reset()
    env.reset(seed=0)
    n, i, t0 = 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        _, _, term, trunc, _ = env.step(acts[i % 512])
        i += 1
        n += 1
        if term or trunc:
            env.reset()
    return n / (time.perf_counter() - t0)


def vec_stepper(venv):
    """One step of a Gymnasium vector env (``single_action_space``) or an SB3 VecEnv, after a
    warm-up (first calls load compiled code): ``(step, close)``; ``step()`` returns the env-steps."""
    single = getattr(venv, "single_action_space", venv.action_space)
    venv.reset(seed=0) if isinstance(venv, gym.vector.VectorEnv) else venv.reset()
    rng = np.random.default_rng(0)
    acts = [np.stack(_actions(single, venv.num_envs, rng)) for _ in range(8)]
    for a in acts:
        venv.step(a)
    i = iter(range(1 << 62))

    def step() -> int:
        venv.step(acts[next(i) % 8])
        return venv.num_envs

    return step, venv.close


def kernel_stepper(name: str, n_envs: int):
    """One step of the bare dynamics, ``dynamics.step`` over ``n_envs`` copies (see the module
    docstring), after the same warm-up: ``(step, close)``."""
    batch = LiquidationBatch(name, n_envs)
    batch.reset_copies(np.arange(n_envs), list(range(n_envs)))
    p, s, layout = batch.params, batch.state, batch.action_layout
    fresh = s.copy()
    rng = np.random.default_rng(0)
    decisions = [layout.to_decision(layout.check(np.stack(_actions(batch.single_action_space, n_envs, rng)),
                                                 batch=n_envs), p) for _ in range(8)]
    i = iter(range(1 << 62))

    def step() -> int:
        r = dyn.step(p, s, decisions[next(i) % 8])
        if r.done.any():
            ended = np.flatnonzero(r.done)
            s.put(ended, fresh.take(ended))
        return n_envs

    for _ in range(8):
        step()
    return step, lambda: None


def time_interleaved(steppers: dict, seconds: float, slices: int = 1) -> dict[str, float]:
    """Env-steps per second of each ``(step, close)`` in ``steppers``, each run ``seconds`` in
    all.  With ``slices`` > 1 they take turns, ``seconds / slices`` at a time, so that load
    from other processes on a shared machine falls on all of them alike and their ratios hold."""
    n = dict.fromkeys(steppers, 0)
    took = dict.fromkeys(steppers, 0.0)
    for _ in range(slices):
        for key, (step, _) in steppers.items():
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds / slices:
                n[key] += step()
            took[key] += time.perf_counter() - t0
    for _, close in steppers.values():
        close()
    return {key: n[key] / took[key] for key in steppers}


def time_vec(venv, seconds: float) -> float:
    """A Gymnasium vector env or an SB3 VecEnv alone: env-steps per second."""
    return time_interleaved({"venv": vec_stepper(venv)}, seconds)["venv"]


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
    ap.add_argument("--slices", type=cli.count(1, 10**4), default=10,
                    help="the kernel and the two batched front-ends at one size take turns in this many "
                         "slices of --seconds (a shared machine's load falls on all three alike)")
    ap.add_argument("--shared", action="store_true",
                    help="say in the results that other jobs were running on the machine")
    ap.add_argument("--out", default="benchmarks/results/throughput.md")
    args = ap.parse_args(argv)
    try:
        cli.output_file("--out", args.out, suffixes=(".md",))
    except cli.UsageError as e:
        ap.error(str(e))
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    load0 = os.getloadavg()
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
            rates = time_interleaved({
                KERNEL: kernel_stepper(name, n),
                GYM_VEC: vec_stepper(gym.make_vec(eid, num_envs=n, vectorization_mode="vector_entry_point")),
                SB3_VEC: vec_stepper(LiquidationVecEnv(name, n_envs=n, seed=0))}, args.seconds, args.slices)
            rows += [(name, fe, n, rate, rates[KERNEL]) for fe, rate in rates.items()]
    n_ppo = 16
    dummy = ppo_fps(DummyVecEnv([lambda: liqenv.LiquidationEnv("SingleStore-v0")] * n_ppo), args.ppo_steps)
    native = ppo_fps(LiquidationVecEnv("SingleStore-v0", n_envs=n_ppo, seed=0), args.ppo_steps)
    from agents.maskable import FastMaskablePolicy

    chain_steps = 1920 * 4
    m_contrib = maskable_fps("MlpPolicy", chain_steps)
    m_fast = maskable_fps(FastMaskablePolicy, chain_steps)

    cmd = "python benchmarks/throughput.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [f"Command: `{cmd.strip()}` (seed 0); machine: {platform.machine()} {platform.processor() or ''}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}. "
             f"Load average (1, 5, 15 min) at the start {', '.join(f'{x:.1f}' for x in load0)}, at the end "
             f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}"
             + (": the machine was shared with other jobs (training runs), so the absolute rates are "
                "low and noisy; the ratios within one size, measured in interleaved slices, are what "
                "count." if args.shared else ".") + "", "",
             "| scenario | front-end | envs | env-steps/s | share of kernel alone |",
             "|---|---|---:|---:|---:|"]
    for name, fe, n, rate, kernel in rows:
        share = "" if kernel is None else f"{rate / kernel:.0%}"
        lines.append(f"| {name} | {fe} | {n} | {rate:,.0f} | {share} |")
    rate = {(name, fe, n): r for name, fe, n, r, _ in rows}
    for name, n in (("SingleStore-v0", 1024), ("Chain-v1", 256)):
        k, g, b = (rate[name, fe, n] for fe in (KERNEL, GYM_VEC, SB3_VEC))
        met = {True: "met", False: "missed"}
        lines += ["", f"{name} at {n} envs: Gymnasium vector {g / k:.0%} of the kernel alone, "
                      f"SB3 VecEnv {b / k:.0%}; Gymnasium vector / SB3 VecEnv {g / b:.2f}x. Targets: "
                      f"Gymnasium >= 0.8x SB3 {met[g / b >= 0.8]}; Gymnasium >= 50% of the kernel "
                      f"{met[g / k >= 0.5]}; SB3 >= 50% of the kernel {met[b / k >= 0.5]}."]
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
