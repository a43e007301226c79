"""The evaluation layer (liqenv.evaluation) and its CLI (evaluate.py)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import baselines
from baselines.base import Policy, UnsupportedScenario, register
from liqenv.evaluation import (METRICS, RESULT_KEYS, ci_halfwidth, evaluate, format_table,
                               make_env, parse_overrides, register_loader, resolve_policies,
                               to_json_dict, write_json)
from liqenv.evaluation import register as register_factory
from liqenv.evaluation.registry import NamedFactory

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
TIMING_KEYS = {"solve_seconds", "act_us"}


# ------------------------------------------------------------ test policies
@register("test_fixed")
class FixedMarkdown(Policy):
    """Posts the same markdown every period (test only)."""

    def __init__(self, scenario, markdown: float = 0.3):
        self.markdown = markdown
        super().__init__(scenario)

    def decide(self, obs):
        return self.encode(self.markdown)


@register("test_random")
class RandomMarkdown(Policy):
    """A markdown drawn from its own rng each period: depends on the reset seed."""

    def solve(self):
        self.value_estimate = 12.5

    def decide(self, obs):
        return self.encode(0.05 * int(self.rng.integers(1, 10)))


@register("test_ladder_only")
class LadderOnly(FixedMarkdown):
    """Refuses continuous pricing (test only)."""

    @classmethod
    def check_supported(cls, scenario):
        if scenario.pricing == "continuous":
            raise UnsupportedScenario("test_ladder_only needs ladder prices")


def load_test_model(path, env):
    """A 'learned model' for the loader hook: the file holds a markdown."""
    return FixedMarkdown(baselines.scenario_of(env), markdown=float(Path(path).read_text()))


register_loader("test_model", load_test_model)


def fixed(markdown):
    return lambda env: baselines.make("test_fixed", env, markdown=markdown)


def strip_timings(res):
    return {lab: {k: v for k, v in r.items() if k not in TIMING_KEYS}
            for lab, r in res["results"].items()}


# ------------------------------------------------------------ statistics
@pytest.mark.parametrize("n", [2, 5, 40])
def test_ci_halfwidth_matches_scipy(n):
    x = np.random.default_rng(n).normal(10.0, 3.0, n)
    lo, hi = stats.t.interval(0.95, n - 1, loc=x.mean(), scale=stats.sem(x))
    assert ci_halfwidth(x) == pytest.approx((hi - lo) / 2, rel=1e-12)
    assert math.isnan(ci_halfwidth(x[:1]))


def test_reported_ci_and_std_are_those_of_the_profits():
    res = evaluate("liqenv/SingleStore-v0", ["test_random"], episodes=12, seed=3)
    r = res["results"]["test_random"]
    x = np.array(r["profits"])
    assert len(x) == 12 and x.std() > 0
    assert r["mean"] == pytest.approx(x.mean())
    assert r["std"] == pytest.approx(x.std(ddof=1))
    lo, hi = stats.t.interval(0.95, 11, loc=x.mean(), scale=stats.sem(x))
    assert r["ci95"] == pytest.approx((hi - lo) / 2)
    assert r["value_estimate"] == 12.5
    assert 0 <= r["sell_through"] <= 1 and r["act_us"] > 0


# ------------------------------------------------- common random numbers
def test_identical_policies_get_identical_episodes():
    res = evaluate("liqenv/SingleStore-v0", {"a": fixed(0.15), "b": fixed(0.15), "c": fixed(0.3)},
                   episodes=10, seed=5)
    a, b, c = (np.array(res["results"][k]["profits"]) for k in "abc")
    assert np.array_equal(a, b)
    assert a.std() > 0  # the episodes differ, so equality is not trivial
    assert not np.array_equal(a, c)
    assert res["results"]["a"]["diff_to_best_ci95"] == res["results"]["b"]["diff_to_best_ci95"]


def test_same_evaluation_twice_is_identical():
    kw = dict(episodes=8, seed=11, overrides={"inventory": 60})
    r1 = evaluate("liqenv/SingleStore-v0", ["test_random", "test_fixed"], **kw)
    r2 = evaluate("liqenv/SingleStore-v0", ["test_random", "test_fixed"], **kw)
    assert strip_timings(r1) == strip_timings(r2)
    r3 = evaluate("liqenv/SingleStore-v0", ["test_random", "test_fixed"], **{**kw, "seed": 12})
    assert strip_timings(r3) != strip_timings(r1)


def test_episode_i_uses_env_seed_seed_plus_i():
    full = evaluate("liqenv/SingleStore-v0", ["test_random"], episodes=6, seed=20)
    tail = evaluate("liqenv/SingleStore-v0", ["test_random"], episodes=3, seed=23)
    assert full["results"]["test_random"]["profits"][3:] == tail["results"]["test_random"]["profits"]


def test_workers_two_equals_workers_one():
    pols = {"rand": "test_random", "fixed": fixed(0.2)}
    one = evaluate("liqenv/SingleStore-v0", pols, episodes=7, seed=2, workers=1)
    two = evaluate("liqenv/SingleStore-v0", pols, episodes=7, seed=2, workers=2)
    assert strip_timings(one) == strip_timings(two)
    assert len(two["results"]["rand"]["profits"]) == 7


def test_paired_comparisons():
    res = evaluate("liqenv/SingleStore-v0", {"lo": fixed(0.1), "hi": fixed(0.4)}, episodes=6)
    r = res["results"]
    best = max(r, key=lambda k: r[k]["mean"])
    other = ({"lo", "hi"} - {best}).pop()
    assert r[best]["share_of_best"] == 1.0 and r[best]["diff_to_best"] == 0.0
    assert r[other]["best"] == best
    assert r[other]["share_of_best"] == pytest.approx(r[other]["mean"] / r[best]["mean"])
    d = np.array(r[other]["profits"]) - np.array(r[best]["profits"])
    assert r[other]["diff_to_best"] == pytest.approx(d.mean())
    assert r[other]["diff_to_best_ci95"] == pytest.approx(ci_halfwidth(d))
    assert r[other]["share_of_sdp"] is None


def test_share_of_sdp_uses_the_policy_labelled_sdp():
    res = evaluate("liqenv/SingleStore-v0", {"sdp": fixed(0.3), "x": fixed(0.1)}, episodes=4)
    r = res["results"]
    assert r["x"]["share_of_sdp"] == pytest.approx(r["x"]["mean"] / r["sdp"]["mean"])


def test_generator_scenario_multi_store():
    res = evaluate("liqenv/TwoStore-v1", {"f": fixed(0.2)}, episodes=3, seed=0)
    r = res["results"]["f"]
    assert len(r["profits"]) == 3 and math.isfinite(r["mean"])


# ------------------------------------------------------------ unsupported
def test_unsupported_is_reported_not_raised():
    res = evaluate("liqenv/SingleStore-v0", ["test_ladder_only", "test_fixed"], episodes=3,
                   overrides={"pricing": "continuous"})
    assert res["results"]["test_ladder_only"] == {"unsupported": "test_ladder_only needs ladder prices"}
    assert "mean" in res["results"]["test_fixed"]
    assert "unsupported" in format_table(res)
    par = evaluate("liqenv/SingleStore-v0", ["test_ladder_only", "test_fixed"], episodes=3,
                   overrides={"pricing": "continuous"}, workers=2)
    assert strip_timings(par) == strip_timings(res)


def test_unknown_policy_raises_or_is_reported():
    with pytest.raises(ValueError, match="no_such_policy"):
        evaluate("liqenv/SingleStore-v0", ["no_such_policy"], episodes=2)
    res = evaluate("liqenv/SingleStore-v0", ["no_such_policy", "test_fixed"], episodes=2,
                   unknown="report")
    assert set(res["results"]["no_such_policy"]) == {"unsupported"}


@pytest.mark.parametrize("kw, match", [
    ({"episodes": 0}, "episodes"), ({"episodes": 2, "workers": 0}, "workers"),
    ({"episodes": 2, "overrides": {"no_field": 1}}, "no_field"),
    ({"episodes": 2, "overrides": {"inventory": "many"}}, "inventory"),
])
def test_bad_arguments_raise_value_error(kw, match):
    with pytest.raises(ValueError, match=match):
        evaluate("liqenv/SingleStore-v0", ["test_fixed"], **kw)


# ------------------------------------------------------------ model loaders
def test_model_spec_resolves_through_the_loader(tmp_path):
    model = tmp_path / "m.txt"
    model.write_text("0.25")
    res = evaluate("liqenv/SingleStore-v0", [f"test_model={model}", "test_fixed"], episodes=3)
    ref = evaluate("liqenv/SingleStore-v0", {"test_model": fixed(0.25)}, episodes=3)
    assert res["results"]["test_model"]["profits"] == ref["results"]["test_model"]["profits"]
    with pytest.raises(ValueError, match="not found"):
        evaluate("liqenv/SingleStore-v0", [f"test_model={tmp_path / 'nope.txt'}"], episodes=1)
    with pytest.raises(ValueError, match="no model loader"):
        evaluate("liqenv/SingleStore-v0", [f"zz_unknown={model}"], episodes=1)


# ------------------------------------------------------------ JSON and table
def test_json_schema(tmp_path):
    res = evaluate("liqenv/SingleStore-v0", ["test_random", "test_ladder_only"], episodes=3, seed=4,
                   overrides={"pricing": "continuous", "inventory": 80})
    path = tmp_path / "sub" / "out.json"
    write_json(res, path)
    data = json.loads(path.read_text())
    assert list(data) == ["scenario", "episodes", "seed", "overrides", "results"]
    assert data["scenario"] == "liqenv/SingleStore-v0" and data["episodes"] == 3 and data["seed"] == 4
    assert data["overrides"] == {"pricing": "continuous", "inventory": 80}
    r = data["results"]["test_random"]
    assert set(RESULT_KEYS) <= set(r) and "profits" not in r
    assert r["value_estimate"] == 12.5
    for k in ("mean", "ci95", "std", "sell_through", "net_recovery_on_cost", "solve_seconds", "act_us"):
        assert isinstance(r[k], float)
    assert data["results"]["test_ladder_only"] == {"unsupported": "test_ladder_only needs ladder prices"}
    assert to_json_dict(res, per_episode=True)["results"]["test_random"]["profits"] == \
        res["results"]["test_random"]["profits"]


def test_single_episode_ci_is_null_in_json(tmp_path):
    res = evaluate("liqenv/SingleStore-v0", ["test_fixed"], episodes=1)
    write_json(res, tmp_path / "one.json")  # strict JSON: NaN must not be written
    assert json.loads((tmp_path / "one.json").read_text())["results"]["test_fixed"]["ci95"] is None
    assert "n/a" in format_table(res)


def test_format_table_rows():
    res = evaluate("liqenv/SingleStore-v0", {"sdp": fixed(0.3), "x": fixed(0.1)}, episodes=3)
    lines = format_table(res).splitlines()
    assert lines[0].startswith("| policy | mean profit | ±95% CI | share of best | share of SDP")
    assert len(lines) == 4 and lines[2].startswith("| sdp | ") and lines[3].startswith("| x | ")
    assert f"{res['results']['x']['mean']:,.2f}" in lines[3]


def test_parse_overrides_types():
    got = parse_overrides(["inventory=1800", "decay=0.5", "pricing=continuous", "x=[1,2]"])
    assert got == {"inventory": 1800, "decay": 0.5, "pricing": "continuous", "x": [1, 2]}
    with pytest.raises(ValueError, match="field=value"):
        parse_overrides(["inventory"])


# ------------------------------------------------------------ CLI
# The wrapper imports this module (registering the test policies) and runs
# evaluate.py's main, so the CLI can be exercised before real policies exist.
WRAPPER = ("import sys; sys.path[:0] = [{root!r}, {tests!r}]; import test_evaluate; "
           "import evaluate; sys.exit(evaluate.main(sys.argv[1:]))")


def run_cli(args, wrapper=True, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = ([sys.executable, "-c", WRAPPER.format(root=str(ROOT), tests=str(TESTS))] if wrapper
           else [sys.executable, str(ROOT / "evaluate.py")])
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env,
                          cwd=cwd or ROOT, timeout=120)


def test_cli_small_run(tmp_path):
    out = tmp_path / "r.json"
    p = run_cli(["--scenario", "liqenv/SingleStore-v0", "--policies", "test_fixed,test_random",
                 "--episodes", "4", "--seed", "1", "--set", "pricing=continuous",
                 "--set", "inventory=50", "--json", str(out)])
    assert p.returncode == 0, p.stderr
    assert "| test_fixed |" in p.stdout and "| test_random |" in p.stdout
    data = json.loads(out.read_text())
    assert data["overrides"] == {"pricing": "continuous", "inventory": 50}
    direct = evaluate("liqenv/SingleStore-v0", ["test_fixed", "test_random"], episodes=4, seed=1,
                      overrides={"pricing": "continuous", "inventory": 50})
    assert data["results"]["test_random"]["mean"] == direct["results"]["test_random"]["mean"]


def test_cli_model_spec(tmp_path):
    model = tmp_path / "m.txt"
    model.write_text("0.2")
    p = run_cli(["--scenario", "liqenv/SingleStore-v0", "--policies", f"test_model={model}",
                 "--episodes", "3", "--workers", "2"])
    assert p.returncode == 0, p.stderr
    assert "| test_model |" in p.stdout


BASE = ["--scenario", "liqenv/SingleStore-v0", "--policies", "test_fixed", "--episodes", "2"]


def _cli_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("evaluate_cli", ROOT / "evaluate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# In-process (a subprocess costs seconds of imports); the subprocess tests
# below check that a real process prints one line and no traceback.
@pytest.mark.parametrize("args, needle", [
    (BASE[:-1] + ["0"], "episodes"),
    (BASE[:-1] + ["-3"], "episodes"),
    (BASE[:-1] + ["many"], "episodes"),
    (["--scenario", "liqenv/SingleStore-v0", "--policies", "nope", "--episodes", "2"], "nope"),
    (["--scenario", "liqenv/Nope-v0", "--policies", "test_fixed"], "SingleStoreWeibull-v1"),
    (BASE + ["--set", "no_field=3"], "no_field"),
    (BASE + ["--set", "inventory=lots"], "inventory"),
    (BASE + ["--set", "inventory"], "field=value"),
    (BASE + ["--set", "x=[1"], "x=[1"),
    (BASE + ["--workers", "0"], "workers"),
    (["--scenario", "liqenv/SingleStore-v0", "--policies", "zzloader=missing.zip"], "zzloader"),
    (["--policies", "test_fixed"], "scenario"),
    (["--scenario", "liqenv/SingleStore-v0", "--policies", "test_model=/no/such/model.zip"], "not found"),
    (["--scenario", "no/such/file.yaml", "--policies", "test_fixed"], "file.yaml"),
])
def test_cli_bad_input_exits_2_with_one_line(args, needle, capsys):
    cli = _cli_module()
    try:
        rc = cli.main(args)
    except SystemExit as e:  # argparse errors
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert needle in lines[0]


@pytest.mark.parametrize("args, needle", [
    (["--scenario", "liqenv/SingleStore-v0", "--policies", "test_fixed", "--episodes", "0"], "episodes"),
    (["--scenario", "liqenv/SingleStore-v0", "--policies", "test_fixed", "--set", "inventory"], "field=value"),
])
def test_cli_subprocess_bad_input_exits_2_with_one_line(args, needle):
    p = run_cli(args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    assert needle in lines[0]


def test_cli_script_itself_rejects_bad_input():
    p = run_cli(["--scenario", "liqenv/SingleStore-v0", "--policies", "definitely_not_a_policy"],
                wrapper=False)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "definitely_not_a_policy" in p.stderr and "Traceback" not in p.stderr


def test_cli_with_a_real_policy():
    p = run_cli(["--scenario", "liqenv/SingleStore-v0", "--policies", "fp", "--episodes", "2"],
                wrapper=False)
    assert p.returncode == 0, p.stderr
    assert "| fp |" in p.stdout


# ------------------------------------------------------------ reproduce_yang
def _yang_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("reproduce_yang", ROOT / "benchmarks" / "reproduce_yang.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_reproduce_yang_rows_come_from_evaluate(monkeypatch, tmp_path):
    yang = _yang_module()
    monkeypatch.setattr(yang, "PAPER_TABLE5", {"test_random": {"uniform": 1.0}, "zz_missing": {"uniform": 2.0}})
    monkeypatch.setattr(yang, "TABLE5_SCENARIOS", {"uniform": "liqenv/SingleStore-v0"})
    monkeypatch.setattr(yang, "PAPER_TABLE3", {"test_fixed": ("FIX", 3.0), "dq": ("DQ", 4.0)})
    monkeypatch.setattr(yang, "TABLE3_SCENARIO", "liqenv/SingleStore-v0")
    out = tmp_path / "yang.md"
    assert yang.main(["--episodes", "3", "--episodes-large", "2", "--seed", "7", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.splitlines()[0] == f"`python benchmarks/reproduce_yang.py --episodes 3 --episodes-large 2 --seed 7 --out {out}`"
    ref = evaluate("liqenv/SingleStore-v0", ["test_random"], 3, seed=7, overrides={"pricing": "continuous"})
    r = ref["results"]["test_random"]
    assert f"| uniform | TEST_RANDOM | 1.00 | {r['mean']:,.2f} ± {r['ci95']:,.2f} |" in text
    assert "| ZZ_MISSING | 2.00 | unavailable" in text
    fix = evaluate("liqenv/SingleStore-v0", ["test_fixed"], 2, seed=7, overrides={"pricing": "continuous"})
    assert f"| FIX | test_fixed | 3.00 | {fix['results']['test_fixed']['mean']:,.2f} ±" in text
    # The rounding variant sits under the paper's DQ row and is measured against the same figure.
    dq = evaluate("liqenv/SingleStore-v0", {"dq_round": lambda env: baselines.make("dq", env, rounding="round")},
                  2, seed=7, overrides={"pricing": "continuous"})["results"]["dq_round"]
    assert f"| dq rounding=round | 4.00 | {dq['mean']:,.2f} ± {dq['ci95']:,.2f} | {dq['mean'] - 4.0:+.2f} |" in text
    with pytest.raises(SystemExit) as e:
        yang.main(["--episodes", "0"])
    assert e.value.code == 2


class _BatchedFixedMarkdown(Policy):
    """A stateless test policy that also acts on a batch."""

    batched = True

    def __init__(self, scenario, level: int = 6):
        self.level = level
        super().__init__(scenario)

    def decide(self, obs):
        return self.level

    def act_batch(self, observations, masks=None):
        return np.full(len(observations), self.level, dtype=np.int64)


def test_batched_evaluation_equals_one_episode_at_a_time():
    fac = {"fixed": lambda env: _BatchedFixedMarkdown(env.unwrapped.scenario)}
    a = evaluate("SingleStore-v0", fac, 40, seed=7, vec="auto")
    b = evaluate("SingleStore-v0", fac, 40, seed=7, vec="single")
    assert a["results"]["fixed"]["profits"] == b["results"]["fixed"]["profits"]
    assert a["results"]["fixed"]["sell_through"] == b["results"]["fixed"]["sell_through"]
    for name in METRICS:
        assert np.array_equal(getattr(a["per_episode"]["fixed"], name),
                              getattr(b["per_episode"]["fixed"], name)), name
    c = evaluate("SingleStore-v0", fac, 40, seed=7, vec="auto", workers=2)
    assert c["results"]["fixed"]["profits"] == a["results"]["fixed"]["profits"]
    with pytest.raises(ValueError, match="vec"):
        evaluate("SingleStore-v0", fac, 4, vec="fast")


# ------------------------------------------------------------ per-episode metrics
@pytest.mark.parametrize("scenario_id", ["liqenv/SingleStore-v0", "liqenv/TwoStore-v1"])
def test_per_episode_metrics_add_up(scenario_id):
    """The metrics of MODEL.md section 7, episode by episode: the reward identity, every unit
    sold or salvaged, sell-through and net recovery on cost from the env's own figures."""
    res = evaluate(scenario_id, {"f": fixed(0.2)}, episodes=5, seed=3)
    m = res["per_episode"]["f"]
    assert m.episodes == 5 and tuple(METRICS)[0] == "profit"
    np.testing.assert_allclose(m.profit, m.revenue - m.operating_cost - m.holding_cost
                               - m.transfer_cost + m.salvage_value, rtol=1e-12, atol=1e-9)
    assert m.profit.tolist() == res["results"]["f"]["profits"]
    assert m.units_sold.dtype.kind == "i" and m.units_salvaged.dtype.kind == "i"
    env = make_env(scenario_id)
    for i in range(5):
        env.reset(seed=3 + i)
        sc = env.unwrapped.scenario  # TwoStore-v1 draws one per reset
        assert m.units_sold[i] + m.units_salvaged[i] == sc.total_inventory
        assert m.sell_through[i] == m.units_sold[i] / sc.total_inventory
        assert m.net_recovery_on_cost[i] == pytest.approx(
            m.profit[i] / (sc.total_inventory * sc.unit_cost), rel=1e-12)
    assert m.means()["sell_through"] == res["results"]["f"]["sell_through"]


