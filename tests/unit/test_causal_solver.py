"""The weight solvers: native Frank–Wolfe takes the numpy reference's steps; the exact solver reaches the optimum."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import _core
from agent.analytics.causal import estimators, from_arrays, sc, sc_intercept, sdid
from agent.analytics.causal.exact_weights import (
    exact_simplex_weights,
    objective,
    reduced_gradient,
)
from agent.analytics.causal.frank_wolfe import (
    reference_simplex_weights,
    simplex_weights,
    sparsify,
)


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """(a, b, ζ, intercept): columns with their own levels, b near a mix of them, scales from 0.01 to 1000."""
    n, k = draw(st.integers(2, 25)), draw(st.integers(1, 30))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = 10 ** draw(st.floats(-2, 3))
    a = (rng.normal(0, 1, (n, k)) + rng.normal(0, 3, (1, k))) * scale
    b = a @ rng.dirichlet(np.ones(k)) + rng.normal(0, draw(st.sampled_from([0.0, 0.1, 1.0])) * scale, n)
    zeta = draw(st.sampled_from([0.0, 1e-6, 0.1, 1.0])) * scale
    return a, b, zeta, draw(st.booleans())


@settings(max_examples=150, deadline=None)
@given(problems(), st.floats(-8, -2), st.booleans(), st.integers(1, 1500))
def test_native_frank_wolfe_takes_the_reference_steps(
    problem: tuple[np.ndarray, np.ndarray, float, bool], log_decrease: float, sparse_start: bool, max_iter: int
) -> None:
    a, b, zeta, intercept = problem
    start = sparsify(np.random.default_rng(1).dirichlet(np.ones(a.shape[1]))) if sparse_start else None
    scale = float(np.abs(a).max()) or 1.0
    kwargs = {"intercept": intercept, "start": start, "min_decrease": 10**log_decrease * scale, "max_iter": max_iter}
    native = simplex_weights(a, b, zeta, **kwargs)
    _, steps, _ = _core.simplex_weights(a, b, zeta, intercept, start, kwargs["min_decrease"], max_iter)
    # Step for step: the reference, made to take as many steps, lands on the same weights.
    np.testing.assert_allclose(native, _after(steps, a, b, zeta, kwargs), rtol=0, atol=1e-9)
    # The reference's stopping rule, up to rounding (the two sum the objective in different orders):
    # the last step decreased the objective by at most min_decrease², the one before by more.
    j = [_objective(a, b, zeta, intercept, _after(s, a, b, zeta, kwargs)) for s in (steps - 2, steps - 1, steps)]
    rounding = 1e-12 * max(1.0, abs(j[-1]))
    threshold = kwargs["min_decrease"] ** 2
    if 2 <= steps < max_iter:
        assert j[1] - j[2] <= threshold + rounding, (steps, j)
    if steps >= 3:
        assert j[0] - j[1] > threshold - rounding, (steps, j)


def _objective(a: np.ndarray, b: np.ndarray, zeta: float, intercept: bool, w: np.ndarray) -> float:
    """ζ²‖w‖² + ‖a·w − b‖²/n, after centring when ``intercept``: what the solvers minimise."""
    if intercept:
        a, b = a - a.mean(axis=0), b - b.mean()
    err = a @ w - b
    return zeta * zeta * float(w @ w) + float(err @ err) / len(b)


def _after(steps: int, a: np.ndarray, b: np.ndarray, zeta: float, kwargs: dict[str, object]) -> np.ndarray:
    """The reference's weights after exactly ``steps`` steps (it stops early only at an exact optimum)."""
    return reference_simplex_weights(a, b, zeta, **{**kwargs, "min_decrease": 0.0, "max_iter": max(0, steps)})


@settings(max_examples=60, deadline=None)
@given(problems(), st.integers(1, 3000))
def test_the_avx2_and_portable_loops_give_the_same_bits(
    problem: tuple[np.ndarray, np.ndarray, float, bool], max_iter: int
) -> None:
    """The wheel picks the AVX2 loop at run time where the CPU has it; elsewhere the two-lane loop must
    take exactly the same steps (only element-wise arithmetic and an exact minimum are vectorised)."""
    a, b, zeta, intercept = problem
    wide = _core.simplex_weights(a, b, zeta, intercept, None, 0.0, max_iter, True)
    portable = _core.simplex_weights(a, b, zeta, intercept, None, 0.0, max_iter, False)
    assert wide[1] == portable[1] and wide[2] == portable[2]
    assert np.array_equal(wide[0], portable[0])




