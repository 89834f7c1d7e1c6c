"""``edgewise savings --plot``: the treated units' average beside each estimated counterfactual.

The counterfactual drawn for a method is its weighted control average,
Σ ω_i y_i,t, shifted so that its mean gap to the treated average after
adoption is the method's estimate.  For ``did``, ``sc``, ``sc-intercept`` and
``sdid`` that shift is exactly the one in their formula (λ-weighted pre-period
gap), so the picture is the estimator.  ``mc`` and ``trop`` adjust for more
than a weighted average (a low-rank term, post-period control weights); for
them the line shows the controls they weight, placed at their estimate.

matplotlib is an optional extra (``pip install edgewise[plot]``): the gateway
itself never draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.analytics.causal.estimators import Estimate
from agent.analytics.causal.panel import Panel, StaggeredPanel
from agent.analytics.causal.staggered import StaggeredEstimate, cohort_panels

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MAX_TICKS = 12


def require_matplotlib() -> None:
    """Fail before any work is done when the plot cannot be drawn."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'edgewise[plot]' (or python3 -m pip install "
                           "matplotlib)") from None


def counterfactual(panel: Panel, result: Estimate) -> np.ndarray:
    """The method's counterfactual for the treated average, one value per period (see the module doc)."""
    n0, t0 = panel.n_control, panel.n_pre
    omega = result.unit_weights if len(result.unit_weights) == n0 else np.full(n0, 1.0 / n0)
    synthetic = omega @ panel.y[:n0]
    treated = panel.y[n0:].mean(axis=0)
    shift = treated[t0:].mean() - result.estimate - synthetic[t0:].mean()
    return synthetic + shift


def plot_counterfactuals(panel: Panel | StaggeredPanel, results: Sequence[Estimate | StaggeredEstimate],
                         path: Path, *, outcome: str = "outcome") -> None:
    """One axes per adoption cohort (one for a block panel), written to ``path`` as PNG."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a gateway or a CI runner
    import matplotlib.pyplot as plt

    blocks = _blocks(panel, results)
    fig, axes = plt.subplots(len(blocks), 1, figsize=(9, 3.6 * len(blocks)), squeeze=False)
    for ax, (title, block, estimates) in zip(axes[:, 0], blocks, strict=True):
        _draw(ax, block, estimates, title, outcome)
    fig.tight_layout()
    try:
        fig.savefig(path, format="png", dpi=100)
    finally:
        plt.close(fig)


def _blocks(panel: Panel | StaggeredPanel,
            results: Sequence[Estimate | StaggeredEstimate]) -> list[tuple[str, Panel, list[Estimate]]]:
    if isinstance(panel, Panel):
        return [("", panel, [r for r in results if isinstance(r, Estimate)])]
    staggered = [r for r in results if isinstance(r, StaggeredEstimate)]
    return [(f"cohort adopting {period} ({block.n_treated} units)", block, [r.cohorts[i].estimate for r in staggered])
            for i, (period, block) in enumerate(cohort_panels(panel))]


def _draw(ax: Axes, panel: Panel, estimates: list[Estimate], title: str, outcome: str) -> None:
    x = np.arange(panel.n_periods)
    ax.plot(x, panel.y[panel.n_control:].mean(axis=0), color="black", linewidth=2,
            label=f"treated average ({panel.n_treated})")
    for result in estimates:
        ax.plot(x, counterfactual(panel, result), linewidth=1.2, linestyle="--",
                label=f"{result.method} counterfactual (effect {result.estimate:+.3g})")
    ax.axvline(panel.n_pre - 0.5, color="grey", linestyle=":", label="adoption")
    step = max(1, panel.n_periods // MAX_TICKS)
    ax.set_xticks(x[::step], [panel.periods[i] for i in x[::step]], rotation=45, ha="right")
    ax.set_ylabel(outcome)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
