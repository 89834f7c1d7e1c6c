"""Zigbee2MQTT state messages → readings.

Zigbee2MQTT publishes each device's state as a JSON object on
``<base>/<friendly_name>``; availability on ``<base>/<name>/availability``.
Known numeric fields are validated strictly (a temperature that is a string or a
boolean rejects the whole message, so a misbehaving device cannot inject
garbage); unknown numeric fields are kept with an empty unit; text fields such as
``system_mode`` are not readings and are ignored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from agent.ingest.reading import Reading

#: Units of the Zigbee2MQTT fields we know, by field name.
KNOWN_FIELDS: dict[str, str] = {
    "temperature": "°C",
    "local_temperature": "°C",
    "occupied_heating_setpoint": "°C",
    "occupied_cooling_setpoint": "°C",
    "humidity": "%RH",
    "illuminance": "lx",
    "illuminance_lux": "lx",
    "co2": "ppm",
    "pressure": "hPa",
    "power": "W",
    "energy": "kWh",
    "voltage": "V",
    "current": "A",
    "battery": "%",
    "linkquality": "lqi",
    "occupancy": "bool",
    "contact": "bool",
    "state": "bool",
}

#: Fields whose JSON value is a boolean or an ON/OFF string rather than a number.
_BINARY_FIELDS = {"occupancy", "contact", "state"}
_ON_OFF = {"ON": 1.0, "OFF": 0.0}

_scan_json = json.JSONDecoder().scan_once
"""The decoder's native scanner: ``json.loads`` adds three Python calls around it
per message, which a gateway draining a backlog notices."""
_JSON_SPACE = json.decoder.WHITESPACE
_new_reading = tuple.__new__
"""``_new_reading(Reading, fields)`` builds a reading without the named tuple's
Python-level ``__new__``; one per reading on the hot path."""


class PayloadError(ValueError):
    """A state message that cannot be trusted; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Availability:
    device: str
    online: bool


@dataclass(frozen=True, slots=True)
class StateMessage:
    device: str
    ts: float
    readings: list[Reading]
    has_device_time: bool
    fields: Mapping[str, object] = field(default_factory=dict)
    """The message's JSON object as received, text fields included (actuation
    confirms a command by the value the device reports, e.g. ``fan_mode``)."""


def classify_topic(topic: str, base: str) -> tuple[str, str] | None:
    """Split a topic into (kind, device); ``None`` for topics that are not device state.

    ``kind`` is ``"state"`` or ``"availability"``.  Bridge topics and our own
    ``/set`` and ``/get`` command topics are not ingested.
    """
    prefix = base + "/"
    if not topic.startswith(prefix):
        return None
    rest = topic[len(prefix):]
    if not rest or rest.startswith("bridge/") or rest == "bridge":
        return None
    if rest.endswith("/availability"):
        return "availability", rest[: -len("/availability")]
    if rest.endswith("/set") or rest.endswith("/get") or "/set/" in rest:
        return None
    return "state", rest


def parse_availability(device: str, payload: bytes) -> Availability:
    """Accept both Zigbee2MQTT styles: JSON ``{"state": "online"}`` and plain ``online``."""
    text = _decode_text(payload).strip()
    value: object = text
    if text.startswith("{"):
        obj = _parse_json_object(text)
        value = obj.get("state")
    if value not in ("online", "offline"):
        raise PayloadError("bad_availability", f"expected online/offline, got {value!r}")
    return Availability(device, value == "online")


def parse_state(device: str, payload: bytes, now: float) -> StateMessage:
    """Readings from one state message, stamped with ``last_seen`` when present."""
    obj = _parse_json_object(_decode_text(payload))
    ts, has_time = _event_time(obj.get("last_seen"), now)
    readings = []
    for name, raw in obj.items():
        if name == "last_seen":
            continue
        value = _field_value(name, raw)
        if value is not None:
            readings.append(_new_reading(Reading, (device, name, ts, value, KNOWN_FIELDS.get(name, ""), "zigbee", None)))
    return StateMessage(device, ts, readings, has_time, obj)


def _decode_text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("bad_utf8", str(exc)) from None


def _parse_json_object(text: str) -> dict[str, object]:
    if text[:1] == "{":
        # The common case, scanned natively; anything odd (trailing text,
        # malformed JSON) goes to json.loads below for its exact error.
        try:
            obj, end = _scan_json(text, 0)
        except (StopIteration, ValueError, RecursionError):
            pass
        else:
            if end == len(text) or _JSON_SPACE.match(text, end).end() == len(text):  # type: ignore[union-attr]
                return obj  # type: ignore[no-any-return]
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        # ValueError besides JSONDecodeError: an integer beyond Python's digit
        # limit; RecursionError: arrays nested thousands deep.
        raise PayloadError("bad_json", str(exc)) from None
    if not isinstance(obj, dict):
        raise PayloadError("not_an_object", f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _event_time(last_seen: object, now: float) -> tuple[float, bool]:
    if last_seen is None:
        return now, False
    if isinstance(last_seen, bool):
        raise PayloadError("bad_type", "last_seen must be epoch milliseconds or ISO 8601")
    if isinstance(last_seen, (int, float)):
        ms = _finite(last_seen)
        if ms is not None and ms > 0:
            return ms / 1000.0, True
    if isinstance(last_seen, str):
        try:
            return datetime.fromisoformat(last_seen).timestamp(), True
        except (ValueError, OverflowError, OSError):
            pass  # not ISO 8601, or a date the platform's time functions cannot place
    raise PayloadError("bad_type", f"last_seen {_short(last_seen)} is not epoch ms or ISO 8601")


def _finite(number: int | float) -> float | None:
    """``number`` as a float; ``None`` when it is infinite, NaN or too big for a float."""
    try:
        value = float(number)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def _field_value(name: str, raw: object) -> float | None:
    kind = type(raw)
    if (kind is float or kind is int) and name not in _BINARY_FIELDS:
        # The common case first: a plain number in a numeric field.
        value = _finite(raw)  # type: ignore[arg-type]
        if value is None:
            raise PayloadError("not_finite", f"{name} is {_short(raw)}")
        return value
    if name in _BINARY_FIELDS:
        if isinstance(raw, bool):
            return 1.0 if raw else 0.0
        if isinstance(raw, str) and raw.upper() in _ON_OFF:
            return _ON_OFF[raw.upper()]
        raise PayloadError("bad_type", f"{name} must be a boolean or ON/OFF, got {raw!r}")
    if name in KNOWN_FIELDS:
        raise PayloadError("bad_type", f"{name} must be a number, got {_short(raw)}")
    return None


def _short(raw: object) -> str:
    """``repr`` for error messages, cut short: a payload can hold anything."""
    text = repr(raw)
    return text if len(text) <= 80 else text[:77] + "..."
