"""Hyperparameter sweeps and multi-seed grids of the training job on Ray Tune.

    python sweep.py --scenarios SingleStore-v0 --samples 16 --timesteps 100000 \\
        --space learning_rate=loguniform:1e-4:1e-2 --space n_steps=64,128,256 --space ent_coef=uniform:0:0.01
    python sweep.py --mode grid --scenarios SingleStore-v0,Weekend-v0 --seeds 0,1,2 --space learning_rate=0.001,0.002
    python sweep.py --address auto ...                  # join a running cluster (ray start --head)
    python sweep.py --storage runs/sweeps --name NAME --resume   # continue an interrupted sweep

Every trial is one call of the training job of ``train.py``
(:func:`agents.job.run_training`, through :mod:`agents.sweep`), with the
hyperparameters of ``agents/hyperparams.yaml`` changed by ``--set`` (fixed)
and ``--space`` (varied).  A ``--space`` entry is ``KEY=a,b,c`` (values read
as YAML: a choice in a search, a grid axis in a grid) or, in a search,
``KEY=uniform:LO:HI``, ``loguniform:LO:HI``, ``int:LO:HI`` or
``logint:LO:HI`` (bounds included).

``--mode search`` (one scenario, one seed): Optuna (``OptunaSearch``) picks
``--samples`` configurations to maximise the best validation profit (the
validations training already runs: env seeds ``1_000_000 ..``), and ASHA
stops the weak ones after ``--grace`` validations.  ``--mode grid``: every
scenario x seed x value combination, run to the end (the multi-seed tables).

Ray: by default a local Ray started in this process with ``--num-cpus``
(default: the machine's cores); ``--address auto`` (or ``host:6379``,
``ray://host:10001``) joins a running cluster, whose nodes must have this
project installed (``pip install -e ".[ray]"``) and see ``--storage``.  One
trial per ``--cpus-per-trial`` CPUs, torch threads pinned to them.  A trial
whose worker dies restarts from its last checkpoint (``--max-failures``
times); ``--resume`` restores an interrupted sweep without rerunning its
finished trials.

Writes into ``--storage/--name``: Tune's trial folders (each finished
trial's checkpoint holds its run folder: model.zip, results.json,
report.md, learning_curve.png), ``trials.md`` and ``trials.csv`` (config,
best validation profit, steps, seconds, node), ``best.yaml`` (the best
configuration per scenario, as a block of ``agents/hyperparams.yaml``; in a
grid, the best mean over seeds) and ``curves.png`` (validation profit
against steps, one line per trial).  Bad input prints one line and exits 2;
a sweep that ends with failed trials exits 1 (``--resume`` retries them).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import train
from agents.config import HYPERPARAMS_PATH, Hyperparams, canonical_scenario
# the command-line conventions of every script
from liqenv.cli import MAX_COUNT, MAX_SEED, Parser as _Parser, UsageError, output_file
from train import arg


MODES = ("search", "grid")
DISTRIBUTIONS = ("uniform", "loguniform", "int", "logint")


@dataclass
class Args:
    """Command-line arguments (``--num-cpus`` for ``num_cpus``)."""

    scenarios: str = arg("liqenv/SingleStore-v0", "comma-separated scenario ids (search: exactly one)")
    seeds: str = arg("0", "comma-separated training seeds (search: exactly one)")
    mode: str = arg("search", "search (Optuna + ASHA) or grid (every combination)", choices=MODES)
    space: list[str] = arg([], "KEY=a,b,c or KEY=DIST:LO:HI, DIST one of " + ", ".join(DISTRIBUTIONS)
                           + " (repeatable)")
    samples: int = arg(16, "search: trials to run")
    timesteps: int | None = arg(None, "training steps per trial (default: the hyperparameter file)")
    set: list[str] = arg([], "KEY=VALUE: a fixed hyperparameter, or else a scenario field (repeatable)")
    grace: int = arg(2, "search: validations before ASHA may stop a trial")
    reduction: int = arg(3, "search: ASHA's reduction factor (keeps 1/reduction at each rung)")
    address: str | None = arg(None, "join a Ray cluster (auto, host:port, ray://host:port); default: a local Ray")
    num_cpus: int | None = arg(None, "local Ray: CPUs to use (default: the machine's cores)")
    cpus_per_trial: int = arg(1, "CPUs (and torch threads) per trial")
    storage: str = arg("runs/sweeps", "results folder (on a cluster: one that every node sees)")
    name: str | None = arg(None, "sweep name, a folder under --storage (default: <scenario>-<mode>-<date-time>)")
    resume: bool = arg(False, "restore the sweep --storage/--name and finish it")
    max_failures: int = arg(2, "restarts of a failed trial from its last checkpoint")
    eval_episodes: int = arg(100, "episodes of each trial's final table (env seeds 0..)")
    baselines: str = arg("", "baselines of each trial's validation curve and final table ('' for none)")
    hyperparams: str = arg(str(HYPERPARAMS_PATH), "hyperparameter file (RL Zoo style YAML)")
    search_seed: int = arg(0, "seed of the Optuna sampler")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="sweep.py", description=__doc__.split("\n\n")[0])
    for f in dataclasses.fields(Args):
        kw: dict[str, Any] = {"help": f.metadata["help"], "default": argparse.SUPPRESS, "dest": f.name}
        if "choices" in f.metadata:
            kw["choices"] = f.metadata["choices"]
        if f.type == "bool":
            kw["action"] = "store_true"
        elif f.name in ("set", "space"):
            kw.update(action="append", metavar="KEY=VALUE")
        else:
            kw["type"] = int if "int" in str(f.type) else str
        p.add_argument("--" + f.name.replace("_", "-"), **kw)
    return p


# ---------------------------------------------------------------- validation
@dataclass(frozen=True)
class Dimension:
    """One ``--space`` entry: a list of values, or a distribution with its bounds."""

    key: str
    values: tuple = ()
    dist: str | None = None
    lo: float = 0.0
    hi: float = 0.0

    def tune(self, mode: str):
        from ray import tune

        if self.dist is None:
            return tune.grid_search(list(self.values)) if mode == "grid" else tune.choice(list(self.values))
        return {"uniform": lambda: tune.uniform(self.lo, self.hi),
                "loguniform": lambda: tune.loguniform(self.lo, self.hi),
                "int": lambda: tune.randint(int(self.lo), int(self.hi) + 1),
                "logint": lambda: tune.lograndint(int(self.lo), int(self.hi) + 1)}[self.dist]()

    def examples(self) -> tuple:
        """Values every trial's could take at the edges: checked before anything runs."""
        if self.dist is None:
            return self.values
        return (int(self.lo), int(self.hi)) if self.dist in ("int", "logint") else (self.lo, self.hi)


