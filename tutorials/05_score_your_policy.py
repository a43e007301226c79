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
# # 5. Scoring your own policy on the benchmark suite
#
# You have a markdown policy: a rule of thumb, a tuned heuristic, a trained
# agent.  How good is it?  A raw profit says little (is 70 good on a
# scenario whose best possible is 85? on one whose simple rule already earns
# 68?), and one scenario says little about the others.  The benchmark suite
# `liqenv-bench-v1` fixes the scenarios, the evaluation episodes and their
# seeds, and for every scenario a **floor** (a simple rule, score 0) and a
# **reference** (score 1).  Your policy's **normalised score** on a
# scenario is
#
# $$\text{score} = \frac{\text{profit} - \text{floor}}{\text{reference} - \text{floor}},$$
#
# comparable across scenarios, and the aggregates across scenarios (and
# across the training seeds of a method that learns) come with 95%
# confidence intervals (Agarwal et al. 2021, "Deep RL at the edge of the
# statistical precipice").
#
# In this notebook you write a policy in ten lines, score it and a tuned
# variant on the suite, and read the results: the aggregates, the
# performance profile, the probability that one policy beats another, and
# the per-scenario table.  Everything here is the library's public API
# (`liqenv.evaluation.suite`, `liqenv.evaluation.scores`); the command
# line does the same in one call (the end of the notebook).

# %%
# Install liqenv on a hosted notebook service (Colab, Binder, ...); a no-op where it is importable.
# PLACEHOLDER URL: liqenv has no public repository yet. Instructors: set LIQENV_REPO to your course's copy.
LIQENV_REPO = "git+https://github.com/liqenv/liqenv.git"
import importlib.util

if importlib.util.find_spec("liqenv") is None:
    # %pip install -q "liqenv[course] @ {LIQENV_REPO}"

# %%
import functools
import importlib
import os
import sys
import tempfile
from pathlib import Path

import gymnasium as gym
import numpy as np
from IPython.display import Image, Markdown, display

import baselines  # noqa: F401  (registers the floor and reference policies)
import liqenv  # noqa: F401  (registers the liqenv/ scenarios)
from liqenv.evaluation import scores
from liqenv.evaluation.specs import parse_policy_groups
from liqenv.evaluation.suite import (format_suite_markdown, load_suite, measure_references, references_path,
                                     run_suite, score_matrix, suite_report)

# LIQENV_SMOKE=1 (what CI sets) scores on a subset of the suite; the full setting is stated where used.
SMOKE = os.environ.get("LIQENV_SMOKE", "0") == "1"
SUITE = "liqenv-bench-v1"  # a shipped suite's name, or a suite YAML file of your own

# %% [markdown]
# ## The suite
#
# One YAML file (`liqenv/evaluation/suites/liqenv-bench-v1.yaml`) lists per
# scenario the registered id, the number of evaluation episodes, the env seed
# of the first one (episode `i` runs on `seed + i`, for every policy: common
# random numbers, so every policy meets the same customers), the floor, the
# reference and the **reference kind**:
#
# * `exact`: the reference is the optimal policy of the scenario's model,
#   computed exactly: `sdp` (backward induction) on the single-store
#   scenarios (notebook 2), `exact_dp` on `TwoStore-v1`.  Score 1 is
#   then the ceiling: no policy can beat it in expectation, and a measured
#   score above 1 is sampling noise.
# * `best-analytic`: no exact optimum can be computed (the chains: up to
#   40 stores, up to 90 periods), so the reference is the best analytic policy measured
#   (`store_pds`, `craig_raman`).  Score 1 means "as good as the best known
#   analytic policy"; above 1 means you beat it, not that you are optimal.
#
# The floor is the practitioners' rule (`practitioner`: a markdown schedule
# rising linearly over the event, Craig & Raman 2016 section 2) everywhere,
# so 0 means the same thing on every scenario.

# %%
full = load_suite(SUITE, references=False)
print(f"{'scenario':28s} {'episodes':>8s} {'seed':>9s}  floor         reference    kind")
for s in full.scenarios:
    print(f"{s.id:28s} {s.episodes:8d} {s.seed:9d}  {s.floor:13s} {s.reference:12s} {s.reference_kind}")

