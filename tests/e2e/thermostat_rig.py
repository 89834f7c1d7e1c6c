"""A small real site for the thermostat page's tests.

A private mosquitto, the simulator's Zigbee2MQTT thermostats (they apply a
setpoint command and answer with their state, as real ones do), a real agent
with a SQLite file in a temporary directory, a :class:`SimClock` so holds
expire on event time, and the agent's web server on a free loopback port.
Nothing is mocked: a nudge on the page goes page → HTTP → agent → guardrails
→ MQTT → simulated thermostat → state message → audit row.

``advance(seconds)`` moves event time forward, steps the building and has
every device report, as the simulator's own loop does every five minutes.
"""

from __future__ import annotations

import asyncio
import random
import time
from contextlib import AsyncExitStack
from pathlib import Path

from agent.clock import SimClock
from agent.config import Config
from agent.service import Agent
from agent.store import Store, WebToken
from agent.web import new_token, token_hash
from firmware_sim.broker import Mosquitto
from firmware_sim.building import Building
from firmware_sim.simulation import DEFAULT_START
from firmware_sim.zigbee_devices import ZigbeeNetwork
from tests.eventually import eventually

START = DEFAULT_START + 9 * 3600.0
"""Monday 2026-01-05 09:00 UTC: office hours."""
REPORT_S = 300.0


def site_config(db: Path, broker: tuple[str, int], rooms: list[str], **guardrails: object) -> Config:
    """One zone per room: its thermostat (heating) and the thermostat's own temperature."""
    zones = {
        room: {"sensors": [f"{room}_thermostat/local_temperature"],
               "actuators": {f"{room}_thermostat": "heating_thermostat"}}
        for room in rooms
    }
    return Config.model_validate({
        "gateway": {"id": "thermostat-test", "database": str(db)},
        "mqtt": {"host": broker[0], "port": broker[1]},
        "store": {"flush_interval_s": 0.005},
        # The building is stepped by hand here: sensors never go stale by accident.
        "guardrails": {"zones": zones, "stale_after_s": 30 * 86400.0, **guardrails},
        "actuation": {"zigbee_confirm_timeout_s": 2.0, "zigbee_retries": 1},
        "web": {"enabled": True, "host": "127.0.0.1", "port": 0},
    })


class ThermostatSite:
    """Two rooms (``room01``, ``room02``) with a thermostat each, and the agent serving the page."""

    def __init__(self, tmp: Path, *, rooms: int = 2, seed: int = 7, **guardrails: object) -> None:
        self.tmp = tmp
        self.db = tmp / "edgewise.db"
        self.building = Building(rooms, seed, START)
        self.rooms = [room.room_id for room in self.building.rooms]
        self.clock = SimClock(START)
        self._seed = seed
        self._guardrails = guardrails
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> ThermostatSite:
        broker = await self._stack.enter_async_context(Mosquitto())
        self.config = site_config(self.db, (broker.host, broker.port), self.rooms, **self._guardrails)
        self.building.step(START)
        self.zigbee = await self._stack.enter_async_context(
            ZigbeeNetwork(self.building, broker.host, broker.port, rng=random.Random(self._seed))
        )
        await self.start_agent()
        await self.report()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_agent()
        await self._stack.aclose()

    async def start_agent(self) -> None:
        """Start (or restart) the agent on the same database: a new process would do the same."""
        self.agent = Agent(self.config, self.clock)
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.agent.run(self._stop))
        await self.agent.running.wait()
        assert self.agent.web is not None
        await asyncio.wait_for(self.agent.web.listening.wait(), 10)
        assert await eventually(lambda: self.agent.status.mqtt_connected)

    async def stop_agent(self) -> None:
        if not self._task.done():
            self._stop.set()
            await self._task

    @property
    def url(self) -> str:
        assert self.agent.web is not None
        return self.agent.web.url

    def token(self, zone: str) -> str:
        """A new token for ``zone``, stored as ``edgewise token`` stores it (hash only)."""
        token = new_token()
        with Store.open(self.db) as store:  # another connection, as the CLI's would be
            store.add_web_token(WebToken(token_hash(token), zone, time.time()))
        return token

    async def report(self) -> None:
        """Every device publishes its state now; wait until the agent has each thermostat's."""
        t = self.clock.now()
        await self.zigbee.publish_states(t)
        points = [f"{room}_thermostat/local_temperature" for room in self.rooms]
        assert await eventually(
            lambda: all(p in self.agent.points and self.agent.points.summary(p).last_time >= t for p in points)
        )

    async def advance(self, seconds: float) -> None:
        """Move event time on by ``seconds``, the devices reporting every five minutes."""
        end = self.clock.now() + seconds
        while self.clock.now() < end:
            t = min(end, self.clock.now() + REPORT_S)
            self.building.step(t)
            self.clock.advance_to(t)
            await self.report()