def parse_space(items: list[str], mode: str) -> list[Dimension]:
    """The ``--space`` entries (UsageError naming the entry)."""
    import yaml

    dims = []
    keys = Hyperparams.keys()
    for item in items:
        key, sep, spec = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--space {item!r}: expected KEY=a,b,c or KEY=DIST:LO:HI")
        if key not in keys:
            raise UsageError(f"--space {key}: not a hyperparameter (one of {', '.join(keys)})")
        if key in (d.key for d in dims):
            raise UsageError(f"--space {key}: given twice")
        dist, colon, bounds = spec.partition(":")
        if colon and dist in DISTRIBUTIONS:
            if mode == "grid":
                raise UsageError(f"--space {item!r}: a grid takes lists of values (KEY=a,b,c)")
            try:
                lo, hi = (float(b) for b in bounds.split(":"))
            except ValueError:
                raise UsageError(f"--space {item!r}: expected {dist}:LO:HI with numbers") from None
            if not lo < hi or (dist.startswith("log") and lo <= 0):
                raise UsageError(f"--space {item!r}: needs LO < HI{' and LO > 0' if dist.startswith('log') else ''}")
            dims.append(Dimension(key, dist=dist, lo=lo, hi=hi))
            continue
        try:
            values = tuple(yaml.safe_load(v) for v in spec.split(",") if v.strip())
        except yaml.YAMLError:
            raise UsageError(f"--space {item!r}: values are not YAML") from None
        if not values:
            raise UsageError(f"--space {key}: empty (no values)")
        dims.append(Dimension(key, values=tuple(dict.fromkeys(values))))
    return dims


