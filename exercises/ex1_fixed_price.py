"""Exercise 1: a fixed-price policy and its expected profit.

The store of :class:`exercises.common.Instance` posts one markdown ``m`` in
every period (price ``p = 1 - m``).  A customer arriving in period ``t``
values the good at ``decay**t * U``, ``U ~ Uniform(0, 1)``, and buys when the
valuation is at least ``p``; ``Poisson(arrival_rate)`` customers arrive per
period; the store sells at most what it holds.  Instances here have no
holding cost and no salvage value.

Tasks (replace each ``raise NotImplementedError``):

1. :func:`simulate`: play the fixed markdown in the env for ``episodes``
   episodes, episode ``k`` on ``env.reset(seed=seed + k)``, and return the
   profits.  (``inst.make_env()`` builds the env;
   ``env.unwrapped.encode_action(markdown=m)`` gives the action.)
2. :func:`expected_profit`: the exact expected profit of the fixed markdown,
   in closed form (no simulation).  Hint: how many customers want the good
   over the whole event, and how many units are then sold?
3. :func:`best_fixed_markdown`: the ladder markdown (0%, 5%, ..., 95%) with
   the highest expected profit.

Check: ``python -m pytest exercises/checks/test_ex1_fixed_price.py``.  The
checks compare ``simulate`` with the env episode by episode, ``expected_profit``
with a Monte Carlo estimate and, to 1e-6, with the exact dynamic programme
``baselines.make("sdp", env)`` restricted to one markdown.
"""

from __future__ import annotations

import numpy as np

from exercises.common import LADDER, Instance  # noqa: F401


def simulate(inst: Instance, markdown: float, episodes: int, seed: int) -> np.ndarray:
    """Profits of posting ``markdown`` every period, one per episode (env seeds ``seed, seed+1, ...``)."""
    raise NotImplementedError("exercise 1: simulate")


def expected_profit(inst: Instance, markdown: float) -> float:
    """The exact expected profit of posting ``markdown`` in every period."""
    raise NotImplementedError("exercise 1: expected_profit")


def best_fixed_markdown(inst: Instance) -> float:
    """The markdown of :data:`LADDER` with the highest :func:`expected_profit`."""
    raise NotImplementedError("exercise 1: best_fixed_markdown")
