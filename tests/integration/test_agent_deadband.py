"""The agent wires the deadband rule to what thermostats hold: audit rows from before a restart
(older than the hour of equipment memory) and the thermostats' own state reports."""

from __future__ import annotations

from pathlib import Path

from agent.clock import SimClock
from agent.config import Config
from agent.guardrails import COOLING_SETPOINT, HEATING_SETPOINT, ActionRequest, Origin, Verdict
from agent.ingest.reading import Reading
from agent.service import Agent
from agent.store import AuditRecord, Outcome, Store

START = 1_767_603_600.0  # Monday 2026-01-05 09:00 UTC


def test_a_restarted_agent_keeps_heating_clear_of_the_cooling_its_thermostat_holds(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    config = Config.model_validate({
        "gateway": {"id": "gw-1", "database": str(db)},
        "guardrails": {"zones": {"office": {"actuators": {"office_thermostat": "thermostat"}}}},
    })
    day_before = START - 86_400
    with Store.open(db) as store:  # yesterday's run set cooling to 22 °C and the thermostat confirmed it
        store.add_audit(AuditRecord(0, day_before, "occupancy", Origin.APP, "office", "office_thermostat",
                                    COOLING_SETPOINT, 22.0, 22.0, Verdict.ALLOWED, (), "", "", Outcome.CONFIRMED,
                                    day_before, 1, ""))
    agent = Agent(config, SimClock(START))
    try:
        heat = ActionRequest("occupancy", "office_thermostat", HEATING_SETPOINT, 22.0)
        before = agent.guardrails.check(heat, START)
        # The thermostat's state topic: an occupant raised cooling to 24 °C at the device.
        agent.points.update([Reading("office_thermostat", COOLING_SETPOINT, START + 60, 24.0, "°C", "zigbee")])
        after = agent.guardrails.check(heat, START + 120)
    finally:
        agent.store.close()
    assert (before.value, before.rules) == (21.5, ("SetpointDeadband",))
    assert (after.value, after.rules) == (22.0, ())
