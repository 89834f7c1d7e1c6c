"""Faults injected in the simulated building: seeded, measured against a fault-free twin,
and invisible when none is injected."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim.building import Building
from firmware_sim.faults import FAULT_KINDS, Fault, FaultMix, draw_faults, inject, simulate
from firmware_sim.simulation import DEFAULT_START

DAY = 86400.0


def _run(building: Building, hours: float) -> None:
    building.step(DEFAULT_START)
    for k in range(1, int(hours * 60) + 1):
        building.step(DEFAULT_START + 60.0 * k)


def test_a_building_with_no_faults_matches_one_never_touched_bit_for_bit() -> None:
    plain, hooked = Building(4, 9, DEFAULT_START), Building(4, 9, DEFAULT_START)
    inject(hooked, [])
    _run(plain, 30)
    _run(hooked, 30)
    for a, b in zip(plain.rooms, hooked.rooms):
        assert (a.temperature, a.hvac_energy_kwh, a.co2, a.humidity) == (b.temperature, b.hvac_energy_kwh, b.co2,
                                                                          b.humidity)


def test_the_twin_follows_the_room_exactly_until_the_fault_starts() -> None:
    building = Building(2, 4, DEFAULT_START)
    inject(building, [Fault("window_open", "room01", DEFAULT_START + 10 * 3600.0, 2.0)])
    _run(building, 10)
    room, twin = building.room("room01"), building.twins["room01"]
    assert (room.temperature, room.hvac_energy_kwh) == (twin.temperature, twin.hvac_energy_kwh)
    _run_more = [building.step(DEFAULT_START + 10 * 3600.0 + 60.0 * k) for k in range(1, 600)]
    assert len(_run_more) == 599
    assert room.hvac_energy_kwh > twin.hvac_energy_kwh


@pytest.fixture(scope="module")
def every_kind() -> object:
    faults = [Fault(kind, f"room{i + 1:02d}", DEFAULT_START + 2 * DAY, {"sensor_bias": 2.0, "sensor_drift": 0.4,
              "window_open": 2.0, "leaking_valve": 0.2}.get(kind, 0.0)) for i, kind in enumerate(FAULT_KINDS)]
    return simulate(len(FAULT_KINDS) + 1, 3, DEFAULT_START, 4, faults)


def test_every_fault_wastes_energy_only_after_it_starts(every_kind) -> None:
    daily = every_kind.daily_true_waste()
    assert np.all(daily[:, :2] == 0.0)
    assert np.all(daily[:-1, 2:].sum(axis=1) > 0.0), dict(zip(FAULT_KINDS, daily[:-1, 2:].sum(axis=1)))
    assert np.all(daily[-1] == 0.0)  # the healthy room


def test_fault_signatures_show_in_the_recording(every_kind) -> None:
    rec = every_kind
    after = np.s_[2 * 96:]
    kind = {f.kind: rec.room_ids.index(f.room_id) for f in rec.faults}
    assert np.ptp(rec.temperature[kind["stuck_sensor"], after]) == 0.0
    assert rec.starts[kind["short_cycling"], after].sum() > 3 * rec.starts[kind["short_cycling"], :2 * 96].sum()
    night = np.s_[2 * 96: 2 * 96 + 20]
    assert rec.ventilation[kind["schedule"], night].min() == 1.0
    assert rec.setpoint[kind["schedule"], night].min() == 21.0


def test_fault_draws_are_seeded_and_follow_the_mix() -> None:
    ids = [f"room{i:02d}" for i in range(1, 101)]
    mix = FaultMix(rate=0.2, kinds={"schedule": 1.0, "window_open": 0.0}, earliest_day=5.0, latest_day=9.0)
    a = draw_faults(ids, DEFAULT_START, 30, mix, 11)
    assert a == draw_faults(ids, DEFAULT_START, 30, mix, 11)
    assert a != draw_faults(ids, DEFAULT_START, 30, mix, 12)
    assert len(a) == 20 and {f.kind for f in a} == {"schedule"}
    assert all(DEFAULT_START + 5 * DAY <= f.start <= DEFAULT_START + 9 * DAY for f in a)


def test_bad_faults_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("gremlins", "room01", 0.0, 0.0)
    building = Building(1, 1, DEFAULT_START)
    inject(building, [Fault("schedule", "room01", DEFAULT_START, 0.0)])
    with pytest.raises(ValueError, match="already has a fault"):
        inject(building, [Fault("window_open", "room01", DEFAULT_START, 1.0)])
    building.step(DEFAULT_START)
    with pytest.raises(ValueError, match="before the building's first step"):
        inject(building, [])
