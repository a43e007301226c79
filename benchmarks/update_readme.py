"""Regenerate the README's generated sections.

Usage::

    python benchmarks/update_readme.py

The scenario table and the observation/action layouts are generated from
the code; every other section between ``<!-- BEGIN name -->`` and
``<!-- END name -->`` markers is copied from ``benchmarks/results/name.md``,
which the benchmark scripts write (each file starts with the command and
seed that produced it).  A missing results file leaves a note saying which
script produces it, never a hand-typed number.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from liqenv import cli

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PRODUCERS = {
    "throughput": "python benchmarks/throughput.py",
    "yang": "python benchmarks/reproduce_yang.py",
    "craig_raman": "python benchmarks/reproduce_craig_raman.py",
    "sdp_speed": "python benchmarks/sdp_speed.py",
    "pds_speed": "python benchmarks/pds_speed.py",
    "ppo": "python benchmarks/ppo_results.py",
    "ppo_multistore": "python benchmarks/ppo_results.py --scenarios TwoStore-v1 --seeds 0,1,2,3,4 "
                      "--eval-episodes 300 --workers 2 --md benchmarks/results/ppo_multistore.md",
    "ppo_chain": "python benchmarks/ppo_results.py --scenarios Chain-v1 --seeds 0,1,2,3,4 --eval-episodes 100 "
                 "--workers 2 --baselines practitioner,store_pds,craig_raman --md benchmarks/results/ppo_chain.md",
    "ppo_chain_warmstart": "python benchmarks/ppo_results.py --scenarios Chain-v1 --seeds 0,1,2,3,4 --runs runs/warm_start "
                           "--set warm_start=store_pds --set warm_start_epochs=50 --set learning_rate=3e-4 "
                           "--timesteps 300000 --eval-episodes 100 --baselines practitioner,store_pds,craig_raman "
                           "--baseline-results benchmarks/results/ppo_chain.json --workers 2 "
                           "--md benchmarks/results/ppo_chain_warmstart.md",
    "ppo_transferchain": "python benchmarks/ppo_results.py --scenarios TransferChain-v1 --seeds 0,1,2,3,4 "
                         "--eval-episodes 20 --workers 2 --md benchmarks/results/ppo_transferchain.md",
    "ablation": "python benchmarks/ablation.py --scenarios TwoStore-v1,Chain-v1 --seeds 0 --eval-episodes 20 "
                "--workers 1 --variants factored,factored-noposterior,mlp --md benchmarks/results/ablation.md",
    "generalisation": "python benchmarks/generalisation.py --seeds 0,1 --eval-episodes 100 --workers 2 "
                      "--baselines practitioner --baseline-results benchmarks/results/ppo_chain.json "
                      "--md benchmarks/results/generalisation.md",
    "policy_throughput": "python benchmarks/policy_throughput.py --scenario Chain-v1",
    "leaderboard": "python benchmarks/suite_references.py --workers 2 && python benchmarks/leaderboard.py --workers 2",
    "bombard": "LIQENV_BOMBARD_MD=benchmarks/results/bombard.md python -m pytest -q tests/test_bombard.py",
    "ray_estimate": "python benchmarks/ray_estimate.py",
    "ray_overhead": "python benchmarks/ray_overhead.py --scenario SingleStore-v0 --seeds 0,1,2,3 --timesteps 300000",
    "sweep": "python benchmarks/sweep_results.py --scenario SingleStore-v0 --samples 16 --search-seed 0 --seeds 1,2,3 --timesteps 100000",
}


def scenario_table() -> str:
    import liqenv
    from liqenv.spaces import ActionLayout, ObservationLayout

    rows = ["| id | source | stores | periods | units | demand | rules | action space | obs |",
            "|---|---|---:|---:|---:|---|---|---|---:|"]
    for name, make in liqenv.PRESETS.items():
        sc = make()
        al, ol = ActionLayout(sc), ObservationLayout(sc)
        d = sc.demand
        if d.kind == "valuation":
            rate = sorted(set(sc.arrival_rates[0].tolist()))
            dem = f"Poisson({'/'.join(f'{r:g}' for r in rate)}) arrivals, {d.valuation} valuations, decay {d.decay:g}"
        else:
            dem = (f"elasticity {d.elasticity:g}, CV {d.cv:g}, beta_inv {d.beta_inv:g}, "
                   f"store effect CV {d.store_effect_cv:g}")
        r = sc.markdowns
        rules = []
        if r.monotone:
            rules.append("monotone")
        if r.initial_min is not None or r.initial_max is not None:
            rules.append(f"first {r.initial_min_or_floor:.0%}-{(r.initial_max or 1):.0%}")
        if r.step_max is not None:
            rules.append(f"step <= {r.step_max:.0%}")
        if r.min_hold > 1:
            rules.append(f"hold {r.min_hold}")
        if sc.has_closing:
            rules.append("closing")
        if sc.has_transfers:
            rules.append(f"transfers ({len(sc.transfers.pairs)} pairs, lead {sc.max_lead})")
        if any(s.lease.lock_period is not None for s in sc.stores):
            rules.append("rent lock")
        if any(s.is_dc for s in sc.stores):
            rules.append("DC")
        space = al.space
        sp = type(space).__name__ + (f"({space.n})" if hasattr(space, "n") and al.kind == "discrete"
                                     else f"({al.n} components)" if al.kind == "multidiscrete" else "")
        rows.append(f"| `liqenv/{name}` | {liqenv.SOURCES[name]} | {sc.n_stores} | {sc.horizon} | "
                    f"{sc.total_inventory:,} | {dem} | {', '.join(rules) or 'free prices'} | {sp} | {ol.size} |")
    rows.append("")
    rows.append("`TwoStore-v1` draws a new grid point at every reset (the row shows the middle point); "
                "pass any grid field (e.g. `cv=0.5`) to pin it.")
    rows.append("")
    rows.append("Elasticity demand's CV is the CV of the gamma multiplier of its gamma-Poisson counts "
                "(MODEL.md section 3): a period count of mean `m` has CV `sqrt(1/m + cv^2)` "
                "(e.g. `cv` 0.3 at `m` = 10 units: 0.44).")
    return "\n".join(rows)


def layouts() -> str:
    import liqenv
    from liqenv.spaces import ActionLayout, ObservationLayout

    out = []
    for name in ("SingleStore-v0", "TwoStore-v1", "DistributionCentre-v1"):
        sc = liqenv.make_scenario(name)
        ol, al = ObservationLayout(sc), ActionLayout(sc)
        out.append(f"`{name}` observation ({ol.size} floats): " + ", ".join(f"`{n}`" for n in ol.feature_names()))
        out.append("")
        out.append(f"`{name}` action: {al.space}" + (
            " — components " + ", ".join(f"`{n}`" for n in al.component_names())
            if al.kind == "multidiscrete" else " — the ladder level (markdown = 5% x level)"))
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    cli.Parser(prog="update_readme.py", description=__doc__.split("\n\n")[0]).parse_args(argv)  # no options
    readme = ROOT / "README.md"
    text = readme.read_text()
    generated = {"scenarios": scenario_table(), "layouts": layouts()}
    for m in re.finditer(r"<!-- BEGIN (\w+) -->", text):
        name = m.group(1)
        if name in generated:
            continue
        path = RESULTS / f"{name}.md"
        if path.exists():
            generated[name] = path.read_text().strip()
        else:
            generated[name] = (f"*Not generated yet: run `{PRODUCERS.get(name, '?')}` then "
                               f"`python benchmarks/update_readme.py`.*")
    for name, body in generated.items():
        pat = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
        text, n = pat.subn(lambda m: m.group(1) + body + "\n" + m.group(2), text)
        if n == 0:
            print(f"README has no section {name}", file=sys.stderr)
    readme.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