# %% [markdown]
# ## Your policy, in ten lines
#
# A policy is any object with `act(observation) -> action`; the suite
# builds it with a factory that takes the env it will act on (a class
# works).  That is the whole protocol (README, "Benchmark suite").  The
# cell below writes the policy into a module, `my_policy.py` beside this
# notebook, because that is also what the command line takes
# (`--policies mine=my_policy:make_policy`).  Edit it and rerun from here.
#
# `Pace` opens at markdown `first`; after that, each store goes one `step`
# deeper whenever it has more units left than a straight-line sell-down
# would, and holds otherwise.  It reads the observation in units and
# periods with `decode_observation` and builds the action with
# `encode_action`, so the same ten lines run on one store or forty.  Where
# the scenario's rules forbid a markdown (monotone markdowns, minimum hold,
# step sizes), the env moves it to the nearest allowed one and counts the
# repair (`info["rule_violations"]`; `strict=True` raises instead, and
# `env.action_masks()` says what is allowed).  It never closes a store and
# never ships.
#
# `tuned` is a method that *learns*: it picks `Pace`'s opening markdown by
# the profit it earns on a few training episodes of the scenario at hand,
# on env seeds of its own (the suite's seeds start at 5,000,000; training
# never sees them).  Its training seed changes what it picks, so a tuned
# `Pace` is a method with several runs, one per training seed, like a
# reinforcement-learning agent trained with several seeds.

# %%
# %%writefile my_policy.py
"""A markdown policy for the liqenv benchmark suite (tutorial 5)."""
import numpy as np


class Pace:
    """Open at `first`; then a store goes `step` deeper whenever it is behind a straight-line sell-down."""

    def __init__(self, env, first=0.1, step=0.05):
        self.env, self.first, self.step = env.unwrapped, first, step

    def act(self, observation):
        o = self.env.decode_observation(observation)  # units and periods, one entry per store
        if o["t"] == 0:
            self.start = o["on_hand"]
            return self.env.encode_action(markdown=np.full(len(self.start), self.first))
        on_pace = self.start * o["remaining"] / (o["t"] + o["remaining"])  # units a straight line leaves
        behind = o["on_hand"] > on_pace
        return self.env.encode_action(markdown=np.minimum(o["markdown"] + self.step * behind, 0.95))


def make_policy(env):
    return Pace(env)


def tuned(env, seed, episodes=3, firsts=(0.1, 0.2, 0.3, 0.4)):
    """`Pace` with the opening markdown that earned most on `episodes` training episodes (seeds 1000*seed+i)."""
    def profit(first):
        policy, total = Pace(env, first), 0.0
        for i in range(episodes):
            obs, _ = env.reset(seed=1000 * seed + i)
            done = False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(policy.act(obs))
                total, done = total + reward, terminated or truncated
        return total
    return Pace(env, max(firsts, key=profit))


# %%
sys.path.insert(0, os.getcwd())  # my_policy.py is written in the working folder
import my_policy  # noqa: E402

importlib.reload(my_policy)  # pick up your edits when you rerun the cell above

# one episode by hand, as in notebook 1
env = gym.make("liqenv/SingleStore-v0")
policy, (obs, info), done = my_policy.make_policy(env), env.reset(seed=0), False
while not done:
    obs, reward, terminated, truncated, info = env.step(policy.act(obs))
    done = terminated or truncated
print(f"Pace on SingleStore-v0, seed 0: profit {info['profit']:.2f}, sell-through {info['sell_through']:.0%}")

# %% [markdown]
# ## The yardstick: floor and reference values
#
# The floor's and the reference's mean profits are measured once, by
# `benchmarks/suite_references.py`, on the suite's own episodes, and stored
# beside the suite in `liqenv-bench-v1.references.json` with the commit and
# the command; `load_suite` refuses values measured for other settings.
#
# **Full setting**: every scenario of the suite with all its episodes (the
# table above), scored against the stored values: about 4 minutes for the
# three methods below (1.5 minutes of CPU time) on the shared 2-core
# machine this notebook was written on.
#
# **Smoke** (`LIQENV_SMOKE=1`, what CI runs): the single-store scenarios
# and `TwoStore-v1`, each cut to its first few episodes with
# `Suite.subset` (the same seeds).  The yardstick stays the stored one
# (measured on all the episodes), so the smoke scores are noisier but mean
# the same thing.  Where the references file is missing (a suite of your
# own, or before it is computed), the smoke run measures the floor and
# reference itself on the episodes it plays, with `measure_references`
# (what the script stores, computed here); an exact reference then costs
# an `exact_dp` solve per `TwoStore-v1` episode (seconds to a minute each).
# The full setting stops instead, with the command that computes the file.

