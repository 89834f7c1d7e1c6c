"""Matrix completion with two-way fixed effects (Athey et al. 2021), and the weighted solver TROP shares.

The untreated outcomes are modelled as ``Y = α·1' + 1·β' + L + noise`` with
``L`` of low rank; the treated cells after adoption are missing.  The fit
minimises

    Σ w_it (Y_it − α_i − β_t − L_it)² + λ·‖L‖_*

with ``w`` = 1 on the untreated cells and 0 on the treated ones (``trop``
passes graded weights in [0, 1] instead).  The fixed effects are not
penalised, so λ only decides how much interactive structure — the factor
part that two-way effects cannot absorb — is kept; λ is chosen by
cross-validation that hides whole post-period blocks of control units,
because a block is what the estimator has to fill in.

Solver: accelerated proximal gradient (FISTA with gradient restart) on the fitted
matrix ``F = α + β + L``.  With weights at most 1 the gradient step is the
soft-impute fill-in ``F + w·(Y − F)``, and the proximal step splits it exactly:
its row and column means become the fixed effects, and its double-centred
part is soft-thresholded in singular values at λ/2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from agent.analytics.causal.estimators import Estimate, did
from agent.analytics.causal.panel import Panel, PanelError

MAX_ITERATIONS = 1000
TOLERANCE = 1e-8
"""Stop when a step changes the fit by less than this fraction of its size."""
PENALTY_STEPS = 8
"""The λ grid: λ_max · 2^-k for k = 0 … 7; λ_max is the smallest penalty with L = 0 (plain two-way effects)."""
FOLDS = 5
TUNING_ITERATIONS = 100
TUNING_TOLERANCE = 1e-6
"""Looser than the final fit's: ranking the tuning values needs far less precision."""


@dataclass(frozen=True)
class LowRankFit:
    fitted: np.ndarray
    """α_i + β_t + L_it for every cell, observed or not."""
    low_rank: np.ndarray
    """L: double-centred, so the fixed effects stay in α and β."""
    penalty: float
    iterations: int


@dataclass(frozen=True)
class MCFit:
    estimate: Estimate
    fit: LowRankFit
    penalty_grid: np.ndarray
    cv_error: np.ndarray
    """Mean squared error on the hidden control blocks, one per grid value."""


def mc(panel: Panel, *, penalty: float | None = None, seed: int = 0) -> Estimate:
    """The effect on the treated by matrix completion; ``penalty=None`` chooses λ by cross-validation."""
    return mc_fit(panel, penalty=penalty, seed=seed).estimate


def mc_fit(panel: Panel, *, penalty: float | None = None, seed: int = 0) -> MCFit:
    """:func:`mc` with what it fitted: L̂, the λ grid and each λ's cross-validation error.

    The estimate is DID on ``Y − L̂``: given L̂, the fixed effects are least
    squares on the untreated cells, which for a block adoption is exactly the
    difference of four means.  So ``unit_weights`` and ``time_weights`` are
    uniform — they weight ``Y − L̂``, not ``Y``.
    """
    need_two_controls(panel, "mc")
    observed = untreated(panel)
    if penalty is None:
        grid, errors = cross_validate(panel, seed)
        penalty = float(grid[int(np.argmin(errors))])  # first minimum: the largest λ among ties
    else:
        grid, errors = np.array([penalty]), np.array([np.nan])
    fit = low_rank_fit(panel.y, observed.astype(np.float64), penalty)
    result = did(replace(panel, y=panel.y - fit.low_rank))
    return MCFit(replace(result, method="mc"), fit, grid, errors)


def untreated(panel: Panel) -> np.ndarray:
    """True on the cells whose untreated outcome is observed: everything but the treated block."""
    mask = np.ones(panel.y.shape, dtype=bool)
    mask[panel.n_control:, panel.n_pre:] = False
    return mask


