"""Analytic liquidation policies from the literature (see ``baselines.base``)."""

from .base import Policy, UnsupportedScenario, available, make, register, scenario_of

__all__ = ["Policy", "UnsupportedScenario", "available", "make", "register", "scenario_of"]
