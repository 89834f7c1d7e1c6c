"""Zigbee2MQTT payload parsing: good messages become readings, bad ones a clear reason."""

from __future__ import annotations

import asyncio
import json
import math

import aiomqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.clock import SimClock
from agent.ingest.counters import IngestCounters
from agent.ingest.item import IngestItem
from agent.ingest.zigbee import (
    PayloadError,
    _parse_json_object,
    classify_topic,
    parse_availability,
    parse_state,
)
from agent.ingest.zigbee_listener import ZigbeeListener


def test_state_message_becomes_readings_with_units_and_device_time() -> None:
    payload = json.dumps(
        {"local_temperature": 21.5, "occupied_heating_setpoint": 21, "system_mode": "heat",
         "linkquality": 120, "last_seen": 1767571500000}
    ).encode()
    msg = parse_state("room01_thermostat", payload, now=1.0)
    by_channel = {r.channel: r for r in msg.readings}
    assert set(by_channel) == {"local_temperature", "occupied_heating_setpoint", "linkquality"}
    assert by_channel["local_temperature"].value == 21.5
    assert by_channel["local_temperature"].unit == "°C"
    assert all(r.ts == 1767571500.0 and r.source == "zigbee" for r in msg.readings)
    assert msg.has_device_time


def test_without_last_seen_the_gateway_clock_stamps_the_reading() -> None:
    msg = parse_state("plug", b'{"power": 12.5, "state": "ON"}', now=42.0)
    assert {(r.channel, r.value, r.ts) for r in msg.readings} == {("power", 12.5, 42.0), ("state", 1.0, 42.0)}
    assert not msg.has_device_time


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "bad_json"),
        (b"[1, 2]", "not_an_object"),
        (b"\xff\xfe", "bad_utf8"),
        (b'{"temperature": "warm"}', "bad_type"),
        (b'{"temperature": true}', "bad_type"),
        (b'{"temperature": NaN}', "not_finite"),
        (b'{"state": 3}', "bad_type"),
        (b'{"temperature": 20, "last_seen": "yesterday"}', "bad_type"),
    ],
)
def test_malformed_or_wrong_typed_payloads_are_rejected_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_state("dev", payload, now=0.0)
    assert info.value.reason == reason


@given(st.binary(max_size=200))
def test_parser_raises_only_payload_error_on_arbitrary_bytes(payload: bytes) -> None:
    try:
        parse_state("dev", payload, now=0.0)
    except PayloadError:
        pass


@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=10))
def test_parser_never_crashes_on_arbitrary_json(value: object) -> None:
    try:
        msg = parse_state("dev", json.dumps(value).encode(), now=5.0)
    except PayloadError:
        return
    assert all(r.value == r.value for r in msg.readings)  # no NaN ever gets through


def test_topics_are_classified_like_zigbee2mqtt() -> None:
    assert classify_topic("zigbee2mqtt/room01_plug", "zigbee2mqtt") == ("state", "room01_plug")
    assert classify_topic("zigbee2mqtt/room01_plug/availability", "zigbee2mqtt") == ("availability", "room01_plug")
    assert classify_topic("zigbee2mqtt/room01_plug/set", "zigbee2mqtt") is None
    assert classify_topic("zigbee2mqtt/bridge/state", "zigbee2mqtt") is None
    assert classify_topic("other/room01_plug", "zigbee2mqtt") is None


def test_availability_accepts_json_and_legacy_payloads() -> None:
    assert parse_availability("d", b'{"state":"online"}').online
    assert not parse_availability("d", b"offline").online
    with pytest.raises(PayloadError):
        parse_availability("d", b'{"state":"maybe"}')


