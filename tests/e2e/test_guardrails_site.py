"""Guardrails and actuation end to end: simulated building → real broker and pty → agent.

Each fault (an out-of-range or meaningless value, an unknown device, a device
that never confirms, a dongle that never acks, a sensor that goes silent, an
override across a restart) shows the safe outcome on the simulated device and
the audit row that records it.  Waits are for things a correct system does,
with generous limits; nothing asserts how long anything took.

``site.simulate(d)`` runs the simulation up to day ``d`` since its start.
"""

from __future__ import annotations

import asyncio
import json
import math

import aiomqtt
import pytest

from agent.config import ActuationConfig, Config
from agent.demo import DemoOptions, DemoSite
from agent.guardrails import FAIL_SAFE_APP, HEATING_SETPOINT, ActionRequest, Origin, Verdict
from agent.store import Outcome
from tests.eventually import eventually

FAST = ActuationConfig(serial_ack_timeout_s=0.1, serial_retries=2, zigbee_confirm_timeout_s=0.5, zigbee_retries=1)


def with_actuator(config: Config, zone: str, device: str, kind: str) -> Config:
    zones = {name: z.model_dump() for name, z in config.guardrails.zones.items()}
    zones[zone]["actuators"][device] = kind
    guardrails = config.guardrails.model_validate({**config.guardrails.model_dump(), "zones": zones})
    return config.model_copy(update={"guardrails": guardrails})


@pytest.mark.asyncio
async def test_an_out_of_range_setpoint_is_clamped_confirmed_and_audited_locally_and_upstream() -> None:
    async with DemoSite(DemoOptions(days=1, rooms=2, seed=31, control=False), actuation=FAST) as site:
        upstream: list[dict[str, object]] = []
        async with aiomqtt.Client(site.host, site.port) as listener:
            await listener.subscribe(f"edgewise/{site.config.gateway.id}/audit", qos=1)
            reader = asyncio.create_task(_collect(listener, upstream))
            await site.simulate(0.02)
            room = site.building.rooms[0]
            record = await site.agent.request(
                ActionRequest("occupancy", room.thermostat_name, HEATING_SETPOINT, 35.0, "occupants say it is cold")
            )
            assert await eventually(lambda: len(upstream) == 1)
            reader.cancel()
        setpoint = room.setpoint
        rows = site.agent.store.audit()
    assert (record.verdict, record.requested, record.sent) == (Verdict.MODIFIED, 35.0, 22.0)
    assert record.rules == ("SetpointLimits",) and "above zone room01's limit 22 °C" in record.why
    assert record.outcome is Outcome.CONFIRMED and record.origin is Origin.APP
    assert setpoint == 22.0  # what the device got: never 35
    assert rows == [record]
    (message,) = upstream
    assert message["id"] == record.id and message["requested"] == 35.0 and message["sent"] == 22.0
    assert message["outcome"] == "confirmed" and message["reason"] == "occupants say it is cold"


async def _collect(client: aiomqtt.Client, out: list[dict[str, object]]) -> None:
    async for message in client.messages:
        out.extend(json.loads(message.payload)["records"])  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_unknown_devices_and_meaningless_values_are_blocked_and_nothing_is_sent() -> None:
    async with DemoSite(DemoOptions(days=1, rooms=2, seed=32, control=False), actuation=FAST) as site:
        await site.simulate(0.02)
        room = site.building.rooms[1]
        before = room.setpoint
        bad = [
            ActionRequest("occupancy", "room09_thermostat", HEATING_SETPOINT, 21.0, "a room that does not exist"),
            ActionRequest("occupancy", room.thermostat_name, HEATING_SETPOINT, math.nan, "a bug in the app"),
            ActionRequest("occupancy", room.plug_name, "occupied_heating_setpoint", 21.0, "wrong attribute"),
            ActionRequest("occupancy", room.plug_name, "state", "TOGGLE", "unpredictable"),
        ]
        records = [await site.agent.request(req) for req in bad]
        unchanged = room.setpoint
        # The commands of one client reach the broker in order: once a good command
        # was applied, a blocked one sent before it would have been applied too.
        good = await site.agent.request(ActionRequest("occupancy", room.thermostat_name, HEATING_SETPOINT, 20.0))
        applied, rejected = site.zigbee.commands_applied, site.zigbee.commands_rejected
        rows = site.agent.store.audit()
    assert [r.rules for r in records] == [("UnknownTarget",), ("SetpointLimits",), ("UnknownTarget",), ("InvalidValue",)]
    assert all(r.verdict is Verdict.BLOCKED and r.sent is None and r.outcome is Outcome.NOT_SENT for r in records)
    assert records[1].requested == "nan"  # kept as text: SQLite has no NaN
    assert unchanged == before
    assert good.outcome is Outcome.CONFIRMED
    assert (applied, rejected) == (1, 0)
    assert rows == [*records, good]


