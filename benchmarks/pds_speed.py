"""Time PDS and the deterministic solvers of ``baselines/yang.py``.

    python benchmarks/pds_speed.py --seed 0 --episodes 3

(a) Whole PDS episodes (every daily re-solve plus the env steps) at the
    problem sizes of Yang et al. (2019) Table 6's PDS column: Weibull(4)
    valuations, Poisson(100) arrivals, alpha = 0.99, continuous prices,
    N = 30 D, up to N = 140,000, D = 4,800 (the paper's "one day" size).
    With alpha = 0.99 over thousands of days the late valuations all but
    vanish (0.99**4800 ~ 1e-21); the policy still prices them.
(b) N = 5000, D = 100 (Table 3's base, ``SingleStoreLarge-v0``: Poisson(300),
    Uniform(0,1)): the greedy (top-N and Algorithm 1 with a heap), the
    deterministic DP ``MAXREV``, the PAS / PDS solves and whole episodes.

Times are wall-clock seconds on this machine (``time.perf_counter``), best
of ``--repeat`` for the solves; the env's compiled kernels are warmed up
before timing.  Prints a markdown table and writes
``benchmarks/results/pds_speed.md`` (first line: the command).
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import baselines  # noqa: E402
import liqenv  # noqa: E402
from liqenv import cli  # noqa: E402
from baselines.yang import deterministic_demand, dp_plan, greedy_heap, greedy_topn  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/publish.py, also when imported
from publish import publish  # noqa: E402

# Yang et al. (2019) Table 6, PDS column: the largest problem the paper's PDS
# solved within each time frame (quoted, not computed).
PAPER_TABLE6_PDS = [("one second", 2_250, 75), ("one minute", 10_500, 350),
                    ("one hour", 42_000, 1_400), ("one day", 140_000, 4_800)]


def _best(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def _episode(env, pol, seed: int) -> dict:
    """One episode; wall time split into acting and env steps."""
    obs, _ = env.reset(seed=seed)
    pol.reset(seed=seed, scenario=env.scenario)
    t_act = t_env = profit = 0.0
    term = False
    t0 = time.perf_counter()
    while not term:
        a = time.perf_counter()
        action = pol.act(obs)
        b = time.perf_counter()
        obs, r, term, _, info = env.step(action)
        t_env += time.perf_counter() - b
        t_act += b - a
        profit += r
    return {"wall": time.perf_counter() - t0, "act": t_act, "env": t_env, "profit": profit,
            "sell_through": info["sell_through"], "violations": info.get("rule_violations", 0)}


def table6(seed: int, episodes: int) -> str:
    rows = ["| paper time frame | N | D | PDS solve s | episode s (mean) | of which acting s "
            "| of which env s | profit (mean) | sell-through |",
            "|---|---|---|---|---|---|---|---|---|"]
    for frame, N, D in PAPER_TABLE6_PDS:
        env = liqenv.LiquidationEnv("SingleStore-v0", inventory=N, horizon=D, valuation="weibull",
                                    pricing="continuous")
        t0 = time.perf_counter()
        pol = baselines.make("pds", env)
        solve = time.perf_counter() - t0
        eps = [_episode(env, pol, seed + i) for i in range(episodes)]
        m = {k: float(np.mean([e[k] for e in eps])) for k in eps[0]}
        rows.append(f"| {frame} | {N:,} | {D:,} | {solve:.3f} | {m['wall']:.2f} | {m['act']:.2f} "
                    f"| {m['env']:.2f} | {m['profit']:,.2f} | {100 * m['sell_through']:.1f}% |")
    return "\n".join(rows)


def large(seed: int, episodes: int, repeat: int) -> str:
    sc = liqenv.make_scenario("SingleStoreLarge-v0", pricing="continuous")
    N = int(sc.inventory[0])
    dd = deterministic_demand(sc)
    rows = ["| N = 5,000, D = 100, Poisson(300), U(0,1) | seconds |", "|---|---|"]
    rows.append(f"| deterministic representation (expected order statistics) | "
                f"{_best(lambda: deterministic_demand(sc), repeat):.4f} |")
    rows.append(f"| greedy, top-N selection (`greedy_topn`) | {_best(lambda: greedy_topn(dd, N), repeat):.4f} |")
    rows.append(f"| greedy, Algorithm 1 with a heap (`greedy_heap`) | "
                f"{_best(lambda: greedy_heap(dd, N), repeat):.4f} |")
    rows.append(f"| deterministic DP MAXREV (`dp_plan`) | {_best(lambda: dp_plan(dd, N), 1):.3f} |")
    env = liqenv.LiquidationEnv(sc)
    for name in ("pas", "pds"):
        rows.append(f"| `{name}` solve (policy construction) | "
                    f"{_best(lambda: baselines.make(name, env), repeat):.4f} |")
        pol = baselines.make(name, env)
        eps = [_episode(env, pol, seed + i) for i in range(episodes)]
        rows.append(f"| `{name}` whole episode, acting + env steps (mean of {episodes}) | "
                    f"{np.mean([e['wall'] for e in eps]):.3f} |")
        rows.append(f"| `{name}` whole episode, acting only | {np.mean([e['act'] for e in eps]):.3f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = cli.Parser(prog="pds_speed.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=cli.seed, default=0, help="env seed of the first episode")
    p.add_argument("--episodes", type=cli.count(1, 1000), default=3, help="episodes per timed configuration")
    p.add_argument("--repeat", type=cli.count(1, 1000), default=5, help="repetitions of each solve (best kept)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "pds_speed.md"),
                   help="markdown output file")
    args = p.parse_args(argv)
    try:
        cli.output_file("--out", args.out)
    except cli.UsageError as e:
        p.error(str(e))
    command = shlex.join(["python", "benchmarks/pds_speed.py", *(sys.argv[1:] if argv is None else argv)])

    warm = liqenv.LiquidationEnv("SingleStore-v0", pricing="continuous")  # compile the kernels
    warm.reset(seed=0)
    warm.step(warm.action_space.high)

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    parts = [f"`{command}`", "",
             f"Machine: {machine}. Wall-clock seconds (`time.perf_counter`).", "",
             "**PDS at Yang et al. (2019) Table 6 sizes** (Weibull(4), Poisson(100), alpha=0.99, "
             f"continuous prices, N = 30 D). {args.episodes} episodes each, env seeds "
             f"{args.seed}..{args.seed + args.episodes - 1}. The paper column gives the time frame in "
             "which the paper's PDS solved that size (its Table 6); the episode time here includes "
             "every daily re-solve and every env step. The Weibull expected order statistics are "
             "computed by quadrature once and cached, so the first row's solve includes them.", "",
             table6(args.seed, args.episodes), "",
             f"**N = 5,000, D = 100** (`SingleStoreLarge-v0`, continuous prices). Solves: best of "
             f"{args.repeat}; episodes: env seeds {args.seed}..{args.seed + args.episodes - 1}.", "",
             large(args.seed, args.episodes, args.repeat), ""]
    publish("\n".join(parts), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
