"""Evaluate policies on a scenario with common random numbers.

Every policy plays episode ``i`` on env seed ``seed + i``.  The env draws its
demand from counter-based random numbers fixed by that seed alone, so every
policy meets the same customers and the per-episode profit differences are
paired: their confidence intervals are much narrower than the unpaired ones.

::

    from baselines.evaluation import evaluate, format_table, write_json

    res = evaluate("liqenv/SingleStore-v0", ["sdp", "pds", "fp"], episodes=1000, seed=0,
                   overrides={"pricing": "continuous"}, workers=2)
    print(format_table(res))
    write_json(res, "out.json")

A policy is given by a registered name (``baselines.available()``), by a
``prefix=path`` spec for a learned model (resolved through
:func:`register_model_loader`) or, in a dict, by any callable
``factory(env) -> Policy`` (e.g. ``{"ppo": lambda env: PPOPolicy(path, env)}``).
Each policy gets its own env, built from the scenario id and overrides, and
acts on that env, so an adapter may read ``env.action_masks()``.
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib
import json
import math
import multiprocessing as mp
import os
import pkgutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from scipy import stats

from liqenv.env import LiquidationEnv

from .base import Policy, UnsupportedScenario, available, make

__all__ = [
    "PolicyFactory", "evaluate", "format_table", "write_json", "to_json_dict", "ci_halfwidth",
    "register_model_loader", "model_loaders", "resolve_policies", "parse_overrides", "make_env",
]

#: ``factory(env) -> Policy``; the env is the one the policy will act on.
PolicyFactory = Callable[[Any], Policy]
#: ``loader(path, env) -> Policy`` for learned models given as ``prefix=path``.
ModelLoader = Callable[[str, Any], Policy]

_MODEL_LOADERS: dict[str, ModelLoader] = {}
#: Per-result keys that :func:`write_json` always writes (the public schema).
RESULT_KEYS = ("mean", "ci95", "std", "sell_through", "net_recovery_on_cost", "solve_seconds",
               "act_us", "value_estimate")


# ------------------------------------------------------------------ statistics
def ci_halfwidth(x: Sequence[float], level: float = 0.95) -> float:
    """Half-width of the Student-t confidence interval of the mean of ``x``.

    ``t_{(1+level)/2, n-1} * s / sqrt(n)`` with the sample standard deviation
    ``s`` (ddof=1); NaN for fewer than two values.
    """
    x = np.asarray(x, float)
    n = x.size
    if n < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))


# ------------------------------------------------------------- model loaders
def register_model_loader(prefix: str, loader: ModelLoader) -> None:
    """Resolve policy specs ``prefix=path`` with ``loader(path, env) -> Policy``.

    The learned-agent modules call this at import (``ppo``, ``maskable_ppo``).
    Use a module-level function as ``loader`` so parallel workers can find it.
    """
    if not isinstance(prefix, str) or not prefix or "=" in prefix:
        raise ValueError(f"prefix={prefix!r}: must be a non-empty name without '='")
    if not callable(loader):
        raise ValueError(f"loader={loader!r}: must be callable (path, env) -> Policy")
    _MODEL_LOADERS[prefix] = loader


def model_loaders() -> list[str]:
    """Prefixes accepted in ``prefix=path`` specs (imports the ``agents`` package first)."""
    _discover_loaders()
    return sorted(_MODEL_LOADERS)


def _discover_loaders() -> None:
    # Loaders register themselves when their module is imported; the learned
    # agents live in the optional ``agents`` package.
    try:
        agents = importlib.import_module("agents")
    except ImportError:
        return
    for mod in pkgutil.iter_modules(getattr(agents, "__path__", [])):
        if not mod.name.startswith("_"):
            try:
                importlib.import_module(f"agents.{mod.name}")
            except ImportError:
                continue


@dataclass(frozen=True)
class _ModelFactory:
    """``env -> loader(path, env)``; picklable when the loader is module-level."""

    prefix: str
    path: str

    def __call__(self, env: Any) -> Policy:
        if self.prefix not in _MODEL_LOADERS:
            _discover_loaders()
        return _MODEL_LOADERS[self.prefix](self.path, env)


@dataclass(frozen=True)
class _NamedFactory:
    """``env -> baselines.make(name, env)``."""

    name: str

    def __call__(self, env: Any) -> Policy:
        return make(self.name, env)


def _spec_factory(spec: str, unknown: str) -> tuple[str, PolicyFactory | str]:
    """(label, factory or the reason it is unavailable) for one policy spec."""
    if "=" in spec:
        prefix, path = (p.strip() for p in spec.split("=", 1))
        if prefix not in _MODEL_LOADERS:
            _discover_loaders()
        if prefix not in _MODEL_LOADERS:
            known = ", ".join(sorted(_MODEL_LOADERS)) or "none"
            msg = f"policy {spec!r}: no model loader registered for {prefix!r} (registered: {known})"
            if unknown == "raise":
                raise ValueError(msg)
            return prefix, msg
        if not path or not (os.path.exists(path) or os.path.exists(path + ".zip")):
            raise ValueError(f"policy {spec!r}: model file {path!r} not found")
        return prefix, _ModelFactory(prefix, path)
    if spec not in available():
        msg = f"policy={spec!r}: unknown; available: {', '.join(available()) or 'none'}"
        if unknown == "raise":
            raise ValueError(msg)
        return spec, f"policy {spec!r} is not available"
    return spec, _NamedFactory(spec)


def resolve_policies(policies: Mapping[str, PolicyFactory | str] | Iterable[str],
                     unknown: str = "raise") -> dict[str, PolicyFactory | str]:
    """Label -> factory for the accepted policy forms.

    ``policies`` is a list of specs (registered names or ``prefix=path``) or
    a dict mapping labels to specs or callables ``factory(env) -> Policy``.
    With ``unknown="raise"`` an unknown name or prefix raises ``ValueError``;
    with ``unknown="report"`` its value is a string saying why it is
    unavailable.
    """
    if unknown not in ("raise", "report"):
        raise ValueError(f"unknown={unknown!r}: must be 'raise' or 'report'")
    if isinstance(policies, str):
        policies = [p for p in policies.split(",") if p.strip()]
    items: list[tuple[str | None, Any]]
    if isinstance(policies, Mapping):
        items = list(policies.items())
    else:
        items = [(None, p) for p in policies]
    if not items:
        raise ValueError("policies: at least one policy is needed")
    out: dict[str, PolicyFactory | str] = {}
    for label, spec in items:
        if callable(spec):
            if label is None:
                raise ValueError(f"policy {spec!r}: a callable needs a label (pass a dict)")
            lab, fac = label, spec
        elif isinstance(spec, str) and spec.strip():
            lab, fac = _spec_factory(spec.strip(), unknown)
            lab = label if label is not None else lab
        else:
            raise ValueError(f"policy {spec!r}: expected a name, 'prefix=path' or a callable")
        if lab in out:
            if label is not None or not isinstance(spec, str):
                raise ValueError(f"policy label {lab!r} given twice")
            lab = spec.strip()
            if lab in out:
                raise ValueError(f"policy {lab!r} given twice")
        out[lab] = fac
    return out


# ------------------------------------------------------------------ overrides
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
class _Chunk:
    """What one policy did on a contiguous range of episodes."""

    start: int
    profit: list[float] = field(default_factory=list)
    sell_through: list[float] = field(default_factory=list)
    nrc: list[float] = field(default_factory=list)
    value: list[float | None] = field(default_factory=list)
    act_seconds: float = 0.0
    acts: int = 0
    initial_solve: float | None = None  # set when the policy was built for this chunk
    resolve_seconds: float = 0.0
    unsupported: str | None = None


class _Runner:
    """Per process: one env and one policy per label, built on first use."""

    def __init__(self, scenario_id: str, overrides: Mapping[str, Any],
                 factories: Mapping[str, PolicyFactory], vec: str = "auto"):
        self.scenario_id = scenario_id
        self.overrides = dict(overrides)
        self.factories = factories
        self.vec = vec
        self.built: dict[str, tuple[Any, Policy | None, str | None]] = {}

    def _build(self, label: str) -> tuple[Any, Policy | None, str | None, float | None]:
        if label in self.built:
            return (*self.built[label], None)
        env = make_env(self.scenario_id, self.overrides)
        try:
            policy = self.factories[label](env)
            reason = None
        except UnsupportedScenario as e:
            policy, reason = None, str(e) or type(e).__name__
        self.built[label] = (env, policy, reason)
        solve = float(getattr(policy, "solve_seconds", 0.0) or 0.0) if policy is not None else None
        return env, policy, reason, solve

    def run(self, label: str, start: int, stop: int, seed: int,
            tick: Callable[[], None] | None = None) -> _Chunk:
        env, policy, reason, initial = self._build(label)
        out = _Chunk(start=start, initial_solve=initial, unsupported=reason)
        if policy is None:
            return out
        solve0 = float(getattr(policy, "solve_seconds", 0.0) or 0.0)
        if self.vec == "auto" and getattr(policy, "batched", False):
            return self._run_batched(policy, out, start, stop, seed, tick)
        clock = time.perf_counter
        for i in range(start, stop):
            obs, _ = env.reset(seed=seed + i)
            try:
                policy.reset(seed=seed + i, scenario=env.unwrapped.scenario)
            except UnsupportedScenario as e:
                out.unsupported = f"episode {i}: {e}"
                return out
            v = getattr(policy, "value_estimate", None)
            out.value.append(None if v is None else float(v))
            total, done, info = 0.0, False, {}
            while not done:
                t0 = clock()
                action = policy.act(obs)
                out.act_seconds += clock() - t0
                out.acts += 1
                obs, reward, terminated, truncated, info = env.step(action)
                total += reward
                done = terminated or truncated
            out.profit.append(float(info.get("profit", total)))
            out.sell_through.append(float(info.get("sell_through", np.nan)))
            out.nrc.append(float(info.get("net_recovery_on_cost", np.nan)))
            if tick is not None:
                tick()
        out.resolve_seconds = float(getattr(policy, "solve_seconds", 0.0) or 0.0) - solve0
        return out


    def _run_batched(self, policy: Policy, out: _Chunk, start: int, stop: int, seed: int,
                     tick: Callable[[], None] | None) -> _Chunk:
        """Episodes ``start..stop-1`` at once on the native batched env.

        Copy ``k`` is seeded ``seed + start + k`` exactly as the single env of
        episode ``start + k`` would be, so the draws (and, for a policy
        without per-episode state, the results) are those of the
        one-episode-at-a-time loop; the policy acts once per period for the
        whole batch through ``act_batch``.
        """
        from liqenv.vector import LiquidationBatch

        n = stop - start
        batch = LiquidationBatch(self.scenario_id, n, **self.overrides)
        batch.reset_copies(np.arange(n), [seed + i for i in range(start, stop)])
        policy.reset(seed=seed + start)
        obs = batch.observe()
        clock = time.perf_counter
        while True:
            masks = batch.action_masks() if getattr(policy, "masked", False) else None
            t0 = clock()
            actions = policy.act_batch(obs, masks)
            out.act_seconds += clock() - t0
            out.acts += n
            obs, _, done, _ = batch.step(actions)
            if done.all():  # every copy has the same horizon
                break
        st = batch.state
        units = np.array([sc.total_inventory for sc in batch.scenarios], dtype=float)
        cost = np.array([sc.unit_cost for sc in batch.scenarios])
        v = getattr(policy, "value_estimate", None)
        out.profit.extend(st.profit_total.tolist())
        out.sell_through.extend((st.sold_total / units).tolist())
        out.nrc.extend((st.profit_total / (units * cost)).tolist())
        out.value.extend([None if v is None else float(v)] * n)
        if tick is not None:
            for _ in range(n):
                tick()
        return out


# Parallel workers: the parent sets these before the pool forks, so the
# factories (lambdas included) need not be pickled; with the spawn start
# method the job carries them instead.
_PARENT_FACTORIES: dict[str, PolicyFactory] = {}
_WORKER_RUNNERS: dict[str, _Runner] = {}


@dataclass(frozen=True)
class _Job:
    token: str
    scenario_id: str
    overrides: dict
    labels: tuple[str, ...]
    start: int
    stop: int
    seed: int
    factories: dict | None = None
    vec: str = "auto"


def _run_job(job: _Job) -> dict[str, _Chunk]:
    runner = _WORKER_RUNNERS.get(job.token)
    if runner is None:
        _WORKER_RUNNERS.clear()
        facs = job.factories if job.factories is not None else _PARENT_FACTORIES
        runner = _WORKER_RUNNERS[job.token] = _Runner(job.scenario_id, job.overrides, facs, job.vec)
    return {lab: runner.run(lab, job.start, job.stop, job.seed) for lab in job.labels}


def _split(n: int, parts: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, n, parts + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _progress_bar(total: int, enabled: bool):
    if not enabled or total < 100:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="ep", desc="evaluate", leave=False)


def _run_parallel(scenario_id: str, overrides: dict, factories: dict[str, PolicyFactory],
                  episodes: int, seed: int, workers: int, bar, vec: str = "auto") -> dict[str, list[_Chunk]]:
    global _PARENT_FACTORIES
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork") if "fork" in methods else mp.get_context()
    carried = None if ctx.get_start_method() == "fork" else dict(factories)
    labels = tuple(factories)
    # A few chunks per worker keep the progress bar moving; each worker
    # builds its env and policies once and reuses them for later chunks.
    n_chunks = min(episodes, workers * (4 if bar is not None else 1))
    token = uuid.uuid4().hex
    jobs = [_Job(token, scenario_id, overrides, labels, a, b, seed, carried, vec)
            for a, b in _split(episodes, n_chunks)]
    _PARENT_FACTORIES = dict(factories)
    chunks: dict[str, list[_Chunk]] = {lab: [] for lab in labels}
    try:
        with cf.ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx) as pool:
            futures = {pool.submit(_run_job, job): job for job in jobs}
            for fut in cf.as_completed(futures):
                job = futures[fut]
                for lab, ch in fut.result().items():
                    chunks[lab].append(ch)
                if bar is not None:
                    bar.update((job.stop - job.start) * len(labels))
    finally:
        _PARENT_FACTORIES = {}
    return chunks


# ------------------------------------------------------------------ summary
def _summarise(chunks: list[_Chunk]) -> tuple[dict[str, Any], np.ndarray | None]:
    chunks = sorted(chunks, key=lambda c: c.start)
    for c in chunks:
        if c.unsupported is not None:
            return {"unsupported": c.unsupported}, None
    profit = np.array([p for c in chunks for p in c.profit], float)
    st = np.array([p for c in chunks for p in c.sell_through], float)
    nrc = np.array([p for c in chunks for p in c.nrc], float)
    values = [v for c in chunks for v in c.value]
    acts = sum(c.acts for c in chunks)
    initial = [c.initial_solve for c in chunks if c.initial_solve is not None]
    solve = (float(np.mean(initial)) if initial else 0.0) + sum(c.resolve_seconds for c in chunks)
    res = {
        "mean": float(profit.mean()),
        "ci95": ci_halfwidth(profit),
        "std": float(profit.std(ddof=1)) if profit.size > 1 else float("nan"),
        "sell_through": float(st.mean()),
        "net_recovery_on_cost": float(nrc.mean()),
        "solve_seconds": solve,
        "act_us": 1e6 * sum(c.act_seconds for c in chunks) / acts if acts else float("nan"),
        "value_estimate": (float(np.mean(values)) if values and all(v is not None for v in values)
                           else None),
    }
    return res, profit


def _compare(results: dict[str, dict], profits: dict[str, np.ndarray]) -> None:
    """Add the paired comparisons to the best policy and to SDP."""
    if not profits:
        return
    best = max(profits, key=lambda k: profits[k].mean())
    b = profits[best].mean()
    sdp = profits["sdp"].mean() if "sdp" in profits else None
    for lab, x in profits.items():
        d = x - profits[best]
        results[lab].update({
            "best": best,
            "share_of_best": float(x.mean() / b) if b != 0 else None,
            "share_of_sdp": float(x.mean() / sdp) if sdp not in (None, 0) else None,
            "diff_to_best": float(d.mean()),
            "diff_to_best_ci95": ci_halfwidth(d),
            "profits": x.tolist(),
        })


def evaluate(scenario_id: str, policies: Mapping[str, PolicyFactory | str] | Sequence[str],
             episodes: int, seed: int = 0, overrides: Mapping[str, Any] | None = None,
             workers: int = 1, progress: bool = False, *, unknown: str = "raise",
             vec: str = "auto") -> dict:
    """Run each policy for ``episodes`` episodes on env seeds ``seed .. seed+episodes-1``.

    Args:
        scenario_id: a preset id (``liqenv/SingleStore-v0``; the namespace is
            optional) or a YAML/JSON scenario file.
        policies: names (``baselines.available()``), ``prefix=path`` specs for
            learned models, or a dict label -> name/spec/``factory(env)``.
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

    Returns:
        ``{"scenario", "episodes", "seed", "overrides", "results"}`` where
        ``results[label]`` holds ``mean``, ``ci95`` (t half-width), ``std``,
        ``sell_through``, ``net_recovery_on_cost``, ``solve_seconds``,
        ``act_us``, ``value_estimate`` (the policy's own prediction, the mean
        over episodes when it re-solves, else None), ``best``,
        ``share_of_best``, ``share_of_sdp`` (None without ``sdp``),
        ``diff_to_best`` and its paired ``diff_to_best_ci95``, and the
        per-episode ``profits``; or ``{"unsupported": reason}``.
    """
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes={episodes!r}: must be a positive integer")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers={workers!r}: must be an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r}: must be a non-negative integer")
    if vec not in ("auto", "single"):
        raise ValueError(f"vec={vec!r}: must be 'auto' or 'single'")
    episodes, workers, seed = int(episodes), int(workers), int(seed)
    overrides = dict(overrides or {})
    make_env(scenario_id, overrides)  # a bad scenario or override fails here, once
    resolved = resolve_policies(policies, unknown=unknown)
    factories = {k: v for k, v in resolved.items() if callable(v)}

    bar = _progress_bar(episodes * len(factories), progress)
    try:
        if workers == 1 or episodes == 1 or not factories:
            runner = _Runner(scenario_id, overrides, factories, vec)
            tick = bar.update if bar is not None else None
            chunks = {lab: [runner.run(lab, 0, episodes, seed, tick)] for lab in factories}
        else:
            chunks = _run_parallel(scenario_id, overrides, factories, episodes, seed, workers, bar, vec)
    finally:
        if bar is not None:
            bar.close()

    results: dict[str, dict] = {}
    profits: dict[str, np.ndarray] = {}
    for lab, fac in resolved.items():
        if not callable(fac):
            results[lab] = {"unsupported": fac}
            continue
        results[lab], x = _summarise(chunks[lab])
        if x is not None:
            profits[lab] = x
    _compare(results, profits)
    return {"scenario": scenario_id, "episodes": episodes, "seed": seed, "overrides": overrides,
            "results": results}


# ------------------------------------------------------------------ output
def _fmt(x: Any, spec: str, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{100 * x:{spec}}%" if pct else f"{x:{spec}}"


def format_table(results: dict) -> str:
    """Markdown table: policy, mean, ±95% CI, share of best, share of SDP,
    sell-through, net recovery on cost, solve seconds, microseconds per act."""
    head = ("| policy | mean profit | ±95% CI | share of best | share of SDP | sell-through "
            "| NRC | solve s | µs/act |")
    rows = [head, "|" + "---|" * 9]
    for lab, r in results["results"].items():
        if "unsupported" in r:
            rows.append(f"| {lab} | unsupported: {r['unsupported']} |  |  |  |  |  |  |  |")
            continue
        rows.append(
            f"| {lab} | {_fmt(r['mean'], ',.2f')} | {_fmt(r['ci95'], ',.2f')} "
            f"| {_fmt(r.get('share_of_best'), '.1f', True)} | {_fmt(r.get('share_of_sdp'), '.1f', True)} "
            f"| {_fmt(r['sell_through'], '.1f', True)} | {_fmt(r['net_recovery_on_cost'], '.3f')} "
            f"| {_fmt(r['solve_seconds'], '.3g')} | {_fmt(r['act_us'], '.1f')} |")
    return "\n".join(rows)


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def to_json_dict(results: dict, per_episode: bool = False) -> dict:
    """The JSON schema: ``{"scenario", "episodes", "seed", "overrides", "results"}``.

    Non-finite numbers become ``null``; per-episode profits are dropped
    unless ``per_episode``.
    """
    out_results = {}
    for lab, r in results["results"].items():
        if "unsupported" in r:
            out_results[lab] = {"unsupported": r["unsupported"]}
            continue
        keep = {k: r[k] for k in RESULT_KEYS}
        keep.update({k: v for k, v in r.items()
                     if k not in RESULT_KEYS and (per_episode or k != "profits")})
        out_results[lab] = keep
    return _clean({"scenario": results["scenario"], "episodes": results["episodes"],
                   "seed": results["seed"], "overrides": dict(results["overrides"]),
                   "results": out_results})


def write_json(results: dict, path: str | Path, per_episode: bool = False) -> None:
    """Write :func:`to_json_dict` to ``path`` (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json_dict(results, per_episode), indent=2, allow_nan=False) + "\n")
