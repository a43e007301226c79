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
