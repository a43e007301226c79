"""The Gymnasium front-end: :class:`LiquidationEnv` (a batch of one)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from . import dynamics as dyn
from . import rules
from .render import require_matplotlib
from .resolve import scenario_and_generator
from .scenario import NO_CLOSE, Scenario
from .spaces import ActionLayout, ObservationLayout

__all__ = ["LiquidationEnv", "build_info", "info_arrays", "reset_info"]


def info_arrays(p: dyn.Params, s: dyn.State, r: dyn.StepResult, idx: np.ndarray | slice,
                initial_units: np.ndarray | float, unit_cost: np.ndarray | float,
                final: bool) -> dict[str, np.ndarray]:
    """The ``info`` of copies ``idx`` after a step, one fresh array per key
    (leading axis: the copies), ``final`` adding the end-of-episode keys.

    The single env's ``info`` is a row of it (:func:`build_info`); the
    Gymnasium vector env hands the arrays out as they are, so both front-ends
    report the same keys and values.  ``initial_units`` and ``unit_cost``
    are per copy in ``idx`` (or scalars).
    """
    closed = s.close_at[idx] < s.t[idx, None]  # closed during the period just played
    info = {
        "revenue": r.revenue[idx].copy(),
        "operating_cost": r.operating_cost[idx].copy(),
        "holding_cost": r.holding_cost[idx].copy(),
        "transfer_cost": r.transfer_cost[idx].copy(),
        "salvage_value": r.salvage_value[idx].copy(),
        "sold": r.sold[idx].copy(),
        "salvaged": r.salvaged[idx].copy(),
        "on_hand": s.on_hand[idx].copy(),
        "price": r.price[idx].copy(),
        "open": ~closed,
        "in_transit": s.pipeline[idx].sum(axis=(1, 2)),
        "shipped": r.shipped[idx].copy(),
        # not violations: cut by the rules inside an allowed action (MODEL.md section 4.2)
        "cancelled_shipments": r.cancelled_shipments[idx].copy(),
        "scaled_shipments": r.scaled_shipments[idx].copy(),
        "rule_violations": r.violations[idx].copy(),
        "period": s.t[idx] - 1,
    }
    if final:
        profit = s.profit_total[idx].copy()
        info["profit"] = profit
        info["sell_through"], info["net_recovery_on_cost"] = rules.event_metrics(
            s.sold_total[idx], profit, initial_units, unit_cost)
        info["units_salvaged"] = s.salvaged_total[idx].copy()
    return info


def build_info(p: dyn.Params, s: dyn.State, r: dyn.StepResult, b: int, initial_units: int,
               unit_cost: float) -> dict[str, Any]:
    """The ``info`` dict of copy ``b`` after a step: row ``b`` of :func:`info_arrays`
    (per-copy numbers as Python scalars, per-store ones as arrays)."""
    return _first_row(info_arrays(p, s, r, slice(b, b + 1), initial_units, unit_cost, bool(r.done[b])))


def _first_row(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Row 0 of per-copy info arrays: Python scalars, or arrays for per-store keys."""
    return {k: v[0] if v.ndim > 1 else v[0].item() for k, v in arrays.items()}


def reset_info(s: dyn.State, idx: np.ndarray | slice) -> dict[str, np.ndarray]:
    """The ``info`` of copies ``idx`` just reset, one array per key (the single env takes row 0)."""
    return {"on_hand": s.on_hand[idx].copy(), "period": s.t[idx].copy()}


