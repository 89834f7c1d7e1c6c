"""The building's Zigbee devices as Zigbee2MQTT presents them on a real broker.

Each room has a thermostat, a smart plug in front of its electric heater, a
ventilation unit (``fan_mode`` off, low or high holds it until the programme's
next switch, "auto" follows the building's time programme; ``state`` ON/OFF is
high/off) and a light.  Optionally the site also has an outdoor weather sensor
(``outdoor_sensor``: temperature and humidity, as a Zigbee weather sensor
reports them), which the fault detector's thermal model needs.
Like Zigbee2MQTT, the network publishes retained availability, state messages
with ``last_seen`` in epoch milliseconds, and answers ``<base>/<name>/set``
commands by changing the device and publishing its new state straight away.
The agent talks to it exactly as it would to a real Zigbee2MQTT bridge.

By default every device publishes its state every round.  With a
:class:`Reporting` policy a device publishes only when a value changed by its
reportable change, or when its maximum reporting interval has passed, as
devices configured by Zigbee2MQTT do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
from dataclasses import dataclass
from typing import Any

import aiomqtt

from agent.transports.mqtt import client_logger

from firmware_sim.building import FAN_MODES, Building, Room
from firmware_sim.weather import saturation_vapour_density

log = logging.getLogger(__name__)

THERMOSTAT = "thermostat"
PLUG = "plug"
VENTILATION = "ventilation"
LIGHT = "light"
WEATHER = "weather"
SETPOINT_MIN_C = 5.0
SETPOINT_MAX_C = 30.0
STANDBY_W = 0.5
_ONLINE = json.dumps({"state": "online"})
_OFFLINE = json.dumps({"state": "offline"})


@dataclass(frozen=True, slots=True)
class Reporting:
    """Report on change: a device publishes when any value moved by at least its reportable change
    (any change for a value not listed), or when ``max_interval_s`` passed since it last published."""

    max_interval_s: float = 3600.0
    """Zigbee2MQTT's usual maximum reporting interval."""
    changes: tuple[tuple[str, float], ...] = (
        ("local_temperature", 0.5), ("temperature", 0.5), ("humidity", 2.0), ("power", 10.0), ("energy", 0.05),
    )

    def due(self, state: dict[str, Any], last: dict[str, Any] | None, since_s: float) -> bool:
        if last is None or since_s >= self.max_interval_s:
            return True
        changes = dict(self.changes)
        for key, value in state.items():
            if key in _NOT_REPORTED or value == last.get(key):
                continue
            step = changes.get(key)
            if step is None or not isinstance(value, (int, float)) or abs(value - last.get(key, math.inf)) >= step:
                return True
        return False


_NOT_REPORTED = ("linkquality", "last_seen")
"""Fields that change with every message and trigger none."""


class CommandError(ValueError):
    """A ``/set`` payload the device cannot act on (Zigbee2MQTT logs and ignores these)."""


@dataclass(slots=True)
class _Device:
    name: str
    kind: str
    room: Room | None
    """None for the outdoor weather sensor."""
    rng: random.Random
    base_lqi: int
    last_seen_ms: int = 0
    published: dict[str, Any] | None = None
    """The state last published (on change: what the next one is compared with)."""
    published_at: float = -math.inf


