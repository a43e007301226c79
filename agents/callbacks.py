"""SB3 callbacks of the training job (:mod:`agents.job`).

:class:`ValidationCallback` evaluates the policy being trained every
``eval_freq`` environment steps and once more at the end of training, and
hands each result to the job (learning curve, best model, checkpoint, and
an optional ``report`` hook for schedulers such as Ray Tune).  What a
validation is (which episodes, which harness) and what is done with it
belong to the job; the callback only decides *when*.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from stable_baselines3.common.callbacks import BaseCallback

__all__ = ["ValidationCallback"]

#: ``validate(model) -> result`` with at least ``mean`` and ``ci95``.
Validate = Callable[[Any], Mapping[str, Any]]
#: ``on_validation(model, steps, result)``: what the job does with a result.
OnValidation = Callable[[Any, int, Mapping[str, Any]], None]


class ValidationCallback(BaseCallback):
    """Validate every ``eval_freq`` steps and at the end of training.

    Args:
        eval_freq: environment steps (summed over the batch) between validations.
        validate: evaluates the current model (deterministic policy, fixed seeds).
        on_validation: called with ``(model, steps, result)`` after each one.
        last_validated: steps of the last validation already recorded (on
            resume), so that the end of training does not repeat it.
    """

    def __init__(self, eval_freq: int, validate: Validate, on_validation: OnValidation,
                 last_validated: int | None = None):
        super().__init__()
        if eval_freq < 1:
            raise ValueError(f"eval_freq={eval_freq!r}: must be a positive integer")
        self.eval_freq = int(eval_freq)
        self.validate = validate
        self.on_validation = on_validation
        self.last_validated = last_validated

    def run_validation(self) -> None:
        """Validate now and hand the result on."""
        steps = int(self.model.num_timesteps)
        result = self.validate(self.model)
        if getattr(self.model, "_logger", None) is not None:
            self.logger.record("eval/profit", result["mean"])
        self.last_validated = steps
        self.on_validation(self.model, steps, result)

    def _on_step(self) -> bool:
        n = self.model.num_timesteps
        # one step of the batch advances num_timesteps by num_envs: did it cross a multiple?
        if n // self.eval_freq > (n - self.training_env.num_envs) // self.eval_freq:
            self.run_validation()
        return True

    def _on_training_end(self) -> None:
        if self.last_validated != self.model.num_timesteps:
            self.run_validation()
