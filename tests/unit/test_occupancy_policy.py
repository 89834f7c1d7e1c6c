"""The occupancy control rules, one situation at a time, and their invariants for any situation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.apps.occupancy.control import ModelError, WarmupLearner, load_model
from agent.apps.occupancy.policy import FAN_AUTO, FAN_HIGH, FAN_LOW, FAN_OFF, ControlSettings, Mode, RoomView, plan

S = ControlSettings()
NOW = 1_767_600_000.0


def view(**changes: object) -> RoomView:
    base = dict(now=NOW, occupied=True, last_occupied_ts=NOW, scheduled=True, next_scheduled_start=None,
                temperature=20.5, co2=600.0, fan_mode=None, warmup_k_per_h=2.0)
    base.update(changes)
    return RoomView(**base)  # type: ignore[arg-type]


def test_an_occupied_room_gets_the_occupied_setpoint_and_never_loses_its_lights() -> None:
    p = plan(view(), S)
    assert (p.mode, p.setpoint_c, p.setback, p.lights_off) == (Mode.OCCUPIED, 21.0, False, False)


def test_a_short_absence_is_not_a_vacancy() -> None:
    p = plan(view(occupied=False, last_occupied_ts=NOW - S.vacancy_delay_s + 60), S)
    assert p.mode is Mode.OCCUPIED and p.setpoint_c == 21.0


def test_empty_in_scheduled_hours_is_standby_air_off_and_lights_off_after_their_delay() -> None:
    early = plan(view(occupied=False, last_occupied_ts=NOW - S.vacancy_delay_s), S)
    assert (early.mode, early.setpoint_c, early.fan_mode) == (Mode.STANDBY, 19.0, FAN_OFF)
    assert early.lights_off  # the light delay (600 s) is shorter than the vacancy delay (900 s)
    late_lights = ControlSettings(lights_off_after_s=3600.0)
    assert not plan(view(occupied=False, last_occupied_ts=NOW - 1000), late_lights).lights_off


def test_empty_outside_the_schedule_is_set_back_with_the_setback_flag() -> None:
    p = plan(view(occupied=False, last_occupied_ts=None, scheduled=False), S)
    assert (p.mode, p.setpoint_c, p.setback) == (Mode.UNOCCUPIED, 16.0, True)


def test_unknown_occupancy_follows_the_schedule_and_hands_the_fan_back() -> None:
    day = plan(view(occupied=None, last_occupied_ts=None, scheduled=True), S)
    night = plan(view(occupied=None, last_occupied_ts=None, scheduled=False), S)
    assert (day.mode, day.setpoint_c, day.fan_mode) == (Mode.FALLBACK, 21.0, FAN_AUTO)
    assert (night.setpoint_c, night.setback, night.fan_mode) == (16.0, True, FAN_AUTO)


@pytest.mark.parametrize(
    ("co2", "running", "expected"),
    [(1200.0, FAN_LOW, FAN_HIGH), (650.0, FAN_HIGH, FAN_LOW), (800.0, FAN_HIGH, FAN_HIGH), (800.0, FAN_LOW, FAN_LOW),
     (800.0, FAN_OFF, FAN_LOW), (math.nan, FAN_LOW, FAN_HIGH), (None, None, FAN_HIGH)],
)
def test_ventilation_follows_co2_with_hysteresis(co2: float | None, running: str | None, expected: str) -> None:
    assert plan(view(co2=co2, fan_mode=running), S).fan_mode == expected


def test_preconditioning_starts_when_the_warm_up_would_otherwise_end_late() -> None:
    start = NOW + 3600.0  # the schedule starts in an hour
    cold = view(occupied=False, last_occupied_ts=None, scheduled=False, next_scheduled_start=start, temperature=16.0)
    assert plan(cold, S).mode is Mode.PRECONDITIONING  # 3 K at 2 K/h needs 1.5 h: start now
    mild = view(occupied=False, last_occupied_ts=None, scheduled=False, next_scheduled_start=start, temperature=18.5)
    assert plan(mild, S).mode is Mode.UNOCCUPIED  # 0.5 K needs 15 min: not yet
    fast_room = view(occupied=False, last_occupied_ts=None, scheduled=False, next_scheduled_start=start,
                     temperature=16.0, warmup_k_per_h=6.0)
    assert plan(fast_room, S).mode is Mode.UNOCCUPIED


situations = st.builds(
    view,
    occupied=st.none() | st.booleans(),
    last_occupied_ts=st.none() | st.floats(NOW - 86400 * 3, NOW),
    scheduled=st.booleans(),
    next_scheduled_start=st.none() | st.floats(NOW - 100, NOW + 86400),
    temperature=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    co2=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    fan_mode=st.none() | st.sampled_from([FAN_OFF, FAN_LOW, FAN_HIGH, FAN_AUTO, "turbo"]),
    warmup_k_per_h=st.floats(0.0, 50.0),
)


@given(situations)
def test_any_situation_gets_one_of_the_three_setpoints_and_never_sets_back_people(v: RoomView) -> None:
    p = plan(v, S)
    assert p.setpoint_c in (S.occupied_setpoint_c, S.standby_setpoint_c, S.unoccupied_setpoint_c)
    assert p.setback == (p.setpoint_c == S.unoccupied_setpoint_c)
    assert p.fan_mode in (FAN_OFF, FAN_LOW, FAN_HIGH, FAN_AUTO)
    if v.occupied:
        assert p.mode is Mode.OCCUPIED and not p.lights_off and p.fan_mode in (FAN_LOW, FAN_HIGH)
    vacant_s = math.inf if v.last_occupied_ts is None else v.now - v.last_occupied_ts
    if p.setpoint_c < S.occupied_setpoint_c and p.mode is not Mode.FALLBACK:
        assert not v.occupied and vacant_s >= S.vacancy_delay_s
    if p.lights_off:
        assert not v.occupied and vacant_s >= max(S.vacancy_delay_s, S.lights_off_after_s)


def test_warm_up_rate_is_learned_only_from_heating_intervals() -> None:
    learner = WarmupLearner(2.0)
    learner.observe(0.0, 16.0, heating=True)
    learner.observe(1800.0, 18.0, heating=True)  # 4 K/h
    assert learner.rate_k_per_h == pytest.approx(2.4)
    learner.observe(3600.0, 25.0, heating=False)  # the sun, not the heater
    assert learner.rate_k_per_h == pytest.approx(2.4)
    learner.observe(3000.0, 10.0, heating=True)  # time going backwards teaches nothing
    assert learner.rate_k_per_h == pytest.approx(2.4)


def test_a_missing_model_file_names_the_setting_and_the_choices(tmp_path: object) -> None:
    with pytest.raises(ModelError, match=r"apps.occupancy_control.model: cannot load .*no_light"):
        load_model("/nonexistent/model.json")
    assert load_model("no_light").spec.channels
