"""The serial protocol between the gateway and its radio dongle.

COBS-framed bodies with a small header and a CRC; see ``docs/protocol.md`` for
the wire format and the reliability rules.
"""

from agent.protocol.cobs import CobsError
from agent.protocol.crc import crc16_ccitt_false
from agent.protocol.frames import (
    CHANNEL_IDS,
    CHANNELS,
    MAX_BODY,
    REASONS,
    Ack,
    AckStatus,
    Actuator,
    Channel,
    Command,
    Frame,
    FrameError,
    Heartbeat,
    Message,
    MessageType,
    Report,
    decode_body,
    decode_wire,
    encode_frame,
    make_body,
    report_from_values,
    to_wire,
)
from agent.protocol.stream import FrameStream

__all__ = [
    "CHANNEL_IDS",
    "CHANNELS",
    "MAX_BODY",
    "REASONS",
    "Ack",
    "AckStatus",
    "Actuator",
    "Channel",
    "CobsError",
    "Command",
    "Frame",
    "FrameError",
    "FrameStream",
    "Heartbeat",
    "Message",
    "MessageType",
    "Report",
    "crc16_ccitt_false",
    "decode_body",
    "decode_wire",
    "encode_frame",
    "make_body",
    "report_from_values",
    "to_wire",
]
