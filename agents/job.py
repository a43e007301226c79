"""One training run: scenario, hyperparameters and seed in, a run folder out.

:func:`run_training` is the one training loop of the project: ``train.py``
calls it for one run, ``benchmarks/ppo_results.py`` for each seed of its
tables, and a scheduler (a Ray Tune trainable) can call it per trial::

    from agents.config import load_hyperparams
    from agents.job import TrainSpec, run_training

    spec = TrainSpec(scenario="liqenv/SingleStore-v0", out="runs/x",
                     hyperparams=load_hyperparams("SingleStore-v0"), seed=0)
    result = run_training(spec, report=lambda profit, steps, ckpt: print(steps, profit))

The run folder holds ``model.zip`` (best on validation), ``results.json``
(the schema of ``evaluate.py --json``), ``report.md``,
``learning_curve.png``, ``policy.png`` (single-store scenarios),
``state.json`` (learning curve and settings) and ``checkpoints/`` (the last
two ``step_<n>.zip``).  The steps, in order: :func:`setup` (folders, seeds,
envs, model, validation baselines), :func:`learn` (PPO with a validation
every ``eval_freq`` steps), :func:`final_evaluation` (the best model against
the baselines on fresh episodes) and :func:`write_outputs` (figures, report).

Seeds.  The training copies are seeded ``10_000_000 * (seed + 1) + i``
(plus the steps already done, on resume); validations use env seeds
``1_000_000 ..``; the final table uses ``eval_seed .. eval_seed +
eval_episodes - 1``, which neither training nor model selection touched.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .config import Hyperparams

__all__ = ["TrainSpec", "RunResult", "RunState", "run_training", "checkpoints", "check_checkpoint", "read_state",
           "VALIDATION_SEED", "TRAIN_SEED_STRIDE", "OUTPUTS"]

VALIDATION_SEED = 1_000_000
TRAIN_SEED_STRIDE = 10_000_000
#: Files and folders a run writes into its folder (the only ones ``force`` removes).
OUTPUTS = ("model.zip", "results.json", "report.md", "learning_curve.png", "policy.png", "state.json",
           "checkpoints", "tb", "warm_start.zip")
#: ``report(validation_profit, steps, checkpoint_path)``, called after each validation.
Report = Callable[[float, int, Path], None]


@dataclass(frozen=True)
class TrainSpec:
    """Everything one training run depends on (validated by the caller: ``train.prepare``).

    Attributes:
        scenario: canonical scenario (``liqenv.resolve_scenario``): a
            ``liqenv/`` id or a scenario file path.
        out: the run folder.
        hyperparams: the merged, validated :class:`~agents.config.Hyperparams`.
        overrides: scenario field overrides.
        seed: seed of torch, numpy and the training envs.
        eval_episodes, eval_seed: the final table's episodes (env seeds ``eval_seed ..``).
        baselines: baselines of the validation curve and the final table.
        vec: training batch backend (``native`` or ``dummy``).
        workers: processes of the final evaluation.
        progress: progress bars.
        force: remove the outputs of an existing run folder first.
        resume_from: a checkpoint ``<run>/checkpoints/step_<n>.zip`` to
            continue; the run's ``state.json`` is read from ``<run>``.
        command: the command line shown in the report.
        record: the settings saved as ``state.json["args"]`` (``train.py``
            saves its arguments, which ``--resume`` reads back).
        torch_threads: torch's intra-op threads (a scheduler's trial pins
            them to the CPUs it was given).
    """

    scenario: str
    out: str | Path
    hyperparams: Hyperparams
    overrides: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    eval_episodes: int = 1000
    eval_seed: int = 0
    baselines: tuple[str, ...] = ("sdp", "pds", "fp")
    vec: str = "native"
    workers: int = 1
    progress: bool = True
    force: bool = False
    resume_from: str | Path | None = None
    command: str = ""
    record: Mapping[str, Any] | None = None
    torch_threads: int = 1


@dataclass
class RunState:
    """What ``state.json`` holds: the run's settings, learning curve and best validation."""

    args: dict[str, Any]
    hyperparams: dict[str, Any]
    scenario_overrides: dict[str, Any]
    reward_scale: float
    curve: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    validation_baselines: dict[str, Any] = field(default_factory=dict)
    train_seconds: float = 0.0
    #: behaviour cloning before PPO (hyperparameter warm_start): agents.imitation.behaviour_clone's statistics
    warm_start: dict[str, Any] | None = None

    def record(self, steps: int, result: Mapping[str, Any]) -> bool:
        """Add a validation to the curve; True when it is the best so far."""
        self.curve.append({"timesteps": int(steps), "mean": result["mean"], "ci95": result["ci95"]})
        if self.best is None or result["mean"] > self.best["mean"]:
            self.best = {"timesteps": int(steps), "mean": result["mean"]}
            return True
        return False

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2, default=float) + "\n")


