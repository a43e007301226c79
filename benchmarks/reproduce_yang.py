"""Regenerate the README table "Reproducing Yang et al. (2019)".

    python benchmarks/reproduce_yang.py --episodes 10000 --episodes-large 1000 --seed 0 --workers 2

(a) Table 5: N=100, D=10, Poisson(100), alpha=0.99, continuous prices, for
    Uniform(0,1), Exponential(1) and Weibull(4) valuations: SDP, PDS and ADP.
(b) Table 3, uniform block: N=5000, D=100, Poisson(300), alpha=0.99,
    continuous prices: PAS, FP, FQ, PDS, DP (the paper's dynamic-price rule,
    our ``dynamic_price``) and DQ, plus DQ with the daily quantity rounded
    instead of floored (a variant, labelled as such).

Only the project's numbers are computed, with ``baselines.evaluation.evaluate``
(common random numbers: episode ``i`` of every policy uses env seed
``seed + i``).  The paper's numbers are quoted below as constants.  Policies
not (yet) registered are reported as unavailable.  Prints the markdown and
writes it to ``benchmarks/results/yang.md`` (first line: the command).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import baselines  # noqa: E402
from baselines.evaluation import evaluate  # noqa: E402
from liqenv import cli  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/publish.py, also when imported
from publish import publish  # noqa: E402

# --------------------------------------------------------------------------
# PUBLISHED NUMBERS from Yang, Adomavicius & Gupta (2019), quoted as reference
# constants (papers/yang-adomavicius-gupta-2019-inventory-liquidation.md).
# Nothing in this block is computed by the project.
# --------------------------------------------------------------------------
#: Table 5: expected revenue by valuation distribution (SDP exact; PDS and
#: ADP on simulated demand).
PAPER_TABLE5 = {
    "sdp": {"uniform": 85.58, "exponential": 216.39, "weibull": 117.32},
    "pds": {"uniform": 84.99, "exponential": 216.08, "weibull": 116.32},
    "adp": {"uniform": 84.89, "exponential": 214.64, "weibull": 116.30},
}
#: Table 3, uniform block (N=5000, D=100, Poisson(300), alpha=0.99): revenue.
#: Keys are project policy names; the paper's label follows.
PAPER_TABLE3 = {
    "pas": ("PAS", 2800.25),
    "fp": ("FP", 2637.69),
    "fq": ("FQ", 2630.51),
    "pds": ("PDS", 2812.14),
    "dynamic_price": ("DP", 2647.35),
    "dq": ("DQ", 2639.87),
}

TABLE5_SCENARIOS = {
    "uniform": "liqenv/SingleStore-v0",
    "exponential": "liqenv/SingleStoreExp-v1",
    "weibull": "liqenv/SingleStoreWeibull-v1",
}
TABLE3_SCENARIO = "liqenv/SingleStoreLarge-v0"
CONTINUOUS = {"pricing": "continuous"}


def _num(x, spec=",.2f") -> str:
    return "n/a" if x is None or x != x else f"{x:{spec}}"


def _project(r: dict) -> str:
    if "unsupported" in r:
        return f"unavailable ({r['unsupported']})"
    return f"{_num(r['mean'])} ± {_num(r['ci95'])}"


def table5(episodes: int, seed: int, workers: int, progress: bool) -> str:
    rows = ["| valuation | policy | paper (published) | project mean ± 95% CI | project − paper "
            "| policy's own estimate | solve s | µs/act |",
            "|---|---|---|---|---|---|---|---|"]
    for dist, scenario in TABLE5_SCENARIOS.items():
        res = evaluate(scenario, list(PAPER_TABLE5), episodes, seed=seed, overrides=CONTINUOUS,
                       workers=workers, progress=progress, unknown="report")["results"]
        for name, paper in PAPER_TABLE5.items():
            r = res[name]
            ok = "unsupported" not in r
            rows.append(
                f"| {dist} | {name.upper()} | {paper[dist]:,.2f} | {_project(r)} "
                f"| {_num(r['mean'] - paper[dist], '+.2f') if ok else ''} "
                f"| {_num(r['value_estimate']) if ok else ''} "
                f"| {_num(r['solve_seconds'], '.3g') if ok else ''} "
                f"| {_num(r['act_us'], '.1f') if ok else ''} |")
    return "\n".join(rows)


def _dq_round(env):
    return baselines.make("dq", env, rounding="round")


def table3(episodes: int, seed: int, workers: int, progress: bool) -> str:
    # The rounding variant is compared with the paper's DQ row, so it runs only beside it.
    variant = "dq" in PAPER_TABLE3
    policies = {**{n: n for n in PAPER_TABLE3}, **({"dq_round": _dq_round} if variant else {})}
    res = evaluate(TABLE3_SCENARIO, policies, episodes, seed=seed, overrides=CONTINUOUS,
                   workers=workers, progress=progress, unknown="report")["results"]
    rows = ["| paper policy | project policy | paper (published) | project mean ± 95% CI "
            "| project − paper | project share of best | solve s | µs/act |",
            "|---|---|---|---|---|---|---|---|"]
    for name, (label, paper) in PAPER_TABLE3.items():
        r = res[name]
        ok = "unsupported" not in r
        share = r.get("share_of_best") if ok else None
        rows.append(
            f"| {label} | {name} | {paper:,.2f} | {_project(r)} "
            f"| {_num(r['mean'] - paper, '+.2f') if ok else ''} "
            f"| {_num(None if share is None else 100 * share, '.1f') + '%' if ok else ''} "
            f"| {_num(r['solve_seconds'], '.3g') if ok else ''} "
            f"| {_num(r['act_us'], '.1f') if ok else ''} |")
    if not variant:
        return "\n".join(rows)
    r, paper = res["dq_round"], PAPER_TABLE3["dq"][1]
    rows.append(f"| DQ variant: Q rounded, not floored (not the paper's formula) | dq rounding=round "
                f"| {paper:,.2f} | {_project(r)} | {_num(r['mean'] - paper, '+.2f')} "
                f"| {_num(100 * r['share_of_best'], '.1f')}% | {_num(r['solve_seconds'], '.3g')} "
                f"| {_num(r['act_us'], '.1f')} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = cli.Parser(prog="reproduce_yang.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--episodes", type=cli.count(), default=10_000, help="episodes per Table 5 cell")
    p.add_argument("--episodes-large", type=cli.count(), default=1_000, help="episodes per Table 3 policy")
    p.add_argument("--seed", type=cli.seed, default=0, help="env seed of the first episode")
    p.add_argument("--workers", type=cli.count(1, 1024), default=1, help="worker processes")
    p.add_argument("--part", choices=("all", "5", "3"), default="all", help="which table(s)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "yang.md"),
                   help="markdown output file")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    args = p.parse_args(argv)
    try:
        cli.output_file("--out", args.out)
    except cli.UsageError as e:
        p.error(str(e))

    command = shlex.join(["python", "benchmarks/reproduce_yang.py", *(sys.argv[1:] if argv is None else argv)])
    parts = [f"`{command}`", ""]
    if args.part in ("all", "5"):
        parts += [
            f"**Yang et al. (2019) Table 5**: N=100, D=10, Poisson(100), alpha=0.99, continuous "
            f"prices (`pricing=continuous`). Project: {args.episodes:,} episodes, env seeds "
            f"{args.seed}..{args.seed + args.episodes - 1} (common random numbers). "
            "Paper column: the paper's published figures.", "",
            table5(args.episodes, args.seed, args.workers, args.progress), ""]
    if args.part in ("all", "3"):
        parts += [
            f"**Yang et al. (2019) Table 3, uniform block**: N=5000, D=100, Poisson(300), "
            f"alpha=0.99, continuous prices (`{TABLE3_SCENARIO}`, `pricing=continuous`). Project: "
            f"{args.episodes_large:,} episodes, env seeds {args.seed}.."
            f"{args.seed + args.episodes_large - 1}. The paper's DP is its dynamic-price rule "
            "(`dynamic_price`). Paper column: the paper's published figures.", "",
            table3(args.episodes_large, args.seed, args.workers, args.progress), ""]
    publish("\n".join(parts), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
