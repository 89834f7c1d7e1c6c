"""Publish the outbox upstream, deleting rows only after the broker acknowledged them.

Delivery is at least once: a reading leaves the outbox only after its message's
PUBACK (QoS 1) arrives, so a connection lost between the broker receiving a
message and us seeing its PUBACK means it is sent again.  Upstream consumers
deduplicate by (point, ts).  Order per device is kept: rows are read in outbox
order and, per topic, only the acknowledged prefix is deleted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiomqtt

from agent.store import OutboxRow, Store
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
        gateway_id: str,
        prefix: str,
        qos: int,
        batch_size: int,
        backoff: Backoff,
        client_id: str | None = None,
    ) -> None:
        self._store = store
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
        """Publish one window of the outbox; False when it was empty."""
        rows = self._store.outbox_peek(self._batch_size * 20)
        if not rows:
            return False
        chunks = chunk_rows(rows, self._batch_size)
        results = await asyncio.gather(
            *(client.publish(c.topic, c.payload(self._gateway_id), qos=self._qos) for c in chunks),
            return_exceptions=True,
        )
        self._delete_acknowledged(chunks, results)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            raise failure if isinstance(failure, aiomqtt.MqttError) else aiomqtt.MqttError(str(failure))
        return True

    def _delete_acknowledged(self, chunks: list[Chunk], results: list[object]) -> None:
        """Delete, per topic, the chunks up to the first one that failed."""
        failed_topics: set[str] = set()
        done: list[int] = []
        for chunk, result in zip(chunks, results):
            if chunk.topic in failed_topics or isinstance(result, BaseException):
                failed_topics.add(chunk.topic)
                continue
            done.extend(row.id for row in chunk.rows)
            self.published_messages += 1
            self.published_readings += len(chunk.rows)
        if done:
            self._store.outbox_delete(done)
