"""benchmarks/ablation.py (issue 11): the variants, the posterior hidden, CRN evaluation, the table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import ablation  # noqa: E402

TINY = ["--timesteps", "64", "--set", "n_envs=2", "--set", "n_steps=32", "--set", "batch_size=32",
        "--set", "n_epochs=1", "--set", "eval_freq=64", "--set", "eval_episodes=2", "--set", "embed_dim=8",
        "--set", "net_arch=[8]"]


def test_two_store_ablation_trains_both_policies_and_says_there_is_no_posterior(tmp_path):
    md = tmp_path / "ablation.md"
    rc = ablation.main(["--scenarios", "TwoStore-v1", "--seeds", "0", *TINY, "--eval-episodes", "3",
                        "--runs", str(tmp_path / "runs"), "--published-runs", str(tmp_path / "none"),
                        "--md", str(md)])
    assert rc == 0
    text = md.read_text()
    assert "| factored, with posterior | 1 |" in text and "| flat MLP, with posterior | 1 |" in text
    assert "no hidden store effect" in text and "without posterior | 1" not in text
    data = json.loads(md.with_suffix(".json").read_text())["scenarios"]["liqenv/TwoStore-v1"]
    assert set(data["variants"]) == {"factored, with posterior", "flat MLP, with posterior"}
    assert data["variants"]["factored, with posterior"]["paired_difference_by_seed"] == [0.0]
    assert data["reference"] == "practitioner"
    from agents.job import read_state

    assert read_state(tmp_path / "runs/TwoStore-v1/factored/seed0").hyperparams["policy"] == "factored"
    assert read_state(tmp_path / "runs/TwoStore-v1/mlp/seed0").hyperparams["policy"] == "mlp"


def test_chain_variants_hide_the_posterior_and_reuse_a_published_run(tmp_path, monkeypatch):
    """Without training: which runs each variant uses and what they hide."""
    trained = []
    monkeypatch.setattr(ablation, "train_runs", lambda specs, workers: trained.extend(specs))
    args = ablation.build_parser().parse_args(["--runs", str(tmp_path / "runs"), "--published-runs",
                                               str(tmp_path / "pub"), *TINY])
    runs = ablation.variant_runs("liqenv/Chain-v1", [0], args)
    assert list(runs) == list(ablation.VARIANTS)
    hidden = {s.out.parent.name: s.hyperparams.hide_features for s in trained}
    assert hidden == {"factored": (), "factored-noposterior": ("effect_mean", "effect_sd"),
                      "mlp": (), "mlp-noposterior": ("effect_mean", "effect_sd")}
    # a finished published run with the full model's hyperparameters is reused, not retrained
    full = trained[0]
    pub = tmp_path / "pub/Chain-v1/seed0"
    pub.mkdir(parents=True)
    (pub / "results.json").write_text("{}")
    (pub / "state.json").write_text(json.dumps({"args": {}, "hyperparams": full.hyperparams.to_dict(),
                                                "scenario_overrides": {}, "reward_scale": 1.0, "curve": []}))
    trained.clear()
    runs = ablation.variant_runs("liqenv/Chain-v1", [0], args)
    assert runs["factored, with posterior"][0] == pub and len(trained) == 3


@pytest.mark.parametrize("argv, msg", [
    (["--scenarios", "SingleStore-v0"], "single-store"),
    (["--seeds", "1,1"], "given twice"),
    (["--set", "nope=1"], "--set nope"),
])
def test_bad_input_is_one_line_and_exit_2(argv, msg, capsys):
    assert ablation.main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1


def test_variants_choose_the_rows_and_must_start_with_the_full_model(tmp_path, monkeypatch, capsys):
    trained = []
    monkeypatch.setattr(ablation, "train_runs", lambda specs, workers: trained.extend(specs))
    args = ablation.build_parser().parse_args(["--runs", str(tmp_path), "--published-runs", str(tmp_path / "p"),
                                               "--variants", "factored,mlp", *TINY])
    runs = ablation.variant_runs("liqenv/Chain-v1", [0], args)
    assert list(runs) == ["factored, with posterior", "flat MLP, with posterior"]
    assert ablation.main(["--variants", "mlp,factored"]) == 2
    assert "starting with factored" in capsys.readouterr().err
