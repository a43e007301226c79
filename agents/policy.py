"""A trained PPO / MaskablePPO model as a :class:`baselines.base.Policy`.

``PPOPolicy(model_path, env_or_scenario, deterministic=True)`` loads a model
saved by ``train.py`` and acts with
``model.predict(obs, deterministic=True, action_masks=...)``.  Importing this
module (or ``agents``) registers the loaders ``ppo`` and ``maskable_ppo``
with the evaluation registry (:mod:`liqenv.evaluation.registry`), so
``python evaluate.py --policies ppo=runs/x/model.zip,sdp,pds`` evaluates a
model beside the baselines.

**Action masks.**  A MaskablePPO model needs the masks of the rules
(monotone markdowns, hold periods, leases, what may ship).  The adapter
reads them from the env it acts on (``env.unwrapped.action_masks()``), the
same call MaskablePPO made during training; the evaluation harness hands
every policy factory the env that policy plays, and when it plays many
episodes at once on the native batched env (:meth:`PPOPolicy.act_batch`)
it passes that batch's masks.  This is honest: the masks
are the business rules applied to the rule state (last markdown, periods
held, changes made, closing status, lease dates, on-hand units), which the
observation also carries; they never read the hidden store effects or
future demand.  Rebuilding them from the decoded observation would copy the
rule code of :mod:`liqenv.dynamics` a second time, so the adapter does not.
A MaskablePPO model given only a :class:`~liqenv.scenario.Scenario` raises
``ValueError``; a plain PPO model needs no env.

A per-store model (``policy: per-store``, :mod:`agents.store_agents`) is
recognised by its saved policy class: ``PPOPolicy(path, env)`` then returns
a :class:`agents.store_agents.StoreAgentsPolicy`, which splits the chain's
observations and masks into the stores' and assembles the chain action.

The saved model's observation space must equal the scenario's
(:class:`~liqenv.spaces.ObservationLayout`): a model trained on another
layout (another chain size, other rules) raises ``ValueError``.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np

from baselines.base import Policy, scenario_of
from liqenv.evaluation.registry import register_loader
from liqenv.scenario import Scenario
from liqenv.spaces import ObservationLayout

__all__ = ["PPOPolicy", "detect_algo", "is_per_store", "read_zip_data", "load_model", "check_observation_space", "load_ppo"]


def _zip_path(path: str | os.PathLike) -> str:
    p = os.fspath(path)
    if os.path.isfile(p):
        return p
    if os.path.isfile(p + ".zip"):
        return p + ".zip"
    raise ValueError(f"model file {p!r} not found")


def read_zip_data(path: str | os.PathLike) -> dict:
    """The ``data`` JSON of an SB3 model zip (``ValueError`` when it is not one)."""
    p = _zip_path(path)
    try:
        with zipfile.ZipFile(p) as zf:
            return json.loads(zf.read("data").decode())
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise ValueError(f"model file {p!r}: not a Stable-Baselines3 model ({type(e).__name__})") from None


def _policy_class(path: str | os.PathLike) -> tuple[Any, dict]:
    """The saved policy class of an SB3 zip (None when unreadable) and its JSON entry."""
    data = read_zip_data(path)
    from stable_baselines3.common.save_util import json_to_data

    entry = data.get("policy_class", {})
    try:  # a class saved by reference (agents.maskable, agents.factored): importing it is cheap
        cls = json_to_data(json.dumps({"policy_class": entry})).get("policy_class")
    except Exception:  # noqa: BLE001  (an unreadable class: judge by its module's name)
        cls = None
    return cls, entry


def is_per_store(model: Any) -> bool:
    """Whether a model (object or zip path) is a per-store model (:mod:`agents.store_agents`)."""
    if hasattr(model, "policy"):
        return bool(getattr(type(model.policy), "per_store", False))
    cls, _ = _policy_class(_zip_path(model))
    return bool(getattr(cls, "per_store", False))


def detect_algo(path: str | os.PathLike) -> str:
    """``"ppo"`` or ``"maskable-ppo"``, read from the saved policy class of an SB3 zip."""
    cls, entry = _policy_class(path)
    if isinstance(cls, type):
        return "maskable-ppo" if _is_maskable(cls) else "ppo"
    return "maskable-ppo" if "maskable" in str(entry.get("__module__", "")) else "ppo"


def _is_maskable(policy_class: type) -> bool:
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy

    return issubclass(policy_class, MaskableActorCriticPolicy)


def load_model(path: str | os.PathLike, env: Any = None) -> tuple[Any, str]:
    """``(model, algo)`` from a zip saved by ``train.py`` (on CPU)."""
    from .config import algo_class

    p = _zip_path(path)
    algo = detect_algo(p)
    model = algo_class(algo).load(p, env=env, device="cpu")
    return model, algo


def check_observation_space(model_space: Any, space: Any, path: str, scenario_name: str) -> None:
    """Raise ``ValueError`` unless the model was trained on this observation layout."""
    same = (getattr(model_space, "shape", None) == getattr(space, "shape", None)
            and np.array_equal(np.asarray(model_space.low), np.asarray(space.low))
            and np.array_equal(np.asarray(model_space.high), np.asarray(space.high)))
    if not same:
        raise ValueError(
            f"model {path!r} was trained on another observation layout (shape "
            f"{getattr(model_space, 'shape', None)}) than scenario {scenario_name!r} (shape {space.shape})")


class PPOPolicy(Policy):
    """A saved PPO / MaskablePPO model acting through the :class:`Policy` interface.

    Args:
        model_path: the ``model.zip`` written by ``train.py`` (or a model
            object, as the evaluation during training passes).
        env_or_scenario: the env the policy will act on (needed for
            MaskablePPO, whose masks it reads) or a scenario.
        deterministic: act with the most likely action (the default, as the
            evaluation during training does) or sample from the policy.
    """

    name = "ppo"

    def __new__(cls, model_path: Any = None, *args: Any, **kwargs: Any):
        # a per-store model acts through agents.store_agents.StoreAgentsPolicy
        if cls is PPOPolicy and (isinstance(model_path, (str, os.PathLike)) or hasattr(model_path, "policy")):
            try:
                per_store = is_per_store(model_path)
            except ValueError:  # not a model file: __init__ says so
                per_store = False
            if per_store:
                from .store_agents import StoreAgentsPolicy

                cls = StoreAgentsPolicy
        return super().__new__(cls)
    #: the evaluation harness may step many episodes at once through
    #: :meth:`act_batch` on the native batched env (one ``predict`` call per period)
    batched = True

    def __init__(self, model_path: str | os.PathLike, env_or_scenario: Any, deterministic: bool = True):
        import torch

        if not isinstance(deterministic, bool):
            raise ValueError(f"deterministic={deterministic!r}: must be true or false")
        scenario = scenario_of(env_or_scenario)
        super().__init__(scenario)
        self.env = None if isinstance(env_or_scenario, Scenario) else env_or_scenario
        self.deterministic = deterministic
        if isinstance(model_path, (str, os.PathLike)):
            self.model_path = _zip_path(model_path)
            # predict() on one observation gains nothing from threads, and
            # evaluation workers would oversubscribe the cores.
            torch.set_num_threads(1)
            self.model, self.algo = load_model(self.model_path)
        elif hasattr(model_path, "predict") and hasattr(model_path, "observation_space"):
            self.model_path = "<in-memory model>"
            self.model = model_path
            self.algo = "maskable-ppo" if _is_maskable(type(model_path.policy)) else "ppo"
        else:
            raise ValueError(f"model_path={model_path!r}: expected a model file or an SB3 model")
        self._check_spaces(scenario)
        self.masked = self.algo == "maskable-ppo"
        if self.masked and self.env is None:
            raise ValueError(f"model {self.model_path!r} is a MaskablePPO model: pass the env it acts "
                             "on (its action_masks() are needed), not a scenario")

    def _check_spaces(self, scenario: Scenario) -> None:
        """``ValueError`` unless the model was trained on this scenario's observation and action spaces."""
        space = (getattr(self.env, "unwrapped", self.env).observation_space if self.env is not None
                 else ObservationLayout(scenario).space)
        check_observation_space(self.model.observation_space, space, self.model_path, scenario.name)
        if self.model.action_space != self.action_layout.space:
            raise ValueError(f"model {self.model_path!r}: action space {self.model.action_space} "
                             f"differs from scenario {scenario.name!r}'s {self.action_layout.space}")

    def reset(self, seed: int | None = None, scenario: Scenario | None = None) -> None:
        super().reset(seed=seed, scenario=scenario)
        if not self.deterministic and seed is not None:
            import torch

            torch.manual_seed(seed)  # sampled actions repeat with the episode's seed

    def action_masks(self) -> np.ndarray | None:
        """The env's current masks (MaskablePPO) or ``None`` (PPO)."""
        if not self.masked:
            return None
        return np.asarray(self.env.unwrapped.action_masks(), dtype=bool)

    def act(self, observation: np.ndarray) -> Any:
        obs = np.asarray(observation, dtype=np.float32)
        if self.masked:
            a, _ = self.model.predict(obs, deterministic=self.deterministic, action_masks=self.action_masks())
        else:
            a, _ = self.model.predict(obs, deterministic=self.deterministic)
        if self.action_layout.kind == "discrete":
            return int(np.asarray(a).reshape(-1)[0])
        if self.action_layout.kind == "box":
            return np.asarray(a, dtype=np.float32).reshape(1)
        return np.asarray(a, dtype=np.int64).reshape(-1)

    def act_batch(self, observations: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
        """Actions for a batch of observations (and, for MaskablePPO, their masks)."""
        obs = np.asarray(observations, dtype=np.float32)
        if self.masked:
            if masks is None:
                raise ValueError("act_batch: a MaskablePPO model needs the batch's action masks")
            a, _ = self.model.predict(obs, deterministic=self.deterministic, action_masks=masks)
        else:
            a, _ = self.model.predict(obs, deterministic=self.deterministic)
        return np.asarray(a)


def load_ppo(path: str, env: Any) -> PPOPolicy:
    """Model loader of the evaluation registry (``ppo=path`` and ``maskable_ppo=path``)."""
    return PPOPolicy(path, env)


register_loader("ppo", load_ppo)
register_loader("maskable_ppo", load_ppo)
