"""Train PPO (or MaskablePPO) on a liqenv scenario and compare it with the analytic baselines.

    python train.py        # SingleStore-v0 with the defaults of agents/hyperparams.yaml (~3 min, 2 cores)
    python train.py --scenario liqenv/SingleStore-v0 --timesteps 300000 --seed 0 --n-envs 8 \\
        --algo ppo --out runs/single --eval-episodes 1000 --baselines sdp,pds,fp
    python train.py --scenario liqenv/Chain-v0 --algo maskable-ppo --out runs/chain \\
        --baselines practitioner,store_pds,craig_raman --set n_steps=120 --set cv=0.5
    python train.py --out runs/single --resume      # continue from the last checkpoint

Hyperparameters come from ``agents/hyperparams.yaml`` (a ``default`` block and
per-scenario overrides); ``--set key=value`` overrides a hyperparameter when
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
import json
import os
import random
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.config import ALGOS, HYPERPARAMS_PATH, Hyperparams, canonical_scenario, load_hyperparams
from agents.wrappers import VEC_BACKENDS, native_available

VALIDATION_SEED = 1_000_000
TRAIN_SEED_STRIDE = 10_000_000
#: Files and folders train.py writes into --out (the only ones --force removes).
OUTPUTS = ("model.zip", "results.json", "report.md", "learning_curve.png", "policy.png", "state.json",
           "checkpoints", "tb")


def arg(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field carrying its command-line help."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class Args:
    """Command-line arguments (``--n-envs`` for ``n_envs``); None means: from the hyperparameter file."""

    scenario: str = arg("liqenv/SingleStore-v0", "registered scenario id (the liqenv/ prefix is optional)")
    timesteps: int | None = arg(None, "environment steps to train (default: total_timesteps in the hyperparameter file)")
    seed: int = arg(0, "seed of torch, numpy and the training envs")
    n_envs: int | None = arg(None, "parallel env copies (default: n_envs in the hyperparameter file)")
    algo: str | None = arg(None, "ppo or maskable-ppo (default: algo in the hyperparameter file)", choices=ALGOS)
    out: str | None = arg(None, "output folder (default: runs/<scenario>-<algo>-s<seed>-<date-time>)")
    eval_episodes: int = arg(1000, "episodes of the final comparison table (env seeds eval_seed..)")
    eval_seed: int = arg(0, "env seed of the first episode of the final comparison")
    baselines: str = arg("sdp,pds,fp", "comma-separated baselines to compare with ('' for none)")
    set: list[str] = arg([], "KEY=VALUE: a hyperparameter, or else a scenario field (repeatable)")
    resume: bool = arg(False, "continue the run in --out from its last checkpoint")
    force: bool = arg(False, "overwrite the outputs of an existing --out")
    vec: str = arg("native" if native_available() else "dummy",
                   "env batch: native (liqenv.integrations.sb3.LiquidationVecEnv) or dummy (SB3 DummyVecEnv)",
                   choices=VEC_BACKENDS)
    hyperparams: str = arg(str(HYPERPARAMS_PATH), "hyperparameter file (RL Zoo style YAML)")
    workers: int = arg(1, "processes for the final evaluation")
    progress: bool = arg(True, "show progress bars")


class UsageError(ValueError):
    """Bad command-line input: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="train.py", description=__doc__.split("\n\n")[0])
    for f in dataclasses.fields(Args):
        flag = "--" + f.name.replace("_", "-")
        kw: dict[str, Any] = {"help": f.metadata["help"], "default": argparse.SUPPRESS, "dest": f.name}
        if "choices" in f.metadata:
            kw["choices"] = f.metadata["choices"]
        if f.type == "bool":  # a flag; --no-X for those on by default
            kw["action"] = argparse.BooleanOptionalAction if f.default else "store_true"
        elif f.name == "set":
            kw.update(action="append", metavar="KEY=VALUE")
        else:
            kw["type"] = int if "int" in str(f.type) else str
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