class ZigbeeNetwork:
    """Zigbee2MQTT for the building's thermostats and heater plugs (async context manager)."""

    def __init__(
        self,
        building: Building,
        host: str,
        port: int,
        *,
        rng: random.Random,
        base_topic: str = "zigbee2mqtt",
        outdoor_sensor: str | None = None,
        reporting: Reporting | None = None,
    ) -> None:
        """``outdoor_sensor``: the friendly name of an outdoor weather sensor, or None for none.
        ``reporting``: report on change; None publishes every device every round."""
        self.building = building
        self.reporting = reporting
        self.base_topic = base_topic.rstrip("/")
        self.devices: dict[str, _Device] = {}
        for room in building.rooms:
            for name, kind in room_devices(room):
                device_rng = random.Random(rng.getrandbits(64))
                self.devices[name] = _Device(name, kind, room, device_rng, device_rng.randint(60, 200))
        if outdoor_sensor is not None:
            device_rng = random.Random(rng.getrandbits(64))
            self.devices[outdoor_sensor] = _Device(outdoor_sensor, WEATHER, None, device_rng,
                                                   device_rng.randint(60, 200))
        self.messages_published = 0
        self.device_messages_published = 0
        """State and availability messages: what the agent counts as received."""
        self.command_readings = 0
        """Readings in the state messages that answer commands (``publish_states`` returns the others)."""
        self.commands_applied = 0
        self.commands_rejected = 0
        self._host, self._port = host, port
        self._client_or_none: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def _client(self) -> aiomqtt.Client:
        if self._client_or_none is None:
            raise RuntimeError("ZigbeeNetwork is not connected; use it with 'async with'")
        return self._client_or_none

    async def __aenter__(self) -> ZigbeeNetwork:
        # aiomqtt binds a client to the running loop, so it is made here, not in __init__.
        client = aiomqtt.Client(
            self._host,
            self._port,
            identifier="edgewise-sim-zigbee2mqtt",
            will=aiomqtt.Will(f"{self.base_topic}/bridge/state", _OFFLINE, qos=1, retain=True),
            timeout=10,
            max_inflight_messages=1000,
            logger=client_logger(),
        )
        # Publishing every device at once is deliberate; don't warn about it.
        client.pending_calls_threshold = 2 * len(self.devices) + 10
        await client.__aenter__()
        self._client_or_none = client
        try:
            await self._client.subscribe(f"{self.base_topic}/+/set", qos=1)
            self._task = asyncio.create_task(self._handle_commands(), name="zigbee2mqtt-commands")
            await self._publish_all(
                [(f"{self.base_topic}/{name}/availability", _ONLINE, True) for name in self.devices]
                + [(f"{self.base_topic}/bridge/state", _ONLINE, True)]
            )
        except BaseException:
            await self._shutdown(announce=False)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._shutdown(announce=True)

    async def publish_states(self, t: float) -> int:
        """Publish every device's state at event time ``t``; returns the readings in them.

        The count follows the agent's rules: numeric fields and ON/OFF ``state``
        are readings; other strings and ``last_seen`` are not.
        """
        last_seen = int(t * 1000)
        messages = []
        readings = 0
        for device in self.devices.values():
            # The state is drawn every round, published or not, so the devices' random streams
            # do not depend on the reporting policy.
            state = self._state(device)
            if self.reporting is not None and not self.reporting.due(state, device.published, t - device.published_at):
                continue
            # After a command's answer at the same instant, last_seen must still move on.
            device.last_seen_ms = max(last_seen, device.last_seen_ms + 1)
            state["last_seen"] = device.last_seen_ms
            device.published, device.published_at = state, t
            readings += count_readings(state)
            messages.append((f"{self.base_topic}/{device.name}", json.dumps(state), False))
        await self._publish_all(messages)
        return readings

    async def publish_raw(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False) -> None:
        """Publish anything, e.g. a malformed state message, for fault-injection tests."""
        await self._client.publish(topic, payload, qos=qos, retain=retain)
        self.messages_published += 1

    # -- commands -----------------------------------------------------------

    async def _handle_commands(self) -> None:
        async for message in self._client.messages:
            topic = message.topic.value
            try:
                device = self._apply(topic, _payload_bytes(message.payload))
            except CommandError as exc:
                self.commands_rejected += 1
                log.warning("zigbee2mqtt sim: ignored command on %s: %s", topic, exc)
                continue
            self.commands_applied += 1
            device.last_seen_ms = max(int(self.building.time * 1000), device.last_seen_ms + 1)
            state = self._state(device)
            device.published, device.published_at = state, self.building.time
            self.command_readings += count_readings(state)
            await self._publish_all([(f"{self.base_topic}/{device.name}", json.dumps(state), False)])

    def _apply(self, topic: str, payload: bytes) -> _Device:
        name = topic[len(self.base_topic) + 1 : -len("/set")]
        device = self.devices.get(name)
        if device is None:
            raise CommandError(f"no device called {name!r}")
        command = _parse_command(payload)
        room = device.room
        if room is None:
            raise CommandError(f"{name} is a sensor; it takes no commands")
        if device.kind == THERMOSTAT:
            self.building.set_setpoint(room.room_id, _setpoint(command))
        elif device.kind == PLUG:
            self.building.set_hvac_enabled(room.room_id, _on_off(command, room.hvac_enabled))
        elif device.kind == VENTILATION:
            self.building.set_ventilation(room.room_id, _fan_mode(command))
        else:
            self.building.set_lights(room.room_id, _on_off(command, room.lights_on))
        return device

    # -- payloads -----------------------------------------------------------

    def _state(self, device: _Device) -> dict[str, Any]:
        room, rng = device.room, device.rng
        lqi = max(0, min(255, device.base_lqi + rng.randint(-8, 8)))
        if room is None:
            t = self.building.time
            weather = self.building.weather
            humidity = 100.0 * weather.vapour_density(t) / saturation_vapour_density(weather.temperature(t))
            return {
                "temperature": round(weather.temperature(t) + rng.gauss(0.0, 0.1), 1),
                "humidity": round(min(100.0, max(0.0, humidity)), 1),
                "linkquality": lqi,
                "last_seen": device.last_seen_ms,
            }
        if device.kind == THERMOSTAT:
            noise = rng.gauss(0.0, 0.05)  # drawn either way, so a fault never shifts the device's stream
            return {
                # What the thermostat's own sensor reads: a sensor fault shows here, and a
                # frozen sensor repeats its value exactly.
                "local_temperature": round(room.reported_temperature + (0.0 if room.sensor_frozen else noise), 1),
                "occupied_heating_setpoint": round(room.setpoint, 1),
                "running_state": "heat" if room.hvac_on else "idle",
                "system_mode": "heat",
                "linkquality": lqi,
                "last_seen": device.last_seen_ms,
            }
        if device.kind == VENTILATION:
            return {
                "state": _on_off_text(room.ventilating),
                "fan_mode": room.ventilation_mode,
                "linkquality": lqi,
                "last_seen": device.last_seen_ms,
            }
        if device.kind == LIGHT:
            return {
                "state": _on_off_text(room.lights_on),
                "power": round(room.lights_w, 1) if room.lights_on else 0.0,
                "energy": round(room.lighting_energy_kwh, 3),
                "linkquality": lqi,
                "last_seen": device.last_seen_ms,
            }
        if room.hvac_on:
            power = round(room.hvac_power_kw * 1000.0 * rng.uniform(0.99, 1.01), 1)
        else:
            power = STANDBY_W if room.hvac_enabled else 0.0
        return {
            "state": "ON" if room.hvac_enabled else "OFF",
            "power": power,
            "energy": round(room.hvac_energy_kwh, 3),
            "linkquality": lqi,
            "last_seen": device.last_seen_ms,
        }

    async def _publish_all(self, messages: list[tuple[str, str, bool]]) -> None:
        """QoS 1 publishes in flight together: one broker round trip, not one each."""
        await asyncio.gather(
            *(self._client.publish(topic, payload, qos=1, retain=retain) for topic, payload, retain in messages)
        )
        self.messages_published += len(messages)
        self.device_messages_published += sum(not topic.endswith("/bridge/state") for topic, _, _ in messages)

    async def _shutdown(self, *, announce: bool) -> None:
        if announce:
            offline = [(f"{self.base_topic}/{name}/availability", _OFFLINE, True) for name in self.devices]
            try:
                await self._publish_all(offline + [(f"{self.base_topic}/bridge/state", _OFFLINE, True)])
            except aiomqtt.MqttError as exc:
                log.warning("zigbee2mqtt sim: could not announce shutdown: %s", exc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._task
            self._task = None
        client, self._client_or_none = self._client_or_none, None
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)


