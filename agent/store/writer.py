"""Batch ingested items into store transactions.

One SQLite transaction per batch is what lets a Raspberry Pi store tens of
thousands of readings a second; acks and upstream wake-ups happen only after the
batch committed, so nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable

from agent.clock import Clock
from agent.ingest.item import IngestItem
from agent.ingest.reading import Reading
from agent.store import Store
from agent.upstream.topics import readings_topic

log = logging.getLogger(__name__)


def reading_item(reading: Reading) -> str:
    """The JSON object a reading becomes upstream."""
    return json.dumps(
        {"point": reading.point, "ts": reading.ts, "value": reading.value, "unit": reading.unit},
        ensure_ascii=False,
        separators=(",", ":"),
    )


class OutboxEncoder:
    """Upstream topic and JSON item of each reading, exactly as :func:`reading_item`
    writes them, with the parts that depend only on the point encoded once.

    A gateway has hundreds of points but forwards every reading of them; a
    ``json.dumps`` per reading was a third of the store writer's time.
    """

    MAX_CACHED_POINTS = 10_000
    """A device inventing field names must not grow the cache without bound."""

    def __init__(self, prefix: str, gateway_id: str) -> None:
        self._prefix = prefix
        self._gateway_id = gateway_id
        self._parts: dict[tuple[str, str, str], tuple[str, str, str]] = {}

    def encode(self, r: Reading) -> tuple[str, str]:
        key = (r.device, r.channel, r.unit)
        parts = self._parts.get(key)
        if parts is None:
            parts = self._point_parts(r)
        topic, head, tail = parts
        return topic, f"{head}{_json_number(r.ts)},\"value\":{_json_number(r.value)}{tail}"

    def _point_parts(self, r: Reading) -> tuple[str, str, str]:
        if len(self._parts) >= self.MAX_CACHED_POINTS:
            self._parts.clear()
        head = '{"point":' + json.dumps(r.point, ensure_ascii=False) + ',"ts":'
        tail = ',"unit":' + json.dumps(r.unit, ensure_ascii=False) + "}"
        parts = (readings_topic(self._prefix, self._gateway_id, r.device), head, tail)
        self._parts[(r.device, r.channel, r.unit)] = parts
        return parts


def _json_number(x: float) -> str:
    """What ``json.dumps`` writes for ``x``, without its per-call overhead."""
    if type(x) is float and math.isfinite(x):
        return float.__repr__(x)
    return json.dumps(x)


class StoreWriter:
    """Consumes :class:`IngestItem` from a queue and commits them in batches."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        batch_max: int,
        flush_interval_s: float,
        upstream_prefix: str | None,
        gateway_id: str,
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._batch_max = batch_max
        self._flush_interval = flush_interval_s
        self._encoder = OutboxEncoder(upstream_prefix, gateway_id) if upstream_prefix is not None else None
        self._on_committed = on_committed
        self._queue: asyncio.Queue[IngestItem | None] = asyncio.Queue()
        self.readings_stored = 0
        self.batches = 0
        self.outbox_dropped = 0
        self.pending = 0

    def submit(self, item: IngestItem) -> None:
        self.pending += len(item.readings)
        self._queue.put_nowait(item)

    async def close(self) -> None:
        """Ask :meth:`run` to commit everything queued so far and return."""
        self._queue.put_nowait(None)

    async def run(self) -> None:
        while True:
            batch, closing = await self._collect()
            if batch:
                self._commit(batch)
            if closing:
                return

    async def _collect(self) -> tuple[list[IngestItem], bool]:
        """Wait for one item, give producers one flush interval to add more, then
        take what is queued (up to ``batch_max`` readings).  No timeouts on
        ``Queue.get``: a cancelled get could lose an item."""
        first = await self._queue.get()
        if first is None:
            return [], True
        if self._flush_interval > 0 and self._queue.qsize() < self._batch_max:
            await asyncio.sleep(self._flush_interval)
        batch = [first]
        n = len(first.readings)
        while n < self._batch_max and not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                return batch, True
            batch.append(item)
            n += len(item.readings)
        return batch, False

    def _commit(self, batch: list[IngestItem]) -> None:
        readings = [r for item in batch for r in item.readings]
        outbox = self._outbox_items(readings)
        now = self._clock.now()
        events = [(now, kind, subject, detail) for item in batch for kind, subject, detail in item.events]
        result = self._store.write_batch(readings, outbox, events, now=now)
        self.readings_stored += len(readings)
        self.pending -= len(readings)
        self.batches += 1
        if result.outbox_dropped:
            self.outbox_dropped += result.outbox_dropped
            self._warn_dropped(result.outbox_dropped)
        for _, kind, subject, detail in events:
            if kind == "availability":
                self._store.set_availability(subject, bool(detail.get("online")), now)
        for item in batch:
            if item.on_durable is not None:
                item.on_durable()
        if self._on_committed and result.outbox_added:
            self._on_committed()

    def _warn_dropped(self, dropped: int) -> None:
        """Warn when the outbox starts overflowing and then at every 10,000 drops, not per batch."""
        before = self.outbox_dropped - dropped
        if before == 0 or before // 10_000 != self.outbox_dropped // 10_000:
            log.warning(
                "outbox full: %d oldest rows not forwarded so far (policy: drop oldest; still stored locally)",
                self.outbox_dropped,
            )

    def _outbox_items(self, readings: list[Reading]) -> list[tuple[str, str]]:
        if self._encoder is None:
            return []
        encode = self._encoder.encode
        return [encode(r) for r in readings]
