"""agents.imitation: the baseline's demonstrations, their cache, behaviour cloning and the warm_start hyperparameter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import train  # noqa: E402
from agents.config import build_model, load_hyperparams  # noqa: E402
from agents.imitation import DEMO_SEED, behaviour_clone, collect, demonstrations  # noqa: E402
from agents.policy import PPOPolicy  # noqa: E402
from agents.wrappers import make_training_env  # noqa: E402
from liqenv.evaluation import evaluate  # noqa: E402

SC = "liqenv/SingleStore-v0"
SMALL = {"inventory": 20, "horizon": 4}


def test_demonstrations_are_the_baselines_own_episodes():
    """Every step is recorded; the return-to-go of each first step is the episode's profit, and
    the profits are those evaluate() gives the baseline on the same env seeds."""
    d = collect(SC, "pds", 6, overrides=SMALL)
    assert d["obs"].shape[0] == d["masks"].shape[0] == d["actions"].shape[0] == d["returns"].shape[0] == 6 * 4
    assert d["actions"].ndim == 1  # Discrete prices: one action per step
    assert d["masks"][np.arange(len(d["actions"])), d["actions"]].all()  # the baseline's choice is allowed
    np.testing.assert_allclose(d["returns"][::4], d["profits"])
    ref = evaluate(SC, {"pds": "pds"}, episodes=6, seed=DEMO_SEED, overrides=SMALL)["results"]["pds"]["mean"]
    assert d["profits"].mean() == pytest.approx(ref)
    # discounting: the last step's return-to-go is its reward whatever gamma is
    g = collect(SC, "pds", 1, gamma=0.5, overrides=SMALL)
    r = np.diff(-d["returns"][:4], append=0.0)  # rewards of episode 0 (gamma 1)
    assert g["returns"][3] == pytest.approx(d["returns"][3])
    assert g["returns"][0] == pytest.approx(r[0] + 0.5 * r[1] + 0.25 * r[2] + 0.125 * r[3])


def test_workers_split_the_episodes_without_changing_them():
    one = collect(SC, "pds", 3, overrides=SMALL)
    two = collect(SC, "pds", 3, overrides=SMALL, workers=2)
    for k in one:
        np.testing.assert_array_equal(one[k], two[k])


def test_the_cache_is_keyed_by_what_the_demonstrations_depend_on(tmp_path):
    a = demonstrations(SC, "pds", 2, overrides=SMALL, cache=tmp_path)
    files = list(tmp_path.glob("demos-*.npz"))
    assert len(files) == 1
    again = demonstrations(SC, "pds", 2, overrides=SMALL, cache=tmp_path)
    for k in a:
        np.testing.assert_array_equal(a[k], again[k])
    demonstrations(SC, "pds", 2, overrides={**SMALL, "horizon": 3}, cache=tmp_path)
    demonstrations(SC, "pds", 2, gamma=0.9, overrides=SMALL, cache=tmp_path)
    assert len(list(tmp_path.glob("demos-*.npz"))) == 3
    assert not list(tmp_path.glob("*.tmp*"))


def test_cloning_copies_the_baseline():
    """A learning check that can fail: an untrained MaskablePPO earns about one unit of profit here;
    after cloning pds's 100 demonstration episodes it agrees with pds on most steps and earns
    within 3% of it on 200 other episodes."""
    hp = load_hyperparams(SC, {"algo": "maskable-ppo"})
    model = build_model(hp, make_training_env(SC, 2, 0, 1.0, SMALL), seed=0)
    demos = collect(SC, "pds", 100, overrides=SMALL)

    def profits():
        return evaluate(SC, {"ppo": lambda env: PPOPolicy(model, env), "pds": "pds"}, episodes=200, seed=0,
                        overrides=SMALL)["results"]

    before = profits()
    stats = behaviour_clone(model, demos, reward_scale=20.0, epochs=60, batch_size=64)
    after = profits()
    assert stats["agreement"] > 0.85 and stats["steps"] == 400 and stats["episodes"] == 100
    assert before["ppo"]["mean"] < 0.5 * after["pds"]["mean"]
    assert after["ppo"]["mean"] > 0.97 * after["pds"]["mean"]


@pytest.mark.parametrize("value, word", [(5, "baseline name"), ("", "baseline name")])
def test_bad_warm_start_values_are_refused(value, word):
    with pytest.raises(ValueError, match=f"warm_start.*{word}"):
        load_hyperparams(SC, {"algo": "maskable-ppo", "warm_start": value})
    with pytest.raises(ValueError, match="warm_start.*maskable-ppo"):
        load_hyperparams(SC, {"algo": "ppo", "warm_start": "pds"})


def test_train_py_refuses_an_unknown_warm_start_baseline(capsys, tmp_path):
    out = tmp_path / "run"
    code = train.main(["--out", str(out), "--algo", "maskable-ppo", "--set", "warm_start=no_such_policy"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "warm_start='no_such_policy'" in err[0] and "store_pds" in err[0]
    assert not out.exists()


def test_a_warm_started_run_saves_the_clone_and_its_statistics(tmp_path, capsys):
    quick = ["--timesteps", "256", "--n-envs", "4", "--eval-episodes", "10", "--no-progress", "--algo",
             "maskable-ppo", "--baselines", "fp", "--set", "n_steps=64", "--set", "batch_size=64",
             "--set", "n_epochs=2", "--set", "eval_freq=256", "--set", "eval_episodes=10",
             "--set", "warm_start=pds", "--set", "warm_start_episodes=8", "--set", "warm_start_epochs=3",
             "--set", "inventory=20", "--set", "horizon=4"]
    assert train.main([*quick, "--out", str(tmp_path / "a")]) == 0
    assert "warm start from pds: 8 episodes (32 steps" in capsys.readouterr().out
    state = json.loads((tmp_path / "a" / "state.json").read_text())
    ws = state["warm_start"]
    assert ws["baseline"] == "pds" and ws["episodes"] == 8 and 0.0 <= ws["agreement"] <= 1.0
    assert (tmp_path / "a" / "warm_start.zip").is_file() and (tmp_path / "a" / "model.zip").is_file()
    cache = list((tmp_path / "demos").glob("demos-pds-8-*.npz"))
    assert len(cache) == 1
    stamp = cache[0].stat().st_mtime_ns
    # a second seed in the same folder reads the demonstrations back
    assert train.main([*quick, "--out", str(tmp_path / "b"), "--seed", "1"]) == 0
    assert cache[0].stat().st_mtime_ns == stamp
    assert json.loads((tmp_path / "b" / "state.json").read_text())["warm_start"]["demo_profit"] == ws["demo_profit"]


def test_ppo_results_warm_start_row_and_copied_baselines(tmp_path, capsys):
    """ppo_results.py: a warm-started table adds the clone's own row, and copies the baseline rows
    (per-episode profits included) of an earlier table on the same episodes instead of replaying them."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import ppo_results

    common = ["--scenarios", "SingleStore-v0", "--seeds", "0", "--timesteps", "1", "--eval-episodes", "10",
              "--baselines", "pds,fp", "--set", "algo=maskable-ppo", "--set", "n_envs=2", "--set", "n_steps=64",
              "--set", "batch_size=64", "--set", "eval_episodes=5"]
    first = tmp_path / "plain.md"
    assert ppo_results.main([*common, "--runs", str(tmp_path / "a"), "--md", str(first)]) == 0
    plain = json.loads(first.with_suffix(".json").read_text())["scenarios"]["liqenv/SingleStore-v0"]
    assert len(plain["baselines"]["pds"]["profits"]) == 10 and "warm_start" not in plain
    md = tmp_path / "warm.md"
    assert ppo_results.main([*common, "--runs", str(tmp_path / "b"), "--md", str(md), "--set", "warm_start=pds",
                             "--set", "warm_start_episodes=4", "--set", "warm_start_epochs=2",
                             "--baseline-results", str(first.with_suffix(".json"))]) == 0
    warm = json.loads(md.with_suffix(".json").read_text())["scenarios"]["liqenv/SingleStore-v0"]
    for b in ("pds", "fp"):
        assert warm["baselines"][b]["profits"] == plain["baselines"][b]["profits"]
        assert warm["baselines"][b]["copied_from"] == str(first.with_suffix(".json"))
    ws = warm["warm_start"]
    assert ws["baseline"] == "pds" and set(ws["clone_seed_means"]) == {"0"}
    assert ws["cloning"]["0"]["episodes"] == 4
    text = md.read_text()
    assert "| PPO, warm-started from pds (1 seeds) |" in text and "| its clone of pds before PPO (1 seeds) |" in text
    assert "| pds (from `plain.json`, same episodes) |" in text
    # other episodes: refused in one line, before any training
    assert ppo_results.main([*common, "--runs", str(tmp_path / "c"), "--md", str(md), "--eval-seed", "3",
                             "--baseline-results", str(first.with_suffix(".json"))]) == 2
    assert "--eval-seed 3" in capsys.readouterr().err and not (tmp_path / "c").exists()


