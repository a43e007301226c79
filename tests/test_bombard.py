"""Bombardment: every command-line entry point against a table of bad inputs.

Each case must end with exit status 2 and exactly one line on stderr,
``<prog>: error: ...``, naming the offending flag, field or file, before any
work starts (a case that runs longer than ``LIMIT_S`` fails) and without
writing into the working folder.  The CLIs run in-process (``main(argv)``,
``SystemExit`` caught, stderr captured); a few run as real subprocesses.

The count of bad inputs tried per entry point and of those that ended in a
clean error is written to ``$LIQENV_BOMBARD_MD`` when that variable is set
(``benchmarks/results/bombard.md``, copied into the README's testing section):

    LIQENV_BOMBARD_MD=benchmarks/results/bombard.md python -m pytest -q tests/test_bombard.py
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Seconds a bad input may take before it counts as having started the work.
LIMIT_S = 120

#: Entry points: label -> (script, arguments every case gets; "{tmp}" is a fresh folder).
CLIS = {
    "train.py": ("train.py", ["--out", "{tmp}/run", "--no-progress"]),
    "evaluate.py": ("evaluate.py", ["--episodes", "2", "--json", "{tmp}/out.json"]),
    "benchmarks/ppo_results.py": ("benchmarks/ppo_results.py", ["--runs", "{tmp}/runs", "--md", "{tmp}/ppo.md"]),
    "benchmarks/reproduce_yang.py": ("benchmarks/reproduce_yang.py", ["--out", "{tmp}/yang.md"]),
    "benchmarks/reproduce_craig_raman.py": ("benchmarks/reproduce_craig_raman.py", ["--out", "{tmp}/cr.md"]),
    "benchmarks/pds_speed.py": ("benchmarks/pds_speed.py", ["--out", "{tmp}/pds.md"]),
    "benchmarks/sdp_speed.py": ("benchmarks/sdp_speed.py", ["--out", "{tmp}/sdp.md"]),
    "sweep.py": ("sweep.py", ["--storage", "{tmp}/sweeps"]),
    "evaluate.py --suite": ("evaluate.py", ["--json", "{tmp}/suite.json"]),
    "benchmarks/leaderboard.py": ("benchmarks/leaderboard.py", ["--md", "{tmp}/lb.md", "--runs", "{tmp}/runs"]),
    "benchmarks/suite_references.py": ("benchmarks/suite_references.py", []),
    "benchmarks/throughput.py": ("benchmarks/throughput.py", ["--out", "{tmp}/tp.md"]),
    "benchmarks/policy_throughput.py": ("benchmarks/policy_throughput.py", ["--out", "{tmp}/ptp.md"]),
    "benchmarks/ray_overhead.py": ("benchmarks/ray_overhead.py", ["--md", "{tmp}/ro.md"]),
    "benchmarks/sweep_results.py": ("benchmarks/sweep_results.py", ["--md", "{tmp}/sr.md"]),
    "benchmarks/ray_estimate.py": ("benchmarks/ray_estimate.py", ["--md", "{tmp}/re.md"]),
    "benchmarks/update_readme.py": ("benchmarks/update_readme.py", []),
}

# ------------------------------------------------------------------ bad files
#: name -> contents (bytes for binary); "{dir}" entries are folders.
FILES = {
    "broken.yaml": "inventory: [1, 2",
    "broken.json": '{"name": "x",',
    "negative_horizon.yaml": "name: x\nhorizon: -3\nstores: [{inventory: 3}]\n",
    "nan_horizon.yaml": "name: x\nhorizon: .nan\nstores: [{inventory: 3}]\n",
    "huge_inventory.yaml": "name: x\nhorizon: 3\nstores: [{inventory: 1000000000000000000000000000000}]\n",
    "string_inventory.yaml": "name: x\nhorizon: 3\nstores: [{inventory: lots}]\n",
    "no_stores.yaml": "name: x\nhorizon: 3\nstores: []\n",
    "unknown_field.yaml": "name: x\nhorizon: 3\nstores: [{inventory: 3}]\ncolour: red\n",
    "unknown_demand.json": json.dumps({"name": "x", "horizon": 3, "stores": [{"inventory": 3}],
                                       "demand": {"kind": "gaussian"}}),
    "list.yaml": "[1, 2, 3]\n",
    "empty.yaml": "",
    "python_tag.yaml": "!!python/object/apply:os.system ['echo pwned']\n",
    "binary.yaml": b"\xff\xfe\x00\x81garbage",
    "scenario.txt": "name: x\n",
    "dir.yaml": "{dir}",
    "hp_broken.yaml": "default: [1,",
    "hp_list.yaml": "- 1\n- 2\n",
    "hp_unknown.yaml": "default:\n  learning_rat: 0.1\n",
    "garbage.zip": b"PK\x03\x04 not really a zip",
    "dir.zip": "{dir}",
    "suite_empty.yaml": "name: s\nscenarios: []\n",
    "suite_fields.yaml": "name: s\nscenarios: [{id: SingleStore-v0}]\n",
    "suite_unknown.yaml": "name: s\nscenarios: [{id: NoSuchStore-v0, episodes: 2, seed: 0, floor: fp, "
                          "reference: sdp, reference_kind: exact}]\n",
    "suite_negative.yaml": "name: s\nscenarios: [{id: SingleStore-v0, episodes: -2, seed: 0, floor: fp, "
                           "reference: sdp, reference_kind: exact}]\n",
    "suite_kind.yaml": "name: s\nscenarios: [{id: SingleStore-v0, episodes: 2, seed: 0, floor: fp, "
                       "reference: sdp, reference_kind: guess}]\n",
}
#: scenario arguments every scenario-taking CLI must refuse, and the word its error names
SCENARIOS = [
    ("NoSuchStore-v0", "NoSuchStore-v0"), ("liqenv/NoSuchStore-v0", "NoSuchStore-v0"), ("", "scenario"),
    ("{files}/missing.yaml", "missing.yaml"), ("{files}/dir.yaml", "directory"),
    ("{files}/scenario.txt", "scenario.txt"), ("{files}/broken.yaml", "broken.yaml"),
    ("{files}/broken.json", "broken.json"), ("{files}/negative_horizon.yaml", "horizon"),
    ("{files}/nan_horizon.yaml", "horizon"), ("{files}/huge_inventory.yaml", "inventory"),
    ("{files}/string_inventory.yaml", "inventory"), ("{files}/no_stores.yaml", "stores"),
    ("{files}/unknown_field.yaml", "colour"), ("{files}/unknown_demand.json", "gaussian"),
    ("{files}/list.yaml", "scenario"), ("{files}/empty.yaml", "scenario"),
    ("{files}/python_tag.yaml", "python_tag.yaml"), ("{files}/binary.yaml", "binary.yaml"),
]
if os.geteuid() != 0:  # root reads any file (there binary.yaml stands for an unreadable one)
    SCENARIOS.append(("{files}/unreadable.yaml", "unreadable.yaml"))
#: --suite arguments every suite-taking CLI must refuse, and the word its error names
SUITES = [
    ("no-such-suite", "no-such-suite"), ("", "suite"), ("{files}/missing.yaml", "missing.yaml"),
    ("{files}/dir.yaml", "dir.yaml"), ("{files}/broken.yaml", "broken.yaml"), ("{files}/binary.yaml", "binary.yaml"),
    ("{files}/suite_empty.yaml", "scenarios"), ("{files}/suite_fields.yaml", "scenarios[0]"),
    ("{files}/suite_unknown.yaml", "NoSuchStore-v0"), ("{files}/suite_negative.yaml", "episodes"),
    ("{files}/suite_kind.yaml", "reference_kind"),
]
#: --set items every CLI with --set must refuse, and the word naming them
SETS = [
    ("no_such_field=3", "no_such_field"), ("inventory=-5", "inventory"), ("inventory=0", "inventory"),
    ("inventory=.nan", "inventory"), ("inventory=.inf", "inventory"),
    ("inventory=1000000000000000000000000", "inventory"), ("inventory=lots", "inventory"),
    ("inventory=[]", "inventory"), ("horizon=0", "horizon"), ("horizon=2.5", "horizon"),
    ("arrival_rate=-1", "arrival_rate"), ("decay=.nan", "decay"), ("valuation=gaussian", "valuation"),
    ("pricing=sometimes", "pricing"), ("inventory=[1, 2", "--set"), ("=3", "--set"), ("inventory", "--set"),
]
#: bad integers for count flags and what each is
COUNTS = ["0", "-1", "nan", "inf", "1e3", "2.5", "abc", "", "1000000000000000000000000000000"]
SEEDS = ["-1", "nan", "1.5", "x", "99999999999999999999"]


def _cases():
    cases = []

    def add(cli, argv, word):
        cases.append(pytest.param(cli, argv, word, id=f"{cli}:{' '.join(argv)[:60]}"))

    def counts(cli, flag, extra=()):
        for v in COUNTS:
            add(cli, [*extra, flag, v], flag)

    def seeds(cli, flag, extra=()):
        for v in SEEDS:
            add(cli, [*extra, flag, v], flag)

    # train.py
    for s, word in SCENARIOS:
        add("train.py", ["--scenario", s], word)
    for s, word in SETS:
        add("train.py", ["--set", s], word)
    for flag in ("--timesteps", "--n-envs", "--eval-episodes", "--workers"):
        counts("train.py", flag)
    add("train.py", ["--n-envs", "10000000"], "--n-envs")
    add("train.py", ["--workers", "100000"], "--workers")
    for flag in ("--seed", "--eval-seed"):
        seeds("train.py", flag)
    for item, word in (("gamma=2", "gamma"), ("learning_rate=abc", "learning_rate"), ("n_steps=0", "n_steps"),
                       ("n_steps=100000000000", "n_steps"), ("net_arch=[]", "net_arch"),
                       ("net_arch=[1000000000]", "net_arch"), ("ent_coef=.nan", "ent_coef"),
                       ("clip_range=-.inf", "clip_range"), ("batch_size=100000", "batch_size"),
                       ("lr_schedule=cosine", "lr_schedule"), ("initial_act_prob=0.5", "initial_act_prob")):
        add("train.py", ["--set", item], word)
    add("train.py", ["--algo", "dqn"], "--algo")
    add("train.py", ["--vec", "gpu"], "--vec")
    add("train.py", ["--no-such-flag"], "--no-such-flag")
    add("train.py", ["--resume", "--force"], "--resume")
    add("train.py", ["--resume"], "checkpoint")
    add("train.py", ["--algo", "maskable-ppo", "--set", "pricing=continuous"], "maskable-ppo")
    add("train.py", ["--out", "{files}/list.yaml"], "--out")
    add("train.py", ["--out", "{files}/list.yaml/run"], "--out")
    for f, word in (("hp_broken.yaml", "hp_broken.yaml"), ("hp_list.yaml", "default"),
                    ("hp_unknown.yaml", "learning_rat"), ("missing.yaml", "missing.yaml"),
                    ("dir.yaml", "dir.yaml"), ("binary.yaml", "binary.yaml")):
        add("train.py", ["--hyperparams", "{files}/" + f], word)

    # evaluate.py
    for s, word in SCENARIOS:
        add("evaluate.py", ["--scenario", s, "--policies", "fp"], word)
    for s, word in SETS:
        add("evaluate.py", ["--scenario", "SingleStore-v0", "--policies", "fp", "--set", s], word)
    for flag in ("--episodes", "--workers"):
        counts("evaluate.py", flag, ("--scenario", "SingleStore-v0", "--policies", "fp"))
    seeds("evaluate.py", "--seed", ("--scenario", "SingleStore-v0", "--policies", "fp"))
    add("evaluate.py", ["--scenario", "SingleStore-v0", "--policies", "fp", "--no-such-flag", "1"], "--no-such-flag")
    for pol, word in (("nope", "nope"), ("fp,fp", "fp"), ("", "--policies"), (",", "--policies"),
                      ("ppo={files}/missing.zip", "missing.zip"), ("ppo={files}/garbage.zip", "garbage.zip"),
                      ("ppo={files}/dir.zip", "dir.zip"), ("nosuchprefix=x.zip", "nosuchprefix"),
                      ("ppo=", "ppo")):
        add("evaluate.py", ["--scenario", "SingleStore-v0", "--policies", pol], word)
    add("evaluate.py", ["--policies", "fp"], "--scenario")
    add("evaluate.py", ["--scenario", "SingleStore-v0"], "--policies")
    add("evaluate.py", ["--scenario", "SingleStore-v0", "--policies", "fp", "--vec", "gpu"], "--vec")
    add("evaluate.py", ["--scenario", "SingleStore-v0", "--policies", "fp", "--json", "{files}/dir.yaml"], "--json")
    add("evaluate.py", ["--scenario", "SingleStore-v0", "--policies", "fp", "--json", "{files}/list.yaml/x.json"],
        "--json")
    add("evaluate.py", ["--scenario", "SingleStore-v0", "--policies", "fp", "--workers", "100000"], "--workers")

    # benchmarks/ppo_results.py
    P = "benchmarks/ppo_results.py"
    for s, word in SCENARIOS:
        if s:  # an empty --scenarios is its own case below
            add(P, ["--scenarios", s], word)
    for arg, word in (("", "--scenarios"), (",", "--scenarios"), ("SingleStore-v0,liqenv/SingleStore-v0", "twice")):
        add(P, ["--scenarios", arg], word)
    for arg in ("", "-1", "x", "1,1", "1.5", "99999999999999999999"):
        add(P, ["--seeds", arg], "--seeds")
    for flag in ("--timesteps", "--eval-episodes", "--workers"):
        counts(P, flag)
    seeds(P, "--eval-seed")
    add(P, ["--md", "{files}/dir.yaml"], "--md")
    add(P, ["--md", "{tmp}/ppo.txt"], "--md")
    add(P, ["--runs", "{files}/list.yaml"], "--runs")
    add(P, ["--vec", "gpu"], "--vec")

    # the other benchmarks
    Y = "benchmarks/reproduce_yang.py"
    for flag in ("--episodes", "--episodes-large", "--workers"):
        counts(Y, flag)
    seeds(Y, "--seed")
    add(Y, ["--part", "4"], "--part")
    add(Y, ["--out", "{files}/dir.yaml"], "--out")
    C = "benchmarks/reproduce_craig_raman.py"
    for flag in ("--points", "--episodes"):
        counts(C, flag)
    seeds(C, "--seed")
    add(C, ["--out", "{files}/dir.yaml"], "--out")
    add(C, ["--out", "{tmp}/cr.txt"], "--out")
    D = "benchmarks/pds_speed.py"
    for flag in ("--episodes", "--repeat"):
        counts(D, flag)
    seeds(D, "--seed")
    add(D, ["--out", "{files}/dir.yaml"], "--out")
    S = "benchmarks/sdp_speed.py"
    for flag in ("--repeat", "--blas-threads"):
        counts(S, flag)
    add(S, ["--out", "{files}/dir.yaml"], "--out")
    add(S, ["--out", "{files}/list.yaml/x.md"], "--out")

    # sweep.py: every case fails in make_plan or before, so Ray never starts
    W = "sweep.py"
    for s, word in SCENARIOS:
        if s:
            add(W, ["--mode", "grid", "--scenarios", s], word)
    for s, word in SETS[:8]:
        add(W, ["--mode", "grid", "--set", s], word)
    for flag in ("--samples", "--timesteps", "--grace", "--eval-episodes", "--cpus-per-trial", "--num-cpus"):
        counts(W, flag)
    add(W, ["--num-cpus", "100000"], "--num-cpus")
    add(W, ["--reduction", "1"], "--reduction")
    add(W, ["--max-failures", "-1"], "--max-failures")
    seeds(W, "--search-seed")
    for arg in ("", "x", "-1", "99999999999999999999"):
        add(W, ["--mode", "grid", "--seeds", arg], "--seeds")
    add(W, ["--mode", "search", "--seeds", "0,1", "--space", "gamma=0.9,0.99"], "--mode search")
    add(W, ["--mode", "search"], "--space")
    add(W, ["--mode", "anneal"], "--mode")
    for item, word in (("nope=1,2", "nope"), ("gamma", "gamma"), ("gamma=", "gamma"),
                       ("learning_rate=uniform:1:0", "learning_rate"),
                       ("learning_rate=loguniform:0:1", "learning_rate"),
                       ("learning_rate=uniform:a:b", "learning_rate"), ("gamma=uniform:0.5:2", "gamma"),
                       ("gamma=[1,", "gamma")):
        add(W, ["--space", item], word)
    add(W, ["--space", "gamma=0.9,0.99", "--space", "gamma=0.5,0.6"], "twice")
    add(W, ["--mode", "grid", "--name", "a/b"], "--name")
    add(W, ["--mode", "grid", "--name", ".."], "--name")
    add(W, ["--mode", "grid", "--storage", "{files}/list.yaml"], "--storage")
    add(W, ["--mode", "grid", "--storage", "{files}", "--name", "dir.yaml"], "--name")
    add(W, ["--resume"], "--resume")
    add(W, ["--address", "auto", "--num-cpus", "2", "--mode", "grid"], "--num-cpus")
    for f, word in (("hp_broken.yaml", "hp_broken.yaml"), ("missing.yaml", "missing.yaml"), ("dir.yaml", "dir.yaml")):
        add(W, ["--mode", "grid", "--hyperparams", "{files}/" + f], word)
    add(W, ["--mode", "grid", "--baselines", "nope"], "nope")

    # evaluate.py --suite
    E = "evaluate.py --suite"
    for suite, word in SUITES:
        add(E, ["--suite", suite, "--policies", "fp"], word)
    V = ["--suite", "liqenv-bench-v1"]
    for pol, word in (("nope", "nope"), ("", "--policies"), (",", "--policies"),
                      ("nosuchmodule_x:make", "nosuchmodule_x"),
                      ("json:no_such_attr", "no_such_attr"), ("sb3:{files}/missing.zip", "missing.zip"),
                      ("mine=", "--policies"), ("fp,fp", "fp"), ("=fp", "empty label"),
                      ("mine=fp|", "mine"), ("sb3:{files}/dir.yaml", "dir.yaml")):
        add(E, [*V, "--policies", pol], word)
    for flag, v in (("--scenario", "SingleStore-v0"), ("--set", "inventory=3"), ("--episodes", "5"), ("--seed", "3")):
        add(E, [*V, "--policies", "fp", flag, v], "--suite")
    add(E, [*V, "--policies", "fp", "--ray"], "--ray")
    add(E, [*V, "--policies", "fp", "--address", "auto"], "--address")
    for flag in ("--md", "--csv", "--plot", "--json"):
        add(E, [*V, "--policies", "fp", flag, "{files}/dir.yaml"], flag)
        add(E, [*V, "--policies", "fp", flag, "{files}/list.yaml/x"], flag)
        if flag != "--json":  # without --suite: --plot refused, --md and --csv need their suffix
            add(E, ["--scenario", "SingleStore-v0", "--policies", "fp", flag, "{tmp}/x"], flag)
    add(E, [*V, "--policies", "fp", "--plot", "{tmp}/p.txt"], "--plot")
    counts(E, "--workers", (*V, "--policies", "fp"))
    add(E, ["--policies", "fp"], "--suite")

    # the suite's other scripts
    L = "benchmarks/leaderboard.py"
    for suite, word in SUITES:
        add(L, ["--suite", suite], word)
    for arg in ("", ",", "x", "-1", "1.5", "0,0", "99999999999999999999"):
        add(L, ["--seeds", arg], "--seeds")
    counts(L, "--workers")
    add(L, ["--md", "{files}/dir.yaml"], "--md")
    add(L, ["--md", "{tmp}/lb.txt"], "--md")
    R = "benchmarks/suite_references.py"
    for suite, word in SUITES:
        add(R, ["--suite", suite], word)
    for arg, word in (("NoSuchStore-v0", "NoSuchStore-v0"), ("Weekend-v0,NoSuchStore-v0", "NoSuchStore-v0"),
                      ("", "scenario"), (",", "scenario")):
        add(R, ["--only", arg], word)
    counts(R, "--workers")

    # the throughput and Ray benchmarks
    T = "benchmarks/throughput.py"
    for v in ("0", "-1", "nan", "inf", "1e9", "abc", ""):
        add(T, ["--seconds", v], "--seconds")
    counts(T, "--ppo-steps")
    add(T, ["--out", "{files}/dir.yaml"], "--out")
    add(T, ["--out", "{tmp}/tp.txt"], "--out")
    PT = "benchmarks/policy_throughput.py"
    for flag in ("--rollouts", "--repeats"):
        counts(PT, flag)
    for s, word in SCENARIOS[:3] + SCENARIOS[3:6]:
        if s:
            add(PT, ["--scenario", s], word)
    add(PT, ["--out", "{files}/dir.yaml"], "--out")
    RO = "benchmarks/ray_overhead.py"
    for flag in ("--timesteps", "--workers"):
        counts(RO, flag)
    for s, word in SCENARIOS[:2] + [("{files}/broken.yaml", "broken.yaml")]:
        add(RO, ["--scenario", s], word)
    for arg in ("", "x", "-1"):
        add(RO, ["--seeds", arg], "--seeds")
    add(RO, ["--md", "{files}/dir.yaml"], "--md")
    SR = "benchmarks/sweep_results.py"
    for flag in ("--samples", "--timesteps", "--eval-episodes", "--num-cpus"):
        counts(SR, flag)
    seeds(SR, "--search-seed")
    for s, word in SCENARIOS[:2] + [("{files}/broken.yaml", "broken.yaml")]:
        add(SR, ["--scenario", s], word)
    for arg in ("", "x", "-1"):
        add(SR, ["--seeds", arg], "--seeds")
    add(SR, ["--md", "{files}/dir.yaml"], "--md")
    add(SR, ["--md", "{tmp}/sr.txt"], "--md")
    RE = "benchmarks/ray_estimate.py"
    for arg in ("", "0", "-1", "x", "1,", "2.5", "1000000000000"):
        add(RE, ["--workers", arg], "--workers")
    add(RE, ["--md", "{files}/dir.yaml"], "--md")
    add(RE, ["--md", "{tmp}/re.txt"], "--md")
    add("benchmarks/update_readme.py", ["--out", "x.md"], "--out")
    for cli in [c for c in CLIS if not c.startswith("evaluate.py")]:  # evaluate.py: above (required flags first)
        add(cli, ["--no-such-flag", "1"], "--no-such-flag")
    return cases


CASES = _cases()
#: label -> [tried, clean]; filled by the tests, written at the end of the module
TALLY: dict[str, list[int]] = {}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad_files")
    for name, content in FILES.items():
        p = d / name
        if content == "{dir}":
            p.mkdir()
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    if os.geteuid() != 0:  # root reads any file: there the binary file stands for an unreadable one
        (d / "unreadable.yaml").write_text("name: x\n")
        (d / "unreadable.yaml").chmod(0)
    return d


@pytest.fixture(scope="module", autouse=True)
def tally_report():
    yield
    path = os.environ.get("LIQENV_BOMBARD_MD")
    if not path or not TALLY:
        return
    lines = ["Bad inputs tried per entry point (`tests/test_bombard.py`); a clean error is exit status 2 "
             "with exactly one stderr line naming the flag, field or file, before any work and writing "
             "nothing. Generated by `LIQENV_BOMBARD_MD=benchmarks/results/bombard.md python -m pytest -q "
             "tests/test_bombard.py`.", "",
             "| entry point | bad inputs tried | clean errors |", "|---|---:|---:|"]
    for label in list(CLIS) + sorted(set(TALLY) - set(CLIS)):
        if label in TALLY:
            tried, clean = TALLY[label]
            lines.append(f"| `{label}` | {tried} | {clean} |")
    tried, clean = (sum(v[i] for v in TALLY.values()) for i in (0, 1))
    lines.append(f"| all | {tried} | {clean} |")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines) + "\n")


_MODULES: dict[str, object] = {}


def _module(script: str):
    """The script imported as a module (once), so that ``main(argv)`` runs in-process."""
    if script not in _MODULES:
        path = ROOT / script
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location(f"_bombard_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod  # dataclasses look their module up there
        spec.loader.exec_module(mod)
        _MODULES[script] = mod
    return _MODULES[script]


class _TooLong(Exception):
    pass


def _alarm(signum, frame):
    raise _TooLong(f"still running after {LIMIT_S} s: the bad input was not caught before the work")


def run_in_process(script: str, argv: list[str]) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of ``main(argv)``."""
    main = _module(script).main
    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(LIMIT_S)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:
                code = e.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return (0 if code is None else code), out.getvalue(), err.getvalue()


