# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Learning: PPO on `SingleStore-v0`
#
# Train PPO (Stable-Baselines3) on the store of notebooks 1-2, watch its
# learning curve, compare its pricing with the exact optimum's, and
# evaluate it against the analytic policies on common random numbers.
#
# **Full setting** (the repository's `agents/hyperparams.yaml`, what
# `python train.py` runs): 300,000 env steps, 8 env copies, rollouts of 256
# steps per copy, minibatches of 256, 10 epochs, learning rate 2e-3
# decaying linearly to 0, no discounting (`gamma=1`, the objective is the
# event's total profit), GAE lambda 0.95, clip 0.2, separate [64, 64] tanh
# networks, rewards divided by the stock's retail value (100).  It reaches
# about 99.9% of the optimum (README, "PPO against the analytic policies").
# With `LIQENV_SMOKE=1` (CI) the run is 4,096 steps with shorter rollouts
# and 50 episodes per policy: it checks that every cell runs, not that PPO
# learns.

# %%
# Install liqenv on a hosted notebook service (Colab, Binder, ...); a no-op where it is importable.
# PLACEHOLDER URL: liqenv has no public repository yet. Instructors: set LIQENV_REPO to your course's copy.
LIQENV_REPO = "git+https://github.com/liqenv/liqenv.git"
import importlib.util

if importlib.util.find_spec("liqenv") is None:
    # %pip install -q "liqenv[course] @ {LIQENV_REPO}"

# %%
import os

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import baselines
import liqenv  # noqa: F401

SMOKE = os.environ.get("LIQENV_SMOKE", "0") == "1"
torch.set_num_threads(1)  # small networks: one thread is fastest, and leaves cores to the envs

SCENARIO = "liqenv/SingleStore-v0"
STEPS = 4_096 if SMOKE else 300_000
N_STEPS = 64 if SMOKE else 256
VALUE = 100.0  # initial units x list price: rewards are scaled by it


def make_env():
    return gym.wrappers.TransformReward(gym.make(SCENARIO), lambda r: r / VALUE)


# %% [markdown]
# ## Training
#
# `make_vec_env` wraps each copy in a `Monitor`, which records every
# training episode's return: the learning curve below.

# %%
venv = make_vec_env(make_env, n_envs=8, seed=10_000_000)
model = PPO("MlpPolicy", venv, n_steps=N_STEPS, batch_size=256, n_epochs=10, gamma=1.0, gae_lambda=0.95,
            learning_rate=lambda left: 2e-3 * left, clip_range=0.2,
            policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64])), seed=0, device="cpu", verbose=0)
model.learn(STEPS)

env = gym.make(SCENARIO)
sdp = baselines.make("sdp", env)
# the copies finish their 10-day episodes together: interleave them in time, and undo the reward scale
per_copy = [e.get_episode_rewards() for e in venv.envs]
returns = np.stack([r[:min(map(len, per_copy))] for r in per_copy]).T.ravel() * VALUE
window = 50
curve = np.convolve(returns, np.ones(window) / window, mode="valid")
plt.figure(figsize=(6, 3.5))
plt.plot(np.arange(len(curve)) + window, curve, label=f"PPO training episodes (mean of {window})")
plt.axhline(sdp.value_estimate, color="k", ls="--", label="optimum (sdp)")
plt.xlabel("training episode")
plt.ylabel("profit")
plt.legend()
plt.show()

# %% [markdown]
# ## What the policies do
#
# The markdown each policy posts in the states it visits, averaged per
# (day, units left), over the same episodes.

# %%
class PPOPolicy:
    """The trained model behind the baselines' interface (reset, act)."""

    def reset(self, seed=None):
        pass

    def act(self, obs):
        return int(model.predict(obs, deterministic=True)[0])


def play(policy, seeds, record=None):
    profits = []
    for seed in seeds:
        obs, _ = env.reset(seed=int(seed))
        policy.reset(seed=int(seed))
        done, profit = False, 0.0
        while not done:
            action = policy.act(obs)
            if record is not None:
                o = env.unwrapped.decode_observation(obs)
                record.append((int(o["t"]), int(o["on_hand"][0]), float(env.unwrapped.decode_action(action)["markdown"][0])))
            obs, reward, done, _, _ = env.step(action)
            profit += reward
        profits.append(profit)
    return np.array(profits)


def heatmap(ax, visits, title):
    grid = np.full((10, 11), np.nan)  # days x units left in buckets of 10
    for t in range(10):
        for b in range(11):
            ms = [m for (tt, n, m) in visits if tt == t and min(n // 10, 10) == b]
            if ms:
                grid[t, b] = np.mean(ms)
    ax.set_title(title)
    ax.set_xlabel("day")
    return ax.imshow(grid.T, origin="lower", aspect="auto", vmin=0, vmax=0.4, cmap="viridis", interpolation="nearest",
                     extent=(-0.5, 9.5, 0, 110))


ppo_visits, sdp_visits = [], []
visited = range(50 if SMOKE else 200)
play(PPOPolicy(), visited, ppo_visits)
play(sdp, visited, sdp_visits)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
im = heatmap(axes[0], ppo_visits, "PPO")
heatmap(axes[1], sdp_visits, "SDP (optimal)")
axes[0].set_ylabel("units left")
fig.colorbar(im, ax=axes, label="mean markdown")
plt.show()

# %% [markdown]
# ## Evaluation on common random numbers
#
# Every policy plays the same episodes (env seeds `0..episodes-1`, which
# training never used: the training copies are seeded from 10,000,000), so
# the differences are paired.  Full setting: 1,000 episodes; smoke: 50.

# %%
episodes = 50 if SMOKE else 1000
seeds = range(episodes)
results = {"ppo": play(PPOPolicy(), seeds)}
results.update({name: play(baselines.make(name, env), seeds) for name in ("sdp", "pds", "fp")})
for name, p in results.items():
    d = p - results["sdp"]
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
    print(f"{name:4s} mean {p.mean():6.2f}  share of sdp {p.mean() / results['sdp'].mean():6.1%}  "
          f"minus sdp {d.mean():+6.2f} ± {half:.2f}")

# %% [markdown]
# Exercise 5 (`exercises/ex5_features.py`) asks which observation features
# a short PPO run needs to beat the best single markdown.
