"""Serial frames → ingest items: readings, duplicates, unknown channels, rejects."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.clock import SimClock
from agent.config.schema import SerialPortConfig
from agent.ingest.counters import IngestCounters
from agent.ingest.dedupe import SequenceDeduper
from agent.ingest.item import IngestItem
from agent.ingest.serial_listener import SerialListener
from agent.protocol import Frame, Heartbeat, MessageType, Report, encode_frame, report_from_values, to_wire


@dataclass
class Status:
    serial_open: dict[str, bool] = field(default_factory=dict)


def _listener() -> tuple[SerialListener, IngestCounters, list[IngestItem]]:
    counters = IngestCounters()
    items: list[IngestItem] = []
    cfg = SerialPortConfig(name="d", port="/dev/null")
    return SerialListener(cfg, SimClock(0.0), counters, SequenceDeduper(), items.append, Status()), counters, items


def _report(node: int, seq: int, ts: int, **values: float) -> bytes:
    return encode_frame(Frame(MessageType.REPORT, node, seq, report_from_values(ts, values)))


def test_report_becomes_readings_of_its_node_with_units_and_event_time() -> None:
    listener, counters, items = _listener()
    listener.feed(_report(3, 17, 1_767_571_200, temperature=21.37, co2=612))
    assert len(items) == 1
    got = {(r.device, r.channel, r.ts, r.value, r.unit, r.seq) for r in items[0].readings}
    assert got == {
        ("node-0003", "temperature", 1_767_571_200.0, 21.37, "°C", 17),
        ("node-0003", "co2", 1_767_571_200.0, 612.0, "ppm", 17),
    }
    assert counters.frames_received == 1 and counters.readings_accepted == 2


def test_retransmitted_report_is_not_stored_twice_but_still_acked() -> None:
    listener, counters, items = _listener()
    frame = _report(1, 5, 100, temperature=20.0)
    listener.feed(frame + frame)
    assert [len(i.readings) for i in items] == [1, 0]
    assert counters.serial_duplicates == 1
    assert items[1].on_durable is not None  # the dongle gets its ack after the original is committed


def test_rejects_are_counted_by_reason_across_feeds_and_good_frames_survive() -> None:
    listener, counters, items = _listener()
    bad = bytearray(_report(2, 1, 100, temperature=20.0))
    bad[4] ^= 0xFF
    listener.feed(bytes(bad) + b"\x01\x02")
    listener.feed(b"\x03\x00" + _report(2, 2, 160, temperature=20.5))
    listener.feed(to_wire(b"\x01\x09\x02\x00\x01\x00"))
    assert counters.frames_rejected == 3
    assert sum(counters.frame_reject_reasons.values()) == 3
    assert [r.value for i in items for r in i.readings] == [20.5]


def test_unknown_channels_are_counted_and_heartbeats_store_nothing() -> None:
    listener, counters, items = _listener()
    report = Report(100, ((1, 2000), (42, 7)))
    listener.feed(encode_frame(Frame(MessageType.REPORT, 1, 1, report)))
    listener.feed(encode_frame(Frame(MessageType.HEARTBEAT, 1, 2, Heartbeat(60, -70, 3300))))
    assert counters.unknown_channels == 1 and counters.heartbeats == 1
    assert [(r.channel, r.value) for i in items for r in i.readings] == [("temperature", 20.0)]
