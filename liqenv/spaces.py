"""Action and observation layouts (MODEL.md section 6).

The layouts turn the batch state and structured decisions of
:mod:`liqenv.dynamics` into the flat arrays Gymnasium and Stable-Baselines3
expect, and back.  They are derived from the scenario alone, so a policy can
build them without an env (``ActionLayout(scenario)``).

Action layout (a 1-D ``MultiDiscrete``, in this order):

* markdown: one component per selling store (or one for the chain with
  ``uniform_pricing``), choosing a ladder level;
* close: one component per closable store, 0 = keep, 1 = announce closing;
* ship: one component per allowed transfer pair (row-major), choosing an
  entry of the quantity menu (a fraction of the source's on-hand units).

When the only decision is one store's markdown the space is ``Discrete(L)``
(ladder) or ``Box([0], [max_price])`` (continuous pricing: the price itself).

Observation layout: per store, the blocks below (store-major, a block only
when the scenario can use it), then, with ``observe_parameters``, the
public-parameter block, then two global features.  The effect posterior
(scenarios with ``store_effect_cv > 0``) is the conjugate normal update of
Craig & Raman section 5.3 kept by the step kernel
(:func:`liqenv._kernels.effect_observation`); it is what the analytic chain
policies read, so learned and analytic policies see the same information.  Units are
fractions of ``unit_scale`` = initial chain units / number of stores, so
a single store's on-hand starts at 1.

=====================  =========================================  ==========
feature                meaning                                    when
=====================  =========================================  ==========
on_hand                units on hand / unit_scale                 always
in_transit[1..L]       units arriving in 1..L periods / unit_scale transfers
markdown               markdown posted last period                always
last_sold              units sold last period / unit_scale        always
open, announced,       one-hot closing status                     closings
closed
until_close            periods until an announced closing / T     closings
until_may_close        periods until a closing may take effect / T closings
lock_pending           periods until the rent-lock date / T       rent lock
locked                 rent lock triggered (0/1)                  rent lock
held                   periods current markdown held / T          min_hold>1
changes_left           markdown changes left / max_changes        max_changes
effect_mean,           posterior mean and sd of the store's log   hidden store
effect_sd              demand effect given its own sales          effects
t                      period / T                                 global
remaining              (T - period) / T                           global
=====================  =========================================  ==========

Public-parameter block (``Scenario.observe_parameters``, set by scenario
generators such as ``TwoStore-v1`` whose draws change these every episode),
each value ``x`` squashed to ``x / (1 + x)`` in ``[0, 1)`` so that one bound
fits every draw: per store, ``operating_cost`` (this period's, over
``unit_scale`` times the store's list price), then per store
``demand_at_list`` (expected units wanted at list price this period, over
``unit_scale``), then ``demand_cv`` and ``transfer_cost`` (mean unit cost of
the allowed pairs over the source's list price).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from typing import Any

import numpy as np
from gymnasium import spaces

from . import _kernels as _k
from . import rules
from .demand import make_demand
from .dynamics import Decision, Params, State, close_allowed, markdown_ladder_mask, ship_allowed
from .scenario import Scenario

__all__ = ["ActionLayout", "ObservationLayout"]


class ActionLayout:
    """Flat action <-> :class:`~liqenv.dynamics.Decision` (see module docstring)."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        sc = scenario
        self.continuous = sc.pricing == "continuous"
        self.ladder = sc.ladder
        self.L = len(self.ladder)
        self.uniform = sc.markdowns.uniform_pricing
        # uniform pricing: the chain's one component is read from (and written
        # to) the store whose entry the kernel posts everywhere
        self.price_stores = np.array([rules.chain_store(~sc.is_dc)]) if self.uniform else sc.selling
        self.close_stores = np.flatnonzero(sc.closable)
        self.pairs = sc.transfers.pairs if sc.transfers is not None else ()
        self.K = len(sc.transfers.quantities) if sc.transfers is not None else 1
        self.n_price = 1 if self.uniform else len(sc.selling)
        self.n_close = len(self.close_stores)
        self.n_ship = len(self.pairs)
        self.n = self.n_price + self.n_close + self.n_ship
        single = self.n_close == 0 and self.n_ship == 0 and self.n_price == 1
        if self.continuous and not single:
            raise ValueError(f"pricing='continuous': needs one store with no closing "
                             f"(closable=False) and no transfers, not {sc.name!r}")
        self.kind = ("box" if self.continuous else "discrete") if single else "multidiscrete"
        self.nvec = np.array([self.L] * self.n_price + [2] * self.n_close + [self.K] * self.n_ship,
                             dtype=np.int64)
        sl = np.cumsum([0, self.n_price, self.n_close, self.n_ship])
        self.price_slice, self.close_slice, self.ship_slice = (slice(sl[i], sl[i + 1]) for i in range(3))

    @property
    def space(self) -> spaces.Space:
        if self.kind == "box":
            cap = self.scenario.price_cap
            return spaces.Box(low=np.zeros(1, np.float32), high=np.full(1, cap, np.float32),
                              dtype=np.float32)
        if self.kind == "discrete":
            return spaces.Discrete(self.L)
        return spaces.MultiDiscrete(self.nvec)

    def component_names(self) -> list[str]:
        """Human-readable name of each component of the flat action."""
        names = [self.scenario.stores[i].name for i in range(self.scenario.n_stores)]
        out = ["markdown[chain]"] if self.uniform else [f"markdown[{names[i]}]" for i in self.price_stores]
        out += [f"close[{names[i]}]" for i in self.close_stores]
        out += [f"ship[{names[i]}->{names[j]}]" for i, j in self.pairs]
        return out

    # ------------------------------------------------------------------
    def check(self, action, batch: int | None = None) -> np.ndarray:
        """Validate a flat action (or a batch of them); return it as (B, n) array.

        Raises ``ValueError`` for a wrong shape, a non-finite value, a
        non-integer or out-of-range component.
        """
        if (self.kind == "discrete" and batch is None and isinstance(action, (int, np.integer))
                and 0 <= action < self.L):
            return np.full((1, 1), action, dtype=np.int64)  # the common case, kept cheap
        a = np.asarray(action)
        if self.kind == "box":
            want = (1,) if batch is None else (batch, 1)
            if a.shape == () and batch is None:
                a = a.reshape(1)
            if a.shape != want:
                raise ValueError(f"action shape {a.shape}: expected {want}")
            if not np.issubdtype(a.dtype, np.number) or not np.all(np.isfinite(a)):
                raise ValueError(f"action={action!r}: price must be a finite number")
            cap = self.scenario.price_cap
            if np.any(a < 0) or np.any(a > cap * (1 + 1e-6)):
                raise ValueError(f"action={action!r}: price outside [0, {cap:g}]")
            return a.reshape(-1, 1).astype(np.float64)
        n = 1 if self.kind == "discrete" else self.n
        want = ((() if self.kind == "discrete" else (n,)) if batch is None
                else ((batch,) if self.kind == "discrete" else (batch, n)))
        if a.shape != want:
            if not (self.kind == "discrete" and batch is None and a.shape == (1,)):
                raise ValueError(f"action shape {a.shape}: expected {want}")
        if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)
                or a.dtype == bool):
            raise ValueError(f"action={action!r}: must be integers")
        if np.issubdtype(a.dtype, np.floating):
            if not np.all(np.isfinite(a)):
                raise ValueError(f"action={action!r}: contains NaN or infinity")
            if not np.all(a == np.round(a)):
                raise ValueError(f"action={action!r}: components must be whole numbers")
        a = a.astype(np.int64).reshape(-1, n)
        nvec = np.array([self.L]) if self.kind == "discrete" else self.nvec
        bad = (a < 0) | (a >= nvec)
        if bad.any():
            b, k = np.argwhere(bad)[0]
            name = self.component_names()[k] if self.kind != "discrete" else "markdown"
            raise ValueError(f"action component {k} ({name}) = {a[b, k]}: must be in [0, {nvec[k] - 1}]")
        return a

    def to_decision(self, a: np.ndarray, p: Params, copies=None) -> Decision:
        """A checked (B, n) action as a structured :class:`Decision`."""
        B, S = a.shape[0], p.S
        if self.kind == "discrete":  # one selling store, nothing else to decide
            return Decision(markdown=self.ladder[a], close=np.zeros((B, 1), dtype=bool),
                            ship=np.zeros((B, 0), dtype=np.int64))
        md = np.zeros((B, S))
        if self.kind == "box":
            lp = p.rows(p.list_price, copies)
            # the float32 Box high may round above the float64 cap: clip to it
            md[:] = 1.0 - np.minimum(a[:, :1], p.rows(p.cap, copies)) / lp
        else:
            lv = self.ladder[a[:, self.price_slice]]
            if self.uniform:
                md[:] = lv
            else:
                md[:, self.price_stores] = lv
        close = np.zeros((B, S), dtype=bool)
        if self.n_close:
            close[:, self.close_stores] = a[:, self.close_slice] == 1
        ship = a[:, self.ship_slice] if self.n_ship else np.zeros((B, 0), dtype=np.int64)
        return Decision(markdown=md, close=close, ship=ship)

    def encode(self, markdown, close=None, ship=None) -> Any:
        """A flat action from per-store ``markdown`` fractions (or one for the
        chain), per-store ``close`` flags and per-pair ``ship`` menu indices
        (closing and shipping nothing when not given): an ``int`` for a
        ``Discrete`` space, an array otherwise.  The one encoder that
        :meth:`LiquidationEnv.encode_action` and the analytic policies call."""
        S = self.scenario.n_stores
        md = np.broadcast_to(np.asarray(markdown, float), (S,)).copy()
        cl = np.zeros(S, bool) if close is None else np.asarray(close, bool).reshape(S)
        sh = np.zeros(self.n_ship, np.int64) if ship is None else np.asarray(ship, np.int64).reshape(self.n_ship)
        a = self.from_decision(Decision(md[None], cl[None], sh[None]))[0]
        return int(a[0]) if self.kind == "discrete" else a

    def from_decision(self, d: Decision) -> np.ndarray:
        """Encode a structured decision as flat actions, shape (B, n).

        Markdowns snap to the nearest ladder level; continuous pricing gives
        the price (list price 1 assumed unless the scenario says otherwise).
        """
        md = np.atleast_2d(np.asarray(d.markdown, dtype=float))
        B = md.shape[0]
        if self.kind == "box":
            lp = self.scenario.list_price[0]
            return ((1.0 - md[:, :1]) * lp).astype(np.float32)
        cols = md[:, self.price_stores]
        lv = np.abs(cols[..., None] - self.ladder).argmin(-1)
        parts = [lv]
        if self.n_close:
            parts.append(np.atleast_2d(np.asarray(d.close))[:, self.close_stores].astype(np.int64))
        if self.n_ship:
            parts.append(np.atleast_2d(np.asarray(d.ship, dtype=np.int64)).reshape(B, -1))
        return np.concatenate(parts, axis=1).astype(np.int64)

    def masks(self, p: Params, s: State, copies=None) -> np.ndarray:
        """Flat boolean masks, shape (B, sum(nvec)) as MaskablePPO expects.

        A closed store (or a DC) may only "choose" its current markdown.
        With uniform pricing the chain may post a level only if every open
        store may.
        """
        B = s.batch_size
        parts = []
        lm = markdown_ladder_mask(p, s)  # (B,S,L); closed stores and DCs: current level only
        closed = s.close_at <= s.t[:, None]
        cur = np.abs(p.ladder - s.markdown[..., None]) <= 1e-9
        if self.uniform:
            live = p.selling & ~closed
            chain = np.where(live[..., None], lm, True).all(1)
            chain = np.where(chain.any(-1, keepdims=True), chain, cur[:, rules.chain_store(p.selling)])
            parts.append(chain)
        else:
            parts.append(lm[:, self.price_stores].reshape(B, -1))
        if self.n_close:
            ok = close_allowed(p, s, copies)[:, self.close_stores]
            parts.append(np.stack([np.ones_like(ok), ok], axis=-1).reshape(B, -1))
        if self.n_ship:
            ok = ship_allowed(p, s)
            m = np.repeat(ok[..., None], self.K, axis=-1)
            m[..., 0] = True
            parts.append(m.reshape(B, -1))
        return np.concatenate(parts, axis=1)


