"""Exercise 2: the single-store Bellman recursion (backward induction).

Same store as exercise 1 (:class:`exercises.common.Instance`), now with a
markdown chosen every period (any of the 20 ladder levels, up or down), a
holding cost ``holding_cost`` per unit carried out of periods
``0 .. horizon-2``, and ``salvage_rate`` per unit left after the last period.
With ``n`` units on hand and markdown ``m`` in period ``t``, the units wanted
are ``Poisson(arrival_rate * max(0, 1 - (1 - m) / decay**t))`` and the store
sells ``min(wanted, n)``.

Let ``V[t, n]`` be the best expected profit from period ``t`` on with ``n``
units on hand (Bitran & Mondschein 1997; Yang et al. 2019 section 6.2.1)::

    V[T, n] = salvage_rate * n
    V[t, n] = max over m of E[(1 - m) * k - h_t * (n - k) + V[t + 1, n - k]],  k = min(wanted, n)

with ``h_t = holding_cost`` for ``t < T - 1`` and 0 in the last period.

Tasks: :func:`value_table` returns the array ``V`` of shape
``(horizon + 1, inventory + 1)``; :func:`value` returns ``V[0, inventory]``.
``scipy.stats.poisson`` gives the pmf and tail.

Check: ``python -m pytest exercises/checks/test_ex2_bellman.py``: your value
must equal ``baselines.make("sdp", inst.make_env()).value_estimate`` to
1e-6 on random small instances.
"""

from __future__ import annotations

import numpy as np

from exercises.common import LADDER, Instance  # noqa: F401


def value_table(inst: Instance) -> np.ndarray:
    """``V[t, n]`` for ``t = 0..horizon``, ``n = 0..inventory``."""
    raise NotImplementedError("exercise 2: value_table")


def value(inst: Instance) -> float:
    """The optimal expected profit ``V[0, inventory]``."""
    raise NotImplementedError("exercise 2: value")
