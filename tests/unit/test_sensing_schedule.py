"""The sensing-schedule app's decisions: what it decides from, what it sends, how it copes.

Requests go through the real guardrails; the radio's answer (acked, timed out,
the agent stopping) is what each test chooses.  Event time is a SimClock.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent import _core
from agent.actuation import ActuationClosed
from agent.apps.sensing_schedule import (
    APP,
    DECISION_LAG_S,
    SILENCE_GRACE_S,
    NodeState,
    PolicyError,
    SensingSchedule,
    load_policy,
    observe,
)
from agent.clock import SimClock
from agent.config import Config
from agent.config.schema import EnergyHarvestingConfig, GuardrailsConfig
from agent.energy import MODES, load_table
from agent.guardrails import (
    PIR_ENABLE,
    REPORT_INTERVAL,
    ActionRequest,
    Guardrails,
    Verdict,
)
from agent.guardrails.schedule import time_zone
from agent.ingest.reading import Reading
from agent.store import AuditRecord, Outcome
from tests.unit.guardrails_support import MONDAY, FreshSensors, MemoryOverrides

NODE = "node-0101"
HOUR = 3600.0
ZONES: dict[str, Any] = {"corridor": {"actuators": {NODE: "sensor_node"}}}


class Radio:
    """Agent.request with the real guardrails; the delivery outcome is the test's to choose."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.guardrails = Guardrails(GuardrailsConfig.model_validate({"zones": ZONES}), sensors=FreshSensors(),
                                     overrides=MemoryOverrides(), now=clock.now())
        self.outcome = Outcome.ACKED
        self.closed = False
        self.records: list[AuditRecord] = []

    async def request(self, req: ActionRequest) -> AuditRecord:
        if self.closed:
            raise ActuationClosed("the agent is stopping")
        d = self.guardrails.evaluate(req, self.clock.now())
        record = AuditRecord(0, d.ts, req.app, d.origin, req.zone, req.device, req.attribute, req.value,
                             d.value if d.sent else None, d.verdict, d.rules, d.why, req.reason,
                             self.outcome if d.sent else Outcome.NOT_SENT, d.ts, 1, "")
        self.records.append(record)
        return record

    def sent(self) -> list[tuple[str, object]]:
        return [(r.attribute, r.sent) for r in self.records]


def make_app(policy: str = "greedy", tz: str = "UTC", start: float = MONDAY) -> tuple[SensingSchedule, Radio, SimClock]:
    clock = SimClock(start)
    radio = Radio(clock)
    config = EnergyHarvestingConfig.model_validate({"policy": policy, "nodes": {NODE: "ember"}})
    app = SensingSchedule(config, radio.guardrails.registry, load_policy(config), radio.request, clock, time_zone(tz))
    return app, radio, clock


def report(app: SensingSchedule, ts: float, volts: float, lux: float, device: str = NODE) -> None:
    app.on_readings([
        Reading(device, "illuminance", ts, lux, "lx", "serial", 1),
        Reading(device, "supercap_voltage", ts, volts, "V", "serial", 1),
    ])


async def decide_at(app: SensingSchedule, clock: SimClock, hours: float) -> None:
    """The decision step ``hours`` after the start, and every request it made answered."""
    step = MONDAY + hours * HOUR + DECISION_LAG_S
    clock.advance_to(step)
    app.decide(step)
    await app.idle()


# -- what a decision is made from ------------------------------------------------------


def test_a_node_never_heard_and_not_yet_overdue_is_left_alone() -> None:
    node = NodeState(NODE, "corridor", 3.0, expect_by=MONDAY + 900 + SILENCE_GRACE_S)
    assert observe(node, MONDAY + 600, 0) is None


def test_a_heard_node_is_decided_from_its_last_report() -> None:
    node = NodeState(NODE, "corridor", 3.0, expect_by=0.0)
    node.voltage, node.lux = 3.71, 120.0
    node.heard(MONDAY)
    obs = observe(node, MONDAY + 1200, 0)
    assert obs is not None and (obs.voltage, obs.lux, obs.overdue) == (3.71, 120.0, False)
    assert "3.71 V, 120 lx, 20 min ago" in obs.basis


