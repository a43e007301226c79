"""A published Optuna sweep: its best configuration against today's hyperparameters.

    python benchmarks/sweep_results.py --scenario SingleStore-v0 --samples 16 --search-seed 0 --seeds 1,2,3

1. ``sweep.py --mode search`` on training seed 0: ``--samples`` Optuna trials
   over learning rate, rollout length, entropy bonus and GAE lambda, ASHA
   stopping the weak ones, each scored by its best validation profit (env
   seeds ``1_000_000 ..``).
2. ``sweep.py --mode grid`` twice on training seeds ``--seeds`` (which the
   search did not use): today's ``agents/hyperparams.yaml``, and the same
   with the best configuration set.  Both are scored on the same validation
   episodes and, for each run's best model, on the same final episodes (env
   seeds ``0 .. --eval-episodes - 1``): common random numbers throughout.

Writes ``benchmarks/results/sweep.md`` (the trials, the best block, the
comparison) and ``sweep_curves.png`` (validation profit against steps per
trial).  Bad input prints one line and exits 2.
"""

from __future__ import annotations

import csv
import math
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from publish import publish  # noqa: E402

from liqenv import cli  # noqa: E402

SPACE = ["learning_rate=loguniform:3e-4:6e-3", "n_steps=64,128,256,512", "ent_coef=uniform:0:0.01",
         "gae_lambda=uniform:0.9:0.99"]


def _ci(x: np.ndarray) -> float:
    return float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan


def _rows(exp: Path) -> list[dict]:
    with open(exp / "trials.csv") as f:
        return list(csv.DictReader(f))


def main(argv: list[str] | None = None) -> int:
    p = cli.Parser(prog="sweep_results.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default="SingleStore-v0", help="scenario id")
    p.add_argument("--samples", type=cli.count(), default=16, help="trials of the search")
    p.add_argument("--search-seed", type=cli.seed, default=0, help="seed of the Optuna sampler")
    p.add_argument("--seeds", default="1,2,3", help="training seeds of the comparison (not 0: the search's)")
    p.add_argument("--timesteps", type=cli.count(), default=None,
                   help="steps per run (default: the hyperparameter file)")
    p.add_argument("--eval-episodes", type=cli.count(), default=1000, help="final episodes of the comparison")
    p.add_argument("--num-cpus", type=cli.count(1, 1024), default=None,
                   help="local Ray CPUs (default: the machine's cores)")
    p.add_argument("--md", default="benchmarks/results/sweep.md", help="markdown output (curves .png beside it)")
    args = p.parse_args(argv)
    command = "python benchmarks/sweep_results.py " + " ".join(sys.argv[1:] if argv is None else argv)

    import yaml

    import sweep

    common = (["--timesteps", str(args.timesteps)] if args.timesteps else []) + (
        ["--num-cpus", str(args.num_cpus)] if args.num_cpus else [])
    with tempfile.TemporaryDirectory() as tmp:
        search = ["--scenarios", args.scenario, "--seeds", "0", "--samples", str(args.samples),
                  "--search-seed", str(args.search_seed), "--storage", tmp, "--name", "search",
                  *[a for s in SPACE for a in ("--space", s)], *common]
        try:  # every input checked (sweep.py's checks) before Ray starts or anything is written
            cli.output_file("--md", args.md, suffixes=(".md",))
            for check in (search, ["--mode", "grid", "--scenarios", args.scenario, "--seeds", args.seeds,
                                   "--storage", tmp, "--name", "grid0", "--eval-episodes",
                                   str(args.eval_episodes), *common]):
                sweep.make_plan(sweep.Args(**vars(sweep.build_parser().parse_args(check))), check)
        except ValueError as e:
            p.error(str(e))
        if (rc := sweep.main(search)) != 0:
            print(f"sweep_results.py: error: the search ended with status {rc}", file=sys.stderr)
            return rc
        exp = Path(tmp) / "search"
        block = yaml.safe_load((exp / "best.yaml").read_text())
        (name, best), = block.items()
        fixed = [f"{k}={v}" for k, v in best.items()]
        compared = {}
        for label, sets in (("today's hyperparams.yaml", []), ("best of the sweep", fixed)):
            grid = ["--mode", "grid", "--scenarios", args.scenario, "--seeds", args.seeds, "--storage", tmp,
                    "--name", f"grid{len(compared)}", "--eval-episodes", str(args.eval_episodes),
                    *[a for s in sets for a in ("--set", s)], *common]
            if (rc := sweep.main(grid)) != 0:
                print(f"sweep_results.py: error: the {label} grid ended with status {rc}", file=sys.stderr)
                return rc
            compared[label] = _rows(Path(tmp) / f"grid{len(compared)}")
        md = Path(args.md)
        md.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(exp / "curves.png", md.with_name(md.stem + "_curves.png"))
        trials = (exp / "trials.md").read_text().split("\n", 2)[2]  # without its command line
        best_yaml = (exp / "best.yaml").read_text()

    lines = [f"Command: `{command}`", "",
             f"Search: {args.samples} Optuna trials on {name}, training seed 0, ASHA early stopping; "
             f"space {', '.join(f'`{s}`' for s in SPACE)}.", "", trials.strip(), "",
             "Best configuration (a block of agents/hyperparams.yaml):", "", "```yaml", best_yaml.strip(), "```", "",
             f"Against today's hyperparameters, training seeds {args.seeds} (not used by the search): best "
             f"validation profit (the same validation episodes) and that model's profit on the same "
             f"{args.eval_episodes} final episodes (env seeds 0..{args.eval_episodes - 1}); mean over seeds, "
             "±95% t interval across seeds.", "",
             "| hyperparameters | best validation profit | ±95% CI | final-table profit | ±95% CI | per seed (final) |",
             "|---|---:|---:|---:|---:|---|"]
    for label, rows in compared.items():
        v = np.array([float(r["best_validation_profit"]) for r in rows])
        e = np.array([float(r["eval_profit"]) for r in rows])
        lines.append(f"| {label} | {v.mean():,.2f} | {_ci(v):,.2f} | {e.mean():,.2f} | {_ci(e):,.2f} "
                     f"| {', '.join(f'{x:,.2f}' for x in e)} |")
    lines += ["", f"![validation profit per trial]({md.with_name(md.stem + '_curves.png').as_posix()})"]
    publish("\n".join(lines), md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
