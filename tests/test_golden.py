"""The dynamics reproduce the recorded golden runs bit for bit (tests/record_golden.py)."""

from __future__ import annotations

import numpy as np
import pytest

from record_golden import PATH, record


@pytest.fixture(scope="module")
def replay():
    return record()


def test_golden_runs_reproduce_exactly(replay):
    stored = np.load(PATH)
    assert sorted(stored.files) == sorted(replay)
    differ = [k for k in stored.files if not np.array_equal(stored[k], replay[k])]
    assert differ == []


def test_kernel_records_match_the_python_records():
    """dynamics.step passes State and StepResult to the kernel as plain tuples
    in field order: the kernel's records must list the same fields."""
    from dataclasses import fields

    from liqenv import _kernels as _k
    from liqenv import dynamics as dyn

    assert [f.name for f in fields(dyn.State)] == list(_k.StateArrays._fields)
    assert [f.name for f in fields(dyn.StepResult)] + ["md_bad", "close_bad", "ship_bad", "ship_cut"] == list(
        _k.StepArrays._fields)
    assert [f.name for f in fields(dyn.Decision)] == list(_k.DecisionArrays._fields)
