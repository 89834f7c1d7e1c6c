"""docs/protocol.md is the contract with the firmware: its examples must be exact.

The doc is the source of truth; this test states the frames each example
describes and checks that the code produces, and accepts, exactly the bytes
the doc shows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.protocol import (
    Ack,
    Command,
    Frame,
    FrameStream,
    Heartbeat,
    MessageType,
    Report,
    decode_body,
    encode_frame,
)
from agent.protocol import cobs

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
BLOCK = re.compile(r"^```hex (body|wire):(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)

EXPECTED: dict[str, Frame] = {
    "report": Frame(
        MessageType.REPORT, node=3, seq=17,
        message=Report(1767571200, ((1, 2150), (2, 4525), (3, 3124), (4, 612), (5, 3), (6, 4187))),
    ),
    "command": Frame(MessageType.COMMAND, node=3, seq=5, message=Command(actuator=1, value=300)),
    "ack": Frame(MessageType.ACK, node=3, seq=6, message=Ack(acked_type=1, acked_seq=17, status=0)),
    "heartbeat": Frame(MessageType.HEARTBEAT, node=3, seq=18, message=Heartbeat(86400, -67, 3300)),
}


def doc_blocks() -> dict[tuple[str, str], bytes]:
    blocks = {}
    for kind, name, text in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        assert (kind, name) not in blocks, f"two {kind}:{name} blocks in the doc"
        blocks[(kind, name)] = bytes.fromhex(text)
    return blocks


def test_doc_has_a_body_and_wire_block_for_every_example_and_no_others() -> None:
    expected_keys = {(kind, name) for name in EXPECTED for kind in ("body", "wire")}
    assert set(doc_blocks()) == expected_keys


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_encoding_the_example_gives_the_documented_bytes(name: str) -> None:
    blocks = doc_blocks()
    wire = encode_frame(EXPECTED[name])
    assert wire == blocks[("wire", name)]
    assert cobs.decode(wire[:-1]) == blocks[("body", name)]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_decoding_the_documented_bytes_gives_the_example(name: str) -> None:
    blocks = doc_blocks()
    assert decode_body(blocks[("body", name)]) == EXPECTED[name]
    assert FrameStream().feed(blocks[("wire", name)]) == [EXPECTED[name]]


def test_documented_report_values() -> None:
    report = EXPECTED["report"].message
    assert isinstance(report, Report)
    assert report.values() == {
        "temperature": 21.5, "humidity": 45.25, "illuminance": 312.4,
        "co2": 612.0, "pir_count": 3.0, "supercap_voltage": 4.187,
    }
