"""Regenerate the README's PPO results: several training seeds per scenario against the baselines.

    python benchmarks/ppo_results.py --scenarios SingleStore-v0,SingleStoreExp-v1,SingleStoreWeibull-v1,Weekend-v0 \\
        --seeds 0,1,2,3,4 --eval-episodes 1000 --eval-seed 0

For each scenario and seed it runs the training job of ``train.py``
(:func:`agents.job.run_training`, hyperparameters from
``agents/hyperparams.yaml``; ``--timesteps`` overrides them) into
``--runs/<scenario>/seed<k>``, then evaluates every seed's best model and the
baselines in one ``baselines.evaluation.evaluate`` call on the same env
seeds ``eval_seed ..`` (common random numbers: every policy meets the same
customers; training and model selection never used these seeds).  The PPO
row is the mean over seeds of each seed's mean profit with a 95% t interval
across seeds; the baseline rows are means over episodes.  Writes the
markdown (first line: the command) to ``--md`` and all the numbers to the
JSON beside it.  Runs already finished in ``--runs`` are reused when they
were trained with the hyperparameters the file gives now (otherwise it stops
and asks for ``--force``), unfinished ones resumed; ``--force`` retrains.
``--workers N`` trains N seeds at a time (one core each) and evaluates
with N processes.  ``--ray`` trains the seeds as Ray Tune trials instead
(:mod:`agents.sweep`: one per core of a local Ray, or of the cluster that
``--address`` joins; a failed run restarts from its last checkpoint) and
splits the evaluation over Ray's CPUs; the run folders, tables and JSON are
the same.

One 300k-step single-store run (train.py, validations included) took
45-65 s on one core of the shared 2-core development machine; the four
single-store scenarios with five seeds took about 20 minutes, of which the
final evaluation (batched, 1,000 episodes per policy) about 20 s.  The chain
scenarios (MaskablePPO, 40 stores) train at about 1,000-1,700 steps per
second with :mod:`agents.maskable`; their baselines ``store_pds`` and
``craig_raman`` re-solve every period (seconds per episode), so the training
runs leave them out of their validations and the final table uses fewer
episodes (``--eval-episodes 20``).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from agents.config import Hyperparams, load_hyperparams  # noqa: E402
from agents.job import read_state, run_training  # noqa: E402
from liqenv import cli  # noqa: E402
from liqenv.resolve import canonical_scenario, resolve_scenario, short_name  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/publish.py, also when imported
from publish import publish_with_json  # noqa: E402

SINGLE = ("SingleStore-v0", "SingleStoreExp-v1", "SingleStoreWeibull-v1", "Weekend-v0")
#: Baselines each scenario is compared with (unavailable ones are reported as such).
BASELINES = {
    **{s: ("sdp", "pds", "fp") for s in SINGLE},
    "SingleStoreLarge-v0": ("pds", "pas", "fp"),
    "TwoStore-v1": ("exact_dp", "practitioner", "store_pds", "craig_raman"),
    "Chain-v1": ("practitioner", "sdp", "store_pds", "craig_raman"),
    "TransferChain-v1": ("practitioner", "sdp", "store_pds", "craig_raman"),
    "DistributionCentre-v1": ("practitioner", "store_pds"),
}
#: Baselines of the training runs' own validation curves and tables, where they
#: differ from BASELINES: on the multi-store scenarios the others take seconds
#: per episode (re-solving every period, or every drawn grid point) or a
#: minute to solve, and their figures come from the final table here.
TRAIN_BASELINES = {s: ("practitioner",) for s in
                   ("TwoStore-v1", "Chain-v1", "TransferChain-v1", "DistributionCentre-v1")}
#: Exact optima a scenario's shares are taken of (where one is exact there), and their labels.
OPTIMUM = {"exact_dp": "exact DP", "sdp": "SDP"}


def reference(scenario, base: dict) -> tuple[str | None, str]:
    """The baseline a scenario's shares are taken of, and its column label.

    The exact DP where it ran (``TwoStore-v1``); SDP where it is the optimum:
    one store, or independent stores (no transfers) with no hidden store
    effect.  With hidden effects (``Chain-v1``) SDP integrates each store's
    effect over its prior once, so policies that re-estimate it from sales
    (store_pds, craig_raman) can beat it: there, and wherever no exact
    optimum runs, the reference is the best analytic policy in the table.
    """
    ran = {b: r["mean"] for b, r in base.items() if "mean" in r}
    if "exact_dp" in ran:
        return "exact_dp", OPTIMUM["exact_dp"]
    hidden = getattr(scenario.demand, "store_effect_cv", 0.0) > 0
    if "sdp" in ran and (scenario.n_stores == 1 or (scenario.transfers is None and not hidden)):
        return "sdp", OPTIMUM["sdp"]
    if not ran:
        return None, "n/a"
    best = max(ran, key=ran.get)
    return best, f"best analytic ({best})"

_CAP = ("List price {}: with {} valuations the best price lies above the valuation scale 1 "
        "(Yang et al. price continuously), so the ladder version sets the list price where the optimum "
        "lies inside the ladder (at list price 1 every policy sold all 100 units at list for exactly 100).")
NOTES = {"SingleStoreExp-v1": _CAP.format("3.0", "Exponential(1)"),
         "SingleStoreWeibull-v1": _CAP.format("1.5", "Weibull(4)")}


def add_run_options(p: argparse.ArgumentParser, md: str) -> None:
    """``--md``, ``--workers`` and ``--force``: the options every training-table script shares."""
    p.add_argument("--md", default=md, help="markdown output (JSON beside it)")
    p.add_argument("--workers", type=cli.count(1, 1024), default=1,
                   help="training runs at a time, and processes for the evaluation")
    p.add_argument("--force", action="store_true", help="retrain runs that already exist")


def add_baseline_results_option(p: argparse.ArgumentParser) -> None:
    """``--baseline-results``: the option of :func:`copied_baselines`."""
    p.add_argument("--baseline-results", default=None,
                   help="JSON of an earlier ppo_results.py run on the same episodes: its baseline rows are "
                        "copied (with their per-episode profits), not replayed")


def copied_baselines(path: str | None, sid: str, eval_seed: int, eval_episodes: int,
                     wanted: tuple[str, ...] | None = None, skip: tuple[str, ...] = ()) -> dict[str, dict]:
    """Rows of the baselines ``wanted`` (default: all but ``skip``) that ``path``, a ``ppo_results.py`` JSON, holds for ``sid``.

    The analytic policies are deterministic given the episode's seed, so
    their profits on the same env seeds are the same numbers; copying them
    saves re-solving ``store_pds`` and ``craig_raman`` (seconds per chain
    episode) for every table of the same episodes.  A row is copied only
    with its per-episode ``profits`` (the paired differences need them).
    ValueError (one line) when the file is not such a JSON or its episodes
    differ from ``eval_seed``/``eval_episodes``.
    """
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text())
        entry = data["scenarios"][sid]
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"--baseline-results {path!r}: not a ppo_results.py JSON with {sid}") from None
    if (data.get("eval_seed"), data.get("eval_episodes")) != (eval_seed, eval_episodes):
        raise ValueError(f"--baseline-results {path!r}: its episodes (seed {data.get('eval_seed')}, "
                         f"{data.get('eval_episodes')} episodes) are not --eval-seed {eval_seed}, "
                         f"--eval-episodes {eval_episodes}")
    return {b: {**r, "copied_from": str(path)} for b, r in entry.get("baselines", {}).items()
            if (wanted is None or b in wanted) and b not in skip and "profits" in r
            and len(r["profits"]) == eval_episodes}


def build_parser() -> argparse.ArgumentParser:
    p = cli.Parser(prog="ppo_results.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--scenarios", default=",".join(SINGLE), help="comma-separated scenario ids")
    p.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated training seeds")
    p.add_argument("--timesteps", type=cli.count(), default=None,
                   help="training steps per run (default: total_timesteps in agents/hyperparams.yaml)")
    p.add_argument("--eval-episodes", type=cli.count(), default=1000, help="evaluation episodes per policy")
    p.add_argument("--eval-seed", type=cli.seed, default=0, help="env seed of the first evaluation episode")
    p.add_argument("--runs", default="runs/ppo_results", help="folder of the training runs")
    add_run_options(p, "benchmarks/results/ppo.md")
    p.add_argument("--vec", choices=("native", "dummy"), default=None, help="train.py --vec")
    p.add_argument("--ray", action="store_true",
                   help="train the runs as Ray Tune trials (agents.sweep; a local Ray on this machine's cores)")
    p.add_argument("--address", default=None,
                   help="with --ray: join this Ray cluster (auto, host:port, ray://host:port)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="hyperparameter override for every run (repeatable; as train.py --set)")
    p.add_argument("--baselines", default=None,
                   help="comma-separated baselines of the table (default: the scenario's in BASELINES)")
    add_baseline_results_option(p)
    return p


def parse_seeds(text: str, sids: list[str]) -> list[int]:
    """``--seeds``: distinct integer seeds; ValueError (one line) otherwise, or for no/twice-given ``sids``."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds {text!r}: expected comma-separated integers") from None
    if len(set(seeds)) < len(seeds) or len(set(sids)) < len(sids):
        raise ValueError("--scenarios/--seeds: a scenario or seed is given twice")
    if not sids or not seeds:
        raise ValueError("--scenarios and --seeds: need at least one each")
    if any(not 0 <= s <= cli.MAX_SEED for s in seeds):
        raise ValueError(f"--seeds {text!r}: seeds must be in [0, {cli.MAX_SEED}]")
    return seeds


