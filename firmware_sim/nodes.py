"""Serial sensor nodes: what each room's battery-free node measures and when.

A node samples its room every ``interval_s`` (phase-shifted so a building's
nodes don't all talk at once) and reports temperature, humidity,
illuminance, CO2, the PIR events counted since its last report and its
supercapacitor voltage.  Readings carry sensor noise and the resolution of the
wire format, as a real node's would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from firmware_sim.building import Room


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
        """A crude charge balance (light in, sensing and radio out) until the
        energy model of the energy-budgeted sensing work replaces it."""
        dt = 0.0 if self._last_report is None else t - self._last_report
        self._last_report = t
        harvest_v_per_s = 2.0e-5 * min(1.0, self.room.illuminance / 500.0)
        drain_v_per_s = 6.0e-6
        self.supercap_v = min(5.5, max(2.3, self.supercap_v + (harvest_v_per_s - drain_v_per_s) * dt))
