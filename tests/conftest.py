"""Pytest set-up for the test suite: fixtures only (shared helpers live in ``helpers.py``).

Importing ``liqenv`` here registers the ``liqenv/...`` Gymnasium ids for every test.
"""

import os
import sys

# One BLAS/OpenMP/torch thread per process: CI runs two pytest-xdist workers on two
# cores, and torch's default (one thread per core) in each worker oversubscribes them.
# The variable reaches the processes the tests start (notebook kernels, the exercise
# checks, Ray workers); a torch imported before this file gets the same setting.
os.environ.setdefault("OMP_NUM_THREADS", "1")
if "torch" in sys.modules:
    sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

import liqenv  # noqa: E402,F401  (registers the envs)
