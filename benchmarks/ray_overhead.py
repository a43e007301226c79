"""Ray's overhead: the same grid of training runs through sweep.py (Ray Tune) and through the local process pool.

    python benchmarks/ray_overhead.py --scenario SingleStore-v0 --seeds 0,1,2,3 --timesteps 100000

Both sides run the same :class:`agents.job.TrainSpec` per seed (built once by
``sweep.make_plan``): the process pool of ``ppo_results.py --workers``
(spawned processes, one run per core), then ``sweep.py --mode grid`` on a
local Ray with the same number of CPUs, its wall clock including Ray's start
and shutdown, the checkpoints and the copies of each run folder into the
sweep's storage.  Writes the wall-clock ratio (Ray / pool) to
``benchmarks/results/ray_overhead.md`` and ``.json``.  Run it on a quiet
machine: the two sides run one after the other, so other jobs slow whichever
side they overlap.  It also writes, per side, the CPU time of all its
processes (this one, the pool's workers; Ray's daemons, its workers and the
trials; sampled from ``/proc`` every 0.2 s, Linux only), which other jobs
change much less than the wall clock, and the 1-minute load average when
each side started (above the CPU count: the machine was shared).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from publish import publish  # noqa: E402

from liqenv import cli  # noqa: E402


class CpuMeter:
    """CPU seconds of this process and its descendants while the ``with`` block runs.

    Ray's workers outlive the raylet that started them for a moment and are
    never reaped by this process, so ``getrusage(RUSAGE_CHILDREN)`` misses
    them: the process tree is sampled from ``/proc`` instead (the last < 0.2 s
    of a process that exits between samples is lost).  ``seconds`` is None
    where ``/proc`` is missing.
    """

    def __init__(self, every: float = 0.2):
        self.every, self.seconds = every, None
        self._seen: dict[int, float] = {}  # pid -> CPU seconds since the block started
        self._base: dict[int, float] = {}  # pid -> CPU seconds before the block (this process)
        self._stop = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _stat(self, pid: str) -> tuple[int, float] | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / self._tick  # ppid, utime + stime

    def _sample(self) -> None:
        stats = {int(d): st for d in os.listdir("/proc") if d.isdigit() and (st := self._stat(d)) is not None}
        kids: dict[int, list[int]] = {}
        for pid, (ppid, _) in stats.items():
            kids.setdefault(ppid, []).append(pid)
        todo = [os.getpid()]
        while todo:
            pid = todo.pop()
            self._seen[pid] = stats[pid][1] - self._base.get(pid, 0.0) if pid in stats else self._seen.get(pid, 0)
            todo += kids.get(pid, [])

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self) -> "CpuMeter":
        if Path("/proc/self/stat").is_file():
            me = self._stat(str(os.getpid()))
            self._base = {os.getpid(): me[1] if me else 0.0}
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._base:
            self._stop.set()
            self._thread.join()
            self._sample()
            self.seconds = sum(self._seen.values())


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
        load = {"pool": _load()}
        t0 = time.perf_counter()
        with CpuMeter() as pool_cpu:
            train_runs(specs, args.workers)
        pool_s = time.perf_counter() - t0
        load["ray"] = _load()
        t0 = time.perf_counter()
        with CpuMeter() as ray_cpu:
            if sweep.main(grid) != 0:
                print("ray_overhead.py: error: the Ray sweep failed", file=sys.stderr)
                return 1
        ray_s = time.perf_counter() - t0
    ratio = ray_s / pool_s
    cpu = {"pool": pool_cpu.seconds, "ray": ray_cpu.seconds}
    cpu_ratio = cpu["ray"] / cpu["pool"] if cpu["ray"] and cpu["pool"] else None
    n = len(plan["seeds"])
    text = "\n".join([
        f"Command: `{command}`", "",
        f"The same {n} training runs ({plan['sids'][0]}, seeds {args.seeds}, {args.timesteps:,} steps each, "
        f"one run per CPU, {args.workers} CPUs) through the local process pool of `ppo_results.py --workers` "
        f"and through `sweep.py --mode grid` on a local Ray (its start and shutdown, checkpoints at every "
        f"validation, trials reusing worker processes, and the run folders copied into the sweep's storage "
        f"included). CPU time: all processes of each side, this script's included; load: the 1-minute load "
        f"average when the side started (above {os.cpu_count()}, this machine's CPU count, other jobs "
        f"shared the machine and slowed whichever side they overlapped):", "",
        "| engine | wall clock | CPU time | load at start |", "|---|---:|---:|---:|",
        f"| process pool | {pool_s:,.1f} s | {_secs(cpu['pool'])} | {_num(load['pool'])} |",
        f"| Ray Tune (sweep.py) | {ray_s:,.1f} s | {_secs(cpu['ray'])} | {_num(load['ray'])} |", "",
        f"Ratio Ray / pool: {ratio:.2f} in wall clock"
        + (f", {cpu_ratio:.2f} in CPU time." if cpu_ratio else ".")])
    publish(text, args.md)
    Path(args.md).with_suffix(".json").write_text(json.dumps(
        {"command": command, "runs": n, "workers": args.workers, "timesteps": args.timesteps,
         "pool_seconds": pool_s, "ray_seconds": ray_s, "ratio": ratio, "pool_cpu_seconds": cpu["pool"],
         "ray_cpu_seconds": cpu["ray"], "cpu_ratio": cpu_ratio, "load_at_start": load}, indent=2) + "\n")
    return 0


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _secs(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.1f} s"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"


if __name__ == "__main__":
    sys.exit(main())
