"""The features benchmark runs end to end and its numbers describe a correct run.

Speed is never asserted (CI machines vary).  What is asserted is that the run
reports every key and that edgewise and the numpy baseline computed the same
numbers, so the timings compare like with like.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

KEYS = {
    "edgewise_windows_per_s", "edgewise_threads_windows_per_s", "numpy_windows_per_s", "ratio_vs_numpy",
    "moment_ratio_vs_numpy", "max_rel_err", "effective_gb_per_s", "memory_read_gb_per_s", "windows", "length",
    "threads", "machine", "goal_ratio_met", "goal_moment_ratio_met", "goal_memory_fraction_met",
    "threads_identical",
}


@pytest.fixture(scope="module")
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("features")


def test_tiny_run_reports_every_key_and_agrees_with_numpy(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    status = bench.main(["--windows", "50", "--length", "64", "--json", "--memory-mb", "8", "--repeat", "1"])
    result = json.loads(capsys.readouterr().out)

    assert status == 0
    assert KEYS <= result.keys()
    assert (result["windows"], result["length"]) == (50, 64)
    assert 0.0 <= result["max_rel_err"] <= 1e-9
    assert result["threads_identical"] is True
    assert result["ratio_vs_numpy"] == pytest.approx(result["edgewise_windows_per_s"] / result["numpy_windows_per_s"])
    assert all(isinstance(result[k], bool) for k in KEYS if k.startswith("goal_"))


@pytest.mark.parametrize("length", [2, 7, 8, 100])
def test_numpy_baseline_matches_the_extractor_at_awkward_lengths(bench: ModuleType, length: int) -> None:
    """Band edges and run lengths in the baseline are right for any L, not just 1024.
    (Length 1 is a constant window, which the NaN-free baseline does not special-case.)"""
    from agent import features

    x = bench.make_windows(20, length, seed=3)
    names = list(features.FEATURES)
    err, where = bench.max_relative_error(x, features.extract(x, names), bench.numpy_features(x, names))
    assert err <= 1e-9, where


def test_longest_runs_without_a_loop(bench: ModuleType) -> None:
    above = np.array([[1, 1, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 1, 1]], dtype=bool)
    assert bench._longest_runs(above).tolist() == [3.0, 0.0, 2.0]


def test_a_disagreement_fails_the_run(bench: ModuleType, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Timings of two different computations would lie: exit 1."""
    real = bench.numpy_features

    def off(x: np.ndarray, names: list[str], *args: object) -> dict[str, np.ndarray]:
        out = real(x, names, *args)
        if "mean" in out:
            out["mean"] = out["mean"] * (1 + 1e-6)
        return out

    monkeypatch.setattr(bench, "numpy_features", off)
    assert bench.main(["--windows", "20", "--length", "16", "--memory-mb", "8", "--repeat", "1"]) == 1
    assert "benchmark failed" in capsys.readouterr().err
