"""Exercise 4: a policy for two stores (``liqenv/TwoStore-v0``).

Craig & Raman (2016) section 6: two stores, three periods; each period you
set each store's markdown (never lower than before), may close a store
(it sells nothing from then on and pays no more operating cost; what it
still holds at the end of that period is lost unless shipped out in the
same period) and may ship a share of a store's stock to the other (it
arrives a period later and costs ``transfer_cost`` per unit).  Every reset
draws a new grid point: stock, operating costs, transfer cost, demand
level and variability.  The observation reports each store's operating
cost and expected demand at list price this period (README, "Observation
and action layouts").

Task: complete :class:`Policy`.  ``act`` gets the raw observation and
returns an action of ``env.action_space``; it may use
``env.unwrapped.decode_observation``, ``env.unwrapped.action_masks()`` and
``env.unwrapped.encode_action(markdown=..., close=..., ship=...)``, and
nothing else of the env's state.

Score to beat: the mean profit over the hidden evaluation episodes must be
at least 95% of the mean profit of ``baselines.make("store_pds", env)`` on
the same episodes (in the README's MaskablePPO table the practitioners'
rule earns about 79% of ``store_pds`` and the exact optimum about 105%).

Check: ``python -m pytest exercises/checks/test_ex4_two_store_policy.py``
(200 episodes whose seeds come from ``LIQENV_EXERCISE_SEED``: the grading
run uses a seed you do not know).
"""

from __future__ import annotations

import numpy as np  # noqa: F401


class Policy:
    """Your policy for ``liqenv/TwoStore-v0``."""

    def __init__(self, env):
        self.env = env.unwrapped

    def act(self, obs):
        """An action for observation ``obs``."""
        raise NotImplementedError("exercise 4: Policy.act")
