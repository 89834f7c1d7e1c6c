"""The Zigbee listener on a real broker: a persistent session's backlog, a clean stop."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import aiomqtt
import pytest

from agent.clock import WallClock
from agent.ingest.counters import IngestCounters
from agent.ingest.item import IngestItem
from agent.ingest.zigbee_listener import ZigbeeListener
from agent.transports.backoff import Backoff
from agent.transports.buffered_socket import BufferedSocket
from agent.transports.mqtt import BrokerAddress, make_client
from firmware_sim.broker import Mosquitto

CLIENT_ID = "edgewise-test-zigbee"
BACKLOG = 3000


@pytest.fixture
def backlog_broker() -> Iterator[Mosquitto]:
    """A broker that queues any backlog for an offline session and sends it all at once."""
    with Mosquitto(extra_config=("max_queued_messages 0", "max_inflight_messages 0")) as b:
        yield b


def state(i: int) -> bytes:
    return json.dumps({"temperature": 20.0 + i / 1000, "last_seen": 1_767_571_200_000 + i * 1000}).encode()


async def leave_backlog(broker: Mosquitto, n: int) -> None:
    """Subscribe with a persistent session, leave, and publish ``n`` messages for it."""
    async with aiomqtt.Client(broker.host, broker.port, identifier=CLIENT_ID, clean_session=False) as c:
        await c.subscribe("zigbee2mqtt/#", qos=1)
    async with aiomqtt.Client(broker.host, broker.port) as publisher:
        for start in range(0, n, 100):
            await asyncio.gather(
                *(publisher.publish("zigbee2mqtt/sensor", state(i), qos=1) for i in range(start, min(n, start + 100)))
            )


@pytest.mark.asyncio
async def test_a_backlog_longer_than_the_client_timeout_is_drained_in_one_session(backlog_broker: Mosquitto) -> None:
    """The broker sends a session's backlog before the SUBACK; waiting for it with
    the client's timeout made the agent reconnect over and over after a long outage."""
    broker = backlog_broker
    await leave_backlog(broker, BACKLOG)
    items: list[IngestItem] = []

    def submit(item: IngestItem) -> None:
        time.sleep(0.0002)  # a slow gateway: the backlog takes ~0.6 s to handle
        items.append(item)

    counters = IngestCounters()
    listener = ZigbeeListener("zigbee2mqtt", WallClock(), counters, submit)
    connections: list[bool] = []
    stop = asyncio.Event()

    def connect(queue_type: type[asyncio.Queue[aiomqtt.Message]]) -> aiomqtt.Client:
        # A client timeout far shorter than handling the backlog takes.
        return aiomqtt.Client(
            broker.host, broker.port, identifier=CLIENT_ID, clean_session=False, queue_type=queue_type, timeout=0.05
        )

    task = asyncio.create_task(listener.run(connect, Backoff(0.05, 0.1), stop, connections.append))
    async with asyncio.timeout(60):
        while counters.mqtt_messages_received < BACKLOG:
            await asyncio.sleep(0.05)
    stop.set()
    await task

    assert connections == [True, False]  # one session, no reconnects
    assert counters.mqtt_messages_received == BACKLOG
    assert [r.value for item in items for r in item.readings] == [20.0 + i / 1000 for i in range(BACKLOG)]


@pytest.mark.asyncio
async def test_the_agents_client_reads_a_backlog_in_large_pieces_and_loses_nothing(backlog_broker: Mosquitto) -> None:
    """make_client buffers socket reads and the listener hands each read's messages on
    together: every message arrives, in order, with far fewer system-call reads
    and ingest items than messages (paho alone makes about five reads per message)."""
    broker = backlog_broker
    await leave_backlog(broker, BACKLOG)
    items: list[IngestItem] = []
    counters = IngestCounters()
    listener = ZigbeeListener("zigbee2mqtt", WallClock(), counters, items.append)
    clients: list[aiomqtt.Client] = []
    stop = asyncio.Event()

    def connect(queue_type: type[asyncio.Queue[aiomqtt.Message]]) -> aiomqtt.Client:
        client = make_client(BrokerAddress(broker.host, broker.port), identifier=CLIENT_ID, persistent=True,
                             queue_type=queue_type)
        clients.append(client)
        return client

    task = asyncio.create_task(listener.run(connect, Backoff(0.05, 0.1), stop))
    async with asyncio.timeout(60):
        while counters.mqtt_messages_received < BACKLOG:
            await asyncio.sleep(0.05)
        sock = clients[0]._client.socket()  # noqa: SLF001 - what paho reads from
        stop.set()
        await task

    assert isinstance(sock, BufferedSocket)
    assert sock.reads < BACKLOG / 10
    assert len(items) < BACKLOG / 10  # the messages of one read are handed on as one item
    assert [r.value for item in items for r in item.readings] == [20.0 + i / 1000 for i in range(BACKLOG)]
