"""The README's leaderboard: every baseline and the project's trained agents on a whole suite.

    python benchmarks/leaderboard.py --suite liqenv-bench-v1 --workers 2

Runs ``evaluate.py --suite``'s code (:mod:`liqenv.evaluation.suite`) on every
registered baseline (``baselines.available()``) and on the PPO agents that
``benchmarks/ppo_results.py`` trains, found as
``<runs>/<scenario>/seed<k>/model.zip`` (default ``runs/ppo_results``,
seeds 0-4): one learned method ``ppo`` whose run ``k`` is seed ``k``'s model on
each scenario (a scenario without a model is reported unsupported, and then
the method gets no aggregate; with no model at all there is no ``ppo``
column).  Writes the Markdown (first line: the command) to ``benchmarks/results/leaderboard.md``, spliced into the README by
``benchmarks/update_readme.py``, with the JSON, CSV and the
performance-profile figure beside it.  It needs the suite's references
(``benchmarks/suite_references.py``); the floor's and reference's rows that
run measured (``<suite>.results.json``, same episodes and seeds) are reused,
not played again (``--replay`` plays them again).  A scenario without all
the PPO models shows "no model" in the per-scenario table, and the head
names the missing ones.

To train the agents first (long: hours on 2 cores for the chains)::

    python benchmarks/ppo_results.py --scenarios <each suite scenario> --seeds 0,1,2,3,4 --workers 2

``--missing`` prints, per scenario, whether the models are there and the
training command, and exits.  Cost: every baseline on every scenario at the
suite's episode counts; the chains' re-solving baselines (``store_pds``,
``craig_raman``, ``adp``) dominate.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from liqenv import cli  # noqa: E402


def _rel(path: Path) -> Path:
    """``path`` relative to the repository root when it lies inside it."""
    p = Path(path).resolve()
    return p.relative_to(ROOT) if p.is_relative_to(ROOT) else p


def ppo_spec(runs: str, seeds: list[int]) -> str:
    """The ``--policies`` entry of the trained agents: one ``{scenario}`` template per seed."""
    return "ppo=" + "|".join(f"sb3:{runs}/{{scenario}}/seed{k}/model.zip" for k in seeds)


def main(argv: list[str] | None = None) -> int:
    p = cli.Parser(prog="leaderboard.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", default="liqenv-bench-v1")
    p.add_argument("--runs", default="runs/ppo_results", help="folder of the trained agents")
    p.add_argument("--seeds", default="0,1,2,3,4", help="training seeds of the agents")
    p.add_argument("--workers", type=cli.count(1, 1024), default=1)
    p.add_argument("--md", default=str(ROOT / "benchmarks" / "results" / "leaderboard.md"))
    p.add_argument("--missing", action="store_true", help="list the missing models and exit")
    p.add_argument("--replay", action="store_true",
                   help="play the floor and reference again instead of reusing the reference run's rows")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)

    import agents  # noqa: F401  (the sb3= loader)
    import baselines
    from liqenv.evaluation.specs import parse_policy_groups
    from liqenv.evaluation.suite import (format_suite_markdown, load_reference_results, load_suite,
                                         results_path, run_suite, suite_report, write_suite_csv,
                                         write_suite_json)
    from liqenv.resolve import short_name

    try:
        try:
            seeds = [cli.seed(s) for s in args.seeds.split(",") if s.strip()]
        except argparse.ArgumentTypeError as e:
            raise ValueError(f"--seeds {args.seeds!r}: {e}") from None
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"--seeds {args.seeds!r}: expected distinct non-negative integers")
        cli.output_file("--md", args.md, suffixes=(".md",))
        suite = load_suite(args.suite, references=not args.missing)
        missing = [short_name(s.id) for s in suite.scenarios
                   if any(not (Path(args.runs) / short_name(s.id) / f"seed{k}" / "model.zip").is_file()
                          for k in seeds)]
        if args.missing:
            for name in missing:
                print(f"{name}: missing; train with: python benchmarks/ppo_results.py --scenarios {name} "
                      f"--seeds {args.seeds} --runs {args.runs} --workers 2")
            return 0
        any_model = any((Path(args.runs) / short_name(s.id) / f"seed{k}" / "model.zip").is_file()
                        for s in suite.scenarios for k in seeds)
        # no model anywhere: no PPO column at all (the head says where they are missing)
        groups = parse_policy_groups(",".join(baselines.available())
                                     + ("," + ppo_spec(args.runs, seeds) if any_model else ""))
        note = (lambda sid: print(f"[leaderboard] {sid}", file=sys.stderr, flush=True)) if args.progress else None
        md = Path(args.md)
        reuse = {} if args.replay else load_reference_results(suite)
        report = suite_report(run_suite(suite, groups, workers=args.workers, progress=args.progress,
                                        on_scenario=note, reuse=reuse), plot=md.with_suffix(".png"))
    except ValueError as e:
        print(f"leaderboard.py: error: {cli.one_line(e)}", file=sys.stderr)
        return 2
    command = "python benchmarks/leaderboard.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    refs = suite.references or {}
    spath = _rel(suite.path)
    head = (f"Command: `{command}`\n\nSuite `{suite.name}` (`{spath}`); "
            f"references measured at commit `{refs.get('commit', '?')}` by `{refs.get('command', '?')}`. "
            f"PPO: the models of `{args.runs}/<scenario>/seed<k>` for seeds {args.seeds}"
            + (f" (missing on: {', '.join(missing)})" if missing else "") + ". "
            + (f"Floor and reference rows reused from `{_rel(results_path(suite.path))}` "
               f"({len(reuse)} scenario-policy pairs, same episodes and seeds as the references)."
               if reuse else "Every row played here.") + "\n\n")
    md.parent.mkdir(parents=True, exist_ok=True)
    link = _rel(md.with_suffix(".png"))  # the README sits in ROOT
    md.write_text(head + format_suite_markdown(report) + f"\n\n![performance profiles]({link})\n")
    write_suite_json(report, md.with_suffix(".json"))
    write_suite_csv(report, md.with_suffix(".csv"))
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