@pytest.mark.parametrize("heard", [False, True])
def test_an_overdue_node_is_decided_for_its_restart(heard: bool) -> None:
    node = NodeState(NODE, "corridor", 3.05, expect_by=MONDAY + 1200)
    if heard:
        node.voltage, node.lux = 2.41, 35.0
        node.heard(MONDAY)
    now = node.expect_by + 1
    obs = observe(node, now, 5)
    assert obs is not None and obs.overdue and obs.voltage == 3.05 and obs.hour == 5
    assert obs.lux == (35.0 if heard else 0.0)
    assert "browned out?" in obs.basis


# -- what it sends ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_first_decision_sends_the_whole_mode_then_only_changes() -> None:
    app, radio, clock = make_app()
    report(app, MONDAY + HOUR, 4.5, 300.0)
    await decide_at(app, clock, 1)
    assert radio.sent() == [(PIR_ENABLE, 1), (REPORT_INTERVAL, 900)]  # greedy above 4 V: PIR on, 15 min
    assert all(r.app == APP and r.zone == "corridor" and r.verdict is Verdict.ALLOWED for r in radio.records)
    assert "greedy policy at 01:00, last report 4.50 V, 300 lx, 1 min ago" in radio.records[0].reason
    assert radio.records[0].reason.endswith("PIR on, a report every 15 min")
    report(app, MONDAY + 2 * HOUR, 4.4, 250.0)
    await decide_at(app, clock, 2)
    assert len(radio.records) == 2  # the same mode: nothing to send
    report(app, MONDAY + 3 * HOUR, 3.5, 250.0)
    await decide_at(app, clock, 3)
    assert radio.sent()[2:] == [(REPORT_INTERVAL, 3600)]  # below 4 V hourly, PIR stays on: one command


@pytest.mark.asyncio
async def test_a_command_without_an_ack_is_sent_again_at_the_next_decision() -> None:
    app, radio, clock = make_app()
    report(app, MONDAY + HOUR, 2.5, 0.0)
    radio.outcome = Outcome.TIMEOUT
    await decide_at(app, clock, 1)
    assert radio.sent() == [(PIR_ENABLE, 0), (REPORT_INTERVAL, 14400)]  # below 2.6 V: PIR off, 4-hourly
    radio.outcome = Outcome.ACKED
    report(app, MONDAY + 2 * HOUR, 2.5, 0.0)  # still on 15 minutes
    await decide_at(app, clock, 2)
    assert radio.sent()[2:] == [(PIR_ENABLE, 0), (REPORT_INTERVAL, 14400)]  # unknown, so asked again
    await decide_at(app, clock, 3)
    assert len(radio.records) == 4


@pytest.mark.asyncio
async def test_a_stopping_agent_does_not_crash_the_app_and_the_setting_stays_unknown() -> None:
    app, radio, clock = make_app()
    report(app, MONDAY + HOUR, 4.5, 300.0)
    radio.closed = True
    await decide_at(app, clock, 1)
    assert radio.records == [] and app.nodes[NODE].pir_on is None and app.nodes[NODE].interval_s is None
    app.close()
    radio.closed = False
    await decide_at(app, clock, 2)
    assert radio.records == []  # closed: no more requests


@pytest.mark.asyncio
async def test_a_silent_node_is_scheduled_for_its_restart_and_stays_overdue_until_it_reports() -> None:
    app, radio, clock = make_app()
    report(app, MONDAY + HOUR, 4.5, 300.0)
    await decide_at(app, clock, 1)  # PIR on, 15 min
    await decide_at(app, clock, 2)  # an hour without a report: overdue
    node = app.nodes[NODE]
    assert node.was_overdue and node.overdue_decisions == 1
    # greedy at the 3.0 V restart voltage: PIR on, 4-hourly; the dongle acks it for the sleeping node
    assert radio.sent()[2:] == [(REPORT_INTERVAL, 14400)]
    assert "no report for 1.0 h (browned out?): deciding for its restart at 3.00 V" in radio.records[2].reason
    await decide_at(app, clock, 3)
    assert node.was_overdue and node.overdue_decisions == 2  # an ack is not a sign of life
    report(app, MONDAY + 4 * HOUR, 3.1, 80.0)
    await decide_at(app, clock, 4)
    assert not node.was_overdue and node.decisions == 4 and node.overdue_decisions == 2


