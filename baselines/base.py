"""The base class of the analytic baselines, and their registration.

``baselines.make(name, env_or_scenario, **options)`` builds a policy;
``baselines.available()`` lists the names (both are the evaluation layer's
registry, :mod:`liqenv.evaluation.registry`, into which :func:`register`
adds each baseline when ``baselines`` is imported).  A :class:`Policy`
acts only from the observation (decoded with the scenario's
:class:`~liqenv.spaces.ObservationLayout`) and the scenario's public
parameters, never from the env's hidden state (store effects, future
demand).  Offline work (solving a dynamic programme) happens in
:meth:`Policy.solve`, timed into ``solve_seconds``; per-step acting is timed
by the evaluation harness.  :class:`Policy` implements the harness's
protocol (:mod:`liqenv.evaluation.protocol`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from liqenv.evaluation.protocol import UnsupportedScenario
from liqenv.evaluation.registry import available, make
from liqenv.evaluation.registry import register as register_factory
from liqenv.scenario import Scenario
from liqenv.spaces import ActionLayout, ObservationLayout

__all__ = ["Policy", "UnsupportedScenario", "register", "make", "available", "scenario_of"]


@dataclass(frozen=True)
class _Build:
    """``(env_or_scenario, **options) -> cls(scenario, **options)``, the registry's factory."""

    cls: type

    def __call__(self, env_or_scenario: Any, **options: Any) -> "Policy":
        return self.cls(scenario_of(env_or_scenario), **options)


def register(name: str) -> Callable[[type], type]:
    """Class decorator: policy ``name`` for ``baselines.make(name, env_or_scenario, **options)``."""

    def deco(cls: type) -> type:
        register_factory(name, _Build(cls), module=cls.__module__)
        cls.name = name
        return cls

    return deco


def scenario_of(env_or_scenario: Any) -> Scenario:
    """The current public scenario of an env (or the scenario itself)."""
    if isinstance(env_or_scenario, Scenario):
        return env_or_scenario
    env = getattr(env_or_scenario, "unwrapped", env_or_scenario)
    sc = getattr(env, "scenario", None)
    if not isinstance(sc, Scenario):
        raise ValueError(f"env_or_scenario={env_or_scenario!r}: neither a Scenario nor a liqenv env")
    return sc


class Policy:
    """Base class: subclasses implement :meth:`solve` (optional) and :meth:`decide`.

    Attributes:
        scenario: the public scenario the policy plans for.
        solve_seconds: total wall time spent in offline solves.
        value_estimate: the policy's own prediction of its expected profit
            (``None`` when it has none).
    """

    name = "policy"

    def __init__(self, scenario: Scenario, **options: Any):
        if options:
            raise ValueError(f"{self.name}: unknown option(s) {', '.join(sorted(options))}")
        self.scenario = scenario
        self.obs_layout = ObservationLayout(scenario)
        self.action_layout = ActionLayout(scenario)
        self.solve_seconds = 0.0
        self.value_estimate: float | None = None
        self.rng = np.random.default_rng()
        self._timed_solve()

    @classmethod
    def check_supported(cls, scenario: Scenario) -> None:
        """Raise :class:`UnsupportedScenario` if the policy cannot run ``scenario``."""

    def _timed_solve(self) -> None:
        type(self).check_supported(self.scenario)
        t0 = time.perf_counter()
        self.solve()
        self.solve_seconds += time.perf_counter() - t0

    def solve(self) -> None:
        """Offline work for ``self.scenario`` (default: none)."""

    def reset(self, seed: int | None = None, scenario: Scenario | None = None) -> None:
        """Start an episode; re-solve when the env drew a new ``scenario``."""
        self.rng = np.random.default_rng(seed)
        if scenario is not None and scenario != self.scenario:
            self.scenario = scenario
            self._timed_solve()

    def act(self, observation: np.ndarray) -> Any:
        """An action in the env's action space for this observation."""
        obs = self.obs_layout.decode(observation)
        return self.decide(obs)

    def decide(self, obs: dict[str, np.ndarray]) -> Any:
        raise NotImplementedError

    #: True when the policy implements :meth:`act_batch` (no per-episode
    #: state), so the evaluation harness may step many episodes at once on
    #: the native batched env.
    batched = False
    #: True when :meth:`act_batch` needs the batch's action masks.
    masked = False

    def act_batch(self, observations: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
        """Actions for a batch of observations (policies with ``batched = True``)."""
        raise NotImplementedError

    # helpers for subclasses ------------------------------------------------
    def encode(self, markdown, close=None, ship=None) -> Any:
        """Flat action from per-store markdowns (fractions), closings, ship indices.

        For continuous pricing pass ``markdown = 1 - price / list_price``.
        """
        a = self.action_layout.encode(markdown, close, ship)
        if self.action_layout.kind == "box":
            cap = self.scenario.price_cap
            return np.clip(a, 0.0, cap).astype(np.float32)
        return a