def cross_validate(panel: Panel, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(λ grid, mean squared error of each λ) over folds that each hide the post periods of some controls.

    The grid is walked from the largest λ down, every fold warm-starting from
    its previous fit; the walk stops once the error has risen twice in a row
    (the untried, smaller λ get ``inf``), because small penalties cost the most
    iterations and past the minimum they only overfit.
    """
    observed = untreated(panel)
    grid = largest_penalty(panel.y, observed.astype(np.float64)) * 2.0 ** -np.arange(PENALTY_STEPS)
    order = np.random.default_rng(seed).permutation(panel.n_control)
    folds = np.array_split(order, min(FOLDS, panel.n_control))
    masks = []
    for hidden in folds:
        mask = observed.copy()
        mask[hidden, panel.n_pre:] = False
        masks.append(mask.astype(np.float64))
    starts: list[np.ndarray | None] = [None] * len(folds)
    errors = np.full(len(grid), np.inf)
    for k, lam in enumerate(grid):
        total = 0.0
        for f, (hidden, mask) in enumerate(zip(folds, masks)):
            fit = low_rank_fit(panel.y, mask, float(lam), start=starts[f],
                               max_iter=TUNING_ITERATIONS, tol=TUNING_TOLERANCE)
            starts[f] = fit.fitted
            total += float(np.mean((fit.fitted[hidden, panel.n_pre:] - panel.y[hidden, panel.n_pre:]) ** 2))
        errors[k] = total / len(folds)
        if k >= 2 and errors[k] > errors[k - 1] > errors[k - 2]:
            break
    return grid, errors


def two_way_fit(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """α_i + β_t by weighted least squares on the cells with weight > 0 (the λ = ∞ fit)."""
    n, t = y.shape
    wy = w * y
    normal = np.block([[np.diag(w.sum(axis=1)), w], [w.T, np.diag(w.sum(axis=0))]])
    rhs = np.concatenate([wy.sum(axis=1), wy.sum(axis=0)])
    effects = np.linalg.lstsq(normal, rhs, rcond=None)[0]  # singular by one: α + c, β − c fit alike
    return effects[:n, None] + effects[None, n:]


def largest_penalty(y: np.ndarray, w: np.ndarray, fitted: np.ndarray | None = None) -> float:
    """The smallest λ at which L = 0 is optimal: twice the top singular value of the filled-in residual.

    ``fitted``: the two-way fit of ``y`` with weights ``w``, if already computed.
    """
    fitted = two_way_fit(y, w) if fitted is None else fitted
    filled = _double_centre(fitted + w * (y - fitted))
    return 2.0 * float(np.linalg.norm(filled, 2))


def low_rank_fit(
    y: np.ndarray, w: np.ndarray, penalty: float, *, start: np.ndarray | None = None,
    max_iter: int = MAX_ITERATIONS, tol: float = TOLERANCE,
) -> LowRankFit:
    """Minimise Σ w (y − α − β − L)² + penalty·‖L‖_* for weights ``w`` in [0, 1].

    Cells with weight 0 never reach the fit, so their values may be anything finite.
    """
    if start is None:
        start = two_way_fit(y, w)
    threshold = penalty / 2.0
    centre_rows, centre_columns = _centring(y.shape[0]), _centring(y.shape[1])
    f = momentum_point = start
    t = 1.0
    for iteration in range(1, max_iter + 1):
        g = momentum_point + w * (y - momentum_point)
        centred = centre_rows @ g @ centre_columns
        u, s, vt = _svd(centred)
        s -= threshold
        rank = int(np.count_nonzero(s > 0))  # singular values come sorted, largest first
        candidate = g - centred + (u[:, :rank] * s[:rank]) @ vt[:rank]
        change = candidate - f
        if float(np.vdot(momentum_point - candidate, change)) > 0.0:
            t = 1.0  # the momentum points uphill: drop it (gradient restart, O'Donoghue and Candès 2015)
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        momentum_point = candidate + ((t - 1.0) / t_next) * change
        f, t = candidate, t_next
        if float(np.vdot(change, change)) <= tol * tol * max(float(np.vdot(f, f)), 1e-300):
            break
    return LowRankFit(f, _double_centre(f), penalty, iteration)


def _svd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD.  LAPACK's divide-and-conquer routine occasionally fails to converge on an ordinary
    matrix (one placebo panel of Proposition 99 in 200 did); the transpose then goes through."""
    try:
        return np.linalg.svd(x, full_matrices=False)
    except np.linalg.LinAlgError:
        v, s, ut = np.linalg.svd(x.T, full_matrices=False)
        return ut.T, s, v.T


def _centring(n: int) -> np.ndarray:
    return np.eye(n) - 1.0 / n


def _double_centre(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + x.mean()


def need_two_controls(panel: Panel, method: str) -> None:
    if panel.n_control < 2:
        raise PanelError(f"{method} needs at least two control units to choose its tuning (some are held out), "
                         f"this panel has {panel.n_control}")
