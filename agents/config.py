"""Per-scenario PPO hyperparameters (``agents/hyperparams.yaml``) and model construction.

The YAML file has a ``default`` block and one block per scenario id (RL Zoo
style); :func:`load_hyperparams` merges default, scenario block and any
overrides into a validated :class:`Hyperparams`.  :func:`build_model` turns
it into an SB3 ``PPO`` or sb3-contrib ``MaskablePPO``, configuring the
networks through ``policy_kwargs`` (``net_arch``, ``activation_fn``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from liqenv.resolve import NAMESPACE, canonical_scenario  # re-exported: the one scenario resolver

__all__ = ["Hyperparams", "HYPERPARAMS_PATH", "ALGOS", "load_hyperparams", "canonical_scenario",
           "reward_scale_for", "build_model", "algo_class", "ppo_kwargs"]

HYPERPARAMS_PATH = Path(__file__).with_name("hyperparams.yaml")
ALGOS = ("ppo", "maskable-ppo")
ACTIVATIONS = ("tanh", "relu")
SCHEDULES = ("constant", "linear")
#: Upper bounds of the integer hyperparameters: beyond them a run cannot
#: finish or its rollout buffer cannot be allocated (a typo, not a setting).
INT_BOUNDS = {"total_timesteps": 10**9, "n_envs": 2**16, "n_steps": 2**20, "batch_size": 2**24,
              "n_epochs": 10**4, "eval_freq": 10**9, "eval_episodes": 10**6, "embed_dim": 2**14,
              "warm_start_episodes": 10**5, "warm_start_epochs": 10**4}
POLICIES = ("mlp", "factored", "per-store")


@dataclass(frozen=True)
class Hyperparams:
    """One run's hyperparameters (the keys of ``hyperparams.yaml``; see its comments)."""

    algo: str = "ppo"
    total_timesteps: int = 300_000
    n_envs: int = 8
    n_steps: int = 256
    batch_size: int = 256
    n_epochs: int = 10
    gamma: float = 1.0
    gae_lambda: float = 0.95
    ent_coef: float = 0.0
    learning_rate: float = 2e-3
    lr_schedule: str = "linear"
    clip_range: float = 0.2
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: tuple[int, ...] = (64, 64)
    policy: str = "mlp"
    embed_dim: int = 64
    activation: str = "tanh"
    ortho_init: bool = True
    initial_act_prob: Any = None
    hide_features: tuple[str, ...] = ()
    reward_scale: Any = "auto"
    warm_start: Any = None
    warm_start_episodes: int = 32
    warm_start_epochs: int = 30
    eval_freq: int = 25_000
    eval_episodes: int = 200
    scenario: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> None:
            raise ValueError(f"hyperparameter {name}={getattr(self, name)!r}: {why}")

        if self.algo not in ALGOS:
            bad("algo", f"expected one of {', '.join(ALGOS)}")
        for name, hi in INT_BOUNDS.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
                bad(name, f"must be an integer in [1, {hi:,}]")
        for name, lo, hi in (("gamma", 0.0, 1.0), ("gae_lambda", 0.0, 1.0), ("clip_range", 0.0, None),
                             ("learning_rate", 0.0, None), ("ent_coef", None, None),
                             ("vf_coef", None, None), ("max_grad_norm", 0.0, None)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                bad(name, "must be a number")
            if (lo is not None and v < lo) or (hi is not None and v > hi) or v != v:
                bad(name, f"must be in [{lo}, {hi if hi is not None else 'inf'}]")
        if self.ent_coef < 0 or self.vf_coef < 0:
            bad("ent_coef" if self.ent_coef < 0 else "vf_coef", "must be >= 0")
        if self.lr_schedule not in SCHEDULES:
            bad("lr_schedule", f"expected one of {', '.join(SCHEDULES)}")
        if self.activation not in ACTIVATIONS:
            bad("activation", f"expected one of {', '.join(ACTIVATIONS)}")
        if self.policy not in POLICIES:
            bad("policy", f"expected one of {', '.join(POLICIES)}")
        if self.policy == "factored" and self.algo != "maskable-ppo":
            bad("policy", "factored needs algo maskable-ppo (agents.factored.FactoredMaskablePolicy)")
        if self.policy == "per-store" and self.algo != "maskable-ppo":
            bad("policy", "per-store needs algo maskable-ppo (agents.store_agents)")
        if not isinstance(self.ortho_init, bool):
            bad("ortho_init", "must be true or false")
        p0 = self.initial_act_prob
        if p0 is not None:
            if isinstance(p0, bool) or not isinstance(p0, (int, float)) or not 0.0 < p0 < 1.0:
                bad("initial_act_prob", "must be null or a number in (0, 1)")
            if self.algo != "maskable-ppo":
                bad("initial_act_prob", "needs algo maskable-ppo (agents.maskable.FastMaskablePolicy)")
        hide = self.hide_features
        if (not isinstance(hide, (list, tuple)) or any(not isinstance(h, str) or not h for h in hide)
                or len(set(hide)) != len(hide)):
            bad("hide_features", "must be a list of distinct per-store feature names, e.g. "
                "[effect_mean, effect_sd]")
        if hide and self.policy == "per-store":
            bad("hide_features", "not supported with policy per-store (the agents' observation columns differ)")
        if hide and self.algo != "maskable-ppo":
            bad("hide_features", "needs algo maskable-ppo (agents.maskable.FastMaskablePolicy)")
        object.__setattr__(self, "hide_features", tuple(hide))
        ws = self.warm_start
        if ws is not None:
            if not isinstance(ws, str) or not ws:
                bad("warm_start", "must be null or a baseline name, e.g. store_pds")
            if self.algo != "maskable-ppo":
                bad("warm_start", "needs algo maskable-ppo (agents.imitation)")
        arch = self.net_arch
        if (not isinstance(arch, (list, tuple)) or not arch
                or any(isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= 2**16 for h in arch)):
            bad("net_arch", "must be a non-empty list of layer widths in [1, 65,536]")
        object.__setattr__(self, "net_arch", tuple(arch))
        rs = self.reward_scale
        if not (rs == "auto" or (isinstance(rs, (int, float)) and not isinstance(rs, bool) and rs > 0)):
            bad("reward_scale", "must be 'auto' or a positive number")
        # per-store: a rollout holds n_envs * S * n_steps agent transitions (checked in build_model)
        if self.policy != "per-store" and self.batch_size > self.n_envs * self.n_steps:
            bad("batch_size", f"larger than a rollout (n_envs * n_steps = {self.n_envs * self.n_steps})")

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name != "scenario"]

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.keys()}
        d["net_arch"] = list(self.net_arch)
        d["hide_features"] = list(self.hide_features)
        return d


