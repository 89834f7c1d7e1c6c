"""Building the detectors' series from stored readings: binning, gaps, NaN, counters, rooms."""

from __future__ import annotations

import math
from datetime import UTC
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.apps.faults.app import next_run, window
from agent.apps.faults.detect import INSUFFICIENT_DATA, detect
from agent.apps.faults.gather import (
    Grid,
    RoomPoints,
    build_series,
    from_first_data,
    points_read,
    read_point,
    room_points,
)
from agent.apps.faults.series import SiteSeries
from agent.ingest.reading import Reading

MIDNIGHT = 1767571200.0  # Monday 2026-01-05 00:00 UTC
GRID = Grid(MIDNIGHT, 900.0, 8)


def test_a_sample_on_a_boundary_closes_the_interval_before_it() -> None:
    ts = np.array([MIDNIGHT, MIDNIGHT + 300, MIDNIGHT + 900, MIDNIGHT + 901])
    mean = GRID.mean(ts, np.array([100.0, 1.0, 3.0, 10.0]))
    assert mean[0] == 2.0  # (t0, t0 + 900]: the samples at 300 and 900; the one at t0 belongs before the grid
    assert mean[1] == 10.0
    assert np.isnan(mean[2:]).all()  # no sample, no value: never a carried-forward guess


def test_last_takes_the_latest_sample_of_each_interval() -> None:
    ts = MIDNIGHT + np.array([300.0, 600.0, 900.0, 2700.0])
    last = GRID.last(ts, np.array([1.0, 2.0, 3.0, 4.0]))
    assert last[0] == 3.0 and np.isnan(last[1]) and last[2] == 4.0


def test_a_counter_gives_increases_and_nan_across_gaps_and_resets() -> None:
    # A meter read every 15 min: 10.0, 10.5, (missing), 11.5, 0.2 (replaced), 0.4
    ts = MIDNIGHT + np.array([0.0, 900.0, 2700.0, 3600.0, 4500.0])
    kwh = np.array([10.0, 10.5, 11.5, 0.2, 0.4])
    delta = GRID.counter(ts, kwh)
    assert delta[0] == pytest.approx(0.5)  # from the reading at the grid's start
    assert np.isnan(delta[1])  # no reading
    assert np.isnan(delta[2])  # 1.0 kWh over two intervals: which one is unknown
    assert np.isnan(delta[3])  # the counter went down
    assert delta[4] == pytest.approx(0.2)


def test_switch_ons_count_off_to_on_changes() -> None:
    ts = MIDNIGHT + np.arange(1, 13) * 300.0  # 4 intervals of three samples
    on = np.array([0, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0], dtype=float)
    starts = GRID.switch_ons(ts, on)
    assert list(starts[:4]) == [1.0, 1.0, 0.0, 0.0]
    assert np.isnan(starts[4:]).all()


@given(st.lists(st.tuples(st.floats(0, 8 * 900.0), st.floats(-50, 50)), max_size=60))
def test_mean_is_the_mean_of_each_intervals_samples(samples: list[tuple[float, float]]) -> None:
    ts = MIDNIGHT + np.array([s[0] for s in samples], dtype=float)
    values = np.array([s[1] for s in samples], dtype=float)
    mean = GRID.mean(ts, values)
    for k in range(GRID.n):
        inside = (ts > MIDNIGHT + k * 900.0) & (ts <= MIDNIGHT + (k + 1) * 900.0)
        if inside.any():
            assert mean[k] == pytest.approx(values[inside].mean())
        else:
            assert math.isnan(mean[k])


def test_rooms_come_from_the_devices_room_and_kind() -> None:
    rooms = {"t1": "office", "p1": "office", "n1": "office", "f1": "office", "l1": "office",
             "n2": "lab", "p2": "lab", "x": "lab", "n3": "corridor", "weather": None}
    kinds = {"t1": "heating_thermostat", "p1": "hvac_switch", "n1": "sensor_node", "f1": "fan", "l1": "switch",
             "n2": "sensor_node", "p2": "hvac_switch", "n3": "sensor_node"}
    lab, office = room_points(rooms, kinds)  # the corridor has nothing heated to judge
    assert office == RoomPoints("office", "t1/local_temperature", "t1/occupied_heating_setpoint", "p1", "f1/state",
                                "l1", "n1/illuminance", "n1/pir_count")
    assert lab == RoomPoints("lab", temperature="n2/temperature", heater="p2", illuminance="n2/illuminance",
                             occupancy="n2/pir_count")  # no thermostat: the node's temperature
    assert points_read([lab], "weather/temperature") == [
        "weather/temperature", "n2/temperature", "n2/illuminance", "n2/pir_count", "p2/power", "p2/energy"]


