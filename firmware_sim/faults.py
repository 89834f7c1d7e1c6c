"""Faults injected into the simulated building, with their true wasted energy.

A fault belongs to one room and starts at an event time.  The room's
``fault`` hook (firmware_sim/building.py) asks the fault how it changes the
physics or the thermostat; nothing changes while no fault is set, so a
building without faults is bit-identical to one built before this module.

The true waste of a fault is measured, not modelled: when a fault is injected
the building gets a *twin* of the room, a deep copy taken before the first
step and never faulted, stepped under the same weather and the same people
(the copy carries the room's random stream and occupancy plan).  The waste is
the faulty room's metered HVAC energy minus the twin's.  Commands sent to the
building (setpoints, fan holds) reach the faulty room only, so runs that
measure waste should not command the faulty rooms.

Fault models (each a deliberate simplification; docs/faults.md says why):

``stuck_damper``   the heater's supply damper sticks nearly closed: the
                   element runs and is metered but only 10 % of its heat
                   reaches the room, so the zone cannot reach its setpoint.
``leaking_valve``  the heating valve leaks: a constant heat input (10–25 %
                   of the heater rating) flows whether the thermostat calls
                   or not, metered as HVAC energy; at night and while the
                   ventilation brings in cold air the leak and the
                   ventilation fight (the simulator has no cooling coil).
``sensor_bias``    the thermostat's sensor reads 1.5–3 K low; the room is
                   kept that much warmer than its setpoint.
``sensor_drift``   the same sensor drifts low by 0.25–0.5 K per day, to 4 K.
``stuck_sensor``   the sensor freezes at its reading when the fault starts.
``schedule``       the programme is stuck at "occupied": 21 °C and full
                   ventilation around the clock, weekends included.
``short_cycling``  the thermostat's hysteresis collapses to 0.02 K, so the
                   heater starts every few minutes; each start loses
                   0.01 kWh (ignition and purge losses of a fuel-fired unit).
``window_open``    a window is left open: 1.5–3 extra air changes per hour.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from firmware_sim.building import HYSTERESIS_K, Building
from firmware_sim.weather import DAY_S

FAULT_KINDS: tuple[str, ...] = (
    "stuck_damper",
    "leaking_valve",
    "sensor_bias",
    "sensor_drift",
    "stuck_sensor",
    "schedule",
    "short_cycling",
    "window_open",
)


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault: what, where, from when, and how strong."""

    kind: str
    room_id: str
    start: float
    """Event time the fault appears (Unix seconds)."""
    magnitude: float
    """Kind-specific strength: K of bias, K/day of drift, extra ACH, W of leak ...; 0 where unused."""

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")


@dataclass(slots=True)
class RoomFaultState:
    """A :class:`Fault` as the room's hook sees it (the RoomFault protocol of building.py)."""

    fault: Fault
    start: float
    extra_ach: float = 0.0
    heat_delivered: float = 1.0
    leak_w: float = 0.0
    hysteresis_k: float = HYSTERESIS_K
    start_loss_kwh: float = 0.0
    always_on: bool = False
    frozen_sensor: bool = False
    _frozen: float | None = None

    def sensed(self, temperature: float, t: float) -> float:
        kind = self.fault.kind
        if kind == "sensor_bias":
            return temperature - self.fault.magnitude
        if kind == "sensor_drift":
            days = (t - self.start) / DAY_S
            return temperature - min(4.0, self.fault.magnitude * days)
        if kind == "stuck_sensor":
            if self._frozen is None:
                self._frozen = temperature
            return self._frozen
        return temperature


def room_state(fault: Fault) -> RoomFaultState:
    """How ``fault`` acts on the room's physics and thermostat."""
    state = RoomFaultState(fault=fault, start=fault.start)
    kind, m = fault.kind, fault.magnitude
    if kind == "stuck_damper":
        state.heat_delivered = 0.1
    elif kind == "leaking_valve":
        state.leak_w = m
    elif kind == "schedule":
        state.always_on = True
    elif kind == "stuck_sensor":
        state.frozen_sensor = True
    elif kind == "short_cycling":
        state.hysteresis_k = 0.02
        state.start_loss_kwh = 0.01
    elif kind == "window_open":
        state.extra_ach = m
    return state


