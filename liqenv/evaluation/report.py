"""The reports of an evaluation: a Markdown table and the JSON schema.

Both read the dict that :func:`liqenv.evaluation.evaluate` returns.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = ["RESULT_KEYS", "METRIC_COLUMNS", "format_table", "format_metrics_table", "metric_cells", "metric_heading",
           "to_json_dict", "write_json", "write_csv"]

#: Per-result keys that :func:`write_json` always writes (the public schema).
RESULT_KEYS = ("mean", "ci95", "std", "sell_through", "net_recovery_on_cost", "solve_seconds",
               "act_us", "value_estimate", "metrics")

#: Columns of :func:`format_metrics_table`: (metric, heading, format, percent).
METRIC_COLUMNS = (("revenue", "revenue", ",.2f", False), ("operating_cost", "operating", ",.2f", False),
                  ("holding_cost", "holding", ",.2f", False), ("transfer_cost", "transfer", ",.2f", False),
                  ("salvage_value", "salvage value", ",.2f", False), ("units_sold", "units sold", ",.1f", False),
                  ("units_salvaged", "units salvaged", ",.1f", False),
                  ("sell_through", "sell-through", ".1f", True),
                  ("net_recovery_on_cost", "NRC", ".3f", False), ("profit", "profit", ",.2f", False))


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


def metric_cells(means: Mapping[str, float]) -> str:
    """The :data:`METRIC_COLUMNS` cells of one table row (``means``: metric name -> mean)."""
    return " | ".join(_fmt(means[k], spec, pct) for k, _, spec, pct in METRIC_COLUMNS)


def metric_heading(*first: str) -> list[str]:
    """The heading and rule of a table whose columns are ``first`` then :data:`METRIC_COLUMNS`."""
    return ["| " + " | ".join((*first, *(h for _, h, _, _ in METRIC_COLUMNS))) + " |",
            "|" + "---|" * len(first) + "---:|" * len(METRIC_COLUMNS)]


def format_metrics_table(results: dict) -> str:
    """Markdown table of the metrics of MODEL.md section 7 per policy: the
    profit's terms (revenue, operating, holding and transfer cost, salvage
    value), units sold and salvaged, sell-through, net recovery on cost and
    profit, each the mean over the episodes (the JSON and CSV have their CIs)."""
    rows = metric_heading("policy")
    for lab, r in results["results"].items():
        if "unsupported" in r:
            continue
        rows.append(f"| {lab} | " + metric_cells({k: v["mean"] for k, v in r["metrics"].items()}) + " |")
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


def write_csv(results: dict, path: str | Path) -> None:
    """One row per policy: every MODEL.md section 7 metric's mean and 95% t half-width
    (``<metric>``, ``<metric>_ci95``; empty for NaN), or the ``unsupported`` reason."""
    from .metrics import METRICS

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["policy", *(c for m in METRICS for c in (m, f"{m}_ci95")), "unsupported"])
        for lab, r in results["results"].items():
            if "unsupported" in r:
                w.writerow([lab] + [""] * (2 * len(METRICS)) + [r["unsupported"]])
                continue
            cells = [_clean(r["metrics"][m][k]) for m in METRICS for k in ("mean", "ci95")]
            w.writerow([lab, *("" if c is None else c for c in cells), ""])
