"""Statistics of an evaluation: t confidence intervals and paired comparisons.

Every policy plays the same episodes (common random numbers), so the
difference of two policies' profits is taken episode by episode and its
interval is much narrower than the two unpaired ones.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

__all__ = ["ci_halfwidth", "paired_comparisons"]


def ci_halfwidth(x: Sequence[float], level: float = 0.95) -> float:
    """Half-width of the Student-t confidence interval of the mean of ``x``.

    ``t_{(1+level)/2, n-1} * s / sqrt(n)`` with the sample standard deviation
    ``s`` (ddof=1); NaN for fewer than two values.
    """
    x = np.asarray(x, float)
    n = x.size
    if n < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))


def paired_comparisons(profits: Mapping[str, np.ndarray], reference: str = "sdp") -> dict[str, dict]:
    """Per label: the comparison with the best policy (highest mean) and with ``reference``.

    ``best``, ``share_of_best``, ``share_of_sdp`` (mean over the mean of the
    policy labelled ``reference``; None without it or when it is 0),
    ``diff_to_best`` (mean paired difference) and its t half-width
    ``diff_to_best_ci95``, and the per-episode ``profits`` as a list.
    """
    if not profits:
        return {}
    best = max(profits, key=lambda k: profits[k].mean())
    b = profits[best].mean()
    ref = profits[reference].mean() if reference in profits else None
    out = {}
    for lab, x in profits.items():
        d = x - profits[best]
        out[lab] = {
            "best": best,
            "share_of_best": float(x.mean() / b) if b != 0 else None,
            "share_of_sdp": float(x.mean() / ref) if ref not in (None, 0) else None,
            "diff_to_best": float(d.mean()),
            "diff_to_best_ci95": ci_halfwidth(d),
            "profits": x.tolist(),
        }
    return out
