"""Golden trajectories: a bit-for-bit record of the dynamics, to check refactors.

``python tests/record_golden.py`` (run from the repository root, with
``PYTHONPATH=$PWD``) writes ``tests/data/golden_kernel.npz`` from the code as
it is; ``tests/test_golden.py`` replays the same runs and requires every
digest and every reward to be equal (``np.array_equal``, not ``allclose``).
Re-record only for a deliberate, documented change of behaviour.

Each run is hashed (SHA-256 over dtype, shape and bytes of every array, keys
sorted), one digest per (run, part), so the stored file stays small while any
difference in any observation, reward, info field, mask, repaired decision or
state element changes a digest.  The runs:

* ``env``: every preset, a few seeds, episodes of masked random actions and
  of unmasked random actions (``strict=False``, so repairs happen);
* ``box``: ``SingleStore-v0`` with continuous pricing;
* ``vec``: the Gymnasium vector env (same-step autoreset) on several presets;
* ``dyn``: :func:`liqenv.dynamics.step` on a batch of random structured
  decisions (off-ladder markdowns, closings, shipments), in repair mode and
  in strict mode (the error message is hashed), with the rule masks and the
  demand sampler evaluated at every state.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

import liqenv
from liqenv import dynamics as dyn
from liqenv import random as lr
from liqenv.vector import LiquidationVectorEnv

PATH = Path(__file__).parent / "data" / "golden_kernel.npz"
#: State fields, StepResult fields and info keys added after the first record
#: (version-1 scenarios): hashed in their own part "added", so that the other
#: parts of every scenario that did not change keep their recorded digests.
ADDED = ("effect_w", "effect_wy", "cancelled_shipments", "scaled_shipments")
SEEDS = (0, 7)
STEPS = 240


def _result_fields(r: dyn.StepResult) -> dict:
    """A step's result as hashed: ``store_reward`` (added later, a split of
    ``reward``) is checked by its identity ``sum over stores == reward``
    instead of a digest, so the recorded digests stay as they were."""
    out = dict(vars(r))
    shares = out.pop("store_reward")
    np.testing.assert_allclose(shares.sum(axis=1), r.reward, rtol=1e-12, atol=1e-9)
    return out


class Digest:
    """Incremental hash of arrays and nested dicts."""

    def __init__(self):
        self.h = hashlib.sha256()

    def add(self, x, added: "Digest | None" = None) -> None:
        """Hash ``x``; keys of a dict named in :data:`ADDED` go to ``added`` instead."""
        if isinstance(x, dict):
            for k in sorted(x):
                if str(k).lstrip("_") in ADDED:  # "_key": Gymnasium's vector-info mask of "key"
                    if added is not None:
                        added.h.update(f"<{k}>".encode())
                        added.add(x[k])
                    continue
                self.h.update(f"<{k}>".encode())
                self.add(x[k], added)
            return
        if isinstance(x, str):
            self.h.update(x.encode())
            return
        a = np.asarray(x)
        if a.dtype == object:  # e.g. the vector env's per-copy final_info
            self.h.update(f"O{a.shape}".encode())
            if a.ndim == 0 and not isinstance(a.item(), (dict, list, tuple)):
                self.h.update(repr(a.item()).encode())
                return
            for v in (a.reshape(-1) if a.ndim else [a.item()]):
                self.add(v, added)
            return
        self.h.update(f"{a.dtype.str}{a.shape}".encode())
        self.h.update(np.ascontiguousarray(a).tobytes())

    def hex(self) -> str:
        return self.h.hexdigest()


def masked_random(rng: np.random.Generator, layout, mask: np.ndarray):
    """A uniformly random action among those the mask allows, per component."""
    if layout.kind == "discrete":
        return int(rng.choice(np.flatnonzero(mask)))
    out, k = [], 0
    for n in layout.nvec:
        out.append(rng.choice(np.flatnonzero(mask[k: k + n])))
        k += n
    return np.array(out, dtype=np.int64)


def run_env(name, seed: int, masked: bool, **kw) -> dict[str, np.ndarray]:
    env = liqenv.LiquidationEnv(name, **kw)
    rng = np.random.default_rng(1000 + seed)
    env.action_space.seed(seed)
    parts = {k: Digest() for k in ("obs", "info", "mask", "added")}
    rewards = []
    obs, info = env.reset(seed=seed)
    parts["obs"].add(obs)
    parts["info"].add(info, parts["added"])
    for i in range(STEPS):
        box = env.action_layout.kind == "box"
        mask = None if box else env.action_masks()
        if mask is not None:
            parts["mask"].add(mask)
        a = masked_random(rng, env.action_layout, mask) if masked and not box else env.action_space.sample()
        obs, r, term, trunc, info = env.step(a)
        rewards.append(r)
        parts["obs"].add(obs)
        parts["info"].add(info, parts["added"])
        parts["info"].add(np.array([term, trunc]))
        if term or trunc:
            obs, info = env.reset(seed=seed + i + 1)
            parts["obs"].add(obs)
            parts["info"].add(info, parts["added"])
    return {**{k: np.array(d.hex()) for k, d in parts.items()}, "rewards": np.array(rewards)}


def run_vec(name: str, seed: int, n: int = 3) -> dict[str, np.ndarray]:
    env = LiquidationVectorEnv(n, name)
    rng = np.random.default_rng(2000 + seed)
    parts = {k: Digest() for k in ("obs", "info", "mask", "added")}
    rewards = []
    obs, info = env.reset(seed=seed)
    parts["obs"].add(obs)
    layout = env.batch.action_layout
    for _ in range(STEPS // 2):
        masks = env.action_masks()
        parts["mask"].add(masks)
        if rng.random() < 0.5:
            a = np.stack([np.atleast_1d(masked_random(rng, layout, m)) for m in masks])
            if layout.kind == "discrete":
                a = a[:, 0]
        else:
            env.action_space.seed(int(rng.integers(1 << 30)))
            a = env.action_space.sample()
        obs, r, term, trunc, info = env.step(a)
        rewards.append(r)
        parts["obs"].add(obs)
        parts["info"].add(info, parts["added"])
        parts["info"].add(np.stack([term, trunc]))
    return {**{k: np.array(d.hex()) for k, d in parts.items()}, "rewards": np.array(rewards)}


def random_decision(rng, p: dyn.Params, s: dyn.State) -> dyn.Decision:
    B, S, P = s.batch_size, p.S, p.P
    lad = p.ladder if not p.continuous else np.linspace(0.0, 0.9, 10)
    md = np.where(rng.random((B, S)) < 0.7, s.markdown, rng.choice(lad, (B, S)))
    md = np.where(rng.random((B, S)) < 0.1, rng.uniform(-0.2, 1.0, (B, S)), md)
    if p.rules.uniform_pricing and rng.random() < 0.7:
        md[:] = md[:, :1]
    close = rng.random((B, S)) < 0.06
    ship = rng.integers(0, len(p.quantities), (B, P)) * (rng.random((B, P)) < 0.3)
    return dyn.Decision(md, close, ship)


def run_dyn(name, seed: int, B: int = 4, **kw) -> dict[str, np.ndarray]:
    sc = liqenv.LiquidationEnv(name, **kw).scenario
    p = dyn.Params(sc)
    rng = np.random.default_rng(3000 + seed)
    keys = np.arange(B, dtype=np.uint64) * np.uint64(7919) + np.uint64(seed)
    s = dyn.reset_state(p, keys)
    parts = {k: Digest() for k in ("state", "result", "strict", "rules", "demand", "added")}
    rewards = []
    for _ in range(STEPS // 2):
        parts["rules"].add(dyn.markdown_allowed(p, s, rng.choice(np.r_[p.ladder, 0.07, 0.5], (B, p.S, 3))))
        parts["rules"].add(dyn.markdown_allowed(p, s, s.markdown + 0.1))
        parts["rules"].add(dyn.markdown_ladder_mask(p, s))
        parts["rules"].add(dyn.close_allowed(p, s))
        parts["rules"].add(dyn.ship_allowed(p, s))
        price = rng.uniform(0.0, 1.2, (B, p.S)) * p.list_price
        draws = lr.Draws(s.key, np.minimum(s.t, p.T - 1), p.S)
        parts["demand"].add(p.demand.sample(draws, np.minimum(s.t, p.T - 1), price, s.on_hand, s.effect))
        d = random_decision(rng, p, s)
        trial = s.copy()
        # every other step, a decision that usually passes the strict check
        quiet = dyn.Decision(s.markdown.copy(), d.close & (rng.random(d.close.shape) < 0.3),
                             np.zeros_like(d.ship)) if rng.random() < 0.5 else d
        try:
            rs = dyn.step(p, trial, quiet, strict=True)
            parts["strict"].add(_result_fields(rs), parts["added"])
        except dyn.RuleViolation as e:
            parts["strict"].add(str(e))
        parts["strict"].add(vars(trial), parts["added"])
        r = dyn.step(p, s, d)
        rewards.append(r.reward.copy())
        parts["result"].add(_result_fields(r), parts["added"])
        parts["state"].add(vars(s), parts["added"])
        if r.done.all():
            keys = keys + np.uint64(B)
            s = dyn.reset_state(p, keys)
    return {**{k: np.array(d.hex()) for k, d in parts.items()}, "rewards": np.array(rewards)}


def lease_scenario(**rule_kw) -> liqenv.Scenario:
    """Two stores with notice, earliest closing, a rent lock, lead-2 transfers with
    fixed costs and elasticity demand with hidden effects (no preset has a rent lock)."""
    from liqenv import (ElasticityDemand, LeaseTerms, MarkdownRules, Scenario, StoreParams,
                        TransferNetwork)

    return Scenario(
        name="lease", horizon=10,
        stores=(StoreParams(name="a", inventory=60, operating_cost=1.0, salvage_rate=0.2,
                            lease=LeaseTerms(notice=1, earliest_close=2, lock_period=3, lock_until=6,
                                             rent_fraction=0.5)),
                StoreParams(name="b", inventory=30, operating_cost=1.5, salvage_rate=0.4,
                            lease=LeaseTerms(notice=0, lock_period=1, lock_until=8))),
        demand=ElasticityDemand(base=(6.0, 4.0), elasticity=2.0, beta_inv=0.3, store_effect_cv=0.4,
                                cv=0.7),
        markdowns=MarkdownRules(**rule_kw),
        transfers=TransferNetwork.uniform(2, lead_time=2, unit_cost=0.05, fixed_cost=0.5,
                                          quantities=(0.0, 0.3, 0.6, 1.0)),
        holding_cost=0.01)


CUSTOM = {
    "lease-rules": lambda: lease_scenario(step_min=0.1, step_max=0.3, min_hold=2, max_changes=3,
                                          initial_min=0.1, initial_max=0.3),
    "lease-uniform": lambda: lease_scenario(monotone=False, uniform_pricing=True),
    "dc-uniform": lambda: liqenv.make_scenario("DistributionCentre-v1", uniform_pricing=True),
}


def record() -> dict[str, np.ndarray]:
    """Every run, flattened to ``{"<run>/<part>": array}``."""
    runs = {}
    for name, make in CUSTOM.items():
        for seed in SEEDS:
            runs[f"env/{name}/{seed}/masked"] = run_env(make(), seed, True)
            runs[f"env/{name}/{seed}/random"] = run_env(make(), seed, False)
            runs[f"dyn/{name}/{seed}"] = run_dyn(make(), seed)
    for name in liqenv.PRESETS:
        for seed in SEEDS:
            runs[f"env/{name}/{seed}/masked"] = run_env(name, seed, True)
            runs[f"env/{name}/{seed}/random"] = run_env(name, seed, False)
            runs[f"dyn/{name}/{seed}"] = run_dyn(name, seed)
        runs[f"vec/{name}"] = run_vec(name, 3)
    for seed in SEEDS:
        runs[f"box/SingleStore-v0/{seed}"] = run_env("SingleStore-v0", seed, False, pricing="continuous")
        runs[f"dyn/SingleStore-v0-continuous/{seed}"] = run_dyn("SingleStore-v0", seed, pricing="continuous")
    return {f"{run}/{part}": v for run, d in runs.items() for part, v in d.items()}


if __name__ == "__main__":
    out = record()
    PATH.parent.mkdir(exist_ok=True)
    np.savez_compressed(PATH, **out)
    print(f"wrote {len(out)} arrays to {PATH} ({PATH.stat().st_size} bytes)", file=sys.stderr)