def room_devices(room: Room) -> list[tuple[str, str]]:
    """(friendly name, kind) of every Zigbee device in ``room``."""
    return [
        (room.thermostat_name, THERMOSTAT),
        (room.plug_name, PLUG),
        (room.ventilation_name, VENTILATION),
        (room.light_name, LIGHT),
    ]


def count_readings(state: dict[str, Any]) -> int:
    """How many readings the agent stores from one state message."""
    count = 0
    for name, value in state.items():
        if name == "last_seen":
            continue
        if isinstance(value, bool):
            count += name in ("state", "occupancy", "contact")
        elif isinstance(value, (int, float)):
            count += 1
        elif name == "state" and isinstance(value, str) and value.upper() in ("ON", "OFF"):
            count += 1
    return count


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode()


def _parse_command(payload: bytes) -> dict[str, Any]:
    try:
        command = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"not JSON: {exc}") from None
    if not isinstance(command, dict):
        raise CommandError(f"expected a JSON object, got {type(command).__name__}")
    return command


def _setpoint(command: dict[str, Any]) -> float:
    value = command.get("occupied_heating_setpoint")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CommandError(f"occupied_heating_setpoint must be a number, got {value!r}")
    return min(SETPOINT_MAX_C, max(SETPOINT_MIN_C, float(value)))


def _on_off_text(on: bool) -> str:
    return "ON" if on else "OFF"


def _fan_mode(command: dict[str, Any]) -> str:
    """Zigbee2MQTT fan commands: ``fan_mode`` (``on`` means high) or ``state`` ON/OFF."""
    if "fan_mode" in command:
        mode = command["fan_mode"]
        mode = "high" if mode == "on" else mode
        if mode != "auto" and mode not in FAN_MODES:
            raise CommandError(f"fan_mode must be auto, on, {', '.join(FAN_MODES)}; got {command['fan_mode']!r}")
        return str(mode)
    return "high" if _on_off(command, False) else "off"


def _on_off(command: dict[str, Any], current: bool) -> bool:
    value = command.get("state")
    text = value.upper() if isinstance(value, str) else None
    if text == "ON":
        return True
    if text == "OFF":
        return False
    if text == "TOGGLE":
        return not current
    raise CommandError(f"state must be ON, OFF or TOGGLE, got {value!r}")