def make_plan(args: Args, argv: list[str] | None = None) -> dict:
    """Everything checked before Ray starts: templates per scenario, the space, the Tune settings."""
    from agents.sweep import SpecTable

    for name in ("samples", "grace", "reduction", "cpus_per_trial", "eval_episodes", "timesteps", "num_cpus"):
        v = getattr(args, name)
        hi = 1024 if name in ("num_cpus", "cpus_per_trial") else MAX_COUNT  # a huge count never finishes
        if v is not None and not 1 <= v <= hi:
            raise UsageError(f"--{name.replace('_', '-')} {v}: must be a positive integer (at most {hi:,})")
    if args.reduction < 2:
        raise UsageError(f"--reduction {args.reduction}: must be at least 2")
    if not 0 <= args.max_failures <= 1024:
        raise UsageError(f"--max-failures {args.max_failures}: must be an integer in [0, 1,024]")
    if not 0 <= args.search_seed <= MAX_SEED:
        raise UsageError(f"--search-seed {args.search_seed}: must be an integer in [0, {MAX_SEED:,}]")
    if args.address is not None and args.num_cpus is not None:
        raise UsageError("--num-cpus sizes a local Ray; with --address the cluster's CPUs are used")
    sids = []
    for s in args.scenarios.split(","):
        try:
            sids.append(canonical_scenario(s.strip()))
        except ValueError as e:
            raise UsageError(str(e)) from None
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--seeds {args.seeds!r}: expected comma-separated integers") from None
    if not seeds or any(not 0 <= s <= MAX_SEED for s in seeds):
        raise UsageError(f"--seeds {args.seeds!r}: need non-negative integers")
    dims = parse_space(args.space, args.mode)
    if args.mode == "search":
        if not dims:
            raise UsageError("--space: empty search space (give at least one KEY=...)")
        if len(sids) != 1 or len(seeds) != 1:
            raise UsageError("--mode search: one scenario and one seed (use --mode grid for several)")
    name = args.name or f"{sids[0].split('/')[-1]}-{args.mode}-{time.strftime('%Y%m%d-%H%M%S')}"
    if "/" in name or name in ("", ".", ".."):
        raise UsageError(f"--name {name!r}: must be a folder name")
    output_file("--storage", args.storage, folder=True)
    exp = Path(args.storage).resolve() / name
    command = "python sweep.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    templates = {}
    for sid in sids:
        targv = ["--scenario", sid, "--seed", str(seeds[0]), "--out", str(exp / "template"), "--no-progress",
                 "--eval-episodes", str(args.eval_episodes), "--baselines", args.baselines,
                 "--hyperparams", args.hyperparams] + [a for s in args.set for a in ("--set", s)]
        if args.timesteps is not None:
            targv += ["--timesteps", str(args.timesteps)]
        t = train.make_spec(*train.parse_args(targv), targv)  # raises UsageError (train.py's checks)
        import baselines  # the registry of the analytic policies (an unknown one would fail inside a trial)

        unknown = [b for b in t.baselines if b not in baselines.available()]
        if unknown:
            raise UsageError(f"--baselines {args.baselines!r}: unknown {', '.join(unknown)} "
                             f"(one of {', '.join(baselines.available())})")
        for d in dims:  # each value (or bound) must make valid hyperparameters with the fixed ones
            for v in d.examples():
                try:
                    dataclasses.replace(t.hyperparams, **{d.key: v})
                except (ValueError, TypeError) as e:
                    raise UsageError(f"--space {d.key}: {' '.join(str(e).split())}") from None
        templates[sid] = dataclasses.replace(t, command=command, record=None)
    return {"sids": sids, "seeds": seeds, "dims": dims, "exp": exp, "name": name, "command": command,
            "spec_of": SpecTable(templates, tuple(d.key for d in dims)),
            "timesteps": max(t.hyperparams.total_timesteps for t in templates.values()),
            "eval_freq": min(t.hyperparams.eval_freq for t in templates.values())}


