"""The simulated Zigbee2MQTT devices on a real mosquitto, read with the agent's own parser."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator

import aiomqtt
import pytest
import pytest_asyncio

from agent.ingest.zigbee import classify_topic, parse_availability, parse_state
from firmware_sim.broker import Mosquitto
from firmware_sim.building import Building
from firmware_sim.zigbee_devices import ZigbeeNetwork, room_devices

MONDAY = 1767571200.0
BASE = "zigbee2mqtt"


async def next_message(client: aiomqtt.Client) -> aiomqtt.Message:
    """The next delivered message; the wait only guards against a hang."""
    return await asyncio.wait_for(anext(aiter(client.messages)), timeout=10)


async def next_state(client: aiomqtt.Client, device: str) -> dict[str, object]:
    """Skip other traffic until ``device`` publishes a state message."""
    while True:
        message = await next_message(client)
        if message.topic.value == f"{BASE}/{device}":
            return json.loads(bytes(message.payload))  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def watcher(broker: Mosquitto) -> AsyncIterator[aiomqtt.Client]:
    """A client subscribed to everything the bridge publishes, as the agent would be."""
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(f"{BASE}/#", qos=1)
        yield client


def make_building(t: float = MONDAY + 10 * 3600, rooms: int = 2) -> Building:
    building = Building(rooms, seed=3, start=MONDAY)
    building.step(MONDAY)
    building.step(t)
    return building


def network(building: Building, broker: Mosquitto) -> ZigbeeNetwork:
    return ZigbeeNetwork(building, broker.host, broker.port, rng=random.Random(1))


@pytest.mark.asyncio
async def test_availability_is_retained_online_and_goes_offline_on_a_clean_exit(broker: Mosquitto) -> None:
    building = make_building()
    names = {name for room in building.rooms for name, _ in room_devices(room)}
    assert len(names) == 4 * len(building.rooms)
    async with network(building, broker):
        async with aiomqtt.Client(broker.host, broker.port) as late:
            await late.subscribe(f"{BASE}/+/availability", qos=1)
            await late.subscribe(f"{BASE}/bridge/state", qos=1)
            seen = {}
            while len(seen) < len(names) + 1:
                message = await next_message(late)
                assert message.retain
                seen[message.topic.value] = bytes(message.payload)  # type: ignore[arg-type]
    assert json.loads(seen[f"{BASE}/bridge/state"]) == {"state": "online"}
    for name in names:
        assert parse_availability(name, seen[f"{BASE}/{name}/availability"]).online
    async with aiomqtt.Client(broker.host, broker.port) as after:
        await after.subscribe(f"{BASE}/+/availability", qos=1)
        for _ in names:
            message = await next_message(after)
            _, device = classify_topic(message.topic.value, BASE) or ("", "")
            assert not parse_availability(device, bytes(message.payload)).online  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_state_messages_hold_exactly_the_readings_publish_states_counts(
    broker: Mosquitto, watcher: aiomqtt.Client
) -> None:
    building = make_building(rooms=3)
    t = building.time
    async with network(building, broker) as zigbee:
        expected = await zigbee.publish_states(t)
        states = {}
        while len(states) < 4 * len(building.rooms):
            message = await next_message(watcher)
            kind_device = classify_topic(message.topic.value, BASE)
            if kind_device and kind_device[0] == "state":
                states[kind_device[1]] = parse_state(kind_device[1], bytes(message.payload), now=0.0)  # type: ignore[arg-type]
    # thermostat 3 + plug 4 + ventilation 2 + light 4 readings per room
    assert expected == sum(len(s.readings) for s in states.values()) == 13 * len(building.rooms)
    assert all(s.ts == t and s.has_device_time for s in states.values())
    for room in building.rooms:
        thermostat = {r.channel: r.value for r in states[room.thermostat_name].readings}
        plug = {r.channel: r.value for r in states[room.plug_name].readings}
        assert thermostat["local_temperature"] == pytest.approx(room.temperature, abs=0.3)
        assert thermostat["occupied_heating_setpoint"] == room.setpoint
        assert plug["state"] == 1.0
        assert plug["energy"] == pytest.approx(room.hvac_energy_kwh, abs=0.001)
        assert plug["power"] > 1000.0 if room.hvac_on else plug["power"] < 1.0
        ventilation = {r.channel: r.value for r in states[room.ventilation_name].readings}
        light = {r.channel: r.value for r in states[room.light_name].readings}
        assert ventilation["state"] == 1.0  # Monday 10:00: the programme ventilates
        assert light["state"] == float(room.lights_on)
        assert light["energy"] == pytest.approx(room.lighting_energy_kwh, abs=0.001)


@pytest.mark.asyncio
async def test_ventilation_holds_off_until_the_programme_switch_or_auto(
    broker: Mosquitto, watcher: aiomqtt.Client
) -> None:
    building = make_building()
    room = building.rooms[0]
    async with network(building, broker) as zigbee:
        await zigbee.publish_raw(f"{BASE}/{room.ventilation_name}/set", json.dumps({"state": "OFF"}))
        answer = await next_state(watcher, room.ventilation_name)
        assert answer["state"] == "OFF" and answer["fan_mode"] == "off"
        co2_before = room.co2
        building.step(building.time + 3600)
        assert not room.ventilating
        if room.occupants:
            assert room.co2 > co2_before  # people breathe, the trickle does not carry it away
        await zigbee.publish_raw(f"{BASE}/{room.ventilation_name}/set", json.dumps({"fan_mode": "auto"}))
        answer = await next_state(watcher, room.ventilation_name)
        assert answer == {**answer, "state": "ON", "fan_mode": "auto"}
        await zigbee.publish_raw(f"{BASE}/{room.ventilation_name}/set", json.dumps({"fan_mode": "turbo"}))
        await zigbee.publish_raw(f"{BASE}/{room.light_name}/set", json.dumps({"state": "OFF"}))
        answer = await next_state(watcher, room.light_name)
        assert answer["state"] == "OFF" and answer["power"] == 0.0
        assert zigbee.commands_rejected == 1


@pytest.mark.asyncio
async def test_a_setpoint_command_changes_the_room_and_its_next_state(
    broker: Mosquitto, watcher: aiomqtt.Client
) -> None:
    building = make_building()
    room = building.rooms[1]
    async with network(building, broker) as zigbee:
        await zigbee.publish_raw(f"{BASE}/{room.thermostat_name}/set", json.dumps({"occupied_heating_setpoint": 18.5}))
        answer = await next_state(watcher, room.thermostat_name)
        assert answer["occupied_heating_setpoint"] == 18.5
        assert room.setpoint == 18.5
        assert building.rooms[0].setpoint == 21.0

        await zigbee.publish_raw(f"{BASE}/{room.thermostat_name}/set", json.dumps({"occupied_heating_setpoint": 45}))
        assert (await next_state(watcher, room.thermostat_name))["occupied_heating_setpoint"] == 30.0

        building.step(building.time + 300)
        await zigbee.publish_states(building.time)
        fresh = await next_state(watcher, room.thermostat_name)
        assert fresh["occupied_heating_setpoint"] == 30.0
        assert fresh["running_state"] == "heat"
        assert zigbee.commands_applied == 2


@pytest.mark.asyncio
async def test_switching_the_plug_off_stops_the_heater_on_a_cold_night(
    broker: Mosquitto, watcher: aiomqtt.Client
) -> None:
    building = make_building(t=MONDAY + 19 * 3600, rooms=1)
    room = building.rooms[0]
    async with network(building, broker) as zigbee:
        await zigbee.publish_raw(f"{BASE}/{room.plug_name}/set", json.dumps({"state": "OFF"}))
        answer = await next_state(watcher, room.plug_name)
        assert (answer["state"], answer["power"]) == ("OFF", 0.0)
        energy, start_temp = room.hvac_energy_kwh, room.temperature
        temps = []
        for minute in range(1, 12 * 60 + 1):
            building.step(MONDAY + 19 * 3600 + 60 * minute)
            assert not room.hvac_on
            temps.append(room.temperature)
        assert room.hvac_energy_kwh == energy
        assert temps[-1] < start_temp - 2.0
        assert temps[-1] < 16.0 - 0.3  # below what the night setback would have held

        await zigbee.publish_raw(f"{BASE}/{room.plug_name}/set", json.dumps({"state": "TOGGLE"}))
        assert (await next_state(watcher, room.plug_name))["state"] == "ON"
        assert room.hvac_enabled and room.hvac_on


@pytest.mark.asyncio
async def test_malformed_commands_are_counted_and_the_bridge_carries_on(
    broker: Mosquitto, watcher: aiomqtt.Client
) -> None:
    building = make_building()
    room = building.rooms[0]
    before = (room.setpoint, room.hvac_enabled)
    bad = [
        (room.thermostat_name, b"not json"),
        (room.thermostat_name, b"[21]"),
        (room.thermostat_name, b'{"occupied_heating_setpoint": "warm"}'),
        (room.thermostat_name, b'{"occupied_heating_setpoint": true}'),
        (room.plug_name, b'{"state": "MAYBE"}'),
        (room.plug_name, b"\xff\xfe"),
        ("no_such_device", b'{"state": "ON"}'),
    ]
    async with network(building, broker) as zigbee:
        for device, payload in bad:
            await zigbee.publish_raw(f"{BASE}/{device}/set", payload)
        await zigbee.publish_raw(f"{BASE}/{room.thermostat_name}/set", b'{"occupied_heating_setpoint": 19}')
        answer = await next_state(watcher, room.thermostat_name)
        assert answer["occupied_heating_setpoint"] == 19.0
        assert (zigbee.commands_rejected, zigbee.commands_applied) == (len(bad), 1)
        assert room.hvac_enabled == before[1]
