"""Train PPO (or MaskablePPO) on a liqenv scenario and compare it with the analytic baselines.

    python train.py        # SingleStore-v0 with the defaults of agents/hyperparams.yaml (~3 min, 2 cores)
    python train.py --scenario liqenv/SingleStore-v0 --timesteps 300000 --seed 0 --n-envs 8 \\
        --algo ppo --out runs/single --eval-episodes 1000 --baselines sdp,pds,fp
    python train.py --scenario liqenv/Chain-v1 --algo maskable-ppo --out runs/chain \\
        --baselines practitioner,store_pds,craig_raman --set n_steps=120 --set cv=0.5
    python train.py --out runs/single --resume      # continue from the last checkpoint
    python train.py --scenario my_store.yaml --algo ppo   # a scenario file (Scenario.save)

The scenario is a registered id or a YAML/JSON file, read by
``liqenv.resolve_scenario`` as in every entry point.  Hyperparameters come
from ``agents/hyperparams.yaml`` (a ``default`` block and per-scenario
overrides; a scenario file takes ``default``); ``--set key=value`` overrides a hyperparameter when
``key`` is one (``--set ent_coef=0.01``) and a scenario field otherwise
(``--set inventory=10``, as in ``evaluate.py``); values are read as YAML.

Rewards are divided by the scenario's initial units times list price before
PPO sees them (``reward_scale: auto``), so one set of defaults learns from a
100-unit store to a 40-store chain; every number reported is in money units.

Seeds.  The training copies are seeded ``10_000_000 * (seed + 1) + i``; the
policy is evaluated during training (learning curve, choice of the best
model) on validation env seeds ``1_000_000 ..``; the final table uses env
seeds ``eval_seed .. eval_seed + eval_episodes - 1`` (default 0..999, as
``evaluate.py``), which neither training nor model selection touched.  Every
policy plays the same episodes (common random numbers), so the table is
reproduced by ``python evaluate.py --policies ppo=OUT/model.zip,...``.

Writes into ``--out``: ``model.zip`` (best on validation), ``results.json``
(the schema of ``evaluate.py --json``), ``report.md``, ``learning_curve.png``,
``policy.png`` (single-store scenarios), ``state.json`` (learning curve and
run settings), ``checkpoints/`` and, when tensorboard is installed, ``tb/``.
Bad input prints one line and exits with status 2, writing nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.config import ALGOS, HYPERPARAMS_PATH, Hyperparams, load_hyperparams
from agents.job import TrainSpec, check_checkpoint, checkpoints, read_state, run_training
from agents.wrappers import VEC_BACKENDS, native_available
from liqenv import cli
from liqenv.cli import Parser, UsageError, one_line, output_file
from liqenv.resolve import canonical_scenario, resolve_scenario, short_name


#: Largest --n-envs and --workers (a batch of a million copies, or a thousand processes, is a typo).
MAX_ENVS, MAX_WORKERS = 2**16, 1024


def arg(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field carrying its command-line help."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class Args:
    """Command-line arguments (``--n-envs`` for ``n_envs``); None means: from the hyperparameter file."""

    scenario: str = arg("liqenv/SingleStore-v0",
                        "registered scenario id (the liqenv/ prefix is optional) or a YAML/JSON scenario file")
    timesteps: int | None = arg(None, "environment steps to train (default: total_timesteps in the hyperparameter file)",
                                type=cli.count())
    seed: int = arg(0, "seed of torch, numpy and the training envs", type=cli.seed)
    n_envs: int | None = arg(None, "parallel env copies (default: n_envs in the hyperparameter file)",
                             type=cli.count(1, MAX_ENVS))
    algo: str | None = arg(None, "ppo or maskable-ppo (default: algo in the hyperparameter file)", choices=ALGOS)
    out: str | None = arg(None, "output folder (default: runs/<scenario>-<algo>-s<seed>-<date-time>)")
    eval_episodes: int = arg(1000, "episodes of the final comparison table (env seeds eval_seed..)", type=cli.count())
    eval_seed: int = arg(0, "env seed of the first episode of the final comparison", type=cli.seed)
    baselines: str = arg("sdp,pds,fp", "comma-separated baselines to compare with ('' for none)")
    set: list[str] = arg([], "KEY=VALUE: a hyperparameter, or else a scenario field (repeatable)")
    resume: bool = arg(False, "continue the run in --out from its last checkpoint")
    force: bool = arg(False, "overwrite the outputs of an existing --out")
    vec: str = arg("native" if native_available() else "dummy",
                   "env batch: native (liqenv.integrations.sb3.LiquidationVecEnv) or dummy (SB3 DummyVecEnv)",
                   choices=VEC_BACKENDS)
    hyperparams: str = arg(str(HYPERPARAMS_PATH), "hyperparameter file (RL Zoo style YAML)")
    workers: int = arg(1, "processes for the final evaluation", type=cli.count(1, MAX_WORKERS))
    progress: bool = arg(True, "show progress bars")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="train.py", description=__doc__.split("\n\n")[0])
    for f in dataclasses.fields(Args):
        flag = "--" + f.name.replace("_", "-")
        kw: dict[str, Any] = {"help": f.metadata["help"], "default": argparse.SUPPRESS, "dest": f.name}
        for key in ("choices", "type"):
            if key in f.metadata:
                kw[key] = f.metadata[key]
        if f.type == "bool":  # a flag; --no-X for those on by default
            kw["action"] = argparse.BooleanOptionalAction if f.default else "store_true"
        elif f.name == "set":
            kw.update(action="append", metavar="KEY=VALUE")
        else:
            kw.setdefault("type", str)
        p.add_argument(flag, **kw)
    return p


def parse_args(argv: list[str] | None = None) -> tuple[Args, set[str]]:
    """The arguments and the names given explicitly on the command line."""
    ns = vars(build_parser().parse_args(argv))
    return Args(**ns), set(ns)


# ---------------------------------------------------------------- validation
#: Settings a --resume may change; the others must match the saved run.
RESUMABLE = {"timesteps", "eval_episodes", "eval_seed", "baselines", "workers", "progress", "out", "resume",
             "force", "vec"}


def make_spec(args: Args, given: set[str], argv: list[str] | None = None) -> TrainSpec:
    """Validate everything before anything is written; the run to do (UsageError otherwise).

    ``given``: the names set on the command line (``--resume`` keeps the saved
    run's other settings and refuses different ones, except ``RESUMABLE``).
    """
    from baselines.evaluation import make_env, parse_overrides

    if args.resume and args.force:
        raise UsageError("--resume and --force: choose one")
    resume_from = None
    if args.resume:
        args, resume_from = _resumed(args, given)
    if args.vec == "native" and not native_available():
        raise UsageError("--vec native: liqenv.integrations.sb3.LiquidationVecEnv is not importable; "
                         "use --vec dummy")
    try:
        sets = parse_overrides(args.set)
    except ValueError as e:
        raise UsageError(str(e)) from None
    hp_over = {k: v for k, v in sets.items() if k in Hyperparams.keys()}
    sc_over = {k: v for k, v in sets.items() if k not in hp_over}
    for name, key in (("timesteps", "total_timesteps"), ("n_envs", "n_envs"), ("algo", "algo")):
        if getattr(args, name) is not None:
            hp_over[key] = getattr(args, name)
    try:
        sid, _ = resolve_scenario(args.scenario, **sc_over)  # a bad id, file or scenario field fails here
        hp = load_hyperparams(sid, hp_over, args.hyperparams)
        env = make_env(sid, sc_over)
        if hp.warm_start is not None:
            from agents.imitation import check_warm_start

            check_warm_start(hp.warm_start)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    if env.unwrapped.action_layout.kind == "box" and hp.algo == "maskable-ppo":
        raise UsageError("--algo maskable-ppo: continuous pricing has no discrete choices to mask")
    if args.out is None:
        args = dataclasses.replace(args, out=os.path.join(
            "runs", f"{short_name(sid)}-{hp.algo}-s{args.seed}-{time.strftime('%Y%m%d-%H%M%S')}"))
    out = Path(args.out)
    if out.exists() and not (args.resume or args.force):
        raise UsageError(f"--out {str(out)!r} exists: pass --resume to continue it or --force to overwrite")
    output_file("--out", out, folder=True)
    args = dataclasses.replace(args, scenario=sid)
    command = "python train.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    return TrainSpec(scenario=sid, out=out, hyperparams=hp, overrides=sc_over, seed=args.seed,
                     eval_episodes=args.eval_episodes, eval_seed=args.eval_seed,
                     baselines=tuple(b.strip() for b in args.baselines.split(",") if b.strip()),
                     vec=args.vec, workers=args.workers, progress=args.progress, force=args.force,
                     resume_from=resume_from, command=command, record=dataclasses.asdict(args))


def _resumed(args: Args, given: set[str]) -> tuple[Args, Path]:
    """The saved run's arguments updated with the RESUMABLE ones given, and its last checkpoint."""
    if args.out is None:
        raise UsageError("--resume needs --out (the run to continue)")
    found = checkpoints(args.out)
    if not (Path(args.out) / "state.json").is_file() or not found:
        raise UsageError(f"--resume: {args.out!r} holds no checkpoint to resume from")
    try:
        saved = read_state(args.out).args
        old = Args(**{f.name: saved[f.name] for f in dataclasses.fields(Args) if f.name in saved})
        check_checkpoint(found[-1][1])
    except (ValueError, TypeError) as e:
        raise UsageError(f"--resume: {one_line(e)}") from None
    if "scenario" in given:  # compared in one spelling (liqenv/<id> or the file's absolute path)
        try:
            args = dataclasses.replace(args, scenario=canonical_scenario(args.scenario))
        except ValueError as e:
            raise UsageError(str(e)) from None
    for name in given - RESUMABLE:
        if getattr(args, name) != getattr(old, name):
            raise UsageError(f"--resume: --{name.replace('_', '-')} {getattr(args, name)!r} differs "
                             f"from the run's {getattr(old, name)!r}")
    return dataclasses.replace(old, **{k: getattr(args, k) for k in given & RESUMABLE}), found[-1][1]


# ---------------------------------------------------------------- the run
def main(argv: list[str] | None = None) -> int:
    # setup: every input checked before anything is written
    try:
        args, given = parse_args(argv)
        spec = make_spec(args, given, argv)
    except SystemExit as e:  # argparse: --help, or a bad flag (one line printed)
        return e.code
    except UsageError as e:
        print(f"train.py: error: {one_line(e)}", file=sys.stderr)
        return 2
    # learn, final evaluation, report (agents.job: the one training loop)
    try:
        result = run_training(spec)
    except KeyboardInterrupt:  # Ctrl-C outside learning (set-up, final evaluation, report)
        result = None
    if result is None or result.interrupted:
        at = f" at step {result.steps:,}" if result is not None else ""
        hint = (f"continue with: python train.py --out {shlex.quote(str(spec.out))} --resume"
                if checkpoints(spec.out) else "no checkpoint yet: start again")
        print(f"\ninterrupted{at}; {hint}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
