"""Staggered adoption: one block estimate per adoption cohort, averaged.

When treated units adopt at different periods, the panel is split into
*cohorts* — the units that adopt in the same period — as in Arkhangelsky et
al. (2021, §8) and the synthdid/``sdid`` implementations:

1. Cohort g (adopting at period a_g) is estimated as a block panel: its own
   units as treated, periods before a_g as the pre-period, a_g to the end as
   the post-period, with any block estimator (``did``, ``sc``, ``sdid``, …).
2. The controls of every cohort are the **never-treated** units only.  Units
   that adopt later are untreated before their adoption, but including them
   would put treated periods of theirs in cohort g's post-window; units that
   adopted earlier are treated throughout and would compare treated with
   treated (the "forbidden comparisons" that bias two-way fixed effects with
   staggered adoption).  With never-treated controls every comparison is
   clean, and every cohort can use its whole window.
3. The cohort estimates are averaged with weights N_g·T_post,g, the number of
   treated unit-periods of each cohort, so the result is the average effect
   over all treated unit-periods (the same target as the block estimators).

Standard errors re-run the whole cohort procedure on each replication:

* ``placebo``: random never-treated units take the treated units' adoption
  periods; the rest stay controls.  Needs more never-treated units than
  treated ones; the only choice with a single treated unit.
* ``bootstrap``: resample units with replacement; a draw without a treated or
  without a never-treated unit is redrawn.  A draw may lose a small cohort,
  which is part of the sampling variation it measures.  Needs two treated units.
* ``jackknife``: leave one unit out at a time.  Leaving out the only unit of a
  cohort would change what is estimated, so every cohort needs two units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agent.analytics.causal.estimators import Estimate
from agent.analytics.causal.inference import (
    InferenceError,
    Interval,
    bootstrap_pick,
    check_reps,
    interval,
    jackknife_se,
    need_two_treated,
    replication_se,
    unknown_method,
)
from agent.analytics.causal.panel import Panel, StaggeredPanel

Estimator = Callable[[Panel], Estimate]


@dataclass(frozen=True)
class Cohort:
    """The units adopting in one period and their block estimate."""

    period: str
    """The cohort's first treated period."""
    n_treated: int
    n_post: int
    weight: float
    """N_g·T_post,g over the sum of these across cohorts."""
    estimate: Estimate
    """The block estimate, with its unit weights over the never-treated units and its time weights."""


@dataclass(frozen=True)
class StaggeredEstimate:
    method: str
    estimate: float
    cohorts: tuple[Cohort, ...]
    n_units: int
    n_treated: int
    n_periods: int
    n_pre: int
    """Periods before the earliest adoption."""

    @property
    def n_cohorts(self) -> int:
        return len(self.cohorts)

    def as_dict(self) -> dict[str, object]:
        return {
            "method": self.method, "estimate": self.estimate, "n_units": self.n_units,
            "n_treated": self.n_treated, "n_periods": self.n_periods, "n_pre": self.n_pre,
            "n_cohorts": self.n_cohorts,
            "cohorts": [{"period": c.period, "n_treated": c.n_treated, "n_post": c.n_post, "weight": c.weight,
                         "estimate": c.estimate.estimate} for c in self.cohorts],
        }


def cohort_panels(panel: StaggeredPanel) -> list[tuple[str, Panel]]:
    """One block panel per cohort: never-treated units as controls, the cohort's units as treated."""
    n0 = panel.n_control
    out = []
    for start, rows in panel.cohorts():
        keep = np.concatenate([np.arange(n0), rows])
        out.append((panel.periods[start], Panel(np.ascontiguousarray(panel.y[keep]),
                                                tuple(panel.units[i] for i in keep), panel.periods, n0, start)))
    return out


