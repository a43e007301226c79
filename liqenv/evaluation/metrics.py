"""Per-episode outcomes of a policy: the metrics of MODEL.md section 7, as arrays.

:class:`EpisodeMetrics` holds one array per metric, one entry per episode in
episode order; it is what every report (tables, JSON, normalised scores)
reads.  :class:`EpisodeTotals` builds it while episodes play, from the
env's own per-step terms and end-of-episode ``info`` (``profit``,
``sell_through``, ``net_recovery_on_cost``, ``units_salvaged``, computed by
``liqenv.env.build_info``), so the harness holds no second copy of those
definitions; it only adds up the per-period terms.  :class:`EpisodeLog`
does the same for episodes played one at a time on a single env.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping, Sequence

import numpy as np

from .stats import ci_halfwidth

__all__ = ["EpisodeMetrics", "EpisodeTotals", "EpisodeLog", "METRICS"]

#: The per-period terms of the reward identity (MODEL.md section 5), summed over an episode.
STEP_TERMS = ("revenue", "operating_cost", "holding_cost", "transfer_cost", "salvage_value")
#: What the env reports at an episode's end (``info``).
END_TERMS = ("profit", "sell_through", "net_recovery_on_cost", "units_salvaged")


@dataclass(frozen=True)
class EpisodeMetrics:
    """One entry per episode (episode order) for each metric of MODEL.md section 7.

    ``profit = revenue - operating_cost - holding_cost - transfer_cost +
    salvage_value``; ``sell_through`` is the share of the initial units sold
    to customers; ``net_recovery_on_cost = profit / (initial units * unit_cost)``.
    """

    profit: np.ndarray
    revenue: np.ndarray
    operating_cost: np.ndarray
    holding_cost: np.ndarray
    transfer_cost: np.ndarray
    salvage_value: np.ndarray
    units_sold: np.ndarray
    units_salvaged: np.ndarray
    sell_through: np.ndarray
    net_recovery_on_cost: np.ndarray

    @property
    def episodes(self) -> int:
        return int(self.profit.shape[0])

    @classmethod
    def concat(cls, parts: Sequence["EpisodeMetrics"]) -> "EpisodeMetrics":
        """The episodes of ``parts`` one after the other (pass them in episode order)."""
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                      for f in fields(cls)})

    def means(self) -> dict[str, float]:
        """Metric name -> mean over the episodes."""
        return {f.name: float(getattr(self, f.name).mean()) for f in fields(self)}

    def summary(self) -> dict[str, dict[str, float]]:
        """Metric name -> ``{"mean", "ci95"}`` over the episodes (Student-t
        half-width, NaN for one episode): what a results file carries of
        each section 7 metric."""
        return {f.name: {"mean": float(getattr(self, f.name).mean()),
                         "ci95": ci_halfwidth(getattr(self, f.name))} for f in fields(self)}


#: Metric names in :class:`EpisodeMetrics` order.
METRICS = tuple(f.name for f in fields(EpisodeMetrics))


class EpisodeTotals:
    """Adds up the per-period terms of ``n`` episodes played side by side (a batch)."""

    def __init__(self, n: int):
        self.sums = {k: np.zeros(n) for k in STEP_TERMS}
        self.units_sold = np.zeros(n, dtype=np.int64)

    def add_step(self, result: Any) -> None:
        """Add one period of the batch: ``result`` is its ``StepResult`` ((n,) arrays of
        :data:`STEP_TERMS`, ``sold`` (n, S))."""
        for k, v in self.sums.items():
            v += getattr(result, k)
        self.units_sold += np.asarray(result.sold).sum(axis=-1)

    def finish(self, end_infos: Sequence[Mapping[str, Any]]) -> EpisodeMetrics:
        """The metrics, given each copy's final env ``info`` (in order)."""
        end = {k: np.array([info[k] for info in end_infos]) for k in END_TERMS}
        return EpisodeMetrics(units_sold=self.units_sold.copy(), **end,
                              **{k: v.copy() for k, v in self.sums.items()})


class EpisodeLog:
    """Collects the episodes of one env played one after the other.

    Adds up in the same order as :class:`EpisodeTotals` (period by period,
    in float64), so both give the same numbers to the last digit.
    """

    def __init__(self):
        self.steps: list[Mapping[str, Any]] = []
        self.rows: list[tuple] = []

    def add_step(self, info: Mapping[str, Any]) -> None:
        """One period's env ``info``."""
        self.steps.append(info)

    def end_episode(self) -> None:
        """Close the episode whose last ``info`` was added last."""
        sums = [0.0] * len(STEP_TERMS)
        for info in self.steps:
            for j, k in enumerate(STEP_TERMS):
                sums[j] += info[k]
        sold = int(np.concatenate([info["sold"] for info in self.steps]).sum())
        end = self.steps[-1]
        self.rows.append((*sums, sold, *(end[k] for k in END_TERMS)))
        self.steps = []

    def metrics(self) -> EpisodeMetrics:
        cols = list(zip(*self.rows)) if self.rows else [()] * (len(STEP_TERMS) + 1 + len(END_TERMS))
        names = (*STEP_TERMS, "units_sold", *END_TERMS)
        arrays = {k: np.array(c, dtype=np.int64 if k.startswith("units_") else float)
                  for k, c in zip(names, cols)}
        return EpisodeMetrics(**arrays)
