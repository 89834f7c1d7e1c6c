"""Scoring from day statistics equals scoring from the rows they summarise."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.apps.faults.detect import (
    DetectorConfig,
    _heater_effect,
    _persistent,
    confirmed_from,
    fit_gram,
    mean_residual,
)


def _day_grams(x: np.ndarray, y: np.ndarray, per_day: int) -> np.ndarray:
    """(days, p+1, p+1) Gram matrices of [x | y] per day, finite rows only."""
    days = len(y) // per_day
    out = np.zeros((days, x.shape[1] + 1, x.shape[1] + 1))
    for d in range(days):
        z = np.column_stack([x, y])[d * per_day:(d + 1) * per_day]
        z = z[np.isfinite(z).all(axis=1)]
        out[d] = z.T @ z
    return out


def _design(rng: np.random.Generator, n: int, constant: float) -> np.ndarray:
    x = rng.normal(size=(n, 6)) * rng.uniform(0.5, 20.0, 6)
    x[:, 5] = constant
    return x


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), days=st.integers(2, 6), constant=st.sampled_from([1.0, 0.25]),
       holes=st.floats(0.0, 0.3))
def test_daily_mean_residuals_from_grams_equal_the_mean_of_row_residuals(seed: int, days: int, constant: float,
                                                                         holes: float) -> None:
    rng = np.random.default_rng(seed)
    per_day = 24
    x = _design(rng, days * per_day, constant)
    y = x @ rng.normal(size=6) + rng.normal(scale=0.5, size=len(x))
    x[rng.random(x.shape) < holes / 6] = np.nan
    grams = _day_grams(x, y, per_day)
    coef = fit_gram(grams.sum(axis=0)[None], constant)
    ok = np.isfinite(x).all(axis=1)
    expected_coef = np.linalg.lstsq(x[ok], y[ok], rcond=None)[0]
    np.testing.assert_allclose(coef[0], expected_coef, rtol=1e-6, atol=1e-8)
    got = mean_residual(grams[None], coef, constant)[0]
    residual = np.where(ok, y - np.nan_to_num(x) @ coef[0], np.nan).reshape(days, per_day)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a day with no row at all is NaN either way
        np.testing.assert_allclose(got, np.nanmean(residual, axis=1), rtol=1e-7, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), effect=st.floats(0.0, 1.0))
def test_heater_effect_is_the_residual_slope_on_power_relative_to_the_gain(seed: int, effect: float) -> None:
    rng = np.random.default_rng(seed)
    x = _design(rng, 200, 1.0)
    x[:, 1] = rng.choice([0.0, 1.0, 2.0], 200)  # heater kW
    coef = rng.normal(size=6)
    coef[1] = abs(coef[1]) + 0.1
    y = x @ coef - (1.0 - effect) * coef[1] * x[:, 1] + rng.normal(scale=0.01, size=200)
    z = np.column_stack([x, y])
    got = _heater_effect(z.T @ z, coef)
    residual = y - x @ coef
    expected = 1.0 + np.polyfit(x[:, 1], residual, 1)[0] / coef[1]
    assert abs(got - expected) < 1e-8
    assert abs(got - effect) < 0.05


def test_heater_effect_is_unknown_without_varying_power() -> None:
    x = _design(np.random.default_rng(1), 50, 1.0)
    x[:, 1] = 1.0
    z = np.column_stack([x, np.ones(50)])
    assert np.isnan(_heater_effect(z.T @ z, np.ones(6)))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), days=st.integers(1, 20), holes=st.floats(0.0, 0.6),
       window=st.integers(1, 7))
def test_persistent_score_is_the_trailing_median_of_enough_known_days(seed: int, days: int, holes: float,
                                                                      window: int) -> None:
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=3.0, size=(3, days))
    z[rng.random(z.shape) < holes] = np.nan
    got = _persistent(z, DetectorConfig(persist_days=window))
    for r in range(3):
        for d in range(days):
            past = z[r, max(0, d - window + 1): d + 1]
            known = past[np.isfinite(past)]
            if len(known) > window // 2:
                assert got[r, d] == abs(float(np.median(known)))
            else:
                assert np.isnan(got[r, d])


def _first_confirmed(flags: np.ndarray, confirm: int) -> int:
    """The rule read literally: the first flagged day whose ``confirm``-th flagged day (itself
    included) is at most ``confirm`` days later."""
    days = np.flatnonzero(flags)
    for j in range(len(days) - confirm + 1):
        if days[j + confirm - 1] - days[j] <= confirm:
            return int(days[j])
    return -1


@settings(max_examples=80, deadline=None)
@given(flags=st.lists(st.lists(st.booleans(), min_size=0, max_size=30), min_size=1, max_size=6).filter(
    lambda rows: len({len(r) for r in rows}) == 1), confirm=st.integers(1, 4))
def test_confirmation_finds_the_first_run_of_flagged_days(flags: list[list[bool]], confirm: int) -> None:
    grid = np.array(flags, dtype=bool).reshape(len(flags), -1)
    expected = [_first_confirmed(row, confirm) for row in grid]
    assert confirmed_from(grid, confirm).tolist() == expected