# %%
SMOKE_EPISODES = {"SingleStore-v0": 30, "SingleStoreExp-v1": 30, "SingleStoreWeibull-v1": 30,
                  "SingleStoreLarge-v0": 10, "Weekend-v0": 30, "TwoStore-v1": 3}
stored = references_path(full.path).is_file()
# the full setting needs the stored values (without them load_suite says which command computes them)
suite = load_suite(SUITE) if stored or not SMOKE else full
if SMOKE:
    suite = suite.subset(SMOKE_EPISODES)
if not stored:
    print(f"no {references_path(full.path).name}: measuring the floor and reference on the episodes played")
    suite = measure_references(suite)
source = suite.references.get("command", "?")
print(f"floor and reference values from: {source} (commit {suite.references.get('commit', 'n/a')})")
for s in suite.scenarios:
    print(f"{s.id:28s} {s.episodes:5d} episodes  floor {s.floor_value:10.2f}  "
          f"reference {s.reference_value:10.2f} ({s.reference_kind})")

# %% [markdown]
# ## Score it
#
# `run_suite` takes a label per method and a list of its runs
# `(name, factory)`.  `parse_policy_groups` reads the command line's
# `--policies` text (registered names, `module:factory`, `sb3:model.zip`);
# a method with several runs can also be built in Python, here with
# `functools.partial` for the training seeds.  Three methods:
#
# * `pace`: your rule, one run (it is deterministic: a *reference line*,
#   no confidence interval);
# * `tuned`: `Pace` tuned per scenario, 5 runs (training seeds 0-4);
# * `practitioner`: the floor itself.  It scores exactly 0 where the
#   yardstick was measured on the episodes played (the full setting, or
#   `measure_references`), and only about 0 on a subset scored against the
#   stored values: that gap is the smoke run's noise.

# %%
groups = parse_policy_groups("pace=my_policy:make_policy,practitioner")
groups["tuned"] = [(f"seed {k}", functools.partial(my_policy.tuned, seed=k)) for k in range(5)]
run = run_suite(suite, groups)
print(f"{len(run['rows'])} rows: one per (method, run, scenario)")

# %% [markdown]
# Each row holds the run's mean profit on the scenario, its normalised
# score and the MODEL.md section-7 metrics (revenue, costs, salvage, units
# sold, sell-through, ...).  The score is `liqenv.evaluation.scores.normalised_score`
# of the mean profit; by hand, for one row:

# %%
row = next(r for r in run["rows"] if r["policy"] == "pace")
s = next(x for x in suite.scenarios if x.id == row["scenario"])
print(f"{row['scenario']}: profit {row['profit']:.2f}, floor {s.floor_value:.2f}, reference {s.reference_value:.2f}")
print(f"score = ({row['profit']:.2f} - {s.floor_value:.2f}) / ({s.reference_value:.2f} - {s.floor_value:.2f}) "
      f"= {float(scores.normalised_score(row['profit'], s.floor_value, s.reference_value)):.3f}; "
      f"the row says {row['score']:.3f}")

# %% [markdown]
# ## The aggregates, with confidence intervals
#
# `suite_report` aggregates each method's `(runs, scenarios)` score matrix:
#
# * **mean** and **median** over scenarios (the median of each scenario's
#   mean over runs: one bad scenario does not drag it);
# * **IQM**, the interquartile mean: the mean of the middle 50% of all
#   run-scenario scores, robust to outliers yet less noisy than the median;
# * **optimality gap**: how far below the reference on average,
#   `mean(1 - min(score, 1))` (lower is better; beating the reference
#   earns nothing here).
#
# A method with several runs gets stratified-bootstrap 95% intervals:
# each replicate resamples the runs with replacement within each scenario,
# so the interval says how much the result depends on the training seed.
# Single-run policies (`pace`, `practitioner`) are points.  The report also
# holds the probability of improvement between each pair of methods with
# several runs (none here: only `tuned` has several).

