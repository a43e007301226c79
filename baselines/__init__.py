"""Analytic liquidation policies from the literature (see ``baselines.base``).

Importing the package registers every policy with the evaluation layer's
registry (:mod:`liqenv.evaluation.registry`), so ``baselines.make(name, env)``
and ``python evaluate.py --policies name`` find them.
"""

from .base import Policy, UnsupportedScenario, available, make, register, scenario_of

# Each module registers its policies when imported.
from . import adp, chain, craig_raman, exact_dp, sdp, yang  # noqa: E402,F401  isort: skip

__all__ = ["Policy", "UnsupportedScenario", "available", "make", "register", "scenario_of"]
