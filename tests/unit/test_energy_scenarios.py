"""Scenarios are seeded and plausible; users' CSV files are read exactly or refused with file and row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.energy.scenarios import (
    SCENARIOS,
    STEP_S,
    STEPS_PER_DAY,
    ScenarioError,
    build_scenario,
    load_csv_trace,
    read_light_csv,
    step_means,
)


@pytest.mark.parametrize("name", SCENARIOS)
def test_same_seed_same_trace_other_seed_other_trace(name: str) -> None:
    a, b, c = build_scenario(name, 14, 3), build_scenario(name, 14, 3), build_scenario(name, 14, 4)
    assert np.array_equal(a.lux, b.lux) and np.array_equal(a.events, b.events)
    assert not np.array_equal(a.events, c.events)
    assert len(a) == 14 * STEPS_PER_DAY and a.step_s == STEP_S


def test_interior_office_is_dark_at_night_and_at_weekends() -> None:
    trace = build_scenario("interior_office", 14, 1)
    days = trace.lux.reshape(14, STEPS_PER_DAY)
    assert days[:, : 6 * 60].max() == 0.0  # before 06:00
    assert days[5:7].max() <= days[0:5].max()  # weekend no brighter than weekdays
    assert days[0:5].max() > 0


def test_window_office_has_cloudy_days() -> None:
    trace = build_scenario("window_office", 60, 2)
    noon = trace.lux.reshape(60, STEPS_PER_DAY)[:, 12 * 60]
    assert noon.max() > 3 * np.median(noon[noon > 0]) / 2 or noon.min() < 0.5 * noon.max()


def test_corridor_is_never_dark_and_events_follow_occupancy() -> None:
    trace = build_scenario("dim_corridor", 7, 1)
    assert trace.lux.min() > 0
    hours = (np.arange(len(trace)) * STEP_S / 3600) % 24
    assert trace.events[(hours >= 9) & (hours < 17)].sum() > 10 * trace.events[hours < 6].sum()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def events_file(tmp_path: Path, text: str = "time_s\n10\n70\n3000\n") -> Path:
    return write(tmp_path, "events.csv", text)


def test_csv_trace_is_resampled_and_events_binned(tmp_path: Path) -> None:
    light = write(tmp_path, "light.csv", "time_s,lux\n0,100\n30,200\n90,0\n3600,0\n")
    trace = load_csv_trace(light, events_file(tmp_path))
    assert len(trace) == 60
    assert trace.lux[0] == pytest.approx((30 * 100 + 30 * 200) / 60)
    assert trace.lux[1] == pytest.approx((30 * 200 + 30 * 0) / 60)
    assert trace.events.tolist()[:2] == [1, 1] and trace.events.sum() == 3


@pytest.mark.parametrize(
    ("light", "events", "message"),
    [
        ("", None, "light.csv: empty file"),
        ("time_s,brightness\n0,1\n", None, "light.csv: row 1: missing column 'lux'"),
        ("time_s,lux\n0,10\n60,-3\n120,0\n", None, "light.csv: row 3: lux -3 is negative"),
        ("time_s,lux\n0,10\n60,1\n60,0\n", None, "light.csv: row 4: time_s 60 is not after the previous row's 60"),
        ("time_s,lux\n0,10\n60,1\n30,0\n", None, "light.csv: row 4: time_s 30 is not after"),
        ("time_s,lux\n0,10\n0.5,1\n", None, "light.csv: row 3: time_s 0.5 is less than 1 s after"),
        ("time_s,lux\n0,10\n60,abc\n", None, "light.csv: row 3: lux 'abc' is not a number"),
        ("time_s,lux\n5,10\n60,1\n", None, "light.csv: row 2: the first time_s must be 0"),
        ("time_s,lux\n0,10\n600,1\n", None, "at least one hour"),
        ("time_s,lux\n0,10\n3600,0\n", "", "events.csv: empty file"),
        ("time_s,lux\n0,10\n3600,0\n", "when\n3\n", "events.csv: row 1: missing column 'time_s'"),
        ("time_s,lux\n0,10\n3600,0\n", "time_s\n50\n40\n", "events.csv: row 3: time_s 40 is before"),
        ("time_s,lux\n0,10\n3600,0\n", "time_s\n-1\n", "events.csv: row 2: time_s -1 is negative"),
        ("time_s,lux\n0,10\n3600,0\n", "time_s\n5000\n", "events.csv: row 2: time_s 5000 is after the light trace"),
    ],
)
def test_malformed_csv_names_file_and_row(tmp_path: Path, light: str, events: str | None, message: str) -> None:
    light_path = write(tmp_path, "light.csv", light)
    events_path = events_file(tmp_path) if events is None else write(tmp_path, "events.csv", events)
    with pytest.raises(ScenarioError) as caught:
        load_csv_trace(light_path, events_path)
    assert message in str(caught.value)
    assert str(tmp_path) in str(caught.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="nope.csv: cannot read"):
        load_csv_trace(tmp_path / "nope.csv", events_file(tmp_path))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(st.integers(1, 500), min_size=1, max_size=40),
    luxes=st.lists(st.floats(0, 5000), min_size=41, max_size=41),
)
def test_step_means_preserve_light_energy(tmp_path: Path, steps: list[int], luxes: list[float]) -> None:
    """The resampled trace holds the same lux·seconds as the file over whole steps (any row step ≥ 1 s)."""
    times = np.concatenate(([0.0], np.cumsum(steps))).astype(float)
    lux = np.asarray(luxes[: len(times)])
    text = "time_s,lux\n" + "".join(f"{t:g},{float(x)!r}\n" for t, x in zip(times, lux))
    path = write(tmp_path, "light.csv", text)
    read_times, read_lux = read_light_csv(path)
    assert np.array_equal(read_times, times) and np.array_equal(read_lux, lux)
    n = int(times[-1] // STEP_S)
    means = step_means(times, lux, n)
    end = n * STEP_S
    exact = sum(x * (min(b, end) - a) for a, b, x in zip(times[:-1], times[1:], lux[:-1]) if a < end)
    assert means.sum() * STEP_S == pytest.approx(exact, rel=1e-9, abs=1e-6)