def test_listener_counts_rejects_and_drops_redelivered_messages() -> None:
    items: list[IngestItem] = []
    counters = IngestCounters()
    listener = ZigbeeListener("zigbee2mqtt", SimClock(0.0), counters, items.append)
    good = b'{"temperature": 20.0, "last_seen": 1000}'
    listener.handle("zigbee2mqtt/t1", good)
    listener.handle("zigbee2mqtt/t1", good)  # QoS 1 redelivery
    listener.handle("zigbee2mqtt/t1", b"garbage")
    listener.handle("zigbee2mqtt/t1", b'{"temperature": 21.0, "last_seen": 2000}')
    assert [r.value for item in items for r in item.readings] == [20.0, 21.0]
    assert counters.mqtt_messages_received == 4
    assert counters.mqtt_messages_rejected == 1
    assert counters.mqtt_reject_reasons == {"bad_json": 1}
    assert counters.mqtt_duplicates == 1


@pytest.mark.parametrize(
    "payload",
    [
        b'{"power": 1' + b"0" * 400 + b"}",  # an integer too large for a float
        b'{"last_seen": 1' + b"0" * 400 + b"}",
        b'{"power": ' + b"9" * 5000 + b"}",  # beyond Python's int-string limit
        b"[" * 100_000 + b"]" * 100_000,  # nesting deeper than the recursion limit
    ],
)
def test_hostile_json_is_rejected_not_raised(payload: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_state("plug", payload, now=1.0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from(["temperature", "state", "last_seen", "power", "x"]) | st.text(max_size=8),
                       json_values, max_size=6))
def test_any_json_object_gives_readings_or_a_payload_error(obj: dict[str, object]) -> None:
    payload = json.dumps(obj).encode()
    try:
        msg = parse_state("dev", payload, now=5.0)
    except PayloadError:
        return
    for r in msg.readings:
        assert isinstance(r.value, float) and math.isfinite(r.value)


@given(st.binary(max_size=300))
def test_listener_survives_any_bytes(payload: bytes) -> None:
    counters = IngestCounters()
    items: list[IngestItem] = []
    listener = ZigbeeListener("zigbee2mqtt", SimClock(0.0), counters, items.append)
    listener.handle("zigbee2mqtt/dev", payload)
    listener.handle("zigbee2mqtt/dev/availability", payload)
    assert counters.mqtt_messages_received == 2
    assert counters.mqtt_messages_rejected + len(items) == 2


json_like_text = st.one_of(
    st.text(max_size=40),
    st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                 max_leaves=8).map(json.dumps),
).flatmap(lambda text: st.sampled_from([text, "{" + text, text + " \n", text + "\u00a0", text + "x", "{}" + text]))


@settings(max_examples=300)
@given(json_like_text)
def test_the_native_scan_accepts_and_rejects_exactly_what_json_loads_does(text: str) -> None:
    try:
        expected: object = json.loads(text)
    except (ValueError, RecursionError):
        expected = "rejected"
    try:
        got: object = _parse_json_object(text)
    except PayloadError as exc:
        got = "rejected" if exc.reason == "bad_json" else "not an object"
    if isinstance(expected, dict):
        assert json.dumps(got) == json.dumps(expected)  # as text: NaN values compare unequal to themselves
    elif expected == "rejected":
        assert got == "rejected"
    else:
        assert got == "not an object"


@pytest.mark.asyncio
async def test_messages_of_one_read_are_handed_on_together_right_after_it() -> None:
    items: list[IngestItem] = []
    listener = ZigbeeListener("zigbee2mqtt", SimClock(0.0), IngestCounters(), items.append)
    for n in range(3):
        payload = json.dumps({"temperature": 20.0 + n, "last_seen": 1000 * (n + 1)}).encode()
        listener.handle_message(aiomqtt.Message("zigbee2mqtt/t1", payload, 1, False, n + 1, None))
    listener.handle_message(aiomqtt.Message("zigbee2mqtt/t1/availability", b"online", 1, False, 9, None))
    assert items == []  # still inside the read
    await asyncio.sleep(0)
    assert len(items) == 1
    assert [r.value for r in items[0].readings] == [20.0, 21.0, 22.0]
    assert items[0].events == [("availability", "t1", {"online": True})]
    listener.handle_message(aiomqtt.Message("zigbee2mqtt/t1", b'{"temperature": 30.0}', 1, False, 10, None))
    listener.flush()  # what the end of a session does: nothing parsed is left behind
    await asyncio.sleep(0)
    assert [r.value for r in items[1].readings] == [30.0] and len(items) == 2
