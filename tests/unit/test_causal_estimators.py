"""DID, SC, SC with intercept and SDID: the published Proposition 99 figures, and what holds for any panel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from agent.analytics.causal import (
    METHODS,
    Panel,
    PanelError,
    did,
    from_arrays,
    load_long_csv,
)
from agent.analytics.causal.frank_wolfe import simplex_weights

PUBLISHED = {"did": -27.35, "sc": -19.62, "sc-intercept": -11.1, "sdid": -15.60}
"""synthdid paper, Table 1 / vignette; SC with the Frank–Wolfe defaults; DIFP "about −11.1" (data README)."""


@pytest.mark.parametrize("method", sorted(PUBLISHED))
def test_proposition_99_is_reproduced(method: str, prop99: Panel) -> None:
    panel = prop99
    assert (panel.n_units, panel.n_treated, panel.n_periods, panel.n_pre) == (39, 1, 31, 19)
    result = METHODS[method](panel)
    assert result.estimate == pytest.approx(PUBLISHED[method], abs=0.05)
    assert result.unit_weights.min() >= 0 and result.unit_weights.sum() == pytest.approx(1.0)


def panels(min_units: int = 3, max_units: int = 8) -> st.SearchStrategy[tuple[np.ndarray, int, int]]:
    """(y, controls, pre-periods): one treated unit, finite outcomes of a plausible scale."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[np.ndarray, int, int]:
        n = draw(st.integers(min_units, max_units))
        t = draw(st.integers(4, 10))
        t0 = draw(st.integers(2, t - 1))
        y = draw(arrays(np.float64, (n, t), elements=st.floats(-100, 100, allow_subnormal=False)))
        return y, n - 1, t0

    return build()


def make(y: np.ndarray, n0: int, t0: int) -> object:
    w = np.zeros_like(y, dtype=bool)
    w[n0:, t0:] = True
    return from_arrays(y, w, [f"u{i}" for i in range(y.shape[0])], [str(t) for t in range(y.shape[1])])


@settings(max_examples=60, deadline=None)
@given(panels(), st.floats(-50, 50))
def test_a_constant_effect_added_to_the_treated_cells_is_found_exactly(
    case: tuple[np.ndarray, int, int], effect: float
) -> None:
    """The weights depend only on untreated cells, so every estimate moves by exactly the effect."""
    y, n0, t0 = case
    shifted = y.copy()
    shifted[n0:, t0:] += effect
    for method, estimator in METHODS.items():
        before, after = estimator(make(y, n0, t0)), estimator(make(shifted, n0, t0))  # type: ignore[arg-type]
        assert after.estimate - before.estimate == pytest.approx(effect, abs=1e-6 * (1 + abs(effect))), method


@settings(max_examples=60, deadline=None)
@given(panels())
def test_did_is_the_difference_of_four_means(case: tuple[np.ndarray, int, int]) -> None:
    y, n0, t0 = case
    expected = (y[n0:, t0:].mean() - y[n0:, :t0].mean()) - (y[:n0, t0:].mean() - y[:n0, :t0].mean())
    assert did(make(y, n0, t0)).estimate == pytest.approx(expected, abs=1e-9 * (1 + abs(expected)))  # type: ignore[arg-type]


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(1, 8)), elements=st.floats(-10, 10)),
       st.floats(0, 2), st.booleans())
def test_frank_wolfe_stays_on_the_simplex_and_never_ends_worse_than_it_started(
    a: np.ndarray, zeta: float, intercept: bool
) -> None:
    rng = np.random.default_rng(0)
    b = a @ rng.dirichlet(np.ones(a.shape[1])) + rng.normal(0, 0.1, a.shape[0])
    w = simplex_weights(a, b, zeta, intercept=intercept, min_decrease=1e-9, max_iter=500)

    def objective(v: np.ndarray) -> float:
        aa, bb = (a - a.mean(0), b - b.mean()) if intercept else (a, b)
        err = aa @ v - bb
        return zeta * zeta * float(v @ v) + float(err @ err) / len(b)

    assert w.min() >= -1e-12 and w.sum() == pytest.approx(1.0)
    assert objective(w) <= objective(np.full(a.shape[1], 1 / a.shape[1])) + 1e-9


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "panel.csv"
    path.write_text(text)
    return path


GOOD = "unit,year,kwh,treated\n" + "".join(
    f"{u},{t},{10 + t},{int(u == 'c' and t >= 3)}\n" for u in "abc" for t in range(1, 6)
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        (GOOD.replace("kwh", "energy"), "no column 'kwh'"),
        (GOOD + "a,1,11,0\n", ":17: unit 'a' period '1' appears twice"),
        (GOOD.replace("a,2,12,0\n", ""), "unbalanced panel"),
        (GOOD.replace("a,2,12,0", "a,2,lots,0"), ":3: column 'kwh' must be a number"),
        (GOOD.replace("c,4,14,1", "c,4,14,yes"), ":15: column 'treated' must be 0 or 1"),
        (GOOD.replace(",1\n", ",0\n"), "no unit is ever treated"),
        (GOOD.replace("c,4,14,1", "c,4,,1"), "outcome missing or not finite for unit 'c' in period '4'"),
        (GOOD.replace("c,2,12,0", "c,2,12,1").replace("c,1,11,0", "c,1,11,1"), "at least two pre-treatment"),
        (GOOD.replace("c,4,14,1", "c,4,14,0"), ":15: unit 'c' switches back from treated (period '3', row 14)"),
    ],
)
def test_a_bad_panel_is_refused_with_the_file_and_what_is_wrong(tmp_path: Path, text: str, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PanelError, match=str(path).replace(".", r"\.")) as caught:
        load_long_csv(path, unit="unit", time="year", outcome="kwh", treated="treated")
    assert words in str(caught.value)


def test_semicolons_and_numeric_period_order_are_understood(tmp_path: Path) -> None:
    text = "unit;t;y;d\n" + "".join(f"{u};{t};{t * 2 + (u == 'b')};{int(u == 'b' and t >= 9)}\n"
                                    for u in "ab" for t in (8, 9, 10, 7))
    panel = load_long_csv(write(tmp_path, text), unit="unit", time="t", outcome="y", treated="d")
    assert panel.periods == ("7", "8", "9", "10") and panel.n_pre == 2
    assert did(panel).estimate == pytest.approx(0.0)
