"""Cutting a suite down, measuring its references in process, and one policy's score matrix.

The API tutorial 5 (``tutorials/05_score_your_policy.py``) uses:
:meth:`Suite.subset`, :func:`measure_references`, :func:`score_matrix`, and
a performance-profile plot that leaves the caller's matplotlib backend alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import baselines  # noqa: F401  (fp, sdp)
from liqenv.evaluation import evaluate, scores
from liqenv.evaluation.protocol import UnsupportedScenario
from liqenv.evaluation.suite import (load_suite, measure_references, references_path, run_suite, score_matrix,
                                     suite_report)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import suite_references  # noqa: E402
from helpers import TINY_SUITE  # noqa: E402

TINY = TINY_SUITE.replace("episodes: 6, seed: 5400000", "episodes: 5, seed: 5400000")


class Level:
    """Posts ladder level ``k`` every period."""

    def __init__(self, env, k=6):
        self.k = k

    def act(self, observation):
        return self.k


def only_ten_periods(env):
    if env.unwrapped.scenario.horizon != 10:
        raise UnsupportedScenario("ten periods only")
    return Level(env)


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture
def measured(tiny):
    """The tiny suite with its references file written by benchmarks/suite_references.py."""
    references_path(tiny).write_text(json.dumps(suite_references.measure(str(tiny))[0]))
    return tiny


# ------------------------------------------------------------------ subset
def test_subset_cuts_episodes_keeps_seeds_and_values(measured):
    suite = load_suite(measured)
    sub = suite.subset({"Weekend-v0": 2, "liqenv/SingleStore-v0": None})
    assert [s.id for s in sub.scenarios] == ["liqenv/Weekend-v0", "liqenv/SingleStore-v0"]
    week, single = sub.scenarios
    full = {s.id: s for s in suite.scenarios}
    assert (week.episodes, week.seed) == (2, 5400000) and single == full["liqenv/SingleStore-v0"]
    # the yardstick is the suite's: values measured on all episodes stay
    assert (week.floor_value, week.reference_value) == (full["liqenv/Weekend-v0"].floor_value,
                                                        full["liqenv/Weekend-v0"].reference_value)
    assert sub.name == "tiny (subset)" and suite.scenarios == tuple(full.values())  # the suite itself unchanged


def test_subset_plays_the_suites_first_episodes(measured):
    sub = load_suite(measured).subset({"SingleStore-v0": 3})
    run = run_suite(sub, {"fp": [("fp", "fp")]})
    whole = evaluate("liqenv/SingleStore-v0", ["fp"], 6, seed=5000000)["results"]["fp"]["profits"]
    assert run["rows"][0]["profit"] == pytest.approx(np.mean(whole[:3]), abs=1e-9)


@pytest.mark.parametrize("episodes, needle", [
    ({}, "non-empty mapping"),
    (["SingleStore-v0"], "mapping"),
    ({"Chain-v1": 2}, "not in suite"),
    ({"SingleStore-v0": 7}, "1..6"),
    ({"SingleStore-v0": 0}, "1..6"),
    ({"SingleStore-v0": True}, "1..6"),
    ({"SingleStore-v0": 2.0}, "1..6"),
    ({"SingleStore-v0": 2, "liqenv/SingleStore-v0": 3}, "named twice"),
])
def test_subset_bad_input_names_the_field(tiny, episodes, needle):
    with pytest.raises(ValueError, match=needle):
        load_suite(tiny, references=False).subset(episodes)


# ------------------------------------------------------------------ references in process
def test_measure_references_equals_the_script(measured):
    stored = load_suite(measured)
    fresh = measure_references(load_suite(measured, references=False))
    for a, b in zip(stored.scenarios, fresh.scenarios):
        assert (a.floor_value, a.reference_value) == pytest.approx((b.floor_value, b.reference_value), abs=1e-9)
    assert [r["id"] for r in fresh.references["scenarios"]] == [s.id for s in fresh.scenarios]


def test_measured_subset_is_paired_floor_0_reference_1(tiny):
    sub = measure_references(load_suite(tiny, references=False).subset({"Weekend-v0": 3}))
    run = run_suite(sub, {"fp": [("fp", "fp")], "sdp": [("sdp", "sdp")]})
    by = {r["policy"]: r for r in run["rows"]}
    assert by["fp"]["score"] == pytest.approx(0.0, abs=1e-12)
    assert by["sdp"]["score"] == pytest.approx(1.0, abs=1e-12)


def test_run_suite_without_values_names_the_scenarios(tiny):
    with pytest.raises(ValueError, match=r"liqenv/SingleStore-v0, liqenv/Weekend-v0.*measure_references"):
        run_suite(load_suite(tiny, references=False), {"fp": [("fp", "fp")]})


# ------------------------------------------------------------------ score matrix
def test_score_matrix_and_improvement_over_a_single_run_policy(measured):
    suite = load_suite(measured)
    groups = {"fp": [("fp", "fp")], "mine": [("k4", lambda env: Level(env, 4)), ("k6", Level)],
              "partial": [("p", only_ten_periods)]}
    run = run_suite(suite, groups)
    x = score_matrix(run, "mine")
    assert x.shape == (2, 2)
    for r in run["rows"]:
        if r["policy"] == "mine":
            assert x[r["run"], [s.id for s in suite.scenarios].index(r["scenario"])] == r["score"]
    floor = score_matrix(run, "fp")
    assert floor.shape == (1, 2) and np.allclose(floor, 0.0)
    # against a single run: the share of mine's run-scenario scores above the floor's 0, ties one half
    poi = scores.probability_of_improvement(x, floor, reps=50)
    assert poi["value"] == pytest.approx(float(((x > 0) + 0.5 * (x == 0)).mean()))
    with pytest.raises(ValueError, match="unsupported"):
        score_matrix(run, "partial")
    with pytest.raises(ValueError, match="not in this run"):
        score_matrix(run, "nope")


def test_profile_plot_leaves_the_backend_alone(measured, tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # not the Agg the plot used to force
    try:
        run = run_suite(load_suite(measured), {"fp": [("fp", "fp")], "two": [("a", Level), ("b", Level)]})
        suite_report(run, reps=20, plot=tmp_path / "profile.png")
        assert matplotlib.get_backend() == "svg" and not plt.get_fignums()
        assert (tmp_path / "profile.png").read_bytes().startswith(b"\x89PNG")
    finally:
        matplotlib.use(before)