@pytest.mark.asyncio
async def test_readings_that_say_nothing_new_are_ignored() -> None:
    app, radio, clock = make_app()
    report(app, MONDAY + HOUR, 4.5, 300.0)
    report(app, MONDAY + 900, 2.4, 0.0)  # an older report arriving late
    report(app, MONDAY + HOUR, 2.4, 0.0, device="node-0001")  # another node
    app.on_readings([Reading(NODE, "supercap_voltage", MONDAY + HOUR + 30, float("nan"), "V", "serial", 2)])
    await decide_at(app, clock, 1)
    node = app.nodes[NODE]
    assert (node.voltage, node.lux, node.heard_ts) == (4.5, 300.0, MONDAY + HOUR)
    assert radio.sent() == [(PIR_ENABLE, 1), (REPORT_INTERVAL, 900)]


@pytest.mark.asyncio
async def test_the_hour_is_the_sites_local_hour() -> None:
    """A table whose mode depends on the hour alone shows which hour the app used."""
    app, radio, clock = make_app(tz="Europe/Berlin")  # UTC+1 in January
    modes = [3 if hour == 8 else 2 for hour in range(24) for _ in range(2 * 2)]
    app.policy = _core.TablePolicy([3.0], [100.0], modes)
    report(app, MONDAY + 7 * HOUR, 4.0, 200.0)
    await decide_at(app, clock, 7)  # 07:00 UTC is 08:00 in Berlin
    assert radio.sent() == [(PIR_ENABLE, 1), (REPORT_INTERVAL, 900)]
    assert "at 08:00" in radio.records[0].reason


@pytest.mark.asyncio
async def test_the_loop_decides_a_minute_after_each_step_of_event_time() -> None:
    app, radio, clock = make_app()
    task = asyncio.create_task(app.run())
    try:
        report(app, MONDAY + HOUR, 4.5, 300.0)
        clock.advance_to(MONDAY + HOUR + DECISION_LAG_S - 1)
        await asyncio.sleep(0)
        assert not app.caught_up(clock.now() + 1) and app.nodes[NODE].decisions == 0
        clock.advance_to(MONDAY + HOUR + DECISION_LAG_S)
        for _ in range(5):
            await asyncio.sleep(0)
        await app.idle()
        assert app.caught_up(clock.now()) and app.nodes[NODE].decisions == 1
        assert [r.ts for r in radio.records] == [MONDAY + HOUR + DECISION_LAG_S] * 2
    finally:
        task.cancel()


@pytest.mark.asyncio
@pytest.mark.parametrize(("hour", "volts", "lux"), [(3, 4.6, 0.0), (11, 5.2, 500.0), (22, 2.8, 0.0)])
async def test_the_learned_policy_is_the_shipped_table(hour: int, volts: float, lux: float) -> None:
    app, radio, clock = make_app(policy="learned")
    report(app, MONDAY + hour * HOUR, volts, lux)
    await decide_at(app, clock, hour)
    pir, interval = MODES[load_table().decide(hour, volts, lux)]
    assert radio.sent() == [(PIR_ENABLE, int(pir)), (REPORT_INTERVAL, int(interval))]
    assert radio.records[0].reason.startswith(f"learned policy at {hour:02d}:00")


# -- configuration ---------------------------------------------------------------------


def config_with(energy: dict[str, Any], zones: dict[str, Any] = ZONES) -> Config:
    return Config.model_validate({"gateway": {"id": "gw"}, "guardrails": {"zones": zones},
                                  "energy_harvesting": energy})


def test_scheduled_nodes_need_a_known_type_and_a_zone() -> None:
    assert config_with({"nodes": {NODE: "ember"}}).energy_harvesting.policy == "learned"
    with pytest.raises(ValidationError, match="node type 'tiny' is not under node_types"):
        config_with({"nodes": {NODE: "tiny"}})
    with pytest.raises(ValidationError, match="nodes.node-0102 is not a sensor_node actuator"):
        config_with({"nodes": {"node-0102": "ember"}})
    with pytest.raises(ValidationError):
        config_with({"nodes": {NODE: "ember"}, "policy": "oracle"})  # the oracle needs the future


def test_a_bad_policy_file_stops_the_start_with_the_files_name(tmp_path: Path) -> None:
    bad = tmp_path / "table.json"
    bad.write_text('{"format": "something else"}')
    config = EnergyHarvestingConfig.model_validate({"policy_file": str(bad), "nodes": {NODE: "ember"}})
    with pytest.raises(PolicyError, match=f"energy_harvesting.policy_file: {bad}"):
        load_policy(config)

