"""Imitation warm-start: behaviour cloning of an analytic policy before PPO fine-tuning.

Issue 11 lists "imitation warm-start from store_pds followed by PPO
fine-tuning, reported as its own row" among the ways to close the gap between
the learned agents and the analytic policies on the chains.  With the effect
posterior in the observation (MODEL.md, "Observation"), the analytic chain
policies are functions of the observation alone, so a policy network can in
principle copy them exactly; PPO then starts from there instead of from a
near-uniform policy.

Two steps, both run by :func:`agents.job.setup` when the hyperparameter
``warm_start`` names a baseline:

1. :func:`demonstrations`: the baseline plays ``warm_start_episodes``
   episodes on env seeds ``DEMO_SEED ..`` (seeds that neither training,
   validation nor the evaluation tables use), and every step's observation,
   action mask, action and return-to-go is kept.  The demonstrations depend
   only on the scenario, its overrides, the baseline, the number of episodes
   and ``gamma``, so they are cached (``.npz``) and shared by every training
   seed.
2. :func:`behaviour_clone`: ``warm_start_epochs`` passes of Adam (step
   1e-3, minibatches of 64 steps) over the demonstrations, minimising the policy's negative log-likelihood of the
   baseline's action under the action masks, plus ``vf_coef`` times the
   squared error of the value head against the scaled return-to-go (a critic
   that already knows the baseline's values keeps PPO's first updates from
   undoing the copy).

The cloned policy is saved as ``warm_start.zip`` in the run folder (so its
own profit can be measured: ``evaluate.py --policies ppo=<run>/warm_start.zip``),
validated as step 0 of the learning curve (so the model selection keeps it
if fine-tuning only loses), and PPO continues from it with the run's
hyperparameters.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = ["DEMO_SEED", "check_warm_start", "demonstrations", "collect", "behaviour_clone"]

#: Env seed of the first demonstration episode (validations use 1_000_000 ..,
#: evaluation tables 0 .., training copies 10_000_000 * (seed + 1) ..).
DEMO_SEED = 2_000_000
_FIELDS = ("obs", "masks", "actions", "returns", "store_returns", "profits")
_FORMAT = 2  # bump when _FIELDS change


def check_warm_start(name: str) -> None:
    """ValueError (one line) unless ``name`` is a registered baseline (cheap: nothing is solved).

    For the entry points to refuse a bad ``warm_start`` before anything is
    written; a baseline that cannot play the scenario says so when the
    demonstrations are collected.
    """
    import baselines

    if name not in baselines.available():
        raise ValueError(f"hyperparameter warm_start={name!r}: unknown baseline; "
                         f"available: {', '.join(baselines.available())}")


def _play(scenario: str, overrides: Mapping[str, Any], baseline: str, seeds: list[int],
          gamma: float) -> dict[str, np.ndarray]:
    """The baseline's episodes on env seeds ``seeds``: per-step arrays (see :func:`collect`)."""
    import baselines  # registers the analytic policies
    from liqenv.evaluation import make_env
    from liqenv.evaluation.protocol import reset_policy

    env = make_env(scenario, dict(overrides))
    policy = baselines.make(baseline, env)
    out: dict[str, list] = {k: [] for k in _FIELDS}
    for s in seeds:
        obs, _ = env.reset(seed=int(s))
        reset_policy(policy, int(s), env.unwrapped.scenario)
        rewards, shares, done = [], [], False
        while not done:
            action = np.asarray(policy.act(obs))
            out["obs"].append(np.asarray(obs, dtype=np.float32))
            out["masks"].append(np.asarray(env.unwrapped.action_masks(), dtype=bool))
            out["actions"].append(action.astype(np.int64))
            obs, reward, terminated, truncated, _ = env.step(action)
            rewards.append(float(reward))
            shares.append(env.unwrapped.store_reward)
            done = terminated or truncated
        out["returns"].extend(_to_go(np.asarray(rewards), gamma))
        out["store_returns"].extend(_to_go(np.asarray(shares), gamma))
        out["profits"].append(sum(rewards))
    return {k: np.asarray(v) for k, v in out.items()}


def _to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted return-to-go of one episode's rewards (steps along axis 0)."""
    out = np.empty_like(rewards, dtype=np.float64)
    acc = np.zeros(rewards.shape[1:])
    for t in range(len(rewards) - 1, -1, -1):
        acc = rewards[t] + gamma * acc
        out[t] = acc
    return out


