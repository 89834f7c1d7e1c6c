"""Point estimates of the effect on the treated: DID, SC, SC with intercept, SDID.

All four are the same weighted double difference with different weights
(Arkhangelsky et al. 2021):

    τ = (ȳ_treated,post − ω'·y_control,post) − (λ'·y_treated,pre − ω'·Y_control,pre·λ)

* ``did``: uniform unit weights ω and uniform pre-period weights λ;
* ``sc``: ω fitted to the treated pre-period path (no intercept, ζ ≈ 0), λ = 0
  — the synthetic control's post-period gap;
* ``sc-intercept`` (DIFP): ω fitted with an intercept (shapes, not levels),
  uniform λ — synthetic control corrected by its pre-period level gap;
* ``sdid``: ω with intercept and ζ_ω = (N_treated·T_post)^¼·σ̂, λ with
  intercept and ζ_λ = 10⁻⁶·σ̂, where σ̂ is the standard deviation of the
  controls' first differences in the pre-period.

Weights come from :func:`~.frank_wolfe.simplex_weights` with the reference
implementation's schedule: 100 iterations, drop weights below a quarter of the
largest, then iterate to convergence.  ``solver="exact"`` solves the same
weighted fit to its optimum instead (:mod:`~.exact_weights`), to show how far
the published schedule's early stop moves an estimate.

:func:`placebo_estimates` runs the same SC, SC-with-intercept and SDID fits on
a whole batch of placebo panels in one native call (cpp/src/weighted_did.cpp);
these Python functions stay the reference it is tested against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agent import _core
from agent.analytics.causal.exact_weights import exact_simplex_weights
from agent.analytics.causal.frank_wolfe import simplex_weights, sparsify
from agent.analytics.causal.panel import Panel

FIRST_PASS_ITERATIONS = 100
MAX_ITERATIONS = 10_000
TINY_ETA = 1e-6
MIN_DECREASE_PER_SIGMA = 1e-5
"""The stopping rule's min_decrease in units of σ̂ (the reference's 1e-5·σ̂)."""
SOLVERS = ("frank-wolfe", "exact")
"""Weight solvers: the reference Frank–Wolfe schedule (the default; published figures) or the exact optimum."""


@dataclass(frozen=True)
class Estimate:
    method: str
    estimate: float
    unit_weights: np.ndarray
    """ω over the control units, in the panel's order."""
    time_weights: np.ndarray
    """λ over the pre-treatment periods."""
    n_units: int
    n_treated: int
    n_periods: int
    n_pre: int

    def as_dict(self) -> dict[str, object]:
        return {"method": self.method, "estimate": self.estimate, "n_units": self.n_units,
                "n_treated": self.n_treated, "n_periods": self.n_periods, "n_pre": self.n_pre}


def did(panel: Panel) -> Estimate:
    n0, t0 = panel.n_control, panel.n_pre
    return _estimate("did", panel, np.full(n0, 1.0 / n0), np.full(t0, 1.0 / t0))


def sc(panel: Panel, *, solver: str = "frank-wolfe") -> Estimate:
    omega = _unit_weights(_Collapsed.of(panel), TINY_ETA, intercept=False, solver=solver)
    return _estimate("sc", panel, omega, np.zeros(panel.n_pre))


def sc_intercept(panel: Panel, *, solver: str = "frank-wolfe") -> Estimate:
    omega = _unit_weights(_Collapsed.of(panel), TINY_ETA, intercept=True, solver=solver)
    return _estimate("sc-intercept", panel, omega, np.full(panel.n_pre, 1.0 / panel.n_pre))


def sdid(panel: Panel, *, solver: str = "frank-wolfe") -> Estimate:
    c = _Collapsed.of(panel)
    eta_omega = (panel.n_treated * (panel.n_periods - panel.n_pre)) ** 0.25
    omega = _unit_weights(c, eta_omega, intercept=True, solver=solver)
    return _estimate("sdid", panel, omega, _time_weights(c, solver))


def noise_level(panel: Panel) -> float:
    """σ̂: standard deviation of the controls' period-to-period changes before treatment."""
    return float(np.std(np.diff(panel.y[: panel.n_control, : panel.n_pre], axis=1), ddof=1))


