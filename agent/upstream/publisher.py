"""Publish the upstream backlog, marking items done only after the broker acknowledged them.

Two sources wait in the store: readings after the forwarding cursor
(agent/store/forwarding.py) and the outbox table's rows (audit records, fault
alerts, and readings an older edgewise queued there).  Outbox rows go first.

Delivery is at least once: an item is done only after its message's PUBACK
(QoS 1) arrives, so a connection lost between the broker receiving a message
and us seeing its PUBACK means it is sent again.  Upstream consumers
deduplicate by (point, ts).  Order per device is kept: items are read oldest
first, each topic's messages are published one after another, and only the
acknowledged prefix of a topic is marked done.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiomqtt

from agent.store import OutboxChunk, Store, StoreThread
from agent.store.forwarding import ReadingChunk
from agent.transports.backoff import Backoff
from agent.transports.mqtt import BrokerAddress, make_client, run_connected
from agent.upstream.topics import availability_topic, device_from_readings_topic, readings_topic

log = logging.getLogger(__name__)

WINDOW_CHUNKS = 20
"""Items read per round, in chunks of ``batch_size``."""


def is_readings_chunk(chunk: OutboxChunk) -> bool:
    return "/readings/" in chunk.topic


def readings_payload(gateway_id: str, device: str, items: str) -> str:
    """The upstream message of one device's readings, oldest first."""
    return f'{{"gateway":{json.dumps(gateway_id)},"device":{json.dumps(device)},"readings":[{items}]}}'


def chunk_payload(chunk: OutboxChunk, gateway_id: str) -> str:
    """The upstream message of one outbox chunk, oldest item first: on a readings
    topic as :func:`readings_payload`; on other topics (audit, faults), gateway
    and the ``records``."""
    if is_readings_chunk(chunk):
        return readings_payload(gateway_id, device_from_readings_topic(chunk.topic), chunk.items)
    return f'{{"gateway":{json.dumps(gateway_id)},"records":[{chunk.items}]}}'


_Chunk = OutboxChunk | ReadingChunk


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    payload: str
    count: int
    readings: bool
    chunk: _Chunk


class UpstreamPublisher:
    """Drains the store's outbox to the upstream broker, reconnecting with backoff."""

    def __init__(
        self,
        store: Store,
        address: BrokerAddress,
        *,
        thread: StoreThread,
        gateway_id: str,
        prefix: str,
        qos: int,
        batch_size: int,
        backoff: Backoff,
        linger_s: float = 0.0,
        client_id: str | None = None,
    ) -> None:
        self._store = store
        self._thread = thread
        self._address = address
        self._gateway_id = gateway_id
        self._qos = qos
        self._batch_size = batch_size
        self._window = batch_size * WINDOW_CHUNKS
        self._linger_s = linger_s
        self._backoff = backoff
        self._client_id = client_id or f"edgewise-{gateway_id}-upstream"
        self._prefix = prefix
        self._availability = availability_topic(prefix, gateway_id)
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.connected = False
        self.published_messages = 0
        self.published_readings = 0
        self.published_records = 0
        """Non-reading items (audit records, fault alerts) published and acknowledged."""
        self.on_connection_change: Callable[[bool], None] | None = None

    def notify(self) -> None:
        """Tell the publisher new items wait in the store."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        await run_connected(
            "upstream",
            self._connect,
            self._session,
            self._backoff,
            self._stop,
            self._set_connected,
        )

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        if self.on_connection_change:
            self.on_connection_change(up)

    def _connect(self) -> aiomqtt.Client:
        will = aiomqtt.Will(self._availability, b"offline", qos=1, retain=True)
        return make_client(self._address, identifier=self._client_id, will=will)

    async def _session(self, client: aiomqtt.Client) -> None:
        await client.publish(self._availability, b"online", qos=1, retain=True)
        while not self._stop.is_set():
            self._wake.clear()  # before looking: a notify after the look wakes us
            if self._store.outbox_size() == 0:
                await self._wake.wait()
                continue
            await self._linger()
            await self._publish_some(client)
        await client.publish(self._availability, b"offline", qos=1, retain=True)

    async def _linger(self) -> None:
        """Give a partial window up to ``linger_s`` to fill before it is published.

        Without it every commit (tens a second while ingesting fast) would go
        upstream as its own round of small messages: more messages, more
        broker round trips and more event-loop work per reading.
        A full window, a backlog after an outage, an outbox a quarter of the
        way to its bound, or a stop go at once.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._linger_s
        enough = min(self._window, max(1, self._store.outbox_max_rows // 4))  # never linger into the bound
        while self._store.outbox_size() < enough and not self._stop.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)

    async def _publish_some(self, client: aiomqtt.Client) -> bool:
        """Publish one window of the backlog, outbox rows first; False when there was none.

        Reads and acknowledgements run on the store thread, queued behind the
        writer's commits.
        """
        records = await self._thread.call(self._store.outbox_chunks, self._window, self._batch_size)
        if records:
            messages = [
                _Message(c.topic, chunk_payload(c, self._gateway_id), c.count, is_readings_chunk(c), c) for c in records
            ]
            await self._publish_window(client, messages, self._store.outbox_delete_chunks)
            return True
        readings = await self._thread.call(self._store.reading_chunks, self._window, self._batch_size)
        if readings:
            messages = [self._readings_message(c) for c in readings]
            await self._publish_window(client, messages, self._store.readings_forwarded)
            return True
        return False

    def _readings_message(self, chunk: ReadingChunk) -> _Message:
        topic = readings_topic(self._prefix, self._gateway_id, chunk.device)
        return _Message(topic, readings_payload(self._gateway_id, chunk.device, chunk.items), chunk.count, True, chunk)

    async def _publish_window(
        self, client: aiomqtt.Client, messages: list[_Message], done: Callable[[Sequence[_Chunk]], int]
    ) -> None:
        """Publish topics concurrently, each topic's messages in order; mark what was
        acknowledged done, then raise the error that stopped a topic, if any.

        A topic stops at its first failure, so a consumer sees every device's
        readings in order even when the connection drops halfway; the rest
        goes on the next connection.
        """
        by_topic: dict[str, list[_Message]] = {}
        for message in messages:
            by_topic.setdefault(message.topic, []).append(message)
        results = await asyncio.gather(*(self._publish_topic(client, queue) for queue in by_topic.values()))
        acked = [message.chunk for sent, _ in results for message in sent]
        if acked:
            await self._thread.call(done, acked)
        failure = next((error for _, error in results if error is not None), None)
        if failure is not None:
            raise failure

    async def _publish_topic(
        self, client: aiomqtt.Client, messages: list[_Message]
    ) -> tuple[list[_Message], aiomqtt.MqttError | None]:
        """Publish one topic's messages in order; those acked, and the error that stopped it."""
        acked: list[_Message] = []
        for message in messages:
            try:
                await client.publish(message.topic, message.payload, qos=self._qos)
            except aiomqtt.MqttError as exc:
                return acked, exc
            acked.append(message)
            self.published_messages += 1
            if message.readings:
                self.published_readings += message.count
            else:
                self.published_records += message.count
        return acked, None
