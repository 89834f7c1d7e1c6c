"""``edgewise savings``: effect estimates with standard errors from a long-format panel CSV."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from agent.analytics.causal.estimators import METHODS
from agent.analytics.causal.inference import InferenceError, standard_error
from agent.analytics.causal.panel import PanelError, load_long_csv

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


def savings_main(o: SavingsOptions) -> int:
    """Exit 0 with the results, 2 with one line on stderr when the panel or the request cannot be."""
    try:
        panel = load_long_csv(o.panel, unit=o.unit, time=o.time, outcome=o.outcome, treated=o.treated)
        names = list(METHODS) if o.method == "all" else [o.method]
        rows = [_row(panel, name, o) for name in names]
    except (PanelError, InferenceError) as exc:
        print(f"edgewise savings: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(rows) if o.json else _table(rows, o))
    return 0


def _row(panel: object, name: str, o: SavingsOptions) -> dict[str, object]:
    estimator = METHODS[name]
    result = estimator(panel)  # type: ignore[arg-type]
    interval = standard_error(panel, estimator, o.se, reps=o.reps, seed=o.seed)  # type: ignore[arg-type]
    return {**result.as_dict(), "se": interval.se, "se_method": o.se, "ci_low": interval.ci_low,
            "ci_high": interval.ci_high, "replications": interval.replications, "seed": o.seed}


def _table(rows: list[dict[str, object]], o: SavingsOptions) -> str:
    first = rows[0]
    lines = [
        f"{o.panel}: {first['n_units']} units ({first['n_treated']} treated), {first['n_periods']} periods"
        f" ({first['n_pre']} before treatment); {o.se} standard errors, {o.reps} replications, seed {o.seed}",
        "",
        f"  {'method':<14}{'estimate':>11}{'se':>10}{'95% interval':>26}",
    ]
    for r in rows:
        lines.append(f"  {r['method']:<14}{r['estimate']:>11.3f}{r['se']:>10.3f}"
                     f"{'':>4}[{r['ci_low']:>9.3f}, {r['ci_high']:>9.3f}]")
    return "\n".join(lines)
