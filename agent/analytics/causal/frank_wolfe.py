"""Non-negative weights that sum to one, by Frank–Wolfe: the solver of synthetic control and SDID.

Minimises ``ζ²·‖w‖² + ‖A·w − b‖² / n`` over the simplex (``A`` is n × k), the
regularised fit of Arkhangelsky et al. (2021).  The steps, the stopping rule
(objective decrease below ``min_decrease²``) and the start (uniform weights)
follow their reference implementation, because published estimates such as
Proposition 99's SC −19.62 are those of this solver, not of the exact optimum.

:func:`simplex_weights` runs the native solver (``agent._core.simplex_weights``,
cpp/src/simplex_weights.cpp), which takes each step in O(k) instead of O(n·k);
:func:`reference_simplex_weights` is the same iteration in numpy, kept as the
reference the native one is tested against (tests/unit/test_causal_solver.py).
"""

from __future__ import annotations

import numpy as np

from agent import _core


def simplex_weights(
    a: np.ndarray,
    b: np.ndarray,
    zeta: float,
    *,
    intercept: bool,
    start: np.ndarray | None = None,
    min_decrease: float = 1e-3,
    max_iter: int = 10_000,
) -> np.ndarray:
    """Weights ``w`` (k,) on the simplex making ``a @ w`` close to ``b`` (native).

    ``intercept``: centre the columns of ``a`` and ``b`` first, so a constant
    level difference costs nothing (the fit is of shapes, not levels).
    ``start`` must lie on the simplex; uniform weights when omitted.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    _check_shapes(a, b)
    w, _, _ = _core.simplex_weights(a, b, float(zeta), intercept, start, float(min_decrease), int(max_iter))
    return w


def reference_simplex_weights(
    a: np.ndarray,
    b: np.ndarray,
    zeta: float,
    *,
    intercept: bool,
    start: np.ndarray | None = None,
    min_decrease: float = 1e-3,
    max_iter: int = 10_000,
) -> np.ndarray:
    """:func:`simplex_weights` in numpy, step for step as the reference implementation writes it."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    _check_shapes(a, b)
    n, k = a.shape
    if intercept:
        a = a - a.mean(axis=0)
        b = b - b.mean()
    w = np.full(k, 1.0 / k) if start is None else np.asarray(start, dtype=np.float64).copy()
    eta = n * zeta * zeta
    previous = current = np.inf
    for t in range(max_iter):
        w = _step(a, b, w, eta)
        err = a @ w - b
        previous, current = current, zeta * zeta * float(w @ w) + float(err @ err) / n
        if t >= 1 and previous - current <= min_decrease * min_decrease:
            break
    return w


def _check_shapes(a: np.ndarray, b: np.ndarray) -> None:
    if a.ndim != 2 or b.shape != (a.shape[0],) or a.size == 0:
        raise ValueError(f"a must be n x k and b of length n, got {a.shape} and {b.shape}")


def _step(a: np.ndarray, b: np.ndarray, w: np.ndarray, eta: float) -> np.ndarray:
    """One Frank–Wolfe step towards the best vertex, with an exact line search."""
    aw = a @ w
    half_grad = (aw - b) @ a + eta * w
    i = int(np.argmin(half_grad))
    direction = -w.copy()
    direction[i] = 1.0 - w[i]
    if not direction.any():
        return w
    d_err = a[:, i] - aw
    denominator = float(d_err @ d_err) + eta * float(direction @ direction)
    if denominator <= 0.0:
        return w
    step = -float(half_grad @ direction) / denominator
    return w + min(1.0, max(0.0, step)) * direction


def sparsify(w: np.ndarray) -> np.ndarray:
    """Drop weights at or below a quarter of the largest and renormalise (the reference's second pass)."""
    w = np.where(w <= w.max() / 4.0, 0.0, w)
    return w / w.sum()
