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
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiomqtt

from agent.store import OutboxRow, Store, StoreThread
from agent.transports.backoff import Backoff
from agent.transports.mqtt import BrokerAddress, make_client, run_connected
from agent.upstream.topics import availability_topic, device_from_readings_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive outbox rows of one topic that travel as one MQTT message."""

    topic: str
    rows: tuple[OutboxRow, ...]

    def payload(self, gateway_id: str) -> str:
        items = ",".join(row.item for row in self.rows)
        device = device_from_readings_topic(self.topic) if "/readings/" in self.topic else ""
        head = f'{{"gateway":{json.dumps(gateway_id)},"device":{json.dumps(device)},"readings":['
        return head + items + "]}"


def chunk_rows(rows: Sequence[OutboxRow], batch_size: int) -> list[Chunk]:
    """Group rows by topic keeping outbox order within each topic."""
    by_topic: dict[str, list[list[OutboxRow]]] = {}
    for row in rows:
        chunks = by_topic.setdefault(row.topic, [[]])
        if len(chunks[-1]) >= batch_size:
            chunks.append([])
        chunks[-1].append(row)
    return [Chunk(topic, tuple(c)) for topic, chunks in by_topic.items() for c in chunks]


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
        client_id: str | None = None,
    ) -> None:
        self._store = store
        self._thread = thread
        self._address = address
        self._gateway_id = gateway_id
        self._qos = qos
        self._batch_size = batch_size
        self._backoff = backoff
        self._client_id = client_id or f"edgewise-{gateway_id}-upstream"
        self._availability = availability_topic(prefix, gateway_id)
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.connected = False
        self.published_messages = 0
        self.published_readings = 0
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
            if not await self._publish_some(client):
                self._wake.clear()
                if self._store.outbox_size() == 0:
                    await self._wake.wait()
        await client.publish(self._availability, b"offline", qos=1, retain=True)

    async def _publish_some(self, client: aiomqtt.Client) -> bool:
        """Publish one window of the outbox; False when it was empty.

        Topics (devices) are published concurrently, each topic's chunks one
        after another, so a consumer sees every device's readings in order even
        when the connection drops halfway: a topic stops at its first failure
        and resumes from there on the next connection.  Outbox reads and deletes
        run on the store thread, queued behind the writer's commits.
        """
        rows = await self._thread.call(self._store.outbox_peek, self._batch_size * 20)
        if not rows:
            return False
        by_topic: dict[str, list[Chunk]] = {}
        for chunk in chunk_rows(rows, self._batch_size):
            by_topic.setdefault(chunk.topic, []).append(chunk)
        results = await asyncio.gather(*(self._publish_topic(client, chunks) for chunks in by_topic.values()))
        done = [row_id for acked, _ in results for row_id in acked]
        if done:
            await self._thread.call(self._store.outbox_delete, done)
        failure = next((error for _, error in results if error is not None), None)
        if failure is not None:
            raise failure
        return True

    async def _publish_topic(self, client: aiomqtt.Client, chunks: list[Chunk]) -> tuple[list[int], aiomqtt.MqttError | None]:
        """Publish one topic's chunks in order; the row ids acked, and the error that stopped it."""
        acked: list[int] = []
        for chunk in chunks:
            try:
                await client.publish(chunk.topic, chunk.payload(self._gateway_id), qos=self._qos)
            except aiomqtt.MqttError as exc:
                return acked, exc
            acked.extend(row.id for row in chunk.rows)
            self.published_messages += 1
            self.published_readings += len(chunk.rows)
        return acked, None