@dataclass(frozen=True)
class _Block:
    name: str
    width: int
    low: float
    high: float


_BLOCK_CODES = {"on_hand": _k.OBS_ON_HAND, "in_transit": _k.OBS_IN_TRANSIT, "markdown": _k.OBS_MARKDOWN,
                "last_sold": _k.OBS_LAST_SOLD, "status": _k.OBS_STATUS, "until_close": _k.OBS_UNTIL_CLOSE,
                "until_may_close": _k.OBS_UNTIL_MAY_CLOSE, "lock_pending": _k.OBS_LOCK_PENDING,
                "locked": _k.OBS_LOCKED, "held": _k.OBS_HELD, "changes_left": _k.OBS_CHANGES_LEFT,
                "effect": _k.OBS_EFFECT}


def effect_bounds(sc: Scenario) -> tuple[float, float, float]:
    """Bounds of the effect-posterior block: ``(low, high)`` of the posterior
    mean of a log effect and the prior standard deviation (the sd's upper
    bound); the mean is a precision-weighted average of the prior mean and
    the periods' observations, so it lies between their extremes."""
    d = sc.demand
    var0 = float(np.log1p(float(getattr(d, "store_effect_cv", 0.0)) ** 2))
    cv = float(getattr(d, "cv", 0.0))
    z = float(sc.total_inventory)
    dm = make_demand(sc)
    mu_max = max(float(dm.mean(s, t, 0.0, on_hand=x)) for s in range(sc.n_stores)
                 for t in range(sc.horizon) for x in (1.0, z))
    y_low = float(np.log(0.5 / (mu_max + 0.5)))
    y_high = float(np.log((z + 0.5) / 0.5) + 0.5 * np.log1p(cv * cv + 2.0))
    prior = -0.5 * var0
    return min(prior, y_low), max(prior, y_high), float(np.sqrt(var0))