# ------------------------------------------------------------ the layer and its registry
class _ActOnly:
    """The least a policy needs: act(observation)."""

    def act(self, observation):
        return 4


def test_any_object_with_act_is_a_policy():
    res = evaluate("liqenv/SingleStore-v0", {"bare": lambda env: _ActOnly(), "f": fixed(0.2)},
                   episodes=3, seed=1)
    r = res["results"]["bare"]
    assert r["solve_seconds"] == 0.0 and r["value_estimate"] is None and len(r["profits"]) == 3
    with pytest.raises(ValueError, match="'noact'.*no act"):
        evaluate("liqenv/SingleStore-v0", {"noact": lambda env: object()}, episodes=1)


def test_registry_rejects_a_second_factory_and_bad_names():
    with pytest.raises(ValueError, match="test_fixed.*twice"):
        register_factory("test_fixed", lambda env: _ActOnly())
    for bad in ("", "a=b", "a,b"):
        with pytest.raises(ValueError, match="name"):
            register_factory(bad, lambda env: _ActOnly())
    with pytest.raises(ValueError, match="test_model.*twice"):
        register_loader("test_model", lambda path, env: _ActOnly())


def test_a_missing_provider_raises_its_own_import_error():
    env = make_env("SingleStore-v0")
    with pytest.raises(ModuleNotFoundError, match="zz_no_such_provider"):
        NamedFactory("zz_unregistered", "zz_no_such_provider")(env)


