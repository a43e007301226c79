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
# # 2. The analytic side: the exact optimum, greedy policies, and the cost of mistimed markdowns
#
# `SingleStore-v0` is small enough to solve exactly: the state is (day,
# units left), the decision a ladder markdown, and the demand distribution
# is known (MODEL.md section 3).  This notebook writes the backward
# induction in a few lines, checks it against the package's `sdp` baseline,
# compares it with Yang et al.'s greedy policy PDS and the best fixed price
# on common random numbers, and shows what marking down too early or too
# late costs.

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
from scipy import stats

import baselines
import liqenv  # noqa: F401

SMOKE = os.environ.get("LIQENV_SMOKE", "0") == "1"

# %% [markdown]
# ## Backward induction
#
# With `n` units on day `t` and markdown `m` (price `p = 1 - m`), the units
# wanted are Poisson with mean `100 * P(0.99**t * U >= p)`, and the store sells
# `k = min(wanted, n)`.  The best expected profit from day `t` on is
#
# $$V_t(n) = \max_m \; \mathbb{E}\big[p\,k + V_{t+1}(n - k)\big], \qquad V_{10}(n) = 0 .$$

# %%
N, T, RATE, DECAY = 100, 10, 100.0, 0.99
LADDER = np.round(np.arange(20) * 0.05, 2)


def sales_matrix(t, m):
    """W[n, k] = P(sell k | n on hand) on day t at markdown m."""
    mean = RATE * max(0.0, 1.0 - (1.0 - m) / DECAY ** t)
    pmf, tail = stats.poisson.pmf(np.arange(N + 1), mean), stats.poisson.sf(np.arange(N + 1) - 1, mean)
    return np.tril(np.tile(pmf, (N + 1, 1)), -1) + np.diag(tail)


n, k = np.arange(N + 1)[:, None], np.arange(N + 1)[None, :]
V = np.zeros((T + 1, N + 1))
best_markdown = np.zeros((T, N + 1))
for t in reversed(range(T)):
    q = np.stack([(sales_matrix(t, m) * ((1 - m) * k + V[t + 1][np.clip(n - k, 0, None)])).sum(1) for m in LADDER])
    V[t], best_markdown[t] = q.max(0), LADDER[q.argmax(0)]

env = gym.make("liqenv/SingleStore-v0")
sdp = baselines.make("sdp", env)
print(f"our V_0(100) = {V[0, N]:.6f}, sdp's value = {sdp.value_estimate:.6f}")
assert abs(V[0, N] - sdp.value_estimate) < 1e-6

# %% [markdown]
# The optimal policy is a table: the markdown for each (day, units left).
# More stock, or later in the event, means a deeper markdown.

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
im = ax.imshow(best_markdown.T, origin="lower", aspect="auto", cmap="viridis", interpolation="nearest")
ax.set_xlabel("day")
ax.set_ylabel("units left")
ax.set_title("optimal markdown (backward induction)")
fig.colorbar(im, label="markdown")
plt.show()

# %% [markdown]
# ## Greedy and fixed-price policies, on common random numbers
#
# `pds` (Yang et al. 2019's greedy on the deterministic representation,
# re-solved every day from the units and days left) and `fp` (their fixed
# price: the N-th highest expected valuation over the event, posted every
# day) need no dynamic
# programme.  Every policy plays the same episodes (env seeds
# `0 .. episodes-1`), so their differences are paired.  Full setting: 1,000
# episodes; smoke: 100.

# %%
episodes = 100 if SMOKE else 1000


def play(policy, seeds):
    out = []
    for seed in seeds:
        obs, _ = env.reset(seed=int(seed))
        policy.reset(seed=int(seed))
        done, profit = False, 0.0
        while not done:
            obs, reward, done, _, _ = env.step(policy.act(obs))
            profit += reward
        out.append(profit)
    return np.array(out)


results = {name: play(baselines.make(name, env), range(episodes)) for name in ("sdp", "pds", "fp")}
for name, p in results.items():
    d = results["sdp"] - p
    print(f"{name:4s} mean {p.mean():6.2f}   sdp minus {name}: {d.mean():5.2f} "
          f"± {1.96 * d.std(ddof=1) / np.sqrt(len(d)) if name != 'sdp' else 0:.2f} (95% paired CI)")

# %% [markdown]
# ## Why marking down early or late costs money
#
# Take the simplest schedules that change price: markdown `a` until day
# `tau`, then a deeper markdown `b` for the rest of the event, whatever the
# stock.  Their exact expected profit comes from the same recursion with the
# maximum replaced by the schedule's markdown (policy evaluation).  Find the
# best `(a, b, tau)`, then keep `a` and `b` and move the day of the second
# markdown: moved earlier, it gives away margin on units that would have
# sold at the higher price; moved later, units are left on the shelf while
# customers' valuations decay.

# %%
from functools import lru_cache

cached_sales = lru_cache(maxsize=None)(sales_matrix)


def schedule_value(schedule):
    """Exact expected profit of posting schedule[t] on day t, whatever the stock."""
    v = np.zeros(N + 1)
    for t in reversed(range(T)):
        m = schedule[t]
        v = (cached_sales(t, m) * ((1 - m) * k + v[np.clip(n - k, 0, None)])).sum(1)
    return v[N]


def two_step(a, b, tau):
    return [a] * tau + [b] * (T - tau)


taus = np.arange(T + 1)
best = max(((schedule_value(two_step(a, b, tau)), a, b, tau)
            for a in LADDER for b in LADDER if b > a for tau in range(1, T)))
_, a, b, tau_best = best
values = [schedule_value(two_step(a, b, tau)) for tau in taus]
plt.figure(figsize=(6, 3.5))
plt.plot(taus, values, "o-", label=f"markdown {a:.0%}, then {b:.0%} from day tau")
plt.axhline(V[0, N], color="k", ls="--", label="optimum (backward induction)")
plt.xlabel("day of the second markdown (tau)")
plt.ylabel("expected profit")
plt.legend(fontsize=8)
plt.show()
print(f"best two-step schedule: {a:.0%} then {b:.0%} from day {tau_best}: {best[0]:.2f}; "
      f"{a:.0%} all event {values[-1]:.2f}, {b:.0%} all event {values[0]:.2f}; optimum {V[0, N]:.2f}")

# %% [markdown]
# Exercise 2 (`exercises/ex2_bellman.py`) asks for this recursion with
# holding costs and salvage values, checked against `sdp` on random
# instances.
