"""Batch ingested items into store transactions.

One SQLite transaction per batch is what lets a Raspberry Pi store tens of
thousands of readings a second; acks and upstream wake-ups happen only after the
batch committed, so nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agent.clock import Clock
from agent.ingest.item import IngestItem
from agent.ingest.reading import Reading
from agent.store import Store, StoreThread
from agent.store.store import WriteResult

log = logging.getLogger(__name__)

_Event = tuple[float, str, str, dict[str, object]]


class StoreWriter:
    """Consumes :class:`IngestItem` from a queue and commits them in batches.

    Commits run on the :class:`StoreThread`, one at a time and in order; while
    one commits, the writer already waits for and gathers the next batch.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        thread: StoreThread,
        batch_max: int,
        flush_interval_s: float,
        forward: bool,
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._thread = thread
        self._batch_max = batch_max
        self._flush_interval = flush_interval_s
        self._forward = forward
        self._on_committed = on_committed
        self._queue: asyncio.Queue[IngestItem | None] = asyncio.Queue()
        self.readings_stored = 0
        self.batches = 0
        self.outbox_dropped = 0
        self.pending = 0
        self._queued = 0
        """Readings in the queue, not yet taken into a batch."""

    def submit(self, item: IngestItem) -> None:
        self.pending += len(item.readings)
        self._queued += len(item.readings)
        self._queue.put_nowait(item)

    async def close(self) -> None:
        """Ask :meth:`run` to commit everything queued so far and return."""
        self._queue.put_nowait(None)

    async def run(self) -> None:
        """Commit batches until :meth:`close`; returns once the last commit is durable."""
        committing: asyncio.Task[None] | None = None
        try:
            while True:
                first = await self._queue.get()
                if first is not None:
                    await self._let_batch_fill()
                if committing is not None:
                    await committing  # one commit in flight: batches commit in order
                    committing = None
                batch, closing = self._take(first)
                if batch:
                    committing = asyncio.create_task(self._commit(batch), name="store-commit")
                if closing:
                    break
            if committing is not None:
                await committing
                committing = None
        finally:
            if committing is not None:
                committing.cancel()  # only on our own cancellation; its acks never run

    async def _let_batch_fill(self) -> None:
        """Give producers one flush interval to add to a batch that is not full yet.

        Counted in readings, not queued items: an item carries several, and
        comparing items with ``batch_max`` made a backlog wait one interval per
        batch.  No timeouts on ``Queue.get``: a cancelled get could lose an item.
        """
        if self._flush_interval > 0 and self._queued < self._batch_max:
            await asyncio.sleep(self._flush_interval)

    def _take(self, first: IngestItem | None) -> tuple[list[IngestItem], bool]:
        """``first`` and what is queued behind it, up to ``batch_max`` readings; and
        whether :meth:`close` was asked for."""
        if first is None:
            return [], True
        batch = [first]
        n = len(first.readings)
        closing = False
        while n < self._batch_max and not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                closing = True
                break
            batch.append(item)
            n += len(item.readings)
        self._queued -= n
        return batch, closing

    async def _commit(self, batch: list[IngestItem]) -> None:
        """Commit one batch on the store thread, then (and only then) ack and wake upstream."""
        readings = [r for item in batch for r in item.readings]
        now = self._clock.now()
        events = [(now, kind, subject, detail) for item in batch for kind, subject, detail in item.events]
        result = await self._thread.call(_write, self._store, readings, events, now, self._forward)
        self.readings_stored += len(readings)
        self.pending -= len(readings)
        self.batches += 1
        if result.outbox_dropped:
            self.outbox_dropped += result.outbox_dropped
            self._warn_dropped(result.outbox_dropped)
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


def _write(store: Store, readings: list[Reading], events: list[_Event], now: float, forward: bool) -> WriteResult:
    """One batch's store work, run on the store thread: the batch, then availability."""
    result = store.write_batch(readings, events, now=now, forward=forward)
    for _, kind, subject, detail in events:
        if kind == "availability":
            store.set_availability(subject, bool(detail.get("online")), now)
    return result
