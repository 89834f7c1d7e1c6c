"""Placebo replications in one native call give the Python loop's numbers, whatever the thread count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import _core
from agent.analytics.causal import (
    estimators,
    from_arrays,
    sc,
    sc_intercept,
    sdid,
    standard_error,
)
from agent.analytics.causal.estimators import NATIVE_PLACEBO, placebo_estimates
from agent.analytics.causal.inference import _subpanel

ESTIMATORS = {"sc": sc, "sc-intercept": sc_intercept, "sdid": sdid}




@st.composite
def panels(draw: st.DrawFn) -> object:
    """Unit and period effects, a factor the treated load on more, and noise: weights that matter."""
    n0, n1 = draw(st.integers(3, 14)), draw(st.integers(1, 3))
    t0, t1 = draw(st.integers(2, 12)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, t = n0 + n1, t0 + t1
    loading = rng.normal(0, 1, (n, 1))
    loading[n0:] += 1.0
    y = rng.normal(0, 3, (n, 1)) + rng.normal(0, 1, (1, t)) + loading * np.linspace(0, 2, t) + rng.normal(0, 1, (n, t))
    y *= 10 ** draw(st.floats(-1, 2))
    w = np.zeros((n, t), dtype=bool)
    w[n0:, t0:] = True
    return from_arrays(y, w, [f"u{i}" for i in range(n)], [str(p) for p in range(t)])


def python_loop(panel: object, estimator: object, orders: np.ndarray) -> np.ndarray:
    """The reference: one Python fit per placebo panel, built as inference.py builds it."""
    n0, n1 = panel.n_control, panel.n_treated  # type: ignore[attr-defined]
    controls = panel.y[:n0]  # type: ignore[attr-defined]
    return np.array([estimator(_subpanel(panel, controls[o], n0 - n1)).estimate for o in orders])  # type: ignore[operator]


def draws(n0: int, reps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n0) for _ in range(reps)])


@settings(max_examples=60, deadline=None)
@given(panels(), st.sampled_from(sorted(ESTIMATORS)))
def test_one_native_fit_is_the_python_estimator(panel: object, method: str) -> None:
    reference = ESTIMATORS[method](panel)  # type: ignore[arg-type]
    estimate, omega, lam = _core.weighted_did(panel.y, panel.n_control, panel.n_pre, method)  # type: ignore[attr-defined]
    scale = float(np.abs(panel.y).max())  # type: ignore[attr-defined]
    assert estimate == pytest.approx(reference.estimate, abs=1e-9 * scale)
    np.testing.assert_allclose(omega, reference.unit_weights, rtol=0, atol=1e-9)
    np.testing.assert_allclose(lam, reference.time_weights, rtol=0, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(panels(), st.sampled_from(sorted(ESTIMATORS)), st.integers(1, 9))
def test_the_batch_is_the_python_loop_on_random_panels(panel: object, method: str, reps: int) -> None:
    if panel.n_control <= panel.n_treated or (panel.n_control - panel.n_treated) * (panel.n_pre - 1) < 2:  # type: ignore[attr-defined]
        return  # no placebo panel to fit (standard_error refuses the first; σ̂ is undefined in the second)
    orders = draws(panel.n_control, reps)  # type: ignore[attr-defined]
    batch = placebo_estimates(panel, ESTIMATORS[method], orders, threads=2)  # type: ignore[arg-type]
    scale = float(np.abs(panel.y).max())  # type: ignore[attr-defined]
    np.testing.assert_allclose(batch, python_loop(panel, ESTIMATORS[method], orders), rtol=0, atol=1e-9 * scale)


@pytest.mark.parametrize("method", sorted(ESTIMATORS))
def test_proposition_99_placebo_se_is_the_python_loops(prop99: object, method: str) -> None:
    """The 10,000-step cap is hit in most replications here: the hardest case for staying in step."""
    estimator = ESTIMATORS[method]
    native = standard_error(prop99, estimator, "placebo", reps=60, seed=1)  # type: ignore[arg-type]
    loop = standard_error(prop99, estimator, "placebo", reps=60, seed=1, native=False)  # type: ignore[arg-type]
    assert native.se == pytest.approx(loop.se, abs=1e-9)
    assert (native.ci_low, native.ci_high) == pytest.approx((loop.ci_low, loop.ci_high), abs=1e-9)


def test_proposition_99_sdid_placebo_se(prop99: object) -> None:
    """200 replications, seed 1: 10.91, as diff-diff's SyntheticDiD gives with its own draws."""
    interval = standard_error(prop99, sdid, "placebo", reps=200, seed=1)  # type: ignore[arg-type]
    assert interval.se == pytest.approx(10.91, abs=0.005)
    assert interval.ci_low < -15.60 < interval.ci_high


def test_threads_and_vector_width_change_nothing(prop99: object) -> None:
    """Each replication is computed alone, so neither the split over threads nor AVX2 may move a bit."""
    orders = draws(prop99.n_control, 13, seed=5)  # type: ignore[attr-defined]
    controls = prop99.y[: prop99.n_control]  # type: ignore[attr-defined]
    runs = [_core.placebo_weighted_did(controls, prop99.n_pre, 1, orders, "sdid", threads=k, simd=simd)  # type: ignore[attr-defined]
            for k, simd in ((1, True), (2, True), (5, True), (64, True), (3, False))]
    for run in runs[1:]:
        assert np.array_equal(run, runs[0])
    alone = [_core.weighted_did(controls[o], len(o) - 1, prop99.n_pre, "sdid")[0] for o in orders]  # type: ignore[attr-defined]
    assert np.array_equal(runs[0], alone)


def test_only_the_weighted_estimators_have_a_native_batch(prop99: object) -> None:
    assert set(NATIVE_PLACEBO) == {sc, sc_intercept, sdid}
    with pytest.raises(ValueError, match="no native placebo for 'did'"):
        placebo_estimates(prop99, estimators.did, draws(38, 2))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"orders": np.array([[0, 1, 2, 2, 4, 5]])}, "order 0 is not a permutation of the 6 controls"),
        ({"orders": np.array([[0, 1, 2, 3, 4, 6]])}, "order 0 is not a permutation"),
        ({"orders": np.array([[0, 1, 2]])}, "orders must be reps x controls"),
        ({"method": "did"}, "unknown weighted double difference did"),
        ({"placebo_treated": 6}, "1 to controls - 1 treated units"),
        ({"n_pre": 8}, "no post-treatment period"),
        ({"threads": 0}, "threads must be >= 1"),
    ],
)
def test_bad_batch_input_is_refused(change: dict[str, object], words: str) -> None:
    args: dict[str, object] = {"controls": np.random.default_rng(0).normal(size=(6, 8)), "n_pre": 5,
                               "placebo_treated": 1, "orders": draws(6, 3), "method": "sdid", "threads": 1}
    args.update(change)
    with pytest.raises(ValueError, match=words):
        _core.placebo_weighted_did(**args)


def test_a_placebo_panel_without_a_noise_level_is_refused() -> None:
    """One placebo control and two pre-periods leave one first difference: σ̂ is undefined."""
    with pytest.raises(ValueError, match="two control first differences"):
        _core.placebo_weighted_did(np.ones((3, 4)), 2, 2, draws(3, 2), "sc")