def inject(building: Building, faults: Sequence[Fault]) -> None:
    """Put ``faults`` (at most one per room) into a building that has not been stepped yet."""
    if building._time is not None:
        raise ValueError("inject faults before the building's first step, so its twin starts identical")
    for fault in faults:
        room = building.room(fault.room_id)
        if room.fault is not None or fault.room_id in building.twins:
            raise ValueError(f"room {fault.room_id} already has a fault")
        building.twins[fault.room_id] = copy.deepcopy(room)
        room.fault = room_state(fault)


@dataclass(frozen=True, slots=True)
class FaultMix:
    """Which faults to inject, how often, and when (seeded)."""

    rate: float = 0.1
    """Share of rooms that get a fault."""
    kinds: Mapping[str, float] = field(default_factory=lambda: {k: 1.0 for k in FAULT_KINDS})
    """Relative weight of each kind."""
    earliest_day: float = 10.0
    """No fault starts before this day: the detectors learn from the healthy days before."""
    latest_day: float | None = None
    """No fault starts after this day (default: two days before the end)."""


def draw_faults(room_ids: Sequence[str], start: float, days: float, mix: FaultMix, seed: int) -> list[Fault]:
    """Faulty rooms, kinds, start times and magnitudes drawn from ``seed`` alone."""
    rng = random.Random(seed)
    count = round(mix.rate * len(room_ids))
    chosen = sorted(rng.sample(range(len(room_ids)), count)) if count else []
    kinds = [k for k, w in mix.kinds.items() if w > 0]
    weights = [mix.kinds[k] for k in kinds]
    latest = mix.latest_day if mix.latest_day is not None else max(mix.earliest_day, days - 2.0)
    faults = []
    for index in chosen:
        kind = rng.choices(kinds, weights)[0]
        day = rng.uniform(mix.earliest_day, latest)
        faults.append(Fault(kind, room_ids[index], start + day * DAY_S, _magnitude(kind, rng)))
    return faults


def _magnitude(kind: str, rng: random.Random) -> float:
    if kind == "sensor_bias":
        return rng.uniform(1.5, 3.0)
    if kind == "sensor_drift":
        return rng.uniform(0.25, 0.5)
    if kind == "window_open":
        return rng.uniform(1.5, 3.0)
    if kind == "leaking_valve":
        return rng.uniform(0.1, 0.25)  # share of the heater rating; converted below
    return 0.0


def leak_watts(building: Building, fault: Fault) -> Fault:
    """A leaking valve's magnitude as watts of the room's heater rating."""
    if fault.kind != "leaking_valve" or fault.magnitude > 1.0:
        return fault
    kw = building.room(fault.room_id).hvac_power_kw
    return Fault(fault.kind, fault.room_id, fault.start, fault.magnitude * kw * 1000.0)


@dataclass(frozen=True, slots=True)
class Recording:
    """What the gateway would have stored, on a regular grid, plus the truth.

    Arrays are (rooms, intervals) unless noted; interval k covers
    [t[k], t[k] + interval_s).
    """

    room_ids: tuple[str, ...]
    interval_s: float
    t: np.ndarray
    """(intervals,) start of each interval."""
    outdoor: np.ndarray
    """(intervals,) mean outdoor temperature."""
    temperature: np.ndarray
    """The room sensor's reading at the end of the interval."""
    setpoint: np.ndarray
    """Mean thermostat setpoint."""
    duty: np.ndarray
    """Share of the interval the heater relay was on."""
    starts: np.ndarray
    """Heater starts in the interval."""
    energy_kwh: np.ndarray
    """Metered HVAC energy."""
    occupied: np.ndarray
    """Share of the interval someone was in (what occupancy inference gives)."""
    ventilation: np.ndarray
    """Mean share of the design outdoor airflow."""
    illuminance: np.ndarray
    """Mean room illuminance, lx (daylight and lights)."""
    lights: np.ndarray
    """Share of the interval the lights were on."""
    heater_kw: np.ndarray
    """(rooms,) heater ratings."""
    lights_kw: np.ndarray
    """(rooms,) lighting power."""
    faults: tuple[Fault, ...]
    true_waste_kwh: np.ndarray
    """Metered energy minus the fault-free twin's, per interval (0 for healthy rooms)."""

    def signals(self) -> dict[str, object]:
        """The fields the detectors read (agent.apps.faults.SiteSeries keywords)."""
        return {
            "room_ids": self.room_ids, "interval_s": self.interval_s, "t": self.t, "outdoor": self.outdoor,
            "temperature": self.temperature, "setpoint": self.setpoint, "duty": self.duty, "starts": self.starts,
            "energy_kwh": self.energy_kwh, "occupied": self.occupied, "ventilation": self.ventilation,
            "illuminance": self.illuminance, "lights": self.lights,
            "heater_kw": self.heater_kw, "lights_kw": self.lights_kw,
        }

    def daily_true_waste(self) -> np.ndarray:
        """(rooms, days) true wasted kWh per day."""
        per_day = round(DAY_S / self.interval_s)
        days = self.true_waste_kwh.shape[1] // per_day
        return self.true_waste_kwh[:, : days * per_day].reshape(len(self.room_ids), days, per_day).sum(axis=2)


