"""Any Stable-Baselines3 / sb3-contrib model zip as a policy: the ``sb3`` model loader.

``evaluate.py --suite liqenv-bench-v1 --policies sb3:runs/x/model.zip`` (or
``sb3=path`` in plain ``evaluate.py``) loads a model whatever algorithm
trained it: the algorithm is read from the zip's ``data`` (the saved policy
class's module and, for the actor-critic policy that PPO, A2C and TRPO
share, the hyperparameters only that algorithm saves), and the model acts
through :class:`agents.policy.PPOPolicy` (``model.predict``, the
MaskablePPO masks, the observation- and action-space checks).

Supported: PPO, A2C, DQN, SAC, TD3, DDPG (acts as TD3: the same policy
class), MaskablePPO, TRPO, QRDQN, TQC, ARS, CrossQ.  RecurrentPPO is refused
(its LSTM state is not carried between ``act`` calls).
"""

from __future__ import annotations

from typing import Any

from liqenv.evaluation.registry import register_loader

from .policy import PPOPolicy, _zip_path, detect_algo, read_zip_data

__all__ = ["sb3_algorithm", "load_sb3", "SUPPORTED"]

# module of the saved policy class -> (package, algorithm class)
_BY_MODULE = {
    "stable_baselines3.dqn.policies": ("stable_baselines3", "DQN"),
    "stable_baselines3.sac.policies": ("stable_baselines3", "SAC"),
    "stable_baselines3.td3.policies": ("stable_baselines3", "TD3"),
    "sb3_contrib.qrdqn.policies": ("sb3_contrib", "QRDQN"),
    "sb3_contrib.tqc.policies": ("sb3_contrib", "TQC"),
    "sb3_contrib.ars.policies": ("sb3_contrib", "ARS"),
    "sb3_contrib.crossq.policies": ("sb3_contrib", "CrossQ"),
}
SUPPORTED = ("PPO", "A2C", "DQN", "SAC", "TD3", "DDPG", "MaskablePPO", "TRPO", "QRDQN", "TQC", "ARS", "CrossQ")


def sb3_algorithm(path: str) -> tuple[str, str]:
    """``(package, algorithm class name)`` of an SB3 zip; ``ValueError`` if unsupported or unreadable."""
    p = _zip_path(path)
    data = read_zip_data(p)
    module = str(data.get("policy_class", {}).get("__module__", ""))
    if module in _BY_MODULE:
        return _BY_MODULE[module]
    if "recurrent" in module:
        raise ValueError(f"model file {p!r}: RecurrentPPO is not supported (supported: {', '.join(SUPPORTED)})")
    if detect_algo(p) == "maskable-ppo":
        return "sb3_contrib", "MaskablePPO"
    # PPO, A2C and TRPO share the actor-critic policy: tell them by what each saves
    if "cg_max_steps" in data:
        return "sb3_contrib", "TRPO"
    if "clip_range" in data:
        return "stable_baselines3", "PPO"
    if "normalize_advantage" in data or "rms_prop_eps" in data or "use_rms_prop" in data:
        return "stable_baselines3", "A2C"
    raise ValueError(f"model file {p!r}: cannot tell the algorithm from policy class module {module!r} "
                     f"(supported: {', '.join(SUPPORTED)})")


def load_sb3(path: str, env: Any) -> PPOPolicy:
    """Model loader of the evaluation registry (``sb3=path``, ``sb3:path`` in suite specs)."""
    import importlib

    import torch

    package, name = sb3_algorithm(path)
    torch.set_num_threads(1)  # as PPOPolicy: one observation per predict, workers share cores
    model = getattr(importlib.import_module(package), name).load(_zip_path(path), device="cpu")
    return PPOPolicy(model, env)


register_loader("sb3", load_sb3)
