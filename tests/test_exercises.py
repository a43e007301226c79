"""The exercises prove both directions: every check fails on the untouched
stubs (for the stub's reason, and without the solutions folder, as students
get it) and passes on the reference solutions."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
MODULES = sorted(p.stem for p in EXERCISES.glob("ex[0-9]_*.py"))


def run_checks(cwd: Path, impl: str, tmp_path: Path, targets: tuple[str, ...] = ("exercises/checks",)
               ) -> list[tuple[str, str, str]]:
    """(test id, outcome, message) of every check in ``targets``, run with ``LIQENV_EXERCISE_IMPL=impl``."""
    report = tmp_path / f"{impl}.xml"
    env = {**os.environ, "LIQENV_EXERCISE_IMPL": impl, "LIQENV_EXERCISE_SEED": "0",
           "PYTHONPATH": os.pathsep.join([str(cwd), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           f"--junitxml={report}", *targets], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert report.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    cases = []
    for case in ET.parse(report).getroot().iter("testcase"):
        tid = f"{case.get('classname')}::{case.get('name')}"
        bad = [c for c in case if c.tag in ("failure", "error", "skipped")]
        outcome = bad[0].tag if bad else "passed"
        cases.append((tid, outcome, (bad[0].get("message") or "") if bad else ""))
    return cases


def test_every_check_fails_on_the_stubs(tmp_path):
    # the hand-out: exercises/ without solutions/
    shutil.copytree(EXERCISES, tmp_path / "exercises",
                    ignore=shutil.ignore_patterns("solutions", "__pycache__"))
    cases = run_checks(tmp_path, "stubs", tmp_path)
    assert len(cases) >= 5 * 2, cases
    for module in MODULES:
        assert any(module in tid for tid, _, _ in cases), f"no check of {module}"
    wrong = [(tid, outcome, msg) for tid, outcome, msg in cases
             if outcome != "failure" or "NotImplementedError" not in msg]
    assert not wrong, f"checks that do not fail on the stubs' NotImplementedError: {wrong}"


# two runs, the PPO training of exercise 5 apart, so that pytest-xdist spreads them over the cores
GROUPS = [tuple(m for m in MODULES if m != "ex5_features"), ("ex5_features",)]


@pytest.mark.parametrize("modules", GROUPS, ids=lambda g: "+".join(m[:3] for m in g))
def test_every_check_passes_on_the_solutions(modules, tmp_path):
    cases = run_checks(ROOT, "solutions", tmp_path, tuple(f"exercises/checks/test_{m}.py" for m in modules))
    assert len(cases) >= 2 * len(modules), cases
    failed = [(tid, outcome, msg) for tid, outcome, msg in cases if outcome != "passed"]
    assert not failed, failed


@pytest.mark.parametrize("module", MODULES)
def test_stubs_and_solutions_share_the_interface(module):
    stub = importlib.import_module(f"exercises.{module}")
    sol = importlib.import_module(f"exercises.solutions.{module}")
    assert stub.__doc__ and "Check:" in stub.__doc__, f"{module}: the docstring states the task and the check"
    for name, obj in vars(stub).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != stub.__name__:
            continue
        assert hasattr(sol, name), f"solutions.{module} lacks {name}"
        if inspect.isfunction(obj):
            assert inspect.signature(obj) == inspect.signature(getattr(sol, name)), name
            assert "NotImplementedError" in inspect.getsource(obj), f"{module}.{name} is not a stub"


def test_the_class_seed_varies_the_instances(monkeypatch):
    from exercises import common

    monkeypatch.setenv("LIQENV_EXERCISE_SEED", "0")
    first = common.random_instances(2, 3)
    monkeypatch.setenv("LIQENV_EXERCISE_SEED", "1")
    assert common.random_instances(2, 3) != first
    monkeypatch.setenv("LIQENV_EXERCISE_SEED", "x")
    with pytest.raises(ValueError, match="LIQENV_EXERCISE_SEED"):
        common.exercise_seed()
    monkeypatch.setenv("LIQENV_EXERCISE_IMPL", "answers")
    with pytest.raises(ValueError, match="LIQENV_EXERCISE_IMPL"):
        common.implementation("ex1_fixed_price")


def test_exercise5_states_its_numbers():
    """The stated optimum, best single markdown and threshold are the computed ones."""
    import baselines
    from exercises import common, ex5_features

    optimum = baselines.make("sdp", common.EX5_INSTANCE.make_env()).value_estimate
    fixed = baselines.make("sdp", common.EX5_INSTANCE.make_env(max_changes=0)).value_estimate
    doc = " ".join(ex5_features.__doc__.split())
    for value in (fixed, optimum, fixed + 0.5 * (optimum - fixed)):
        assert f"{value:.2f}" in doc, (value, doc)
    assert re.search(r"\(exact value 8\.74\)", doc)
