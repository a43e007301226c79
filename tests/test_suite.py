"""The benchmark suite (liqenv.evaluation.suite), its scores and aggregates, and evaluate.py --suite."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import agents  # noqa: F401  (the sb3= loader)
import baselines  # noqa: F401  (fp, sdp)
from liqenv.evaluation import scores
from liqenv.evaluation.specs import ImportedFactory, parse_policy_groups
from liqenv.evaluation.suite import available_suites, load_suite, references_path, results_path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import suite_references  # noqa: E402
from helpers import TINY_SUITE  # noqa: E402

TINY = TINY_SUITE

USER_MODULE = """
class Half:
    '''Posts the middle markdown of the ladder every period.'''
    def __init__(self, env):
        self.n = env.action_space.n
    def act(self, observation):
        return self.n // 2

def make_policy(env):
    return Half(env)

def no_act(env):
    return object()
"""


# ------------------------------------------------------------------ scores
def test_floor_scores_0_and_reference_1_by_construction():
    assert scores.normalised_score(80.0, 80.0, 90.0) == 0.0
    assert scores.normalised_score(90.0, 80.0, 90.0) == 1.0


@pytest.mark.parametrize("w", [0.0, 0.25, 0.5, 1.0, 1.5])
def test_a_known_mixture_gives_the_known_score(w):
    floor, ref = 66.2, 85.3
    assert scores.normalised_score(w * ref + (1 - w) * floor, floor, ref) == pytest.approx(w)


@pytest.mark.parametrize("floor, ref", [(1.0, 1.0), (2.0, 1.0), (float("nan"), 1.0)])
def test_reference_not_above_floor_raises(floor, ref):
    with pytest.raises(ValueError, match="reference"):
        scores.normalised_score(1.0, floor, ref)


def test_aggregates_by_hand():
    x = np.array([[0.0, 0.5, 1.2, 2.0],
                  [0.1, 0.4, 0.9, 3.0]])
    a = scores.aggregate(x)
    assert a["mean"] == pytest.approx(x.mean())
    assert a["median"] == pytest.approx(np.median([0.05, 0.45, 1.05, 2.5]))
    # 8 scores: the IQM drops the two lowest (0, 0.1) and the two highest (2, 3)
    assert a["iqm"] == pytest.approx(np.mean([0.4, 0.5, 0.9, 1.2]))
    # gap: 1 - mean(min(x, 1))
    assert a["optimality_gap"] == pytest.approx(1 - np.mean([0, 0.5, 1, 1, 0.1, 0.4, 0.9, 1]))


def test_single_run_is_a_reference_line_without_interval():
    a = scores.aggregate_with_ci(np.array([[0.2, 0.4]]))
    assert a["mean"] == {"value": pytest.approx(0.3), "lo": None, "hi": None}


def test_bootstrap_ci_covers_a_known_mean():
    """Over 200 simulated datasets (5 runs x 4 scenarios) the 95% interval of the mean covers it >= 90%."""
    rng = np.random.default_rng(12345)
    mu = np.array([0.2, 0.5, 0.8, 1.0])
    hits = 0
    for k in range(200):
        x = mu + rng.normal(0, 0.3, size=(5, 4))
        lo, hi = scores.stratified_bootstrap_ci(x, scores.AGGREGATES["mean"], reps=300, seed=k)
        hits += lo <= mu.mean() <= hi
    assert hits >= 180, hits


def test_stratified_bootstrap_keeps_each_scenarios_runs():
    # scenario j holds only the value j: any stratified resample has mean exactly 1.5
    x = np.tile(np.arange(4.0), (6, 1))
    assert scores.stratified_bootstrap_ci(x, scores.AGGREGATES["mean"], reps=50) == (1.5, 1.5)


def test_probability_of_improvement():
    x = np.array([[1.0, 2.0], [1.5, 2.5]])
    assert scores.probability_of_improvement(x, x - 10, reps=50)["value"] == 1.0
    assert scores.probability_of_improvement(x, x, reps=50)["value"] == 0.5
    # one scenario: P(X > Y) is the Mann-Whitney U statistic over m * n
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (7, 1)), rng.normal(0.3, 1, (5, 1))
    u = stats.mannwhitneyu(a[:, 0], b[:, 0]).statistic
    assert scores.probability_of_improvement(a, b, reps=10)["value"] == pytest.approx(u / 35)


def test_performance_profile():
    x = np.array([[0.0, 0.5], [1.0, 2.0]])
    assert scores.performance_profile(x, [-1, 0.0, 0.5, 1.0, 3]).tolist() == [1.0, 0.75, 0.5, 0.25, 0.0]


# ------------------------------------------------------------------ the shipped suite
def test_shipped_suite_parses_and_its_seeds_are_unseen_in_training():
    from agents.job import TRAIN_SEED_STRIDE, VALIDATION_SEED

    assert "liqenv-bench-v1" in available_suites()
    suite = load_suite("liqenv-bench-v1", references=False)
    for s in suite.scenarios:
        # validations use VALIDATION_SEED.. (far fewer than 4M episodes), training >= TRAIN_SEED_STRIDE
        assert VALIDATION_SEED + 4_000_000 <= s.seed and s.seed + s.episodes <= TRAIN_SEED_STRIDE
    starts = sorted((s.seed, s.seed + s.episodes) for s in suite.scenarios)
    assert all(a[1] <= b[0] for a, b in zip(starts, starts[1:]))


# ------------------------------------------------------------------ CLI
@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A two-scenario suite with measured references, and a user policy module on sys.path."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    data, results = suite_references.measure(str(path))
    references_path(path).write_text(json.dumps(data))
    results_path(path).write_text(json.dumps(results))
    (tmp_path / "user_policy_mod.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return path


def _cli():
    spec = importlib.util.spec_from_file_location("evaluate_cli", ROOT / "evaluate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(args, capsys):
    try:
        rc = _cli().main(args)
    except SystemExit as e:
        rc = e.code
    return rc, capsys.readouterr()


def test_user_policy_runs_through_suite(tiny, tmp_path, capsys):
    out = tmp_path / "o"
    rc, cap = _run(["--suite", str(tiny), "--policies",
                    "fp,sdp,mine=user_policy_mod:make_policy,cls=user_policy_mod:Half|user_policy_mod:make_policy",
                    "--json", f"{out}.json", "--csv", f"{out}.csv", "--md", f"{out}.md"], capsys)
    assert rc == 0, cap.err
    rep = json.loads(Path(f"{out}.json").read_text())
    by = {(r["policy"], r["scenario"]): r for r in rep["rows"]}
    for sid in ("liqenv/SingleStore-v0", "liqenv/Weekend-v0"):
        assert by["fp", sid]["score"] == pytest.approx(0.0, abs=1e-12)
        assert by["sdp", sid]["score"] == pytest.approx(1.0, abs=1e-12)
        # the constant markdown policy scores what its profit says
        s = next(x for x in rep["scenarios"] if x["id"] == sid)
        want = (by["mine", sid]["profit"] - s["floor_value"]) / (s["reference_value"] - s["floor_value"])
        assert by["mine", sid]["score"] == pytest.approx(want)
        for k in ("revenue", "holding_cost", "salvage_value", "units_sold", "sell_through",
                  "net_recovery_on_cost"):
            assert k in by["mine", sid]
    agg = rep["aggregates"]
    assert agg["fp"]["mean"]["value"] == pytest.approx(0.0, abs=1e-12) and agg["fp"]["mean"]["lo"] is None
    assert agg["cls"]["runs"] == 2 and agg["cls"]["mean"]["lo"] is not None
    assert "| mine |" in cap.out and Path(f"{out}.md").read_text().startswith("Suite `tiny`")
    assert sum(1 for line in Path(f"{out}.csv").read_text().splitlines() if ",ALL," in line) == 4 * 4


@pytest.mark.parametrize("extra, needle", [
    (["--suite", "no-such-suite", "--policies", "fp"], "no-such-suite"),
    (["--policies", "nosuchmodule_xyz:make"], "scenario"),
    (["SUITE", "--policies", "nosuchmodule_xyz:make"], "nosuchmodule_xyz"),
    (["SUITE", "--policies", "user_policy_mod:missing"], "missing"),
    (["SUITE", "--policies", "user_policy_mod:no_act"], "no act("),
    (["SUITE", "--policies", "nope"], "nope"),
    (["SUITE", "--policies", "x=sb3:/no/such/*.zip"], "no file"),
    (["SUITE", "--policies", "fp", "--episodes", "5"], "--suite fixes"),
    (["SUITE", "--policies", "fp,fp"], "twice"),
    (["SUITE", "--policies", "fp", "--ray"], "drop --ray"),
    (["--scenario", "SingleStore-v0", "--policies", "fp", "--plot", "x.png"], "--plot needs --suite"),
])
def test_suite_bad_input_exits_2_with_one_line(tiny, extra, needle, capsys):
    args = [a if a != "SUITE" else "--suite" for a in extra]
    if extra[0] == "SUITE":
        args.insert(1, str(tiny))
    rc, cap = _run(args, capsys)
    assert rc == 2, cap.err
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in cap.err, cap.err
    assert needle in lines[0]


def test_stale_references_are_refused(tiny):
    tiny.write_text(TINY.replace("episodes: 6, seed: 5000000", "episodes: 7, seed: 5000000"))
    with pytest.raises(ValueError, match="suite_references"):
        load_suite(str(tiny))


def test_policy_groups_parse():
    g = parse_policy_groups("sdp, best=sdp|fp")
    assert list(g) == ["sdp", "best"] and [n for n, _ in g["best"]] == ["sdp", "fp"]
    with pytest.raises(ValueError, match="label"):
        parse_policy_groups("sdp|fp")
    assert isinstance(parse_policy_groups("m=json:dumps")["m"][0][1], ImportedFactory)


@pytest.mark.parametrize("algo", ["PPO", "A2C", "DQN"])
def test_sb3_zip_algorithm_is_read_from_the_zip(algo, tmp_path):
    import stable_baselines3 as sb3

    from agents.sb3_zip import load_sb3, sb3_algorithm
    from liqenv.evaluation import make_env

    env = make_env("liqenv/SingleStore-v0")
    kw = {"DQN": {"learning_starts": 0, "buffer_size": 100}, "A2C": {"n_steps": 8},
          "PPO": {"n_steps": 8, "batch_size": 8}}[algo]
    model = getattr(sb3, algo)("MlpPolicy", env, device="cpu", **kw)
    model.save(tmp_path / "m.zip")
    assert sb3_algorithm(str(tmp_path / "m.zip")) == ("stable_baselines3", algo)
    pol = load_sb3(str(tmp_path / "m.zip"), env)
    obs, _ = env.reset(seed=0)
    assert env.action_space.contains(pol.act(obs))


def test_per_scenario_models_and_a_missing_one_is_unsupported(tiny, tmp_path, capsys):
    import stable_baselines3 as sb3

    from liqenv.evaluation import make_env

    model = sb3.PPO("MlpPolicy", make_env("liqenv/SingleStore-v0"), n_steps=8, batch_size=8, device="cpu")
    model.save(tmp_path / "models" / "SingleStore-v0" / "m.zip")  # none for Weekend-v0
    rc, cap = _run(["--suite", str(tiny), "--policies", f"ppo=sb3:{tmp_path}/models/{{scenario}}/m.zip,sdp",
                    "--json", str(tmp_path / "o.json")], capsys)
    assert rc == 0, cap.err
    rep = json.loads((tmp_path / "o.json").read_text())
    by = {(r["policy"], r["scenario"]): r for r in rep["rows"]}
    assert "score" in by["ppo", "liqenv/SingleStore-v0"]
    assert "no model" in by["ppo", "liqenv/Weekend-v0"]["unsupported"]
    assert rep["aggregates"]["ppo"]["covered"] == 1 and "mean" not in rep["aggregates"]["ppo"]
    assert any(line.startswith("| Weekend-v0 |") and "| no model |" in line for line in cap.out.splitlines())


def test_reference_not_above_floor_names_the_scenario():
    from liqenv.evaluation.suite import SuiteScenario, reference_entry

    s = SuiteScenario("liqenv/SingleStore-v0", 2, 0, "a", "b", "exact")
    res = {"results": {"a": {"mean": 5.0, "ci95": 0.1}, "b": {"mean": 5.0, "ci95": 0.1}}}
    with pytest.raises(ValueError, match="SingleStore-v0.*cannot be scored"):
        reference_entry(s, res)


def test_reference_run_rows_are_reused_not_played_again(tiny, monkeypatch):
    from liqenv.evaluation import suite as suite_mod
    from liqenv.evaluation.suite import load_reference_results, run_suite

    suite = load_suite(str(tiny))
    groups = parse_policy_groups("fp,sdp,mid=user_policy_mod:make_policy")
    played = run_suite(suite, groups)
    reuse = load_reference_results(suite)
    ids = [s.id for s in suite.scenarios]
    assert set(reuse) == {(sid, name) for sid in ids for name in ("fp", "sdp")}
    calls = []
    real = suite_mod.evaluate
    monkeypatch.setattr(suite_mod, "evaluate",
                        lambda sid, labels, *a, **k: calls.append(sorted(labels)) or real(sid, labels, *a, **k))
    assert run_suite(suite, groups, reuse=reuse) == played  # the same rows, to the last digit
    assert calls == [["mid#0"]] * len(ids)  # only the policy the reference run did not play
    # rows of another reference run (another commit) are not reused
    data = json.loads(results_path(tiny).read_text())
    results_path(tiny).write_text(json.dumps(data | {"commit": "0" * 40}))
    assert load_reference_results(load_suite(str(tiny))) == {}


def test_suite_markdown_has_the_section_7_metrics_of_every_supported_row():
    from liqenv.evaluation.report import metric_cells
    from liqenv.evaluation.suite import format_suite_markdown

    metrics = {"revenue": 120.0, "operating_cost": 5.0, "holding_cost": 2.5, "transfer_cost": 1.25,
               "salvage_value": 3.0, "units_sold": 90.0, "units_salvaged": 10.0, "sell_through": 0.9,
               "net_recovery_on_cost": 1.1425}
    rows = [{"policy": "a", "run": k, "run_spec": "a", "scenario": "liqenv/S-v0", "profit": 114.25 + k,
             "profit_ci95": 1.0, "score": 0.5, "score_ci95": 0.1, **metrics} for k in (0, 1)]
    rows.append({"policy": "b", "run": 0, "run_spec": "b", "scenario": "liqenv/S-v0", "unsupported": "no"})
    agg = {"runs": 2, "covered": 1, "learned": True}
    report = {"suite": "t", "scenarios": [{"id": "liqenv/S-v0", "floor": "f", "reference": "r",
                                           "reference_kind": "exact", "floor_value": 0.0,
                                           "reference_value": 1.0}],
              "rows": rows, "aggregates": {"a": agg, "b": agg | {"runs": 1, "covered": 0}},
              "improvement": {}}
    md = format_suite_markdown(report)
    want = metric_cells(metrics | {"profit": 114.75})  # the runs' mean profit
    assert f"| S-v0 | a | {want} |" in md.splitlines()
    assert "| S-v0 | b |" not in md  # unsupported: no metrics row
    assert "holding" in md and "salvage value" in md and "NRC" in md
