"""The fault-detection app on a real store: too little history, no rooms, and the daily schedule on event time."""

from __future__ import annotations

import asyncio
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest

from agent.apps.faults.app import FaultDetection, load_rules_file
from agent.apps.faults.detect import INSUFFICIENT_DATA
from agent.apps.faults.gather import RoomPoints
from agent.clock import SimClock
from agent.config.schema import FaultDetectionConfig
from agent.ingest.reading import Reading
from agent.store import Store, StoreThread
from tests.eventually import eventually

MIDNIGHT = 1767571200.0
CONFIG = FaultDetectionConfig(enabled=True, outdoor="weather/temperature")
ROOM = RoomPoints("office", "t1/local_temperature", "t1/occupied_heating_setpoint", heater="p1")


def _store_days(store: Store, days: int) -> None:
    ts = MIDNIGHT + np.arange(1, days * 288 + 1) * 300.0
    rows = []
    for i, t in enumerate(ts):
        on = i % 6 < 2
        rows += [
            Reading("t1", "local_temperature", float(t), 20.0 + float(np.sin(t / 7200.0)), "°C", "zigbee"),
            Reading("t1", "occupied_heating_setpoint", float(t), 21.0, "°C", "zigbee"),
            Reading("p1", "power", float(t), 2000.0 if on else 0.5, "W", "zigbee"),
            Reading("p1", "energy", float(t), i / 6 * 2 * 600 / 3600, "kWh", "zigbee"),
            Reading("weather", "temperature", float(t), 3.0, "°C", "zigbee"),
        ]
    store.write_batch(rows, now=float(ts[-1]))


def _app(store: Store, thread: StoreThread, clock: SimClock, rooms: list[RoomPoints]) -> FaultDetection:
    return FaultDetection(CONFIG, rooms, load_rules_file(CONFIG), store, thread, clock, UTC,
                          upstream_topic="edgewise/gw/faults")


@pytest.mark.asyncio
async def test_too_little_history_is_insufficient_data_logged_and_alerts_nothing(tmp_path: Path) -> None:
    thread = StoreThread()
    with Store.open(tmp_path / "gw.db") as store:
        _store_days(store, 3)
        clock = SimClock(MIDNIGHT + 3 * 86400.0 + 7200.0)
        run = await _app(store, thread, clock, [ROOM]).run_once()
        events = store.events("fault_detection")
        faults, outbox = store.faults(), store.outbox_size()
        thread.shutdown()
    assert run.days == 3 and run.start == MIDNIGHT  # the empty weeks before the first reading are not counted
    assert run.status == {"office": INSUFFICIENT_DATA} and run.faults == [] and run.new == []
    assert faults == [] and outbox == 0  # no alert queued
    (event,) = events
    assert event.detail["insufficient_data"] == ["office"] and event.detail["faults"] == 0  # type: ignore[index]


@pytest.mark.asyncio
async def test_no_rooms_and_an_empty_store_do_not_crash(tmp_path: Path) -> None:
    thread = StoreThread()
    with Store.open(tmp_path / "gw.db") as store:
        clock = SimClock(MIDNIGHT + 7200.0)
        nothing = await _app(store, thread, clock, []).run_once()
        empty = await _app(store, thread, clock, [ROOM]).run_once()
        thread.shutdown()
    assert nothing.status == {} and nothing.faults == []
    assert empty.status == {"office": INSUFFICIENT_DATA} and empty.faults == []


@pytest.mark.asyncio
async def test_the_app_runs_once_a_day_at_its_hour_on_event_time(tmp_path: Path) -> None:
    thread = StoreThread()
    with Store.open(tmp_path / "gw.db") as store:
        clock = SimClock(MIDNIGHT)
        app = _app(store, thread, clock, [ROOM])
        task = asyncio.create_task(app.run())
        before = []
        for day in range(3):
            clock.advance_to(MIDNIGHT + day * 86400.0 + 7199.0)
            await asyncio.sleep(0.01)
            before.append(len(app.runs))
            clock.advance_to(MIDNIGHT + day * 86400.0 + 7200.0)
            assert await eventually(lambda n=day + 1: len(app.runs) == n)
        task.cancel()
        runs = [r.at for r in app.runs]
        thread.shutdown()
    assert before == [0, 1, 2]  # nothing a second before 02:00
    assert runs == [MIDNIGHT + d * 86400.0 + 7200.0 for d in range(3)]
