"""How long the published PPO tables take on one machine and on n Ray workers, from their own timings.

    python benchmarks/ray_estimate.py

Reads the per-seed training times that ``benchmarks/ppo_results.py`` stored
in ``benchmarks/results/ppo*.json`` (``train_seconds``: training with its
validations, one core per run) and each table's final evaluation
(``eval_seconds``), and schedules the runs on ``n`` one-core workers, longest
first, each run on the worker that frees up first (what Tune's FIFO
scheduler does with one trial per CPU when the longest are submitted
first): the makespan plus the evaluations is the estimate.  When
``benchmarks/results/ray_overhead.json`` exists (``benchmarks/ray_overhead.py``)
the Ray column is multiplied by its measured wall-clock ratio.  It assumes
every worker core is as fast as the one the times were measured on and
leaves out each run's set-up and final per-seed table (seconds).  Writes
``benchmarks/results/ray_estimate.md``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from publish import publish  # noqa: E402

from liqenv import cli  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TABLES = ("ppo", "ppo_multistore", "ppo_chain")


def makespan(durations: list[float], workers: int) -> float:
    """Longest-first list scheduling of ``durations`` on ``workers`` identical workers."""
    free = [0.0] * workers
    for d in sorted(durations, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + d)
    return max(free)


def _hms(s: float) -> str:
    h, m = divmod(round(s / 60), 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def main(argv: list[str] | None = None) -> int:
    p = cli.Parser(prog="ray_estimate.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", default="1,2,8,16,35", help="comma-separated worker counts")
    p.add_argument("--md", default=str(RESULTS / "ray_estimate.md"), help="markdown output")
    args = p.parse_args(argv)
    try:
        ns = [cli.count(1, 10**5)(w) for w in args.workers.split(",")]  # the schedule holds one slot per worker
        cli.output_file("--md", args.md, suffixes=(".md",))
    except argparse.ArgumentTypeError as e:
        p.error(f"--workers {args.workers!r}: {e}")
    except cli.UsageError as e:
        p.error(str(e))
    runs, evals, lines = [], 0.0, []
    for table in TABLES:
        path = RESULTS / f"{table}.json"
        if not path.is_file():
            continue
        for sid, e in json.loads(path.read_text())["scenarios"].items():
            times = list(e["train_seconds"].values())
            runs += times
            evals += e["eval_seconds"]
            lines.append(f"| {sid} | {len(times)} | {sum(times) / len(times):,.0f} s | {e['eval_seconds']:,.0f} s |")
    if not runs:
        print("ray_estimate.py: error: no benchmarks/results/ppo*.json to read (run ppo_results.py)", file=sys.stderr)
        return 2
    over = RESULTS / "ray_overhead.json"
    ratio = json.loads(over.read_text())["ratio"] if over.is_file() else None
    out = ["Command: `python benchmarks/ray_estimate.py" + (f" --workers {args.workers}`" if argv else "`"), "",
           f"From the per-seed training times of the published tables ({len(runs)} runs; "
           f"{', '.join(t + '.json' for t in TABLES)}), measured one run per core:", "",
           "| scenario | runs | mean training time per run | final evaluation |", "|---|---:|---:|---:|",
           *lines, "",
           "Wall-clock estimate for all of them (runs scheduled longest first on one-core workers, "
           "then each table's final evaluation as measured, with its command's --workers" +
           (f"; Ray column x{ratio:.2f}, the overhead measured by ray_overhead.py" if ratio else
            "; Ray's own overhead not included: run benchmarks/ray_overhead.py") + "):", "",
           "| workers (one core each) | estimate |" + (" with Ray overhead |" if ratio else ""),
           "|---:|---:|" + ("---:|" if ratio else "")]
    for n in ns:
        t = makespan(runs, n) + evals
        out.append(f"| {n} | {_hms(t)} |" + (f" {_hms(makespan(runs, n) * ratio + evals)} |" if ratio else ""))
    out += ["", f"More workers than runs ({len(runs)}) do not help: the longest run "
            f"({_hms(max(runs))}) bounds the wall clock."]
    publish("\n".join(out), args.md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