@pytest.mark.parametrize("method", ["sc", "sc-intercept", "sdid"])
def test_native_and_numpy_give_the_same_proposition_99_estimates(
    prop99: object, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schedule runs into its 10,000-step cap here, the hardest case for staying in step."""
    native = estimators.METHODS[method](prop99)  # type: ignore[arg-type]
    monkeypatch.setattr(estimators, "simplex_weights", reference_simplex_weights)
    reference = estimators.METHODS[method](prop99)  # type: ignore[arg-type]
    assert native.estimate == pytest.approx(reference.estimate, abs=1e-9)
    np.testing.assert_allclose(native.unit_weights, reference.unit_weights, rtol=0, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(problems())
def test_the_exact_solver_meets_the_kkt_conditions(problem: tuple[np.ndarray, np.ndarray, float, bool]) -> None:
    """On the simplex the KKT conditions are: every coordinate's gradient at least the weighted mean of
    them, and equal to it where the weight is positive; for a convex objective they prove optimality."""
    a, b, zeta, intercept = problem
    w = exact_simplex_weights(a, b, zeta, intercept=intercept)
    assert w.min() >= 0.0 and w.sum() == pytest.approx(1.0, abs=1e-12)
    aa, bb = (a - a.mean(axis=0), b - b.mean()) if intercept else (a, b)
    d = (aa - bb[:, None]) / np.sqrt(len(b))
    reduced = reduced_gradient(d, zeta, w)
    scale = float((d * d).sum(axis=0).max()) + zeta * zeta
    assert reduced.min() >= -1e-8 * scale
    assert np.abs(reduced[w > 0]).max() <= 1e-8 * scale
    fw = simplex_weights(a, b, zeta, intercept=intercept, min_decrease=0.0, max_iter=2000)
    assert objective(a, b, zeta, w, intercept=intercept) <= objective(a, b, zeta, fw, intercept=intercept) + 1e-9 * scale


def test_the_exact_solver_finds_a_known_mix() -> None:
    """b exactly 0.3·col0 + 0.7·col2: the only zero-error weights (columns in general position)."""
    rng = np.random.default_rng(3)
    a = rng.normal(100, 10, (12, 5))
    w = exact_simplex_weights(a, a @ np.array([0.3, 0, 0.7, 0, 0]), 0.0, intercept=False)
    np.testing.assert_allclose(w, [0.3, 0, 0.7, 0, 0], atol=1e-10)


def test_exact_synthetic_control_on_proposition_99(prop99: object) -> None:
    """The data README: SC solved exactly gives about −19.51 (Frank–Wolfe's early stop gives −19.62)."""
    exact = sc(prop99, solver="exact")  # type: ignore[arg-type]
    assert exact.estimate == pytest.approx(-19.51, abs=0.01)
    assert sc(prop99).estimate == pytest.approx(-19.62, abs=0.005)  # type: ignore[arg-type]
    for estimator in (sc_intercept, sdid):  # the regularised fits: their optima are close to the schedule's
        assert estimator(prop99, solver="exact").estimate == pytest.approx(  # type: ignore[arg-type]
            estimator(prop99).estimate, abs=0.05)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: simplex_weights(np.ones((3, 2)), np.ones(4), 0.1, intercept=False), "a must be n x k"),
        (lambda: simplex_weights(np.ones((3, 2)), np.ones(3), 0.1, intercept=False, start=np.array([0.5, 0.6])),
         "start must sum to one"),
        (lambda: simplex_weights(np.ones((3, 2)), np.ones(3), 0.1, intercept=False, start=np.array([1.5, -0.5])),
         "non-negative"),
        (lambda: simplex_weights(np.ones((3, 2)), np.ones(3), 0.1, intercept=False, start=np.ones(3) / 3),
         "one weight per column"),
        (lambda: exact_simplex_weights(np.ones((3, 0)), np.ones(3), 0.1, intercept=False), "a must be n x k"),
    ],
)
def test_bad_solver_input_is_refused(call: object, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        call()  # type: ignore[operator]


def test_an_unknown_solver_is_named() -> None:
    y = np.random.default_rng(0).normal(size=(4, 5))
    treated = np.zeros_like(y, dtype=bool)
    treated[3, 3:] = True
    panel = from_arrays(y, treated, ["a", "b", "c", "d"], ["1", "2", "3", "4", "5"])
    with pytest.raises(ValueError, match="unknown weight solver 'cvx'; use one of frank-wolfe, exact"):
        sc(panel, solver="cvx")
