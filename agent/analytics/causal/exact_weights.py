"""The exact optimum of the simplex-weight fit, by an active-set method.

Frank–Wolfe with the reference schedule stops early (Proposition 99's SC runs
into its 10,000-step cap), and the published figures are those of that early
stop.  This solver finds the minimiser itself of

    ζ²·‖w‖² + ‖A·w − b‖² / n   over  w ≥ 0, Σw = 1,

so a report can say how far the published schedule is from the optimum.  The
method is the simplex analogue of Lawson and Hanson's NNLS: keep a set of
free (positive) weights, solve the equality-constrained least squares on it,
step back to the boundary when a weight would turn negative, and free the
weight whose gradient is lowest until the KKT conditions hold.  Each solve is
a small least-squares problem in the weights' own columns (never the normal
equations), so a tiny ζ does not square the conditioning.
"""

from __future__ import annotations

import numpy as np

KKT_TOLERANCE = 1e-10
"""Reduced gradients above −tolerance × the problem's scale count as optimal."""


def exact_simplex_weights(a: np.ndarray, b: np.ndarray, zeta: float, *, intercept: bool) -> np.ndarray:
    """Weights ``w`` (k,) on the simplex minimising ``ζ²‖w‖² + ‖a @ w − b‖²/n`` (to rounding)."""
    d, ridge = _shifted(a, b, intercept, zeta)
    k = d.shape[1]
    column_cost = (d * d).sum(axis=0) + ridge**2
    free = [int(np.argmin(column_cost))]
    w = np.zeros(k)
    w[free[0]] = 1.0
    tolerance = KKT_TOLERANCE * float(column_cost.max())
    for _ in range(10 * k + 100):
        reduced = reduced_gradient(d, ridge, w)
        reduced[free] = 0.0
        entering = int(np.argmin(reduced))
        if reduced[entering] >= -tolerance:
            return w
        free.append(entering)
        w, free = _settle(d, ridge, w, free, entering)
        if entering not in free:  # rounding undid a step that must lower the objective: w is optimal to rounding
            return w
    raise RuntimeError("active-set solver did not converge")  # cannot happen: each pass lowers the objective


def reduced_gradient(d: np.ndarray, ridge: float, w: np.ndarray) -> np.ndarray:
    """Half-gradient of ``‖d w‖² + ridge²‖w‖²`` minus its weighted mean: ≥ 0 everywhere and 0 on the
    support exactly at the optimum (the KKT conditions on the simplex)."""
    gradient = d.T @ (d @ w) + ridge**2 * w
    return gradient - float(w @ gradient)


def objective(a: np.ndarray, b: np.ndarray, zeta: float, w: np.ndarray, *, intercept: bool) -> float:
    """``ζ²‖w‖² + ‖a @ w − b‖²/n`` (after centring when ``intercept``), the quantity both solvers minimise."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if intercept:
        a, b = a - a.mean(axis=0), b - b.mean()
    err = a @ w - b
    return zeta * zeta * float(w @ w) + float(err @ err) / len(b)


def _shifted(a: np.ndarray, b: np.ndarray, intercept: bool, zeta: float) -> tuple[np.ndarray, float]:
    """(D, ρ) with ``n·objective = ‖D w‖² + ρ²‖w‖²`` on the simplex: D = (A − b·1')/√n after centring."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.shape != (a.shape[0],) or a.size == 0:
        raise ValueError(f"a must be n x k and b of length n, got {a.shape} and {b.shape}")
    if intercept:
        a, b = a - a.mean(axis=0), b - b.mean()
    n = a.shape[0]
    return (a - b[:, None]) / np.sqrt(n), abs(float(zeta))


def _settle(d: np.ndarray, ridge: float, w: np.ndarray, free: list[int], entering: int) -> tuple[np.ndarray, list[int]]:
    """Move ``w`` to the constrained optimum on ``free``, dropping weights that would turn negative."""
    while True:
        v = _solve_on(d, ridge, free)
        if (v > 0).all():
            out = np.zeros_like(w)
            out[free] = v
            return out, free
        current = w[free]
        blocking = v <= 0
        ratios = np.full(len(free), np.inf)
        ratios[blocking] = current[blocking] / (current[blocking] - v[blocking])
        step = float(ratios.min())
        moved = current + step * (v - current)
        moved[ratios <= step] = 0.0  # the weights that reach zero first leave the free set
        w = np.zeros_like(w)
        w[free] = np.maximum(moved, 0.0)
        free = [j for j in free if w[j] > 0.0]
        if not free:  # cannot happen on the simplex; keep the last vertex rather than loop
            w[entering] = 1.0
            return w, [entering]
        w /= w.sum()


def _solve_on(d: np.ndarray, ridge: float, free: list[int]) -> np.ndarray:
    """Minimiser of ``‖D_F v‖² + ridge²‖v‖²`` with ``Σv = 1`` (signs unconstrained), by least squares
    in an orthonormal basis of the plane Σv = 0 around the uniform point."""
    m = len(free)
    uniform = np.full(m, 1.0 / m)
    if m == 1:
        return uniform
    basis = np.linalg.qr(np.ones((m, 1)), mode="complete")[0][:, 1:]  # m × (m−1), orthogonal to 1
    system = np.vstack([d[:, free], ridge * np.eye(m)]) if ridge > 0 else d[:, free]
    z = np.linalg.lstsq(system @ basis, -(system @ uniform), rcond=None)[0]
    return uniform + basis @ z