# ---------------------------------------------------------------- the sweep
def build_tuner(args: Args, plan: dict):
    """The ``tune.Tuner`` of a new sweep."""
    from ray import tune

    from agents.sweep import METRIC, trainable, tune_config

    many = (lambda xs: tune.grid_search(xs)) if args.mode == "grid" else (lambda xs: xs[0])
    space = {"scenario": many(plan["sids"]), "seed": many(plan["seeds"]),
             **{d.key: d.tune(args.mode) for d in plan["dims"]}}
    if args.mode == "search":
        from ray.tune.schedulers import ASHAScheduler
        from ray.tune.search.optuna import OptunaSearch  # imports optuna: not for a grid

        # max_t beyond the budget: a trial that trains to its end finishes its final evaluation
        # instead of being stopped at the last rung (a grace past the budget stops nothing)
        max_t = 2 * plan["timesteps"]
        settings = tune_config(
            metric=METRIC, mode="max", num_samples=args.samples,
            search_alg=OptunaSearch(seed=args.search_seed),
            scheduler=ASHAScheduler(time_attr="steps", max_t=max_t,
                                    grace_period=min(args.grace * plan["eval_freq"], max_t),
                                    reduction_factor=args.reduction))
    else:
        settings = tune_config(num_samples=1)
    return tune.Tuner(trainable(plan["spec_of"], args.cpus_per_trial), param_space=space,
                      tune_config=settings, run_config=run_config(args, plan["exp"]))


def run_config(args: Args, exp: Path):
    from ray import tune

    return tune.RunConfig(name=exp.name, storage_path=str(exp.parent), verbose=1,
                          failure_config=tune.FailureConfig(max_failures=args.max_failures),
                          checkpoint_config=tune.CheckpointConfig(num_to_keep=2))


def _saved_args(exp: Path) -> Args:
    """The arguments a sweep was started with (``sweep.json``), for ``--resume``."""
    try:
        saved = json.loads((exp / "sweep.json").read_text())["args"]
        return Args(**{f.name: saved[f.name] for f in dataclasses.fields(Args) if f.name in saved})
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"--resume: {exp} is not a sweep of sweep.py ({type(e).__name__})") from None


# ---------------------------------------------------------------- outputs
def trial_rows(grid, dims: list) -> list[dict]:
    """One row per trial: its config, best validation profit, steps, seconds, node and status."""
    rows = []
    for r in grid:
        m = r.metrics or {}
        status = "error" if r.error is not None else ("finished" if m.get("final") else "stopped early")
        rows.append({"trial": m.get("trial_id", Path(r.path).name), "scenario": r.config["scenario"],
                     "seed": r.config["seed"], **{d.key: r.config.get(d.key) for d in dims},
                     "best_validation_profit": m.get("best_validation_profit"), "steps": m.get("steps"),
                     "seconds": m.get("seconds"), "eval_profit": m.get("eval_profit"),
                     "node_id": m.get("node_id"), "resumed_from_step": m.get("resumed_from_step"),
                     "status": status, "path": r.path})
    return rows


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) >= 1 or v == 0 else f"{v:.3g}"
    return "" if v is None else str(v)


