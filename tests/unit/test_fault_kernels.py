"""The native fault-detection kernels against exact answers and numpy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import _core


def _rc_series(r_k_per_w: float, c_j_per_k: float, steps: int, seed: int, dt: float = 900.0):
    """Exact discrete 1R1C: T[k+1] = Tout + Q R + (T[k] - Tout - Q R) exp(-dt / RC)."""
    rng = np.random.default_rng(seed)
    t_out = rng.uniform(-10.0, 15.0, steps)
    heat = rng.choice([0.0, 1500.0, 3000.0], steps)
    temp = np.empty(steps + 1)
    temp[0] = 18.0
    decay = math.exp(-dt / (r_k_per_w * c_j_per_k))
    for k in range(steps):
        steady = t_out[k] + heat[k] * r_k_per_w
        temp[k + 1] = steady + (temp[k] - steady) * decay
    return temp, t_out, heat


def _gram(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gram matrix of [x | y] over the rows whose values are all finite."""
    z = np.column_stack([x, y])
    z = z[np.isfinite(z).all(axis=1)]
    return z.T @ z


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    coef, rms = _core.fault_gram_fit(_gram(x, y)[None], np.array([np.isfinite(np.column_stack([x, y])).all(axis=1).sum()]))
    return coef[0], float(rms[0])


@settings(max_examples=40, deadline=None)
@given(
    r=st.floats(0.005, 0.1),
    tau_h=st.floats(5.0, 60.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_least_squares_recovers_r_and_c_from_noiseless_1r1c(r: float, tau_h: float, seed: int) -> None:
    c = tau_h * 3600.0 / r
    temp, t_out, heat = _rc_series(r, c, 400, seed)
    x = np.stack([t_out - temp[:-1], heat], axis=1)
    y = temp[1:] - temp[:-1]
    (a, b), rms = _fit(x, y)
    r_fit = b / a
    c_fit = -900.0 / math.log(1.0 - a) / r_fit
    assert r_fit == pytest.approx(r, rel=1e-6)
    assert c_fit == pytest.approx(c, rel=1e-6)
    assert rms < 1e-6 * max(1.0, np.max(np.abs(y)))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(8, 60), p=st.integers(1, 5))
def test_least_squares_from_the_gram_matrix_matches_numpy_lstsq(seed: int, n: int, p: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)) * rng.uniform(0.1, 100.0, p)
    y = rng.normal(size=n) * rng.uniform(0.1, 10.0)
    coef, rms = _fit(x, y)
    expected = np.linalg.lstsq(x, y, rcond=None)[0]
    np.testing.assert_allclose(coef, expected, rtol=1e-6, atol=1e-8)
    assert rms == pytest.approx(float(np.sqrt(np.mean((y - x @ expected) ** 2))), rel=1e-6, abs=1e-9)


def test_a_batch_fits_each_problem_on_its_own() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 40, 2))
    truth = np.array([[1.0, 2.0], [-3.0, 0.5], [0.0, 7.0]])
    grams = np.stack([_gram(x[b], x[b] @ truth[b]) for b in range(3)])
    coef, _ = _core.fault_gram_fit(grams, np.full(3, 40))
    np.testing.assert_allclose(coef, truth, rtol=1e-9, atol=1e-9)  # the ridge moves fits by ~1e-10


def test_a_column_that_never_changed_still_gives_a_fit() -> None:
    rng = np.random.default_rng(2)
    x = np.column_stack([rng.normal(size=30), np.zeros(30), np.ones(30)])  # no daylight in this room
    coef, _ = _fit(x, 3.0 * x[:, 0] + 1.5)
    np.testing.assert_allclose(coef, [3.0, 0.0, 1.5], atol=1e-8)


def test_too_little_data_gives_nan_coefficients_not_a_guess() -> None:
    x = np.ones((5, 3))
    coef, rms = _core.fault_gram_fit(_gram(x, np.ones(5))[None], np.array([2]))  # 2 rows, 3 unknowns
    assert np.isnan(coef).all() and np.isnan(rms[0])
    coef, rms = _core.fault_gram_fit(np.zeros((1, 4, 4)), np.array([10]))  # nothing but zeros
    assert np.isnan(coef).all() and np.isnan(rms[0])
    nan_gram = _gram(x, np.ones(5))[None]
    nan_gram[0, -1, -1] = np.nan
    assert np.isnan(_core.fault_gram_fit(nan_gram, np.array([5]))[0]).all()


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError):
        _core.fault_gram_fit(np.ones((2, 4, 3)), np.ones(2, dtype=np.int64))
    with pytest.raises(ValueError):
        _core.fault_gram_fit(np.ones((2, 4, 4)), np.ones(3, dtype=np.int64))
    with pytest.raises(ValueError):
        _core.kmeans_nearest(np.ones((4, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError):
        _core.kmeans_fit(np.ones((3, 2)), 4)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(5, 80), d=st.integers(1, 10), k=st.integers(1, 5))
def test_nearest_centroid_distances_match_numpy(seed: int, n: int, d: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    centroids = rng.normal(size=(k, d))
    label, distance = _core.kmeans_nearest(x, centroids)
    all_d = np.sqrt(((x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2))
    np.testing.assert_allclose(distance, all_d.min(axis=1), rtol=1e-12, atol=1e-12)
    assert np.all(all_d[np.arange(n), label] <= all_d.min(axis=1) + 1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 4))
def test_kmeans_centroids_are_the_means_of_their_members_and_deterministic(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(loc=10.0 * j, size=(30, 3)) for j in range(k)])
    centroids = _core.kmeans_fit(x, k, 100, seed)
    np.testing.assert_array_equal(centroids, _core.kmeans_fit(x, k, 100, seed))
    label, _ = _core.kmeans_nearest(x, centroids)
    for c in range(k):
        members = x[label == c]
        if len(members):
            np.testing.assert_allclose(centroids[c], members.mean(axis=0), rtol=1e-9, atol=1e-9)


def test_nan_rows_are_ignored_by_kmeans_and_labelled_minus_one() -> None:
    x = np.array([[0.0, 0.0], [0.1, 0.0], [np.nan, 1.0], [10.0, 10.0], [10.1, 10.0]])
    centroids = _core.kmeans_fit(x, 2, 50, 3)
    assert np.isfinite(centroids).all()
    label, distance = _core.kmeans_nearest(x, centroids)
    assert label[2] == -1 and np.isnan(distance[2])
    assert label[0] == label[1] != label[3] == label[4]
