"""Normalised scores and their aggregates across scenarios and training seeds.

A policy's **normalised score** on a suite scenario is
``(profit - floor) / (reference - floor)``: 0 is the floor policy (a simple
rule), 1 the reference (the exact optimum where one exists, else the best
analytic policy).  A learned method trained with several seeds gives a
score matrix of shape ``(runs, scenarios)``; the aggregates follow
Agarwal et al. (2021), "Deep RL at the edge of the statistical precipice"
(the definitions of the ``rliable`` library):

* ``mean`` and ``median`` (the median over scenarios of the per-scenario
  mean over runs), the interquartile mean ``iqm`` (the mean of the middle
  50% of all run-scenario scores) and the ``optimality_gap``
  (``mean(1 - min(score, 1))``: how far below the reference on average);
* 95% percentile intervals from a **stratified bootstrap**: each
  replicate resamples the runs with replacement independently within each
  scenario;
* the **probability of improvement** ``P(X > Y)`` of method X over Y,
  per scenario the Mann-Whitney statistic over the two sets of runs (ties
  count one half), averaged over scenarios, with a stratified bootstrap of
  both methods;
* the **performance profile**: the share of run-scenario scores above each
  threshold ``tau``.

``rliable`` 1.2.0 itself cannot be imported next to the project's
dependencies (its dependency ``arch`` fails on import with current pandas),
and ``scipy.stats.bootstrap`` has no stratified resampling, so the
computations are written here in NumPy, a few lines each.  A policy with a
single run (a deterministic analytic policy) is a reference line: its
aggregates are points, not bootstrapped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy import stats

__all__ = ["normalised_score", "AGGREGATES", "aggregate", "stratified_bootstrap_ci",
           "aggregate_with_ci", "probability_of_improvement", "performance_profile",
           "plot_performance_profiles"]


def normalised_score(profit, floor: float, reference: float):
    """``(profit - floor) / (reference - floor)``; ``ValueError`` unless ``reference > floor``."""
    if not (np.isfinite(floor) and np.isfinite(reference)) or reference <= floor:
        raise ValueError(f"reference={reference!r}, floor={floor!r}: the reference must exceed the floor "
                         "for a normalised score")
    return (np.asarray(profit, float) - floor) / (reference - floor)


def _matrix(scores) -> np.ndarray:
    x = np.asarray(scores, float)
    if x.ndim != 2 or x.size == 0 or not np.isfinite(x).all():
        raise ValueError(f"scores: expected a finite (runs, scenarios) matrix, got shape {x.shape}")
    return x


def _mean(x: np.ndarray) -> float:
    return float(x.mean())


def _median(x: np.ndarray) -> float:
    return float(np.median(x.mean(axis=0)))


def _iqm(x: np.ndarray) -> float:
    return float(stats.trim_mean(x, 0.25, axis=None))


def _optimality_gap(x: np.ndarray, gamma: float = 1.0) -> float:
    return float(gamma - np.minimum(x, gamma).mean())


#: Aggregate name -> function of a (runs, scenarios) score matrix.
AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {
    "mean": _mean, "median": _median, "iqm": _iqm, "optimality_gap": _optimality_gap,
}


def aggregate(scores) -> dict[str, float]:
    """Every aggregate of :data:`AGGREGATES` for a ``(runs, scenarios)`` score matrix."""
    x = _matrix(scores)
    return {k: f(x) for k, f in AGGREGATES.items()}


def _resample(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # runs resampled with replacement, independently within each scenario (column)
    n, m = x.shape
    idx = rng.integers(0, n, size=(n, m))
    return np.take_along_axis(x, idx, axis=0)


def stratified_bootstrap_ci(scores, statistic: Callable[[np.ndarray], float], reps: int = 2000,
                            level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of ``statistic`` under the stratified bootstrap of the runs."""
    x = _matrix(scores)
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(_resample(x, rng)) for _ in range(reps)])
    a = (1 - level) / 2
    return float(np.quantile(draws, a)), float(np.quantile(draws, 1 - a))


def aggregate_with_ci(scores, reps: int = 2000, level: float = 0.95,
                      seed: int = 0) -> dict[str, dict[str, float | None]]:
    """``{name: {"value", "lo", "hi"}}`` for each aggregate; no interval for a single run."""
    x = _matrix(scores)
    out = {}
    for name, f in AGGREGATES.items():
        lo = hi = None
        if x.shape[0] > 1:
            lo, hi = stratified_bootstrap_ci(x, f, reps, level, seed)
        out[name] = {"value": f(x), "lo": lo, "hi": hi}
    return out


def _poi(x: np.ndarray, y: np.ndarray) -> float:
    # per scenario P(X > Y) + P(X = Y)/2 over all run pairs, averaged over scenarios
    gt = (x[:, None, :] > y[None, :, :]).mean(axis=(0, 1))
    eq = (x[:, None, :] == y[None, :, :]).mean(axis=(0, 1))
    return float((gt + 0.5 * eq).mean())


def probability_of_improvement(x_scores, y_scores, reps: int = 2000, level: float = 0.95,
                               seed: int = 0) -> dict[str, float]:
    """``P(X > Y)`` for two methods' ``(runs, scenarios)`` matrices (same scenarios), with its interval."""
    x, y = _matrix(x_scores), _matrix(y_scores)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"scores: the methods cover {x.shape[1]} and {y.shape[1]} scenarios")
    rng = np.random.default_rng(seed)
    draws = np.array([_poi(_resample(x, rng), _resample(y, rng)) for _ in range(reps)])
    a = (1 - level) / 2
    return {"value": _poi(x, y), "lo": float(np.quantile(draws, a)), "hi": float(np.quantile(draws, 1 - a))}


def performance_profile(scores, taus: Sequence[float]) -> np.ndarray:
    """Share of run-scenario scores strictly above each ``tau``."""
    x = _matrix(scores)
    return np.array([(x > t).mean() for t in taus])


def plot_performance_profiles(profiles: Mapping[str, np.ndarray], path, taus: Sequence[float] | None = None,
                              lines: Mapping[str, np.ndarray] | None = None) -> None:
    """Write a performance-profile figure: learned methods as curves, analytic policies dashed.

    ``profiles`` and ``lines`` map labels to score matrices (matplotlib is imported here,
    only when a figure is asked for).  The figure is drawn without pyplot,
    so the caller's backend (a notebook's inline plots) is left as it was.
    """
    from matplotlib.figure import Figure

    taus = np.linspace(-0.5, 1.5, 201) if taus is None else np.asarray(taus, float)
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for lab, x in profiles.items():
        ax.plot(taus, performance_profile(x, taus), label=lab)
    for lab, x in (lines or {}).items():
        ax.plot(taus, performance_profile(x, taus), "--", label=lab)
    ax.set_xlabel(r"normalised score $\tau$ (0 = floor, 1 = reference)")
    ax.set_ylabel(r"share of runs x scenarios with score > $\tau$")
    ax.legend(fontsize="small")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
