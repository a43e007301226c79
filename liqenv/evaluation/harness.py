"""Evaluate policies on a scenario with common random numbers.

Every policy plays episode ``i`` on env seed :func:`episode_seed` ``(seed, i)
= seed + i``.  The env draws its demand from counter-based random numbers
fixed by that seed alone, so every policy meets the same customers and the
per-episode profit differences are paired: their confidence intervals are
much narrower than the unpaired ones.

The work is cut into :class:`Job` s, each a contiguous range of episodes for
every policy; :func:`run_job` plays one in any process and returns a
:class:`Chunk` per policy; :func:`evaluate` assembles the chunks in episode
order.  Since a chunk depends only on its job (the seeds are a pure
function of the episode index), any way of spreading the jobs over
processes or machines gives the results of ``workers=1``, timings aside.

A policy is given by a registered name (:func:`liqenv.evaluation.available`),
by a ``prefix=path`` spec for a saved model (a registered loader), or, in a
dict, by any callable ``factory(env) -> policy``
(:mod:`liqenv.evaluation.protocol`).  Each policy gets its own env, built
from the scenario id and overrides, and acts on that env, so an adapter may
read ``env.action_masks()``.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..env import LiquidationEnv
from . import protocol
from .metrics import EpisodeLog, EpisodeMetrics, EpisodeTotals
from .registry import PolicyFactory, resolve_policies
from .stats import ci_halfwidth, paired_comparisons

__all__ = ["evaluate", "episode_seed", "split_episodes", "Job", "Chunk", "run_job", "make_env",
           "parse_overrides"]


def episode_seed(seed: int, episode: int) -> int:
    """The env seed of episode ``episode`` in an evaluation starting at ``seed``."""
    return seed + episode


def split_episodes(episodes: int, parts: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges cutting ``0..episodes-1`` into at most ``parts`` pieces."""
    edges = np.linspace(0, episodes, parts + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


# ------------------------------------------------------------------ scenario
def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["field=value", ...]`` to a dict, values read with ``yaml.safe_load``.

    ``1800`` is an int, ``0.5`` a float, ``continuous`` a string, ``[1,2]`` a
    list.  A malformed item (no ``=``, empty field, bad YAML) raises ValueError.
    """
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected field=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ValueError(f"--set {item!r}: the field name is empty")
        try:
            out[key] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as e:
            raise ValueError(f"--set {item!r}: cannot parse the value ({type(e).__name__})") from None
    return out


def make_env(scenario_id: str, overrides: Mapping[str, Any] | None = None) -> LiquidationEnv:
    """The env every policy is evaluated on (a preset id, ``liqenv/`` optional, or a file)."""
    if not isinstance(scenario_id, str) or not scenario_id:
        raise ValueError(f"scenario={scenario_id!r}: expected a preset id or a scenario file")
    return LiquidationEnv(scenario_id, **dict(overrides or {}))


# ------------------------------------------------------------------ episodes
@dataclass
class Chunk:
    """What one policy did on episodes ``start..stop-1``."""

    start: int
    stop: int
    metrics: EpisodeMetrics | None = None
    values: list[float | None] = field(default_factory=list)  # value_estimate per episode
    act_seconds: float = 0.0
    acts: int = 0
    initial_solve: float | None = None  # set when the policy was built for this chunk
    resolve_seconds: float = 0.0
    unsupported: str | None = None


class Runner:
    """Per process: one env and one policy per label, built on first use."""

    def __init__(self, scenario_id: str, overrides: Mapping[str, Any],
                 factories: Mapping[str, PolicyFactory], vec: str = "auto"):
        self.scenario_id = scenario_id
        self.overrides = dict(overrides)
        self.factories = factories
        self.vec = vec
        self.built: dict[str, tuple[Any, Any, str | None]] = {}

    def _build(self, label: str) -> tuple[Any, Any, str | None, float | None]:
        if label in self.built:
            return (*self.built[label], None)
        env = make_env(self.scenario_id, self.overrides)
        try:
            policy = self.factories[label](env)
            reason = None
        except protocol.UnsupportedScenario as e:
            policy, reason = None, str(e) or type(e).__name__
        if policy is not None:
            protocol.check_policy(policy, label)
        self.built[label] = (env, policy, reason)
        solve = protocol.solve_seconds(policy) if policy is not None else None
        return env, policy, reason, solve

    def run(self, label: str, start: int, stop: int, seed: int,
            tick: Callable[[], None] | None = None) -> Chunk:
        """Episodes ``start..stop-1`` of policy ``label`` (seeds from :func:`episode_seed`)."""
        env, policy, reason, initial = self._build(label)
        out = Chunk(start=start, stop=stop, initial_solve=initial, unsupported=reason)
        if policy is None:
            return out
        solve0 = protocol.solve_seconds(policy)
        if self.vec == "auto" and protocol.acts_on_batch(policy):
            self._run_batched(policy, out, seed, tick)
        else:
            self._run_single(env, policy, out, seed, tick)
        out.resolve_seconds = protocol.solve_seconds(policy) - solve0
        return out

    @staticmethod
    def _run_single(env: Any, policy: Any, out: Chunk, seed: int,
                    tick: Callable[[], None] | None) -> None:
        clock = time.perf_counter
        log = EpisodeLog()
        for i in range(out.start, out.stop):
            obs, _ = env.reset(seed=episode_seed(seed, i))
            try:
                protocol.reset_policy(policy, episode_seed(seed, i), env.unwrapped.scenario)
            except protocol.UnsupportedScenario as e:
                out.unsupported = f"episode {i}: {e}"
                return
            out.values.append(protocol.value_estimate(policy))
            done = False
            while not done:
                t0 = clock()
                action = policy.act(obs)
                out.act_seconds += clock() - t0
                out.acts += 1
                obs, _, terminated, truncated, info = env.step(action)
                log.add_step(info)
                done = terminated or truncated
            log.end_episode()
            if tick is not None:
                tick()
        out.metrics = log.metrics()

    def _run_batched(self, policy: Any, out: Chunk, seed: int,
                     tick: Callable[[], None] | None) -> None:
        """Episodes ``start..stop-1`` at once on the native batched env.

        Copy ``k`` is seeded exactly as the single env of episode ``start + k``
        would be, so the draws (and, for a policy without per-episode state,
        the results) are those of the one-episode-at-a-time loop; the policy
        acts once per period for the whole batch through ``act_batch``.
        """
        from ..vector import LiquidationBatch

        n = out.stop - out.start
        batch = LiquidationBatch(self.scenario_id, n, **self.overrides)
        batch.reset_copies(np.arange(n), [episode_seed(seed, i) for i in range(out.start, out.stop)])
        protocol.reset_policy(policy, episode_seed(seed, out.start))
        obs = batch.observe()
        acc = EpisodeTotals(n)
        masked = protocol.needs_masks(policy)
        clock = time.perf_counter
        while True:
            masks = batch.action_masks() if masked else None
            t0 = clock()
            actions = policy.act_batch(obs, masks)
            out.act_seconds += clock() - t0
            out.acts += n
            obs, _, done, result = batch.step(actions)
            acc.add_step(result)
            if done.all():  # every copy has the same horizon
                break
        out.metrics = acc.finish([batch.info(k) for k in range(n)])
        out.values.extend([protocol.value_estimate(policy)] * n)
        if tick is not None:
            for _ in range(n):
                tick()


@dataclass(frozen=True)
class Job:
    """Episodes ``start..stop-1`` of every policy in ``labels``.

    ``factories`` travels with the job when the worker cannot inherit the
    parent's (``None``: a forked worker reads them from the parent); the
    factories of registered names and ``prefix=path`` specs are picklable.
    Workers keep their envs and policies between jobs of the same ``token``.
    """

    token: str
    scenario_id: str
    overrides: dict
    labels: tuple[str, ...]
    start: int
    stop: int
    seed: int
    factories: dict | None = None
    vec: str = "auto"


# Parallel workers: the parent sets these before the pool forks, so the
# factories (lambdas included) need not be pickled; with the spawn start
# method the job carries them instead.
_PARENT_FACTORIES: dict[str, PolicyFactory] = {}
_WORKER_RUNNERS: dict[str, Runner] = {}


def run_job(job: Job) -> dict[str, Chunk]:
    """Play one job in this process: label -> :class:`Chunk`."""
    runner = _WORKER_RUNNERS.get(job.token)
    if runner is None:
        _WORKER_RUNNERS.clear()
        facs = job.factories if job.factories is not None else _PARENT_FACTORIES
        runner = _WORKER_RUNNERS[job.token] = Runner(job.scenario_id, job.overrides, facs, job.vec)
    return {lab: runner.run(lab, job.start, job.stop, job.seed) for lab in job.labels}


def _progress_bar(total: int, enabled: bool):
    if not enabled or total < 100:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="ep", desc="evaluate", leave=False)


def _run_pool(scenario_id: str, overrides: dict, factories: dict[str, PolicyFactory],
              episodes: int, seed: int, workers: int, bar, vec: str) -> dict[str, list[Chunk]]:
    """Run the jobs on a local process pool (fork where available)."""
    global _PARENT_FACTORIES
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork") if "fork" in methods else mp.get_context()
    carried = None if ctx.get_start_method() == "fork" else dict(factories)
    labels = tuple(factories)
    # A few chunks per worker keep the progress bar moving; each worker
    # builds its env and policies once and reuses them for later chunks.
    n_chunks = min(episodes, workers * (4 if bar is not None else 1))
    token = uuid.uuid4().hex
    jobs = [Job(token, scenario_id, overrides, labels, a, b, seed, carried, vec)
            for a, b in split_episodes(episodes, n_chunks)]
    _PARENT_FACTORIES = dict(factories)
    chunks: dict[str, list[Chunk]] = {lab: [] for lab in labels}
    try:
        with cf.ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx) as pool:
            futures = {pool.submit(run_job, job): job for job in jobs}
            for fut in cf.as_completed(futures):
                job = futures[fut]
                for lab, ch in fut.result().items():
                    chunks[lab].append(ch)
                if bar is not None:
                    bar.update((job.stop - job.start) * len(labels))
    finally:
        _PARENT_FACTORIES = {}
    return chunks


def _run_ray(scenario_id: str, overrides: dict, factories: dict[str, PolicyFactory],
             episodes: int, seed: int, workers: int, bar, vec: str) -> dict[str, list[Chunk]]:
    """Run the jobs as Ray tasks of one CPU on the Ray this process has joined (``ray.init``).

    ``workers`` > 1 sets the number of jobs; otherwise one per CPU of the
    cluster.  Each job carries its factories (Ray pickles lambdas too); a
    fresh worker imports the providers through the registry.
    """
    import ray

    if not ray.is_initialized():
        raise ValueError("engine='ray': this process has not joined a Ray (ray.init)")
    parts = workers if workers > 1 else int(ray.cluster_resources().get("CPU", 1))
    labels, token = tuple(factories), uuid.uuid4().hex
    jobs = [Job(token, scenario_id, overrides, labels, a, b, seed, dict(factories), vec)
            for a, b in split_episodes(episodes, min(episodes, parts))]
    task = ray.remote(num_cpus=1)(run_job)
    pending = {task.remote(job): job for job in jobs}
    chunks: dict[str, list[Chunk]] = {lab: [] for lab in labels}
    while pending:
        (ref,), _ = ray.wait(list(pending), num_returns=1)
        job = pending.pop(ref)
        for lab, ch in ray.get(ref).items():
            chunks[lab].append(ch)
        if bar is not None:
            bar.update((job.stop - job.start) * len(labels))
    return chunks


# ------------------------------------------------------------------ summary
def _summarise(chunks: Sequence[Chunk]) -> tuple[dict[str, Any], EpisodeMetrics | None]:
    """One policy's result entry and its per-episode metrics (chunks in any order)."""
    chunks = sorted(chunks, key=lambda c: c.start)
    for c in chunks:
        if c.unsupported is not None:
            return {"unsupported": c.unsupported}, None
    m = EpisodeMetrics.concat([c.metrics for c in chunks])
    values = [v for c in chunks for v in c.values]
    acts = sum(c.acts for c in chunks)
    initial = [c.initial_solve for c in chunks if c.initial_solve is not None]
    solve = (float(np.mean(initial)) if initial else 0.0) + sum(c.resolve_seconds for c in chunks)
    res = {
        "mean": float(m.profit.mean()),
        "ci95": ci_halfwidth(m.profit),
        "std": float(m.profit.std(ddof=1)) if m.episodes > 1 else float("nan"),
        "sell_through": float(m.sell_through.mean()),
        "net_recovery_on_cost": float(m.net_recovery_on_cost.mean()),
        "solve_seconds": solve,
        "act_us": 1e6 * sum(c.act_seconds for c in chunks) / acts if acts else float("nan"),
        "value_estimate": (float(np.mean(values)) if values and all(v is not None for v in values)
                           else None),
    }
    return res, m


def _check_count(name: str, value: Any, minimum: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r}: must be {what}")
    return int(value)


def evaluate(scenario_id: str, policies: Mapping[str, PolicyFactory | str] | Sequence[str],
             episodes: int, seed: int = 0, overrides: Mapping[str, Any] | None = None,
             workers: int = 1, progress: bool = False, *, unknown: str = "raise",
             vec: str = "auto", engine: str = "processes") -> dict:
    """Run each policy for ``episodes`` episodes on env seeds ``seed .. seed+episodes-1``.

    Args:
        scenario_id: a preset id (``liqenv/SingleStore-v0``; the namespace is
            optional) or a YAML/JSON scenario file.
        policies: registered names, ``prefix=path`` specs for saved models,
            or a dict label -> name/spec/``factory(env)``.
        episodes: number of episodes (>= 1).
        seed: env seed of the first episode; episode ``i`` uses ``seed + i``.
        overrides: scenario field overrides (``{"pricing": "continuous"}``).
        workers: processes; the episodes are split among them and the
            results equal those of ``workers=1`` (timings aside).
        progress: show a tqdm bar when ``episodes * len(policies) >= 100``.
        unknown: ``"raise"`` (an unknown policy name raises ``ValueError``) or
            ``"report"`` (it is reported as unsupported).
        vec: ``"auto"`` (policies that act on a batch, such as the PPO
            adapter, play all their episodes at once on the native batched
            env, which gives the same draws) or ``"single"`` (one env, one
            episode at a time, for every policy).
        engine: ``"processes"`` (``workers`` local processes) or ``"ray"``
            (the jobs as tasks on the Ray this process has joined with
            ``ray.init``, a local one or a cluster; ``workers`` > 1 sets the
            number of jobs, else one per CPU): the same results either way.

    Returns:
        ``{"scenario", "episodes", "seed", "overrides", "results",
        "per_episode"}`` where ``results[label]`` holds ``mean``, ``ci95``
        (t half-width), ``std``, ``sell_through``, ``net_recovery_on_cost``,
        ``solve_seconds``, ``act_us``, ``value_estimate`` (the policy's own
        prediction, the mean over episodes when it re-solves, else None),
        ``best``, ``share_of_best``, ``share_of_sdp`` (None without
        ``sdp``), ``diff_to_best`` and its paired ``diff_to_best_ci95``,
        and the per-episode ``profits``; or ``{"unsupported": reason}``.
        ``per_episode[label]`` is the :class:`EpisodeMetrics` of each
        supported policy (every metric, episode by episode).
    """
    episodes = _check_count("episodes", episodes, 1, "a positive integer")
    workers = _check_count("workers", workers, 1, "an integer >= 1")
    seed = _check_count("seed", seed, 0, "a non-negative integer")
    if vec not in ("auto", "single"):
        raise ValueError(f"vec={vec!r}: must be 'auto' or 'single'")
    if engine not in ("processes", "ray"):
        raise ValueError(f"engine={engine!r}: must be 'processes' or 'ray'")
    overrides = dict(overrides or {})
    make_env(scenario_id, overrides)  # a bad scenario or override fails here, once
    resolved = resolve_policies(policies, unknown=unknown)
    factories = {k: v for k, v in resolved.items() if callable(v)}

    bar = _progress_bar(episodes * len(factories), progress)
    try:
        if engine == "ray" and factories:
            chunks = _run_ray(scenario_id, overrides, factories, episodes, seed, workers, bar, vec)
        elif workers == 1 or episodes == 1 or not factories:
            runner = Runner(scenario_id, overrides, factories, vec)
            tick = bar.update if bar is not None else None
            chunks = {lab: [runner.run(lab, 0, episodes, seed, tick)] for lab in factories}
        else:
            chunks = _run_pool(scenario_id, overrides, factories, episodes, seed, workers, bar, vec)
    finally:
        if bar is not None:
            bar.close()

    results: dict[str, dict] = {}
    per_episode: dict[str, EpisodeMetrics] = {}
    for lab, fac in resolved.items():
        if not callable(fac):
            results[lab] = {"unsupported": fac}
            continue
        results[lab], m = _summarise(chunks[lab])
        if m is not None:
            per_episode[lab] = m
    for lab, cmp in paired_comparisons({k: m.profit for k, m in per_episode.items()}).items():
        results[lab].update(cmp)
    return {"scenario": scenario_id, "episodes": episodes, "seed": seed, "overrides": overrides,
            "results": results, "per_episode": per_episode}
