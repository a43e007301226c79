"""benchmarks/generalisation.py (issue 11): train on a 10-store chain, evaluate on Chain-v1 unchanged."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import generalisation  # noqa: E402

TINY = ["--set", "n_envs=2", "--set", "n_steps=32", "--set", "batch_size=32", "--set", "n_epochs=1",
        "--set", "eval_freq=64", "--set", "eval_episodes=1", "--set", "embed_dim=8"]


def test_small_chain_has_the_full_chains_features_and_ten_stores():
    from agents.factored import FactoredLayout
    from liqenv.presets import make_scenario

    small, big = generalisation.small_chain(), make_scenario("Chain-v1")
    assert small.n_stores == 10 and [st.name for st in small.stores] == [f"s{s:02d}" for s in range(0, 40, 4)]
    FactoredLayout.from_scenario(big).check_compatible(FactoredLayout.from_scenario(small))
    assert sum(st.lease.lock_period is not None for st in small.stores) == 2


def test_generalisation_table_from_tiny_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(generalisation, "SMALL_FILE", tmp_path / "chain10.yaml")
    chain_runs = tmp_path / "chain"
    sys.path.insert(0, str(ROOT))
    import train

    from agents.job import run_training

    argv = ["--scenario", "Chain-v1", "--seed", "0", "--out", str(chain_runs / "seed0"), "--timesteps", "64",
            "--baselines", "", "--eval-episodes", "1", "--no-progress", *TINY]
    run_training(train.make_spec(*train.parse_args(argv), argv))
    md = tmp_path / "g.md"
    rc = generalisation.main(["--seeds", "0", "--timesteps", "64", *TINY, "--eval-episodes", "2",
                              "--baselines", "practitioner", "--runs", str(tmp_path / "runs"),
                              "--chain-runs", str(chain_runs), "--md", str(md)])
    assert rc == 0
    text = md.read_text()
    assert "| factored, zero-shot transfer | 10 stores |" in text and "| practitioner |" in text
    rows = json.loads(md.with_suffix(".json").read_text())["rows"]
    assert set(rows) == {"factored, zero-shot transfer", "factored", "practitioner"}
    state = json.loads((tmp_path / "runs/chain10/seed0/state.json").read_text())
    assert state["hyperparams"]["policy"] == "factored" and state["args"]["scenario"].endswith("chain10.yaml")


def test_missing_chain_runs_is_one_line_and_exit_2(tmp_path, capsys):
    assert generalisation.main(["--chain-runs", str(tmp_path / "none"), "--md", str(tmp_path / "g.md")]) == 2
    err = capsys.readouterr().err
    assert "no model.zip for seed 0" in err and err.count("\n") == 1


def test_baseline_rows_are_copied_only_from_the_same_episodes(tmp_path):
    """ppo_results.copied_baselines (also generalisation.py's): rows with all their per-episode profits only."""
    import pytest
    from ppo_results import copied_baselines

    p20 = [1.0] * 20
    table = {"eval_seed": 0, "eval_episodes": 20, "scenarios": {"liqenv/Chain-v1": {"baselines": {
        "store_pds": {"mean": 5.0, "ci95": 1.0, "profits": p20}, "sdp": {"unsupported": "x"},
        "practitioner": {"mean": 4.0, "profits": p20}, "craig_raman": {"mean": 6.0, "ci95": 1.0}}}}}
    path = tmp_path / "ppo_chain.json"
    path.write_text(json.dumps(table))
    got = copied_baselines(str(path), "liqenv/Chain-v1", 0, 20, skip=("practitioner",))
    # craig_raman has no per-episode profits: not copied (no paired differences without them)
    assert got == {"store_pds": {"mean": 5.0, "ci95": 1.0, "profits": p20, "copied_from": str(path)}}
    assert set(copied_baselines(str(path), "liqenv/Chain-v1", 0, 20, wanted=("practitioner", "sdp"))) == {
        "practitioner"}
    assert copied_baselines(None, "liqenv/Chain-v1", 0, 20) == {}
    with pytest.raises(ValueError, match="--eval-episodes 100"):
        copied_baselines(str(path), "liqenv/Chain-v1", 0, 100)
    with pytest.raises(ValueError, match="--eval-seed 5"):
        copied_baselines(str(path), "liqenv/Chain-v1", 5, 20)
    with pytest.raises(ValueError, match="not a ppo_results.py JSON with liqenv/TwoStore-v1"):
        copied_baselines(str(path), "liqenv/TwoStore-v1", 0, 20)
    args = generalisation.build_parser().parse_args(["--baseline-results", str(path)])
    assert args.baseline_results == str(path)
