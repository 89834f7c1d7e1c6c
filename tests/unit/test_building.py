"""The simulated building: reproducible, physically sane, and obedient to its plug and thermostat."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_sim.building import Building, Room, scheduled_setpoint
from firmware_sim.occupants import MEETING, OFFICE, OccupancySchedule
from firmware_sim.weather import Weather, is_weekday, local_hour

#: Monday 2026-01-05 00:00 UTC.
MONDAY = 1767571200.0
DAY = 86400.0


@dataclass(frozen=True)
class Sample:
    t: float
    temperature: float
    humidity: float
    illuminance: float
    co2: float
    occupants: int
    setpoint: float
    hvac_on: bool
    lights_on: bool
    energy: float
    pir: int


def sample(t: float, room: Room) -> Sample:
    return Sample(
        t, room.temperature, room.humidity, room.illuminance, room.co2, room.occupants,
        room.setpoint, room.hvac_on, room.lights_on, room.hvac_energy_kwh, room.take_pir_count(),
    )


def run(building: Building, start: float, seconds: float, step: float = 60.0) -> dict[str, list[Sample]]:
    """Step ``building`` from ``start`` and record every room after every step."""
    out: dict[str, list[Sample]] = {room.room_id: [] for room in building.rooms}
    for k in range(int(seconds // step) + 1):
        t = start + k * step
        building.step(t)
        for room in building.rooms:
            out[room.room_id].append(sample(t, room))
    return out


@pytest.fixture(scope="module")
def week() -> tuple[Building, dict[str, list[Sample]]]:
    building = Building(8, seed=7, start=MONDAY)
    return building, run(building, MONDAY, 7 * DAY)


# -- reproducibility -------------------------------------------------------------


def trajectory(seed: int, step: float = 300.0) -> list[tuple[object, ...]]:
    building = Building(3, seed=seed, start=MONDAY)
    rows = run(building, MONDAY, DAY, step)
    return [tuple(vars(s).values()) for room in rows.values() for s in room]


def test_same_seed_gives_identical_trajectories_and_other_seeds_differ() -> None:
    first = trajectory(11)
    assert first == trajectory(11)
    assert first != trajectory(12)


def test_trajectory_does_not_depend_on_how_often_the_building_is_stepped() -> None:
    fine = Building(2, seed=4, start=MONDAY)
    coarse = Building(2, seed=4, start=MONDAY)
    fine_rows = run(fine, MONDAY, DAY, 60.0)
    coarse_rows = run(coarse, MONDAY, DAY, 300.0)
    for room_id, coarse_samples in coarse_rows.items():
        every_fifth = fine_rows[room_id][::5]
        assert [s.temperature for s in every_fifth] == [s.temperature for s in coarse_samples]
        assert [s.co2 for s in every_fifth] == [s.co2 for s in coarse_samples]


def test_stepping_backwards_is_refused() -> None:
    building = Building(1, seed=1, start=MONDAY)
    building.step(MONDAY)
    building.step(MONDAY + 600)
    with pytest.raises(ValueError, match="backwards"):
        building.step(MONDAY + 300)


def test_rooms_are_named_and_numbered_for_their_devices() -> None:
    building = Building(3, seed=1, start=MONDAY)
    first = building.rooms[0]
    assert (first.room_id, first.node_id, first.thermostat_name, first.plug_name) == (
        "room01", 1, "room01_thermostat", "room01_hvac_plug",
    )
    assert [r.node_id for r in building.rooms] == [1, 2, 3]
    with pytest.raises(KeyError, match="room09"):
        building.set_setpoint("room09", 20.0)
    with pytest.raises(ValueError):
        Building(0, seed=1, start=MONDAY)


# -- a winter week -----------------------------------------------------------------


def test_temperatures_stay_in_a_heated_office_range(week: tuple[Building, dict[str, list[Sample]]]) -> None:
    _, rows = week
    for samples in rows.values():
        temps = [s.temperature for s in samples]
        assert 10.0 < min(temps) and max(temps) < 26.0


def test_heating_holds_the_setpoint_while_people_are_in(week: tuple[Building, dict[str, list[Sample]]]) -> None:
    _, rows = week
    held = 0
    for samples in rows.values():
        occupied = [s for s in samples if s.occupants and is_weekday(s.t)]
        assert occupied, "every room is used at least once in a working week"
        near = sum(abs(s.temperature - s.setpoint) <= 1.0 for s in occupied)
        held += near / len(occupied) >= 0.8
    assert held >= 0.75 * len(rows)


def test_setback_at_night_makes_rooms_cooler_than_in_the_afternoon(
    week: tuple[Building, dict[str, list[Sample]]],
) -> None:
    _, rows = week
    for samples in rows.values():
        night = [s.temperature for s in samples if is_weekday(s.t) and 3 <= local_hour(s.t) < 6]
        afternoon = [s.temperature for s in samples if is_weekday(s.t) and 13 <= local_hour(s.t) < 16]
        assert sum(night) / len(night) < sum(afternoon) / len(afternoon) - 2.0


def test_co2_rises_with_people_and_stays_plausible(week: tuple[Building, dict[str, list[Sample]]]) -> None:
    _, rows = week
    for samples in rows.values():
        assert all(400.0 <= s.co2 <= 2500.0 for s in samples)
        occupied = [s.co2 for s in samples if s.occupants]
        night = [s.co2 for s in samples if 2 <= local_hour(s.t) < 5]
        assert sum(occupied) / len(occupied) > sum(night) / len(night) + 100.0


def test_humidity_is_a_winter_office_humidity(week: tuple[Building, dict[str, list[Sample]]]) -> None:
    _, rows = week
    for samples in rows.values():
        assert all(10.0 <= s.humidity <= 70.0 for s in samples)


def test_pir_counts_motion_only_when_someone_is_there(week: tuple[Building, dict[str, list[Sample]]]) -> None:
    _, rows = week
    for samples in rows.values():
        # The count after a step covers the minute that began at the previous sample.
        for before, after in zip(samples, samples[1:]):
            if before.occupants == 0:
                assert after.pir == 0
        busy = [after.pir for before, after in zip(samples, samples[1:]) if before.occupants]
        assert sum(p > 0 for p in busy) > 0.5 * len(busy)


def test_it_is_dark_at_night_unless_the_lights_are_on(week: tuple[Building, dict[str, list[Sample]]]) -> None:
    building, rows = week
    for samples in rows.values():
        for s in samples:
            if building.weather.illuminance(s.t) == 0.0 and not s.lights_on:
                assert s.illuminance == 0.0
            if s.lights_on:
                assert s.illuminance >= 300.0
        assert any(s.lights_on for s in samples)


def test_heater_energy_only_grows_and_only_while_heating(week: tuple[Building, dict[str, list[Sample]]]) -> None:
    building, rows = week
    for room in building.rooms:
        samples = rows[room.room_id]
        for before, after in zip(samples, samples[1:]):
            expected = room.hvac_power_kw / 60.0 if before.hvac_on else 0.0
            assert after.energy - before.energy == pytest.approx(expected, abs=1e-9)
        assert samples[-1].energy > 0.0


# -- the devices' levers -------------------------------------------------------------


def test_plug_off_stops_heating_and_the_room_cools_toward_outdoors() -> None:
    heated = Building(2, seed=5, start=MONDAY)
    unheated = Building(2, seed=5, start=MONDAY)
    unheated.step(MONDAY)
    unheated.set_hvac_enabled("room01", False)
    heated_rows = run(heated, MONDAY, 2 * DAY)
    cold_rows = run(unheated, MONDAY, 2 * DAY)
    cold = cold_rows["room01"]
    assert not any(s.hvac_on for s in cold)
    assert cold[-1].energy == 0.0
    assert heated_rows["room01"][-1].energy > 0.0
    assert cold[-1].temperature < heated_rows["room01"][-1].temperature - 2.0
    outdoor_mean = sum(unheated.weather.temperature(s.t) for s in cold) / len(cold)
    assert abs(cold[-1].temperature - outdoor_mean) < abs(cold[0].temperature - outdoor_mean)
    # The other room's plug was left alone.
    assert any(s.hvac_on for s in cold_rows["room02"])


def test_a_setpoint_command_overrides_the_programme_until_its_next_switch() -> None:
    building = Building(1, seed=2, start=MONDAY)
    building.step(MONDAY + 9 * 3600)
    building.set_setpoint("room01", 18.5)
    room = building.rooms[0]
    assert room.setpoint == 18.5
    building.step(MONDAY + 18 * 3600)
    assert room.setpoint == 18.5
    building.step(MONDAY + 19 * 3600)
    assert room.setpoint == 16.0
    with pytest.raises(ValueError):
        building.set_setpoint("room01", math.nan)


def test_the_thermostat_programme() -> None:
    assert scheduled_setpoint(MONDAY + 6.9 * 3600) == 16.0
    assert scheduled_setpoint(MONDAY + 7 * 3600) == 21.0
    assert scheduled_setpoint(MONDAY + 19 * 3600) == 16.0
    assert scheduled_setpoint(MONDAY + 5 * DAY + 12 * 3600) == 16.0  # Saturday noon


# -- weather and occupants -------------------------------------------------------------


def test_january_daylight_and_temperatures() -> None:
    weather = Weather(seed=3, start=MONDAY)
    for day in range(7):
        minutes = [MONDAY + day * DAY + 60 * m for m in range(1440)]
        lit = [t for t in minutes if weather.illuminance(t) > 0]
        assert 7.5 <= local_hour(lit[0]) <= 8.5
        assert 16.0 <= local_hour(lit[-1]) <= 17.0
        assert 8_000 <= max(weather.illuminance(t) for t in lit) <= 35_000
    temps = [weather.temperature(MONDAY + 3600 * h) for h in range(7 * 24)]
    assert -15.0 < min(temps) and max(temps) < 20.0
    assert -3.0 < sum(temps) / len(temps) < 9.0


@given(seed=st.integers(0, 2**32), offset=st.floats(0, 365 * DAY))
def test_weather_is_always_physical(seed: int, offset: float) -> None:
    weather = Weather(seed=seed, start=MONDAY)
    t = MONDAY + offset
    assert weather.illuminance(t) >= 0.0
    assert 35.0 <= weather.humidity(t) <= 100.0
    assert math.isfinite(weather.temperature(t))
    if weather.sun_elevation(t) <= 0:
        assert weather.illuminance(t) == 0.0


@given(
    seed=st.integers(0, 2**32),
    capacity=st.integers(1, 15),
    kind=st.sampled_from([OFFICE, MEETING]),
    offsets=st.lists(st.floats(0, 60 * DAY), min_size=1, max_size=30),
)
def test_occupancy_is_bounded_and_independent_of_the_order_of_questions(
    seed: int, capacity: int, kind: str, offsets: list[float]
) -> None:
    forward = OccupancySchedule(random.Random(seed), capacity, kind=kind)
    shuffled = OccupancySchedule(random.Random(seed), capacity, kind=kind)
    times = [MONDAY + o for o in offsets]
    answers = {t: forward.occupants(t) for t in sorted(times)}
    for t in reversed(times):
        assert shuffled.occupants(t) == answers[t]
        assert 0 <= answers[t] <= capacity


def test_offices_fill_on_weekdays_and_stay_empty_at_night_and_mostly_at_weekends() -> None:
    rng = random.Random(9)
    schedules = [OccupancySchedule(rng, 4) for _ in range(20)]
    weekday_noon = [s.occupants(MONDAY + d * DAY + 10.5 * 3600) for s in schedules for d in range(5)]
    nights = [s.occupants(MONDAY + d * DAY + 3 * 3600) for s in schedules for d in range(7)]
    weekends = [s.occupants(MONDAY + d * DAY + h * 3600) for s in schedules for d in (5, 6) for h in range(24)]
    assert sum(n > 0 for n in weekday_noon) > 0.8 * len(weekday_noon)
    assert not any(nights)
    assert sum(n > 0 for n in weekends) < 0.05 * len(weekends)


def test_bad_schedule_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        OccupancySchedule(random.Random(1), 0)
    with pytest.raises(ValueError):
        OccupancySchedule(random.Random(1), 3, kind="warehouse")


# -- ventilation, lights, comfort: what occupancy-based control acts on and is judged by


def test_ventilation_follows_the_programme_unless_held() -> None:
    building = Building(2, seed=5, start=MONDAY)
    building.step(MONDAY)
    room = building.rooms[0]
    building.step(MONDAY + 6 * 3600)
    assert not room.ventilating and room.ventilation_mode == "auto"
    building.step(MONDAY + 8 * 3600)
    assert room.ventilating
    building.set_ventilation(room.room_id, "off")
    building.step(MONDAY + 18 * 3600)
    assert not room.ventilating and room.ventilation_mode == "off"
    building.step(MONDAY + 19 * 3600 + 60)  # the hold ends at the programme switch
    assert not room.ventilating and room.ventilation_mode == "auto"
    building.step(MONDAY + DAY + 8 * 3600)
    assert room.ventilating


def test_ventilating_an_empty_room_costs_heating_energy() -> None:
    """The physics behind the savings: outdoor air for nobody must be heated."""
    on, off = Building(1, seed=2, start=MONDAY), Building(1, seed=2, start=MONDAY)
    for b in (on, off):
        b.step(MONDAY)
    for k in range(1, 24 * 60 + 1):
        t = MONDAY + k * 60.0
        on.set_ventilation(on.rooms[0].room_id, "high")
        empty = off.rooms[0].occupants == 0
        off.set_ventilation(off.rooms[0].room_id, "off" if empty else "auto")
        for b in (on, off):
            b.step(t)
    assert off.totals().hvac_kwh < on.totals().hvac_kwh * 0.9
    # people and sensors saw the same day in both buildings
    assert on.totals().occupied_hours == off.totals().occupied_hours


def test_lighting_energy_is_power_times_time_on() -> None:
    building = Building(1, seed=4, start=MONDAY)
    building.step(MONDAY)
    room = building.rooms[0]
    building.set_lights(room.room_id, True)
    before = room.lighting_energy_kwh
    building.step(MONDAY + 3600)  # 01:00, nobody comes to switch it off
    assert room.lighting_energy_kwh - before == pytest.approx(room.lights_w / 1000.0)


def test_switching_lights_from_outside_never_changes_what_people_do() -> None:
    """Same seed, lights switched off at random in one copy: same occupants, same PIR counts."""
    a, b = Building(3, seed=11, start=MONDAY), Building(3, seed=11, start=MONDAY)
    rng = random.Random(0)
    for k in range(0, 2 * 24 * 60, 5):
        t = MONDAY + k * 60.0
        if k and rng.random() < 0.2:
            room = rng.choice(b.rooms)
            b.set_lights(room.room_id, False)
        a.step(t)
        b.step(t)
        for ra, rb in zip(a.rooms, b.rooms):
            assert ra.occupants == rb.occupants
            assert ra.take_pir_count() == rb.take_pir_count()


def test_comfort_violation_counts_only_occupied_time_outside_the_band() -> None:
    building = Building(4, seed=7, start=MONDAY)
    building.step(MONDAY)
    for room in building.rooms:
        building.set_setpoint(room.room_id, 30.0)  # far too warm, until 07:00
    building.step(MONDAY + 6 * 3600)
    totals = building.totals()
    assert totals.occupied_hours == 0.0 and totals.comfort_violation_degree_hours == 0.0
    building.step(MONDAY + 2 * DAY)
    totals = building.totals()
    assert totals.occupied_hours > 0.0
    assert totals.comfort_violation_degree_hours >= 0.0
    assert totals.hvac_kwh == pytest.approx(sum(r.hvac_energy_kwh for r in building.rooms))


def test_fixed_schedule_baseline_is_reproducible_and_matches_a_plain_run() -> None:
    from firmware_sim.baseline import fixed_schedule_totals

    first = fixed_schedule_totals(3, seed=9, start=MONDAY, days=1.0)
    assert first == fixed_schedule_totals(3, seed=9, start=MONDAY, days=1.0)
    plain = Building(3, seed=9, start=MONDAY)
    run(plain, MONDAY, DAY)
    assert plain.totals() == first
    assert first.hvac_kwh > 0 and first.occupied_hours > 0
