"""The faults benchmark runs end to end on a tiny building and reports every key.

Speed is never asserted; the metrics are only checked to be well-formed (a
tiny building has too few faults for its scores to mean much).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

KEYS = {
    "precision", "recall", "f1", "day_precision", "day_recall", "day_f1", "waste_spearman", "edgewise_seconds",
    "numpy_pca_seconds", "isolation_forest_seconds", "pca_f1", "isolation_forest_f1", "faulty_rooms",
    "per_kind_recall", "edgewise_features_seconds", "edgewise_total_seconds",
}


@pytest.fixture(scope="module")
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("faults")


def test_tiny_run_reports_every_key(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    status = bench.main(["--rooms", "16", "--days", "12", "--rate", "0.25", "--seed", "3", "--workers", "1",
                         "--json"])
    result = json.loads(capsys.readouterr().out)
    assert status == 0
    assert KEYS <= result.keys()
    assert result["faulty_rooms"] == 4
    for key in ("precision", "recall", "f1", "pca_f1"):
        assert 0.0 <= result[key] <= 1.0
    assert result["isolation_forest_f1"] is None or 0.0 <= result["isolation_forest_f1"] <= 1.0


def test_a_cached_simulation_is_read_back_unchanged_and_a_changed_simulator_misses(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = bench.make_workload(8, 12, 5, 0.25, 1, str(tmp_path))
    blocks = sorted(tmp_path.glob("*.npz"))
    assert len(blocks) == 1
    again = bench.make_workload(8, 12, 5, 0.25, 1, str(tmp_path))
    for name in ("temperature", "energy_kwh", "outdoor", "heater_kw"):
        np.testing.assert_array_equal(getattr(again.series, name), getattr(made.series, name))
    assert again.series.room_ids == made.series.room_ids and again.kinds == made.kinds
    np.testing.assert_array_equal(again.true_waste, made.true_waste)
    monkeypatch.setattr(bench, "_simulator_digest", lambda: "another-simulator")
    bench.make_workload(8, 12, 5, 0.25, 1, str(tmp_path))
    assert len(list(tmp_path.glob("*.npz"))) == 2  # simulated afresh, not read from the old block


def test_spearman_and_prf_against_hand_computed_values(bench: ModuleType) -> None:
    assert bench.spearman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 20.0, 30.0, 40.0])) == pytest.approx(1.0)
    assert bench.spearman(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])) == pytest.approx(-1.0)
    truth = np.array([True, True, False, False])
    assert bench.prf(truth, np.array([True, False, True, False])) == pytest.approx((0.5, 0.5, 0.5))


def test_too_few_days_are_refused(bench: ModuleType) -> None:
    with pytest.raises(ValueError, match="days must be at least"):
        bench.run(4, 5, 1, 0.25, 1)