# One fresh interpreter checks three things: ``import liqenv`` leaves the layer out, the
# layer imports no policy package, and a registered name's factory, unpickled in a process
# that never imported ``baselines`` (a spawned or remote worker), imports its provider.
FRESH = """
import pickle, sys
import liqenv
assert "liqenv.evaluation" not in sys.modules
from liqenv.evaluation import make_env
above = sorted(m for m in sys.modules if m.split(".")[0] in ("baselines", "agents", "torch",
                                                             "stable_baselines3", "sb3_contrib"))
assert not above, above
policy = pickle.loads(bytes.fromhex(sys.argv[1]))(make_env("SingleStore-v0"))
print(type(policy).__module__, type(policy).__name__)
"""


def test_layer_imports_nothing_above_it_and_workers_import_providers():
    import pickle

    fac = resolve_policies(["fp"])["fp"]
    p = subprocess.run([sys.executable, "-c", FRESH, pickle.dumps(fac).hex()], capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    want = type(baselines.make("fp", make_env("SingleStore-v0")))
    assert p.stdout.split() == [want.__module__, want.__name__]


def test_cli_a_broken_provider_is_a_real_error(tmp_path):
    """A provider that fails to import shows its own error, not "no model loader for 'ppo'"."""
    fake = tmp_path / "fake" / "agents"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('agents broken on purpose')\n")
    model = tmp_path / "m.zip"
    model.write_text("")
    code = (f"import sys; sys.path[:0] = [{str(fake.parent)!r}, {str(ROOT)!r}]; import evaluate; "
            "sys.exit(evaluate.main(sys.argv[1:]))")
    p = subprocess.run([sys.executable, "-c", code, "--scenario", "liqenv/SingleStore-v0",
                        "--policies", f"ppo={model}", "--episodes", "1"], capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=120)
    assert p.returncode != 0
    assert "agents broken on purpose" in p.stderr and "no model loader" not in p.stderr
    assert "agents/__init__.py" in p.stderr  # the traceback names the module
