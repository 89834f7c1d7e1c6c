"""A small office building on event time: rooms with heating, people, air and light.

Each room is a one-resistance, one-capacitance (1R1C) thermal model driven by
the outdoor temperature, a thermostat-controlled electric heater, people, lights
and sun through the window, plus mass balances for CO2 and water vapour.
Ventilation runs on the building's fixed time programme (design outdoor air on
weekdays 07–19, a trickle otherwise), as a constant-volume air system does,
unless a command holds it at another fan mode (off, low, high); the outdoor air
it brings in is heated by the room's heater, so ventilating empty rooms at the
design rate is where most energy is wasted.

The serial sensor nodes sample these rooms and the Zigbee thermostat, heater
plug, ventilation unit and light read and command them, so what the agent stores has the shape of a real building's
data: night setback, morning warm-up, stuffy meetings, lights left on.

Integration uses the exact solution of each linear model over substeps of at
most 60 s with inputs held constant, aligned to whole minutes of event time, so
stepping every minute or every five minutes gives the same trajectory.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol

from firmware_sim.occupants import MEETING, OFFICE, OccupancySchedule
from firmware_sim.weather import (
    DAY_S,
    HOUR_S,
    Weather,
    is_weekday,
    local_hour,
    saturation_vapour_density,
)

SUBSTEP_S = 60.0
OUTDOOR_CO2_PPM = 420.0
CO2_PER_PERSON_M3_S = 0.005e-3
MOISTURE_PER_PERSON_KG_S = 55e-3 / HOUR_S
HEAT_PER_PERSON_W = 100.0
AIR_HEAT_CAPACITY_J_M3K = 1200.0
#: Luminous efficacy of daylight, lm/W: converts outdoor lux to solar W/m².
DAYLIGHT_EFFICACY = 110.0
LIGHTS_ON_BELOW_LX = 300.0
OCCUPIED_SETPOINT_C = 21.0
SETBACK_SETPOINT_C = 16.0
OCCUPIED_FROM_H = 7.0
OCCUPIED_UNTIL_H = 19.0
HYSTERESIS_K = 0.3
FAN_MODES: dict[str, float] = {"off": 0.0, "low": 0.4, "high": 1.0}
"""Fraction of the design outdoor airflow (above the trickle) in each held fan mode."""
COMFORT_BAND_C = (20.0, 24.0)
"""Operative temperature band occupants accept in winter offices (ASHRAE 55's
heating-season range, rounded); time outside it while occupied is a violation."""


def in_programme(t: float) -> bool:
    """Whether the building's time programme calls the rooms occupied: weekdays 07–19."""
    return is_weekday(t) and OCCUPIED_FROM_H <= local_hour(t) < OCCUPIED_UNTIL_H


def scheduled_setpoint(t: float) -> float:
    """The thermostat's own programme: 21 °C 07–19 on weekdays, 16 °C otherwise."""
    return OCCUPIED_SETPOINT_C if in_programme(t) else SETBACK_SETPOINT_C


def next_programme_switch(t: float) -> float:
    """The next 07:00 or 19:00 after ``t``: where a manual setpoint override ends."""
    day_start = t - t % DAY_S
    for hour in (OCCUPIED_FROM_H, OCCUPIED_UNTIL_H, OCCUPIED_FROM_H + 24.0):
        switch = day_start + hour * HOUR_S
        if switch > t:
            return switch
    raise AssertionError("unreachable")


class RoomFault(Protocol):
    """What a room asks of an injected fault (firmware_sim.faults.RoomFaultState)."""

    start: float
    extra_ach: float
    heat_delivered: float
    leak_w: float
    hysteresis_k: float
    start_loss_kwh: float
    always_on: bool
    frozen_sensor: bool

    def sensed(self, temperature: float, t: float) -> float: ...


@dataclass(frozen=True, slots=True)
class Outdoor:
    """Outdoor conditions at one instant, computed once per substep for all rooms."""

    temperature: float
    vapour_density: float
    illuminance: float