def _fill(argv: list[str], files: Path, tmp: Path) -> list[str]:
    return [a.replace("{files}", str(files)).replace("{tmp}", str(tmp)) for a in argv]


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def check_clean_error(prog: str, code: int, err: str, word: str) -> None:
    assert code == 2, f"exit {code}; stderr: {err[-1500:]}"
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err[-1500:]}"
    assert err.startswith(f"{prog}: error: "), err
    assert word.lower() in err.lower(), f"{word!r} not named in: {err}"


@pytest.mark.parametrize("cli, argv, word", CASES)
def test_bad_input_is_one_line_and_exit_2(cli, argv, word, files, tmp_path, monkeypatch):
    script, base = CLIS[cli]
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # anything written to the working folder shows up here
    full = _fill(base + argv, files, tmp_path)
    word = _fill([word], files, tmp_path)[0]
    before_files, before_tmp = _listing(files), _listing(tmp_path)
    tally = TALLY.setdefault(cli, [0, 0])
    tally[0] += 1
    code, _, err = run_in_process(script, full)
    check_clean_error(Path(script).name, code, err, word)
    assert _listing(files) == before_files and _listing(tmp_path) == before_tmp, "wrote files"
    tally[1] += 1


def test_every_scenario_taking_cli_accepts_ids_with_and_without_namespace(files):
    """The resolver's good side: both spellings, and a file, are the same scenario everywhere."""
    import liqenv

    a, sa = liqenv.resolve_scenario("SingleStore-v0")
    b, sb = liqenv.resolve_scenario("liqenv/SingleStore-v0")
    assert a == b == "liqenv/SingleStore-v0" and sa == sb
    path = files / "ok.yaml"
    sa.save(path)
    key, sc = liqenv.resolve_scenario(str(path), horizon=4)
    assert key == str(path.resolve()) and sc.horizon == 4 and sc.stores == sa.stores
    path.unlink()


