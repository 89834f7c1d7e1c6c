"""Fault detection in the running agent: simulated building → stored readings → daily run → store and upstream.

The simulator's building gets one injected fault after the detectors' training
week; the agent's own daily run (02:00 event time) must find it from what it
stored, and the upstream broker must get exactly one alert for it however
often the run repeats.  The same building without the fault must raise none.
Waits are for things a correct agent does; nothing asserts how long they took.
"""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest

from agent.apps.faults.app import FaultDetection, FaultRun
from agent.apps.faults.detect import INSUFFICIENT_DATA
from agent.demo import DemoOptions, DemoSite
from agent.upstream.topics import faults_topic
from firmware_sim.faults import Fault
from firmware_sim.simulation import DEFAULT_START
from tests.eventually import eventually

DAY = 86400.0
ROOMS = 4
SEED = 7
FAULT = Fault("schedule", "room04", DEFAULT_START + 7.5 * DAY, 0.0)
"""Programme stuck at "occupied" from noon of day 7: heated and ventilated all night from then on."""
DAYS = 11.1
"""Past the daily runs of days 10 and 11: the first that can confirm the fault (two flagged nights), and a repeat."""
LAST_RUN = DEFAULT_START + 11 * DAY + 2 * 3600.0


def options(faults: tuple[Fault, ...], **more: bool) -> DemoOptions:
    return DemoOptions(days=DAYS, rooms=ROOMS, seed=SEED, control=False, harvesting_nodes=0, faults=faults, **more)


async def _collect(client: aiomqtt.Client, out: list[dict[str, object]]) -> None:
    async for message in client.messages:
        out.extend(json.loads(message.payload)["records"])  # type: ignore[arg-type]


async def _daily_runs(site: DemoSite) -> list[FaultRun]:
    """The app's runs up to the last 02:00 simulated (the simulation does not wait for a run to finish)."""
    app = _app(site)
    assert await eventually(lambda: bool(app.runs) and app.runs[-1].at >= LAST_RUN, timeout=120.0)
    return list(app.runs)


def _app(site: DemoSite) -> FaultDetection:
    app = site.agent.fault_detection
    assert app is not None
    return app


async def _without_outdoor_sensor(site: DemoSite) -> FaultDetection:
    """Restart the agent with no outdoor point configured (a site without a weather sensor)."""
    return await _restarted_with(site, outdoor=None)


async def _restarted_with(site: DemoSite, **fault_detection: object) -> FaultDetection:
    """Restart the agent with other ``apps.fault_detection`` settings."""
    apps = site.config.apps
    blind = apps.fault_detection.model_copy(update=fault_detection)
    site.config = site.config.model_copy(update={"apps": apps.model_copy(update={"fault_detection": blind})})
    await site.stop_agent()
    await site.start_agent()
    return _app(site)


@pytest.mark.asyncio
async def test_an_injected_fault_is_found_stored_and_alerted_upstream_exactly_once() -> None:
    async with DemoSite(options((FAULT,))) as site:
        alerts: list[dict[str, object]] = []
        async with aiomqtt.Client(site.host, site.port) as listener:
            await listener.subscribe(faults_topic("edgewise", site.config.gateway.id), qos=1)
            reader = asyncio.create_task(_collect(listener, alerts))
            await site.simulate(DAYS)
            runs = await _daily_runs(site)
            again = await _app(site).run_once()  # on demand, a third time
            assert await site.settle()  # the outbox is empty: every queued alert was published and acked
            assert await eventually(lambda: len(alerts) >= 1)
            reader.cancel()
        assert site.agent.publisher is not None
        published = site.agent.publisher.published_records  # alerts and audit rows; nothing here is commanded
        stored = site.agent.store.faults()
        events = site.agent.store.events("fault_detection")
        blind = await (await _without_outdoor_sensor(site)).run_once()
    before_training = [r for r in runs if r.days <= 7]
    assert before_training and all(set(r.status.values()) == {INSUFFICIENT_DATA} for r in before_training)
    assert all(r.faults == [] for r in before_training)
    found = [r for r in runs if r.faults]
    assert len(found) >= 2  # the first run that confirmed it, then the next day's
    assert [(f.room, f.kind) for f in found[0].faults] == [("room04", "schedule")]
    assert [(n.room, n.kind) for n in found[0].new] == [("room04", "schedule")]
    assert all(r.new == [] for r in found[1:]) and again.new == []
    assert found[0].faults[0].first_seen >= FAULT.start - DAY  # not before the fault
    (row,) = stored
    assert (row.room, row.kind) == ("room04", "schedule") and row.waste_kwh_per_day > 0
    (alert,) = alerts  # exactly one, despite three runs that saw it
    assert published == 1
    assert (alert["room"], alert["kind"]) == ("room04", "schedule")
    assert len(events) == len(runs) + 1
    # Without an outdoor sensor the thermal model cannot run; the rules still see the fault.
    assert set(blind.model_status.values()) == {INSUFFICIENT_DATA}
    assert [(f.room, f.kind) for f in blind.faults] == [("room04", "schedule")] and blind.new == []