def _readings(device: str, channel: str, ts: np.ndarray, values: np.ndarray) -> list[Reading]:
    return [Reading(device, channel, float(t), float(v), "", "zigbee") for t, v in zip(ts, values)]


class FakeStore:
    """Readings by point, answering as Store.readings does (since <= ts <= until, in time order)."""

    def __init__(self, rows: list[Reading]) -> None:
        self.rows = sorted(rows, key=lambda r: r.ts)

    def readings(self, device: str, channel: str, since: float, until: float) -> list[Reading]:
        return [r for r in self.rows if r.device == device and r.channel == channel and since <= r.ts <= until]


def _office_day(days: int, gap: tuple[float, float] | None = None) -> FakeStore:
    """A room reporting every 5 minutes: heater on for the first 10 minutes of each half hour."""
    ts = MIDNIGHT + np.arange(1, days * 288 + 1) * 300.0
    keep = np.ones(len(ts), dtype=bool) if gap is None else ~((ts > gap[0]) & (ts <= gap[1]))
    ts = ts[keep]
    phase = ((ts - MIDNIGHT) % 1800.0) / 300.0
    heater_on = (phase >= 1) & (phase <= 2)
    power = np.where(heater_on, 2000.0, 0.5)
    energy = np.cumsum(np.where(heater_on, 2.0 * 300 / 3600, 0.0))
    temperature = 20.0 + np.sin(ts / 7200.0)
    rows = (
        _readings("t1", "local_temperature", ts, temperature)
        + _readings("t1", "occupied_heating_setpoint", ts, np.full(len(ts), 21.0))
        + _readings("p1", "power", ts, power) + _readings("p1", "energy", ts, energy)
        + _readings("weather", "temperature", ts, np.full(len(ts), 3.0))
    )
    rows.append(Reading("t1", "local_temperature", MIDNIGHT + 600.0, math.nan, "", "zigbee"))  # a NaN stored
    return FakeStore(rows)


def _series(store: FakeStore, days: int, outdoor: str | None = "weather/temperature", **hold: float) -> SiteSeries:
    room = RoomPoints("office", "t1/local_temperature", "t1/occupied_heating_setpoint", heater="p1")
    grid = Grid(MIDNIGHT, 900.0, days * 96)
    samples = {p: read_point(store.readings, p, grid) for p in points_read([room], outdoor)}
    return build_series([room], outdoor, samples, grid, **hold)


def test_series_from_readings_has_duty_energy_and_ratings() -> None:
    s = _series(_office_day(1), 1)
    assert s.heater_kw[0] == pytest.approx(2.0) and s.lights_kw[0] == 0.0
    # Half-hour cycle: two of the six samples on, the interval pairs alternate 2/3 then 0.
    assert np.nanmean(s.duty[0]) == pytest.approx(1 / 3)
    assert np.isnan(s.energy_kwh[0, 0])  # no meter reading before the first interval to count from
    assert np.nansum(s.energy_kwh[0]) == pytest.approx(2.0 * 24 / 3 - 2.0 * 600 / 3600)
    assert (s.setpoint[0] == 21.0).all() and (s.outdoor == 3.0).all()
    assert np.isnan(s.occupied).all() and np.isnan(s.ventilation).all()  # no such device: missing, not zero
    assert np.isfinite(s.temperature[0]).all()  # the stored NaN is skipped, not averaged in


def test_without_holding_a_gap_leaves_nan_and_no_invented_energy() -> None:
    gap = (MIDNIGHT + 3 * 3600.0, MIDNIGHT + 5 * 3600.0)
    s = _series(_office_day(1, gap), 1, hold_s=0.0)
    assert np.isnan(s.temperature[0, 12:20]).all() and np.isfinite(s.temperature[0, 20:]).all()
    assert np.isnan(s.energy_kwh[0, 12:21]).all()  # the first interval after the gap spans it
    assert np.isfinite(s.energy_kwh[0, 21:]).all()


