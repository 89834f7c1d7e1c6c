"""Malformed frames and payloads are counted and dropped; the agent carries on and
loses none of the good data around them."""

from __future__ import annotations

import random

import pytest

from agent.demo import DemoOptions, DemoSite
from agent.protocol import Frame, MessageType, Report, encode_frame, make_body, to_wire


def _valid_wire(node: int, seq: int) -> bytes:
    return encode_frame(Frame(MessageType.REPORT, node, seq, Report(1_767_571_200, ((1, 2100),))))


def _bad_frames() -> dict[str, bytes]:
    good = _valid_wire(99, 1)
    body = bytearray(make_body(1, 99, 2, bytes([0, 0, 0, 0, 1, 1, 0, 0, 0, 0])))
    body[7] ^= 0x10
    return {
        "crc": to_wire(bytes(body)),
        "short": to_wire(b"\x01\x01\x00"),
        "unknown_type": to_wire(make_body(0x7F, 99, 3, b"")),
        "version": to_wire(make_body(1, 99, 4, b"", version=9)),
        "bad_payload": to_wire(make_body(1, 99, 5, b"\x00\x00\x00\x00\x05")),
        "truncated": good[: len(good) // 2] + b"\x00",
    }


BAD_MQTT = {
    "bad_json": b"{not json",
    "not_an_object": b"[1, 2, 3]",
    "bad_type": b'{"local_temperature": "warm", "last_seen": 1767571200000}',
    "bad_utf8": b"\xff\xfe\x00",
}


@pytest.mark.asyncio
async def test_garbage_on_both_transports_is_counted_and_nothing_good_is_lost() -> None:
    rng = random.Random(7)
    async with DemoSite(DemoOptions(days=0.25, rooms=2, seed=9)) as site:
        await site.simulate(0.05)
        for wire in _bad_frames().values():
            await site.dongle.send_raw(wire)
        # Line noise without a delimiter swallows whatever frame follows it; the
        # dongle's retransmission must recover that frame.
        await site.dongle.send_raw(bytes(rng.randrange(1, 256) for _ in range(40)))
        await site.dongle.send_raw(bytes(rng.randrange(0, 256) for _ in range(3000)) + b"\x00")
        device = site.building.rooms[0].thermostat_name
        for payload in BAD_MQTT.values():
            await site.zigbee.publish_raw(f"zigbee2mqtt/{device}", payload)
        await site.zigbee.publish_raw(f"zigbee2mqtt/{device}/availability", b"maybe")
        await site.simulate(0.25)
        assert await site.settle()
        stats = site.agent.stats()
        stored = site.agent.store.count_readings()
        duplicates = site.agent.store.count_duplicate_readings()
        bogus_node = site.agent.store.readings(device="node-0099")

    frame_reasons = stats["frame_reject_reasons"]
    for reason in ("crc", "short", "unknown_type", "version", "bad_payload"):
        assert frame_reasons.get(reason, 0) >= 1, (reason, frame_reasons)
    assert stats["frames_rejected"] >= 7
    mqtt_reasons = stats["mqtt_reject_reasons"]
    for reason in ("bad_json", "not_an_object", "bad_type", "bad_utf8", "bad_availability"):
        assert mqtt_reasons.get(reason) == 1, (reason, mqtt_reasons)
    assert stats["mqtt_messages_rejected"] == 5
    assert stored == site.readings_emitted
    assert duplicates == 0
    assert not bogus_node
