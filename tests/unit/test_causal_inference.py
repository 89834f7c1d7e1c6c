"""Standard errors: intervals that cover the truth as often as they claim, and refusals where a method is invalid."""

from __future__ import annotations

import numpy as np
import pytest

from agent.analytics.causal import (
    InferenceError,
    Panel,
    did,
    from_arrays,
    standard_error,
)

EFFECT = 2.0


def two_way_panel(seed: int, n0: int = 30, n1: int = 15, t0: int = 8, t1: int = 4) -> object:
    """Unit and period effects plus noise, and a known effect on the treated cells."""
    rng = np.random.default_rng(seed)
    n, t = n0 + n1, t0 + t1
    y = 10 + rng.normal(0, 1, (n, 1)) + rng.normal(0, 1, (1, t)) + rng.normal(0, 1, (n, t))
    w = np.zeros((n, t), dtype=bool)
    w[n0:, t0:] = True
    y[w] += EFFECT
    return from_arrays(y, w, [str(i) for i in range(n)], [str(j) for j in range(t)])


@pytest.mark.parametrize("method", ["placebo", "bootstrap", "jackknife"])
def test_95_percent_intervals_cover_the_true_effect_about_95_percent_of_the_time(method: str) -> None:
    """200 panels: a correct SE covers 90–99 % (binomial sd 1.5 %); half the SE would cover ~67 %, double ~100 %."""
    panels = 200
    covered = 0
    for seed in range(panels):
        interval = standard_error(two_way_panel(seed), did, method, reps=100, seed=seed)  # type: ignore[arg-type]
        covered += interval.ci_low <= EFFECT <= interval.ci_high
    assert 0.90 <= covered / panels <= 0.99


def test_the_same_seed_gives_the_same_interval() -> None:
    panel = two_way_panel(3)
    first = standard_error(panel, did, "bootstrap", reps=50, seed=7)  # type: ignore[arg-type]
    assert first == standard_error(panel, did, "bootstrap", reps=50, seed=7)  # type: ignore[arg-type]
    assert first != standard_error(panel, did, "bootstrap", reps=50, seed=8)  # type: ignore[arg-type]


def test_with_one_treated_unit_only_placebo_is_offered() -> None:
    panel = two_way_panel(1, n0=6, n1=1)
    for method in ("bootstrap", "jackknife"):
        with pytest.raises(InferenceError, match="at least two treated units .* use placebo"):
            standard_error(panel, did, method)  # type: ignore[arg-type]
    with pytest.raises(InferenceError, match="unknown standard error 'delta'"):
        standard_error(panel, did, "delta")  # type: ignore[arg-type]
    with pytest.raises(InferenceError, match="more control units"):
        standard_error(two_way_panel(1, n0=3, n1=3), did, "placebo")  # type: ignore[arg-type]
    interval = standard_error(panel, did, "placebo", reps=50, seed=1)  # type: ignore[arg-type]
    assert interval.se > 0 and interval.ci_low < did(panel).estimate < interval.ci_high  # type: ignore[arg-type]


def test_proposition_99_placebo_interval_for_did(prop99: Panel) -> None:
    panel = prop99
    interval = standard_error(panel, did, "placebo", reps=200, seed=1)
    # one treated state against 38 noisy ones: the placebo spread of DID is wide (16.4 with this seed)
    assert 12.0 < interval.se < 24.0
    assert interval.ci_low < -27.35 < interval.ci_high
