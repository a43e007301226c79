"""A store-factored MaskablePPO policy: one network shared by every store (issue 11, item 2).

The flat policy of :mod:`agents.maskable` maps the whole chain's observation
to every action component with one MLP, so it must learn the same pricing
rule once per store and is tied to one chain size.
:class:`FactoredMaskablePolicy` reads the observation the way Craig & Raman
(2016, section 7) decompose the chain problem, store by store:

* a per-store **encoder** (shared weights) embeds each store's own features:
  every observation column whose name (``ObservationLayout.feature_names``)
  is ``"<store>.<feature>"``, in the layout's order, plus two static flags
  (the store sells; it may close).  A new per-store block in the
  observation layout (e.g. an effect posterior ``<store>.effect_mean``) is
  picked up with no change here;
* a **chain context**: the mean and the max of the embeddings over stores,
  with the global columns (``t``, ``remaining``, ``demand_cv``, ...),
  through one layer;
* per-store **heads** on (store embedding, context): the store's markdown
  logits and its close-flag logits; per-pair **heads** on (source embedding,
  destination embedding, context, pair features: lead time over the
  horizon, unit cost over the source's list price, fixed cost over
  ``unit_scale`` times that price) give the transfer-menu logits;
* the **value** on a second encoder's pooled context (permutation
  invariant; actor and critic do not share weights, as SB3's
  ``net_arch=dict(pi=..., vf=...)`` default).

The heads' logits are assembled into the flat layout of the env's
``MultiDiscrete`` action space (markdowns, close flags, transfers; see
:mod:`liqenv.spaces`), and :class:`~agents.maskable.PaddedMaskableMultiCategorical`
applies the masks as for the flat policy.  With ``uniform_pricing`` the one
chain markdown comes from the store head applied to the mean embedding of
the selling stores.

Every weight has a size independent of the number of stores and pairs (it
depends on the per-store feature names, the global feature names, the
ladder length and the transfer menu length), so a model trained on one
chain acts on another chain with the same features: :func:`transfer`.
The index maps live in a :class:`FactoredLayout` built from the env's
scenario; they are not part of the state dict.

``action_logit_bias`` (from :func:`agents.maskable.rare_action_bias`,
hyperparameter ``initial_act_prob``) is one float per flat logit as for the
flat policy; it must be the same for every component of a kind (markdown,
close, ship), and each kind's values are added to that kind's output bias.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from torch import nn

from .maskable import FastMaskablePolicy, PaddedMaskableMultiCategorical

__all__ = ["FactoredLayout", "FactoredNet", "FactoredMaskablePolicy", "policy_kwargs_for", "transfer",
           "scenario_of"]

#: static per-store flags appended to each store's observed features
STATIC_FEATURES = ("selling", "closable")
#: features of a transfer pair (see the module docstring)
PAIR_FEATURES = ("lead_time", "unit_cost", "fixed_cost")
KINDS = ("markdown", "close", "ship")


@dataclass(frozen=True)
class FactoredLayout:
    """Which observation columns and action components belong to which store or pair.

    Built by :meth:`from_scenario`; plain tuples so that a saved model
    pickles it with its ``policy_kwargs``.
    """

    store_names: tuple[str, ...]
    store_features: tuple[str, ...]  # per-store feature names (without the store prefix)
    store_cols: tuple[tuple[int, ...], ...]  # (S, F) observation column of store s's feature f
    static: tuple[tuple[float, ...], ...]  # (S, len(STATIC_FEATURES))
    global_features: tuple[str, ...]
    global_cols: tuple[int, ...]
    obs_size: int
    nvec: tuple[int, ...]
    uniform: bool  # one chain markdown component
    price_stores: tuple[int, ...]  # store of each markdown component (empty with uniform pricing)
    close_stores: tuple[int, ...]  # store of each close component
    pairs: tuple[tuple[int, int], ...]  # (source, destination) of each ship component
    pair_features: tuple[tuple[float, ...], ...]  # (P, len(PAIR_FEATURES))
    n_levels: int  # markdown ladder length
    n_menu: int  # transfer menu length (1 without transfers)

    @classmethod
    def from_scenario(cls, sc: Any) -> "FactoredLayout":
        """The layout of ``sc``'s env (``ObservationLayout`` / ``ActionLayout``).

        A feature named ``"<store>.<x>"`` is store ``<store>``'s; any other is
        global.  Raises ``ValueError`` when the action is not ``MultiDiscrete``
        or the stores do not all have the same features.
        """
        from liqenv.spaces import ActionLayout, ObservationLayout

        al, ol = ActionLayout(sc), ObservationLayout(sc)
        if al.kind != "multidiscrete":
            raise ValueError(f"policy='factored': scenario {sc.name!r} has a {al.kind} action space; the "
                             f"factored policy needs a MultiDiscrete one (several stores, closings or "
                             f"transfers)")
        names = [st.name for st in sc.stores]
        index = {n: s for s, n in enumerate(names)}
        per: list[list[tuple[str, int]]] = [[] for _ in names]
        glob: list[tuple[str, int]] = []
        for col, name in enumerate(ol.feature_names()):
            head, dot, tail = name.partition(".")
            if dot and head in index:
                per[index[head]].append((tail, col))
            else:
                glob.append((name, col))
        feats = tuple(f for f, _ in per[0])
        for s, cols in enumerate(per):
            if tuple(f for f, _ in cols) != feats:
                raise ValueError(f"policy='factored': store {names[s]!r} has features "
                                 f"{[f for f, _ in cols]}, store {names[0]!r} {list(feats)}")
        closable = np.asarray(sc.closable, bool)
        selling = np.zeros(len(names), bool)
        selling[sc.selling] = True
        tn, lp = sc.transfers, np.asarray(sc.list_price, float)
        unit_scale = ol.unit_scale
        pf = []
        for i, j in al.pairs:
            fixed = tn.fixed_cost[i][j] if tn.fixed_cost is not None else 0.0
            pf.append((tn.lead_time[i][j] / sc.horizon, tn.unit_cost[i][j] / lp[i],
                       fixed / (unit_scale * lp[i])))
        return cls(
            store_names=tuple(names), store_features=feats,
            store_cols=tuple(tuple(c for _, c in cols) for cols in per),
            static=tuple((float(selling[s]), float(closable[s])) for s in range(len(names))),
            global_features=tuple(f for f, _ in glob), global_cols=tuple(c for _, c in glob),
            obs_size=ol.size, nvec=tuple(int(n) for n in al.nvec), uniform=bool(al.uniform),
            price_stores=() if al.uniform else tuple(int(s) for s in al.price_stores),
            close_stores=tuple(int(s) for s in al.close_stores),
            pairs=tuple((int(i), int(j)) for i, j in al.pairs), pair_features=tuple(pf),
            n_levels=int(al.L), n_menu=int(al.K))

    @property
    def n_stores(self) -> int:
        return len(self.store_names)

    def shape_key(self) -> dict[str, Any]:
        """What fixes the network's weight shapes (equal keys: weights are interchangeable)."""
        return {"store_features": self.store_features, "global_features": self.global_features,
                "n_levels": self.n_levels, "n_menu": self.n_menu}

    def check_compatible(self, other: "FactoredLayout") -> None:
        """``ValueError`` naming the first difference that makes weights not interchangeable."""
        a, b = self.shape_key(), other.shape_key()
        for k in a:
            if a[k] != b[k]:
                raise ValueError(f"factored policy: {k} differ between the trained model "
                                 f"({a[k]!r}) and the target env ({b[k]!r})")

    def kind_bias(self, flat: Any) -> dict[str, list[float]]:
        """Split a per-logit bias into one bias per kind (markdown, close, ship).

        Raises ``ValueError`` if its length is not the number of logits or
        two components of a kind get different values (shared heads cannot
        express that).
        """
        flat = np.asarray(flat, dtype=float)
        if flat.shape != (sum(self.nvec),):
            raise ValueError(f"action_logit_bias: {flat.size} values, the action space has "
                             f"{sum(self.nvec)} logits")
        n_price = 1 if self.uniform else len(self.price_stores)
        counts = (n_price, len(self.close_stores), len(self.pairs))
        out: dict[str, list[float]] = {}
        comp, start = 0, 0
        for kind, n in zip(KINDS, counts):
            seen = None
            for _ in range(n):
                width = self.nvec[comp]
                v = flat[start: start + width]
                if seen is not None and not np.array_equal(v, seen):
                    raise ValueError(f"action_logit_bias: the {kind} components differ "
                                     f"({seen.tolist()} vs {v.tolist()}); the factored policy shares "
                                     f"one {kind} head")
                seen = v
                comp, start = comp + 1, start + width
            if seen is not None:
                out[kind] = seen.tolist()
        return out


