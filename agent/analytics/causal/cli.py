"""``edgewise savings``: effect estimates with standard errors from a long-format panel CSV."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from agent.analytics.causal.estimators import METHODS, Estimate
from agent.analytics.causal.inference import InferenceError, Interval, standard_error
from agent.analytics.causal.panel import (
    Panel,
    PanelError,
    StaggeredPanel,
    load_long_csv,
)
from agent.analytics.causal.staggered import (
    StaggeredEstimate,
    staggered_estimate,
    staggered_standard_error,
)

SE_METHODS = ("placebo", "bootstrap", "jackknife")


@dataclass(frozen=True)
class SavingsOptions:
    panel: Path
    unit: str
    time: str
    outcome: str
    treated: str
    method: str = "all"
    se: str = "placebo"
    reps: int = 200
    seed: int = 0
    json: bool = False
    plot: Path | None = None


def savings_main(o: SavingsOptions) -> int:
    """Exit 0 with the results, 2 with one line on stderr when the panel or the request cannot be."""
    try:
        if o.plot is not None:
            from agent.analytics.causal.plot import require_matplotlib

            require_matplotlib()
        panel = load_long_csv(o.panel, unit=o.unit, time=o.time, outcome=o.outcome, treated=o.treated)
        names = list(METHODS) if o.method == "all" else [o.method]
        results = [_estimate(panel, name) for name in names]
        rows = [_row(panel, name, result, o) for name, result in zip(names, results, strict=True)]
        if o.plot is not None:
            from agent.analytics.causal.plot import plot_counterfactuals

            plot_counterfactuals(panel, results, o.plot, outcome=o.outcome)
    except (PanelError, InferenceError, OSError, RuntimeError) as exc:
        print(f"edgewise savings: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(rows) if o.json else _table(rows, o))
    return 0


def _estimate(panel: Panel | StaggeredPanel, name: str) -> Estimate | StaggeredEstimate:
    if isinstance(panel, StaggeredPanel):
        return staggered_estimate(panel, METHODS[name])
    return METHODS[name](panel)


def _interval(panel: Panel | StaggeredPanel, name: str, o: SavingsOptions) -> Interval:
    if isinstance(panel, StaggeredPanel):
        return staggered_standard_error(panel, METHODS[name], o.se, reps=o.reps, seed=o.seed)
    return standard_error(panel, METHODS[name], o.se, reps=o.reps, seed=o.seed)


def _row(panel: Panel | StaggeredPanel, name: str, result: Estimate | StaggeredEstimate,
         o: SavingsOptions) -> dict[str, object]:
    interval = _interval(panel, name, o)
    cohorts = {} if isinstance(result, StaggeredEstimate) else {"n_cohorts": 1}
    return {**result.as_dict(), **cohorts, "se": interval.se, "se_method": o.se, "ci_low": interval.ci_low,
            "ci_high": interval.ci_high, "replications": interval.replications, "seed": o.seed}


def _table(rows: list[dict[str, object]], o: SavingsOptions) -> str:
    first = rows[0]
    before = (f"{first['n_pre']} before treatment" if first["n_cohorts"] == 1 else
              f"{first['n_cohorts']} adoption cohorts, {first['n_pre']} before the first")
    lines = [
        (f"{o.panel}: {first['n_units']} units ({first['n_treated']} treated), {first['n_periods']} periods"
         f" ({before}); {o.se} standard errors, {o.reps} replications, seed {o.seed}"),
        "",
        f"  {'method':<14}{'estimate':>11}{'se':>10}{'95% interval':>26}",
    ]
    for r in rows:
        lines.append(f"  {r['method']:<14}{r['estimate']:>11.3f}{r['se']:>10.3f}"
                     f"{'':>4}[{r['ci_low']:>9.3f}, {r['ci_high']:>9.3f}]")
        for c in r.get("cohorts", []):  # type: ignore[attr-defined]
            lines.append(f"    adopting {c['period']}: {c['n_treated']} units, {c['n_post']} periods after, "
                         f"estimate {c['estimate']:.3f}, weight {c['weight']:.3f}")
    return "\n".join(lines)
