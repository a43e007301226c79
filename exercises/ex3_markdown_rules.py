"""Exercise 3: which markdowns do the business rules allow?

Retail markdown rules (MODEL.md section 2; ``liqenv.MarkdownRules``):

* period 0: the first markdown lies in ``[initial_min, initial_max]``
  (``None``: no bound);
* later, keeping the current markdown is always allowed; a change is
  allowed only when the current level has been held at least ``min_hold``
  periods and, if ``max_changes`` is set, changes are left; its size lies in
  ``[step_min, step_max]`` (``step_max`` ``None``: no bound), and with
  ``monotone`` it must go up (a deeper markdown), otherwise either way.

Task: :func:`feasible_markdowns` returns, for one store, a boolean array
over ``rules.ladder`` (20 levels) saying which markdowns may be posted now.
``obs`` is ``env.unwrapped.decode_observation(observation)``: per-store
entries are arrays with one element (``obs["markdown"][0]``), ``obs["t"]``
is the period; ``obs["held"]`` (periods the current level has been held)
is there only when ``min_hold > 1`` and ``obs["changes_left"]`` only when
``max_changes`` is set.  Observations are float32: compare markdowns with a
tolerance (1e-9 after snapping to the ladder).

Check: ``python -m pytest exercises/checks/test_ex3_markdown_rules.py``: your
mask must equal the env's ``env.unwrapped.action_masks()`` on states of
random episodes under random rules.
"""

from __future__ import annotations

import numpy as np

from liqenv import MarkdownRules


def feasible_markdowns(obs: dict, rules: MarkdownRules) -> np.ndarray:
    """Boolean mask over ``rules.ladder``: the markdowns allowed now."""
    raise NotImplementedError("exercise 3: feasible_markdowns")
