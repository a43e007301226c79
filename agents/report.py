"""Figures and the markdown report that ``train.py`` writes into its ``--out`` folder.

* :func:`plot_learning_curve`: PPO's validation profit against training
  steps, each baseline (same validation episodes) a horizontal line.
* :func:`plot_policy`: the price a policy posts against units on hand and
  periods left (single-store scenarios), PPO next to SDP.
* :func:`write_report`: the comparison table, the run's settings and the
  commands that reproduce it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

__all__ = ["plot_learning_curve", "policy_table", "plot_policy", "write_report"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_learning_curve(curve: Sequence[Mapping[str, float]], baselines: Mapping[str, Mapping[str, Any]],
                        path: str | Path, title: str) -> None:
    """``curve``: ``[{"timesteps", "mean", "ci95"}, ...]``; ``baselines``: label -> result dict."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if curve:
        x = np.array([c["timesteps"] for c in curve], float)
        y = np.array([c["mean"] for c in curve], float)
        e = np.array([c.get("ci95") or 0.0 for c in curve], float)
        ax.plot(x, y, "o-", color="black", lw=1.8, ms=3, label="PPO (deterministic)")
        ax.fill_between(x, y - e, y + e, color="black", alpha=0.15, lw=0)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    k = 0
    for lab, r in baselines.items():
        if "mean" not in r:
            continue
        ax.axhline(r["mean"], ls="--", lw=1.2, color=colors[k % len(colors)], label=lab)
        k += 1
    ax.set_xlabel("training steps")
    ax.set_ylabel("mean profit per episode (validation seeds)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _grid_state(env: Any, t: int, units: np.ndarray, markdown: np.ndarray, last_sold: np.ndarray) -> np.ndarray:
    """Observations of a single store in period ``t`` with the given units, last markdown and sales."""
    from liqenv import dynamics as dyn

    u = env.unwrapped
    B = len(units)
    copies = np.zeros(B, dtype=np.int64) if u.params.C > 1 else None
    state = dyn.reset_state(u.params, np.zeros(B, dtype=np.uint64), copies)
    state.t[:] = t
    state.on_hand[:, 0] = units
    if t > 0:
        state.markdown[:, 0] = markdown
        state.last_sold[:, 0] = last_sold
        state.hold[:, 0] = 1
    return u.obs_layout.encode(u.params, state, copies)


def policy_table(env: Any, act: Callable[[np.ndarray], Any], max_points: int = 101
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``(units, prices)``: the price ``act`` posts with ``units`` on hand in each period (T, len(units)).

    The observation also holds last period's markdown and sales, which the
    (units, period) grid does not fix; they are set on the path the policy
    itself would follow: last sales = the units sold so far spread evenly
    over the periods played, ``round((N - units) / t)``, and last markdown =
    the policy's own choice one period earlier with those units more on hand.
    A masked policy (MaskablePPO) reads its mask from ``env``, which is
    reset first if it has no episode yet (a single store's mask allows
    every price then).
    """
    u = env.unwrapped
    if u.state is None:
        env.reset(seed=0)
    sc = u.scenario
    N, T = int(sc.total_inventory), int(sc.horizon)
    lp = float(sc.list_price[0])
    units = np.unique(np.linspace(0, N, min(N + 1, max_points)).round().astype(np.int64))
    prices = np.empty((T, len(units)))
    prev_md = np.zeros(len(units))
    for t in range(T):
        sold = np.zeros(len(units), np.int64) if t == 0 else np.rint((N - units) / t).astype(np.int64)
        before = np.minimum(units + sold, N)
        md = prev_md[np.abs(units[None, :] - before[:, None]).argmin(1)]
        obs = _grid_state(env, t, units, md, sold)
        for j in range(len(units)):
            a = np.asarray(act(obs[j])).reshape(-1)
            prices[t, j] = float(a[0]) if u.action_layout.kind == "box" else (1.0 - sc.ladder[int(a[0])]) * lp
        prev_md = 1.0 - prices[t] / lp
    return units, prices


def plot_policy(env: Any, policies: Mapping[str, Callable[[np.ndarray], Any]], path: str | Path,
                title: str) -> bool:
    """Heat maps of the price each policy posts (:func:`policy_table`); False for multi-store scenarios."""
    u = env.unwrapped
    if u.scenario.n_stores != 1 or not policies:
        return False
    plt = _plt()
    n = len(policies)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n + 0.8, 3.8), squeeze=False)
    cap = float(u.scenario.price_cap)
    T = int(u.scenario.horizon)
    im = None
    for ax, (lab, act) in zip(axes[0], policies.items()):
        units, prices = policy_table(env, act)
        # rows t = 0..T-1 flipped so that the y axis reads periods left 1..T
        im = ax.imshow(prices[::-1], origin="lower", aspect="auto", cmap="viridis", vmin=0.0, vmax=cap,
                       extent=(units[0], units[-1], 0.5, T + 0.5))
        ax.set_yticks(np.arange(1, T + 1, max(1, T // 10)))
        ax.set_title(lab, fontsize=10)
        ax.set_xlabel("units on hand")
        ax.set_ylabel("periods left (this one included)")
    fig.colorbar(im, ax=axes[0].tolist(), label="price posted")
    fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(path: str | Path, *, scenario: str, table: str, command: str, settings: Mapping[str, Any],
                 notes: Sequence[str], figures: Sequence[str]) -> None:
    """``report.md``: the command, the table, the notes, the settings and the figures."""
    lines = [f"# PPO on {scenario}", "", f"Command: `{command}`", "", table, ""]
    lines += [f"- {n}" for n in notes]
    lines += ["", "## Settings", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | `{v}` |" for k, v in settings.items()]
    for f in figures:
        lines += ["", f"![{Path(f).stem}]({f})"]
    Path(path).write_text("\n".join(lines) + "\n")
