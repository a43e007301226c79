"""Exercise 3 (reference solution): the markdowns the business rules allow."""

from __future__ import annotations

import numpy as np

from liqenv import MarkdownRules

TOL = 1e-9


def feasible_markdowns(obs: dict, rules: MarkdownRules) -> np.ndarray:
    ladder = np.asarray(rules.ladder)
    # the observation is float32: snap the current markdown back onto the ladder
    cur = float(ladder[np.argmin(np.abs(ladder - obs["markdown"][0]))])
    if int(obs["t"]) == 0:
        lo = -np.inf if rules.initial_min is None else rules.initial_min
        hi = np.inf if rules.initial_max is None else rules.initial_max
        return (ladder >= lo - TOL) & (ladder <= hi + TOL)
    same = np.abs(ladder - cur) <= TOL
    held = int(obs["held"][0]) if "held" in obs else 1  # the layout drops `held` when min_hold is 1
    may_change = held >= rules.min_hold
    if rules.max_changes is not None:
        may_change = may_change and int(obs["changes_left"][0]) > 0
    if not may_change:
        return same
    step = ladder - cur if rules.monotone else np.abs(ladder - cur)
    step_max = np.inf if rules.step_max is None else rules.step_max
    return same | ((step >= rules.step_min - TOL) & (step <= step_max + TOL))