class Room:
    """One room's parameters (drawn from the building seed) and its current state."""

    def __init__(self, number: int, rng: random.Random) -> None:
        self.room_id = f"room{number:02d}"
        self.node_id = number
        self.thermostat_name = f"{self.room_id}_thermostat"
        self.plug_name = f"{self.room_id}_hvac_plug"
        self.ventilation_name = f"{self.room_id}_ventilation"
        self.light_name = f"{self.room_id}_light"
        self._draw_parameters(number, rng)
        self._rng = random.Random(rng.getrandbits(64))
        self._initial_offset_k = rng.uniform(0.0, 1.0)
        # State; meaningful once the building has been stepped the first time.
        self.temperature = OCCUPIED_SETPOINT_C
        self.humidity = 35.0
        self.illuminance = 0.0
        self.co2 = OUTDOOR_CO2_PPM
        self.occupants = 0
        self.setpoint = SETBACK_SETPOINT_C
        self.hvac_enabled = True
        self.hvac_on = False
        self.hvac_energy_kwh = 0.0
        self.lights_on = False
        self.lighting_energy_kwh = 0.0
        self.airflow_fraction = 0.0
        """Share of the design outdoor airflow above the trickle, 0–1."""
        self.comfort_violation_kh = 0.0
        """Degree-hours outside :data:`COMFORT_BAND_C` while someone was in the room."""
        self.occupied_hours = 0.0
        self._vapour = 0.0
        self._pir_count = 0
        self._override: tuple[float, float] | None = None
        self._ventilation_hold: tuple[str, float] | None = None
        self.hvac_on_s = 0.0
        """Seconds the heater relay has been on: the duty cycle the fault detectors see."""
        self.hvac_starts = 0
        """Times the heater relay switched on."""
        self.fault: RoomFault | None = None
        """An injected fault (firmware_sim/faults.py); None keeps the room healthy and bit-identical."""
        self._clock = 0.0

    def _draw_parameters(self, number: int, rng: random.Random) -> None:
        self.kind = MEETING if number % 4 == 0 else OFFICE
        if self.kind == MEETING:
            self.capacity = rng.randint(6, 12)
            self.volume_m3 = self.capacity * rng.uniform(8.0, 11.0)
            self.ach_occupied = rng.uniform(1.5, 2.0)
        else:
            self.capacity = rng.randint(1, 5)
            self.volume_m3 = 20.0 + self.capacity * rng.uniform(18.0, 28.0)
            self.ach_occupied = rng.uniform(1.0, 2.0)
        self.hvac_power_kw = rng.choice((1.5, 2.0, 2.5, 3.0))
        # The heater is sized for a -12 °C design day with a generous margin, as
        # electric room heaters usually are; that also makes morning warm-up quick.
        ua_w_per_k = self.hvac_power_kw * 1000.0 / (33.0 * rng.uniform(2.8, 3.6))
        self.time_constant_h = rng.uniform(20.0, 45.0)
        self.resistance_k_per_w = 1.0 / ua_w_per_k
        self.capacitance_j_per_k = ua_w_per_k * self.time_constant_h * HOUR_S
        has_window = number == 1 or rng.random() >= 0.2
        self.daylight_factor = rng.uniform(0.012, 0.03) if has_window else 0.0
        self.solar_aperture_m2 = rng.uniform(0.4, 1.2) if has_window else 0.0
        self.lights_lux = rng.uniform(350.0, 450.0)
        self.lights_w = 8.0 * self.volume_m3 / 2.8
        self.ach_unoccupied = rng.uniform(0.1, 0.3)
        self.forget_lights_prob = rng.uniform(0.03, 0.12)
        self.pir_rate_per_s = rng.uniform(0.02, 0.04)
        self.schedule = OccupancySchedule(rng, self.capacity, kind=self.kind)

    # -- public -------------------------------------------------------------

    @property
    def has_window(self) -> bool:
        return self.daylight_factor > 0.0

    def take_pir_count(self) -> int:
        """PIR motion events since the last call; reading them resets the count."""
        count, self._pir_count = self._pir_count, 0
        return count

    # -- model --------------------------------------------------------------

    def initialise(self, t: float, out: Outdoor) -> None:
        self.occupants = self.schedule.occupants(t)
        self.setpoint = scheduled_setpoint(t)
        self.temperature = self.setpoint + self._initial_offset_k
        self.co2 = OUTDOOR_CO2_PPM + 40.0 * self.occupants
        self._vapour = 0.35 * saturation_vapour_density(self.temperature)
        self._update_discrete(t, out, was_occupied=False)

    def advance(self, t0: float, t1: float, out0: Outdoor, out1: Outdoor) -> None:
        """Integrate from ``t0`` to ``t1`` with the inputs at ``t0``, then update at ``t1``."""
        dt = t1 - t0
        ach = self.ach_unoccupied + (self.ach_occupied - self.ach_unoccupied) * self.airflow_fraction
        fault = self._active_fault(t0)
        if fault is not None:
            ach += fault.extra_ach
        ventilation_m3_s = ach * self.volume_m3 / HOUR_S
        self._integrate_heat(dt, out0, ventilation_m3_s, fault)
        air_decay = math.exp(-ach * dt / HOUR_S)
        co2_ss = OUTDOOR_CO2_PPM + 1e6 * self.occupants * CO2_PER_PERSON_M3_S / ventilation_m3_s
        self.co2 = co2_ss + (self.co2 - co2_ss) * air_decay
        vapour_ss = out0.vapour_density + self.occupants * MOISTURE_PER_PERSON_KG_S / ventilation_m3_s
        self._vapour = vapour_ss + (self._vapour - vapour_ss) * air_decay
        if self.hvac_on:
            self.hvac_energy_kwh += self.hvac_power_kw * dt / HOUR_S
            self.hvac_on_s += dt
        if fault is not None:
            self.hvac_energy_kwh += fault.leak_w / 1000.0 * dt / HOUR_S
        if self.lights_on:
            self.lighting_energy_kwh += self.lights_w / 1000.0 * dt / HOUR_S
        if self.occupants:
            self._pir_count += _poisson(self._rng, self.pir_rate_per_s * math.sqrt(self.occupants) * dt)
            self.occupied_hours += dt / HOUR_S
            self.comfort_violation_kh += _outside_band(self.temperature) * dt / HOUR_S
        was_occupied = self.occupants > 0
        self.occupants = self.schedule.occupants(t1)
        self._update_discrete(t1, out1, was_occupied)

    def _integrate_heat(self, dt: float, out: Outdoor, ventilation_m3_s: float, fault: RoomFault | None) -> None:
        """Exact 1R1C step; ventilation air (no heat recovery) adds to the envelope's loss."""
        conductance = 1.0 / self.resistance_k_per_w + AIR_HEAT_CAPACITY_J_M3K * ventilation_m3_s
        heater_w = self.hvac_power_kw * 1000.0 if self.hvac_on else 0.0
        if fault is not None:
            heater_w = heater_w * fault.heat_delivered + fault.leak_w
        gains = (
            heater_w
            + HEAT_PER_PERSON_W * self.occupants
            + (self.lights_w if self.lights_on else 0.0)
            + self.solar_aperture_m2 * out.illuminance / DAYLIGHT_EFFICACY
        )
        steady = out.temperature + gains / conductance
        decay = math.exp(-dt * conductance / self.capacitance_j_per_k)
        self.temperature = steady + (self.temperature - steady) * decay

    def _update_discrete(self, t: float, out: Outdoor, was_occupied: bool) -> None:
        """Thermostat, lights and the derived readings at the end of a substep."""
        self._clock = t
        if self._override is not None and t >= self._override[1]:
            self._override = None
        programme = OCCUPIED_SETPOINT_C if self._in_programme(t) else SETBACK_SETPOINT_C
        self.setpoint = self._override[0] if self._override else programme
        self._run_thermostat()
        if self._ventilation_hold is not None and t >= self._ventilation_hold[1]:
            self._ventilation_hold = None
        self.airflow_fraction = self._airflow(t)
        daylight = out.illuminance * self.daylight_factor
        if self.occupants and not self.lights_on and daylight < LIGHTS_ON_BELOW_LX:
            self.lights_on = True
        elif not self.occupants and was_occupied:
            # Drawn on every departure, lit or not, so that switching lights from
            # outside never shifts the random stream people and sensors share.
            forgot = self._rng.random() < self.forget_lights_prob
            self.lights_on = self.lights_on and forgot
        self.illuminance = daylight + (self.lights_lux if self.lights_on else 0.0)
        rh = 100.0 * self._vapour / saturation_vapour_density(self.temperature)
        self.humidity = min(100.0, max(0.0, rh))

    def _run_thermostat(self) -> None:
        was_on = self.hvac_on
        fault = self._active_fault(self._clock)
        sensed = self.temperature if fault is None else fault.sensed(self.temperature, self._clock)
        band = HYSTERESIS_K if fault is None else fault.hysteresis_k
        if not self.hvac_enabled:
            self.hvac_on = False
        elif sensed < self.setpoint - band:
            self.hvac_on = True
        elif sensed > self.setpoint + band:
            self.hvac_on = False
        if self.hvac_on and not was_on:
            self.hvac_starts += 1
            if fault is not None:
                self.hvac_energy_kwh += fault.start_loss_kwh

    def _active_fault(self, t: float) -> RoomFault | None:
        fault = self.fault
        return fault if fault is not None and t >= fault.start else None

    def _in_programme(self, t: float) -> bool:
        fault = self._active_fault(t)
        return True if fault is not None and fault.always_on else in_programme(t)

    @property
    def sensor_frozen(self) -> bool:
        """Whether the temperature sensor is stuck: it repeats one value, without the noise of a live one."""
        fault = self._active_fault(self._clock)
        return fault is not None and fault.frozen_sensor

    @property
    def reported_temperature(self) -> float:
        """What the room's temperature sensor (the thermostat's) reads: the true
        temperature unless a sensor fault biases, drifts or freezes it."""
        fault = self._active_fault(self._clock)
        return self.temperature if fault is None else fault.sensed(self.temperature, self._clock)

    def override_setpoint(self, value: float, t: float) -> None:
        """A manual setpoint holds until the thermostat's next programme switch."""
        self._override = (value, next_programme_switch(t))
        self.setpoint = value
        self._run_thermostat()

    def enable_hvac(self, on: bool) -> None:
        self.hvac_enabled = on
        self._run_thermostat()

    def hold_ventilation(self, mode: str, t: float) -> None:
        """Hold the fan at ``mode`` (a key of :data:`FAN_MODES`) until the next
        programme switch; "auto" hands it back to the programme at once."""
        if mode != "auto" and mode not in FAN_MODES:
            raise ValueError(f"fan mode must be auto or one of {', '.join(FAN_MODES)}, got {mode!r}")
        self._ventilation_hold = None if mode == "auto" else (mode, next_programme_switch(t))
        self.airflow_fraction = self._airflow(t)

    @property
    def ventilation_mode(self) -> str:
        """Zigbee2MQTT ``fan_mode``: "auto" on the programme, else the held mode."""
        return "auto" if self._ventilation_hold is None else self._ventilation_hold[0]

    @property
    def ventilating(self) -> bool:
        return self.airflow_fraction > 0.0

    def _airflow(self, t: float) -> float:
        if self._ventilation_hold is not None:
            return FAN_MODES[self._ventilation_hold[0]]
        return 1.0 if self._in_programme(t) else 0.0

    def switch_lights(self, on: bool) -> None:
        """A wall switch or a smart bulb: people switch lights back on if they need them."""
        self.lights_on = on