@pytest.mark.asyncio
async def test_a_device_that_never_confirms_is_retried_then_audited_unconfirmed() -> None:
    async with DemoSite(DemoOptions(days=1, rooms=1, seed=33, control=False), actuation=FAST) as site:
        await site.simulate(0.01)
        # A thermostat the configuration lists but that is gone from the network.
        site.config = with_actuator(site.config, "room01", "room01_old_thermostat", "heating_thermostat")
        await site.stop_agent()
        await site.start_agent()
        record = await site.agent.request(ActionRequest("occupancy", "room01_old_thermostat", HEATING_SETPOINT, 19.0))
        assert await eventually(lambda: site.zigbee.commands_rejected == 2)
        (row,) = site.agent.store.audit()
    assert (record.verdict, record.outcome, record.attempts) == (Verdict.ALLOWED, Outcome.UNCONFIRMED, 2)
    assert "published 2 times; no state message showed the value within 0.5 s of each" in record.detail
    assert row == record


@pytest.mark.asyncio
async def test_a_dongle_that_never_acks_times_out_and_the_node_keeps_its_setting() -> None:
    async with DemoSite(DemoOptions(days=1, rooms=1, seed=34, control=False), actuation=FAST) as site:
        applied: list[object] = []
        site.dongle.on_command = lambda node, command: applied.append((node, command))
        await site.simulate(0.01)
        site.dongle.ignore_commands = True
        lost = await site.agent.request(ActionRequest("energy", "node-0001", "report_interval_s", 900, "save power"))
        site.dongle.ignore_commands = False
        acked = await site.agent.request(ActionRequest("energy", "node-0001", "report_interval_s", 600, "save power"))
        rows = site.agent.store.audit()
    assert (lost.outcome, lost.attempts, lost.detail) == (Outcome.TIMEOUT, 3, "no ack after 3 attempts")
    assert acked.outcome is Outcome.ACKED
    assert [(node, getattr(c, "value")) for node, c in applied] == [(1, 600)]  # the lost one never applied
    assert rows == [lost, acked]


@pytest.mark.asyncio
async def test_a_silent_sensor_puts_its_zone_in_fail_safe_until_it_reports_again() -> None:
    async with DemoSite(DemoOptions(days=1, rooms=2, seed=35, control=False), actuation=FAST) as site:
        await site.simulate(0.01)
        agent = site.agent
        silent = site.sim.nodes.pop(0)  # room01's node stops reporting
        room = site.building.rooms[0]
        await site.simulate(0.03)  # 29 more minutes: past stale_after_s (15 min)

        def failsafe_done() -> bool:
            rows = [r for r in agent.store.audit() if r.app == FAIL_SAFE_APP]
            return len(rows) == 2 and all(r.outcome is not Outcome.PENDING for r in rows)

        assert await eventually(failsafe_done)
        blocked = await agent.request(ActionRequest("occupancy", room.thermostat_name, HEATING_SETPOINT, 19.0))
        other = await agent.request(
            ActionRequest("occupancy", site.building.rooms[1].thermostat_name, HEATING_SETPOINT, 19.0)
        )
        safe_setpoint = room.setpoint
        site.sim.nodes.insert(0, silent)
        await site.simulate(0.045)
        assert await eventually(lambda: len(agent.store.events("alert")) == 2)
        resumed = await agent.request(ActionRequest("occupancy", room.thermostat_name, HEATING_SETPOINT, 19.0))
        rows = agent.store.audit()
        alerts = agent.store.events("alert")
    failsafe = {(r.device, r.attribute): r for r in rows if r.app == FAIL_SAFE_APP}
    heating = failsafe[(room.thermostat_name, HEATING_SETPOINT)]
    plug = failsafe[(room.plug_name, "state")]
    # Monday small hours: the safe schedule's unoccupied setpoint, and heating left available.
    assert (heating.sent, heating.origin, heating.outcome) == (16.0, Origin.FAIL_SAFE, Outcome.CONFIRMED)
    assert (plug.sent, plug.outcome) == ("ON", Outcome.CONFIRMED)
    assert "node-0001/temperature silent" in heating.reason
    assert safe_setpoint == 16.0
    assert blocked.verdict is Verdict.BLOCKED and blocked.rules == ("StaleSensorFailSafe",)
    assert blocked in rows and blocked.outcome is Outcome.NOT_SENT
    assert other.verdict is Verdict.ALLOWED and other.outcome is Outcome.CONFIRMED  # the other room is fine
    assert [(a.subject, a.detail["stale"]) for a in alerts] == [("room01", True), ("room01", False)]  # type: ignore[index]
    assert alerts[0].detail["sensors"] == ["node-0001/temperature"]  # type: ignore[index]
    assert resumed.verdict is Verdict.ALLOWED and resumed.outcome is Outcome.CONFIRMED


