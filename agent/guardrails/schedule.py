"""The safe schedule the stale-sensor fail-safe returns a zone to.

Local time matters (occupied 07:00–19:00 means the building's 07:00), so the
schedule carries a time zone; event times stay Unix seconds everywhere else.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo

from agent.config.schema import SafeScheduleConfig
from agent.guardrails.targets import COOLING_SETPOINT, HEATING_SETPOINT, STATE, Kind, Target


def time_zone(name: str) -> tzinfo:
    """``UTC`` needs no time zone database; anything else comes from the system's."""
    return timezone.utc if name == "UTC" else zoneinfo.ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class SafeSchedule:
    config: SafeScheduleConfig
    tz: tzinfo

    def occupied(self, t: float) -> bool:
        local = datetime.fromtimestamp(t, self.tz)
        if self.config.weekdays_only and local.weekday() >= 5:
            return False
        hour = local.hour + local.minute / 60 + local.second / 3600
        return self.config.occupied_from_h <= hour < self.config.occupied_until_h

    def value(self, target: Target, t: float) -> object | None:
        """What the fail-safe sends to ``target`` at ``t``; ``None`` for targets it leaves alone.

        Heating and cooling stay available (an ``hvac_switch`` is turned on) so
        the thermostat, which has its own sensor, can hold the safe setpoint.
        """
        occupied = self.occupied(t)
        c = self.config
        if target.attribute == HEATING_SETPOINT:
            return c.heating_c if occupied else c.setback_heating_c
        if target.attribute == COOLING_SETPOINT:
            return c.cooling_c if occupied else c.setback_cooling_c
        if target.attribute == STATE and target.kind is Kind.HVAC_SWITCH:
            return "ON"
        return None