class Building:
    """``rooms`` rooms and the weather around them, advanced with :meth:`step`."""

    def __init__(self, rooms: int, seed: int, start: float) -> None:
        if rooms < 1:
            raise ValueError(f"a building needs at least one room, got {rooms}")
        self.seed = seed
        self.start = float(start)
        rng = random.Random(seed)
        self.weather = Weather(rng.getrandbits(32), start)
        self.rooms = [Room(i + 1, rng) for i in range(rooms)]
        self._by_id = {room.room_id: room for room in self.rooms}
        self.twins: dict[str, Room] = {}
        """Fault-free copies of faulty rooms, stepped under the same weather and
        people (firmware_sim/faults.py): their energy is the counterfactual."""
        self._time: float | None = None
        self._outdoor: Outdoor | None = None

    @property
    def time(self) -> float:
        """Event time of the state (``start`` before the first step)."""
        return self.start if self._time is None else self._time

    def room(self, room_id: str) -> Room:
        try:
            return self._by_id[room_id]
        except KeyError:
            raise KeyError(f"no room {room_id!r}; rooms are {', '.join(self._by_id)}") from None

    def outdoor(self, t: float) -> Outdoor:
        w = self.weather
        return Outdoor(w.temperature(t), w.vapour_density(t), w.illuminance(t))

    def step(self, t: float) -> None:
        """Advance every room to event time ``t``; the first call only initialises."""
        if self._time is None or self._outdoor is None:
            self._time, self._outdoor = float(t), self.outdoor(t)
            for room in self.rooms:
                room.initialise(t, self._outdoor)
            for twin in self.twins.values():
                twin.initialise(t, self._outdoor)
            return
        if t < self._time:
            raise ValueError(f"the building cannot step backwards ({t} < {self._time})")
        t0, out0 = self._time, self._outdoor
        while t0 < t:
            t1 = min(t, (math.floor(t0 / SUBSTEP_S) + 1) * SUBSTEP_S)
            out1 = self.outdoor(t1)
            for room in self.rooms:
                room.advance(t0, t1, out0, out1)
            for twin in self.twins.values():
                twin.advance(t0, t1, out0, out1)
            t0, out0 = t1, out1
        self._time, self._outdoor = t0, out0

    def set_setpoint(self, room_id: str, value: float) -> None:
        """What the thermostat does when commanded: a manual override of its programme."""
        if not math.isfinite(value):
            raise ValueError(f"setpoint must be a finite number, got {value!r}")
        self.room(room_id).override_setpoint(float(value), self.time)

    def set_hvac_enabled(self, room_id: str, on: bool) -> None:
        """Switch the smart plug in front of the room's heater."""
        self.room(room_id).enable_hvac(bool(on))

    def set_ventilation(self, room_id: str, mode: str) -> None:
        """Hold the room's fan at ``mode`` ("off", "low", "high"; "auto": the programme)."""
        self.room(room_id).hold_ventilation(mode, self.time)

    def set_lights(self, room_id: str, on: bool) -> None:
        self.room(room_id).switch_lights(bool(on))

    def totals(self) -> BuildingTotals:
        """Energy and comfort summed over the rooms since the start."""
        return BuildingTotals(
            hvac_kwh=sum(r.hvac_energy_kwh for r in self.rooms),
            lighting_kwh=sum(r.lighting_energy_kwh for r in self.rooms),
            comfort_violation_degree_hours=sum(r.comfort_violation_kh for r in self.rooms),
            occupied_hours=sum(r.occupied_hours for r in self.rooms),
        )


@dataclass(frozen=True, slots=True)
class BuildingTotals:
    hvac_kwh: float
    lighting_kwh: float
    comfort_violation_degree_hours: float
    """Kelvin-hours outside :data:`COMFORT_BAND_C`, counted only while a room is occupied."""
    occupied_hours: float
    """Room-hours with at least one person in."""


def _outside_band(temperature: float) -> float:
    low, high = COMFORT_BAND_C
    return max(0.0, low - temperature, temperature - high)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means of a minute of PIR events."""
    if mean <= 0.0:
        return 0
    limit = math.exp(-mean)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
