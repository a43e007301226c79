"""liqenv: a Gymnasium benchmark for retail liquidation pricing.

``import liqenv`` registers the scenarios under the ``liqenv/`` namespace::

    import gymnasium as gym
    import liqenv  # noqa: F401

    env = gym.make("liqenv/SingleStore-v0", inventory=1800, horizon=60, valuation="weibull")

and exposes the batched Gymnasium ``VectorEnv`` (:mod:`liqenv.vector`,
``liqenv.LiquidationVectorEnv``).  The Stable-Baselines3 ``VecEnv`` is
``liqenv.integrations.sb3.LiquidationVecEnv`` (the ``[sb3]`` extra).
"""

from __future__ import annotations

import gymnasium as gym

from .demand import DemandModel, make_demand
from .dynamics import Decision, Params, State
from .env import LiquidationEnv
from .presets import GENERATORS, PRESETS, SOURCES, TwoStoreGrid, make_scenario
from .scenario import (ElasticityDemand, LeaseTerms, MarkdownRules, Scenario, StoreParams,
                       TransferNetwork, UnknownField, ValuationDemand, load_scenario)
from .spaces import ActionLayout, ObservationLayout
from . import vector
from .vector import LiquidationBatch, LiquidationVectorEnv
from .resolve import canonical_scenario, resolve_scenario  # noqa: E402  (also registers liqenv/File-v0)

__all__ = [
    "LiquidationEnv", "Scenario", "StoreParams", "LeaseTerms", "TransferNetwork", "MarkdownRules",
    "ValuationDemand", "ElasticityDemand", "DemandModel", "make_demand", "make_scenario",
    "load_scenario", "PRESETS", "SOURCES", "GENERATORS", "TwoStoreGrid", "ActionLayout",
    "ObservationLayout", "Params", "State", "Decision", "register_envs", "UnknownField",
    "LiquidationBatch", "LiquidationVectorEnv", "vector", "resolve_scenario", "canonical_scenario",
]

__version__ = "0.1.0"


def register_envs() -> None:
    """Register every preset as ``liqenv/<name>`` (idempotent)."""
    for name in PRESETS:
        env_id = f"liqenv/{name}"
        if env_id in gym.registry:
            continue
        gym.register(id=env_id, entry_point="liqenv.env:LiquidationEnv",
                     vector_entry_point="liqenv.vector:LiquidationVectorEnv",
                     kwargs={"scenario": name}, disable_env_checker=False)


register_envs()
