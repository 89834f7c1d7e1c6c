"""The savings benchmark runs end to end on Proposition 99 and reports every key.

Speed is never asserted.  What is asserted is the output's shape, that the
edgewise estimates are the published ones (otherwise the timings would time a
different computation), that the native and numpy solvers agree, and that a
baseline that is missing or fails is a row with a note rather than a crash.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

KEYS = {
    "data", "reps", "seed", "repeat", "rows", "sdid_placebo_seconds", "fastest_baseline", "fastest_baseline_seconds",
    "speedup_vs_fastest", "goal_speedup", "goal_same_numbers", "goal_met", "numpy_agrees", "reference", "effect",
    "sims", "designs", "rmse", "machine",
}
ROW_KEYS = {"task", "implementation", "estimate", "se", "seconds", "ratio", "matches", "same_estimate", "note"}
PUBLISHED = {"did": -27.35, "sc": -19.62, "sdid": -15.60, "sc (exact solver)": -19.51}
FAST = ["--reps", "4", "--sims", "2", "--repeat", "1", "--methods", "did", "sc", "sdid"]


@pytest.fixture(scope="module")
def bench(load_benchmark: Callable[[str], ModuleType], prop99_csv: Path) -> ModuleType:
    """The benchmark module; skipped where the Prop 99 panel it reads by default is absent."""
    return load_benchmark("savings")


def run(bench: ModuleType, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    status = bench.main([*FAST, "--json", *extra])
    out = capsys.readouterr().out
    assert status == 0
    return json.loads(out, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))


def test_the_run_reports_every_key_and_the_published_figures(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(bench, capsys, "--no-baselines")
    assert KEYS <= result.keys()
    assert all(ROW_KEYS == row.keys() for row in result["rows"])
    figures = {r["method"]: r["estimate"] for r in result["reference"]}
    for method, published in PUBLISHED.items():
        assert figures[method] == pytest.approx(published, abs=0.05), method
    assert all(r["ok"] for r in result["reference"])
    ours = {(r["task"], r["implementation"]): r for r in result["rows"]}
    native = ours[("sdid + placebo se (4 reps)", "edgewise (native Frank–Wolfe)")]
    assert native["estimate"] == pytest.approx(-15.60, abs=0.05) and native["se"] > 0 and native["seconds"] > 0
    assert result["numpy_agrees"] is True  # the numpy row ran the same placebo draws to the same numbers
    assert ours[("sc", "edgewise (exact solver)")]["estimate"] == pytest.approx(-19.51, abs=0.01)
    assert result["goal_met"] is None and result["fastest_baseline"] is None  # no baseline ran
    assert set(result["rmse"]) == set(result["designs"])
    for per_method in result["rmse"].values():
        assert set(per_method) == {"did", "sc", "sdid"}
        assert all(v["rmse"] >= abs(v["bias"]) for v in per_method.values())  # RMSE² = bias² + variance


def test_every_baseline_is_a_row_whether_or_not_it_runs(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(bench, capsys, "--no-numpy", "--sims", "0")
    baselines = [r for r in result["rows"] if not r["implementation"].startswith("edgewise")]
    assert {r["implementation"].split()[0] for r in baselines} == {"diff-diff", "pysyncon", "synthdid"}
    for row in baselines:
        ran = row["seconds"] is not None
        assert ran != bool(row["note"]), row  # a number, or the reason there is none
        if ran:
            assert row["ratio"] > 0 and row["same_estimate"] is True, row  # the same problem, the same answer
    assert result["rmse"] == {}


def test_a_missing_package_is_reported_as_not_installed(bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.importlib.util, "find_spec", lambda name: None)
    row = bench.baseline_row("sc", "pysyncon", "Synth", "edgewise (exact solver)", 1, lambda: (0.0, None))
    assert row.seconds is None and row.note == "not installed (pip install pysyncon)"


def test_the_table_names_the_goal(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main([*FAST, "--no-numpy", "--no-baselines", "--sims", "1"]) == 0
    out = capsys.readouterr().out
    assert "goal ≥ 8× with the same estimate: no baseline ran" in out
    assert "RMSE over 1 simulated panels per design" in out and "sc (exact solver)" in out


def test_a_missing_data_file_exits_2(bench: ModuleType, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert bench.main([*FAST, "--data", str(tmp_path / "absent.csv")]) == 2
    assert "absent.csv" in capsys.readouterr().err
