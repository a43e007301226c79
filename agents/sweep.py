"""Training jobs as Ray Tune trials: the Ray side of ``sweep.py`` and ``ppo_results.py --ray``.

A trial is one call of the training job (:func:`agents.job.run_training`);
this module only adds what a scheduler needs around it, so there is no
second training loop:

- :func:`trial` (the Tune function trainable) trains in the trial's working
  folder on whichever node Ray placed it, pins torch to the trial's CPUs,
  and passes every validation to ``tune.report`` with a checkpoint (the
  run's ``state.json``, best ``model.zip`` and last ``step_<n>.zip``), so
  that ASHA can stop it early and a restarted trial (``FailureConfig``, or
  ``Tuner.restore(..., resume_errored=True)``) continues from
  ``tune.get_checkpoint()`` instead of step 0.  Its last report carries the
  finished run folder (model, results.json, report, figures) as checkpoint:
  the run lands in the sweep's storage, whichever node trained it.
- :func:`init_ray`: a local Ray started in this process with the machine's
  cores (the default), or an existing cluster (``address="auto"``,
  ``"host:6379"``, ``"ray://host:10001"``).
- :func:`run_specs`: a list of :class:`~agents.job.TrainSpec` as a grid of
  trials (``ppo_results.py --ray``), run folders copied back to each ``spec.out``.
- :func:`tune_config`: the ``tune.TuneConfig`` of every sweep, which reuses a
  finished trial's worker process for the next trial (``reuse_actors``): a
  fresh worker imports torch, SB3 and liqenv and sets them up again, which
  cost each trial after the first wave 10-25 s on the 2-core machine of
  ``benchmarks/ray_overhead.py``, while the process pool pays it once per
  process.  Every trial reseeds everything it uses (:func:`agents.job.setup`),
  as a process of the pool does for its second run.

Only ``ray.tune`` names are used (Ray >= 2.41): ``ray.train`` calls inside
Tune functions fail on current Ray.

Test hook: with ``LIQENV_SWEEP_FAIL=<folder>``, a trial of seed ``k`` raises
after its first checkpoint while ``<folder>/seed<k>`` exists, which holds
how many more times to fail (default 1; the file goes at 0): a worker dying
mid-run, for the tests.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .job import TrainSpec, checkpoints, read_state, run_training

__all__ = ["trial", "trainable", "tune_config", "init_ray", "check_address", "run_specs", "SpecTable",
           "SpecList", "METRIC", "FAIL_ENV"]

#: What the searcher and ASHA compare: the best validation profit so far (the one ``model.zip`` keeps).
METRIC = "best_validation_profit"
FAIL_ENV = "LIQENV_SWEEP_FAIL"
#: Run outputs a final checkpoint carries (the resumable ones are in each validation's).
_FINAL = ("model.zip", "results.json", "report.md", "learning_curve.png", "policy.png", "state.json")


# ---------------------------------------------------------------- the specs of a sweep's trials
@dataclasses.dataclass(frozen=True)
class SpecTable:
    """``config -> TrainSpec`` for ``sweep.py``: a validated template per scenario, the
    trial's ``seed`` and hyperparameter values from its ``config``."""

    templates: Mapping[str, TrainSpec]
    hp_keys: tuple[str, ...]

    def __call__(self, config: Mapping[str, Any]) -> TrainSpec:
        t = self.templates[config["scenario"]]
        hp = dataclasses.replace(t.hyperparams, **{k: config[k] for k in self.hp_keys})
        return dataclasses.replace(t, seed=int(config["seed"]), hyperparams=hp, record=None)


@dataclasses.dataclass(frozen=True)
class SpecList:
    """``config -> TrainSpec`` for ``run_specs``: ``config["job"]`` indexes the list."""

    specs: tuple[TrainSpec, ...]

    def __call__(self, config: Mapping[str, Any]) -> TrainSpec:
        return self.specs[config["job"]]


