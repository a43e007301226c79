"""Section 7 metrics in the evaluation results (issue 10 section 2): every
metric's mean and 95% CI per policy in the results and the JSON, and the
metrics table."""

from __future__ import annotations

import json

import numpy as np

import baselines  # noqa: F401  (registers the policies)
from liqenv.evaluation import METRICS, ci_halfwidth, evaluate, format_metrics_table, write_json


def test_results_carry_every_metric_with_its_ci(tmp_path):
    res = evaluate("liqenv/TwoStore-v1", ["practitioner", "store_pds"], episodes=4, seed=2)
    for lab in ("practitioner", "store_pds"):
        r, m = res["results"][lab], res["per_episode"][lab]
        assert list(r["metrics"]) == list(METRICS)
        for name in METRICS:
            x = getattr(m, name)
            assert r["metrics"][name]["mean"] == float(np.mean(x))
            assert r["metrics"][name]["ci95"] == ci_halfwidth(x)
        assert r["metrics"]["profit"]["mean"] == r["mean"]
    write_json(res, tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert set(data["results"]["store_pds"]["metrics"]["salvage_value"]) == {"mean", "ci95"}
    lines = format_metrics_table(res).splitlines()
    assert lines[0].startswith("| policy | revenue | operating | holding | transfer | salvage value")
    assert len(lines) == 4 and lines[3].startswith("| store_pds | ")
    assert f"{res['results']['store_pds']['metrics']['revenue']['mean']:,.2f}" in lines[3]


def test_evaluate_cli_prints_the_metrics_table_and_writes_every_metric(tmp_path, capsys):
    import csv
    import importlib.util
    from pathlib import Path

    from liqenv.evaluation.report import metric_cells

    spec = importlib.util.spec_from_file_location("evaluate_cli", Path(__file__).parents[1] / "evaluate.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = tmp_path / "sub" / "r"
    rc = cli.main(["--scenario", "liqenv/TwoStore-v1", "--policies", "practitioner,store_pds", "--episodes", "3",
                   "--seed", "4", "--json", f"{out}.json", "--csv", f"{out}.csv", "--md", f"{out}.md"])
    printed = capsys.readouterr().out
    assert rc == 0
    data = json.loads(Path(f"{out}.json").read_text())["results"]
    lines = printed.splitlines()
    assert any(line.startswith("| policy | revenue | operating | holding | transfer | salvage value")
               for line in lines)
    for lab in ("practitioner", "store_pds"):
        means = {k: v["mean"] for k, v in data[lab]["metrics"].items()}
        assert f"| {lab} | {metric_cells(means)} |" in lines
    assert Path(f"{out}.md").read_text() == printed
    with open(f"{out}.csv", newline="") as fh:
        rows = {r["policy"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"practitioner", "store_pds"}
    for lab, r in rows.items():
        for name in METRICS:
            assert float(r[name]) == data[lab]["metrics"][name]["mean"]
            assert float(r[f"{name}_ci95"]) == data[lab]["metrics"][name]["ci95"]
