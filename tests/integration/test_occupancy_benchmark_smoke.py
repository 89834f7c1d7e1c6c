"""The occupancy benchmark runs end to end and reports every key.

Speed is never asserted.  What is asserted is that the run reports every key,
that its numbers are proportions, and that the online estimator gave the batch
model's answers (otherwise the µs per prediction would time a different
computation).  It runs on simulated UCI-format files, so it needs no data, and
on slices of the real files when they are present.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

KEYS = {
    "accuracy", "f1", "no_light_accuracy", "no_light_f1", "no_light_no_time_accuracy", "no_time_accuracy",
    "us_per_prediction", "no_light_us_per_prediction", "baseline_majority_accuracy",
    "baseline_light_threshold_accuracy", "baseline_logistic_accuracy", "baseline_logistic_no_light_accuracy",
    "baseline_schedule_accuracy", "schedule_deviation_accuracy", "no_light_schedule_deviation_accuracy",
    "time_decided_fraction", "ablation", "goal_accuracy_met", "goal_no_light_met", "online_batch_max_diff",
    "rows", "machine",
}
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "uci_occupancy"
HEADER = '"date","Temperature","Humidity","Light","CO2","HumidityRatio","Occupancy"\n'


@pytest.fixture(scope="module")
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("occupancy")


def write_office(path: Path, start: datetime, days: int, seed: int) -> Path:
    """A UCI-format file of a simulated office: people on weekdays 8:00–17:30, CO2 mass balance."""
    rng = np.random.default_rng(seed)
    lines, co2 = [HEADER], 430.0
    for m in range(days * 1440):
        t = start + timedelta(minutes=m)
        occ = int(t.weekday() < 5 and 480 + 20 * (t.day % 3) <= t.hour * 60 + t.minute < 1050)
        co2 += 6.0 * occ - 0.006 * (co2 - 420.0) + rng.normal(0, 1.5)
        light = 450 + rng.normal(0, 20) if occ else max(0.0, rng.normal(0, 5))
        lines.append(f'"{m + 1}","{t:%Y-%m-%d %H:%M:%S}",{20 + 0.5 * occ + rng.normal(0, 0.05):.3f},'
                     f"{28 + 2 * occ + rng.normal(0, 0.05):.3f},{light:.1f},{co2 + rng.normal(0, 3):.2f},"
                     f"{0.0038 + 0.0003 * occ:.6f},{occ}\n")
    path.write_text("".join(lines))
    return path


def run(bench: ModuleType, capsys: pytest.CaptureFixture[str], train: Path, test: Path) -> dict:
    status = bench.main(["--train", str(train), "--test", str(test), "--json", "--repeat", "1"])
    out = capsys.readouterr().out
    assert status == 0
    return json.loads(out, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))


def check(result: dict) -> None:
    assert KEYS <= result.keys()
    for k, v in result.items():
        if k.endswith(("_accuracy", "_f1")) or k in ("accuracy", "f1"):
            assert v is None or 0.0 <= v <= 1.0, k  # None: nothing to score (no schedule mistakes)
    assert result["accuracy"] is not None and result["no_light_accuracy"] is not None
    assert result["online_batch_max_diff"] <= 1e-9
    assert result["us_per_prediction"] > 0 and result["unknown"] == 0
    assert set(result["ablation"]["all"]) == {"co2", "humidity_ratio", "temperature", "humidity", "light", "time"}
    assert isinstance(result["goal_accuracy_met"], bool) and isinstance(result["goal_no_light_met"], bool)


def test_simulated_office_reports_every_key(bench: ModuleType, capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    train = write_office(tmp_path / "train.txt", datetime(2024, 3, 4), days=4, seed=1)
    test = write_office(tmp_path / "test.txt", datetime(2024, 3, 11), days=2, seed=2)
    result = run(bench, capsys, train, test)
    check(result)
    assert result["no_light_accuracy"] > result["baseline_majority_accuracy"]
    assert result["test_rows"] == 2 * 1440


def test_slices_of_the_uci_files(bench: ModuleType, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    if not (DATA / "datatraining.txt").exists():
        pytest.skip(f"the UCI occupancy data is not at {DATA} (../shared/data beside the project)")
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    train.write_text("".join((DATA / "datatraining.txt").read_text().splitlines(keepends=True)[:3001]))
    test.write_text("".join((DATA / "datatest.txt").read_text().splitlines(keepends=True)[:1001]))
    result = run(bench, capsys, train, test)
    check(result)
    assert (result["train_rows"], result["test_rows"]) == (3000, 1000)


def test_the_table_says_whether_goals_are_met(bench: ModuleType, capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    train = write_office(tmp_path / "train.txt", datetime(2024, 3, 4), days=3, seed=3)
    test = write_office(tmp_path / "test.txt", datetime(2024, 3, 11), days=1, seed=4)
    assert bench.main(["--train", str(train), "--test", str(test), "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "baseline: light >" in out and "what each sensor contributes" in out
    assert "goal ≥ 98.50%:" in out and "goal ≥ 97.00% and above the schedule baseline:" in out


def test_a_bad_file_fails_with_its_name(bench: ModuleType, capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(HEADER + '"1","yesterday",1,2,3,4,5,1\n')
    assert bench.main(["--train", str(bad), "--test", str(bad), "--json"]) == 2
    assert "bad.txt:2" in capsys.readouterr().err


def test_a_disagreement_between_online_and_batch_fails_the_run(
    bench: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Timings of an online path that is not the trained model's would lie: exit 1."""
    real = bench.online

    def off(model: object, data: object, repeat: int) -> tuple[np.ndarray, float]:
        probs, us = real(model, data, repeat)
        return probs * (1 - 1e-6), us

    monkeypatch.setattr(bench, "online", off)
    train = write_office(tmp_path / "train.txt", datetime(2024, 3, 4), days=2, seed=5)
    test = write_office(tmp_path / "test.txt", datetime(2024, 3, 11), days=1, seed=6)
    assert bench.main(["--train", str(train), "--test", str(test), "--json", "--repeat", "1"]) == 1
    assert "not the same code path" in capsys.readouterr().err
