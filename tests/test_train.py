"""train.py: a subprocess smoke run, --resume, and every bad-input case (exit 2, one line, nothing written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import train  # noqa: E402

#: A run of a few hundred steps on a tiny single store.
QUICK = ["--timesteps", "512", "--n-envs", "4", "--eval-episodes", "20", "--no-progress",
         "--set", "n_steps=64", "--set", "batch_size=64", "--set", "n_epochs=2", "--set", "eval_freq=256",
         "--set", "eval_episodes=10", "--set", "inventory=10", "--set", "horizon=3"]


def run_cli(script: str, *argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / script), *argv], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "run"
    proc = run_cli("train.py", *QUICK, "--out", str(out), "--baselines", "fp,no_such_baseline")
    return out, proc


def test_smoke_run_writes_everything_and_prints_the_table(smoke_run):
    out, proc = smoke_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("model.zip", "results.json", "report.md", "learning_curve.png", "policy.png", "state.json"):
        assert (out / name).is_file(), name
    assert "| policy | mean profit" in proc.stdout
    assert "| ppo |" in proc.stdout and "| fp |" in proc.stdout
    # a baseline that does not exist is reported, not crashed on
    assert "no_such_baseline" in proc.stdout
    res = json.loads((out / "results.json").read_text())
    assert set(res) == {"scenario", "episodes", "seed", "overrides", "results"}
    assert res["episodes"] == 20 and res["overrides"] == {"inventory": 10, "horizon": 3}
    assert {"mean", "ci95", "share_of_best"} <= set(res["results"]["ppo"])
    assert "unsupported" in res["results"]["no_such_baseline"]
    report = (out / "report.md").read_text()
    assert "python train.py" in report and "| ppo |" in report and "Seed 0" in report
    state = json.loads((out / "state.json").read_text())
    assert [c["timesteps"] for c in state["curve"]] == [256, 512]


def test_results_reproduce_with_evaluate_py(smoke_run):
    out, proc = smoke_run
    assert proc.returncode == 0
    res = json.loads((out / "results.json").read_text())
    again = run_cli("evaluate.py", "--scenario", "liqenv/SingleStore-v0", "--policies",
                    f"ppo={out / 'model.zip'},fp", "--episodes", "20", "--seed", "0",
                    "--set", "inventory=10", "--set", "horizon=3", "--json", str(out.parent / "again.json"))
    assert again.returncode == 0, again.stderr
    res2 = json.loads((out.parent / "again.json").read_text())
    assert res2["results"]["ppo"]["mean"] == res["results"]["ppo"]["mean"]


def test_resume_continues_from_the_last_checkpoint(smoke_run):
    out, proc = smoke_run
    assert proc.returncode == 0
    before = json.loads((out / "state.json").read_text())
    # the scenario spelled without its namespace is the same scenario
    again = run_cli("train.py", "--out", str(out), "--resume", "--timesteps", "768", "--no-progress",
                    "--eval-episodes", "10", "--baselines", "fp", "--vec", "dummy", "--scenario", "SingleStore-v0")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming" in again.stdout and "step 512" in again.stdout
    state = json.loads((out / "state.json").read_text())
    assert [c["timesteps"] for c in state["curve"]] == [256, 512, 768]
    assert state["curve"][:2] == before["curve"]
    assert state["hyperparams"]["n_steps"] == 64  # the saved run's settings, not the file's


def test_trains_on_a_scenario_file(tmp_path, capsys):
    """A YAML scenario file trains like a registered id (one resolver), with the default hyperparameters."""
    from liqenv import make_scenario

    path = tmp_path / "tiny.yaml"
    make_scenario("SingleStore-v0", inventory=10, horizon=3).save(path)
    out = tmp_path / "run"
    assert QUICK[-4:] == ["--set", "inventory=10", "--set", "horizon=3"]
    assert train.main(["--scenario", str(path), "--out", str(out), "--baselines", "fp", *QUICK[:-4]]) == 0
    state = json.loads((out / "state.json").read_text())
    assert state["args"]["scenario"] == str(path.resolve())
    res = json.loads((out / "results.json").read_text())
    assert res["scenario"] == str(path.resolve()) and "mean" in res["results"]["ppo"]


def test_the_job_reports_every_validation_with_its_checkpoint(tmp_path, capsys):
    """agents.job.run_training's report hook (for schedulers): (profit, steps, checkpoint) per validation."""
    from agents.job import run_training

    calls = []

    def report(profit, steps, ckpt):
        assert ckpt.is_file() and ckpt.name == f"step_{steps}.zip"
        calls.append((steps, profit))

    argv = [*QUICK, "--out", str(tmp_path / "run"), "--baselines", "fp"]
    result = run_training(train.make_spec(*train.parse_args(argv), argv), report=report)
    assert not result.interrupted and [s for s, _ in calls] == [256, 512]
    assert [c["mean"] for c in result.state.curve] == [p for _, p in calls]
    assert result.results["results"]["ppo"]["mean"] is not None


