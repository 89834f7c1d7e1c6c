"""What may be commanded: every (device, attribute) the configuration's zones list.

A device is commandable only when a zone names it as an actuator, with its kind;
the kind says which attributes it takes and over which transport.  Anything
else is an unknown target, and the guardrails block it: the default is deny.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from agent.config.schema import ZoneConfig
from agent.protocol import Actuator

HEATING_SETPOINT = "occupied_heating_setpoint"
COOLING_SETPOINT = "occupied_cooling_setpoint"
STATE = "state"
FAN_MODE = "fan_mode"
REPORT_INTERVAL = "report_interval_s"
PIR_ENABLE = "pir_enable"
SETPOINTS = (HEATING_SETPOINT, COOLING_SETPOINT)
"""Attributes that hold a temperature setpoint (Zigbee2MQTT's names)."""


class Kind(StrEnum):
    """What an actuator is; ``guardrails.zones.<zone>.actuators`` names it per device."""

    THERMOSTAT = "thermostat"
    HEATING_THERMOSTAT = "heating_thermostat"
    COOLING_THERMOSTAT = "cooling_thermostat"
    HVAC_SWITCH = "hvac_switch"
    """A relay or smart plug that starts and stops heating or cooling equipment."""
    SWITCH = "switch"
    """Any other on/off load, e.g. lights."""
    FAN = "fan"
    """A ventilation unit: ``fan_mode`` (Zigbee2MQTT's off, low, medium, high, on, auto, smart) and ``state``."""
    SENSOR_NODE = "sensor_node"
    """A serial sensor node behind the radio dongle."""


class Transport(StrEnum):
    ZIGBEE = "zigbee"
    SERIAL = "serial"


ATTRIBUTES: dict[Kind, tuple[str, ...]] = {
    Kind.THERMOSTAT: (HEATING_SETPOINT, COOLING_SETPOINT),
    Kind.HEATING_THERMOSTAT: (HEATING_SETPOINT,),
    Kind.COOLING_THERMOSTAT: (COOLING_SETPOINT,),
    Kind.HVAC_SWITCH: (STATE,),
    Kind.SWITCH: (STATE,),
    Kind.FAN: (FAN_MODE, STATE),
    Kind.SENSOR_NODE: (REPORT_INTERVAL, PIR_ENABLE),
}

SERIAL_ACTUATORS: dict[str, Actuator] = {REPORT_INTERVAL: Actuator.REPORT_INTERVAL_S, PIR_ENABLE: Actuator.PIR_ENABLE}
"""Serial attribute names are the protocol's actuator names in lower case."""


@dataclass(frozen=True, slots=True)
class Target:
    """One commandable attribute of one device."""

    zone: str
    device: str
    attribute: str
    kind: Kind

    @property
    def transport(self) -> Transport:
        return Transport.SERIAL if self.kind is Kind.SENSOR_NODE else Transport.ZIGBEE


class Registry:
    """Lookup of the configured actuators: device → zone and kind."""

    def __init__(self, zones: Mapping[str, ZoneConfig]) -> None:
        self._kinds: dict[str, tuple[str, Kind]] = {}
        self.zones: tuple[str, ...] = tuple(zones)
        for zone, cfg in zones.items():
            for device, kind in cfg.actuators.items():
                self._kinds[device] = (zone, Kind(kind))

    def kind_of(self, device: str) -> tuple[str, Kind] | None:
        """(zone, kind) of a configured device; ``None`` if no zone lists it."""
        return self._kinds.get(device)

    def target(self, device: str, attribute: str) -> Target | None:
        """The target, or ``None`` when the device is unknown or does not take the attribute."""
        found = self._kinds.get(device)
        if found is None or attribute not in ATTRIBUTES[found[1]]:
            return None
        return Target(found[0], device, attribute, found[1])

    def targets(self, zone: str | None = None, attribute: str | None = None) -> list[Target]:
        """Every target, optionally of one zone and/or one attribute, in configuration order."""
        return [
            Target(z, device, attr, kind)
            for device, (z, kind) in self._kinds.items()
            for attr in ATTRIBUTES[kind]
            if (zone is None or z == zone) and (attribute is None or attr == attribute)
        ]
