"""Ray's overhead: the same grid of training runs through sweep.py (Ray Tune) and through the local process pool.

    python benchmarks/ray_overhead.py --scenario SingleStore-v0 --seeds 0,1,2,3 --timesteps 100000

Both sides run the same :class:`agents.job.TrainSpec` per seed (built once by
``sweep.make_plan``): the process pool of ``ppo_results.py --workers``
(spawned processes, one run per core), then ``sweep.py --mode grid`` on a
local Ray with the same number of CPUs, its wall clock including Ray's start
and shutdown, the checkpoints and the copies of each run folder into the
sweep's storage.  Writes the wall-clock ratio (Ray / pool) to
``benchmarks/results/ray_overhead.md`` and ``.json``.  Run it on a quiet
machine: the two sides run one after the other.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from publish import publish  # noqa: E402

from liqenv import cli  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = cli.Parser(prog="ray_overhead.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default="SingleStore-v0", help="scenario id")
    p.add_argument("--seeds", default="0,1,2,3", help="comma-separated training seeds (the grid)")
    p.add_argument("--timesteps", type=cli.count(), default=100_000, help="training steps per run")
    p.add_argument("--workers", type=cli.count(1, 1024), default=os.cpu_count(),
                   help="CPUs of both sides (one run per CPU)")
    p.add_argument("--md", default="benchmarks/results/ray_overhead.md", help="markdown output (JSON beside it)")
    args = p.parse_args(argv)
    try:
        cli.output_file("--md", args.md, suffixes=(".md",))
    except cli.UsageError as e:
        p.error(str(e))
    command = "python benchmarks/ray_overhead.py " + " ".join(sys.argv[1:] if argv is None else argv)

    import sweep
    from ppo_results import train_runs

    with tempfile.TemporaryDirectory() as tmp:
        grid = ["--mode", "grid", "--scenarios", args.scenario, "--seeds", args.seeds,
                "--timesteps", str(args.timesteps), "--storage", tmp, "--name", "ray",
                "--num-cpus", str(args.workers)]
        try:
            plan = sweep.make_plan(sweep.Args(**vars(sweep.build_parser().parse_args(grid))), grid)
        except ValueError as e:
            print(f"ray_overhead.py: error: {' '.join(str(e).split())}", file=sys.stderr)
            return 2
        specs = [dataclasses.replace(plan["spec_of"]({"scenario": plan["sids"][0], "seed": s}),
                                     out=Path(tmp) / "pool" / f"seed{s}", progress=False)
                 for s in plan["seeds"]]
        t0 = time.perf_counter()
        train_runs(specs, args.workers)
        pool_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        if sweep.main(grid) != 0:
            print("ray_overhead.py: error: the Ray sweep failed", file=sys.stderr)
            return 1
        ray_s = time.perf_counter() - t0
    ratio = ray_s / pool_s
    n = len(plan["seeds"])
    text = "\n".join([
        f"Command: `{command}`", "",
        f"The same {n} training runs ({plan['sids'][0]}, seeds {args.seeds}, {args.timesteps:,} steps each, "
        f"one run per CPU, {args.workers} CPUs) through the local process pool of `ppo_results.py --workers` "
        f"and through `sweep.py --mode grid` on a local Ray (its start and shutdown, checkpoints at every "
        f"validation and the run folders copied into the sweep's storage included):", "",
        "| engine | wall clock |", "|---|---:|",
        f"| process pool | {pool_s:,.1f} s |", f"| Ray Tune (sweep.py) | {ray_s:,.1f} s |", "",
        f"Ratio Ray / pool: {ratio:.2f}."])
    publish(text, args.md)
    Path(args.md).with_suffix(".json").write_text(json.dumps(
        {"command": command, "runs": n, "workers": args.workers, "timesteps": args.timesteps,
         "pool_seconds": pool_s, "ray_seconds": ray_s, "ratio": ratio}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