# ---------------------------------------------------------------- the trainable
def trial(config: dict, spec_of: Callable[[Mapping[str, Any]], TrainSpec], cpus: int = 1) -> None:
    """One training job as a Tune trial (see the module docstring)."""
    import ray
    import torch
    from ray import tune

    torch.set_num_threads(cpus)
    spec = spec_of(config)
    run = Path.cwd() / "run"  # the trial's working folder on its node
    ckpt = tune.get_checkpoint()
    resume_from = None
    if ckpt is not None:
        with ckpt.as_directory() as d:
            resume_from = _adopt(Path(d), run)
    elif spec.resume_from is not None:  # a run folder the caller had started (ppo_results --ray)
        resume_from = _adopt(Path(spec.resume_from).parent.parent, run, Path(spec.resume_from).name)
    start = 0 if resume_from is None else int(resume_from.stem.split("_")[1])
    spec = dataclasses.replace(spec, out=run, resume_from=resume_from, force=resume_from is None,
                               progress=False, torch_threads=cpus)
    where = {"node_id": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname(),
             "worker_pid": os.getpid(), "resumed_from_step": start}
    fail = _fail_marker(spec.seed)

    def metrics(state, steps: int, profit: float, final: bool) -> dict:
        return {"validation_profit": profit, METRIC: state.best["mean"], "steps": steps,
                "seconds": state.train_seconds, "final": final, **where}

    def report(profit: float, steps: int, step_zip: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("state.json", "model.zip"):
                shutil.copy2(run / name, Path(tmp) / name)
            (Path(tmp) / "checkpoints").mkdir()
            shutil.copy2(step_zip, Path(tmp) / "checkpoints" / step_zip.name)
            tune.report(metrics(read_state(run), steps, profit, False),
                        checkpoint=tune.Checkpoint.from_directory(tmp))
        if fail is not None and fail.exists():  # the test hook (module docstring)
            left = int(fail.read_text() or 1) - 1
            fail.write_text(str(left)) if left > 0 else fail.unlink()
            raise RuntimeError(f"{FAIL_ENV}: injected failure after step {steps}")

    result = run_training(spec, report)
    if result.interrupted:
        raise KeyboardInterrupt
    state = result.state
    final = metrics(state, result.steps, state.curve[-1]["mean"], True)
    final["eval_profit"] = result.results["results"]["ppo"]["mean"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in _FINAL:
            if (run / name).is_file():
                shutil.copy2(run / name, Path(tmp) / name)
        tune.report(final, checkpoint=tune.Checkpoint.from_directory(tmp))


def _adopt(src: Path, run: Path, step_name: str | None = None) -> Path:
    """Copy a checkpoint (or a run folder's resumable files) into ``run``; the step_<n>.zip to resume."""
    found = [p for _, p in checkpoints(src)]
    if step_name is not None:
        found = [p for p in found if p.name == step_name]
    if not found or not (src / "state.json").is_file():
        raise ValueError(f"{src}: holds no checkpoint to resume from")
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    for name in ("state.json", "model.zip"):
        if (src / name).is_file():
            shutil.copy2(src / name, run / name)
    target = run / "checkpoints" / found[-1].name
    shutil.copy2(found[-1], target)
    return target


def _fail_marker(seed: int) -> Path | None:
    folder = os.environ.get(FAIL_ENV)
    return Path(folder) / f"seed{seed}" if folder else None


def trainable(spec_of: Callable[[Mapping[str, Any]], TrainSpec], cpus_per_trial: int = 1):
    """:func:`trial` bound to ``spec_of``, asking Ray for ``cpus_per_trial`` CPUs per trial."""
    from ray import tune

    return tune.with_resources(tune.with_parameters(trial, spec_of=spec_of, cpus=cpus_per_trial),
                               {"cpu": cpus_per_trial})


def tune_config(**kw: Any):
    """``tune.TuneConfig(**kw)`` with finished trials' workers reused (module docstring)."""
    from ray import tune

    return tune.TuneConfig(reuse_actors=True, **kw)


# ---------------------------------------------------------------- Ray itself
def check_address(address: str, timeout: float = 5.0) -> None:
    """ValueError (one line) when ``host:port`` / ``ray://host:port`` does not answer within ``timeout`` s.

    ``ray.init`` itself retries an unreachable address for a minute or more.
    """
    if address == "auto":
        return
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--address {address!r}: expected auto, host:port or ray://host:port")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ValueError(f"--address {address!r}: unreachable ({e.strerror or type(e).__name__})") from None


def init_ray(address: str | None = None, num_cpus: int | None = None) -> dict:
    """Start a local Ray in this process (``num_cpus``, default: the machine's cores) or join ``address``.

    Returns the cluster's resources; ValueError (one line) when the address cannot be joined.
    """
    import ray

    if ray.is_initialized():
        return ray.cluster_resources()
    if address is None:
        # "local": a new Ray of our own, even where another one runs (ray.init() would join that)
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                 logging_level="WARNING")
    else:
        check_address(address)
        try:
            ray.init(address=address, logging_level="WARNING")
        except (ConnectionError, RuntimeError) as e:
            raise ValueError(f"--address {address!r}: cannot join ({' '.join(str(e).split())[:200]})") from None
    return ray.cluster_resources()


# ---------------------------------------------------------------- a list of jobs as one grid
def run_specs(specs: Sequence[TrainSpec], storage: str | Path, name: str, cpus_per_trial: int = 1,
              max_failures: int = 2) -> None:
    """Train ``specs`` as Tune trials (Ray must be initialised: :func:`init_ray`); each finished
    run folder is copied to its ``spec.out``.  RuntimeError naming the first run that failed."""
    from ray import tune

    tuner = tune.Tuner(
        trainable(SpecList(tuple(specs)), cpus_per_trial),
        param_space={"job": tune.grid_search(list(range(len(specs))))}, tune_config=tune_config(),
        run_config=tune.RunConfig(name=name, storage_path=str(Path(storage).resolve()), verbose=1,
                                  failure_config=tune.FailureConfig(max_failures=max_failures),
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=2)))
    t0 = time.perf_counter()
    grid = tuner.fit()
    for r in grid:
        spec = specs[r.config["job"]]
        if r.error is not None or r.checkpoint is None or not r.metrics.get("final"):
            raise RuntimeError(f"{spec.scenario} seed {spec.seed}: the trial failed ({r.error!r})")
        out = Path(spec.out)
        out.mkdir(parents=True, exist_ok=True)
        with r.checkpoint.as_directory() as d:
            for p in Path(d).iterdir():
                if p.is_file():
                    shutil.copy2(p, out / p.name)
    print(f"{len(specs)} runs on Ray in {time.perf_counter() - t0:.0f} s", flush=True)
