"""Frames exchanged with the radio dongle: typed messages to and from body bytes.

A body is a 6-byte little-endian header (version, type, node id, seq), a
type-specific payload and a big-endian CRC-16/CCITT-FALSE over both.  On the
wire each body is COBS-encoded and followed by one 0x00 byte (see
``docs/protocol.md``).  Decoding never trusts its input: anything malformed
raises :class:`FrameError` whose ``reason`` is a short key the agent counts.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from agent.protocol import cobs
from agent.protocol.crc import crc16_ccitt_false

VERSION = 1
HEADER = struct.Struct("<BBHH")
CRC_SIZE = 2
MIN_BODY = HEADER.size + CRC_SIZE
MAX_BODY = 256
"""Largest body (header + payload + crc) a receiver accepts."""

_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1

_REPORT_HEAD = struct.Struct("<IB")
_REPORT_ITEM = struct.Struct("<Bi")
_COMMAND = struct.Struct("<Bi")
_ACK = struct.Struct("<BHB")
_HEARTBEAT = struct.Struct("<IbH")

REASONS = ("cobs", "short", "crc", "version", "unknown_type", "bad_payload", "oversize")
"""Every ``FrameError.reason``, so counters can be pre-declared."""


class MessageType(IntEnum):
    REPORT = 0x01
    COMMAND = 0x02
    ACK = 0x03
    HEARTBEAT = 0x04


class Channel(NamedTuple):
    """A report channel: wire value × ``scale`` = value in ``unit``."""

    name: str
    unit: str
    scale: float
    per_unit: int
    """1 / scale as an integer; dividing by it gives the nearest float exactly."""


CHANNELS: dict[int, Channel] = {
    1: Channel("temperature", "°C", 0.01, 100),
    2: Channel("humidity", "%RH", 0.01, 100),
    3: Channel("illuminance", "lx", 0.1, 10),
    4: Channel("co2", "ppm", 1.0, 1),
    5: Channel("pir_count", "count", 1.0, 1),
    6: Channel("supercap_voltage", "V", 0.001, 1000),
}
CHANNEL_IDS: dict[str, int] = {c.name: cid for cid, c in CHANNELS.items()}


class Actuator(IntEnum):
    """What a COMMAND sets on a node."""

    REPORT_INTERVAL_S = 1
    PIR_ENABLE = 2


class AckStatus(IntEnum):
    OK = 0
    REJECTED = 1


class FrameError(ValueError):
    """A body that must not be used; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Report:
    """Sensor values of one node at one time, as (channel id, scaled int) pairs."""

    ts: int
    channels: tuple[tuple[int, int], ...]

    def values(self) -> dict[str, float]:
        """Values of the channels this agent knows, by name, in their units."""
        out: dict[str, float] = {}
        for cid, raw in self.channels:
            channel = CHANNELS.get(cid)
            if channel is not None:
                out[channel.name] = raw / channel.per_unit
        return out

    def unknown_channels(self) -> list[int]:
        """Channel ids newer firmware sent that this agent cannot interpret."""
        return [cid for cid, _ in self.channels if cid not in CHANNELS]


@dataclass(frozen=True, slots=True)
class Command:
    actuator: int
    value: int


@dataclass(frozen=True, slots=True)
class Ack:
    acked_type: int
    acked_seq: int
    status: int = AckStatus.OK


@dataclass(frozen=True, slots=True)
class Heartbeat:
    uptime_s: int
    rssi_dbm: int
    supply_mv: int


Message = Report | Command | Ack | Heartbeat

_MESSAGE_TYPES: dict[type, MessageType] = {
    Report: MessageType.REPORT,
    Command: MessageType.COMMAND,
    Ack: MessageType.ACK,
    Heartbeat: MessageType.HEARTBEAT,
}


@dataclass(frozen=True, slots=True)
class Frame:
    type: MessageType
    node: int
    seq: int
    message: Message
    version: int = VERSION


def report_from_values(ts: int, values: Mapping[str, float]) -> Report:
    """A report carrying ``values`` (by channel name), scaled and rounded to the wire."""
    items = []
    for name, value in values.items():
        cid = CHANNEL_IDS.get(name)
        if cid is None:
            raise ValueError(f"unknown channel {name!r}")
        if not math.isfinite(value):
            raise ValueError(f"{name} is not a finite number: {value!r}")
        raw = round(value * CHANNELS[cid].per_unit)
        if not _I32_MIN <= raw <= _I32_MAX:
            raise ValueError(f"{name}={value} does not fit the wire format")
        items.append((cid, raw))
    return Report(int(ts), tuple(items))


# ---------------------------------------------------------------- encoding


def make_body(type_id: int, node: int, seq: int, payload: bytes, *, version: int = VERSION) -> bytes:
    """Header + payload + crc, for any type id (tests and fault injection use odd ones)."""
    try:
        head = HEADER.pack(version, type_id, node, seq)
    except struct.error as exc:
        raise ValueError(f"header field out of range: {exc}") from None
    data = head + payload
    return data + crc16_ccitt_false(data).to_bytes(2, "big")


