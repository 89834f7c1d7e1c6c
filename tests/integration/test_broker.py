"""The private mosquitto fixture: real broker, restartable on its port, optionally persistent."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiomqtt
import pytest

from firmware_sim.broker import BrokerError, Mosquitto


async def next_message(client: aiomqtt.Client) -> aiomqtt.Message:
    """The next delivered message; the wait only guards against a hang."""
    return await asyncio.wait_for(anext(aiter(client.messages)), timeout=10)


async def round_trip(broker: Mosquitto, topic: str) -> bytes:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(topic, qos=1)
        await client.publish(topic, b"hello", qos=1)
        message = await next_message(client)
    assert message.topic.value == topic
    return bytes(message.payload)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_client_can_publish_and_receive(broker: Mosquitto) -> None:
    assert broker.host == "127.0.0.1"
    assert broker.address == f"127.0.0.1:{broker.port}"
    assert await round_trip(broker, "edgewise/test") == b"hello"


@pytest.mark.asyncio
async def test_restart_comes_back_on_the_same_port() -> None:
    async with Mosquitto() as broker:
        port = broker.port
        await asyncio.to_thread(broker.stop)
        assert not broker.running
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client(broker.host, port, timeout=2):
                pass
        await asyncio.to_thread(broker.start)
        assert broker.port == port
        assert await round_trip(broker, "edgewise/again") == b"hello"


@pytest.mark.asyncio
async def test_persistent_session_gets_what_was_published_while_away_across_a_restart() -> None:
    async with Mosquitto(persistence=True) as broker:
        durable = {"identifier": "edgewise-test-durable", "clean_session": False}
        async with aiomqtt.Client(broker.host, broker.port, **durable) as client:
            await client.subscribe("site/readings", qos=1)
        async with aiomqtt.Client(broker.host, broker.port) as publisher:
            await publisher.publish("site/readings", b"queued while away", qos=1)
            await publisher.publish("site/status", b"retained", qos=1, retain=True)
        await asyncio.to_thread(broker.stop)
        await asyncio.to_thread(broker.start)
        async with aiomqtt.Client(broker.host, broker.port, **durable) as client:
            message = await next_message(client)
            assert (message.topic.value, message.payload) == ("site/readings", b"queued while away")
            await client.subscribe("site/status", qos=1)
            retained = await next_message(client)
            assert (retained.payload, retained.retain) == (b"retained", True)


@pytest.mark.asyncio
async def test_without_persistence_a_restart_forgets_retained_messages() -> None:
    async with Mosquitto() as broker:
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.publish("site/status", b"retained", qos=1, retain=True)
        await asyncio.to_thread(broker.stop)
        await asyncio.to_thread(broker.start)
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.subscribe("site/#", qos=1)
            await client.publish("site/marker", b"after", qos=1)
            first = await next_message(client)
        assert first.topic.value == "site/marker"


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = Mosquitto(port=port)
        with pytest.raises(BrokerError, match=f"127.0.0.1:{port}.*in use"):
            with broker:
                pass
        assert not broker.running
        assert broker.log_path is None  # nothing left behind


def test_a_config_mosquitto_rejects_is_reported_with_its_log() -> None:
    with pytest.raises(BrokerError, match="mosquitto exited") as excinfo:
        with Mosquitto(extra_config=["this_is_not_an_option 1"]):
            pass
    assert "this_is_not_an_option" in str(excinfo.value)


def test_extra_config_overrides_the_queue_limit() -> None:
    broker = Mosquitto(extra_config=["max_queued_messages 10"])
    config = broker.config_text(Path("/tmp/broker-dir")).splitlines()
    assert "max_queued_messages 10" in config
    assert "max_queued_messages 100000" not in config
    assert f"listener {broker.port} 127.0.0.1" in config