# ------------------------------------------------------------------ loading
def _read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"hyperparameter file {str(path)!r} not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        why = getattr(e, "strerror", None) or getattr(e, "problem", None) or type(e).__name__
        raise ValueError(f"hyperparameter file {str(path)!r}: cannot be read ({' '.join(str(why).split())})") from None
    if not isinstance(data, dict) or not isinstance(data.get("default", {}), dict):
        raise ValueError(f"{path}: expected a mapping with a 'default' block")
    return data


def load_hyperparams(scenario: str, overrides: Mapping[str, Any] | None = None,
                     path: str | Path = HYPERPARAMS_PATH) -> Hyperparams:
    """Merge ``default``, the scenario's block and ``overrides``; validate.

    ``scenario`` is a registered id (``liqenv/`` optional) or a scenario file
    (:func:`liqenv.resolve.canonical_scenario`); a file has no block of its
    own and takes ``default`` (pass the rest as ``overrides``).  An unknown
    key in the file or in ``overrides`` raises ``ValueError`` naming it.
    """
    sid = canonical_scenario(scenario)
    data = _read_yaml(path)
    short = sid.removeprefix(NAMESPACE) if sid.startswith(NAMESPACE) else None
    merged: dict[str, Any] = {}
    for label, block in (("default", data.get("default") or {}),
                         (short, (data.get(short, data.get(sid)) if short else None) or {}),
                         ("overrides", dict(overrides or {}))):
        if not isinstance(block, dict):
            raise ValueError(f"{path}: block {label!r} must be a mapping")
        unknown = sorted(set(block) - set(Hyperparams.keys()))
        if unknown:
            raise ValueError(f"hyperparameter {unknown[0]!r} ({label}): unknown; "
                             f"known: {', '.join(Hyperparams.keys())}")
        merged.update(block)
    # YAML reads 3e-4 as a string; accept numeric strings for float fields.
    for k in ("gamma", "gae_lambda", "ent_coef", "learning_rate", "clip_range", "vf_coef",
              "max_grad_norm", "reward_scale", "initial_act_prob"):
        v = merged.get(k)
        if isinstance(v, str) and v != "auto":
            try:
                merged[k] = float(v)
            except ValueError:
                pass
    for k in ("gamma", "gae_lambda", "ent_coef", "learning_rate", "clip_range", "vf_coef",
              "max_grad_norm"):
        if isinstance(merged.get(k), int) and not isinstance(merged.get(k), bool):
            merged[k] = float(merged[k])
    return Hyperparams(**merged, scenario=sid)