@pytest.mark.asyncio
async def test_a_frozen_thermostat_sensor_is_named_by_the_flat_line_rule_from_stored_reports() -> None:
    """The thermostat keeps reporting, but always the same local_temperature: only the stored
    Zigbee reports show it, and the flat-line rule must see through the 15-minute binning."""
    frozen = Fault("stuck_sensor", "room03", DEFAULT_START + 7.5 * DAY, 0.0)
    async with DemoSite(options((frozen,))) as site:
        await site.simulate(DAYS)
        runs = await _daily_runs(site)
        stored = site.agent.store.faults()
    found = [r for r in runs if r.faults]
    assert found, [r.status for r in runs]
    (fault,) = found[0].faults
    assert (fault.room, fault.kind) == ("room03", "stuck_sensor") and "rules" in fault.detectors
    assert "flatlined_sensor" in fault.evidence
    assert fault.first_seen >= frozen.start - DAY
    assert [(row.room, row.kind) for row in stored] == [("room03", "stuck_sensor")]


@pytest.mark.asyncio
async def test_devices_that_report_on_change_leave_no_gaps_and_the_fault_is_still_found() -> None:
    """Zigbee devices configured as Zigbee2MQTT does (report on change, at least hourly) are quiet
    while nothing changes: a heater plug that is off says nothing for an hour.  Holding each value
    until the next report (``hold_s``) keeps every room scored; without it they have no data."""
    async with DemoSite(options((FAULT,), zigbee_on_change=True)) as site:
        await site.simulate(DAYS)
        runs = await _daily_runs(site)
        published, rounds = site.zigbee.device_messages_published, int(DAYS * 288) * len(site.zigbee.devices)
        gaps = await (await _restarted_with(site, hold_s=0.0)).run_once()
    assert published < rounds / 2  # most rounds, most devices had nothing new to say
    scored = [r for r in runs if r.days > 7]
    assert scored and all(INSUFFICIENT_DATA not in r.status.values() for r in scored)
    found = [r for r in runs if r.faults]
    assert found and [(f.room, f.kind) for f in found[0].faults] == [("room04", "schedule")]
    assert set(gaps.status.values()) == {INSUFFICIENT_DATA} and gaps.faults == []


@pytest.mark.asyncio
async def test_the_same_building_without_the_fault_raises_none() -> None:
    async with DemoSite(options(())) as site:
        await site.simulate(DAYS)
        runs = await _daily_runs(site)
        stored = site.agent.store.faults()
        blind = await (await _without_outdoor_sensor(site)).run_once()
    scored = [r for r in runs if r.days > 7]
    assert len(scored) >= 3 and all(set(r.status.values()) == {"ok"} for r in scored)
    assert all(r.faults == [] for r in runs)
    assert stored == []
    assert set(blind.status.values()) == {"ok"} and blind.faults == []
    assert set(blind.model_status.values()) == {INSUFFICIENT_DATA}
