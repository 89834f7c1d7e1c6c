"""Standard errors and 95% intervals for the point estimators, each where it is valid.

* ``placebo`` (Arkhangelsky et al. 2021, Algorithm 4): pretend that randomly
  chosen control units adopted at the same time; the spread of the estimates
  on those placebo panels is the standard error.  Valid with a single treated
  unit — the only method that is — provided the controls outnumber the treated.
* ``bootstrap`` (Algorithm 2): resample units with replacement and re-estimate;
  draws without a treated or without a control unit are redrawn.  Needs at
  least two treated units.
* ``jackknife`` (Algorithm 3): leave one unit out at a time.  Needs at least
  two treated units.

All take a seed, so a report can be reproduced.  Placebo replications of SC,
SC with intercept and SDID run in one native call, in threads
(:func:`~.estimators.placebo_estimates`); the draws are the same numpy draws
as the Python loop's, which stays as the reference (``native=False``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agent.analytics.causal.estimators import NATIVE_PLACEBO, Estimate, placebo_estimates
from agent.analytics.causal.panel import Panel

Z_95 = 1.959963984540054
MAX_REDRAWS = 1000


class InferenceError(ValueError):
    """The standard error asked for is not valid for this panel; the message says why and what is."""


@dataclass(frozen=True)
class Interval:
    method: str
    se: float
    ci_low: float
    ci_high: float
    replications: int


def standard_error(
    panel: Panel, estimator: Callable[[Panel], Estimate], method: str, *, reps: int = 200, seed: int = 0,
    native: bool = True,
) -> Interval:
    """The estimate's standard error by ``method`` and the normal 95% interval around it.

    ``native=False`` runs every placebo replication through ``estimator`` in
    Python even where a native batch exists: the reference the batch is tested
    against, and what the benchmark times with the numpy solver.
    """
    if reps < 2:
        raise InferenceError(f"--reps must be at least 2, got {reps}")
    estimate = estimator(panel).estimate
    rng = np.random.default_rng(seed)
    if method == "placebo":
        draws = _placebo(panel, estimator, reps, rng, native)
    elif method == "bootstrap":
        _need_two_treated(panel, method)
        draws = _bootstrap(panel, estimator, reps, rng)
    elif method == "jackknife":
        _need_two_treated(panel, method)
        return _interval("jackknife", estimate, _jackknife_se(panel, estimator), panel.n_units)
    else:
        raise InferenceError(f"unknown standard error {method!r}; use placebo, bootstrap or jackknife")
    se = math.sqrt((reps - 1) / reps) * float(np.std(draws, ddof=1))
    return _interval(method, estimate, se, reps)


def _interval(method: str, estimate: float, se: float, replications: int) -> Interval:
    return Interval(method, se, estimate - Z_95 * se, estimate + Z_95 * se, replications)


def _need_two_treated(panel: Panel, method: str) -> None:
    if panel.n_treated < 2:
        raise InferenceError(
            f"{method} standard errors need at least two treated units (this panel has {panel.n_treated}); "
            "use placebo"
        )


def _placebo(panel: Panel, estimator: Callable[[Panel], Estimate], reps: int, rng: np.random.Generator,
             native: bool) -> np.ndarray:
    """Replication r: the controls in a random order, the last ``n_treated`` of them playing the treated."""
    n0, n1 = panel.n_control, panel.n_treated
    if n0 <= n1:
        raise InferenceError(f"placebo standard errors need more control units ({n0}) than treated ({n1})")
    orders = np.stack([rng.permutation(n0) for _ in range(reps)])
    if native and estimator in NATIVE_PLACEBO:
        return placebo_estimates(panel, estimator, orders, threads=_cpus())
    controls = panel.y[:n0]
    return np.array([estimator(_subpanel(panel, controls[order], n0 - n1)).estimate for order in orders])


def _cpus() -> int:
    """CPUs this process may run on: replications are independent, so each can have one."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _bootstrap(panel: Panel, estimator: Callable[[Panel], Estimate], reps: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty(reps)
    for r in range(reps):
        for _ in range(MAX_REDRAWS):
            pick = np.sort(rng.integers(0, panel.n_units, panel.n_units))
            n_control = int((pick < panel.n_control).sum())
            if 0 < n_control < panel.n_units:
                break
        else:
            raise InferenceError("could not draw a bootstrap sample with both treated and control units")
        out[r] = estimator(_subpanel(panel, panel.y[pick], n_control)).estimate
    return out


def _jackknife_se(panel: Panel, estimator: Callable[[Panel], Estimate]) -> float:
    n = panel.n_units
    keep = np.ones(n, dtype=bool)
    draws = np.empty(n)
    for i in range(n):
        keep[i] = False
        draws[i] = estimator(_subpanel(panel, panel.y[keep], panel.n_control - (i < panel.n_control))).estimate
        keep[i] = True
    return math.sqrt((n - 1) / n * float(((draws - draws.mean()) ** 2).sum()))


def _subpanel(panel: Panel, y: np.ndarray, n_control: int) -> Panel:
    """Rows ``y`` (controls first) with the first ``n_control`` as controls; same periods and adoption."""
    units = tuple(f"unit{i}" for i in range(len(y)))
    return Panel(np.ascontiguousarray(y), units, panel.periods, n_control, panel.n_pre)
