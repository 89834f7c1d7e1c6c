"""Serial sensor nodes: what each node measures, when it reports, what it spends.

A room node samples its room every ``interval_s`` (phase-shifted so a building's
nodes don't all talk at once) and reports temperature, humidity,
illuminance, CO2, the PIR events counted since its last report and its
supercapacitor voltage.  Readings carry sensor noise and the resolution of the
wire format, as a real node's would.

A harvesting node (:class:`HarvestingNode`) is a battery-free PIR node whose
energy is simulated by the native model of docs/energy-harvesting.md: it
reports only when its mode and its stored energy allow, and obeys the gateway's
``PIR_ENABLE`` and ``REPORT_INTERVAL_S`` commands.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol

from agent import _core
from agent.energy.model import MODES
from agent.protocol import Actuator, Command
from firmware_sim.building import Building, Room, in_programme
from firmware_sim.building import _poisson as poisson
from firmware_sim.occupants import MEETING
from firmware_sim.weather import HOUR_S


@dataclass
class SensorNode:
    node_id: int
    room: Room
    interval_s: int = 300
    phase_s: int = 0
    rng: random.Random = field(default_factory=random.Random)
    supercap_v: float = 4.2
    _last_report: float | None = None

    def due(self, t: float) -> bool:
        """True when ``t`` is one of this node's report times."""
        return (int(t) - self.phase_s) % self.interval_s == 0

    def sample(self, t: float) -> dict[str, float]:
        """One report's channel values, taken from the room at event time ``t``."""
        room = self.room
        self._update_supercap(t)
        return {
            "temperature": round(room.temperature + self.rng.gauss(0, 0.05), 2),
            "humidity": round(min(100.0, max(0.0, room.humidity + self.rng.gauss(0, 0.3))), 2),
            "illuminance": round(max(0.0, room.illuminance * self.rng.uniform(0.97, 1.03)), 1),
            "co2": float(round(room.co2 + self.rng.gauss(0, 5))),
            "pir_count": float(room.take_pir_count()),
            "supercap_voltage": round(self.supercap_v, 3),
        }

    def _update_supercap(self, t: float) -> None:
        """A crude charge balance (light in, sensing and radio out) that never
        browns out: the room nodes keep their fixed five-minute schedule, which the
        occupancy app relies on; :class:`HarvestingNode` runs the real energy model."""
        dt = 0.0 if self._last_report is None else t - self._last_report
        self._last_report = t
        harvest_v_per_s = 2.0e-5 * min(1.0, self.room.illuminance / 500.0)
        drain_v_per_s = 6.0e-6
        self.supercap_v = min(5.5, max(2.3, self.supercap_v + (harvest_v_per_s - drain_v_per_s) * dt))


# -- energy-harvesting PIR nodes -----------------------------------------------

PIR_EVENTS_PER_H_OCCUPIED = 20.0
"""Motion events a PIR node's sensor triggers per hour while its room is occupied:
the rate of the built-in scheduling scenarios (docs/energy-harvesting.md), i.e. a
PIR with a few minutes' blind time after each trigger, not every movement."""
CORRIDOR_LIT_LUX = 100.0
CORRIDOR_NIGHT_LUX = 40.0
CORRIDOR_PASSES_PER_PERSON_H = 0.5
"""Trips along the corridor per person in the building per hour (coffee, printer,
meetings), besides arriving, leaving and changing rooms."""
DEFAULT_MODE = (True, 900)
"""What a node's firmware does until the gateway says otherwise: PIR on, a report every 15 min."""


class Spot(Protocol):
    """Where a harvesting node hangs: the light on its cell and the motion in its PIR's view."""

    name: str

    def lux(self, t: float) -> float: ...

    def events(self, t: float, dt: float, rng: random.Random) -> int: ...


@dataclass
class RoomSpot:
    """A node in a room: the room's light (daylight plus lamps) and motion while anyone is in."""

    room: Room

    @property
    def name(self) -> str:
        return self.room.room_id

    def lux(self, t: float) -> float:
        return self.room.illuminance

    def events(self, t: float, dt: float, rng: random.Random) -> int:
        rate = PIR_EVENTS_PER_H_OCCUPIED / HOUR_S if self.room.occupants else 0.0
        return poisson(rng, rate * dt)


@dataclass
class CorridorSpot:
    """The corridor the rooms open onto: lit on the building's programme (weekdays
    07–19), emergency lighting otherwise, as the ``dim_corridor`` scenario; people
    pass it whenever someone enters or leaves a room, and now and then besides."""

    building: Building
    name: str = "corridor"
    _people: int | None = None

    def lux(self, t: float) -> float:
        return CORRIDOR_LIT_LUX if in_programme(t) else CORRIDOR_NIGHT_LUX

    def events(self, t: float, dt: float, rng: random.Random) -> int:
        people = sum(room.occupants for room in self.building.rooms)
        moved = 0 if self._people is None else abs(people - self._people)
        self._people = people
        return moved + poisson(rng, CORRIDOR_PASSES_PER_PERSON_H * people / HOUR_S * dt)


