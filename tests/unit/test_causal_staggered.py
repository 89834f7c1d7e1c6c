"""Staggered adoption: cohorts against never-treated units, weighted by treated unit-periods."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.analytics.causal import (
    METHODS,
    InferenceError,
    Panel,
    PanelError,
    StaggeredPanel,
    from_treatment,
    load_long_csv,
    staggered_estimate,
    staggered_standard_error,
)
from agent.cli import main

COLUMNS = ["--unit", "site", "--time", "week", "--outcome", "kwh", "--treated", "on"]


def adoption_matrix(starts: list[int | None], periods: int) -> np.ndarray:
    """One row per unit: treated from its start (None: never)."""
    t = np.arange(periods)
    return np.array([t >= s if s is not None else np.zeros(periods, dtype=bool) for s in starts])


def random_panel(seed: int, starts: list[int | None], periods: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(starts)
    factor = np.outer(rng.normal(size=n), np.linspace(-1, 1, periods))
    return 50 + rng.normal(0, 5, (n, 1)) + rng.normal(0, 2, (1, periods)) + factor + rng.normal(0, 1, (n, periods))


STARTS: list[int | None] = [None] * 8 + [4, 4, 7, 7, 7, 9]


def staggered_csv(tmp_path: Path, text_rows: list[str] | None = None) -> Path:
    """10 sites × 12 weeks; two cohorts (weeks 5 and 9) save 4 and 8 kWh."""
    lines = text_rows or ["site;week;kwh;on"]
    if text_rows is None:
        for s in range(10):
            start = {6: 5, 7: 5, 8: 9, 9: 9}.get(s)
            for w in range(1, 13):
                on = start is not None and w >= start
                kwh = 100 + 3 * s + 2 * w + (s * w) % 3 - ((4 if start == 5 else 8) if on else 0)
                lines.append(f"s{s};{w};{kwh};{int(on)}")
    path = tmp_path / "staggered.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_staggered_csv_becomes_cohorts_with_never_treated_units_first(tmp_path: Path) -> None:
    panel = load_long_csv(staggered_csv(tmp_path), unit="site", time="week", outcome="kwh", treated="on")
    assert isinstance(panel, StaggeredPanel)
    assert panel.n_control == 6 and panel.n_treated == 4
    assert panel.units[:6] == tuple(f"s{i}" for i in range(6))
    assert [(panel.periods[a], len(rows)) for a, rows in panel.cohorts()] == [("5", 2), ("9", 2)]


def test_one_adoption_period_is_still_a_block_panel() -> None:
    w = adoption_matrix([None, None, None, 5, 5], 8)
    panel = from_treatment(random_panel(0, [None] * 5, 8), w, list("abcde"), [str(t) for t in range(8)])
    assert isinstance(panel, Panel) and panel.n_pre == 5


def test_a_unit_that_switches_back_is_refused_naming_it_and_its_rows(tmp_path: Path) -> None:
    path = staggered_csv(tmp_path)
    lines = path.read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("s7;10;"))
    lines[row] = lines[row][:-1] + "0"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(PanelError) as caught:
        load_long_csv(path, unit="site", time="week", outcome="kwh", treated="on")
    message = str(caught.value)
    assert f"{path}:{row + 1}: unit 's7' switches back" in message and "period '9'" in message
    with pytest.raises(PanelError, match="unit 'u3' is treated from period '2' but not in period '4'"):
        w = adoption_matrix([None, None, None, 2], 6)
        w[3, 4] = False
        from_treatment(np.zeros((4, 6)), w, ["u0", "u1", "u2", "u3"], [str(t) for t in range(6)])


def test_a_cohort_adopting_too_early_is_named() -> None:
    w = adoption_matrix([None, None, 1, 4], 6)
    with pytest.raises(PanelError, match="unit 'c': treatment starts in period '1'"):
        from_treatment(np.zeros((4, 6)), w, list("abcd"), [str(t) for t in range(6)])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), effects=st.lists(st.floats(-20, 20), min_size=3, max_size=3),
       method=st.sampled_from(["did", "sc", "sc-intercept", "sdid"]))
def test_cohort_effects_are_combined_by_their_treated_unit_periods(seed: int, effects: list[float], method: str) -> None:
    """Adding τ_g to cohort g's treated cells moves the estimate by Σ N_g·T_g·τ_g / Σ N_g·T_g exactly."""
    periods = 12
    y0 = random_panel(seed, STARTS, periods)
    w = adoption_matrix(STARTS, periods)
    cohort_of = {4: 0, 7: 1, 9: 2}
    shift = np.array([[effects[cohort_of[s]] if s is not None else 0.0] for s in STARTS]) * w
    units, labels = [f"u{i}" for i in range(len(STARTS))], [str(t) for t in range(periods)]
    base = staggered_estimate(from_treatment(y0, w, units, labels), METHODS[method])  # type: ignore[arg-type]
    moved = staggered_estimate(from_treatment(y0 + shift, w, units, labels), METHODS[method])  # type: ignore[arg-type]
    sizes = np.array([2 * (periods - 4), 3 * (periods - 7), 1 * (periods - 9)])
    assert moved.n_cohorts == 3
    assert [c.weight for c in moved.cohorts] == pytest.approx(sizes / sizes.sum())
    assert moved.estimate - base.estimate == pytest.approx(float(sizes @ effects / sizes.sum()), abs=1e-8)


