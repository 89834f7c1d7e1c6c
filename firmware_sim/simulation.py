"""The simulated site on event time: building, serial nodes behind a dongle, and
Zigbee2MQTT devices, advancing a :class:`~agent.clock.SimClock` the agent follows.

Each step advances the building model, then the clock, then lets every device
that is due report.  At the end of every report interval the simulation waits
until the dongle has every report acknowledged — i.e. until the gateway committed
them — so the agent is never more than one interval behind the clock, and the
stored data depend only on the seed.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from agent.clock import SimClock
from agent.protocol import Command
from firmware_sim.building import Building
from firmware_sim.dongle import Dongle
from firmware_sim.nodes import HarvestingNode, SensorNode
from firmware_sim.zigbee_devices import ZigbeeNetwork

#: Monday 2026-01-05 00:00 UTC: a winter week, so the heating works.
DEFAULT_START = 1767571200.0


@dataclass(frozen=True, slots=True)
class SimulationSettings:
    rooms: int = 4
    seed: int = 1
    start: float = DEFAULT_START
    step_s: int = 60
    node_interval_s: int = 300
    zigbee_interval_s: int = 300
    drain_timeout_s: float = 30.0


class Simulation:
    """Owns the clock; call :meth:`run` with a connected dongle and Zigbee network."""

    def __init__(
        self, settings: SimulationSettings, clock: SimClock, building: Building,
        harvesting: Sequence[HarvestingNode] = (),
    ) -> None:
        """``harvesting``: battery-free PIR nodes (firmware_sim.nodes), stepped every step beside the room nodes."""
        if settings.node_interval_s % settings.step_s or settings.zigbee_interval_s % settings.step_s:
            raise ValueError("report intervals must be multiples of the step")
        self.settings = settings
        self.clock = clock
        self.building = building
        rng = random.Random(settings.seed * 7919 + 1)
        slots = settings.node_interval_s // settings.step_s
        self.nodes = [
            SensorNode(
                room.node_id,
                room,
                settings.node_interval_s,
                phase_s=(i % slots) * settings.step_s,
                rng=random.Random(rng.getrandbits(64)),
            )
            for i, room in enumerate(building.rooms)
        ]
        self.harvesting = list(harvesting)
        self._by_id = {node.node_id: node for node in self.harvesting}
        self.readings_emitted = 0
        self.serial_readings_emitted = 0
        self.zigbee_readings_emitted = 0

    async def run(
        self,
        days: float,
        dongle: Dongle,
        zigbee: ZigbeeNetwork | None,
        progress: Callable[[float], None] | None = None,
        settle: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """Advance to ``days`` after the start, one step at a time.

        ``settle(t)``, if given, is awaited after the step's serial reports and
        again after its Zigbee states: the demo uses it to let the agent finish
        reacting (commands sent, confirmed and applied) before the building moves
        on, so commands take effect at a reproducible event time.
        """
        s = self.settings
        end = s.start + days * 86400.0
        t = self.clock.now()
        while t + s.step_s <= end + 1e-9:
            t += s.step_s
            self.building.step(t)
            self.clock.advance_to(t)
            await self._serial_round(t, dongle)
            if settle is not None:
                await settle(t)
            if zigbee is not None and int(t - s.start) % s.zigbee_interval_s == 0:
                n = await zigbee.publish_states(t)
                self.zigbee_readings_emitted += n
                self.readings_emitted += n
                if settle is not None:
                    await settle(t)
            if progress:
                progress((t - s.start) / (end - s.start))

    async def _serial_round(self, t: float, dongle: Dongle) -> None:
        for node in self.nodes:
            if node.due(t):
                values = node.sample(t)
                await dongle.send_report(node.node_id, int(t), values)
                self.serial_readings_emitted += len(values)
                self.readings_emitted += len(values)
        for eh in self.harvesting:
            report = eh.step(t, self.settings.step_s)
            if report is not None:
                await dongle.send_report(eh.node_id, int(t), report)
                self.serial_readings_emitted += len(report)
                self.readings_emitted += len(report)
        if int(t - self.settings.start) % self.settings.node_interval_s == 0:
            await self.drain(dongle)

    def apply_command(self, node_id: int, command: Command) -> None:
        """A gateway command the dongle relays (its ``on_command``): harvesting nodes obey;
        room nodes keep their fixed schedule."""
        node = self._by_id.get(node_id)
        if node is not None:
            node.apply(command)

    async def drain(self, dongle: Dongle) -> None:
        """Wait until the gateway acknowledged every serial report sent so far."""
        if not await dongle.drain(self.settings.drain_timeout_s):
            raise RuntimeError("the gateway stopped acknowledging serial reports")
