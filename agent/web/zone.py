"""What the thermostat page shows for one zone, read from the agent (no HTTP here).

The setpoint the page shows is the occupant's hold while one is in force;
otherwise the newest of what the thermostat last reported and what the agent
last sent it, so the page agrees with the device, not with a wish.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from agent.guardrails.schedule import time_zone
from agent.guardrails.targets import SETPOINTS
from agent.store import Override

if TYPE_CHECKING:
    from agent.service import Agent

TEMPERATURE_CHANNELS = ("temperature", "local_temperature")
"""Channels of a zone's sensors that hold the room temperature."""
STEP_C = 0.5
"""How far one press of + or − moves the setpoint."""


@dataclass(frozen=True, slots=True)
class Thermostat:
    """The setpoint of a zone the page can nudge, and where the zone's temperature comes from."""

    zone: str
    attribute: str
    """``occupied_heating_setpoint`` if a device of the zone takes it, else the cooling one."""
    devices: tuple[str, ...]
    temperature_points: tuple[str, ...]
    """The zone's temperature sensors first, then the thermostats' own ``local_temperature``."""


def find_thermostat(agent: Agent, zone: str) -> Thermostat | None:
    """The zone's thermostat as the page sees it; ``None`` if no device of the zone takes a setpoint."""
    registry = agent.guardrails.registry
    for attribute in SETPOINTS:
        targets = registry.targets(zone=zone, attribute=attribute)
        if targets:
            devices = tuple(t.device for t in targets)
            zone_config = agent.config.guardrails.zones.get(zone)
            sensors = zone_config.sensors if zone_config is not None else []
            points = [p for p in sensors if p.partition("/")[2] in TEMPERATURE_CHANNELS]
            points += [f"{device}/local_temperature" for device in devices]
            return Thermostat(zone, attribute, devices, tuple(points))
    return None


def current_setpoint(agent: Agent, thermostat: Thermostat, hold: Override | None) -> float | None:
    """The held value, else the newest reported or sent setpoint of the zone's first thermostat."""
    if hold is not None:
        return _number(hold.value)
    device = thermostat.devices[0]
    candidates: list[tuple[float, object]] = []
    point = f"{device}/{thermostat.attribute}"
    if point in agent.points:
        reported = agent.points.summary(point)
        candidates.append((reported.last_time, reported.last))
    sent = agent.guardrails.last_sent(device, thermostat.attribute)
    if sent is not None:
        candidates.append((sent.ts, sent.value))
    if not candidates:
        return None
    return _number(max(candidates, key=lambda c: c[0])[1])


def zone_state(agent: Agent, zone: str) -> dict[str, object]:
    """The zone as the page and the JSON API show it (see docs/thermostat.md for the fields)."""
    now = agent.clock.now()
    tz = time_zone(agent.config.guardrails.timezone)
    state: dict[str, object] = {"zone": zone, "now": now, "timezone": agent.config.guardrails.timezone}
    thermostat = find_thermostat(agent, zone)
    temperature = _latest(agent, thermostat.temperature_points if thermostat else ())
    state.update(
        temperature_c=temperature[0] if temperature else None,
        temperature_ts=temperature[1] if temperature else None,
        temperature_local=_local(temperature[1], now, tz) if temperature else None,
    )
    if thermostat is None:
        state.update(attribute=None, setpoint_c=None, mode="none", hold_until=None, hold_until_local=None,
                     limits=None, step_c=STEP_C)
        return state
    hold = held(agent, thermostat)
    low, high = agent.guardrails.setpoint_range(zone, thermostat.attribute)
    setpoint = current_setpoint(agent, thermostat, hold)
    state.update(
        attribute=thermostat.attribute,
        setpoint_c=None if setpoint is None else round(setpoint, 2),
        mode="hold" if hold else "auto",
        hold_until=hold.expires_ts if hold else None,
        hold_until_local=_local(hold.expires_ts, now, tz) if hold else None,
        limits={"min": low, "max": high},
        step_c=STEP_C,
    )
    return state


def held(agent: Agent, thermostat: Thermostat) -> Override | None:
    """The occupant's hold of the zone's setpoint in force now, if any."""
    return next((o for o in agent.overrides(thermostat.zone) if o.attribute == thermostat.attribute), None)


def _latest(agent: Agent, points: tuple[str, ...]) -> tuple[float, float] | None:
    """(value, time) of the first of ``points`` that has a reading."""
    for point in points:
        if point in agent.points:
            summary = agent.points.summary(point)
            if summary.count:
                return round(summary.last, 2), summary.last_time
    return None


def _local(ts: float, now: float, tz: tzinfo) -> str:
    """``HH:MM`` in the site's time zone; with the weekday when it is not today."""
    when = datetime.fromtimestamp(ts, tz)
    today = datetime.fromtimestamp(now, tz).date()
    return when.strftime("%H:%M") if when.date() == today else when.strftime("%a %H:%M")


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