@functools.lru_cache(maxsize=1024)
def public_parameters(sc: Scenario, unit_scale: float) -> np.ndarray:
    """(T, 2S + 2) raw public parameters of ``sc`` per period (layout's block, unsquashed)."""
    S, T = sc.n_stores, sc.horizon
    lp = np.asarray(sc.list_price, float)
    dm = make_demand([sc])
    dem = np.array([[float(dm.mean(s, t, lp[s])) for s in range(S)] for t in range(T)])
    tn = sc.transfers
    pairs = tn.pairs if tn is not None else ()
    tc = float(np.mean([tn.unit_cost[i][j] / lp[i] for i, j in pairs])) if pairs else 0.0
    glob = np.tile([float(getattr(sc.demand, "cv", 0.0)), tc], (T, 1))
    return np.concatenate([np.asarray(sc.operating_costs, float).T / (unit_scale * lp), dem / unit_scale,
                           glob], axis=1)


class ObservationLayout:
    """State -> normalised observation, and observation -> named quantities."""

    def __init__(self, scenario: Scenario):
        sc = scenario
        self.scenario = sc
        self.S, self.T = sc.n_stores, sc.horizon
        self.unit_scale = sc.total_inventory / sc.n_stores
        self.L = sc.max_lead
        r = sc.markdowns
        has_close = sc.has_closing
        has_lock = rules.has_rent_lock(sc.lock_period)
        md_low = min(0.0, 1.0 - sc.price_cap / float(sc.list_price.min())) if sc.pricing == "continuous" else 0.0
        cap_units = float(sc.total_inventory) / self.unit_scale
        blocks = [_Block("on_hand", 1, 0.0, cap_units)]
        if self.L:
            blocks.append(_Block("in_transit", self.L, 0.0, cap_units))
        blocks += [_Block("markdown", 1, md_low, 1.0), _Block("last_sold", 1, 0.0, cap_units)]
        if has_close:
            blocks += [_Block("status", 3, 0.0, 1.0), _Block("until_close", 1, 0.0, 1.0),
                       _Block("until_may_close", 1, 0.0, 1.0)]
        if has_lock:
            blocks += [_Block("lock_pending", 1, 0.0, 1.0), _Block("locked", 1, 0.0, 1.0)]
        if r.min_hold > 1:
            blocks.append(_Block("held", 1, 0.0, 1.0))
        if r.max_changes is not None:
            blocks.append(_Block("changes_left", 1, 0.0, 1.0))
        self.has_effect = float(getattr(sc.demand, "store_effect_cv", 0.0)) > 0.0
        if self.has_effect:
            lo, hi, sd_high = effect_bounds(sc)
            blocks.append(_Block("effect", 2, lo, hi))
        self.blocks = tuple(blocks)
        self._codes = np.array([_BLOCK_CODES[b.name] for b in blocks], dtype=np.int64)
        self.per_store = sum(b.width for b in blocks)
        self.n_public = 2 * self.S + 2 if sc.observe_parameters else 0
        self.size = self.S * self.per_store + self.n_public + 2
        low = np.concatenate([np.full(b.width, b.low) for b in blocks])
        high = np.concatenate([np.full(b.width, b.high) for b in blocks])
        if self.has_effect:  # the sd's bounds: [0, prior sd]
            k = sum(b.width for b in blocks[:-1]) + 1
            low[k], high[k] = 0.0, sd_high
        pub = np.ones(self.n_public)
        self.low = np.concatenate([np.tile(low, self.S), 0 * pub, [0.0, 0.0]]).astype(np.float32)
        self.high = np.concatenate([np.tile(high, self.S), pub, [1.0, 1.0]]).astype(np.float32)

    @property
    def space(self) -> spaces.Box:
        return spaces.Box(low=self.low, high=self.high, dtype=np.float32)

    def feature_names(self) -> list[str]:
        names = []
        for st in self.scenario.stores:
            for b in self.blocks:
                if b.name == "status":
                    names += [f"{st.name}.open", f"{st.name}.announced", f"{st.name}.closed"]
                elif b.name == "effect":
                    names += [f"{st.name}.effect_mean", f"{st.name}.effect_sd"]
                elif b.width > 1:
                    names += [f"{st.name}.{b.name}[{k + 1}]" for k in range(b.width)]
                else:
                    names.append(f"{st.name}.{b.name}")
        if self.n_public:
            names += [f"{st.name}.{k}" for k in ("operating_cost", "demand_at_list") for st in self.scenario.stores]
            names += ["demand_cv", "transfer_cost"]
        return names + ["t", "remaining"]

    def encode(self, p: Params, s: State, copies=None) -> np.ndarray:
        """(B, size) float32 observations (written by :func:`liqenv._kernels.encode_obs`)."""
        out = np.empty((s.batch_size, self.size), dtype=np.float32)
        may_close_from = p.rows(p.earliest_close, copies) - p.rows(p.notice, copies)
        mc = self.scenario.markdowns.max_changes
        _k.encode_obs(self._codes, s.t, s.on_hand, s.pipeline[:, :, : max(self.L, 1)], s.markdown,
                      s.last_sold, s.close_at, np.ascontiguousarray(may_close_from),
                      np.ascontiguousarray(p.rows(p.lock_period, copies)), s.locked, s.hold, s.changes,
                      -1 if mc is None else mc, float(self.unit_scale), self.T, self.per_store,
                      np.ascontiguousarray(p.rows(p.effect_var0, copies)), s.effect_w, s.effect_wy, out)
        if self.n_public:
            c0, T = self.S * self.per_store, self.T
            for b in range(s.batch_size):
                row = 0 if p.C == 1 else (b if copies is None else int(copies[b]))
                x = public_parameters(p.scenarios[row], float(self.unit_scale))[min(int(s.t[b]), T - 1)]
                out[b, c0: c0 + self.n_public] = x / (1.0 + x)
        # every feature lies inside [low, high] by construction (the bounds are
        # derived from the same quantities); the invariant tests check it
        return out

    def decode(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """Named per-store quantities from an observation (or a batch).

        Units are returned as whole numbers (rounded back from the
        normalised floats), periods as integers.  Keys: ``on_hand``,
        ``in_transit`` (S, L), ``markdown``, ``last_sold``, ``open``,
        ``announced``, ``closed``, ``until_close``, ``until_may_close``,
        ``lock_pending``, ``locked``, ``held``, ``changes_left``,
        ``effect_mean`` and ``effect_sd`` (the posterior of each store's log
        effect; those the layout has), and ``t``, ``remaining``.
        """
        o = np.asarray(obs, dtype=np.float64)
        single = o.ndim == 1
        o = o.reshape(-1, self.size)
        B, S, T, u = o.shape[0], self.S, self.T, self.unit_scale
        per = o[:, : S * self.per_store].reshape(B, S, self.per_store)
        out: dict[str, np.ndarray] = {}
        k = 0
        for b in self.blocks:
            x = per[:, :, k: k + b.width]
            k += b.width
            n = b.name
            if n in ("on_hand", "last_sold"):
                out[n] = np.rint(x[..., 0] * u).astype(np.int64)
            elif n == "in_transit":
                out[n] = np.rint(x * u).astype(np.int64)
            elif n == "markdown":
                out[n] = x[..., 0]
            elif n == "status":
                out["open"], out["announced"], out["closed"] = (x[..., i] > 0.5 for i in range(3))
            elif n in ("until_close", "until_may_close", "lock_pending", "held"):
                out[n] = np.rint(x[..., 0] * T).astype(np.int64)
            elif n == "locked":
                out[n] = x[..., 0] > 0.5
            elif n == "changes_left":
                mc = self.scenario.markdowns.max_changes
                out[n] = np.rint(x[..., 0] * max(mc, 1)).astype(np.int64)
            elif n == "effect":
                out["effect_mean"], out["effect_sd"] = x[..., 0], x[..., 1]
        if self.n_public:
            c0 = S * self.per_store
            x = o[:, c0: c0 + self.n_public]
            x = x / (1.0 - x)  # undo the squashing
            out["operating_cost"] = x[:, :S] * u * np.asarray(self.scenario.list_price, float)
            out["demand_at_list"] = x[:, S: 2 * S] * u
            out["demand_cv"], out["transfer_cost"] = x[:, 2 * S], x[:, 2 * S + 1]
        out["t"] = np.rint(o[:, -2] * T).astype(np.int64)
        out["remaining"] = T - out["t"]
        if single:
            out = {k: v[0] for k, v in out.items()}
        return out
