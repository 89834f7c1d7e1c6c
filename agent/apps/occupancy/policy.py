"""What a room should be doing, given what is known about it now.

A pure function of one room's situation, so every rule of occupancy-based
control can be read and tested on its own, without a broker or a clock.  The
modes follow ASHRAE Guideline 36's zone groups:

* **occupied** — someone is in: the occupied setpoint; outdoor air modulated
  on CO2 (demand-controlled ventilation: ``low`` until CO2 passes the high mark,
  ``high`` until it falls below the low mark).
* **standby** — nobody is in, but the schedule says the building is in use
  (G36's *occupied-standby*): the setpoint relaxes by ``standby_offset_k`` so
  the room recovers within minutes when someone comes, and the outdoor air
  stops; lights left on are switched off after ``lights_off_after_s``.
* **preconditioning** — empty and outside the schedule, but the room would
  not reach the standby setpoint by the schedule's start at its warm-up rate:
  heat to standby now (G36's optimal start, aimed at standby, not at the
  occupied setpoint, because people rarely arrive at the schedule's first minute).
* **unoccupied** — empty and outside the schedule: the setback setpoint.
* **fallback** — the occupancy estimate is unknown (a sensor is silent or
  has not reported yet): follow the schedule, as the building would without us.

Vacancy is declared only after the estimate has said "empty" for
``vacancy_delay_s``: a missed motion or a short absence must not set a room back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    OCCUPIED = "occupied"
    STANDBY = "standby"
    PRECONDITIONING = "preconditioning"
    UNOCCUPIED = "unoccupied"
    FALLBACK = "fallback"


FAN_OFF, FAN_LOW, FAN_HIGH, FAN_AUTO = "off", "low", "high", "auto"


@dataclass(frozen=True, slots=True)
class ControlSettings:
    occupied_setpoint_c: float = 21.0
    standby_offset_k: float = 2.0
    unoccupied_setpoint_c: float = 16.0
    vacancy_delay_s: float = 900.0
    lights_off_after_s: float = 600.0
    co2_high_ppm: float = 900.0
    co2_low_ppm: float = 700.0
    preheat_max_s: float = 10_800.0

    @property
    def standby_setpoint_c(self) -> float:
        return self.occupied_setpoint_c - self.standby_offset_k


@dataclass(frozen=True, slots=True)
class RoomView:
    """One room at one event time, as the control app sees it."""

    now: float
    occupied: bool | None
    """The estimator's answer now; ``None`` when it does not know."""
    last_occupied_ts: float | None
    """When the estimator last said "occupied" (``None``: not since the agent started)."""
    scheduled: bool
    """Whether the schedule calls the building occupied now."""
    next_scheduled_start: float | None
    """Event time the schedule next turns occupied (``None``: not within the look-ahead)."""
    temperature: float | None
    co2: float | None
    fan_mode: str | None
    """The fan mode the app last had confirmed (for the CO2 hysteresis)."""
    warmup_k_per_h: float
    """How fast this room heats up with the heater on, learned or the default."""


@dataclass(frozen=True, slots=True)
class Plan:
    mode: Mode
    setpoint_c: float
    setback: bool
    """True for an unoccupied-mode setpoint (guardrails then allow the setback floor)."""
    fan_mode: str
    lights_off: bool
    why: str


def plan(view: RoomView, s: ControlSettings) -> Plan:
    """The room's mode and the setpoint, fan mode and lights that go with it."""
    vacant_s = _vacant_for(view)
    if view.occupied is None and vacant_s is not None and vacant_s >= s.vacancy_delay_s:
        return _fallback(view, s)
    if vacant_s is None or vacant_s < s.vacancy_delay_s:
        return _occupied(view, s, vacant_s)
    lights_off = vacant_s >= s.lights_off_after_s
    minutes = f"{vacant_s / 60:.0f} min"
    if view.scheduled:
        return Plan(Mode.STANDBY, s.standby_setpoint_c, False, FAN_OFF, lights_off,
                    f"empty for {minutes} during scheduled hours: standby")
    if _preheat_due(view, s):
        return Plan(Mode.PRECONDITIONING, s.standby_setpoint_c, False, FAN_OFF, lights_off,
                    "empty before the schedule starts; warming up to standby in time")
    return Plan(Mode.UNOCCUPIED, s.unoccupied_setpoint_c, True, FAN_OFF, lights_off,
                f"empty for {minutes} outside scheduled hours: setback")


def _vacant_for(view: RoomView) -> float | None:
    """Seconds since the room was last seen occupied; ``None`` while it is occupied now."""
    if view.occupied:
        return None
    if view.last_occupied_ts is None:
        return math.inf
    return max(0.0, view.now - view.last_occupied_ts)


def _occupied(view: RoomView, s: ControlSettings, vacant_s: float | None) -> Plan:
    why = "occupied" if vacant_s is None else f"empty for only {vacant_s / 60:.0f} min: still treated as occupied"
    return Plan(Mode.OCCUPIED, s.occupied_setpoint_c, False, _dcv(view, s), False, why)


def _dcv(view: RoomView, s: ControlSettings) -> str:
    """Outdoor air for the people in the room: CO2 above the high mark asks for the
    design rate, below the low mark the reduced rate; in between, keep what runs."""
    if view.co2 is None or not math.isfinite(view.co2):
        return FAN_HIGH  # no CO2 reading: ventilate for a full room, never too little
    if view.co2 >= s.co2_high_ppm:
        return FAN_HIGH
    if view.co2 <= s.co2_low_ppm:
        return FAN_LOW
    return view.fan_mode if view.fan_mode in (FAN_LOW, FAN_HIGH) else FAN_LOW


def _fallback(view: RoomView, s: ControlSettings) -> Plan:
    if view.scheduled:
        return Plan(Mode.FALLBACK, s.occupied_setpoint_c, False, FAN_AUTO, False,
                    "occupancy unknown: following the schedule (occupied hours)")
    return Plan(Mode.FALLBACK, s.unoccupied_setpoint_c, True, FAN_AUTO, False,
                "occupancy unknown: following the schedule (setback hours)")


def _preheat_due(view: RoomView, s: ControlSettings) -> bool:
    """Whether heating must start now to reach standby by the schedule's start."""
    if view.next_scheduled_start is None or view.temperature is None or not math.isfinite(view.temperature):
        return False
    lead_s = view.next_scheduled_start - view.now
    if lead_s <= 0 or lead_s > s.preheat_max_s:
        return False
    deficit_k = s.standby_setpoint_c - view.temperature
    if deficit_k <= 0:
        return False
    rate = max(view.warmup_k_per_h, 0.1)
    return lead_s <= deficit_k / rate * 3600.0
