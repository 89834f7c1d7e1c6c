"""Shared by the guardrails tests: a two-zone site, sensor clocks, an in-memory override store."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from agent.config import GuardrailsConfig
from agent.store.audit import Override

MONDAY = 1767571200.0
"""2026-01-05 00:00 UTC, a Monday."""

SITE: dict[str, Any] = {
    "hvac": {"min_on_s": 300, "min_off_s": 600, "max_starts_per_hour": 3},
    "rate_limit": {"commands": 4, "window_s": 120},
    "stale_after_s": 900,
    "zones": {
        "office": {
            "sensors": ["node-0001/temperature"],
            "actuators": {
                "office_thermostat": "thermostat",
                "office_heater": "hvac_switch",
                "office_light": "switch",
                "office_fan": "fan",
                "node-0001": "sensor_node",
            },
        },
        "meeting": {
            "sensors": ["node-0002/temperature", "meeting_thermostat/local_temperature"],
            "actuators": {
                "meeting_thermostat": "heating_thermostat",
                "meeting_cooler": "cooling_thermostat",
                "meeting_heater": "hvac_switch",
            },
            "limits": {
                "heating_c": {"min": 19, "max": 23},
                "cooling_c": {"min": 23, "max": 26},
                "setback_heating_c": 15,
                "setback_cooling_c": 30,
            },
        },
    },
}


def site_config(**changes: Any) -> GuardrailsConfig:
    return GuardrailsConfig.model_validate({**SITE, **changes})


class Sensors:
    """Event time of each point's newest reading, as the agent's PointTable keeps it."""

    def __init__(self, **times: float) -> None:
        self.times: dict[str, float] = dict(times)

    def last_time(self, point: str) -> float | None:
        return self.times.get(point)

    def all_fresh(self, now: float) -> Sensors:
        for zone in SITE["zones"].values():
            for point in zone["sensors"]:
                self.times[point] = now
        return self


class FreshSensors:
    """Sensors that are never silent, for tests about other rules."""

    def last_time(self, point: str) -> float | None:
        return math.inf


class MemoryOverrides:
    """The store's override methods, in memory (for tests that run thousands of examples)."""

    def __init__(self) -> None:
        self.rows: list[Override] = []

    def save_override(self, override: Override) -> Override:
        self.clear_override(override.zone, override.attribute, override.set_ts, override.by)
        stored = replace(override, id=len(self.rows) + 1)
        self.rows.append(stored)
        return stored

    def clear_override(self, zone: str, attribute: str, ts: float, by: str) -> list[Override]:
        ended = []
        for i, o in enumerate(self.rows):
            if o.zone == zone and o.attribute == attribute and o.active(ts):
                ended.append(o)
                self.rows[i] = replace(o, cleared_ts=ts, cleared_by=by)
        return ended

    def overrides(self, *, zone: str | None = None, active_at: float | None = None) -> list[Override]:
        return [
            o for o in self.rows
            if (zone is None or o.zone == zone) and (active_at is None or o.active(active_at))
        ]