# ------------------------------------------------------------------ real processes
SUBPROCESS = [
    ("evaluate.py", ["--scenario", "{files}/broken.yaml", "--policies", "sdp"], "broken.yaml"),
    ("train.py", ["--scenario", "{files}/broken.yaml", "--out", "{tmp}/run"], "broken.yaml"),
    ("train.py", ["--timesteps", "nan", "--out", "{tmp}/run"], "--timesteps"),
    ("benchmarks/ppo_results.py", ["--scenarios", "NoSuchStore-v0", "--runs", "{tmp}/r"], "NoSuchStore-v0"),
    ("benchmarks/sdp_speed.py", ["--repeat", "0"], "--repeat"),
    ("benchmarks/reproduce_craig_raman.py", ["--points", "-3"], "--points"),
    ("sweep.py", ["--samples", "0"], "--samples"),
    ("benchmarks/throughput.py", ["--seconds", "nan"], "--seconds"),
    ("benchmarks/policy_throughput.py", ["--rollouts", "0"], "--rollouts"),
    ("benchmarks/ray_estimate.py", ["--workers", "0"], "--workers"),
]


@pytest.mark.parametrize("script, argv, word", SUBPROCESS, ids=[f"{s}:{a[1]}" for s, a, _ in SUBPROCESS])
def test_bad_input_in_a_real_process(script, argv, word, files, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / script), *_fill(argv, files, tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    check_clean_error(Path(script).name, proc.returncode, proc.stderr, word)
    assert proc.stdout == "" and sorted(os.listdir(tmp_path)) == []