def test_store_returns_split_the_return_among_the_stores():
    """Each step's per-store returns-to-go sum to the chain's (the kernel's store_reward identity)."""
    from liqenv import make_scenario

    d = collect("liqenv/TwoStore-v1", "store_pds", 3)
    assert d["store_returns"].shape == (len(d["returns"]), make_scenario("TwoStore-v1").n_stores)
    np.testing.assert_allclose(d["store_returns"].sum(1), d["returns"], rtol=1e-9, atol=1e-6)


def test_per_store_agents_clone_from_chain_demonstrations(tmp_path):
    """policy per-store: the chain demonstrations split into (step, store) samples (agents.store_agents),
    each valued at its store's return; cloning raises the agents' agreement with store_pds."""
    from helpers import sub_chain

    path = tmp_path / "chain4.yaml"
    sub_chain([0, 1, 2, 3]).save(path)
    sc = str(path)
    hp = load_hyperparams(sc, {"algo": "maskable-ppo", "policy": "per-store", "n_envs": 2, "n_steps": 60,
                               "batch_size": 120, "warm_start": "store_pds"})
    from agents.store_agents import make_store_agents_env

    model = build_model(hp, make_store_agents_env(sc, 2, 0, 1.0, {}, "native"), seed=0)
    demos = collect(sc, "store_pds", 2)
    untrained = behaviour_clone(model, demos, reward_scale=1000.0, epochs=0)
    stats = behaviour_clone(model, demos, reward_scale=1000.0, epochs=30)
    assert stats["steps"] == 4 * len(demos["returns"])  # one sample per (step, store)
    assert stats["agreement"] > max(0.9, untrained["agreement"])