def collect(scenario: str, baseline: str, episodes: int, gamma: float = 1.0,
            overrides: Mapping[str, Any] | None = None, workers: int = 1) -> dict[str, np.ndarray]:
    """``episodes`` episodes of ``baseline`` on env seeds ``DEMO_SEED ..``.

    Returns ``obs`` (N, obs_dim) float32, ``masks`` (N, mask_dim) bool,
    ``actions`` (N, action_dim) int64, ``returns`` (N,) discounted
    return-to-go in money units, ``store_returns`` (N, S) each store's
    share of it (``LiquidationEnv.store_reward``: the per-store agents'
    value targets), ``profits`` (episodes,) each episode's profit; N is the
    number of steps.  ``workers`` processes split the
    episodes (the result does not depend on it).
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"warm_start_episodes={episodes!r}: must be a positive integer")
    seeds = [DEMO_SEED + i for i in range(episodes)]
    chunks = [c.tolist() for c in np.array_split(seeds, max(1, min(int(workers), episodes)))]
    args = [(scenario, dict(overrides or {}), baseline, c, float(gamma)) for c in chunks]
    if len(args) == 1:
        parts = [_play(*args[0])]
    else:  # spawn: the parent may hold torch threads, which fork would copy half-started
        with ProcessPoolExecutor(len(args), mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_play, *zip(*args)))
    return {k: np.concatenate([p[k] for p in parts]) for k in _FIELDS}


def demonstrations(scenario: str, baseline: str, episodes: int, gamma: float = 1.0,
                   overrides: Mapping[str, Any] | None = None, workers: int = 1,
                   cache: str | Path | None = None) -> dict[str, np.ndarray]:
    """:func:`collect`, read from / written to ``cache`` (a folder) when given.

    The file name hashes everything the demonstrations depend on, so a
    change of scenario, override, baseline, episode count or ``gamma`` is a
    new file; delete the folder to recompute after a change of the
    baseline's code.
    """
    # _FORMAT: a cache written before a field was added is a new file, not a KeyError
    key = json.dumps([scenario, dict(sorted((overrides or {}).items())), baseline, episodes, gamma, _FORMAT],
                     default=str)
    name = f"demos-{baseline}-{episodes}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npz"
    path = Path(cache) / name if cache is not None else None
    if path is not None and path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in _FIELDS}
    demos = collect(scenario, baseline, episodes, gamma, overrides, workers)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **demos)
        tmp.replace(path)  # a run cut short never leaves half a cache file
    return demos


def behaviour_clone(model: Any, demos: Mapping[str, np.ndarray], reward_scale: float, epochs: int,
                    batch_size: int = 64, learning_rate: float = 1e-3, seed: int = 0) -> dict[str, float]:
    """Fit ``model.policy`` to the demonstrations (see the module docstring); its statistics.

    Returns the final epoch's mean negative log-likelihood (``nll``), the
    value loss (``value_mse``, in scaled units), and ``agreement``: the share
    of action components where the policy's most likely choice is the
    baseline's, over all demonstration steps.
    """
    import torch as th

    policy = model.policy
    obs, masks, actions, returns = demos["obs"], demos["masks"], demos["actions"], demos["returns"]
    from .store_agents import PerStoreMaskablePolicy, StoreAgents

    if isinstance(policy, PerStoreMaskablePolicy):
        # each (step, store) is a sample of the one shared per-store policy (agents.store_agents),
        # its value target that store's own return-to-go
        split = StoreAgents(model.get_env().get_attr("scenario", [0])[0])
        obs, masks = split.observations(obs), split.masks(masks)
        actions, returns = split.agent_actions(actions), demos["store_returns"].reshape(-1)
    obs = th.as_tensor(obs, dtype=th.float32)
    masks = th.as_tensor(masks)
    actions = th.as_tensor(actions)
    returns = th.as_tensor(returns / float(reward_scale), dtype=th.float32)
    n = len(obs)
    opt = th.optim.Adam(policy.parameters(), lr=learning_rate)
    gen = th.Generator().manual_seed(int(seed))
    vf = float(getattr(model, "vf_coef", 0.5))
    policy.set_training_mode(True)
    nll = mse = 0.0
    for _ in range(int(epochs)):
        perm = th.randperm(n, generator=gen)
        tot_nll = tot_mse = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            values, log_prob, _ = policy.evaluate_actions(obs[idx], actions[idx], action_masks=masks[idx])
            l_pi = -log_prob.mean()
            l_v = th.nn.functional.mse_loss(values.flatten(), returns[idx])
            opt.zero_grad()
            (l_pi + vf * l_v).backward()
            th.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            opt.step()
            tot_nll += float(l_pi.detach()) * len(idx)
            tot_mse += float(l_v.detach()) * len(idx)
        nll, mse = tot_nll / n, tot_mse / n
    policy.set_training_mode(False)
    with th.no_grad():
        agree = []
        for start in range(0, n, 1024):
            sl = slice(start, start + 1024)
            pred, _, _ = policy(obs[sl], deterministic=True, action_masks=masks[sl].numpy())
            agree.append((pred == actions[sl]).float())
        agreement = float(th.cat(agree).mean())
    return {"nll": nll, "value_mse": mse, "agreement": agreement, "steps": int(n),
            "episodes": int(len(demos["profits"])), "demo_profit": float(np.mean(demos["profits"]))}