# %%
out = Path(tempfile.mkdtemp(prefix="liqenv-suite-"))
report = suite_report(run, plot=out / "profile.png")
display(Markdown(format_suite_markdown(report)))

# %% [markdown]
# The last table is the per-scenario one: for each scenario the floor and
# the reference (with their profits; "best analytic" marks a
# `best-analytic` reference), and each method's mean score over its runs
# with its mean profit in brackets.  Read it before the aggregates: where
# does your rule lose?  `Pace` never closes a store, and on `TwoStore-v1`
# an open store pays its operating cost every period: compare its score
# there with the single-store ones.  A score below 0 is worse than the
# floor; a rule that fails badly on one or two scenarios drags its mean
# down while its median hardly moves, which is why the median and the IQM
# stand beside the mean.  And compare `tuned` with `pace` scenario by
# scenario: three training episodes are few, and a choice that won on them
# can lose on the suite's episodes.

# %%
for sid in [s.id for s in suite.scenarios]:
    mine = {r["policy"]: r for r in run["rows"] if r["scenario"] == sid and r["run"] == 0}
    print(f"{sid:28s} pace {mine['pace']['score']:7.3f} (sells {mine['pace']['sell_through']:4.0%})  "
          f"tuned, seed 0: {mine['tuned']['score']:7.3f} (sells {mine['tuned']['sell_through']:4.0%})")

# %% [markdown]
# ## The performance profile
#
# For each threshold τ, the share of run-scenario scores above τ: a curve
# further up and to the right is better, and the whole distribution shows,
# not one number.  Methods with several runs are solid curves, single-run
# policies dashed (`suite_report(..., plot=path)` wrote it).

# %%
display(Image(filename=str(out / "profile.png")))

# %% [markdown]
# ## Does one beat the other?
#
# The **probability of improvement** `P(X > Y)`: per scenario, the chance
# that a run of X scores above a run of Y (ties count one half), averaged
# over scenarios, with a stratified-bootstrap interval.  0.5 means no
# difference; an interval that excludes 0.5 is a difference the training
# seeds do not explain.  `score_matrix` gives any method's matrix, so X
# and Y can be two variants of yours or yours against a baseline (a
# single-run baseline is a `(1, scenarios)` matrix).

# %%
for a, b in [("tuned", "pace"), ("tuned", "practitioner"), ("pace", "practitioner")]:
    p = scores.probability_of_improvement(score_matrix(run, a), score_matrix(run, b))
    print(f"P({a} > {b}) = {p['value']:.2f}  [{p['lo']:.2f}, {p['hi']:.2f}]")

# %% [markdown]
# Only the runs of a method are resampled: a deterministic policy has no
# training seed to vary, so `pace > practitioner` has a zero-width
# interval.  It still depends on the evaluation episodes: each score is a
# mean over a finite number of them, and in smoke mode over very few.
#
# ## The same from the command line
#
# With `Pace` in `my_policy.py` (in the folder you run from, or any
# importable module), one command scores it on the whole suite and writes
# the Markdown, JSON (every row and aggregate) and CSV reports and the
# profile plot.  A factory takes only the env, so a method with several
# runs is given as its runs joined by `|` (e.g. one small factory per
# training seed, or one model zip per seed: `ppo=sb3:runs/s0/model.zip|sb3:runs/s1/model.zip`):
#
# ```bash
# python evaluate.py --suite liqenv-bench-v1 --policies 'pace=my_policy:make_policy,practitioner' \
#     --md out.md --json out.json --csv out.csv --plot profile.png --workers 2 --progress
# ```
#
# From Python, `write_suite_json(report, path)` and `write_suite_csv(report, path)`
# write the same files.  Ideas to try: close a store once it has sold out
# (`encode_action(close=...)`), tune the `step` too, or score the PPO agent
# of notebook 3 (`sb3:path/to/model.zip`) next to yours.
