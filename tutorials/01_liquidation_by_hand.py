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
# # 1. A liquidation by hand
#
# A store holds 100 units and has 10 days to sell them.  Every day about 100
# customers walk in; each values the good at a uniform draw on [0, 1] times
# 0.99 per day elapsed, and buys one unit if that value is at least the
# price.  You post a markdown (0%, 5%, ..., 95% off the list price of 1)
# each day.  Whatever is left at the end is worth nothing.  This is
# `liqenv/SingleStore-v0`, Yang et al. (2019)'s base case.
#
# In this notebook you play the event with a markdown schedule of your own,
# read what the environment reports, look at the dashboard, and see why
# selling everything is not the same as making the most money.

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

import liqenv  # noqa: F401  (registers the liqenv/ scenarios)

# LIQENV_SMOKE=1 (what CI sets) shrinks the episode counts; the full setting is stated where used.
SMOKE = os.environ.get("LIQENV_SMOKE", "0") == "1"

# %% [markdown]
# ## Your markdown schedule
#
# One markdown per day (fractions of the list price).  Change it and rerun
# the notebook from here.

# %%
schedule = [0.0, 0.0, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.5]

env = gym.make("liqenv/SingleStore-v0", render_mode="rgb_array")
obs, info = env.reset(seed=0)
profit = 0.0
for day, markdown in enumerate(schedule):
    action = env.unwrapped.encode_action(markdown=markdown)
    obs, reward, terminated, truncated, info = env.step(action)
    profit += reward
    print(f"day {day}: price {info['price'][0]:.2f}, sold {info['sold'][0]:3d}, "
          f"left {info['on_hand'][0]:3d}, revenue {info['revenue']:6.2f}")
print(f"profit {info['profit']:.2f} (sum of rewards {profit:.2f}), sell-through {info['sell_through']:.0%}")

# %% [markdown]
# The reward of a step is the day's profit; `info` breaks it down
# (`revenue`, `operating_cost`, `holding_cost`, `transfer_cost`,
# `salvage_value`: reward = revenue - costs + salvage, exactly) and, at the
# end, reports `profit`, `sell_through` and `net_recovery_on_cost`.  The
# observation is normalised for learning; `decode_observation` gives it back
# in units and days:

# %%
print(info.keys())
print(env.unwrapped.decode_observation(obs))

# %% [markdown]
# ## The dashboard
#
# `render_mode="rgb_array"` draws inventory, price and sales over the event
# (`render_mode="ansi"` prints a table instead).

# %%
plt.figure(figsize=(9, 4))
plt.imshow(env.render())
plt.axis("off")
plt.show()

# %% [markdown]
# ## Sell-through is not profit
#
# Hold one markdown all event and play many events (the same customers for
# every markdown: each episode's seed fixes its customers, so the markdowns
# are compared on *common random numbers*).  Deep markdowns sell everything
# and earn little; no markdown earns a high price on few units.  Full
# setting: 1,000 episodes per markdown; smoke: 30.

# %%
episodes = 30 if SMOKE else 1000
markdowns = np.round(np.arange(20) * 0.05, 2)
profits, sell_through = [], []
for m in markdowns:
    p, s = [], []
    for seed in range(episodes):
        env.reset(seed=seed)
        done = False
        while not done:
            _, _, done, _, info = env.step(env.unwrapped.encode_action(markdown=m))
        p.append(info["profit"])
        s.append(info["sell_through"])
    profits.append(np.mean(p))
    sell_through.append(np.mean(s))

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(sell_through, profits, "o-")
for m, x, y in zip(markdowns, sell_through, profits):
    if round(m * 100) % 20 == 0:
        ax.annotate(f"{m:.0%}", (x, y), textcoords="offset points", xytext=(4, -10))
ax.set_xlabel("sell-through (share of units sold)")
ax.set_ylabel("mean profit")
ax.set_title("One markdown all event")
plt.show()
best = int(np.argmax(profits))
print(f"best single markdown {markdowns[best]:.0%}: profit {profits[best]:.2f}, "
      f"sell-through {sell_through[best]:.0%}")

# %% [markdown]
# Your schedule changed the markdown over time.  Can a schedule beat the
# best single markdown?  Notebook 2 computes the best possible policy
# exactly; exercise 1 (`exercises/ex1_fixed_price.py`) asks for the expected
# profit of a single markdown in closed form.