def to_wire(body: bytes) -> bytes:
    """COBS-encode a body and append the 0x00 delimiter."""
    return cobs.encode(body) + b"\x00"


def encode_payload(message: Message) -> bytes:
    """The payload bytes of a message; ValueError if a field does not fit."""
    try:
        if isinstance(message, Report):
            if len({cid for cid, _ in message.channels}) != len(message.channels):
                raise ValueError("a report cannot repeat a channel")
            parts = [_REPORT_HEAD.pack(message.ts, len(message.channels))]
            parts += [_REPORT_ITEM.pack(cid, raw) for cid, raw in message.channels]
            return b"".join(parts)
        if isinstance(message, Command):
            return _COMMAND.pack(message.actuator, message.value)
        if isinstance(message, Ack):
            return _ACK.pack(message.acked_type, message.acked_seq, message.status)
        if isinstance(message, Heartbeat):
            return _HEARTBEAT.pack(message.uptime_s, message.rssi_dbm, message.supply_mv)
    except struct.error as exc:
        raise ValueError(f"{type(message).__name__} field out of range: {exc}") from None
    raise TypeError(f"not a message: {message!r}")


def encode_frame(frame: Frame) -> bytes:
    """Wire bytes of a frame, including the trailing 0x00 delimiter."""
    expected = _MESSAGE_TYPES.get(type(frame.message))
    if expected != frame.type:
        raise ValueError(f"frame type {frame.type!r} does not match {type(frame.message).__name__}")
    body = make_body(frame.type, frame.node, frame.seq, encode_payload(frame.message), version=frame.version)
    if len(body) > MAX_BODY:
        raise ValueError(f"body of {len(body)} bytes exceeds {MAX_BODY}")
    return to_wire(body)


# ---------------------------------------------------------------- decoding


def decode_body(body: bytes, *, max_body: int = MAX_BODY) -> Frame:
    """The frame in an un-COBSed body; raises :class:`FrameError`.

    Length is checked before anything else, so an oversized body costs no CRC.
    """
    if len(body) > max_body:
        raise FrameError("oversize", f"{len(body)} bytes > {max_body}")
    if len(body) < MIN_BODY:
        raise FrameError("short", f"{len(body)} bytes < {MIN_BODY}")
    data, sent = body[:-CRC_SIZE], int.from_bytes(body[-CRC_SIZE:], "big")
    actual = crc16_ccitt_false(data)
    if actual != sent:
        raise FrameError("crc", f"crc {sent:04x} != computed {actual:04x}")
    version, type_id, node, seq = HEADER.unpack_from(data)
    if version != VERSION:
        raise FrameError("version", f"version {version}")
    try:
        mtype = MessageType(type_id)
    except ValueError:
        raise FrameError("unknown_type", f"type 0x{type_id:02x}") from None
    message = _decode_payload(mtype, data[HEADER.size:])
    return Frame(mtype, node, seq, message, version)


def decode_wire(chunk: bytes, *, max_body: int = MAX_BODY) -> Frame:
    """Decode one COBS-encoded frame (without its delimiter)."""
    try:
        body = cobs.decode(chunk)
    except cobs.CobsError as exc:
        raise FrameError("cobs", str(exc)) from None
    return decode_body(body, max_body=max_body)


def _decode_payload(mtype: MessageType, payload: bytes) -> Message:
    if mtype is MessageType.REPORT:
        return _decode_report(payload)
    if mtype is MessageType.COMMAND:
        return Command(*_exact(_COMMAND, payload, "command"))
    if mtype is MessageType.ACK:
        acked_type, acked_seq, status = _exact(_ACK, payload, "ack")
        if status not in (AckStatus.OK, AckStatus.REJECTED):
            raise FrameError("bad_payload", f"ack status {status}")
        return Ack(acked_type, acked_seq, status)
    return Heartbeat(*_exact(_HEARTBEAT, payload, "heartbeat"))


def _exact(layout: struct.Struct, payload: bytes, what: str) -> tuple[int, ...]:
    if len(payload) != layout.size:
        raise FrameError("bad_payload", f"{what} payload is {len(payload)} bytes, not {layout.size}")
    return layout.unpack(payload)


def _decode_report(payload: bytes) -> Report:
    if len(payload) < _REPORT_HEAD.size:
        raise FrameError("bad_payload", f"report payload is {len(payload)} bytes")
    ts, count = _REPORT_HEAD.unpack_from(payload)
    expected = _REPORT_HEAD.size + count * _REPORT_ITEM.size
    if len(payload) != expected:
        raise FrameError("bad_payload", f"report of {count} channels needs {expected} bytes, got {len(payload)}")
    channels = tuple(_REPORT_ITEM.iter_unpack(payload[_REPORT_HEAD.size:]))
    if len({cid for cid, _ in channels}) != count:
        raise FrameError("bad_payload", "report repeats a channel")
    return Report(ts, channels)