def prepare(args: Args, given: set[str]) -> tuple[Args, Hyperparams, dict[str, Any], Path, dict | None]:
    """Validate everything before anything is written: (args, hyperparameters, scenario overrides, out, saved state)."""
    from baselines.evaluation import make_env, parse_overrides

    if args.resume and args.force:
        raise UsageError("--resume and --force: choose one")
    saved = None
    if args.resume:
        if args.out is None:
            raise UsageError("--resume needs --out (the run to continue)")
        state_path = Path(args.out) / "state.json"
        if not state_path.is_file() or not _checkpoints(Path(args.out)):
            raise UsageError(f"--resume: {args.out!r} holds no checkpoint to resume from")
        saved = json.loads(state_path.read_text())
        old = Args(**saved["args"])
        for name in given - RESUMABLE:
            if getattr(args, name) != getattr(old, name):
                raise UsageError(f"--resume: --{name.replace('_', '-')} {getattr(args, name)!r} differs "
                                 f"from the run's {getattr(old, name)!r}")
        args = dataclasses.replace(old, **{k: getattr(args, k) for k in given & RESUMABLE})
    try:
        sid = canonical_scenario(args.scenario)
    except ValueError as e:
        raise UsageError(str(e)) from None
    for name in ("timesteps", "n_envs", "eval_episodes", "workers"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise UsageError(f"--{name.replace('_', '-')} {v}: must be a positive integer")
    if args.eval_seed < 0 or args.seed < 0:
        raise UsageError(f"--seed/--eval-seed: must be non-negative")
    if args.vec == "native" and not native_available():
        raise UsageError("--vec native: liqenv.integrations.sb3.LiquidationVecEnv is not importable; "
                         "use --vec dummy")
    try:
        sets = parse_overrides(args.set)
    except ValueError as e:
        raise UsageError(str(e)) from None
    hp_over = {k: v for k, v in sets.items() if k in Hyperparams.keys()}
    sc_over = {k: v for k, v in sets.items() if k not in hp_over}
    if args.timesteps is not None:
        hp_over["total_timesteps"] = args.timesteps
    if args.n_envs is not None:
        hp_over["n_envs"] = args.n_envs
    if args.algo is not None:
        hp_over["algo"] = args.algo
    try:
        hp = load_hyperparams(sid, hp_over, args.hyperparams)
        env = make_env(sid, sc_over)  # a bad scenario field fails here
    except ValueError as e:
        raise UsageError(str(e)) from None
    if env.unwrapped.action_layout.kind == "box" and hp.algo == "maskable-ppo":
        raise UsageError("--algo maskable-ppo: continuous pricing has no discrete choices to mask")
    if args.out is None:
        args = dataclasses.replace(args, out=os.path.join(
            "runs", f"{sid.split('/')[1]}-{hp.algo}-s{args.seed}-{time.strftime('%Y%m%d-%H%M%S')}"))
    out = Path(args.out)
    if out.exists() and not (args.resume or args.force):
        raise UsageError(f"--out {str(out)!r} exists: pass --resume to continue it or --force to overwrite")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file")
    return dataclasses.replace(args, scenario=sid), hp, sc_over, out, saved


def _checkpoints(out: Path) -> list[tuple[int, Path]]:
    ck = out / "checkpoints"
    found = []
    for p in ck.glob("step_*.zip") if ck.is_dir() else []:
        try:
            found.append((int(p.stem.split("_")[1]), p))
        except ValueError:
            continue
    return sorted(found)


# ---------------------------------------------------------------- the run
def main(argv: list[str] | None = None) -> int:
    try:
        args, given = parse_args(argv)
        args, hp, sc_over, out, saved = prepare(args, given)
    except UsageError as e:
        print(f"train.py: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    command = "python train.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))

    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.utils import set_random_seed

    from agents.config import algo_class, build_model, reward_scale_for
    from agents.policy import PPOPolicy
    from agents.report import plot_learning_curve, plot_policy, write_report
    from agents.wrappers import make_training_env
    from baselines.evaluation import evaluate, format_table, make_env, write_json

    # ---- outputs: --force removes only what train.py writes
    if args.force and out.exists():
        for name in OUTPUTS:
            p = out / name
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)

    # ---- seeding: python, numpy, torch; training copy i gets env seed train_seed + i
    done_steps = 0 if saved is None else _checkpoints(out)[-1][0]
    random.seed(args.seed + done_steps)
    np.random.seed(args.seed + done_steps)
    torch.manual_seed(args.seed + done_steps)
    set_random_seed(args.seed + done_steps)
    torch.set_num_threads(1)
    train_seed = TRAIN_SEED_STRIDE * (args.seed + 1) + done_steps

    env0 = make_env(args.scenario, sc_over)
    scale = reward_scale_for(hp, env0.unwrapped.scenario)
    venv = make_training_env(args.scenario, hp.n_envs, train_seed, scale, sc_over, args.vec)
    tb = str(out / "tb") if _has_tensorboard() else None
    baseline_names = [b.strip() for b in args.baselines.split(",") if b.strip()]
    state: dict[str, Any] = saved or {
        "args": dataclasses.asdict(args), "hyperparams": hp.to_dict(), "scenario_overrides": sc_over,
        "reward_scale": scale, "curve": [], "best": None, "validation_baselines": {}, "train_seconds": 0.0}
    state["args"] = dataclasses.asdict(args)
    state["curve"] = [c for c in state["curve"] if c["timesteps"] <= done_steps]

    if saved is None:
        model = build_model(hp, venv, seed=args.seed, tensorboard_log=tb)
    else:
        model = algo_class(hp.algo).load(_checkpoints(out)[-1][1], env=venv, device="cpu",
                                         tensorboard_log=tb)
        print(f"resuming {out} from step {done_steps:,}")

    def validate(label_policies: dict) -> dict:
        res = evaluate(args.scenario, label_policies, episodes=hp.eval_episodes, seed=VALIDATION_SEED,
                       overrides=sc_over, unknown="report")
        return res["results"]

    # Baselines on the validation episodes: the horizontal lines of the learning curve.
    missing = [b for b in baseline_names if b not in state["validation_baselines"]]
    if missing:
        state["validation_baselines"].update(
            {k: {kk: v[kk] for kk in ("mean", "ci95")} if "mean" in v else v
             for k, v in validate({b: b for b in missing}).items()})

    def save_state() -> None:
        (out / "state.json").write_text(json.dumps(state, indent=2, default=float) + "\n")

    class EvalCheckpoint(BaseCallback):
        """Every eval_freq steps: evaluate the current policy deterministically on the
        validation seeds (through baselines.evaluation), record the learning curve,
        keep the best model as model.zip, and checkpoint for --resume."""

        def __init__(self):
            super().__init__()
            self.t0 = time.perf_counter()

        def run_eval(self) -> None:
            n = self.model.num_timesteps
            r = validate({"ppo": lambda env: PPOPolicy(self.model, env)})["ppo"]
            state["curve"].append({"timesteps": int(n), "mean": r["mean"], "ci95": r["ci95"]})
            if state["best"] is None or r["mean"] > state["best"]["mean"]:
                state["best"] = {"timesteps": int(n), "mean": r["mean"]}
                self.model.save(out / "model.zip")
            if getattr(self.model, "_logger", None) is not None:
                self.logger.record("eval/profit", r["mean"])
            self.model.save(out / "checkpoints" / f"step_{n}.zip")
            for _, old in _checkpoints(out)[:-2]:  # keep the last two
                old.unlink()
            state["train_seconds"] += time.perf_counter() - self.t0
            self.t0 = time.perf_counter()
            save_state()

        def _on_step(self) -> bool:
            n = self.model.num_timesteps
            if n // hp.eval_freq > (n - self.training_env.num_envs) // hp.eval_freq:
                self.run_eval()
            return True

        def _on_training_end(self) -> None:
            if not state["curve"] or state["curve"][-1]["timesteps"] != self.model.num_timesteps:
                self.run_eval()

    callback = EvalCheckpoint()
    remaining = hp.total_timesteps - model.num_timesteps
    if remaining > 0:
        try:
            model.learn(remaining, callback=callback, progress_bar=args.progress,
                        reset_num_timesteps=saved is None, tb_log_name="ppo")
        except KeyboardInterrupt:
            n = model.num_timesteps
            model.save(out / "checkpoints" / f"step_{n}.zip")
            save_state()
            print(f"\ninterrupted at step {n:,}; continue with: python train.py --out {out} --resume",
                  file=sys.stderr)
            return 130
    elif not (out / "model.zip").exists():
        callback.init_callback(model)
        callback.run_eval()
    venv.close()

    # ---- final comparison on fresh episodes (env seeds eval_seed..), best model vs baselines
    policies: dict[str, Any] = {"ppo": lambda env: PPOPolicy(str(out / "model.zip"), env)}
    policies.update({b: b for b in baseline_names if b != "ppo"})
    results = evaluate(args.scenario, policies, episodes=args.eval_episodes, seed=args.eval_seed,
                       overrides=sc_over, workers=args.workers, progress=args.progress, unknown="report")
    table = format_table(results)
    last = args.eval_seed + args.eval_episodes - 1
    print(f"\n{args.scenario}: best model (step {state['best']['timesteps']:,} of "
          f"{model.num_timesteps:,}) vs baselines, {args.eval_episodes} episodes on env seeds "
          f"{args.eval_seed}..{last}\n")
    print(table)
    write_json(results, out / "results.json")

    # ---- figures and report
    title = f"{args.scenario} {_fmt_over(sc_over)}seed {args.seed}"
    plot_learning_curve(state["curve"], state["validation_baselines"], out / "learning_curve.png",
                        f"{title}: validation seeds {VALIDATION_SEED}..{VALIDATION_SEED + hp.eval_episodes - 1}")
    figures = ["learning_curve.png"]
    best = PPOPolicy(str(out / "model.zip"), env0)
    pol = {f"PPO (step {state['best']['timesteps']:,})": best.act}
    try:
        import baselines

        sdp = baselines.make("sdp", env0)
        pol["SDP"] = sdp.act
    except ValueError:
        pass
    if plot_policy(env0, pol, out / "policy.png",
                   f"{title}: price by state (last markdown and sales on the policy's own path)"):
        figures.append("policy.png")
    over = "".join(f" --set {k}={shlex.quote(json.dumps(v))}" for k, v in sc_over.items())
    spec = ",".join(["ppo=" + str(out / "model.zip")] + [b for b in baseline_names if b != "ppo"])
    notes = [
        f"Seed {args.seed}; trained {model.num_timesteps:,} steps ({hp.algo}, {args.vec} env batch) in "
        f"{state['train_seconds']:.0f} s; model.zip is the best of {len(state['curve'])} evaluations on "
        f"validation env seeds {VALIDATION_SEED}..{VALIDATION_SEED + hp.eval_episodes - 1} "
        f"(step {state['best']['timesteps']:,}).",
        f"Table: {args.eval_episodes} episodes on env seeds {args.eval_seed}..{last}, the same for every "
        f"policy (common random numbers); ±95% CI is the t half-width over episodes.",
        f"Reproduce the table: `python evaluate.py --scenario {args.scenario} --policies {spec} "
        f"--episodes {args.eval_episodes} --seed {args.eval_seed}{over}`",
        f"Rewards were divided by {scale:g} (reward_scale={hp.reward_scale!r}) for learning only.",
    ]
    if "policy.png" in figures:
        notes.append("policy.png: the price posted by units on hand and periods left, last period's markdown "
                     "and sales set on the policy's own path; states far from the path actually followed "
                     "(many units late) are rarely visited in training, so PPO's prices there are "
                     "extrapolations (and, being rarely reached, weigh little in the mean profit).")
    settings = {"scenario": args.scenario, "scenario overrides": sc_over, **hp.to_dict(),
                "seed": args.seed, "training env seeds": f"{train_seed}..{train_seed + hp.n_envs - 1}",
                "vec": args.vec, "torch threads": 1}
    write_report(out / "report.md", scenario=args.scenario, table=table, command=command,
                 settings=settings, notes=notes, figures=figures)
    print(f"\nwrote {out}/: model.zip, results.json, report.md, " + ", ".join(figures))
    return 0


def _fmt_over(over: dict) -> str:
    return "".join(f"{k}={v} " for k, v in over.items())


def _has_tensorboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


if __name__ == "__main__":
    sys.exit(main())
