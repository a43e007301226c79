"""MaskablePPO training throughput: the store-factored policy against the flat FastMaskablePolicy.

Usage::

    python benchmarks/policy_throughput.py [--scenario Chain-v1] [--rollouts 4] [--repeats 2]
        [--out benchmarks/results/policy_throughput.md]

Both models are built by :func:`agents.config.build_model` from the
scenario's block of ``agents/hyperparams.yaml`` (the same batch, rollout,
minibatch and epochs), once with ``policy: factored``
(:mod:`agents.factored`, width ``embed_dim``) and once with ``policy: mlp``
(:class:`agents.maskable.FastMaskablePolicy`, ``net_arch``), on the native
batched env, one torch thread, in the same run.  Frames per second =
env-steps of ``--rollouts`` full rollouts (collection and PPO update) over
their wall-clock time after one warm-up rollout; the two policies alternate
``--repeats`` times and the best of each is reported.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/publish.py, also when imported
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # agents/
from publish import publish  # noqa: E402

from liqenv import cli  # noqa: E402

POLICIES = ("factored", "mlp")


def policy_fps(scenario: str, policy: str, rollouts: int) -> tuple[float, int]:
    """(frames per second, trainable parameters) of one MaskablePPO model on ``scenario``."""
    import torch

    from agents.config import build_model, load_hyperparams
    from agents.wrappers import make_training_env

    torch.set_num_threads(1)
    hp = load_hyperparams(scenario, {"policy": policy, "algo": "maskable-ppo"})
    venv = make_training_env(f"liqenv/{scenario.split('/')[-1]}", hp.n_envs, 0, 1.0, vec="native")
    model = build_model(hp, venv, seed=0)
    per_rollout = hp.n_envs * hp.n_steps
    model.learn(per_rollout)  # warm-up: numba, torch allocations
    t0 = time.perf_counter()
    model.learn(rollouts * per_rollout, reset_num_timesteps=False)
    fps = rollouts * per_rollout / (time.perf_counter() - t0)
    return fps, sum(p.numel() for p in model.policy.parameters() if p.requires_grad)


def measure(scenario: str = "Chain-v1", rollouts: int = 4, repeats: int = 2) -> dict[str, dict]:
    """Best frames/s of each policy over ``repeats`` alternating runs, and its parameter count."""
    best: dict[str, dict] = {}
    for _ in range(repeats):
        for name in POLICIES:
            fps, n_par = policy_fps(scenario, name, rollouts)
            if name not in best or fps > best[name]["fps"]:
                best[name] = {"fps": fps, "parameters": n_par}
    return best


def main(argv: list[str] | None = None) -> int:
    ap = cli.Parser(prog="policy_throughput.py", description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="Chain-v1", help="scenario id (its hyperparams.yaml block is used)")
    ap.add_argument("--rollouts", type=cli.count(1, 10**4), default=4, help="timed rollouts per measurement")
    ap.add_argument("--repeats", type=cli.count(1, 100), default=2,
                    help="alternating measurements per policy (best kept)")
    ap.add_argument("--out", default="benchmarks/results/policy_throughput.md")
    args = ap.parse_args(argv)
    from agents.config import load_hyperparams

    try:
        cli.output_file("--out", args.out, suffixes=(".md",))
        hp = load_hyperparams(args.scenario, {"policy": "factored", "algo": "maskable-ppo"})
    except ValueError as e:
        ap.error(str(e))
    res = measure(args.scenario, args.rollouts, args.repeats)
    f, m = res["factored"], res["mlp"]
    cmd = "python benchmarks/policy_throughput.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n".join([
        f"Command: `{cmd.strip()}` (seed 0); machine: {platform.machine()} {platform.processor() or ''}, "
        f"{os.cpu_count()} cores, one torch thread.", "",
        f"MaskablePPO on {args.scenario}, native batch of {hp.n_envs}, n_steps {hp.n_steps}, batch "
        f"{hp.batch_size}, {hp.n_epochs} epochs (best of {args.repeats}, {args.rollouts} rollouts each):", "",
        "| policy | parameters | frames/s |", "|---|---:|---:|",
        f"| factored (agents.factored, embed_dim {hp.embed_dim}) | {f['parameters']:,} | {f['fps']:,.0f} |",
        f"| flat FastMaskablePolicy (net_arch {list(hp.net_arch)}) | {m['parameters']:,} | {m['fps']:,.0f} |",
        "", f"Ratio factored / flat: {f['fps'] / m['fps']:.2f}x."])
    publish(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
