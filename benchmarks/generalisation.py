"""The README's generalisation table (issue 11): a factored model trained on 10 stores, run on the 40-store chain.

    python benchmarks/generalisation.py --seeds 0,1 --eval-episodes 20 --eval-seed 0 --workers 2 \\
        --md benchmarks/results/generalisation.md

1. **The small chain**: ``Chain-v1`` restricted to every fourth store
   (``s00, s04, ..., s36``: ten stores, two of them with the lease lock of
   the last nine, as in the full chain), same rules, demand and features,
   written to ``benchmarks/scenarios/chain10.yaml`` by this script.
2. **Training**: the store-factored MaskablePPO (``agents/factored.py``) with
   ``Chain-v1``'s hyperparameters (``agents/hyperparams.yaml``) on that file,
   one run per seed (``agents.job.run_training``, as ``train.py``), into
   ``--runs/chain10/seed<k>``.
3. **Evaluation without retraining** on ``Chain-v1``: each small-chain model
   is moved to the 40-store chain with :func:`agents.factored.transfer` (the
   same weights; only the index maps of stores and pairs change) and
   evaluated with, on the same env seeds ``eval_seed ..`` (common random
   numbers): the models trained on ``Chain-v1`` itself by
   ``benchmarks/ppo_results.py`` (``--chain-runs/seed<k>``; run that first),
   ``store_pds`` and the ``practitioner`` rule.  Rows: mean over seeds of each
   seed's mean profit with a 95% t interval across seeds; baselines: mean and
   95% interval over episodes.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from liqenv.resolve import canonical_scenario  # noqa: E402
from ppo_results import (_ci, _fmt, add_baseline_results_option, add_run_options, copied_baselines,  # noqa: E402
                         parse_seeds, train_runs, train_spec)
from publish import publish_with_json  # noqa: E402

TARGET = "liqenv/Chain-v1"
SMALL_STORES = tuple(range(0, 40, 4))
SMALL_FILE = ROOT / "benchmarks" / "scenarios" / "chain10.yaml"


def small_chain() -> "object":
    """``Chain-v1`` restricted to :data:`SMALL_STORES` (same per-store rules and features)."""
    from liqenv.presets import sub_chain

    return dataclasses.replace(sub_chain(SMALL_STORES), name="Chain10")


def write_small_chain(path: Path | None = None) -> Path:
    """Write :func:`small_chain` as a scenario file (rewritten only when its content changes)."""
    import yaml

    path = SMALL_FILE if path is None else path
    text = yaml.safe_dump(small_chain().to_dict(), sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


class Transferred:
    """Policy factory: the factored model at ``path`` moved to the env it is asked to act on."""

    def __init__(self, path: str):
        self.path = path

    def __call__(self, env):
        from agents.factored import transfer
        from agents.policy import PPOPolicy, load_model

        model, _ = load_model(self.path)
        return PPOPolicy(transfer(model, env), env)


def build_parser() -> argparse.ArgumentParser:
    p = cli.Parser(prog="generalisation.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0,1", help="comma-separated training seeds (small chain and Chain-v1)")
    p.add_argument("--timesteps", type=cli.count(), default=None,
                   help="training steps of a small-chain run (default: Chain-v1's total_timesteps)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="hyperparameter override of the small-chain runs (repeatable)")
    p.add_argument("--eval-episodes", type=cli.count(), default=20, help="evaluation episodes per policy")
    p.add_argument("--eval-seed", type=cli.seed, default=0, help="env seed of the first evaluation episode")
    p.add_argument("--baselines", default="practitioner,store_pds", help="baselines on the same episodes")
    add_baseline_results_option(p)
    p.add_argument("--runs", default="runs/generalisation", help="folder of the small-chain runs")
    p.add_argument("--chain-runs", default="runs/ppo_results/Chain-v1",
                   help="folder of the Chain-v1 runs of benchmarks/ppo_results.py (seed<k>/model.zip)")
    add_run_options(p, "benchmarks/results/generalisation.md")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = "python benchmarks/generalisation.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    try:
        seeds = parse_seeds(args.seeds, [TARGET])
        cli.output_file("--md", args.md, (".md",))
        missing = [s for s in seeds if not (Path(args.chain_runs) / f"seed{s}" / "model.zip").is_file()]
        if missing:
            raise ValueError(f"--chain-runs {args.chain_runs!r}: no model.zip for seed {missing[0]} (train it "
                             f"first: python benchmarks/ppo_results.py --scenarios Chain-v1 --seeds {args.seeds})")
        hp = load_hyperparams(TARGET)
        if hp.policy != "factored":
            raise ValueError("agents/hyperparams.yaml: Chain-v1 does not use policy: factored")
        from baselines.evaluation import parse_overrides

        extra = parse_overrides(args.set)
        sets = [f"{k}={json.dumps(v)}" for k, v in {**hp.to_dict(), **extra}.items()
                if k != "total_timesteps"]
        bl = tuple(b.strip() for b in args.baselines.split(",") if b.strip())
        copied = copied_baselines(args.baseline_results, TARGET, args.eval_seed, args.eval_episodes, skip=bl)
    except ValueError as e:
        print(f"generalisation.py: error: {cli.one_line(e)}", file=sys.stderr)
        return 2

    import torch

    from agents.job import read_state
    from agents.policy import PPOPolicy
    from baselines.evaluation import evaluate

    torch.set_num_threads(1)
    small = write_small_chain()
    ns = argparse.Namespace(set=sets, timesteps=args.timesteps or hp.total_timesteps, force=args.force,
                            vec=None, eval_seed=args.eval_seed)
    runs = {s: Path(args.runs) / "chain10" / f"seed{s}" for s in seeds}
    try:
        sid = canonical_scenario(str(small))
        specs = [train_spec(sid, s, run, ns, ("practitioner",)) for s, run in runs.items()]
    except ValueError as e:
        print(f"generalisation.py: error: {cli.one_line(e)}", file=sys.stderr)
        return 2
    train_runs([s for s in specs if s is not None], args.workers)

    policies: dict = {f"small s{s}": Transferred(str(run / "model.zip")) for s, run in runs.items()}
    policies.update({f"chain s{s}": (lambda p: (lambda env: PPOPolicy(p, env)))(
        str(Path(args.chain_runs) / f"seed{s}" / "model.zip")) for s in seeds})
    policies.update({b: b for b in bl})
    t0 = time.perf_counter()
    res = evaluate(TARGET, policies, episodes=args.eval_episodes, seed=args.eval_seed, workers=args.workers,
                   unknown="report")["results"]
    eval_s = time.perf_counter() - t0
    res.update(copied)
    bl = bl + tuple(copied)
    ran = {b: res[b]["mean"] for b in bl if "mean" in res[b]}
    ref = "store_pds" if "store_pds" in ran else (max(ran, key=ran.get) if ran else None)
    last = args.eval_seed + args.eval_episodes - 1
    steps_small = [read_state(r).curve[-1]["timesteps"] for r in runs.values()]
    steps_chain = [read_state(Path(args.chain_runs) / f"seed{s}").curve[-1]["timesteps"] for s in seeds]
    report: dict = {"command": command, "seeds": seeds, "eval_episodes": args.eval_episodes,
                    "eval_seed": args.eval_seed, "small_chain": _shown(small),
                    "small_stores": list(SMALL_STORES), "eval_seconds": eval_s, "rows": {}}
    lines = [f"Command: `{command}`", "",
             f"Factored MaskablePPO trained on a 10-store chain (`{_shown(small)}`: Chain-v1's "
             f"stores {', '.join(f's{s:02d}' for s in SMALL_STORES)}), evaluated **without retraining** on the "
             f"40-store `Chain-v1` (`agents.factored.transfer`: same weights), against factored models trained on "
             f"`Chain-v1` itself (`benchmarks/ppo_results.py`, same seeds) and the baselines.  Every policy on the "
             f"same {args.eval_episodes} episodes, env seeds {args.eval_seed}..{last} (common random numbers).  "
             f"Model rows: mean over seeds {', '.join(map(str, seeds))} of each seed's mean profit, ±95% t "
             f"interval across seeds; baselines: mean over episodes.", "",
             f"| policy | trained on | steps per seed | mean profit on Chain-v1 | ±95% CI | share of {ref} "
             f"| per-seed mean profit |", "|---|---|---|---|---|---|---|"]
    for key, label, where, steps in (("small", "factored, zero-shot transfer", "10 stores", steps_small),
                                     ("chain", "factored", "Chain-v1 (40 stores)", steps_chain)):
        means = np.array([res[f"{key} s{s}"]["mean"] for s in seeds])
        report["rows"][label] = {"trained_on": where, "seed_means": means.tolist(), "mean": float(means.mean()),
                                 "ci95_across_seeds": _ci(means), "steps": steps}
        share = _fmt(means.mean() / ran[ref], pct=True) if ref else "n/a"
        lines.append(f"| {label} | {where} | {max(steps):,} | {_fmt(float(means.mean()))} | {_fmt(_ci(means))} "
                     f"| {share} | {', '.join(_fmt(float(m)) for m in means)} |")
    for b in bl:
        r = res[b]
        report["rows"][b] = {k: r[k] for k in ("mean", "ci95", "unsupported", "copied_from") if k in r}
        if "unsupported" in r:
            lines.append(f"| {b} | | | unavailable: {r['unsupported']} | | | |")
            continue
        src = f" (from `{Path(r['copied_from']).name}`, same episodes)" if "copied_from" in r else ""
        lines.append(f"| {b}{src} | | | {_fmt(r['mean'])} | {_fmt(r['ci95'])} "
                     f"| {_fmt(r['mean'] / ran[ref], pct=True)} | |")
    publish_with_json(lines, report, args.md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
