"""sweep.py and agents.sweep: the training job as Ray Tune trials (issue 12).

Needs the ``[ray]`` extra (``ray[tune]``, ``optuna``), which CI installs.  The
sweeps are tiny (1,024 steps, validations every 512, 10 episodes) and every
Ray is given its CPUs explicitly.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytest.importorskip("ray.tune", reason="the [ray] extra is not installed (pip install -e '.[ray]')")
pytest.importorskip("optuna", reason="the [ray] extra is not installed (pip install -e '.[ray]')")

import sweep  # noqa: E402
from agents.sweep import FAIL_ENV  # noqa: E402

TINY = ["--timesteps", "1024", "--set", "n_envs=4", "--set", "n_steps=128", "--set", "batch_size=128",
        "--set", "eval_freq=512", "--set", "eval_episodes=10", "--eval-episodes", "10"]


def _rows(exp: Path) -> list[dict]:
    with open(exp / "trials.csv") as f:
        return list(csv.DictReader(f))


def _reports(trial_path: str) -> list[dict]:
    return [json.loads(line) for line in (Path(trial_path) / "result.json").read_text().splitlines() if line]


@pytest.mark.parametrize("argv, named", [
    (["--scenarios", "NoSuch-v0", "--space", "learning_rate=0.001,0.002"], "NoSuch-v0"),
    (["--space", "learnin_rate=1e-3,2e-3"], "learnin_rate"),
    (["--space", "learning_rate=0.001", "--address", "127.0.0.1:1"], "127.0.0.1:1"),
    ([], "empty search space"),
    (["--space", "ent_coef="], "ent_coef"),
    (["--mode", "grid", "--space", "learning_rate=loguniform:1e-4:1e-2"], "learning_rate"),
    (["--space", "n_steps=0,128"], "n_steps"),
])
def test_bad_input_exits_2_with_one_line(argv, named, tmp_path, capsys):
    assert sweep.main(["--storage", str(tmp_path)] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("sweep.py: error:") and named in err, err
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.slow
def test_local_search_writes_table_best_block_and_curves(tmp_path):
    import yaml

    argv = ["--storage", str(tmp_path), "--name", "s", "--samples", "2", "--num-cpus", "2", "--grace", "1",
            "--space", "learning_rate=loguniform:1e-3:3e-3"] + TINY
    assert sweep.main(argv) == 0
    exp = tmp_path / "s"
    rows = _rows(exp)
    assert len(rows) == 2 and all(r["status"] in ("finished", "stopped early") for r in rows)
    assert all(1e-3 <= float(r["learning_rate"]) <= 3e-3 for r in rows)
    best = max(rows, key=lambda r: float(r["best_validation_profit"]))
    block = yaml.safe_load((exp / "best.yaml").read_text())
    assert block == {"SingleStore-v0": {"learning_rate": pytest.approx(float(best["learning_rate"]))}}
    assert (exp / "curves.png").stat().st_size > 0 and "| learning_rate |" in (exp / "trials.md").read_text()
    # a finished trial's last checkpoint carries its run folder (the job's outputs)
    done = [r for r in rows if r["status"] == "finished"]
    assert done, "ASHA stops at most one of two trials at the first rung"
    last = sorted(Path(done[0]["path"]).glob("checkpoint_*"))[-1]
    assert {"model.zip", "results.json", "report.md", "state.json"} <= {p.name for p in last.iterdir()}


@pytest.mark.slow
def test_two_node_cluster_failures_resume_from_checkpoints_and_restore(tmp_path, monkeypatch):
    """Two nodes of one CPU: both run trials; seed 0 dies once and resumes from its checkpoint
    (FailureConfig); seed 1 dies twice, which exceeds --max-failures 1, so the sweep ends with an
    errored trial; --resume (Tuner.restore) finishes seed 1 from its checkpoint and leaves the
    finished seed 0 alone."""
    from ray.cluster_utils import Cluster

    fail = tmp_path / "fail"
    fail.mkdir()
    (fail / "seed0").write_text("1")
    (fail / "seed1").write_text("2")
    monkeypatch.setenv(FAIL_ENV, str(fail))  # before the nodes start: their workers inherit it
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        base = ["--storage", str(tmp_path), "--name", "g", "--address", cluster.address]
        assert sweep.main(base + ["--mode", "grid", "--seeds", "0,1", "--max-failures", "1"] + TINY) == 1
        exp = tmp_path / "g"
        rows = {int(r["seed"]): r for r in _rows(exp)}
        assert rows[0]["status"] == "finished" and int(rows[0]["resumed_from_step"]) > 0
        assert rows[1]["status"] == "error"
        nodes = {rep["node_id"] for r in rows.values() for rep in _reports(r["path"])}
        assert len(nodes) == 2, nodes
        seed0_reports = (Path(rows[0]["path"]) / "result.json").read_text()

        assert sweep.main(["--storage", str(tmp_path), "--name", "g", "--resume",
                           "--address", cluster.address]) == 0
        again = {int(r["seed"]): r for r in _rows(exp)}
        assert again[1]["status"] == "finished" and int(again[1]["resumed_from_step"]) > 0
        assert (Path(again[0]["path"]) / "result.json").read_text() == seed0_reports  # not rerun
        assert not (fail / "seed0").exists() and not (fail / "seed1").exists()
    finally:
        cluster.shutdown()


@pytest.mark.slow
def test_ppo_results_on_ray_gives_the_tables_of_the_process_pool(tmp_path):
    """The same seed trained as a Tune trial (``--ray``) and in-process: the same model, so the same
    table (the training times aside)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import ppo_results

    tables = {}
    for label, extra in (("local", []), ("ray", ["--ray"])):
        md = tmp_path / f"{label}.md"
        assert ppo_results.main(["--scenarios", "SingleStore-v0", "--seeds", "0", "--timesteps", "1",
                                 "--eval-episodes", "20", "--runs", str(tmp_path / label), "--md", str(md),
                                 *extra]) == 0
        tables[label] = json.loads(md.with_suffix(".json").read_text())["scenarios"]["liqenv/SingleStore-v0"]
        assert (tmp_path / label / "SingleStore-v0" / "seed0" / "results.json").is_file()
    for key in ("ppo_seed_means", "baselines", "reference"):
        assert tables["ray"][key] == tables["local"][key]