def staggered_estimate(panel: StaggeredPanel, estimator: Estimator) -> StaggeredEstimate:
    """``estimator`` on each cohort, averaged with weights N_g·T_post,g."""
    if panel.n_control < 1:
        raise InferenceError("staggered adoption needs at least one never-treated unit as a control")
    parts = [(period, estimator(block)) for period, block in cohort_panels(panel)]
    sizes = np.array([e.n_treated * (e.n_periods - e.n_pre) for _, e in parts], dtype=np.float64)
    weights = sizes / sizes.sum()
    cohorts = tuple(Cohort(period, e.n_treated, e.n_periods - e.n_pre, float(wt), e)
                    for (period, e), wt in zip(parts, weights, strict=True))
    tau = float(sum(c.weight * c.estimate.estimate for c in cohorts))
    return StaggeredEstimate(parts[0][1].method, tau, cohorts, panel.n_units, panel.n_treated, panel.n_periods,
                             int(panel.adoption[panel.n_control:].min()))


def staggered_standard_error(
    panel: StaggeredPanel, estimator: Estimator, method: str, *, reps: int = 200, seed: int = 0
) -> Interval:
    """The cohort-weighted estimate's standard error by ``method`` and the normal 95% interval."""
    check_reps(reps)
    estimate = staggered_estimate(panel, estimator).estimate
    rng = np.random.default_rng(seed)
    if method == "placebo":
        draws = _placebo(panel, estimator, reps, rng)
    elif method == "bootstrap":
        need_two_treated(panel.n_treated, method)
        draws = _bootstrap(panel, estimator, reps, rng)
    elif method == "jackknife":
        return interval(method, estimate, _jackknife_se(panel, estimator), panel.n_units)
    else:
        unknown_method(method)
    return interval(method, estimate, replication_se(draws), reps)


def _placebo(panel: StaggeredPanel, estimator: Estimator, reps: int, rng: np.random.Generator) -> np.ndarray:
    n0, n1 = panel.n_control, panel.n_treated
    if n0 <= n1:
        raise InferenceError(f"placebo standard errors need more never-treated units ({n0}) than treated ({n1})")
    controls = panel.y[:n0]
    adoption = np.concatenate([np.full(n0 - n1, panel.n_periods), panel.adoption[n0:]])
    out = np.empty(reps)
    for r in range(reps):
        out[r] = staggered_estimate(_resampled(panel, controls[rng.permutation(n0)], adoption), estimator).estimate
    return out


def _bootstrap(panel: StaggeredPanel, estimator: Estimator, reps: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty(reps)
    for r in range(reps):
        pick = bootstrap_pick(rng, panel.n_units, panel.n_control, controls="never-treated")
        out[r] = staggered_estimate(_resampled(panel, panel.y[pick], panel.adoption[pick]), estimator).estimate
    return out


def _jackknife_se(panel: StaggeredPanel, estimator: Estimator) -> float:
    small = [(panel.periods[start], len(rows)) for start, rows in panel.cohorts() if len(rows) < 2]
    if small:
        period, _ = small[0]
        raise InferenceError(f"jackknife standard errors need at least two units in every adoption cohort; the "
                             f"cohort adopting in period {period!r} has one (leaving it out drops the cohort); "
                             "use placebo or bootstrap")
    if panel.n_control < 2:
        raise InferenceError("jackknife standard errors need at least two never-treated units")
    n = panel.n_units
    keep = np.ones(n, dtype=bool)
    draws = np.empty(n)
    for i in range(n):
        keep[i] = False
        draws[i] = staggered_estimate(_resampled(panel, panel.y[keep], panel.adoption[keep]), estimator).estimate
        keep[i] = True
    return jackknife_se(draws)


def _resampled(panel: StaggeredPanel, y: np.ndarray, adoption: np.ndarray) -> StaggeredPanel:
    """Rows ``y`` with adoption periods ``adoption`` (never-treated first); unit names are positions."""
    never = adoption >= panel.n_periods
    order = np.argsort(np.where(never, -1, adoption), kind="stable")
    n_control = int(never.sum())
    units = tuple(f"unit{i}" for i in range(len(y)))
    return StaggeredPanel(np.ascontiguousarray(y[order]), units, panel.periods, adoption[order], n_control)
