"""Publish the outbox upstream, deleting rows only after the broker acknowledged them.

Delivery is at least once: a reading leaves the outbox only after its message's
PUBACK (QoS 1) arrives, so a connection lost between the broker receiving a
message and us seeing its PUBACK means it is sent again.  Upstream consumers
deduplicate by (point, ts).  Order per device is kept: rows are read in outbox
order, each topic's messages are published one after another, and only the
acknowledged prefix of a topic is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

import aiomqtt

from agent.store import OutboxChunk, Store, StoreThread
from agent.transports.backoff import Backoff
from agent.transports.mqtt import BrokerAddress, make_client, run_connected
from agent.upstream.topics import availability_topic, device_from_readings_topic

log = logging.getLogger(__name__)

WINDOW_CHUNKS = 20
"""Outbox rows read per round, in chunks of ``batch_size``."""


def is_readings_chunk(chunk: OutboxChunk) -> bool:
    return "/readings/" in chunk.topic


def chunk_payload(chunk: OutboxChunk, gateway_id: str) -> str:
    """The upstream message of one chunk, oldest item first: gateway, device and its
    ``readings``; or, on other topics (audit), gateway and the ``records``."""
    gateway = json.dumps(gateway_id)
    if is_readings_chunk(chunk):
        device = json.dumps(device_from_readings_topic(chunk.topic))
        return f'{{"gateway":{gateway},"device":{device},"readings":[{chunk.items}]}}'
    return f'{{"gateway":{gateway},"records":[{chunk.items}]}}'


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
        self._availability = availability_topic(prefix, gateway_id)
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.connected = False
        self.published_messages = 0
        self.published_readings = 0
        self.published_records = 0
        """Non-reading items (audit records) published and acknowledged."""
        self.on_connection_change: Callable[[bool], None] | None = None

    def notify(self) -> None:
        """Tell the publisher new rows are in the outbox."""
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
        """Publish one window of the outbox; False when it was empty.

        Topics (devices) are published concurrently, each topic's chunks one
        after another, so a consumer sees every device's readings in order even
        when the connection drops halfway: a topic stops at its first failure
        and resumes from there on the next connection.  Outbox reads and deletes
        run on the store thread, queued behind the writer's commits.
        """
        chunks = await self._thread.call(self._store.outbox_chunks, self._window, self._batch_size)
        if not chunks:
            return False
        by_topic: dict[str, list[OutboxChunk]] = {}
        for chunk in chunks:
            by_topic.setdefault(chunk.topic, []).append(chunk)
        results = await asyncio.gather(*(self._publish_topic(client, chunks) for chunks in by_topic.values()))
        done = [chunk for acked, _ in results for chunk in acked]
        if done:
            await self._thread.call(self._store.outbox_delete_chunks, done)
        failure = next((error for _, error in results if error is not None), None)
        if failure is not None:
            raise failure
        return True

    async def _publish_topic(
        self, client: aiomqtt.Client, chunks: list[OutboxChunk]
    ) -> tuple[list[OutboxChunk], aiomqtt.MqttError | None]:
        """Publish one topic's chunks in order; the chunks acked, and the error that stopped it."""
        acked: list[OutboxChunk] = []
        for chunk in chunks:
            try:
                await client.publish(chunk.topic, chunk_payload(chunk, self._gateway_id), qos=self._qos)
            except aiomqtt.MqttError as exc:
                return acked, exc
            acked.append(chunk)
            self.published_messages += 1
            if is_readings_chunk(chunk):
                self.published_readings += chunk.count
            else:
                self.published_records += chunk.count
        return acked, None
