"""The doubly weighted estimator (TROP, Athey, Imbens, Qu and Viviano 2025), for a block adoption.

Two-way fixed effects plus a low-rank term, fitted by weighted least squares
with a nuclear-norm penalty on the untreated cells, where each cell (j, s)
weighs ``ω_j · θ_s``:

* ``θ_s = exp(−λ_time · dist(s))``, ``dist(s)`` the number of periods from s
  to the first treated period (0 from then on): recent periods count more,
  because outcomes are correlated over time and exchangeability of periods is
  the assumption the article says fails;
* ``ω_j = exp(−λ_unit · d_j / d̃)``, ``d_j`` the root-mean-square gap between
  unit j's pre-period outcomes and the treated units' average, ``d̃`` the
  median of the controls' ``d_j`` (so λ_unit has no units); treated units
  weigh 1;
* the low-rank term's penalty is ``λ_nn`` times the smallest penalty at which
  it vanishes (∞: no low-rank term).

The effect is the mean over the treated post cells of ``Y − α̂ − β̂ − L̂``.
(λ_time, λ_unit, λ_nn) = (0, 0, ∞) is DID; (0, 0, finite) is matrix completion.

The tuple is chosen by leave-one-out on control units: each of up to
``PSEUDO_UNITS`` controls (a seeded choice) in turn plays the treated units,
with its post periods hidden and the weights recomputed around it; its
pseudo-effect should be zero, and the tuple with the least sum of squared
pseudo-effects wins.  The search cycles over the three coordinates from DID
outwards, as the paper's Algorithm 1 does, rather than trying the whole grid.

Simplified from the paper (docs/savings.md): one fit for the whole treated
block, with distances to the treated average and to the first treated period,
instead of one fit per treated cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from agent.analytics.causal.estimators import Estimate
from agent.analytics.causal.matrix_completion import (
    MAX_ITERATIONS, TOLERANCE, TUNING_ITERATIONS, TUNING_TOLERANCE, largest_penalty, low_rank_fit, need_two_controls,
    two_way_fit,
)
from agent.analytics.causal.panel import Panel

TIME_GRID = (0.0, 0.1, 0.2, 0.4, 0.8, 1.6)
"""λ_time, per period."""
UNIT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
"""λ_unit, per median control distance."""
NN_GRID = (math.inf, 1 / 2, 1 / 4, 1 / 8, 1 / 16)
"""λ_nn, as a fraction of the penalty at which the low-rank term vanishes."""
PSEUDO_UNITS = 10
MAX_CYCLES = 3


@dataclass(frozen=True)
class Tuning:
    time: float
    unit: float
    nn: float


@dataclass(frozen=True)
class TropFit:
    estimate: Estimate
    tuning: Tuning
    loo_error: float
    """Mean squared pseudo-effect of the chosen tuning (nan when it was given)."""
    fitted: np.ndarray


def trop(panel: Panel, *, tuning: Tuning | None = None, seed: int = 0) -> Estimate:
    """The effect on the treated; ``tuning=None`` chooses (λ_time, λ_unit, λ_nn) by leave-one-out on controls."""
    return trop_fit(panel, tuning=tuning, seed=seed).estimate


def trop_fit(panel: Panel, *, tuning: Tuning | None = None, seed: int = 0) -> TropFit:
    need_two_controls(panel, "trop")
    loo_error = math.nan
    if tuning is None:
        tuning, loo_error = choose_tuning(panel, seed)
    n0, t0 = panel.n_control, panel.n_pre
    targets = np.arange(n0, panel.n_units)
    hidden = np.zeros(panel.y.shape, dtype=bool)
    hidden[n0:, t0:] = True
    omega, theta = weights(panel.y, targets, t0, tuning)
    fitted = _fit(panel.y, omega, theta, hidden, tuning.nn)
    tau = float(np.mean((panel.y - fitted)[n0:, t0:]))
    estimate = Estimate("trop", tau, omega[:n0] / omega[:n0].sum(), theta[:t0] / theta[:t0].sum(),
                        panel.n_units, panel.n_treated, panel.n_periods, t0)
    return TropFit(estimate, tuning, loo_error, fitted)


def weights(y: np.ndarray, targets: np.ndarray, n_pre: int, tuning: Tuning) -> tuple[np.ndarray, np.ndarray]:
    """(ω over all units, θ over all periods) around the ``targets`` rows; the targets weigh 1."""
    distance = np.sqrt(np.mean((y[:, :n_pre] - y[targets, :n_pre].mean(axis=0)) ** 2, axis=1))
    others = np.setdiff1d(np.arange(len(y)), targets)
    scale = float(np.median(distance[others]))
    if scale <= 0.0:
        scale = float(distance[others].max()) or 1.0
    omega = np.exp(-tuning.unit * distance / scale)
    omega[targets] = 1.0
    theta = np.exp(-tuning.time * np.maximum(n_pre - np.arange(y.shape[1]), 0))
    return omega, theta


def choose_tuning(panel: Panel, seed: int) -> tuple[Tuning, float]:
    """Coordinate search over the grids for the tuning with the least mean squared pseudo-effect."""
    pseudo = _pseudo_units(panel, seed)
    cache: dict[tuple[float, float, float], float] = {}
    starts: dict[int, np.ndarray] = {}  # each pseudo unit's last low-rank fit, to warm-start its next

    def loss(point: tuple[float, float, float]) -> float:
        if point not in cache:
            cache[point] = _pseudo_error(panel, pseudo, Tuning(*point), starts)
        return cache[point]

    point = (0.0, 0.0, math.inf)
    grids = (TIME_GRID, UNIT_GRID, NN_GRID)
    for _ in range(MAX_CYCLES):
        before = point
        for axis, grid in enumerate(grids):
            candidates = [point[:axis] + (value,) + point[axis + 1:] for value in grid]
            point = min(candidates, key=loss)  # first minimum: the grid's earlier, simpler value among ties
        if point == before:
            break
    return Tuning(*point), loss(point)


def loo_error(panel: Panel, tuning: Tuning, *, seed: int = 0) -> float:
    """The leave-one-out criterion of one tuning: mean squared pseudo-effect over the pseudo-treated controls."""
    return _pseudo_error(panel, _pseudo_units(panel, seed), tuning, {})


def _pseudo_units(panel: Panel, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).permutation(panel.n_control)[:PSEUDO_UNITS])


def _pseudo_error(panel: Panel, pseudo: np.ndarray, tuning: Tuning, starts: dict[int, np.ndarray]) -> float:
    """Mean over the pseudo-treated controls of their squared pseudo-effect (truly zero)."""
    n0, t0 = panel.n_control, panel.n_pre
    hidden = np.zeros(panel.y.shape, dtype=bool)
    hidden[n0:, t0:] = True
    total = 0.0
    for j in pseudo.tolist():
        hidden[j, t0:] = True
        omega, theta = weights(panel.y, np.array([j]), t0, tuning)
        fitted = _fit(panel.y, omega, theta, hidden, tuning.nn, start=starts.get(j), tol=TUNING_TOLERANCE,
                      max_iter=TUNING_ITERATIONS)
        if not math.isinf(tuning.nn):
            starts[j] = fitted
        total += float(np.mean(panel.y[j, t0:] - fitted[j, t0:])) ** 2
        hidden[j, t0:] = False
    return total / len(pseudo)


def _fit(y: np.ndarray, omega: np.ndarray, theta: np.ndarray, hidden: np.ndarray, nn: float, *,
         start: np.ndarray | None = None, tol: float = TOLERANCE, max_iter: int = MAX_ITERATIONS) -> np.ndarray:
    """α + β (+ L) fitted with cell weights ω_j·θ_s, zero on the hidden cells; ``start``: a nearby fit."""
    w = np.where(hidden, 0.0, np.outer(omega, theta))
    two_way = two_way_fit(y, w)
    if math.isinf(nn):
        return two_way
    return low_rank_fit(y, w, nn * largest_penalty(y, w, two_way), start=two_way if start is None else start,
                        tol=tol, max_iter=max_iter).fitted
