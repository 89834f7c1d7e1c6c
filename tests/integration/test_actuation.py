"""Actuation against real transports: serial commands over a real pseudo-terminal
(guardrails → actuator → SerialListener → simulated dongle), ordering and
shutdown, and a Zigbee command with no broker; each with the audit row it leaves.
Zigbee through a real broker is in tests/e2e/test_guardrails_site.py."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from agent.actuation import ActuationClosed, Actuator, ZigbeeCommander
from agent.clock import SimClock
from agent.config import ActuationConfig, GuardrailsConfig
from agent.config.schema import SerialPortConfig
from agent.guardrails import ActionRequest, Guardrails, Origin
from agent.ingest.counters import IngestCounters
from agent.ingest.dedupe import SequenceDeduper
from agent.ingest.serial_listener import SerialListener
from agent.protocol import AckStatus, Actuator as SerialActuator, Command
from agent.store import AuditRecord, Outcome, Store, StoreThread, Verdict
from agent.transports.backoff import Backoff
from agent.transports.mqtt import BrokerAddress
from firmware_sim.dongle import Dongle

START = 1_767_571_200.0
FAST = ActuationConfig(serial_ack_timeout_s=0.05, serial_retries=2)


@dataclass
class Status:
    serial_open: dict[str, bool] = field(default_factory=dict)


class NeverSilent:
    def last_time(self, point: str) -> float:
        return START


@dataclass
class Rig:
    dongle: Dongle
    listener: SerialListener
    store: Store
    guardrails: Guardrails
    actuator: Actuator
    clock: SimClock
    applied: list[tuple[int, Command]]
    thread: StoreThread

    async def request(self, request: ActionRequest) -> AuditRecord:
        decision = self.guardrails.evaluate(request, self.clock.now(), Origin.APP)
        return await self.actuator.carry_out(request, decision)


@pytest_asyncio.fixture
async def rig(pty_pair: tuple[int, str], tmp_path: Path) -> AsyncIterator[Rig]:
    master, slave = pty_pair
    clock = SimClock(START)
    applied: list[tuple[int, Command]] = []
    config = GuardrailsConfig.model_validate(
        {"zones": {"lab": {"sensors": ["node-0003/temperature"], "actuators": {"node-0003": "sensor_node"}}}}
    )
    thread = StoreThread()
    with Store.open(tmp_path / "gw.db") as store:
        guardrails = Guardrails(config, sensors=NeverSilent(), overrides=store, now=START)
        status = Status()
        listener = SerialListener(
            SerialPortConfig(name="lab", port=slave), clock, IngestCounters(), SequenceDeduper(),
            lambda item: None, status,
        )
        actuator = Actuator(store, clock, FAST, thread=thread, serial=[listener],
                            on_outcome=guardrails.record_outcome)
        reading = asyncio.create_task(listener.run())
        async with Dongle(master, rng=random.Random(1), on_command=lambda n, c: applied.append((n, c))) as dongle:
            async with asyncio.timeout(10):
                while not status.serial_open.get("lab"):
                    await asyncio.sleep(0.01)
            yield Rig(dongle, listener, store, guardrails, actuator, clock, applied, thread)
            await actuator.close()
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        thread.shutdown()


@pytest.mark.asyncio
async def test_an_acked_command_reaches_the_node_and_is_audited(rig: Rig) -> None:
    record = await rig.request(ActionRequest("energy", "node-0003", "report_interval_s", 600, "save the battery"))
    assert (record.verdict, record.sent, record.outcome, record.attempts) == (Verdict.ALLOWED, 600, Outcome.ACKED, 1)
    assert rig.applied == [(3, Command(SerialActuator.REPORT_INTERVAL_S, 600))]
    assert rig.store.audit() == [record]
    assert record.reason == "save the battery" and record.outcome_ts == START


@pytest.mark.asyncio
async def test_a_dongle_that_never_acks_ends_in_timeout_after_every_retry(rig: Rig) -> None:
    rig.dongle.ignore_commands = True
    record = await rig.request(ActionRequest("energy", "node-0003", "pir_enable", False, "night"))
    assert (record.outcome, record.attempts) == (Outcome.TIMEOUT, 3)  # 1 + serial_retries
    assert record.detail == "no ack after 3 attempts"
    assert rig.dongle.commands_ignored == 3 and rig.applied == []
    (row,) = rig.store.audit()
    assert (row.outcome, row.sent, row.verdict) == (Outcome.TIMEOUT, 0, Verdict.ALLOWED)


@pytest.mark.asyncio
async def test_a_retry_after_a_lost_ack_is_applied_once(rig: Rig) -> None:
    rig.dongle.ignore_commands = True
    request = asyncio.create_task(rig.request(ActionRequest("energy", "node-0003", "pir_enable", True)))
    async with asyncio.timeout(10):
        while rig.dongle.commands_ignored == 0:
            await asyncio.sleep(0.005)
    rig.dongle.ignore_commands = False  # the radio is back for the retry
    record = await request
    assert record.outcome is Outcome.ACKED and record.attempts >= 2
    assert rig.applied == [(3, Command(SerialActuator.PIR_ENABLE, 1))]


@pytest.mark.asyncio
async def test_bad_values_and_unknown_nodes_never_reach_the_line(rig: Rig) -> None:
    bad = await rig.request(ActionRequest("energy", "node-0003", "report_interval_s", 2**40))
    unknown = await rig.request(ActionRequest("energy", "node-0009", "report_interval_s", 600))
    assert [(r.verdict, r.rules, r.outcome) for r in (bad, unknown)] == [
        (Verdict.BLOCKED, ("InvalidValue",), Outcome.NOT_SENT),
        (Verdict.BLOCKED, ("UnknownTarget",), Outcome.NOT_SENT),
    ]
    good = await rig.request(ActionRequest("energy", "node-0003", "report_interval_s", 300))
    assert good.outcome is Outcome.ACKED
    assert rig.dongle.commands_received == 1  # only the good one was ever written
    assert len(rig.store.audit()) == 3


@pytest.mark.asyncio
async def test_the_dongle_rejects_an_actuator_it_does_not_know(rig: Rig) -> None:
    result = await rig.listener.send_command(3, Command(99, 1), timeout_s=1.0, retries=0)
    assert result.status is AckStatus.REJECTED and result.attempts == 1


@pytest.mark.asyncio
async def test_a_closed_port_fails_at_once(tmp_path: Path) -> None:
    clock = SimClock(START)
    listener = SerialListener(SerialPortConfig(name="x", port="/dev/null"), clock, IngestCounters(),
                              SequenceDeduper(), lambda item: None, Status())  # never run: port closed
    config = GuardrailsConfig.model_validate({"zones": {"lab": {"actuators": {"node-0003": "sensor_node"}}}})
    thread = StoreThread()
    with Store.open(tmp_path / "gw.db") as store:
        guardrails = Guardrails(config, sensors=NeverSilent(), overrides=store, now=START)
        actuator = Actuator(store, clock, FAST, thread=thread, serial=[listener])
        req = ActionRequest("energy", "node-0003", "report_interval_s", 600)
        record = await actuator.carry_out(req, guardrails.evaluate(req, START))
        thread.shutdown()
    assert (record.outcome, record.attempts) == (Outcome.FAILED, 0)
    assert "is not open" in record.detail


@pytest.mark.asyncio
async def test_stopping_ends_a_wait_and_still_writes_the_row(rig: Rig) -> None:
    patient = Actuator(rig.store, rig.clock, ActuationConfig(serial_ack_timeout_s=60.0, serial_retries=0),
                       thread=rig.thread, serial=[rig.listener])
    rig.dongle.ignore_commands = True
    req = ActionRequest("energy", "node-0003", "report_interval_s", 600)
    waiting = asyncio.create_task(patient.carry_out(req, rig.guardrails.evaluate(req, START)))
    async with asyncio.timeout(10):
        while rig.dongle.commands_ignored == 0:
            await asyncio.sleep(0.005)
    await patient.close()
    record = await waiting
    assert (record.outcome, record.detail) == (Outcome.TIMEOUT, "the agent stopped before the command was confirmed")
    assert rig.store.audit() == [record]
    with pytest.raises(ActuationClosed):
        await patient.carry_out(req, rig.guardrails.evaluate(req, START))


@pytest.mark.asyncio
async def test_commands_to_one_device_go_out_in_the_order_decided(rig: Rig) -> None:
    values = [600, 300, 900, 120]
    records = await asyncio.gather(
        *(rig.request(ActionRequest("energy", "node-0003", "report_interval_s", v)) for v in values)
    )
    assert [r.outcome for r in records] == [Outcome.ACKED] * 4
    assert [c.value for _, c in rig.applied] == values


@pytest.mark.asyncio
async def test_zigbee_without_a_broker_fails_and_says_why(tmp_path: Path) -> None:
    config = GuardrailsConfig.model_validate({"zones": {"lab": {"actuators": {"lab_plug": "switch"}}}})
    commander = ZigbeeCommander(BrokerAddress("127.0.0.1", 1), "zigbee2mqtt", "test", Backoff(1, 1))  # never run
    thread = StoreThread()
    fast = ActuationConfig(zigbee_confirm_timeout_s=0.01, zigbee_retries=1)
    with Store.open(tmp_path / "gw.db") as store:
        guardrails = Guardrails(config, sensors=NeverSilent(), overrides=store, now=START)
        actuator = Actuator(store, SimClock(START), fast, thread=thread, zigbee=commander)
        req = ActionRequest("lights", "lab_plug", "state", "OFF")
        record = await actuator.carry_out(req, guardrails.evaluate(req, START))
        thread.shutdown()
    assert (record.outcome, record.attempts) == (Outcome.FAILED, 2)
    assert record.detail == "could not publish: the local MQTT broker is not connected"
