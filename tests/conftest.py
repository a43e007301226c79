"""Pytest set-up for the test suite: fixtures only (shared helpers live in ``helpers.py``).

Importing ``liqenv`` here registers the ``liqenv/...`` Gymnasium ids for every test.
"""

import liqenv  # noqa: F401  (registers the envs)
