"""What the evaluation harness needs from a policy: the :class:`Policy` protocol.

A policy is any object with ``act(observation) -> action`` (an action in the
env's action space).  Everything else is optional and read through the
functions below, so the harness never assumes a base class:

* ``reset(seed=None, scenario=None)``: called before each episode with the
  episode's env seed and the scenario the env drew (a policy that plans for
  one scenario re-plans, or raises :class:`UnsupportedScenario`);
* ``batched = True`` with ``act_batch(observations, masks=None)``: the policy
  has no per-episode state and acts on a batch, so the harness may play many
  episodes at once on the native batched env; ``masked = True`` when
  ``act_batch`` needs the batch's action masks;
* ``solve_seconds``: wall time spent in offline solves (reported);
* ``value_estimate``: the policy's own prediction of its expected profit.

``baselines.base.Policy`` implements all of these; a learned model's adapter
(``agents.policy.PPOPolicy``) too.  A ten-line policy needs only ``act``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Policy", "UnsupportedScenario", "check_policy", "reset_policy", "acts_on_batch",
           "needs_masks", "solve_seconds", "value_estimate"]


class UnsupportedScenario(ValueError):
    """The policy cannot run on this scenario; the message says why.

    The harness reports such a policy as unsupported instead of failing.
    """


@runtime_checkable
class Policy(Protocol):
    """Acts from the observation alone (see the module docstring for the optional members)."""

    def act(self, observation: np.ndarray) -> Any:
        """An action in the env's action space for this observation."""


def check_policy(policy: Any, label: str) -> None:
    """Raise ``ValueError`` unless ``policy`` has a callable ``act``."""
    if not callable(getattr(policy, "act", None)):
        raise ValueError(f"policy {label!r}: the factory returned {type(policy).__name__}, "
                         "which has no act(observation) method")


def reset_policy(policy: Any, seed: int, scenario: Any = None) -> None:
    """Start an episode: ``policy.reset(seed=..., scenario=...)`` when it has one."""
    reset = getattr(policy, "reset", None)
    if reset is not None:
        reset(seed=seed, scenario=scenario)


def acts_on_batch(policy: Any) -> bool:
    """True when the policy declares ``batched`` and may play many episodes at once."""
    return bool(getattr(policy, "batched", False))


def needs_masks(policy: Any) -> bool:
    """True when ``act_batch`` needs the batch's action masks."""
    return bool(getattr(policy, "masked", False))


def solve_seconds(policy: Any) -> float:
    """Offline solve time so far (0 when the policy does not report it)."""
    return float(getattr(policy, "solve_seconds", 0.0) or 0.0)


def value_estimate(policy: Any) -> float | None:
    """The policy's own estimate of its expected profit, or ``None``."""
    v = getattr(policy, "value_estimate", None)
    return None if v is None else float(v)