class HarvestingNode:
    """A battery-free PIR node: light in a supercapacitor, the native energy model
    (``agent._core.Node``, the one ``edgewise schedule-sim`` runs), and the sensing
    mode the gateway commands.

    Each simulation step advances the model by the step's light and motion; the
    node reports (illuminance: mean light since its last report; supercapacitor
    voltage at the start of the reporting step; PIR events caught since the last
    report, unless the PIR is off and caught none) when the model says a report
    is due, i.e. at multiples of its report interval, and not at all while browned
    out.  Commands change its mode from the next step on; the dongle keeps them for
    a node that is browned out, so they apply when it restarts.  ``events_total``
    counts every motion in the PIR's view (the ground truth), ``events_caught``
    those the node detected.
    """

    def __init__(self, node_id: int, spot: Spot, params: _core.NodeParams, rng: random.Random) -> None:
        self.node_id = node_id
        self.spot = spot
        self.params = params
        self.rng = rng
        self.model = _core.Node(params)
        self.pir_on, self.report_interval_s = DEFAULT_MODE
        self.shade = 1.0
        """Fraction of the spot's light reaching the cell (fault injection: 0 covers it)."""
        self.events_total = 0
        self.min_voltage = self.model.voltage
        self.commands_applied = 0
        self.reports = 0
        self._lux_sum = 0.0
        self._lux_time = 0.0
        self._caught_at_report = 0

    @property
    def mode(self) -> int:
        """The model's mode index for the commanded mode; intervals are rounded to the
        nearest the model knows (15 min, 1 h, 4 h)."""
        candidates = [i for i, (pir, _) in enumerate(MODES) if pir == self.pir_on]
        return min(candidates, key=lambda i: abs(MODES[i][1] - self.report_interval_s))

    @property
    def events_caught(self) -> int:
        return int(self.model.events_detected)

    @property
    def brownout_s(self) -> float:
        return float(self.model.brownout_s)

    @property
    def alive(self) -> bool:
        return bool(self.model.alive)

    @property
    def voltage(self) -> float:
        return float(self.model.voltage)

    def apply(self, command: Command) -> None:
        """A gateway command relayed by the dongle."""
        if command.actuator == Actuator.PIR_ENABLE:
            self.pir_on = bool(command.value)
        elif command.actuator == Actuator.REPORT_INTERVAL_S:
            self.report_interval_s = int(command.value)
        self.commands_applied += 1

    def step(self, t: float, dt: float) -> dict[str, float] | None:
        """Advance the model over the ``dt`` seconds ending at ``t``; the report due then, if any."""
        lux = max(0.0, self.spot.lux(t) * self.shade)
        events = self.spot.events(t, dt, self.rng)
        self.events_total += events
        model = self.model
        if model.alive:
            self._lux_sum += lux * dt
            self._lux_time += dt
        reports_before = model.reports
        model.step(self.mode, lux, dt, events)
        self.min_voltage = min(self.min_voltage, self.voltage)
        if model.reports == reports_before:
            return None
        return self._report()

    def _report(self) -> dict[str, float]:
        self.reports += 1
        values = {
            "illuminance": round(self._lux_sum / self._lux_time if self._lux_time else 0.0, 1),
            "supercap_voltage": round(float(self.model.last_report_v), 3),
        }
        caught = self.events_caught
        if self.pir_on or caught > self._caught_at_report:  # events caught before the PIR was turned off count too
            values["pir_count"] = float(caught - self._caught_at_report)
        self._caught_at_report = caught
        self._lux_sum = self._lux_time = 0.0
        return values

    def summary(self) -> dict[str, object]:
        """The ground truth the demo prints beside what the gateway did."""
        total, caught = self.events_total, self.events_caught
        return {
            "node": f"node-{self.node_id:04d}",
            "spot": self.spot.name,
            "events": total,
            "events_caught": caught,
            "detection_pct": round(100.0 * caught / total, 2) if total else None,
            "brownout_h": round(self.brownout_s / HOUR_S, 2),
            "min_voltage": round(self.min_voltage, 3),
            "voltage": round(self.voltage, 3),
            "reports": self.reports,
            "commands_applied": self.commands_applied,
        }


HARVESTING_NODE_BASE = 101
"""Harvesting nodes are numbered from here, clear of the room nodes (node id = room number)."""


def harvesting_spots(building: Building, count: int) -> list[tuple[int, Spot]]:
    """Where the site's ``count`` harvesting nodes go, with their node ids: the corridor
    first, then the meeting rooms, then the offices (a PIR in a room beside its room node)."""
    rooms = sorted(building.rooms, key=lambda r: (r.kind != MEETING, r.node_id))
    spots: list[Spot] = [CorridorSpot(building), *(RoomSpot(r) for r in rooms)]
    if not 0 <= count <= len(spots):
        raise ValueError(f"a building of {len(building.rooms)} rooms has places for 0–{len(spots)} harvesting nodes")
    return [(HARVESTING_NODE_BASE + i, spot) for i, spot in enumerate(spots[:count])]