def simulate(
    rooms: int, seed: int, start: float, days: float, faults: Sequence[Fault] = (), interval_s: float = 900.0
) -> Recording:
    """Run ``rooms`` rooms for ``days`` with ``faults``, sampling every minute,
    and return the recording on an ``interval_s`` grid."""
    building = Building(rooms, seed, start)
    faults = [leak_watts(building, f) for f in faults]
    inject(building, faults)
    per_interval = round(interval_s / 60.0)
    if per_interval < 1 or abs(per_interval * 60.0 - interval_s) > 1e-9:
        raise ValueError(f"interval_s must be a whole number of minutes, got {interval_s}")
    intervals = math.floor(days * DAY_S / interval_s)
    rec = _Recorder(building, intervals)
    building.step(start)
    for k in range(intervals):
        rec.begin(k)
        for m in range(1, per_interval + 1):
            t = start + (k * per_interval + m) * 60.0
            building.step(t)
            rec.sample(k, t)
        rec.end(k, per_interval)
    return Recording(
        room_ids=tuple(r.room_id for r in building.rooms), interval_s=interval_s,
        t=start + np.arange(intervals) * interval_s, outdoor=rec.outdoor, temperature=rec.temperature,
        setpoint=rec.setpoint, duty=rec.duty / interval_s, starts=rec.starts, energy_kwh=rec.energy,
        occupied=rec.occupied, ventilation=rec.ventilation, illuminance=rec.illuminance, lights=rec.lights,
        heater_kw=np.array([r.hvac_power_kw for r in building.rooms]),
        lights_kw=np.array([r.lights_w / 1000.0 for r in building.rooms]), faults=tuple(faults),
        true_waste_kwh=rec.waste,
    )


class _Recorder:
    """Accumulates the per-minute samples of every room into interval arrays."""

    def __init__(self, building: Building, intervals: int) -> None:
        self.b = building
        shape = (len(building.rooms), intervals)
        self.outdoor = np.zeros(intervals)
        self.temperature, self.setpoint, self.duty = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self.starts, self.energy, self.occupied = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self.ventilation, self.waste = np.zeros(shape), np.zeros(shape)
        self.illuminance, self.lights = np.zeros(shape), np.zeros(shape)
        self._mark: list[tuple[float, int, float, float]] = []

    def _counters(self) -> list[tuple[float, int, float, float]]:
        twins = self.b.twins
        return [
            (r.hvac_on_s, r.hvac_starts, r.hvac_energy_kwh,
             twins[r.room_id].hvac_energy_kwh if r.room_id in twins else r.hvac_energy_kwh)
            for r in self.b.rooms
        ]

    def begin(self, k: int) -> None:
        self._mark = self._counters()

    def sample(self, k: int, t: float) -> None:
        self.outdoor[k] += self.b._outdoor.temperature if self.b._outdoor else 0.0
        for i, r in enumerate(self.b.rooms):
            self.setpoint[i, k] += r.setpoint
            self.occupied[i, k] += r.occupants > 0
            self.ventilation[i, k] += r.airflow_fraction
            self.illuminance[i, k] += r.illuminance
            self.lights[i, k] += r.lights_on

    def end(self, k: int, n: int) -> None:
        self.outdoor[k] /= n
        self.setpoint[:, k] /= n
        self.occupied[:, k] /= n
        self.ventilation[:, k] /= n
        self.illuminance[:, k] /= n
        self.lights[:, k] /= n
        for i, (r, (on0, st0, e0, tw0), (on1, st1, e1, tw1)) in enumerate(
            zip(self.b.rooms, self._mark, self._counters())
        ):
            self.temperature[i, k] = r.reported_temperature
            self.duty[i, k] = on1 - on0
            self.starts[i, k] = st1 - st0
            self.energy[i, k] = e1 - e0
            self.waste[i, k] = (e1 - e0) - (tw1 - tw0)