@pytest.mark.asyncio
async def test_an_override_holds_across_a_restart_and_expires_on_event_time() -> None:
    async with DemoSite(DemoOptions(days=1, rooms=1, seed=36, control=False), actuation=FAST) as site:
        await site.simulate(0.01)
        room = site.building.rooms[0]
        result = await site.agent.override("room01", HEATING_SETPOINT, 25.0, by="web:desk-3", hold_s=1800)
        held = result.override
        assert held is not None and held.value == 22.0  # the occupant's nudge is clamped to G36's 22 °C
        (set_record,) = result.records
        await site.stop_agent()
        await site.start_agent()  # a new agent on the same database
        app = ActionRequest("occupancy", room.thermostat_name, HEATING_SETPOINT, 17.0, "room empty", setback=True)
        during = await site.agent.request(app)
        overrides_after_restart = site.agent.overrides()
        setpoint_during = room.setpoint
        await site.simulate(0.035)  # 36 more minutes of event time: past the 30-minute hold
        after = await site.agent.request(app)
        setpoint_after = room.setpoint
        events = site.agent.store.events("override")
    assert (set_record.origin, set_record.sent, set_record.outcome) == (Origin.USER, 22.0, Outcome.CONFIRMED)
    assert set_record.app == "user" and set_record.reason == "override by web:desk-3"
    assert overrides_after_restart == [held]
    assert during.rules == ("UserOverrideHold",) and during.outcome is Outcome.NOT_SENT
    assert "zone room01 holds occupied_heating_setpoint at 22 (set by web:desk-3" in during.why
    assert setpoint_during == 22.0
    assert after.verdict is Verdict.ALLOWED and after.outcome is Outcome.CONFIRMED
    assert setpoint_after == 17.0
    assert [e.detail["by"] for e in events] == ["web:desk-3"]  # type: ignore[index]


@pytest.mark.asyncio
async def test_commands_after_a_restart_are_applied_not_taken_for_retries_of_old_ones() -> None:
    # The dongle applies a command seq it remembers only once.  The first agent acks two reports
    # (seqs 0 and 1) and sends its command as seq 2; counters restarting at 0 would send the third
    # command below as seq 2 again, which the dongle would ack without applying.
    async with DemoSite(DemoOptions(days=1, rooms=1, seed=37, control=False), actuation=FAST) as site:
        applied: list[tuple[int, object]] = []
        site.dongle.on_command = lambda node, command: applied.append((node, getattr(command, "value")))
        await site.simulate(0.01)
        before = await site.agent.request(ActionRequest("energy", "node-0001", "report_interval_s", 900, "save power"))
        await site.stop_agent()
        await site.start_agent()  # a new agent on the same database, the same dongle
        after = [await site.agent.request(ActionRequest("energy", "node-0001", "report_interval_s", s, "save power"))
                 for s in (600, 610, 620, 630)]
    assert [r.outcome for r in (before, *after)] == [Outcome.ACKED] * 5
    assert applied == [(1, 900), (1, 600), (1, 610), (1, 620), (1, 630)]