def hp_overrides(args) -> dict:
    """The hyperparameters ``--timesteps`` and ``--set`` give (ValueError naming a bad one)."""
    from baselines.evaluation import parse_overrides
    from agents.config import Hyperparams

    sets = parse_overrides(args.set)
    bad = sorted(set(sets) - set(Hyperparams.keys()))
    if bad:
        raise ValueError(f"--set {bad[0]}: not a hyperparameter (known: {', '.join(Hyperparams.keys())})")
    return {**sets, **({"total_timesteps": args.timesteps} if args.timesteps else {})}


def _ci(x: np.ndarray) -> float:
    if x.size < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


def _fmt(x, spec=",.2f", pct=False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{100 * x:.2f}%" if pct else f"{x:{spec}}"


def train_spec(sid: str, seed: int, out: Path, args, baselines: tuple[str, ...]):
    """The :class:`agents.job.TrainSpec` of one run (as ``train.py`` would build it from its
    command line), or None when a finished run with the same hyperparameters is reused
    (ValueError when they differ)."""
    import train

    over = hp_overrides(args)
    hp = load_hyperparams(sid, over)
    if (out / "results.json").is_file() and not args.force:
        state = read_state(out)
        try:  # the run's scenario, compared in one spelling (liqenv/<id> or the file's absolute path)
            theirs = canonical_scenario(state.args.get("scenario", sid))
        except ValueError:
            theirs = state.args.get("scenario")
        if theirs != sid:
            raise ValueError(f"{out}: trained on {theirs!r}, not {sid!r}; pass --force to retrain")
        # a hyperparameter newer than the run is compared at its default (what the run had)
        default = Hyperparams().to_dict()
        changed = sorted(k for k, v in hp.to_dict().items() if state.hyperparams.get(k, default[k]) != v)
        if changed:
            k = changed[0]
            raise ValueError(f"{out}: trained with {k}={state.hyperparams.get(k)!r}, the hyperparameters "
                             f"now say {getattr(hp, k)!r}; pass --force to retrain")
        print(f"reusing {out}", flush=True)
        return None
    quick = TRAIN_BASELINES.get(short_name(sid), baselines)
    argv = ["--scenario", sid, "--seed", str(seed), "--out", str(out), "--timesteps", str(hp.total_timesteps),
            "--baselines", ",".join(quick), "--no-progress", "--eval-episodes", "200",
            "--eval-seed", str(args.eval_seed)]
    for key, value in over.items():
        if key != "total_timesteps":
            argv += ["--set", f"{key}={json.dumps(value)}"]  # JSON is YAML: read back as the same value
    if args.vec:
        argv += ["--vec", args.vec]
    if out.exists():
        argv += ["--force"] if args.force else ["--resume"]
    try:
        return train.make_spec(*train.parse_args(argv), argv)
    except train.UsageError as e:
        raise ValueError(str(e)) from None


def _train(spec) -> None:
    result = run_training(spec)
    if result.interrupted:
        raise KeyboardInterrupt


def train_runs(specs: list, workers: int, ray: bool = False) -> None:
    """Run the training jobs (:func:`agents.job.run_training`), ``workers`` at a time (one core each),
    or with ``ray`` as Tune trials (:func:`agents.sweep.run_specs`; Ray already initialised)."""
    for spec in specs:
        print(f"+ train {spec.scenario} seed {spec.seed} -> {spec.out}", flush=True)
    if ray and specs:
        from agents.sweep import run_specs

        runs = Path(specs[0].out).parents[1]
        run_specs(specs, runs / "_ray", f"{Path(specs[0].out).parent.name}-{time.strftime('%Y%m%d-%H%M%S')}")
        return
    if workers == 1 or len(specs) <= 1:
        for spec in specs:
            _train(spec)
        return
    import concurrent.futures as cf
    import multiprocessing as mp

    with cf.ProcessPoolExecutor(min(workers, len(specs)), mp_context=mp.get_context("spawn")) as pool:
        for f in [pool.submit(_train, spec) for spec in specs]:
            f.result()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = "python benchmarks/ppo_results.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    try:
        sids = [resolve_scenario(s.strip())[0] for s in args.scenarios.split(",") if s.strip()]
        seeds = parse_seeds(args.seeds, sids)
        cli.output_file("--md", args.md, (".md",))
        cli.output_file("--runs", args.runs, folder=True)
        load_hyperparams(sids[0], hp_overrides(args))  # a bad --set fails before any training
        if args.baselines is not None:
            import baselines  # noqa: F401  (registers the baselines)
            from liqenv.evaluation.registry import available as registered

            chosen = [b.strip() for b in args.baselines.split(",") if b.strip()]
            unknown = [b for b in chosen if b not in registered()]
            if unknown:
                raise ValueError(f"--baselines {unknown[0]!r}: unknown policy (known: {', '.join(registered())})")
        for sid in sids:  # a --baseline-results of other episodes fails before any training
            copied_baselines(args.baseline_results, sid, args.eval_seed, args.eval_episodes)
        if args.address is not None and not args.ray:
            raise ValueError("--address: needs --ray")
        if args.ray:
            from agents.sweep import init_ray

            init_ray(args.address)
    except ValueError as e:
        print(f"ppo_results.py: error: {cli.one_line(e)}", file=sys.stderr)
        return 2

    import torch

    from agents.policy import PPOPolicy
    from baselines.evaluation import evaluate, make_env

    torch.set_num_threads(1)
    report: dict = {"command": command, "seeds": seeds, "eval_episodes": args.eval_episodes,
                    "eval_seed": args.eval_seed, "scenarios": {}}
    lines = [f"Command: `{command}`", "",
             f"PPO trained with seeds {', '.join(map(str, seeds))} (hyperparameters: agents/hyperparams.yaml"
             f"{''.join(f', {kv}' for kv in args.set)}); "
             f"every policy evaluated on the same {args.eval_episodes} episodes, env seeds "
             f"{args.eval_seed}..{args.eval_seed + args.eval_episodes - 1} (common random numbers), "
             f"which neither training nor model selection used.  PPO: mean over seeds of each seed's "
             f"mean profit, ±95% t interval across seeds; baselines: mean over episodes, ±95% t interval.",
             ""]
    for sid in sids:
        short = short_name(sid)
        bl = (tuple(b.strip() for b in args.baselines.split(",") if b.strip()) if args.baselines is not None
              else BASELINES.get(short, ()))
        hp = load_hyperparams(sid, hp_overrides(args))
        outs = {seed: Path(args.runs) / short / f"seed{seed}" for seed in seeds}
        try:
            specs = [train_spec(sid, seed, out, args, bl) for seed, out in outs.items()]
        except ValueError as e:
            print(f"ppo_results.py: error: {cli.one_line(e)}", file=sys.stderr)
            return 2
        train_runs([s for s in specs if s is not None], args.workers, ray=args.ray)
        walls = {seed: read_state(out).train_seconds for seed, out in outs.items()}
        policies: dict = {f"ppo_s{s}": (lambda p: (lambda env: PPOPolicy(p, env)))(
            str(Path(args.runs) / short / f"seed{s}" / "model.zip")) for s in seeds}
        copied = copied_baselines(args.baseline_results, sid, args.eval_seed, args.eval_episodes, bl)
        if hp.warm_start is not None:
            policies.update({f"clone_s{s}": (lambda p: (lambda env: PPOPolicy(p, env)))(
                str(Path(args.runs) / short / f"seed{s}" / "warm_start.zip")) for s in seeds})
        policies.update({b: b for b in bl if b not in copied})
        t0 = time.perf_counter()
        res = evaluate(sid, policies, episodes=args.eval_episodes, seed=args.eval_seed,
                       workers=args.workers, unknown="report",
                       engine="ray" if args.ray else "processes")["results"]
        eval_s = time.perf_counter() - t0
        res.update(copied)
        ppo = np.array([res[f"ppo_s{s}"]["mean"] for s in seeds])
        base = {b: res[b] for b in bl}
        ref, label = reference(make_env(sid).unwrapped.scenario, base)
        ref_mean = base[ref]["mean"] if ref else None  # the reference profit (see reference())
        entry = {"algo": hp.algo, "timesteps": args.timesteps or hp.total_timesteps,
                 "ppo_seed_means": dict(zip(map(str, seeds), ppo.tolist())),
                 "ppo_mean": float(ppo.mean()), "ppo_ci95_across_seeds": _ci(ppo),
                 "train_seconds": walls, "eval_seconds": eval_s,
                 "baselines": {b: {k: r[k] for k in ("mean", "ci95", "profits", "copied_from", "unsupported")
                                   if k in r} for b, r in base.items()}}
        if hp.warm_start is not None:  # the clones' own profits: what PPO's fine-tuning added
            clones = np.array([res[f"clone_s{s}"]["mean"] for s in seeds])
            entry["warm_start"] = {"baseline": hp.warm_start, "clone_seed_means": dict(zip(map(str, seeds),
                                                                                             clones.tolist())),
                                   "clone_mean": float(clones.mean()), "clone_ci95_across_seeds": _ci(clones),
                                   "cloning": {str(s): read_state(out).warm_start for s, out in outs.items()}}
        entry["reference"] = ref
        entry["reference_is_optimum"] = ref in OPTIMUM
        if ref_mean:
            entry["ppo_share_of_reference"] = float(ppo.mean() / ref_mean)
            entry["ppo_share_of_reference_by_seed"] = (ppo / ref_mean).tolist()
        report["scenarios"][sid] = entry
        lines += [f"### {sid}", "",
                  f"{hp.algo}, {entry['timesteps']:,} training steps per seed; training time per seed "
                  f"(validations included): {', '.join(f'{w:.0f} s' for w in walls.values())}.", "",
                  f"| policy | mean profit | ±95% CI | share of {label} | per-seed share of {label} "
                  "| PPO minus this policy (paired, mean over seeds) | seeds where PPO is above (95% paired CI) |",
                  "|---|---|---|---|---|---|---|"]
        per_seed = (", ".join(_fmt(x, pct=True) for x in ppo / ref_mean) if ref_mean else "n/a")
        warm = f", warm-started from {hp.warm_start}" if hp.warm_start is not None else ""
        lines.append(f"| PPO{warm} ({len(seeds)} seeds) | {_fmt(float(ppo.mean()))} | {_fmt(_ci(ppo))} "
                     f"| {_fmt(ppo.mean() / ref_mean, pct=True) if ref_mean else 'n/a'} | {per_seed} |  |  |")
        if hp.warm_start is not None:
            ws = entry["warm_start"]
            clones = np.array(list(ws["clone_seed_means"].values()))
            per_clone = ", ".join(_fmt(x, pct=True) for x in clones / ref_mean) if ref_mean else "n/a"
            lines.append(f"| its clone of {hp.warm_start} before PPO ({len(seeds)} seeds) | "
                         f"{_fmt(ws['clone_mean'])} | {_fmt(ws['clone_ci95_across_seeds'])} "
                         f"| {_fmt(clones.mean() / ref_mean, pct=True) if ref_mean else 'n/a'} | {per_clone} |  |  |")
        for b, r in base.items():
            if "unsupported" in r:
                lines.append(f"| {b} | unavailable: {r['unsupported']} |  |  |  |  |  |")
                continue
            diffs = [np.asarray(res[f"ppo_s{s}"]["profits"]) - np.asarray(r["profits"]) for s in seeds]
            d_mean = [float(d.mean()) for d in diffs]
            above = sum(float(d.mean()) - _ci(d) > 0 for d in diffs)
            entry["baselines"][b]["ppo_minus_by_seed"] = d_mean
            entry["baselines"][b]["ppo_minus_ci95_by_seed"] = [_ci(d) for d in diffs]
            src = f" (from `{Path(r['copied_from']).name}`, same episodes)" if "copied_from" in r else ""
            lines.append(f"| {b}{src} | {_fmt(r['mean'])} | {_fmt(r['ci95'])} "
                         f"| {_fmt(r['mean'] / ref_mean, pct=True) if ref_mean else 'n/a'} |  "
                         f"| {round(float(np.mean(d_mean)), 3) + 0.0:+.3f} | {above}/{len(seeds)} |")
        if short in NOTES:
            lines += ["", NOTES[short]]
        lines.append("")
    if args.ray:
        import ray

        ray.shutdown()
    publish_with_json(lines, report, args.md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