def _mlp(sizes: list[int], act: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), act()]
    return nn.Sequential(*layers)


class FactoredNet(nn.Module):
    """SB3's ``mlp_extractor`` slot: actor -> flat action logits, critic -> pooled context.

    ``forward_actor`` returns the logits themselves (the policy's
    ``action_net`` is the identity); ``forward_critic`` the latent of the
    value head.  Widths: ``embed_dim`` everywhere (encoder: two layers).
    """

    def __init__(self, layout: FactoredLayout, embed_dim: int, activation_fn: type[nn.Module]):
        super().__init__()
        lo, d, act = layout, int(embed_dim), activation_fn
        self.layout = lo
        F = len(lo.store_features) + len(STATIC_FEATURES)
        G = len(lo.global_features)
        self.latent_dim_pi = sum(lo.nvec)
        self.latent_dim_vf = d
        self.encoder_pi = _mlp([F, d, d], act)
        self.context_pi = _mlp([2 * d + G, d], act)
        # the heads' hidden layers act on concatenations ([store, context],
        # [source, destination, pair features, context]); they are kept as one
        # linear map per part so that the context's and each store's share is
        # computed once, not once per store or per pair
        self.act = act()
        self.store_in = nn.Linear(d, d)
        self.store_ctx = nn.Linear(d, d, bias=False)
        self.markdown_out = nn.Linear(d, lo.n_levels)
        self.close_out = nn.Linear(d, 2)
        self.pair_src = nn.Linear(d, d)
        self.pair_dst = nn.Linear(d, d, bias=False)
        self.pair_in = nn.Linear(len(PAIR_FEATURES), d, bias=False)
        self.pair_ctx = nn.Linear(d, d, bias=False)
        self.ship_out = nn.Linear(d, lo.n_menu)
        self.encoder_vf = _mlp([F, d, d], act)
        self.context_vf = _mlp([2 * d + G, d], act)

        def buf(name: str, x: Any, dtype: th.dtype) -> None:
            # index maps of this env, rebuilt from the layout: not in the state dict
            self.register_buffer(name, th.as_tensor(np.asarray(x), dtype=dtype), persistent=False)

        buf("store_cols", np.asarray(lo.store_cols, dtype=np.int64).reshape(lo.n_stores, -1), th.long)
        # store s's columns are usually the block s*F .. s*F+F-1 (a view suffices)
        cols = np.asarray(lo.store_cols, dtype=np.int64).reshape(lo.n_stores, -1)
        self._blocks = bool(np.array_equal(cols.ravel(), np.arange(cols.size)))
        buf("static", np.asarray(lo.static, dtype=np.float32).reshape(lo.n_stores, -1), th.float32)
        buf("global_cols", np.asarray(lo.global_cols, dtype=np.int64), th.long)
        buf("price_rows", np.asarray(lo.price_stores, dtype=np.int64), th.long)
        buf("close_rows", np.asarray(lo.close_stores, dtype=np.int64), th.long)
        every = tuple(range(lo.n_stores))  # every store in order: no gather needed
        self._every_price, self._every_close = lo.price_stores == every, lo.close_stores == every
        buf("selling_rows", np.flatnonzero(np.asarray(lo.static)[:, 0] > 0), th.long)
        pairs = np.asarray(lo.pairs, dtype=np.int64).reshape(-1, 2)
        buf("src", pairs[:, 0], th.long)
        buf("dst", pairs[:, 1], th.long)
        buf("pair_feats", np.asarray(lo.pair_features, dtype=np.float32).reshape(-1, len(PAIR_FEATURES)),
            th.float32)

    def output_layers(self) -> dict[str, nn.Linear]:
        return {"markdown": self.markdown_out, "close": self.close_out, "ship": self.ship_out}

    def _embed(self, obs: th.Tensor, encoder: nn.Module, context: nn.Module) -> tuple[th.Tensor, th.Tensor]:
        B = obs.shape[0]
        S, F = self.store_cols.shape
        own = (obs[:, : S * F].reshape(B, S, F) if self._blocks else obs[:, self.store_cols])
        x = th.cat([own, self.static.expand(B, -1, -1)], dim=-1)  # (B, S, F)
        e = encoder(x)
        c = context(th.cat([e.mean(dim=1), e.amax(dim=1), obs[:, self.global_cols]], dim=-1))
        return e, c

    def forward_actor(self, obs: th.Tensor) -> th.Tensor:
        e, c = self._embed(obs, self.encoder_pi, self.context_pi)
        parts = []
        if self.layout.uniform:  # one chain markdown: the store head on the mean selling store
            h = self.act(self.store_in(e[:, self.selling_rows].mean(dim=1)) + self.store_ctx(c))
            parts.append(self.markdown_out(h))
        if len(self.price_rows) or len(self.close_rows):
            h = self.act(self.store_in(e) + self.store_ctx(c)[:, None])  # (B, S, d)
            if len(self.price_rows):
                parts.append(self.markdown_out(h if self._every_price else h[:, self.price_rows]).flatten(1))
            if len(self.close_rows):
                parts.append(self.close_out(h if self._every_close else h[:, self.close_rows]).flatten(1))
        if len(self.src):
            z = (self.pair_src(e)[:, self.src] + self.pair_dst(e)[:, self.dst] + self.pair_in(self.pair_feats)
                 + self.pair_ctx(c)[:, None])
            parts.append(self.ship_out(self.act(z)).flatten(1))
        return th.cat(parts, dim=1)

    def forward_critic(self, obs: th.Tensor) -> th.Tensor:
        return self._embed(obs, self.encoder_vf, self.context_vf)[1]

    def forward(self, obs: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        return self.forward_actor(obs), self.forward_critic(obs)


class FactoredMaskablePolicy(FastMaskablePolicy):
    """:class:`~agents.maskable.FastMaskablePolicy` with :class:`FactoredNet` in place of the MLPs.

    ``layout`` (a :class:`FactoredLayout` of the env's scenario) and
    ``embed_dim`` come through ``policy_kwargs`` (:func:`policy_kwargs_for`);
    ``net_arch`` is ignored.  SB3's forward, ``evaluate_actions`` and
    ``predict_values`` run unchanged: the extractor's actor output is the
    flat logits and ``action_net`` is the identity.
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, lr_schedule: Any,
                 *args: Any, layout: FactoredLayout, embed_dim: int = 64, **kwargs: Any):
        if not isinstance(action_space, spaces.MultiDiscrete):
            raise ValueError(f"policy='factored': needs a MultiDiscrete action space, not {action_space}")
        if tuple(int(n) for n in action_space.nvec) != layout.nvec:
            raise ValueError(f"policy='factored': layout's nvec {list(layout.nvec)} does not match the "
                             f"action space {list(action_space.nvec)}")
        if observation_space.shape != (layout.obs_size,):
            raise ValueError(f"policy='factored': layout's observation size {layout.obs_size} does not "
                             f"match the observation space {observation_space.shape}")
        if isinstance(embed_dim, bool) or not isinstance(embed_dim, int) or embed_dim < 1:
            raise ValueError(f"embed_dim={embed_dim!r}: must be a positive integer")
        self.layout, self.embed_dim = layout, embed_dim
        super().__init__(observation_space, action_space, lr_schedule, *args, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = FactoredNet(self.layout, self.embed_dim, self.activation_fn)

    def _build(self, lr_schedule: Any) -> None:
        # MaskableActorCriticPolicy._build with the identity as action_net
        # (the heads are inside the extractor) and SB3's initialisation gains
        self.action_dist = PaddedMaskableMultiCategorical(list(self.action_space.nvec))
        self._build_mlp_extractor()
        self.action_net = nn.Identity()
        self.value_net = nn.Linear(self.mlp_extractor.latent_dim_vf, 1)
        outs = self.mlp_extractor.output_layers()
        if self.ortho_init:
            self.mlp_extractor.apply(lambda m: self.init_weights(m, gain=np.sqrt(2)))
            for layer in outs.values():
                self.init_weights(layer, gain=0.01)
            self.init_weights(self.value_net, gain=1.0)
        if self.action_logit_bias is not None:
            for kind, extra in self.layout.kind_bias(self.action_logit_bias).items():
                with th.no_grad():
                    outs[kind].bias += th.as_tensor(extra, dtype=outs[kind].bias.dtype)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(layout=self.layout, embed_dim=self.embed_dim)
        return data


def policy_kwargs_for(scenario: Any, base: dict[str, Any], embed_dim: int) -> dict[str, Any]:
    """``policy_kwargs`` of a factored model on ``scenario``'s env, from the flat policy's ``base``.

    Keeps ``activation_fn``, ``ortho_init`` and ``action_logit_bias``; drops
    ``net_arch`` (the factored widths are ``embed_dim``).
    """
    kw = {k: v for k, v in base.items() if k != "net_arch"}
    kw.update(layout=FactoredLayout.from_scenario(scenario), embed_dim=int(embed_dim))
    return kw


def scenario_of(env: Any) -> Any:
    """The scenario of a Gymnasium env or an SB3 ``VecEnv`` (its first copy)."""
    if hasattr(env, "get_attr") and hasattr(env, "num_envs"):
        return env.get_attr("scenario", [0])[0]
    return env.unwrapped.scenario


def transfer(model: Any, env: Any) -> Any:
    """A copy of the factored ``model`` that acts on ``env``, an env of another chain.

    The weights (and the optimizer state) are copied unchanged; the index
    maps are rebuilt from ``env``'s scenario, so the copy has ``env``'s
    observation and action spaces and can be evaluated (or trained further)
    there.  The chains must have the same per-store and global feature
    names, ladder and transfer menu (``ValueError`` naming the difference
    otherwise); the number of stores and pairs may differ.
    """
    if not isinstance(model.policy, FactoredMaskablePolicy):
        raise ValueError(f"transfer: model's policy is {type(model.policy).__name__}, not "
                         f"FactoredMaskablePolicy (a flat policy is tied to its chain size)")
    layout = FactoredLayout.from_scenario(scenario_of(env))
    model.policy.layout.check_compatible(layout)
    # the trained bias is in the weights; a per-logit bias has the old chain's length
    kw = {**model.policy_kwargs, "layout": layout, "action_logit_bias": None}
    hidden = kw.get("features_extractor_kwargs", {}).get("hide_features")
    if hidden:  # the same features hidden, at the other chain's columns
        from .maskable import hidden_columns

        kw.update(hidden_columns(scenario_of(env), hidden))
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    return type(model).load(buf, env=env, device=model.device, custom_objects={
        "policy_kwargs": kw, "observation_space": env.observation_space, "action_space": env.action_space})