def read_state(run: str | Path) -> RunState:
    """The :class:`RunState` of a run folder; ValueError (one line) when missing, truncated or foreign."""
    path = Path(run) / "state.json"
    try:
        data = json.loads(path.read_text())
        names = {f.name for f in dataclasses.fields(RunState)}
        if not isinstance(data, dict) or not {"args", "hyperparams", "curve"} <= set(data):
            raise ValueError("not a training state")
        return RunState(**{k: v for k, v in data.items() if k in names})
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"{path}: cannot read the run state ({type(e).__name__}: "
                         f"{' '.join(str(e).split())})") from None


def checkpoints(run: str | Path) -> list[tuple[int, Path]]:
    """``[(steps, path), ...]`` of the run's ``checkpoints/step_<n>.zip``, oldest first."""
    ck = Path(run) / "checkpoints"
    found = []
    for p in ck.glob("step_*.zip") if ck.is_dir() else []:
        try:
            found.append((int(p.stem.split("_")[1]), p))
        except ValueError:
            continue
    return sorted(found)


def check_checkpoint(path: str | Path) -> None:
    """ValueError (one line) unless ``path`` is a whole SB3 model archive (a save cut short is not).

    The archive must open, pass its CRC checks and hold SB3's ``data`` member
    (a truncated SB3 zip can still open as the torch zip nested inside it).
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
            if bad is None and "data" not in z.namelist():
                bad = "no 'data' member"
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        bad = f"{type(e).__name__}: {e}"
    if bad is not None:
        raise ValueError(f"checkpoint {str(path)!r} is damaged ({bad}); delete it to resume from the one before")


@dataclass
class RunResult:
    """What :func:`run_training` returns.

    ``interrupted``: training stopped by Ctrl-C (a checkpoint and ``state.json``
    were saved; resume from ``checkpoints(out)[-1]``); ``results`` is then None.
    """

    out: Path
    steps: int
    state: RunState
    results: dict | None = None
    interrupted: bool = False


@dataclass
class _Run:
    """A run being set up or trained (internal to this module)."""

    spec: TrainSpec
    out: Path
    hp: Hyperparams
    state: RunState
    env0: Any
    venv: Any
    model: Any
    train_seed: int
    done_steps: int
    #: transitions SB3 counts per chain step (S for policy per-store, else 1): the
    #: job's steps (total_timesteps, eval_freq, curve, checkpoints) are chain steps
    per_step: int = 1

    @property
    def steps(self) -> int:
        """Chain steps trained so far."""
        return int(self.model.num_timesteps) // self.per_step


# ---------------------------------------------------------------- setup
def setup(spec: TrainSpec) -> _Run:
    """Folders, seeds, envs, the model (new or from ``resume_from``) and the validation baselines."""
    import torch
    from stable_baselines3.common.utils import set_random_seed

    from baselines.evaluation import make_env

    from .config import algo_class, build_model, reward_scale_for
    from .wrappers import make_training_env

    out, hp = Path(spec.out), spec.hyperparams
    if spec.force and out.exists():
        for name in OUTPUTS:
            p = out / name
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    saved = read_state(Path(spec.resume_from).parent.parent) if spec.resume_from is not None else None
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)

    done = 0 if spec.resume_from is None else _steps_of(Path(spec.resume_from))
    for seed_fn in (random.seed, np.random.seed, torch.manual_seed, set_random_seed):
        seed_fn(spec.seed + done)
    torch.set_num_threads(spec.torch_threads)
    train_seed = TRAIN_SEED_STRIDE * (spec.seed + 1) + done

    env0 = make_env(spec.scenario, spec.overrides)
    scale = reward_scale_for(hp, env0.unwrapped.scenario)
    if hp.policy == "per-store":
        from .store_agents import make_store_agents_env

        venv = make_store_agents_env(spec.scenario, hp.n_envs, train_seed, scale, spec.overrides, spec.vec)
    else:
        venv = make_training_env(spec.scenario, hp.n_envs, train_seed, scale, spec.overrides, spec.vec)
    state = saved or RunState(args={}, hyperparams=hp.to_dict(), scenario_overrides=dict(spec.overrides),
                              reward_scale=scale)
    state.args = dict(spec.record) if spec.record is not None else _record(spec)
    state.curve = [c for c in state.curve if c["timesteps"] <= done]

    tb = str(out / "tb") if _has_tensorboard() else None
    if spec.resume_from is None:
        model = build_model(hp, venv, seed=spec.seed, tensorboard_log=tb)
        if hp.warm_start is not None:
            state.warm_start = _warm_start(spec, model, scale)
    else:
        model = algo_class(hp.algo).load(spec.resume_from, env=venv, device="cpu", tensorboard_log=tb)
        print(f"resuming {out} from step {done:,}")

    # The baselines on the validation episodes: the horizontal lines of the learning curve.
    missing = [b for b in spec.baselines if b not in state.validation_baselines]
    if missing:
        state.validation_baselines.update(
            {k: {kk: v[kk] for kk in ("mean", "ci95")} if "mean" in v else v
             for k, v in _validate(spec, {b: b for b in missing}).items()})
    from .store_agents import agent_steps_per_chain_step

    per_step = agent_steps_per_chain_step(hp.policy, env0.unwrapped.scenario)
    return _Run(spec, out, hp, state, env0, venv, model, train_seed, done, per_step)


def _warm_start(spec: TrainSpec, model: Any, scale: float) -> dict[str, Any]:
    """Behaviour-clone ``hp.warm_start`` into ``model`` (:mod:`agents.imitation`); saves ``warm_start.zip``.

    The demonstrations are cached in ``<out>/../demos/``, shared by the
    training seeds of one scenario.
    """
    from .imitation import behaviour_clone, demonstrations

    hp, out = spec.hyperparams, Path(spec.out)
    t0 = time.perf_counter()
    demos = demonstrations(spec.scenario, hp.warm_start, hp.warm_start_episodes, hp.gamma, spec.overrides,
                           workers=spec.workers, cache=out.parent / "demos")
    t1 = time.perf_counter()
    stats = behaviour_clone(model, demos, scale, hp.warm_start_epochs, seed=spec.seed)
    model.save(out / "warm_start.zip")
    stats.update(baseline=hp.warm_start, demo_seconds=t1 - t0, clone_seconds=time.perf_counter() - t1)
    print(f"warm start from {hp.warm_start}: {stats['episodes']} episodes ({stats['steps']:,} steps, "
          f"mean profit {stats['demo_profit']:,.2f}); agreement {stats['agreement']:.3f} after "
          f"{hp.warm_start_epochs} epochs")
    return stats


def _steps_of(checkpoint: Path) -> int:
    try:
        return int(checkpoint.stem.split("_")[1])
    except (IndexError, ValueError):
        raise ValueError(f"resume_from={str(checkpoint)!r}: expected <run>/checkpoints/step_<n>.zip") from None


def _record(spec: TrainSpec) -> dict[str, Any]:
    """The settings saved in state.json when the caller gives none."""
    return {"scenario": spec.scenario, "seed": spec.seed, "out": str(spec.out),
            "eval_episodes": spec.eval_episodes, "eval_seed": spec.eval_seed,
            "baselines": ",".join(spec.baselines), "vec": spec.vec, "workers": spec.workers}


def _validate(spec: TrainSpec, policies: Mapping[str, Any]) -> dict:
    """Evaluate on the validation episodes (env seeds VALIDATION_SEED ..)."""
    from baselines.evaluation import evaluate

    return evaluate(spec.scenario, policies, episodes=spec.hyperparams.eval_episodes, seed=VALIDATION_SEED,
                    overrides=spec.overrides, unknown="report")["results"]


# ---------------------------------------------------------------- learn
def learn(run: _Run, report: Report | None = None) -> bool:
    """Train to ``total_timesteps`` with validations; False when interrupted (Ctrl-C).

    Each validation appends to the learning curve, keeps the best model as
    ``model.zip``, writes ``checkpoints/step_<n>.zip`` (the last two are
    kept) and ``state.json``, then calls ``report(profit, steps, checkpoint)``.
    An interruption saves a checkpoint and ``state.json`` first.
    """
    from agents.policy import PPOPolicy

    from .callbacks import ValidationCallback

    out, state = run.out, run.state
    timer = [time.perf_counter()]

    def on_validation(model: Any, steps: int, result: Mapping[str, Any]) -> None:
        steps //= run.per_step
        if state.record(steps, result):
            model.save(out / "model.zip")
        ckpt = out / "checkpoints" / f"step_{steps}.zip"
        model.save(ckpt)
        for _, old in checkpoints(out)[:-2]:  # keep the last two
            old.unlink()
        now = time.perf_counter()
        state.train_seconds += now - timer[0]
        timer[0] = now
        state.save(out / "state.json")
        if report is not None:
            report(float(result["mean"]), steps, ckpt)

    callback = ValidationCallback(
        run.hp.eval_freq * run.per_step, lambda model: _validate(run.spec, {"ppo": lambda env: PPOPolicy(model, env)})["ppo"],
        on_validation, last_validated=state.curve[-1]["timesteps"] * run.per_step if state.curve else None)
    remaining = run.hp.total_timesteps * run.per_step - run.model.num_timesteps
    if state.warm_start is not None and not state.curve:
        # the clone itself is a candidate of the model selection (step 0 of the curve):
        # fine-tuning that only loses keeps the clone as model.zip
        callback.init_callback(run.model)
        callback.run_validation()
    if remaining > 0:
        try:
            run.model.learn(remaining, callback=callback, progress_bar=run.spec.progress,
                            reset_num_timesteps=run.spec.resume_from is None, tb_log_name="ppo")
        except KeyboardInterrupt:
            run.model.save(out / "checkpoints" / f"step_{run.steps}.zip")
            state.save(out / "state.json")
            return False
    elif not (out / "model.zip").exists():
        callback.init_callback(run.model)
        callback.run_validation()
    run.venv.close()
    return True


# ---------------------------------------------------------------- final evaluation
def final_evaluation(run: _Run) -> dict:
    """The best model against the baselines on env seeds ``eval_seed ..``; prints the table, writes results.json."""
    from agents.policy import PPOPolicy
    from baselines.evaluation import evaluate, format_table, write_json

    spec, out = run.spec, run.out
    policies: dict[str, Any] = {"ppo": lambda env: PPOPolicy(str(out / "model.zip"), env)}
    policies.update({b: b for b in spec.baselines if b != "ppo"})
    results = evaluate(spec.scenario, policies, episodes=spec.eval_episodes, seed=spec.eval_seed,
                       overrides=spec.overrides, workers=spec.workers, progress=spec.progress,
                       unknown="report")
    last = spec.eval_seed + spec.eval_episodes - 1
    print(f"\n{spec.scenario}: best model (step {run.state.best['timesteps']:,} of "
          f"{run.steps:,}) vs baselines, {spec.eval_episodes} episodes on env seeds "
          f"{spec.eval_seed}..{last}\n")
    print(format_table(results))
    write_json(results, out / "results.json")
    return results


# ---------------------------------------------------------------- figures and report
def write_outputs(run: _Run, results: dict) -> list[str]:
    """``learning_curve.png``, ``policy.png`` (single store) and ``report.md``; the figures written."""
    from agents.policy import PPOPolicy
    from baselines.evaluation import format_table

    from .report import plot_learning_curve, plot_policy, write_report

    spec, out, hp, state, env0 = run.spec, run.out, run.hp, run.state, run.env0
    sc_over = dict(spec.overrides)
    val = f"{VALIDATION_SEED}..{VALIDATION_SEED + hp.eval_episodes - 1}"
    title = f"{spec.scenario} {''.join(f'{k}={v} ' for k, v in sc_over.items())}seed {spec.seed}"
    plot_learning_curve(state.curve, state.validation_baselines, out / "learning_curve.png",
                        f"{title}: validation seeds {val}")
    figures = ["learning_curve.png"]
    best_step = state.best["timesteps"]
    pol = {f"PPO (step {best_step:,})": PPOPolicy(str(out / "model.zip"), env0).act}
    try:
        import baselines

        pol["SDP"] = baselines.make("sdp", env0).act
    except ValueError:
        pass
    if plot_policy(env0, pol, out / "policy.png",
                   f"{title}: price by state (last markdown and sales on the policy's own path)"):
        figures.append("policy.png")
    over = "".join(f" --set {k}={shlex.quote(json.dumps(v))}" for k, v in sc_over.items())
    spec_str = ",".join(["ppo=" + str(out / "model.zip")] + [b for b in spec.baselines if b != "ppo"])
    last = spec.eval_seed + spec.eval_episodes - 1
    notes = [
        f"Seed {spec.seed}; trained {run.steps:,} steps ({hp.algo}, {spec.vec} env batch) in "
        f"{state.train_seconds:.0f} s; model.zip is the best of {len(state.curve)} evaluations on "
        f"validation env seeds {val} (step {best_step:,}).",
        f"Table: {spec.eval_episodes} episodes on env seeds {spec.eval_seed}..{last}, the same for every "
        f"policy (common random numbers); ±95% CI is the t half-width over episodes.",
        f"Reproduce the table: `python evaluate.py --scenario {spec.scenario} --policies {spec_str} "
        f"--episodes {spec.eval_episodes} --seed {spec.eval_seed}{over}`",
        f"Rewards were divided by {state.reward_scale:g} (reward_scale={hp.reward_scale!r}) for learning only.",
    ]
    if "policy.png" in figures:
        notes.append("policy.png: the price posted by units on hand and periods left, last period's markdown "
                     "and sales set on the policy's own path; states far from the path actually followed "
                     "(many units late) are rarely visited in training, so PPO's prices there are "
                     "extrapolations (and, being rarely reached, weigh little in the mean profit).")
    settings = {"scenario": spec.scenario, "scenario overrides": sc_over, **hp.to_dict(),
                "seed": spec.seed, "training env seeds": f"{run.train_seed}..{run.train_seed + hp.n_envs - 1}",
                "vec": spec.vec, "torch threads": spec.torch_threads}
    write_report(out / "report.md", scenario=spec.scenario, table=format_table(results), command=spec.command,
                 settings=settings, notes=notes, figures=figures)
    print(f"\nwrote {out}/: model.zip, results.json, report.md, " + ", ".join(figures))
    return figures


# ---------------------------------------------------------------- the job
def run_training(spec: TrainSpec, report: Report | None = None) -> RunResult:
    """Train, evaluate and report one run into ``spec.out`` (see the module docstring).

    ``report(validation_profit, steps, checkpoint)`` is called after every
    validation (for a scheduler's early stopping; the checkpoint is a
    ``step_<n>.zip`` that ``TrainSpec(resume_from=...)`` continues from).
    """
    run = setup(spec)
    if not learn(run, report):
        return RunResult(run.out, run.steps, run.state, interrupted=True)
    results = final_evaluation(run)
    write_outputs(run, results)
    return RunResult(run.out, run.steps, run.state, results)


def _has_tensorboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None
