"""The simulated Zigbee devices' report-on-change policy (firmware_sim.zigbee_devices.Reporting)."""

from __future__ import annotations

from firmware_sim.zigbee_devices import Reporting

STATE = {"local_temperature": 20.0, "occupied_heating_setpoint": 21.0, "running_state": "idle",
         "linkquality": 120, "last_seen": 1}


def test_a_device_reports_changes_worth_reporting_and_at_least_hourly() -> None:
    r = Reporting()
    assert r.due(STATE, None, 0.0)  # never published: publish
    assert not r.due({**STATE, "local_temperature": 20.4, "linkquality": 90, "last_seen": 2}, STATE, 300.0)
    assert r.due({**STATE, "local_temperature": 19.5}, STATE, 300.0)  # the reportable change, either way
    assert r.due({**STATE, "occupied_heating_setpoint": 21.5}, STATE, 300.0)  # not listed: any change
    assert r.due({**STATE, "running_state": "heat"}, STATE, 300.0)
    assert not r.due(STATE, STATE, 3599.0) and r.due(STATE, STATE, 3600.0)