def test_each_cohort_is_compared_with_never_treated_units_only() -> None:
    """What a later cohort does after its own adoption cannot move an earlier cohort's estimate."""
    y = random_panel(3, STARTS)
    w = adoption_matrix(STARTS, 12)
    units, labels = [f"u{i}" for i in range(len(STARTS))], [str(t) for t in range(12)]
    before = staggered_estimate(from_treatment(y, w, units, labels), METHODS["sdid"])  # type: ignore[arg-type]
    y[13, 9:] += 100.0  # the last cohort (one unit, from period 9) changes wildly
    after = staggered_estimate(from_treatment(y, w, units, labels), METHODS["sdid"])  # type: ignore[arg-type]
    assert [c.estimate.estimate for c in after.cohorts[:2]] == [c.estimate.estimate for c in before.cohorts[:2]]
    assert after.cohorts[2].estimate.estimate == pytest.approx(before.cohorts[2].estimate.estimate + 100.0)
    assert all(len(c.estimate.unit_weights) == 8 for c in after.cohorts)


def test_standard_errors_say_when_they_are_not_valid() -> None:
    y, w = random_panel(1, STARTS), adoption_matrix(STARTS, 12)
    panel = from_treatment(y, w, [f"u{i}" for i in range(len(STARTS))], [str(t) for t in range(12)])
    assert isinstance(panel, StaggeredPanel)
    with pytest.raises(InferenceError, match="cohort adopting in period '9' has one"):
        staggered_standard_error(panel, METHODS["did"], "jackknife")
    for method in ("placebo", "bootstrap"):
        interval = staggered_standard_error(panel, METHODS["did"], method, reps=50, seed=2)
        assert interval.se > 0 and interval.ci_low < interval.ci_high
    assert staggered_standard_error(panel, METHODS["did"], "placebo", reps=50, seed=2) == \
        staggered_standard_error(panel, METHODS["did"], "placebo", reps=50, seed=2)
    few_controls = [None] * 3 + [4, 4, 7, 9]
    small = from_treatment(random_panel(1, few_controls), adoption_matrix(few_controls, 12),
                           [f"u{i}" for i in range(7)], [str(t) for t in range(12)])
    with pytest.raises(InferenceError, match=r"more never-treated units \(3\) than treated \(4\)"):
        staggered_standard_error(small, METHODS["did"], "placebo")  # type: ignore[arg-type]


def test_savings_json_reports_the_cohorts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["savings", str(staggered_csv(tmp_path)), *COLUMNS, "--method", "did", "--se", "jackknife",
                   "--json"])
    (row,) = json.loads(capsys.readouterr().out)
    assert status == 0
    assert (row["n_units"], row["n_treated"], row["n_pre"], row["n_cohorts"]) == (10, 4, 4, 2)
    assert [(c["period"], c["n_treated"], c["n_post"]) for c in row["cohorts"]] == [("5", 2, 8), ("9", 2, 4)]
    # Cohort weights 16:8; the week-5 cohort saves 4 kWh, the week-9 one 8.
    assert row["estimate"] == pytest.approx((16 * -4 + 8 * -8) / 24, abs=0.5)
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    assert main(["savings", str(staggered_csv(tmp_path)), *COLUMNS, "--method", "did"]) == 0
    assert "2 adoption cohorts" in capsys.readouterr().out


def is_png(path: Path) -> bool:
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" in data[-16:] and len(data) > 10_000


@pytest.mark.parametrize("staggered", [False, True])
def test_plot_writes_a_png(tmp_path: Path, staggered: bool) -> None:
    pytest.importorskip("matplotlib")
    if staggered:
        csv = staggered_csv(tmp_path)
    else:  # sites 7–9 adopt together in week 6
        csv = staggered_csv(tmp_path, ["site;week;kwh;on"] + [
            f"s{s};{w};{100 + 3 * s + 2 * w - (5 if s >= 7 and w >= 6 else 0)};{int(s >= 7 and w >= 6)}"
            for s in range(10) for w in range(1, 13)])
    out = tmp_path / "savings.png"
    assert main(["savings", str(csv), *COLUMNS, "--method", "sdid", "--se", "placebo", "--reps", "20",
                 "--plot", str(out)]) == 0
    assert is_png(out)


def test_plot_without_matplotlib_says_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    out = tmp_path / "savings.png"
    assert main(["savings", str(staggered_csv(tmp_path)), *COLUMNS, "--plot", str(out)]) == 2
    err = capsys.readouterr().err
    assert "needs matplotlib" in err and "edgewise[plot]" in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize("method", ["did", "sc", "sc-intercept", "sdid"])
def test_the_plotted_counterfactual_is_the_estimators_own(method: str) -> None:
    """Its pre-period gap, weighted by λ, is zero and its post-period gap is the estimate: the
    double difference the estimator computes (for SC, λ = 0 and the line is ω'y itself)."""
    from agent.analytics.causal.plot import counterfactual

    starts: list[int | None] = [None] * 10 + [8, 8, 8]
    w = adoption_matrix(starts, 12)
    panel = from_treatment(random_panel(5, starts), w, [f"u{i}" for i in range(13)], [str(t) for t in range(12)])
    assert isinstance(panel, Panel)
    result = METHODS[method](panel)
    gap = panel.y[10:].mean(axis=0) - counterfactual(panel, result)
    assert gap[8:].mean() == pytest.approx(result.estimate)
    assert result.time_weights @ gap[:8] == pytest.approx(0.0, abs=1e-9)
    if method == "sc":
        assert counterfactual(panel, result) == pytest.approx(result.unit_weights @ panel.y[:10])
