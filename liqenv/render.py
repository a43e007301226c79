"""Rendering, kept out of the dynamics: a text table and a matplotlib dashboard
(matplotlib is optional: imported only when an ``rgb_array`` frame is drawn)."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
from gymnasium.error import DependencyNotInstalled

from .scenario import NO_CLOSE, Scenario

__all__ = ["ansi_table", "dashboard", "require_matplotlib"]


def ansi_table(sc: Scenario, params: Any, state: Any, b: int = 0) -> str:
    """A per-store text table of copy ``b``: on hand, in transit, markdown, price, status."""
    if state is None:
        return f"{sc.name}: not reset\n"
    t = int(state.t[b])
    lines = [f"{sc.name}  period {t}/{sc.horizon}  profit so far {state.profit_total[b]:.2f}",
             f"{'store':<8}{'on hand':>9}{'transit':>9}{'markdown':>10}{'price':>8}{'sold':>7}  status"]
    lp = params.rows(params.list_price, None)[0 if params.C == 1 else b]
    for s, st in enumerate(sc.stores):
        closed = state.close_at[b, s] <= t
        ann = state.close_at[b, s] != NO_CLOSE and not closed
        status = "closed" if closed else (f"closing@{state.close_at[b, s]}" if ann else "open")
        if st.is_dc:
            status = "DC " + status
        md = state.markdown[b, s]
        lines.append(f"{st.name:<8}{state.on_hand[b, s]:>9d}{state.pipeline[b, s].sum():>9d}"
                     f"{md:>9.0%} {(1 - md) * lp[s]:>8.3f}{state.last_sold[b, s]:>7d}  {status}")
    return "\n".join(lines) + "\n"


def require_matplotlib() -> None:
    """Fail clearly when ``render_mode="rgb_array"`` is asked for without matplotlib
    (an optional dependency: the ``[plot]`` extra)."""
    if importlib.util.find_spec("matplotlib") is None:
        raise DependencyNotInstalled('render_mode="rgb_array" draws with matplotlib, which is not '
                                     'installed: pip install -e ".[plot]" (or pip install matplotlib)')


def dashboard(sc: Scenario, history: list[dict[str, np.ndarray]]) -> np.ndarray:
    """An RGB array: inventory, price and sales per store over time."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=80)
    S = sc.n_stores
    if history:
        t = np.arange(len(history))
        for key, ax, title in (("on_hand", axes[0], "on hand (units)"), ("price", axes[1], "price"),
                               ("sold", axes[2], "sold (units)")):
            y = np.stack([h[key] for h in history])
            for s in range(min(S, 12)):
                if sc.stores[s].is_dc and key != "on_hand":
                    continue
                ax.plot(t, y[:, s], lw=1.2, label=sc.stores[s].name)
            ax.set_title(title)
            ax.set_xlabel(sc.period_unit)
            ax.set_xlim(0, sc.horizon - 1)
        if S <= 12:
            axes[0].legend(fontsize=6, ncol=2)
    else:
        for ax in axes:
            ax.set_axis_off()
        axes[1].text(0.5, 0.5, "no periods played yet", ha="center")
    fig.suptitle(sc.name)
    fig.tight_layout()
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return img
