"""Evaluate liquidation policies on a scenario with common random numbers.

    python evaluate.py --scenario liqenv/SingleStore-v0 --policies sdp,pds,fp \
        --episodes 1000 --seed 0 --set pricing=continuous --workers 2 --json out.json
    python evaluate.py ... --ray [--address auto]     # the episodes split over Ray workers

Episode ``i`` of every policy runs on env seed ``seed + i``.  A policy is a
registered name (``baselines.available()``) or ``prefix=path`` for a learned
model (``ppo=runs/x/model.zip``); this script imports the packages that
provide them (``baselines``, ``agents``) and runs the harness of
:mod:`liqenv.evaluation`.  ``--set field=value`` overrides a scenario
field; the value is read as YAML (``1800`` int, ``0.5`` float, ``[1,2]`` list).
Bad input prints one line to stderr and exits with status 2.

With ``--suite`` (a versioned benchmark suite, ``liqenv-bench-v1``) the
scenarios, episodes and seeds come from the suite and every policy gets a
normalised score per scenario and aggregates across scenarios and training
seeds (:mod:`liqenv.evaluation.suite`); ``--policies`` then also takes
``module:factory`` (your own policy), ``sb3:model.zip`` (any SB3 model) and
``label=spec|spec`` (the runs of one learned method)::

    python evaluate.py --suite liqenv-bench-v1 --policies sdp,mine=mypkg.pol:make_policy \
        --md out.md --json out.json --csv out.csv --plot profile.png
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from liqenv import cli


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="evaluate.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default=None,
                   help="preset id (liqenv/SingleStore-v0) or a YAML/JSON scenario file")
    p.add_argument("--suite", default=None,
                   help="a benchmark suite (liqenv-bench-v1) or a suite YAML file, instead of --scenario")
    p.add_argument("--policies", required=True,
                   help="comma-separated policy names or prefix=path specs; with --suite also "
                        "module:factory, sb3:model.zip and label=spec|spec (runs of one method)")
    p.add_argument("--episodes", type=cli.count(), default=1000, help="episodes per policy")
    p.add_argument("--seed", type=cli.count(0, 2**63 - 1), default=0, help="env seed of the first episode")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="scenario override (repeatable); the value is parsed as YAML")
    p.add_argument("--workers", type=cli.count(1, 1024), default=1,
                   help="worker processes (with --ray: jobs, default one per CPU of the Ray)")
    p.add_argument("--ray", action="store_true",
                   help="split the episodes over Ray workers (a local Ray on this machine's cores, "
                        "or the cluster --address joins); the same results as --workers 1")
    p.add_argument("--address", default=None,
                   help="with --ray: join this Ray cluster (auto, host:port, ray://host:port)")
    p.add_argument("--json", dest="json_path", default=None, help="write the results here")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.add_argument("--md", dest="md_path", default=None,
                   help="write the printed Markdown report here (both tables; with --suite the suite's)")
    p.add_argument("--csv", dest="csv_path", default=None,
                   help="write every section 7 metric's mean and CI per policy here "
                        "(with --suite: the per-run rows)")
    p.add_argument("--plot", dest="plot_path", default=None,
                   help="--suite: write the performance profiles here (PNG; needs matplotlib)")
    p.add_argument("--vec", choices=("auto", "single"), default="auto",
                   help="auto: policies that act on a batch (PPO) play all episodes at once on the "
                        "native batched env (same draws); single: one episode at a time")
    return p


def _fail(e: Exception) -> int:
    print(f"evaluate.py: error: {' '.join(str(e).split())}", file=sys.stderr)
    return 2


def run_suite_cli(args: argparse.Namespace) -> int:
    """``--suite``: every policy on every suite scenario, scored and aggregated."""
    from liqenv.evaluation.specs import parse_policy_groups
    from liqenv.evaluation.suite import (format_suite_markdown, load_suite, run_suite, suite_report,
                                         write_suite_csv, write_suite_json)

    try:
        if args.scenario is not None or args.overrides or args.episodes != 1000 or args.seed != 0:
            raise ValueError("--suite fixes the scenarios, episodes and seeds: drop --scenario, --set, "
                             "--episodes and --seed")
        if args.workers < 1:
            raise ValueError(f"--workers {args.workers}: must be at least 1")
        if args.ray or args.address is not None:
            raise ValueError("--suite runs on local worker processes (--workers): drop --ray and --address")
        for flag, path, suffixes in (("--json", args.json_path, ()), ("--md", args.md_path, (".md",)),
                                     ("--csv", args.csv_path, (".csv",)), ("--plot", args.plot_path, (".png",))):
            cli.output_file(flag, path, suffixes)
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # module:factory from the current folder, as python -m does
        groups = parse_policy_groups(args.policies)
        suite = load_suite(args.suite)
        note = (lambda sid: print(f"[suite] {sid}", file=sys.stderr, flush=True)) if args.progress else None
        report = suite_report(run_suite(suite, groups, workers=args.workers, progress=args.progress,
                                        vec=args.vec, on_scenario=note), plot=args.plot_path)
    except (ValueError, TypeError, OSError, ImportError) as e:
        return _fail(e)
    text = format_suite_markdown(report)
    print(text)
    if args.md_path:
        with open(args.md_path, "w") as fh:
            fh.write(text + "\n")
    if args.json_path:
        write_suite_json(report, args.json_path)
    if args.csv_path:
        write_suite_csv(report, args.csv_path)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The providers of the policies offered here register them on import.
    import agents  # noqa: F401  (ppo= / maskable_ppo= / sb3= model loaders)
    import baselines  # noqa: F401  (the analytic policies)

    if args.suite is not None:
        return run_suite_cli(args)
    if args.scenario is None:
        return _fail(ValueError("give --scenario or --suite"))
    if args.plot_path is not None:
        return _fail(ValueError("--plot needs --suite"))
    from liqenv.evaluation import (evaluate, format_metrics_table, format_table, parse_overrides, write_csv,
                                   write_json)
    from liqenv.resolve import resolve_scenario

    try:
        if args.episodes < 1:
            raise ValueError(f"--episodes {args.episodes}: must be a positive integer")
        if args.workers < 1:
            raise ValueError(f"--workers {args.workers}: must be at least 1")
        if args.address is not None and not args.ray:
            raise ValueError("--address: needs --ray")
        overrides = parse_overrides(args.overrides)
        policies = [s.strip() for s in args.policies.split(",") if s.strip()]
        if not policies:
            raise ValueError(f"--policies {args.policies!r}: name at least one policy")
        for flag, path, suffixes in (("--json", args.json_path, ()), ("--md", args.md_path, (".md",)),
                                     ("--csv", args.csv_path, (".csv",))):
            cli.output_file(flag, path, suffixes)
        scenario, _ = resolve_scenario(args.scenario, **overrides)  # liqenv's one scenario resolver
        started = _join_ray(args.address) if args.ray else False
        try:
            results = evaluate(scenario, policies, args.episodes, seed=args.seed,
                               overrides=overrides, workers=args.workers, progress=args.progress,
                               vec=args.vec, engine="ray" if args.ray else "processes")
        finally:
            if started:
                import ray

                ray.shutdown()
    except (ValueError, TypeError, OSError) as e:
        return _fail(e)
    text = (f"{args.scenario}, {args.episodes} episodes, env seeds {args.seed}.."
            f"{args.seed + args.episodes - 1}, overrides {overrides or '{}'}\n\n{format_table(results)}\n\n"
            "MODEL.md section 7 metrics, means over the episodes (every metric's 95% CI is in "
            f"--json and --csv):\n\n{format_metrics_table(results)}")
    print(text)
    if args.md_path:
        Path(args.md_path).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md_path).write_text(text + "\n")
    if args.json_path:
        write_json(results, args.json_path)
    if args.csv_path:
        write_csv(results, args.csv_path)
    return 0


def _join_ray(address: str | None) -> bool:
    """Join (or start) a Ray for ``--ray``; True when this call connected (and should disconnect)."""
    import ray

    from agents.sweep import init_ray

    if ray.is_initialized():
        return False
    init_ray(address)
    return True


if __name__ == "__main__":
    sys.exit(main())