def write_outputs(exp: Path, grid, dims: list, command: str) -> dict:
    """``trials.md``, ``trials.csv``, ``best.yaml`` and ``curves.png`` in ``exp``; the best configs."""
    rows = sorted(trial_rows(grid, dims), key=lambda r: -(r["best_validation_profit"] or -math.inf))
    cols = ["trial", "scenario", "seed", *(d.key for d in dims), "best_validation_profit", "steps",
            "seconds", "eval_profit", "status"]
    with open(exp / "trials.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[*cols, "node_id", "resumed_from_step", "path"])
        w.writeheader()
        w.writerows(rows)
    lines = [f"Command: `{command}`", "",
             "best_validation_profit: the best validation so far (the model a run keeps), mean profit over the "
             "validation env seeds 1,000,000..; eval_profit: that model on the trial's final table "
             "(env seeds 0..); seconds: training with validations.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r[c]) for c in cols) + " |" for r in rows]
    (exp / "trials.md").write_text("\n".join(lines) + "\n")

    best = best_configs(rows, dims)
    (exp / "best.yaml").write_text(best_yaml(best, dims))
    plot_curves(grid, exp / "curves.png")
    return best


def best_configs(rows: list[dict], dims: list) -> dict:
    """Per scenario: the configuration with the highest mean best-validation profit over its seeds."""
    groups: dict = {}
    for r in rows:
        if r["best_validation_profit"] is not None and r["status"] != "error":
            key = (r["scenario"], tuple((d.key, r[d.key]) for d in dims))
            groups.setdefault(key, []).append(r["best_validation_profit"])
    best: dict = {}
    for (sid, config), profits in groups.items():
        mean = sum(profits) / len(profits)
        if sid not in best or mean > best[sid]["profit"]:
            best[sid] = {"config": dict(config), "profit": mean, "seeds": len(profits)}
    return best


def best_yaml(best: dict, dims: list) -> str:
    """The best configurations as blocks of ``agents/hyperparams.yaml``."""
    import yaml

    out = ["# best configurations of the sweep (paste into agents/hyperparams.yaml)"]
    for sid, b in best.items():
        out.append(f"# {sid}: best validation profit {b['profit']:,.3f} (mean over {b['seeds']} seed(s))")
        config = {k: (v.item() if hasattr(v, "item") else v) for k, v in b["config"].items()}
        out.append(yaml.safe_dump({sid.split("/")[-1]: config}, sort_keys=False).rstrip())
    return "\n".join(out) + "\n"


def plot_curves(grid, path: Path) -> None:
    """Validation profit against steps, one line per trial."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for r in grid:
        df = r.metrics_dataframe
        if df is None or "validation_profit" not in df:
            continue
        df = df[~df["final"].astype(bool)] if "final" in df else df
        ax.plot(df["steps"], df["validation_profit"], marker=".", lw=1,
                label=f"{Path(r.path).name.split('_')[1] if '_' in Path(r.path).name else r.path}")
    ax.set_xlabel("training steps")
    ax.set_ylabel("validation profit (mean over validation episodes)")
    ax.set_title("validation profit per trial")
    if len(grid) <= 20:
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    # every input checked before Ray starts or anything is written
    try:
        ns = vars(build_parser().parse_args(argv))
        args = Args(**ns)
        if args.resume:
            if args.name is None:
                raise UsageError("--resume needs --name (the sweep under --storage to restore)")
            exp = Path(args.storage).resolve() / args.name
            # the sweep's own settings, but where it is and which Ray runs it as given now
            now = ("address", "num_cpus", "resume", "storage", "name")
            args = dataclasses.replace(_saved_args(exp), **{k: getattr(args, k) for k in now})
        plan = make_plan(args, argv)
        from ray import tune

        if args.resume and not tune.Tuner.can_restore(str(plan["exp"])):
            raise UsageError(f"--resume: {plan['exp']} holds no Tune experiment to restore")
        if not args.resume and plan["exp"].exists():
            raise UsageError(f"--name {plan['name']!r}: {plan['exp']} exists (pass --resume to continue it)")
        from agents.sweep import init_ray, trainable

        resources = init_ray(args.address, args.num_cpus)
    except (UsageError, ValueError) as e:
        print(f"sweep.py: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2

    import ray

    exp = plan["exp"]
    try:
        print(f"Ray: {int(resources.get('CPU', 0))} CPUs on {len(ray.nodes())} node(s); sweep in {exp}",
              flush=True)
        if args.resume:
            tuner = tune.Tuner.restore(str(exp), trainable(plan["spec_of"], args.cpus_per_trial),
                                       resume_errored=True)
        else:
            tuner = build_tuner(args, plan)
            exp.mkdir(parents=True, exist_ok=True)
            (exp / "sweep.json").write_text(json.dumps({"command": plan["command"],
                                                        "args": dataclasses.asdict(args)}, indent=2) + "\n")
        grid = tuner.fit()
        best = write_outputs(exp, grid, plan["dims"], plan["command"])
    finally:
        ray.shutdown()  # this process's Ray (a cluster joined with --address keeps running)
    errors = sum(r.error is not None for r in grid)
    for sid, b in best.items():
        print(f"{sid}: best {b['config']} (validation profit {b['profit']:,.3f})")
    print(f"wrote {exp}/: trials.md, trials.csv, best.yaml, curves.png" +
          (f"; {errors} trial(s) failed: --resume retries them" if errors else ""))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