def test_a_value_stands_for_hold_s_after_its_report_and_no_longer() -> None:
    # The last report before the two-hour gap is at 03:00; hold_s = 75 min covers the intervals
    # ending by 04:15 (12–16); the three after stay NaN, and the meter's readings, two hours
    # apart, are too far apart to interpolate between.
    gap = (MIDNIGHT + 3 * 3600.0, MIDNIGHT + 5 * 3600.0)
    s = _series(_office_day(1, gap), 1, hold_s=4500.0)
    at_three = 20.0 + np.sin((MIDNIGHT + 3 * 3600.0) / 7200.0)
    assert s.temperature[0, 12:17] == pytest.approx([at_three] * 5)
    assert np.isnan(s.temperature[0, 17:20]).all() and np.isnan(s.energy_kwh[0, 12:21]).all()
    assert (s.setpoint[0, 12:17] == 21.0).all() and np.isnan(s.setpoint[0, 17:20]).all()
    assert s.duty[0, 12] == 0.0 and s.starts[0, 12] == 0.0  # the heater was off at 03:00 and stays so


def test_a_device_reporting_on_change_leaves_no_gaps_and_its_meter_is_spread() -> None:
    # A Zigbee plug reports when its power changes and at least hourly; its meter with it.
    ts = MIDNIGHT + np.array([0.0, 600.0, 4200.0, 7200.0])  # on at 00:10, off at 01:10, hourly report 02:00
    power = np.array([0.5, 2000.0, 0.5, 0.5])
    energy = np.array([5.0, 5.0, 7.0, 7.0])
    grid = Grid(MIDNIGHT, 900.0, 8)
    duty = grid.mean(ts, (power > 20).astype(float), hold_s=4500.0)
    assert list(duty) == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    kwh = grid.counter(ts, energy, hold_s=4500.0)
    # 2 kWh from 00:10 to 01:10, spread linearly: 5 minutes of it in the first interval, 10 in the fifth.
    assert kwh[:6] == pytest.approx([1 / 6, 0.5, 0.5, 0.5, 1 / 3, 0.0])
    assert np.nansum(kwh) == pytest.approx(2.0)  # nothing invented, nothing lost
    assert np.isnan(grid.counter(ts, energy, hold_s=3000.0)[1:4]).all()  # readings 60 min apart: too far


@given(st.lists(st.tuples(st.floats(0, 8 * 900.0), st.floats(-50, 50)), max_size=30), st.floats(0, 4000))
def test_a_held_value_is_the_last_report_before_the_interval_and_fresh_enough(
    samples: list[tuple[float, float]], hold_s: float
) -> None:
    samples = sorted(samples)
    ts = MIDNIGHT + np.array([s[0] for s in samples], dtype=float)
    values = np.array([s[1] for s in samples], dtype=float)
    held = GRID.held(ts, values, hold_s)
    for k in range(GRID.n):
        start = MIDNIGHT + k * 900.0
        before = np.nonzero(ts <= start)[0]
        if hold_s > 0 and len(before) and start + 900.0 - ts[before[-1]] <= hold_s:
            assert held[k] == values[before[-1]]
        else:
            assert math.isnan(held[k])


def test_too_little_history_and_no_outdoor_sensor_are_insufficient_data_not_faults() -> None:
    short = detect(_series(_office_day(3), 3))
    assert short.status == {"office": INSUFFICIENT_DATA} and short.faults == []
    blind = detect(_series(_office_day(10), 10, outdoor=None))
    assert blind.model_status == {"office": INSUFFICIENT_DATA}
    assert blind.status["office"] != INSUFFICIENT_DATA  # rules and clusters still ran
    assert np.isnan(blind.model_score).all()


def test_leading_days_without_data_are_dropped() -> None:
    store = _office_day(10)
    store.rows = [r for r in store.rows if r.ts > MIDNIGHT + 4 * 86400.0]
    s = from_first_data(_series(store, 10))
    assert s.days == 6 and s.t[0] == MIDNIGHT + 4 * 86400.0
    empty = from_first_data(_series(FakeStore([]), 3))
    assert empty.days == 1 and np.isnan(empty.temperature).all()


def test_the_window_is_whole_utc_days_before_now() -> None:
    grid = window(MIDNIGHT + 10 * 86400.0 + 7200.0, 28)
    assert grid.end == MIDNIGHT + 10 * 86400.0 and grid.start == grid.end - 28 * 86400.0 and grid.n == 28 * 96


def test_the_daily_run_is_at_the_local_hour() -> None:
    assert next_run(MIDNIGHT, 2, UTC) == MIDNIGHT + 7200.0
    assert next_run(MIDNIGHT + 7200.0, 2, UTC) == MIDNIGHT + 86400.0 + 7200.0
    berlin = ZoneInfo("Europe/Berlin")  # UTC+1 in January: 02:00 local is 01:00 UTC
    assert next_run(MIDNIGHT, 2, berlin) == MIDNIGHT + 3600.0
