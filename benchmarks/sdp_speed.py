"""Solve times of the stochastic dynamic programmes (policy ``sdp``).

Usage::

    python benchmarks/sdp_speed.py [--repeat 5] [--blas-threads 1] [--out benchmarks/results/sdp_speed.md]

Rows:

* Yang et al. (2019) Table 5 base case (N=100, D=10, Poisson(100),
  alpha=0.99), uniform / exponential / Weibull(4) valuations, ladder and
  continuous prices: solve seconds (best of ``--repeat``) and the
  programme's expected revenue ``REV(N, 0)``, beside the paper's SDP
  revenue and solve time (its Table 5, labelled constants below);
* Table 6 sizes (Weibull(4), Poisson(100), alpha=0.99, N = 30 D,
  continuous prices), the largest of which, N=1800 and D=60, took the
  paper's SDP a day;
* the per-store programme on ``Chain-v1`` (40 stores, 60 days, inventory on
  the bucketed grid, elasticity demand read from the mean table).

The solves are deterministic (no random numbers).  BLAS runs on
``--blas-threads`` threads (set before numpy is imported): the programme's
matrix products are small, and on a shared machine extra BLAS threads cost
more than they gain.
"""

from __future__ import annotations

import os
import sys


def main(argv=None) -> int:
    # liqenv/cli.py alone (standard library): importing the liqenv package would
    # load numpy before --blas-threads is set
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "liqenv_cli", Path(__file__).resolve().parents[1] / "liqenv" / "cli.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)

    ap = cli.Parser(prog="sdp_speed.py", description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=cli.count(1, 1000), default=5, help="solves per row; the best time is reported")
    ap.add_argument("--blas-threads", type=cli.count(1, 1024), default=1, help="OPENBLAS/OMP/MKL threads")
    ap.add_argument("--out", default="benchmarks/results/sdp_speed.md", help="markdown output ('' for none)")
    args = ap.parse_args(argv)
    try:
        cli.output_file("--out", args.out)
    except cli.UsageError as e:
        ap.error(str(e))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.blas_threads)

    import platform
    import time

    import numpy as np

    import baselines
    from liqenv.env import LiquidationEnv

    # Yang et al. (2019) Table 5, SDP column: expected revenue and solve seconds (paper's machine)
    paper_t5 = {"uniform": (85.58, 9.75), "exponential": (216.39, 17.02), "weibull": (117.32, 94.40)}
    # Yang et al. (2019) Table 6: the largest SDP solved in each time frame (N = 30 D)
    paper_t6 = [("one second", 60, 2), ("one minute", 150, 5), ("one hour", 540, 18), ("one day", 1800, 60)]
    presets = {"uniform": "SingleStore-v0", "exponential": "SingleStoreExp-v1",
               "weibull": "SingleStoreWeibull-v1"}

    def timed(env, repeat):
        pol = baselines.make("sdp", env)
        best = pol.solve_seconds
        for _ in range(repeat - 1):
            t0 = time.perf_counter()
            pol.solve()
            best = min(best, time.perf_counter() - t0)
        return pol, best

    cmd = "python benchmarks/sdp_speed.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [f"`{cmd.strip()}` (no random numbers: the solves are deterministic)", "",
             f"Machine: {' '.join(x for x in (platform.machine(), platform.processor()) if x)}, "
             f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the start: the "
             f"machine is shared), Python {platform.python_version()}, numpy {np.__version__}, "
             f"BLAS threads {args.blas_threads}. Wall-clock seconds (`time.perf_counter`), best of "
             f"{args.repeat} unless said otherwise.", ""]

    lines += ["**Yang et al. (2019) Table 5 base case** (N=100, D=10, Poisson(100), alpha=0.99). "
              "Value = the programme's expected revenue REV(N, 0). The paper's SDP revenue is "
              "a 10,000-episode average of its policy; its times are from its own machine.", "",
              "| valuations | prices | solve s | value | paper SDP value | paper SDP s |",
              "|---|---|---|---|---|---|"]
    for val, preset in presets.items():
        for pricing in ("ladder", "continuous"):
            pol, sec = timed(LiquidationEnv(preset, pricing=pricing), args.repeat)
            pv, ps = paper_t5[val] if pricing == "continuous" else (None, None)
            lines.append(f"| {val} | {pricing} | {sec:.4f} | {pol.value_estimate:.4f} | "
                         f"{'' if pv is None else f'{pv:.2f}'} | {'' if ps is None else f'{ps:.2f}'} |")
            print(lines[-1], flush=True)

    lines += ["", "**Yang et al. (2019) Table 6 sizes** (Weibull(4), Poisson(100), alpha=0.99, "
              "continuous prices, per-unit exact grid; N=1800 solved once). The paper column is the "
              "time frame in which the paper's SDP solved that size.", "",
              "| paper time frame | N | D | solve s | value |", "|---|---|---|---|---|"]
    for frame, N, D in paper_t6:
        env = LiquidationEnv("SingleStoreWeibull-v1", pricing="continuous", inventory=N, horizon=D)
        pol, sec = timed(env, args.repeat if N < 1000 else 1)
        assert pol.exact == [True]
        lines.append(f"| {frame} | {N:,} | {D} | {sec:.3f} | {pol.value_estimate:,.2f} |")
        print(lines[-1], flush=True)

    env = LiquidationEnv("Chain-v1")
    pol, sec = timed(env, 1)
    sc = env.scenario
    n_grid = sum(not e for e in pol.exact)
    levels = sorted({p.grid.n_levels for p in pol.programmes})
    lines += ["", "**Per-store programme on `Chain-v1`** (40 stores, 60 days, 2,020-5,980 units each, "
              "notice 7/14 days, rent lock on 9 stores, monotone markdowns held 7 days; hidden store "
              "effects integrated over their prior; solved once).", "",
              "| stores | on the bucketed grid | levels per store | solve s | value estimate |",
              "|---|---|---|---|---|",
              f"| {sc.n_stores} | {n_grid} | {levels[0]}-{levels[-1]} | {sec:.2f} | "
              f"{pol.value_estimate:,.0f} |"]
    print(lines[-1], flush=True)

    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