class LiquidationEnv(gym.Env):
    """Retail liquidation pricing: markdowns, store closings and transfers.

    ## Description
    A retailer sells off a fixed stock across a chain of stores before a
    deadline (MODEL.md).  Each period it sets a markdown per store, may
    announce store closings (subject to notice periods and leases) and may
    ship stock between stores (lead times, per-unit and fixed costs).
    Customers arrive and buy according to the scenario's demand model.

    ## Action Space
    ``Discrete(L)`` (one store, ladder prices), ``Box([0], [max_price])``
    (one store, continuous prices) or a 1-D ``MultiDiscrete`` whose layout
    is documented in :mod:`liqenv.spaces` and returned by
    ``env.unwrapped.action_layout.component_names()``.  Use
    :meth:`encode_action` / :meth:`decode_action` for structured decisions
    and :meth:`action_masks` for the choices the rules allow.

    ## Observation Space
    A normalised ``Box``, per-store blocks then ``t`` and ``remaining``
    (:class:`~liqenv.spaces.ObservationLayout`);
    :meth:`decode_observation` returns named per-store quantities.

    ## Rewards
    The period's profit: ``revenue - operating_cost - holding_cost -
    transfer_cost + salvage_value`` (each in ``info``).

    ## Starting State
    Initial inventory on hand, nothing in transit, every store open, no
    markdown yet; hidden store effects are drawn at reset.

    ## Episode End
    Terminates after period ``T-1`` (everything left is salvaged); never
    truncates.

    ## Arguments
    ``scenario`` (a :class:`Scenario`, a preset id or a YAML/JSON path),
    ``render_mode`` (``"ansi"`` or ``"rgb_array"``), ``strict`` (raise on a
    rule violation instead of repairing it), and any scenario field as a
    keyword override (``inventory=1800, horizon=60, valuation="weibull"``).

    ## Version History
    * v0: initial release.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, scenario: Scenario | str | None = None, *, render_mode: str | None = None,
                 strict: bool = False, generator: Any = None, **overrides: Any):
        sc, self.generator = scenario_and_generator(scenario, generator, overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r}: expected one of {self.metadata['render_modes']}")
        if render_mode == "rgb_array":
            require_matplotlib()
        if not isinstance(strict, bool):
            raise ValueError(f"strict={strict!r}: must be true or false")
        self.scenario = sc
        self.render_mode = render_mode
        self.strict = strict
        self.params = dyn.Params(sc)
        self.action_layout = ActionLayout(sc)
        self.obs_layout = ObservationLayout(sc)
        self.action_space = self.action_layout.space
        self.observation_space = self.obs_layout.space
        self.state: dyn.State | None = None
        self._done = False
        self.history: list[dict[str, np.ndarray]] = []
        #: each store's share of the last step's reward (S,), summing to it (the kernel's
        #: ``StepResult.store_reward``; per-store credit, e.g. agents.imitation); None before a step
        self.store_reward: np.ndarray | None = None

    # ------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self.generator is not None:
            self.scenario = self.generator.sample(self.np_random)
            self.params.set_row(0, self.scenario)
        self.state = dyn.reset_state(self.params, dyn.episode_keys([self.np_random.bit_generator]))
        self._done = False
        self.history = []
        self.store_reward = None
        obs = self.obs_layout.encode(self.params, self.state)[0]
        return obs, _first_row(reset_info(self.state, slice(0, 1)))

    def step(self, action):
        if self.state is None or self._done:
            raise gym.error.ResetNeeded("call reset() before step() (and after an episode ends)")
        a = self.action_layout.check(action)
        d = self.action_layout.to_decision(a, self.params)
        r = dyn.step(self.params, self.state, d, strict=self.strict)
        obs = self.obs_layout.encode(self.params, self.state)[0]
        info = build_info(self.params, self.state, r, 0, self.scenario.total_inventory,
                          self.scenario.unit_cost)
        self._done = bool(r.done[0])
        self.store_reward = r.store_reward[0].copy()
        if self.render_mode is not None:
            self.history.append({k: info[k] for k in ("on_hand", "price", "sold", "open")})
        return obs, float(r.reward[0]), self._done, False, info

    def action_masks(self) -> np.ndarray:
        """Flat boolean mask of the choices the rules allow (for MaskablePPO)."""
        if self.state is None:
            raise gym.error.ResetNeeded("call reset() before action_masks()")
        if self.action_layout.kind == "box":
            raise ValueError("action_masks: continuous pricing has no discrete choices to mask")
        return self.action_layout.masks(self.params, self.state)[0]

    def decode_observation(self, obs) -> dict[str, np.ndarray]:
        """Named per-store quantities of an observation (see ObservationLayout.decode)."""
        return self.obs_layout.decode(obs)

    def encode_action(self, markdown=None, close=None, ship=None) -> Any:
        """A flat action from per-store ``markdown`` fractions (or one for the
        chain), per-store ``close`` flags and per-pair ``ship`` menu indices.
        Unspecified parts keep the current markdown, close nothing, ship nothing."""
        cur = self.state.markdown[0] if self.state is not None else np.zeros(self.params.S)
        return self.action_layout.encode(cur.copy() if markdown is None else markdown, close, ship)

    def decode_action(self, action) -> dict[str, np.ndarray]:
        """The structured decision of a flat action: per-store ``markdown``,
        ``close`` flags and per-pair ``ship`` indices and ``ship_units`` (at
        the current on-hand units, scaled down pro rata where one source's
        fractions sum above 1, as the step does: :func:`liqenv.rules.shipped_units`)."""
        a = self.action_layout.check(action)
        d = self.action_layout.to_decision(a, self.params)
        out = {"markdown": d.markdown[0], "close": d.close[0], "ship": d.ship[0]}
        if self.state is not None and self.params.P:
            p = self.params
            out["ship_units"] = rules.shipped_units(self.state.on_hand[0], p.quantities[d.ship[0]], p.src)
        return out

    # ------------------------------------------------------------- render
    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'rgb_array'")
            return None
        from . import render as rnd

        if self.render_mode == "ansi":
            return rnd.ansi_table(self.scenario, self.params, self.state)
        return rnd.dashboard(self.scenario, self.history)


    # --------------------------------------------------------- inspection
    @property
    def status(self) -> np.ndarray:
        """Per-store status strings: open / announced / closed."""
        s = self.state
        closed = s.close_at[0] <= s.t[0]
        ann = (s.close_at[0] != NO_CLOSE) & ~closed
        return np.where(closed, "closed", np.where(ann, "announced", "open"))