@dataclass(frozen=True)
class _Collapsed:
    """What both weight fits of one panel start from, computed once per fit: σ̂ and the collapsed panel."""

    sigma: float
    matrix: np.ndarray
    """(controls + 1) × (pre + 1): controls' pre values and post mean; last row the treated mean."""
    n_control: int
    n_pre: int

    @classmethod
    def of(cls, panel: Panel) -> _Collapsed:
        y, n0, t0 = panel.y, panel.n_control, panel.n_pre
        top = np.column_stack([y[:n0, :t0], y[:n0, t0:].mean(axis=1)])
        bottom = np.append(y[n0:, :t0].mean(axis=0), y[n0:, t0:].mean())
        return cls(noise_level(panel), np.vstack([top, bottom]), n0, t0)


def _fit(a: np.ndarray, b: np.ndarray, zeta: float, intercept: bool, min_decrease: float,
         solver: str = "frank-wolfe") -> np.ndarray:
    if solver == "exact":
        return exact_simplex_weights(a, b, zeta, intercept=intercept)
    if solver != "frank-wolfe":
        raise ValueError(f"unknown weight solver {solver!r}; use one of {', '.join(SOLVERS)}")
    first = simplex_weights(a, b, zeta, intercept=intercept, min_decrease=min_decrease,
                            max_iter=FIRST_PASS_ITERATIONS)
    return simplex_weights(a, b, zeta, intercept=intercept, start=sparsify(first), min_decrease=min_decrease,
                           max_iter=MAX_ITERATIONS)


def _unit_weights(c: _Collapsed, eta: float, *, intercept: bool, solver: str = "frank-wolfe") -> np.ndarray:
    pre = c.matrix[:, : c.n_pre].T  # periods × (controls + treated mean)
    return _fit(pre[:, :-1], pre[:, -1], eta * c.sigma, intercept, MIN_DECREASE_PER_SIGMA * c.sigma, solver)


def _time_weights(c: _Collapsed, solver: str = "frank-wolfe") -> np.ndarray:
    controls = c.matrix[: c.n_control]
    return _fit(controls[:, :-1], controls[:, -1], TINY_ETA * c.sigma, True, MIN_DECREASE_PER_SIGMA * c.sigma, solver)


def _estimate(method: str, panel: Panel, omega: np.ndarray, lam: np.ndarray) -> Estimate:
    n1, t1 = panel.n_treated, panel.n_periods - panel.n_pre
    unit = np.append(-omega, np.full(n1, 1.0 / n1))
    time = np.append(-lam, np.full(t1, 1.0 / t1))
    tau = float(unit @ panel.y @ time)
    return Estimate(method, tau, omega, lam, panel.n_units, n1, panel.n_periods, panel.n_pre)


NATIVE_PLACEBO: dict[Callable[[Panel], Estimate], str] = {sc: "sc", sc_intercept: "sc-intercept", sdid: "sdid"}
"""Estimators whose placebo replications :func:`placebo_estimates` runs natively, by their native name."""


def placebo_estimates(panel: Panel, estimator: Callable[[Panel], Estimate], orders: np.ndarray,
                      *, threads: int = 1) -> np.ndarray:
    """``estimator`` on placebo panels of the controls alone, all in one native call.

    In replication r the control rows are taken in the order ``orders[r]`` and
    the last ``n_treated`` of them play the treated units, as
    :mod:`~.inference` builds each placebo panel; the fit is this module's,
    step for step, in C++ (cpp/src/weighted_did.cpp).  The replications are
    independent, so ``threads`` changes the time, not the result.
    """
    method = NATIVE_PLACEBO.get(estimator)
    if method is None:
        raise ValueError(f"no native placebo for {getattr(estimator, '__name__', estimator)!r}; "
                         f"only for {', '.join(NATIVE_PLACEBO.values())}")
    return _core.placebo_weighted_did(
        panel.y[: panel.n_control], panel.n_pre, panel.n_treated, np.asarray(orders, dtype=np.int64), method,
        first_pass=FIRST_PASS_ITERATIONS, max_iter=MAX_ITERATIONS, tiny_eta=TINY_ETA,
        min_decrease_per_sigma=MIN_DECREASE_PER_SIGMA, threads=threads)


# Registered last: matrix completion and TROP build on Estimate and did above.
from agent.analytics.causal.matrix_completion import mc  # noqa: E402
from agent.analytics.causal.trop import trop  # noqa: E402

METHODS: dict[str, Callable[[Panel], Estimate]] = {
    "did": did, "sc": sc, "sc-intercept": sc_intercept, "mc": mc, "sdid": sdid, "trop": trop,
}