def reward_scale_for(hp: Hyperparams, scenario: Any) -> float:
    """The number rewards are divided by: ``auto`` = initial units x list price."""
    if hp.reward_scale != "auto":
        return float(hp.reward_scale)
    return float((scenario.inventory * scenario.list_price).sum())


# ------------------------------------------------------------------ models
def algo_class(algo: str) -> type:
    if algo == "ppo":
        from stable_baselines3 import PPO

        return PPO
    if algo == "maskable-ppo":
        from sb3_contrib import MaskablePPO

        return MaskablePPO
    raise ValueError(f"algo={algo!r}: expected one of {', '.join(ALGOS)}")


def ppo_kwargs(hp: Hyperparams) -> dict[str, Any]:
    """Constructor arguments of ``PPO`` / ``MaskablePPO`` (networks via ``policy_kwargs``)."""
    import torch

    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[hp.activation]
    from stable_baselines3.common.utils import LinearSchedule

    lr = (LinearSchedule(hp.learning_rate, 0.0, 1.0) if hp.lr_schedule == "linear"
          else hp.learning_rate)
    return dict(
        n_steps=hp.n_steps, batch_size=hp.batch_size, n_epochs=hp.n_epochs, gamma=hp.gamma,
        gae_lambda=hp.gae_lambda, ent_coef=hp.ent_coef, learning_rate=lr, clip_range=hp.clip_range,
        vf_coef=hp.vf_coef, max_grad_norm=hp.max_grad_norm,
        policy_kwargs=dict(net_arch=dict(pi=list(hp.net_arch), vf=list(hp.net_arch)),
                           activation_fn=act, ortho_init=hp.ortho_init))


def build_model(hp: Hyperparams, venv: Any, seed: int, tensorboard_log: str | None = None,
                verbose: int = 0, scenario: Any = None) -> Any:
    """A fresh PPO or MaskablePPO on ``venv`` (CPU).

    ``scenario`` (the env's :class:`~liqenv.scenario.Scenario`; default:
    the first copy's, ``venv.get_attr("scenario")``) tells
    ``hp.initial_act_prob`` which action components close stores or ship stock,
    ``hp.hide_features`` which observation columns the policy must not see,
    and ``hp.policy="factored"`` which observation columns and action
    components belong to which store (:mod:`agents.factored`);
    ``hp.policy="per-store"`` needs ``venv`` to be the agents' env
    (:func:`agents.store_agents.make_store_agents_env`) and trains one
    network over one store's observation and action (:mod:`agents.store_agents`).
    """
    cls = algo_class(hp.algo)
    policy: Any = "MlpPolicy"
    kwargs = ppo_kwargs(hp)
    if hp.algo == "maskable-ppo":
        # same policy, one padded tensor for the per-dimension categoricals
        # (agents.maskable: ~5x faster on 40-store chains)
        from .maskable import FastMaskablePolicy, rare_action_bias

        policy = FastMaskablePolicy
        if scenario is None:
            scenario = venv.get_attr("scenario", [0])[0]
        if hp.initial_act_prob is not None:
            from liqenv.spaces import ActionLayout

            from .store_agents import StoreAgents

            # the components of one action: the chain's, or one store's (per-store)
            layout = StoreAgents(scenario) if hp.policy == "per-store" else ActionLayout(scenario)
            kwargs["policy_kwargs"]["action_logit_bias"] = rare_action_bias(layout, float(hp.initial_act_prob))
        if hp.hide_features:
            from .maskable import hidden_columns

            kwargs["policy_kwargs"].update(hidden_columns(scenario, hp.hide_features))
        if hp.policy == "per-store":
            from .store_agents import PerStoreMaskablePolicy

            policy = PerStoreMaskablePolicy
            rollout = hp.n_envs * scenario.n_stores * hp.n_steps
            if hp.batch_size > rollout:
                raise ValueError(f"hyperparameter batch_size={hp.batch_size!r}: larger than a rollout "
                                 f"(n_envs * stores * n_steps = {rollout})")
        if hp.policy == "factored":
            from .factored import FactoredMaskablePolicy, policy_kwargs_for

            policy = FactoredMaskablePolicy
            kwargs["policy_kwargs"] = policy_kwargs_for(scenario, kwargs["policy_kwargs"], hp.embed_dim)
    return cls(policy, venv, seed=seed, device="cpu", tensorboard_log=tensorboard_log,
               verbose=verbose, **kwargs)