# ------------------------------------------------------------------ interruption
def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_the_run(tmp_path):
    """SIGINT mid-training: exit 130, a checkpoint, state.json and the resume command; then
    --resume completes the run with every promised output and a continuous learning curve."""
    import signal
    import time

    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [a if a != "512" else "1000000" for a in QUICK]  # far more steps than it will get to
    # SIGINT at its default in the child: a shell without job control starts background
    # jobs (a CI script run with `&`) with SIGINT ignored, and the child would inherit that
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *argv, "--out", str(out),
                             "--baselines", "fp"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 300
        while not list((out / "checkpoints").glob("step_*.zip")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        time.sleep(1.0)  # well inside learn(): a validation or two later
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:  # never leave a million-step run behind
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr[-2000:]
    assert f"continue with: python train.py --out {out} --resume" in stderr
    assert "Traceback" not in stderr
    steps = train.checkpoints(out)[-1][0]
    train.check_checkpoint(train.checkpoints(out)[-1][1])
    state = json.loads((out / "state.json").read_text())
    assert 0 < steps < 1_000_000 and not (out / "results.json").exists()

    again = run_cli("train.py", "--out", str(out), "--resume", "--timesteps", str(steps + 512), "--no-progress",
                    "--eval-episodes", "20")
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"from step {steps:,}" in again.stdout
    for name in ("model.zip", "results.json", "report.md", "learning_curve.png", "policy.png", "state.json"):
        assert (out / name).is_file(), name
    done = json.loads((out / "state.json").read_text())
    curve = [c["timesteps"] for c in done["curve"]]
    assert curve == sorted(set(curve)) and curve[-1] == steps + 512
    assert done["curve"][:len(state["curve"])] == [c for c in state["curve"] if c["timesteps"] <= steps]


@pytest.mark.parametrize("damage", ["state", "checkpoint"])
def test_a_damaged_run_folder_gives_one_line(capsys, smoke_run, tmp_path, damage):
    """A truncated state.json or checkpoint: --resume answers one line (exit 2), no traceback."""
    import shutil

    src, proc = smoke_run
    assert proc.returncode == 0
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    path = out / "state.json" if damage == "state" else train.checkpoints(out)[-1][1]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    err = _bad(capsys, ["--out", str(out), "--resume", "--timesteps", "2048"])
    assert (path.name if damage == "state" else "damaged") in err


# ------------------------------------------------------------------ bad input
def _bad(capsys, argv: list[str]) -> str:
    code = train.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("train.py: error:") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("argv, word", [
    (["--scenario", "liqenv/NoSuchStore-v0"], "SingleStore-v0"),
    (["--timesteps", "0"], "--timesteps"),
    (["--timesteps", "-100"], "--timesteps"),
    (["--eval-episodes", "0"], "--eval-episodes"),
    (["--n-envs", "0"], "--n-envs"),
    (["--set", "no_such_field=3"], "no_such_field"),
    (["--set", "gamma=2"], "gamma"),
    (["--set", "inventory=-5"], "inventory"),
    (["--resume", "--force"], "--resume"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(capsys, tmp_path, argv, word):
    out = tmp_path / "run"
    err = _bad(capsys, argv + ["--out", str(out)])
    assert word in err
    assert not out.exists()


def test_bad_argparse_values_exit_2(tmp_path):
    proc = run_cli("train.py", "--algo", "dqn", "--out", str(tmp_path / "x"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "dqn" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_existing_out_is_not_overwritten(capsys, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.zip").write_text("precious")
    err = _bad(capsys, ["--out", str(out)])
    assert "--resume" in err and "--force" in err
    assert (out / "model.zip").read_text() == "precious" and sorted(os.listdir(out)) == ["model.zip"]


def test_resume_without_checkpoint_exits_2(capsys, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    assert "checkpoint" in _bad(capsys, ["--out", str(out), "--resume"])
    assert os.listdir(out) == []
    assert "--out" in _bad(capsys, ["--resume"])


def test_resume_refuses_other_settings(capsys, smoke_run):
    out, proc = smoke_run
    assert proc.returncode == 0
    listing = sorted(p.name for p in out.iterdir())
    err = _bad(capsys, ["--out", str(out), "--resume", "--scenario", "Weekend-v0"])
    assert "differs" in err
    assert sorted(p.name for p in out.iterdir()) == listing


def test_evaluate_py_rejects_missing_and_mismatched_models(smoke_run, tmp_path):
    out, proc = smoke_run
    assert proc.returncode == 0
    missing = run_cli("evaluate.py", "--scenario", "liqenv/SingleStore-v0", "--policies",
                      f"ppo={tmp_path / 'none.zip'}", "--episodes", "2")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "not found" in missing.stderr
    other = run_cli("evaluate.py", "--scenario", "liqenv/TwoStore-v1", "--policies",
                    f"ppo={out / 'model.zip'}", "--episodes", "2")
    assert other.returncode == 2 and other.stderr.count("\n") == 1
    assert "observation layout" in other.stderr


def test_ppo_results_rejects_bad_input(tmp_path):
    md = tmp_path / "ppo.md"
    for argv in (["--scenarios", "NoSuchStore-v0"], ["--timesteps", "0"], ["--eval-episodes", "0"]):
        proc = run_cli("benchmarks/ppo_results.py", *argv, "--md", str(md), "--runs", str(tmp_path / "runs"))
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert not md.exists() and not (tmp_path / "runs").exists()


def test_ppo_results_shares_are_of_an_exact_optimum_only_where_it_is_one():
    """SDP is the reference on one store; with hidden store effects (Chain) or
    transfers it is not the optimum, so the best analytic policy is."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import ppo_results
    from baselines.evaluation import make_env

    def ref(sid, base):
        return ppo_results.reference(make_env(sid).unwrapped.scenario, base)

    ran = {"sdp": {"mean": 10.0}, "pds": {"mean": 11.0}}  # pds above SDP: noise on one store
    assert ref("liqenv/SingleStore-v0", ran) == ("sdp", "SDP")
    chain = {"practitioner": {"mean": 9.0}, "sdp": {"mean": 10.0}, "store_pds": {"mean": 11.0}}
    assert ref("liqenv/Chain-v1", chain) == ("store_pds", "best analytic (store_pds)")
    both = {"exact_dp": {"mean": 12.0}, "store_pds": {"mean": 11.0}}
    assert ref("liqenv/TwoStore-v1", both) == ("exact_dp", "exact DP")
    assert ref("liqenv/TransferChain-v1", {"sdp": {"unsupported": "transfers"}, "store_pds": {"mean": 3.0},
                                           "craig_raman": {"mean": 4.0}}) == ("craig_raman",
                                                                               "best analytic (craig_raman)")
    assert ref("liqenv/TransferChain-v1", {"sdp": {"unsupported": "transfers"}}) == (None, "n/a")


def test_ppo_results_refuses_to_reuse_a_run_with_other_hyperparameters(tmp_path):
    """A finished run trained with different hyperparameters is not silently
    reused: the script names the changed key and asks for --force."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import ppo_results
    from agents.config import load_hyperparams

    out = tmp_path / "seed0"
    out.mkdir()
    hp = load_hyperparams("SingleStore-v0").to_dict()
    (out / "results.json").write_text("{}")
    state = {"args": {}, "hyperparams": hp, "scenario_overrides": {}, "reward_scale": 1.0, "curve": [],
             "train_seconds": 1.0}
    (out / "state.json").write_text(json.dumps(state))
    args = ppo_results.build_parser().parse_args(["--runs", str(tmp_path)])
    assert ppo_results.train_spec("liqenv/SingleStore-v0", 0, out, args, ("sdp",)) is None
    (out / "state.json").write_text(json.dumps({**state, "hyperparams": {**hp, "n_epochs": 3}}))
    with pytest.raises(ValueError, match="n_epochs=3"):
        ppo_results.train_spec("liqenv/SingleStore-v0", 0, out, args, ("sdp",))
    # a run older than a hyperparameter (the key absent from its state) had that key's default
    older = {k: v for k, v in hp.items() if k not in ("warm_start", "warm_start_epochs")}
    (out / "state.json").write_text(json.dumps({**state, "hyperparams": older}))
    assert ppo_results.train_spec("liqenv/SingleStore-v0", 0, out, args, ("sdp",)) is None
    changed = ppo_results.build_parser().parse_args(["--runs", str(tmp_path), "--set", "warm_start_epochs=5"])
    with pytest.raises(ValueError, match="warm_start_epochs=None, the hyperparameters now say 5"):
        ppo_results.train_spec("liqenv/SingleStore-v0", 0, out, changed, ("sdp",))
    forced = ppo_results.build_parser().parse_args(["--runs", str(tmp_path), "--force"])
    spec = ppo_results.train_spec("liqenv/SingleStore-v0", 0, out, forced, ("sdp",))
    assert spec.out == out and spec.force and spec.resume_from is None and spec.seed == 0