@pytest.mark.slow
def test_evaluate_on_ray_equals_one_worker(tmp_path):
    """``evaluate.py --ray`` (30 episodes cut into 3 jobs on a 2-CPU Ray) gives the results of
    ``--workers 1`` to the last digit: each job's episodes keep their env seeds."""
    import ray

    import evaluate

    common = ["--scenario", "SingleStore-v0", "--policies", "sdp,pds,fp", "--episodes", "30", "--seed", "7"]
    ray.init(address="local", num_cpus=2, include_dashboard=False)
    try:
        assert evaluate.main(common + ["--workers", "1", "--json", str(tmp_path / "one.json")]) == 0
        assert evaluate.main(common + ["--ray", "--workers", "3", "--json", str(tmp_path / "ray.json")]) == 0
        # episode by episode, through the harness evaluate.py calls
        from liqenv.evaluation import evaluate as run

        per = {engine: run("SingleStore-v0", ["sdp", "pds", "fp"], 30, seed=7, workers=3 if engine == "ray" else 1,
                           engine=engine)["per_episode"] for engine in ("processes", "ray")}
    finally:
        ray.shutdown()
    one, on_ray = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "ray"))
    timings = {"solve_seconds", "act_us"}
    for label in ("sdp", "pds", "fp"):
        a, b = one["results"][label], on_ray["results"][label]
        assert {k: v for k, v in a.items() if k not in timings} == {k: v for k, v in b.items() if k not in timings}
        x, y = per["processes"][label], per["ray"][label]
        assert x.episodes == y.episodes == 30 and x.profit.tolist() == y.profit.tolist()
        assert x.sell_through.tolist() == y.sell_through.tolist()


def test_evaluate_ray_bad_address_exits_2(capsys):
    import evaluate

    argv = ["--scenario", "SingleStore-v0", "--policies", "fp", "--episodes", "2", "--ray", "--address", "127.0.0.1:1"]
    assert evaluate.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "127.0.0.1:1" in err, err


@pytest.mark.slow
def test_trials_reuse_worker_processes_and_carry_no_state_over(tmp_path):
    """On one CPU the second trial runs in the first one's worker process (``reuse_actors``: no second
    import of torch and SB3) and, being the same job, trains the same model: nothing of the first trial
    leaks into it (seeds, torch threads, env state)."""
    import dataclasses

    import ray

    from agents.sweep import init_ray, run_specs

    argv = ["--mode", "grid", "--storage", str(tmp_path), "--name", "plan"] + TINY
    plan = sweep.make_plan(sweep.Args(**vars(sweep.build_parser().parse_args(argv))), argv)
    spec = plan["spec_of"]({"scenario": plan["sids"][0], "seed": 0})
    specs = [dataclasses.replace(spec, out=tmp_path / name, progress=False) for name in ("a", "b")]
    init_ray(num_cpus=1)
    try:
        run_specs(specs, tmp_path / "storage", "reuse")
    finally:
        ray.shutdown()
    pids = {rep["worker_pid"] for path in (tmp_path / "storage" / "reuse").glob("trial_*")
            for rep in _reports(str(path))}
    assert len(pids) == 1, pids
    runs = [json.loads((tmp_path / name / "results.json").read_text())["results"]["ppo"] for name in ("a", "b")]
    timings = {"solve_seconds", "act_us"}
    a, b = ({k: v for k, v in r.items() if k not in timings} for r in runs)
    assert a == b
    curves = [json.loads((tmp_path / name / "state.json").read_text())["curve"] for name in ("a", "b")]
    assert len(curves[0]) == 2 and curves[0] == curves[1]
