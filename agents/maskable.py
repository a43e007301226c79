"""MaskablePPO's policy with a batched masked MultiCategorical distribution (chain scenarios).

sb3-contrib's ``MaskableMultiCategoricalDistribution`` builds one
``torch.distributions.Categorical`` per action dimension and rebuilds each
again when masks are applied.  ``Chain-v1`` has 80 dimensions (a markdown and
a close flag per store), so a rollout step or a minibatch creates about 240
distribution objects, and profiling a 40-store run showed that bookkeeping
taking about 70% of MaskablePPO's time (about 200 frames per second on this
2-core machine).

:class:`PaddedMaskableMultiCategorical` computes the same distribution with
one log-softmax over a ``(batch, dims, max choices)`` tensor: the
logits of dimension ``d`` fill its first ``nvec[d]`` slots, the rest are
padding that is always masked.  Log-probabilities, entropies and modes equal
sb3-contrib's (a test checks them against it); sampling draws from the same
distribution with a different stream of random numbers.

:class:`FastMaskablePolicy` is sb3-contrib's ``MaskableActorCriticPolicy``
with this distribution for ``MultiDiscrete`` spaces (and unchanged otherwise).
It is the only subclass in :mod:`agents`: network sizes and activations are
still set through ``policy_kwargs``; a distribution is not something
``policy_kwargs`` can choose.  Its one extra keyword, ``action_logit_bias``,
is added to the action head's bias after SB3's initialisation:
:func:`rare_action_bias` uses it so that an untrained chain policy seldom
announces a closing or ships stock (hyperparameter ``initial_act_prob``)
instead of closing each store with probability 1/2 every period.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.maskable.distributions import MaskableDistribution
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

__all__ = ["PaddedMaskableMultiCategorical", "FastMaskablePolicy", "rare_action_bias"]


class PaddedMaskableMultiCategorical(MaskableDistribution):
    """Independent masked categoricals over ``action_dims`` choices, as one padded tensor."""

    #: logit of a masked choice, as sb3-contrib's MaskableCategorical
    HUGE_NEG = -1e8

    def __init__(self, action_dims: list[int]):
        super().__init__()
        self.action_dims = [int(n) for n in action_dims]
        D, K = len(self.action_dims), max(self.action_dims)
        # flat logit j of dimension d, choice k goes to padded slot d * K + k
        slots = np.concatenate([d * K + np.arange(n) for d, n in enumerate(self.action_dims)])
        self._slots = th.as_tensor(slots, dtype=th.long)
        real = np.zeros(D * K, dtype=bool)
        real[slots] = True
        self._real = th.as_tensor(real.reshape(D, K))
        self._shape = (D, K)
        self._raw: th.Tensor | None = None  # padded logits (B, D, K)
        self._mask: th.Tensor | None = None  # allowed choices, padding excluded
        self._logp: th.Tensor | None = None  # masked log-probabilities, computed on first use

    def _pad(self, flat: th.Tensor, fill: Any) -> th.Tensor:
        flat = flat.reshape(-1, len(self._slots))
        out = flat.new_full((flat.shape[0], self._shape[0] * self._shape[1]), fill)
        out = out.index_copy(1, self._slots.to(flat.device), flat)
        return out.view(-1, *self._shape)

    @property
    def logp(self) -> th.Tensor:
        assert self._raw is not None, "Must set distribution parameters"
        if self._logp is None:  # one log-softmax however many times masks are set
            masked = th.where(self._mask, self._raw, th.tensor(self.HUGE_NEG, dtype=self._raw.dtype))
            self._logp = th.log_softmax(masked, dim=-1)
        return self._logp

    def proba_distribution_net(self, latent_dim: int) -> nn.Module:
        return nn.Linear(latent_dim, sum(self.action_dims))

    def proba_distribution(self, action_logits: th.Tensor) -> "PaddedMaskableMultiCategorical":
        self._raw = self._pad(action_logits, 0.0)
        self.apply_masking(None)
        return self

    def apply_masking(self, masks: Any) -> None:
        assert self._raw is not None, "Must set distribution parameters"
        real = self._real.to(self._raw.device)
        if masks is None:
            self._mask = real.expand(self._raw.shape[0], *self._shape)
        else:
            m = th.as_tensor(masks, dtype=th.bool, device=real.device)
            self._mask = self._pad(m, False) & real
        self._logp = None

    def log_prob(self, actions: th.Tensor) -> th.Tensor:
        a = actions.reshape(-1, self._shape[0], 1).long()
        return self.logp.gather(-1, a).squeeze(-1).sum(dim=1)

    def entropy(self) -> th.Tensor:
        logp = self.logp
        # masked choices carry no uncertainty (their p log p is not exactly 0 at logit -1e8)
        p_log_p = th.where(self._mask, logp.exp() * logp, th.zeros((), dtype=logp.dtype))
        return -p_log_p.sum(dim=(1, 2))

    def sample(self) -> th.Tensor:
        p = self.logp.exp()
        return th.multinomial(p.reshape(-1, self._shape[1]), 1).view(-1, self._shape[0])

    def mode(self) -> th.Tensor:
        return th.argmax(self.logp, dim=-1)

    def actions_from_params(self, action_logits: th.Tensor, deterministic: bool = False) -> th.Tensor:
        self.proba_distribution(action_logits)
        return self.get_actions(deterministic=deterministic)

    def log_prob_from_params(self, action_logits: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        actions = self.actions_from_params(action_logits)
        return actions, self.log_prob(actions)


def rare_action_bias(layout: Any, prob: float) -> list[float]:
    """Initial action-head bias that makes closings and transfers rare.

    ``layout`` is the env's :class:`liqenv.spaces.ActionLayout`.  With this
    bias (and SB3's near-zero initial action weights) each closing component
    announces a closing, and each transfer component ships a non-zero
    quantity, with probability ``prob`` per period; markdown components stay
    uniform over their allowed levels.  Choice 0 of those components is the
    "do nothing" choice (keep open, ship 0 units).  ``prob`` in (0, 1) is
    checked where it is read (:class:`agents.config.Hyperparams`).
    """
    if layout.kind != "multidiscrete":
        raise ValueError(f"initial_act_prob={prob!r}: needs a MultiDiscrete action space "
                         f"(closing or transfers), not {layout.kind!r}")
    odds = float(np.log(prob / (1.0 - prob)))
    bias: list[float] = []
    for d, n in enumerate(layout.nvec):
        rare = d >= layout.n_price  # a closing or transfer component
        bias += [0.0] + [odds - float(np.log(n - 1)) if rare else 0.0] * (int(n) - 1)
    return bias


def hidden_columns(scenario: Any, names: Any) -> dict[str, Any]:
    """``policy_kwargs`` that hide per-store features from a policy (hyperparameter ``hide_features``).

    ``names`` are per-store feature names of the scenario's
    :class:`liqenv.spaces.ObservationLayout` (``effect_mean`` hides every
    ``<store>.effect_mean`` column; a full column name such as ``t`` hides
    that column).  The policy sees those columns as 0, a constant: the
    ablation of issue 11 trains the same network without the information.
    ``ValueError`` names a feature that matches no column.
    """
    from liqenv.spaces import ObservationLayout

    features = ObservationLayout(scenario).feature_names()
    cols: list[int] = []
    for name in names:
        hit = [c for c, full in enumerate(features) if full == name or full.partition(".")[2] == name]
        if not hit:
            raise ValueError(f"hide_features: {name!r} is not an observation feature of scenario "
                             f"{scenario.name!r}")
        cols += hit
    return {"features_extractor_class": HideColumns,
            "features_extractor_kwargs": {"hide_features": tuple(names), "hidden_columns": tuple(sorted(set(cols)))}}


class HideColumns(BaseFeaturesExtractor):
    """SB3's ``FlattenExtractor`` with some observation columns set to 0 (see :func:`hidden_columns`)."""

    def __init__(self, observation_space: spaces.Box, hide_features: tuple[str, ...] = (),
                 hidden_columns: tuple[int, ...] = ()):
        super().__init__(observation_space, int(np.prod(observation_space.shape)))
        self.hide_features, self.hidden_columns = tuple(hide_features), tuple(hidden_columns)
        keep = th.ones(self.features_dim, dtype=th.float32)
        keep[list(self.hidden_columns)] = 0.0
        self.register_buffer("keep", keep, persistent=False)  # rebuilt from hidden_columns on load

    def forward(self, obs: th.Tensor) -> th.Tensor:
        return obs.flatten(1) * self.keep


class FastMaskablePolicy(MaskableActorCriticPolicy):
    """``MaskableActorCriticPolicy`` with :class:`PaddedMaskableMultiCategorical` for MultiDiscrete actions.

    ``action_logit_bias`` (optional, one float per logit) is added to the
    action head's bias once, when the policy is first built; a saved model
    keeps its trained weights (the bias is part of the state dict).
    """

    def __init__(self, *args: Any, action_logit_bias: list[float] | None = None, **kwargs: Any):
        self.action_logit_bias = action_logit_bias
        super().__init__(*args, **kwargs)

    def _build(self, lr_schedule) -> None:
        if isinstance(self.action_space, spaces.MultiDiscrete):
            self.action_dist = PaddedMaskableMultiCategorical(list(self.action_space.nvec))
        super()._build(lr_schedule)
        if self.action_logit_bias is not None:
            extra = th.as_tensor(self.action_logit_bias, dtype=self.action_net.bias.dtype)
            if extra.shape != self.action_net.bias.shape:
                raise ValueError(f"action_logit_bias: {extra.shape[0]} values, the action head has "
                                 f"{self.action_net.bias.shape[0]} logits")
            with th.no_grad():
                self.action_net.bias += extra

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["action_logit_bias"] = self.action_logit_bias
        return data
