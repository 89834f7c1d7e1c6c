"""The serial protocol: COBS, CRC, frame bodies and the stream splitter."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.protocol import (
    CHANNELS,
    Ack,
    CobsError,
    Command,
    Frame,
    FrameError,
    FrameStream,
    Heartbeat,
    MessageType,
    Report,
    crc16_ccitt_false,
    decode_body,
    encode_frame,
    make_body,
    report_from_values,
    to_wire,
)
from agent.protocol import cobs

U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)
I32 = st.integers(-(2**31), 2**31 - 1)
U8 = st.integers(0, 255)


# ---------------------------------------------------------------- CRC


def test_crc_check_value() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1


def test_crc_of_nothing_is_the_init_value() -> None:
    assert crc16_ccitt_false(b"") == 0xFFFF


@given(st.binary(max_size=128))
def test_crc_appended_big_endian_leaves_zero_residue(data: bytes) -> None:
    # The defining property of a non-reflected CRC with xorout 0; a table or
    # shift slip breaks it for almost every input.
    assert crc16_ccitt_false(data + crc16_ccitt_false(data).to_bytes(2, "big")) == 0


# ---------------------------------------------------------------- COBS


COBS_VECTORS = [
    (b"", b"\x01"),
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (bytes.fromhex("001100"), bytes.fromhex("01021101")),
    (bytes.fromhex("11220033"), bytes.fromhex("0311220233")),
    (bytes.fromhex("11223344"), bytes.fromhex("0511223344")),
    (bytes.fromhex("11000000"), bytes.fromhex("0211010101")),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    (bytes(range(2, 256)) + b"\x00", b"\xff" + bytes(range(2, 256)) + b"\x01\x01"),
    (bytes(range(3, 256)) + b"\x00\x01", b"\xfe" + bytes(range(3, 256)) + b"\x02\x01"),
]


@pytest.mark.parametrize(("raw", "encoded"), COBS_VECTORS)
def test_cobs_known_vectors(raw: bytes, encoded: bytes) -> None:
    assert cobs.encode(raw) == encoded
    assert cobs.decode(encoded) == raw


@given(st.binary(max_size=1200))
def test_cobs_round_trip_without_zeros(data: bytes) -> None:
    encoded = cobs.encode(data)
    assert 0 not in encoded
    assert len(encoded) <= len(data) + len(data) // 254 + 1
    assert cobs.decode(encoded) == data


@pytest.mark.parametrize("bad", [b"", b"\x00", b"\x03\x11", b"\x02\x00", b"\x05\x11\x00\x22\x33"])
def test_cobs_rejects_malformed_input(bad: bytes) -> None:
    with pytest.raises(CobsError):
        cobs.decode(bad)


@given(st.binary(max_size=300))
def test_cobs_decode_only_raises_cobs_error(data: bytes) -> None:
    try:
        cobs.decode(data)
    except CobsError:
        pass


# ---------------------------------------------------------------- frames

reports = st.builds(
    Report,
    U32,
    st.lists(st.tuples(U8, I32), max_size=48, unique_by=lambda item: item[0]).map(tuple),
)
commands = st.builds(Command, U8, I32)
acks = st.builds(Ack, st.sampled_from(list(MessageType)).map(int), U16, st.sampled_from([0, 1]))
heartbeats = st.builds(Heartbeat, U32, st.integers(-128, 127), U16)
messages = st.one_of(reports, commands, acks, heartbeats)
TYPE_OF = {Report: MessageType.REPORT, Command: MessageType.COMMAND, Ack: MessageType.ACK, Heartbeat: MessageType.HEARTBEAT}


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    message = draw(messages)
    return Frame(TYPE_OF[type(message)], draw(U16), draw(U16), message)


def body_of(frame: Frame) -> bytes:
    return cobs.decode(encode_frame(frame)[:-1])


@given(frames())
def test_frame_round_trip(frame: Frame) -> None:
    wire = encode_frame(frame)
    assert wire.endswith(b"\x00") and 0 not in wire[:-1]
    assert decode_body(cobs.decode(wire[:-1])) == frame


@given(frames(), st.data())
def test_any_flipped_bit_is_rejected(frame: Frame, data: st.DataObject) -> None:
    body = bytearray(body_of(frame))
    bit = data.draw(st.integers(0, len(body) * 8 - 1))
    body[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(FrameError) as info:
        decode_body(bytes(body))
    assert info.value.reason == "crc"


@given(frames(), st.data())
def test_any_two_flipped_bits_are_rejected(frame: Frame, data: st.DataObject) -> None:
    body = bytearray(body_of(frame))
    bits = data.draw(st.lists(st.integers(0, len(body) * 8 - 1), min_size=2, max_size=2, unique=True))
    for bit in bits:
        body[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(FrameError):
        decode_body(bytes(body))


def test_report_values_use_the_channel_scales() -> None:
    values = {"temperature": 21.37, "humidity": 48.5, "illuminance": 512.3, "co2": 640.0,
              "pir_count": 4.0, "supercap_voltage": 3.912}
    report = report_from_values(1767571200, values)
    assert dict(report.channels) == {1: 2137, 2: 4850, 3: 5123, 4: 640, 5: 4, 6: 3912}
    assert report.values() == values
    assert report.unknown_channels() == []


@given(st.floats(-40, 85).map(lambda v: round(v, 2)))
def test_temperature_survives_the_wire_exactly_at_its_resolution(celsius: float) -> None:
    report = report_from_values(0, {"temperature": celsius})
    frame = Frame(MessageType.REPORT, 1, 1, report)
    assert decode_body(body_of(frame)).message.values()["temperature"] == celsius


def test_unknown_channel_is_kept_not_rejected() -> None:
    report = Report(10, ((1, 2000), (42, 7)))
    decoded = decode_body(body_of(Frame(MessageType.REPORT, 5, 9, report))).message
    assert decoded == report
    assert decoded.values() == {"temperature": 20.0}
    assert decoded.unknown_channels() == [42]


@pytest.mark.parametrize("values", [
    {"temperature": 3e7}, {"co2": -(2.0**31) - 1}, {"humidity": float("nan")}, {"wind": 3.0},
])
def test_report_from_values_rejects_what_cannot_be_sent(values: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        report_from_values(0, values)


def test_encode_rejects_mismatched_type_and_out_of_range_fields() -> None:
    with pytest.raises(ValueError):
        encode_frame(Frame(MessageType.ACK, 1, 1, Command(1, 2)))
    with pytest.raises(ValueError):
        encode_frame(Frame(MessageType.COMMAND, 70000, 1, Command(1, 2)))
    with pytest.raises(ValueError):
        encode_frame(Frame(MessageType.HEARTBEAT, 1, 1, Heartbeat(1, -200, 3300)))


def test_channel_table_matches_the_spec() -> None:
    assert {cid: (c.name, c.scale) for cid, c in CHANNELS.items()} == {
        1: ("temperature", 0.01), 2: ("humidity", 0.01), 3: ("illuminance", 0.1),
        4: ("co2", 1.0), 5: ("pir_count", 1.0), 6: ("supercap_voltage", 0.001),
    }


def _reason(body: bytes) -> str:
    with pytest.raises(FrameError) as info:
        decode_body(body)
    return info.value.reason


def test_decode_reasons() -> None:
    good_payload = struct.pack("<Bi", 1, 60)
    assert _reason(b"") == "short"
    assert _reason(make_body(2, 1, 1, b"")[:7]) == "short"
    bad_crc = bytearray(make_body(2, 1, 1, good_payload))
    bad_crc[-1] ^= 0xFF
    assert _reason(bytes(bad_crc)) == "crc"
    assert _reason(make_body(2, 1, 1, good_payload, version=2)) == "version"
    assert _reason(make_body(0x7F, 1, 1, good_payload)) == "unknown_type"
    assert _reason(make_body(2, 1, 1, good_payload + b"\x01")) == "bad_payload"
    assert _reason(make_body(3, 1, 1, struct.pack("<BHB", 1, 5, 9))) == "bad_payload"
    assert _reason(make_body(1, 1, 1, struct.pack("<IB", 0, 2) + struct.pack("<Bi", 1, 1))) == "bad_payload"
    assert _reason(make_body(1, 1, 1, struct.pack("<IB", 0, 2) + struct.pack("<BiBi", 1, 1, 1, 2))) == "bad_payload"
    assert _reason(make_body(2, 1, 1, bytes(300))) == "oversize"


# ---------------------------------------------------------------- stream


@given(st.lists(frames(), max_size=8), st.data())
def test_stream_yields_same_frames_however_the_bytes_are_chunked(sent: list[Frame], data: st.DataObject) -> None:
    wire = b"".join(encode_frame(f) for f in sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=20)))
    stream = FrameStream()
    got: list[Frame] = []
    for a, b in zip([0, *cuts], [*cuts, len(wire)]):
        got += stream.feed(wire[a:b])
    assert got == sent
    assert stream.received == len(sent) and stream.rejected_total == 0
    assert stream.buffered == 0


@given(st.lists(st.binary(max_size=400), max_size=10))
def test_stream_never_raises_and_buffers_at_most_one_frame(chunks: list[bytes]) -> None:
    stream = FrameStream()
    for chunk in chunks:
        stream.feed(chunk)
        assert stream.buffered <= 258


@given(st.binary(max_size=300), frames())
def test_frames_after_garbage_still_decode(garbage: bytes, frame: Frame) -> None:
    stream = FrameStream()
    stream.feed(garbage + b"\x00")
    assert stream.feed(encode_frame(frame)) == [frame]


def test_rejections_are_counted_by_reason() -> None:
    good = Frame(MessageType.COMMAND, 2, 7, Command(1, 300))
    wire = encode_frame(good)
    bad_crc = bytearray(body_of(good))
    bad_crc[3] ^= 0x10
    stream = FrameStream()
    out = stream.feed(
        wire[:5] + b"\x00"                         # truncated mid COBS block
        + to_wire(b"\x01\x01\x02")                  # too short to hold header + crc
        + b"\x00\x00"                              # idle delimiters: not errors
        + to_wire(make_body(0x09, 2, 8, b"x"))     # a type this agent does not know
        + to_wire(bytes(bad_crc))
        + b"\xff" * 600 + b"\x00"                  # a long run without delimiter
        + b"\x02\x00"                              # COBS says 1 byte follows, none do
        + wire
    )
    assert out == [good]
    assert stream.received == 1
    assert stream.rejected == {"short": 1, "unknown_type": 1, "crc": 1, "oversize": 1, "cobs": 2}
    assert stream.rejected_total == 6


def test_truncated_frame_then_valid_frame() -> None:
    first = encode_frame(Frame(MessageType.HEARTBEAT, 4, 1, Heartbeat(100, -70, 3300)))
    second = Frame(MessageType.HEARTBEAT, 4, 2, Heartbeat(160, -71, 3290))
    stream = FrameStream()
    assert stream.feed(first[: len(first) // 2] + encode_frame(second)) == []
    # The cut frame swallowed the next one's bytes up to its delimiter: one loss.
    assert stream.rejected_total == 1
    assert stream.feed(encode_frame(second)) == [second]


def test_oversize_run_is_counted_once_and_not_buffered() -> None:
    stream = FrameStream(max_body=32)
    for _ in range(100):
        stream.feed(b"\x11" * 1000)
        assert stream.buffered <= 34
    assert stream.feed(b"\x00") == []
    assert stream.rejected == {"oversize": 1}


def test_body_longer_than_max_is_oversize() -> None:
    stream = FrameStream(max_body=16)
    report = Report(1, ((1, 1), (2, 2)))
    assert stream.feed(encode_frame(Frame(MessageType.REPORT, 1, 1, report))) == []
    assert stream.rejected == {"oversize": 1}


@given(st.integers(1, 1), st.integers(1, 5), U16, U16, st.binary(max_size=60))
def test_decode_of_any_checksummed_body_returns_a_frame_or_a_frame_error(
    version: int, type_id: int, node: int, seq: int, payload: bytes
) -> None:
    # A valid CRC gets random payloads past the checksum into the parsers.
    body = make_body(type_id, node, seq, payload, version=version)
    try:
        frame = decode_body(body)
    except FrameError as exc:
        assert exc.reason in {"unknown_type", "bad_payload"}
    else:
        assert body_of(frame) == body
