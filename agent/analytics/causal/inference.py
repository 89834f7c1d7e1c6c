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
from typing import NoReturn

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
    check_reps(reps)
    estimate = estimator(panel).estimate
    rng = np.random.default_rng(seed)
    if method == "placebo":
        draws = _placebo(panel, estimator, reps, rng, native)
    elif method == "bootstrap":
        need_two_treated(panel.n_treated, method)
        draws = _bootstrap(panel, estimator, reps, rng)
    elif method == "jackknife":
        need_two_treated(panel.n_treated, method)
        return interval("jackknife", estimate, _jackknife_se(panel, estimator), panel.n_units)
    else:
        unknown_method(method)
    return interval(method, estimate, replication_se(draws), reps)


# -- shared with the staggered procedure (staggered.py) ---------------------------


def check_reps(reps: int) -> None:
    if reps < 2:
        raise InferenceError(f"--reps must be at least 2, got {reps}")


def unknown_method(method: str) -> NoReturn:
    raise InferenceError(f"unknown standard error {method!r}; use placebo, bootstrap or jackknife")


def interval(method: str, estimate: float, se: float, replications: int) -> Interval:
    """The normal 95% interval around ``estimate``."""
    return Interval(method, se, estimate - Z_95 * se, estimate + Z_95 * se, replications)


def need_two_treated(n_treated: int, method: str) -> None:
    if n_treated < 2:
        raise InferenceError(
            f"{method} standard errors need at least two treated units (this panel has {n_treated}); use placebo"
        )


def replication_se(draws: np.ndarray) -> float:
    """The spread of placebo or bootstrap estimates, with the (r−1)/r factor of Arkhangelsky et al."""
    reps = len(draws)
    return math.sqrt((reps - 1) / reps) * float(np.std(draws, ddof=1))


def jackknife_se(draws: np.ndarray) -> float:
    """The jackknife standard error of the leave-one-out estimates ``draws``."""
    n = len(draws)
    return math.sqrt((n - 1) / n * float(((draws - draws.mean()) ** 2).sum()))


def bootstrap_pick(rng: np.random.Generator, n_units: int, n_control: int, controls: str = "control") -> np.ndarray:
    """Unit indices drawn with replacement, sorted, with at least one control and one treated unit."""
    for _ in range(MAX_REDRAWS):
        pick = np.sort(rng.integers(0, n_units, n_units))
        drawn_controls = int((pick < n_control).sum())
        if 0 < drawn_controls < n_units:
            return pick
    raise InferenceError(f"could not draw a bootstrap sample with both treated and {controls} units")


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
        pick = bootstrap_pick(rng, panel.n_units, panel.n_control)
        out[r] = estimator(_subpanel(panel, panel.y[pick], int((pick < panel.n_control).sum()))).estimate
    return out


def _jackknife_se(panel: Panel, estimator: Callable[[Panel], Estimate]) -> float:
    n = panel.n_units
    keep = np.ones(n, dtype=bool)
    draws = np.empty(n)
    for i in range(n):
        keep[i] = False
        draws[i] = estimator(_subpanel(panel, panel.y[keep], panel.n_control - (i < panel.n_control))).estimate
        keep[i] = True
    return jackknife_se(draws)


def _subpanel(panel: Panel, y: np.ndarray, n_control: int) -> Panel:
    """Rows ``y`` (controls first) with the first ``n_control`` as controls; same periods and adoption."""
    units = tuple(f"unit{i}" for i in range(len(y)))
    return Panel(np.ascontiguousarray(y), units, panel.periods, n_control, panel.n_pre)
