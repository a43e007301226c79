"""The README's ablation table (issue 11): flat MLP vs store-factored policy, with and without the effect posterior.

    python benchmarks/ablation.py --scenarios TwoStore-v1,Chain-v1 --seeds 0,1 --eval-episodes 100 \\
        --eval-seed 0 --workers 2 --md benchmarks/results/ablation.md

Four variants of the scenario's MaskablePPO (hyperparameters of
``agents/hyperparams.yaml``, the variant's keys replaced):

* ``factored``: :class:`agents.factored.FactoredMaskablePolicy`;
* ``flat MLP``: :class:`agents.maskable.FastMaskablePolicy` with the
  scenario's ``net_arch`` over the whole observation;
* each **with** the effect posterior (``<store>.effect_mean``,
  ``<store>.effect_sd``, the observation of the ``-v1`` chains) or
  **without** it (``hide_features: [effect_mean, effect_sd]``: the policy sees
  those columns as 0; same network, same budget).  Scenarios with no hidden
  store effect (``TwoStore-v1``: its demand is observed) have no posterior
  columns, and the table says so instead of a row.

Every variant is trained with the same seeds (``agents.job.run_training``, as
``train.py``; ``--workers`` runs at a time) and every run is evaluated with
the baselines in one ``baselines.evaluation.evaluate`` call on the same env
seeds ``eval_seed ..`` (common random numbers; training and model selection
never used them).  A variant whose hyperparameters equal those of a finished
run of ``benchmarks/ppo_results.py`` (``--published-runs``, folder
``<scenario>/seed<k>``) reuses that run; the others train into
``--runs/<scenario>/<variant>/seed<k>``.  Rows: mean over seeds of
each seed's mean profit, 95% t interval across seeds, share of the
reference (the best baseline in the table), and the paired difference to the
full model (factored, with posterior) on the same episodes.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from agents.config import load_hyperparams  # noqa: E402
from liqenv import cli  # noqa: E402
from liqenv.resolve import resolve_scenario, short_name  # noqa: E402
from ppo_results import _ci, _fmt, add_run_options, hp_overrides, parse_seeds, train_runs, train_spec  # noqa: E402
from publish import publish_with_json  # noqa: E402

POSTERIOR = ("effect_mean", "effect_sd")
HIDE = "hide_features=" + json.dumps(list(POSTERIOR))
#: label -> (slug, --set overrides); the first is the full model the others are compared with
VARIANTS = {
    "factored, with posterior": ("factored", ["policy=factored"]),
    "factored, without posterior": ("factored-noposterior", ["policy=factored", HIDE]),
    "flat MLP, with posterior": ("mlp", ["policy=mlp"]),
    "flat MLP, without posterior": ("mlp-noposterior", ["policy=mlp", HIDE]),
}


def build_parser() -> argparse.ArgumentParser:
    p = cli.Parser(prog="ablation.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--scenarios", default="TwoStore-v1,Chain-v1", help="comma-separated scenario ids")
    p.add_argument("--seeds", default="0,1", help="comma-separated training seeds")
    p.add_argument("--timesteps", type=cli.count(), default=None,
                   help="training steps per run (default: total_timesteps in agents/hyperparams.yaml)")
    p.add_argument("--eval-episodes", type=cli.count(), default=100, help="evaluation episodes per policy")
    p.add_argument("--eval-seed", type=cli.seed, default=0, help="env seed of the first evaluation episode")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="hyperparameter override for every variant (repeatable; as train.py --set)")
    p.add_argument("--baselines", default="practitioner",
                   help="comma-separated baselines evaluated on the same episodes")
    p.add_argument("--variants", default=",".join(slug for slug, _ in VARIANTS.values()),
                   help="comma-separated variants to run (" + ", ".join(slug for slug, _ in VARIANTS.values()) + ")")
    p.add_argument("--runs", default="runs/ablation", help="folder of the variants' training runs")
    p.add_argument("--published-runs", default="runs/ppo_results",
                   help="folder of benchmarks/ppo_results.py's runs (reused for the published variant)")
    add_run_options(p, "benchmarks/results/ablation.md")
    return p


def _has_posterior(sid: str) -> bool:
    from liqenv.spaces import ObservationLayout

    names = ObservationLayout(resolve_scenario(sid)[1]).feature_names()
    return all(any(n.endswith("." + f) for n in names) for f in POSTERIOR)


def variant_runs(sid: str, seeds: list[int], args) -> dict[str, dict[int, Path]]:
    """label -> seed -> run folder of the variants that apply to ``sid``; trains what is missing.

    A finished run of ``--published-runs`` is reused for a variant when it was
    trained with exactly the variant's hyperparameters (``state.json``).
    """
    from agents.job import read_state

    short = short_name(sid)
    out: dict[str, dict[int, Path]] = {}
    specs = []
    for label, (slug, sets) in VARIANTS.items():
        if slug not in args.variants.split(",") or (HIDE in sets and not _has_posterior(sid)):
            continue
        ns = argparse.Namespace(set=[*args.set, *sets], timesteps=args.timesteps, force=args.force, vec=None,
                                eval_seed=args.eval_seed)
        hp = load_hyperparams(sid, hp_overrides(ns)).to_dict()
        out[label] = {}
        for seed in seeds:
            published = Path(args.published_runs) / short / f"seed{seed}"
            if (not args.force and (published / "results.json").is_file()
                    and read_state(published).hyperparams == hp):
                out[label][seed] = published
                continue
            out[label][seed] = run = Path(args.runs) / short / slug / f"seed{seed}"
            spec = train_spec(sid, seed, run, ns, ("practitioner",))
            if spec is not None:
                specs.append(spec)
    train_runs(specs, args.workers)
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = "python benchmarks/ablation.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    try:
        sids = [resolve_scenario(s.strip())[0] for s in args.scenarios.split(",") if s.strip()]
        seeds = parse_seeds(args.seeds, sids)
        slugs = [v.strip() for v in args.variants.split(",") if v.strip()]
        known = [slug for slug, _ in VARIANTS.values()]
        if not slugs or any(v not in known for v in slugs) or slugs[0] != known[0]:
            raise ValueError(f"--variants {args.variants!r}: a comma-separated subset of {', '.join(known)}, "
                             f"starting with {known[0]} (the model the others are compared with)")
        common = argparse.Namespace(set=args.set, timesteps=args.timesteps)
        for sid in sids:
            if load_hyperparams(sid, hp_overrides(common)).algo != "maskable-ppo":
                raise ValueError(f"--scenarios {short_name(sid)}: a single-store scenario (PPO, no stores "
                                 f"to factor); the ablation is for the multi-store scenarios")
        cli.output_file("--md", args.md, (".md",))
        bl = tuple(b.strip() for b in args.baselines.split(",") if b.strip())
    except ValueError as e:
        print(f"ablation.py: error: {cli.one_line(e)}", file=sys.stderr)
        return 2

    import torch

    from agents.job import read_state
    from agents.policy import PPOPolicy
    from baselines.evaluation import evaluate

    torch.set_num_threads(1)
    report: dict = {"command": command, "seeds": seeds, "eval_episodes": args.eval_episodes,
                    "eval_seed": args.eval_seed, "scenarios": {}}
    last = args.eval_seed + args.eval_episodes - 1
    lines = [f"Command: `{command}`", "",
             f"Training seeds {', '.join(map(str, seeds))} per variant (fewer than the 5 of the main tables); "
             f"every run and baseline evaluated on the same {args.eval_episodes} episodes, env seeds "
             f"{args.eval_seed}..{last} (common random numbers), which neither training nor model selection "
             f"used.  Variant rows: mean over seeds of each seed's mean profit, ±95% t interval across seeds "
             f"(n/a with one seed); 'paired difference': the variant minus the full model (factored, with "
             f"posterior) on the same episodes, mean over seeds.  'Without posterior' hides the "
             f"`<store>.effect_mean` and `<store>.effect_sd` columns from the policy (`hide_features`).", ""]
    for sid in sids:
        runs = variant_runs(sid, seeds, args)
        policies: dict = {}
        for label, by_seed in runs.items():
            for seed, run in by_seed.items():
                policies[f"{label} s{seed}"] = (lambda p: (lambda env: PPOPolicy(p, env)))(str(run / "model.zip"))
        policies.update({b: b for b in bl})
        t0 = time.perf_counter()
        res = evaluate(sid, policies, episodes=args.eval_episodes, seed=args.eval_seed, workers=args.workers,
                       unknown="report")["results"]
        eval_s = time.perf_counter() - t0
        ran = {b: res[b]["mean"] for b in bl if "mean" in res[b]}
        ref = max(ran, key=ran.get) if ran else None
        full = next(iter(runs))
        entry: dict = {"reference": ref, "eval_seconds": eval_s, "variants": {}, "baselines": {}}
        lines += [f"### {sid}", "",
                  f"| policy | seeds | steps per seed | mean profit | ±95% CI | share of {ref or 'n/a'} "
                  f"| per-seed mean profit | paired difference to {full} |",
                  "|---|---|---|---|---|---|---|---|"]
        for label, by_seed in runs.items():
            means = np.array([res[f"{label} s{s}"]["mean"] for s in seeds])
            diffs = [float((np.asarray(res[f"{label} s{s}"]["profits"])
                            - np.asarray(res[f"{full} s{s}"]["profits"])).mean()) for s in seeds]
            steps = [read_state(run).curve[-1]["timesteps"] if read_state(run).curve else 0
                     for run in by_seed.values()]
            walls = [read_state(run).train_seconds for run in by_seed.values()]
            entry["variants"][label] = {"runs": {str(s): str(r) for s, r in by_seed.items()},
                                        "seed_means": means.tolist(), "mean": float(means.mean()),
                                        "ci95_across_seeds": _ci(means), "paired_difference_by_seed": diffs,
                                        "train_seconds": walls, "steps": steps}
            share = _fmt(means.mean() / ran[ref], pct=True) if ref else "n/a"
            diff = "" if label == full else f"{np.mean(diffs):+,.2f}"
            lines.append(f"| {label} | {len(seeds)} | {max(steps):,} | {_fmt(float(means.mean()))} "
                         f"| {_fmt(_ci(means))} | {share} | {', '.join(_fmt(float(m)) for m in means)} | {diff} |")
        if not _has_posterior(sid):
            lines.append(f"| without posterior | | | n/a: {short_name(sid)} has no hidden store effect (its "
                         f"demand is observed), so there are no posterior columns to hide | | | | |")
        for b in bl:
            r = res[b]
            entry["baselines"][b] = {k: r[k] for k in ("mean", "ci95", "unsupported") if k in r}
            if "unsupported" in r:
                lines.append(f"| {b} | unavailable: {r['unsupported']} | | | | | | |")
                continue
            lines.append(f"| {b} | | | {_fmt(r['mean'])} | {_fmt(r['ci95'])} "
                         f"| {_fmt(r['mean'] / ran[ref], pct=True)} | | |")
        report["scenarios"][sid] = entry
        skipped = [label for label, (slug, sets) in VARIANTS.items()
                   if slug not in slugs and (HIDE not in sets or _has_posterior(sid))]
        if skipped:
            lines += ["", f"Not run this time (`--variants`): {', '.join(skipped)}."]
        lines.append("")
    publish_with_json(lines, report, args.md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
