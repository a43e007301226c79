"""Measure a suite's floor and reference values and store them beside the suite.

    python benchmarks/suite_references.py --suite liqenv-bench-v1 --workers 2

For every scenario of the suite (``liqenv/evaluation/suites/<name>.yaml``)
it evaluates the floor and the reference policy on the suite's episodes and
seeds (the harness, common random numbers) and writes
``<name>.references.json`` beside the suite file: per scenario the suite's
entry, each policy's mean profit and 95% t half-width, plus the git commit,
the command and the date.  Beside it, ``<name>.results.json`` keeps both
policies' full suite rows (profit, CI and the section 7 metric means), which
``benchmarks/leaderboard.py`` reuses (:func:`liqenv.evaluation.suite.load_reference_results`)
instead of playing the floor and reference on the same episodes again.  :func:`liqenv.evaluation.suite.load_suite` refuses
references measured for other entries, so after editing the suite (an id
bumped to -v1) rerun this script; ``--only ID[,ID]`` remeasures some
scenarios and keeps the others' rows.

Cost (liqenv-bench-v1), from a 2-episode probe on the shared 2-core machine:
the single-store and TwoStore rows take a few minutes in all; the chains'
references re-solve every period, roughly 40-90 s per episode on one core
(store_pds on Chain-v0, craig_raman on TransferChain-v0 and
DistributionCentre-v0), which sets their episode counts (20, 20, 10): about
25-30 minutes with ``--workers 2``.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from liqenv import cli  # noqa: E402


def git_commit() -> str:
    """``HEAD``'s hash, with ``+dirty`` when tracked files differ from it (or ``unknown``)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def measure(suite_arg: str, workers: int = 1, only: list[str] | None = None,
            progress: bool = False) -> tuple[dict, dict]:
    """The references file's and the results file's contents for ``suite_arg``
    (``only``: ids to remeasure, the others' rows kept from both files)."""
    import baselines  # noqa: F401  (registers the floor and reference policies)
    from liqenv.evaluation import evaluate
    from liqenv.evaluation.suite import (load_suite, reference_entry, references_path, results_entry,
                                         results_path)

    suite = load_suite(suite_arg, references=False)
    old, old_results = {}, {}
    if only:
        known = {s.id for s in suite.scenarios}
        for sid in only:
            if sid not in known:
                raise ValueError(f"--only {sid!r}: not in suite {suite.name!r}")
        for path, into in ((references_path(suite.path), old), (results_path(suite.path), old_results)):
            if path.is_file():
                into.update({r["id"]: r for r in json.loads(path.read_text()).get("scenarios", [])})
    rows, result_rows = [], []
    for s in suite.scenarios:
        if only and s.id not in only and s.id in old:
            rows.append(old[s.id])
            if s.id in old_results:
                result_rows.append(old_results[s.id])
            continue
        if progress:
            print(f"[references] {s.id}: {s.floor}, {s.reference}, {s.episodes} episodes", file=sys.stderr,
                  flush=True)
        res = evaluate(s.id, [s.floor, s.reference], s.episodes, seed=s.seed, workers=workers,
                       unknown="report", progress=progress)
        rows.append(reference_entry(s, res))
        result_rows.append(results_entry(s, res))
    head = {"suite": suite.name, "commit": git_commit(),
            "command": "python benchmarks/suite_references.py " + shlex.join(sys.argv[1:]),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    return head | {"scenarios": rows}, head | {"scenarios": result_rows}


def main(argv: list[str] | None = None) -> int:
    p = cli.Parser(prog="suite_references.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", default="liqenv-bench-v1", help="a shipped suite's name or a suite YAML file")
    p.add_argument("--workers", type=cli.count(1, 1024), default=1, help="worker processes")
    p.add_argument("--only", default=None, help="comma-separated scenario ids to remeasure")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    try:
        from liqenv.evaluation.suite import load_suite, references_path, results_path
        from liqenv.resolve import canonical_scenario

        only = [canonical_scenario(s.strip()) for s in args.only.split(",")] if args.only is not None else None
        data, results = measure(args.suite, args.workers, only, args.progress)
        spath = load_suite(args.suite, references=False).path
        path = references_path(spath)
    except ValueError as e:
        print(f"suite_references.py: error: {cli.one_line(e)}", file=sys.stderr)
        return 2
    from liqenv.evaluation.report import _clean  # an undefined CI (one episode) is null, not NaN

    path.write_text(json.dumps(_clean(data), indent=2, allow_nan=False) + "\n")
    results_path(spath).write_text(json.dumps(_clean(results), indent=2, allow_nan=False) + "\n")
    for r in data["scenarios"]:
        print(f"{r['id']}: floor {r['floor']} {r['floor_mean']:.4f} ± {r['floor_ci95']:.4f}, "
              f"reference {r['reference']} ({r['reference_kind']}) {r['reference_mean']:.4f} "
              f"± {r['reference_ci95']:.4f}")
    print(f"wrote {path} and {results_path(spath)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
