"""The store on its own thread: commits off the event loop, acks only after them."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.clock import SimClock
from agent.ingest.item import IngestItem
from agent.ingest.reading import Reading
from agent.store import Store, StoreThread
from agent.store.writer import StoreWriter


def reading(ts: float, device: str = "node-0001", seq: int | None = None) -> Reading:
    return Reading(device, "temperature", ts, 20.0 + ts / 1000, "°C", "serial" if seq is not None else "zigbee", seq)


def committed_ts(path: Path) -> list[float]:
    """What another process would see in the file right now."""
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT ts FROM readings ORDER BY id")]
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_calls_run_on_one_named_thread_in_order(tmp_path: Path) -> None:
    thread = StoreThread()
    try:
        names = await asyncio.gather(*(thread.call(lambda: threading.current_thread().name) for _ in range(5)))
        order: list[int] = []
        await asyncio.gather(*(thread.call(order.append, i) for i in range(50)))
    finally:
        thread.shutdown()
    assert {name.split("_")[0] for name in names} == {"edgewise-store"}
    assert len(set(names)) == 1
    assert order == list(range(50))


def test_submitted_writes_run_in_order_survive_shutdown_and_log_failures(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    thread = StoreThread()
    order: list[int] = []
    gate = threading.Event()
    thread.submit(gate.wait)  # holds the thread, so everything below is still queued at shutdown

    def fail() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    for i in range(3):
        thread.submit(order.append, i)
    thread.submit(fail)
    thread.submit(order.append, 3)
    gate.set()
    thread.shutdown()
    assert order == [0, 1, 2, 3]  # a failure does not stop the writes queued after it
    assert "a store write queued without a waiter failed: disk I/O error" in caplog.text


@pytest.mark.asyncio
async def test_loop_thread_reads_while_the_store_thread_writes(tmp_path: Path) -> None:
    thread = StoreThread()
    with Store.open(tmp_path / "gw.db", outbox_max_rows=150) as store:
        batches = [[reading(float(b * 100 + i)) for i in range(100)] for b in range(20)]
        writes = [
            thread.call(store.write_batch, batch, now=1.0, forward=True) for batch in batches
        ]
        pending = asyncio.gather(*writes)
        seen: list[int] = []
        while not pending.done():
            seen.append(store.count_readings())  # the loop thread, between the worker's commits
            assert 0 <= store.outbox_size() <= 150
            await asyncio.sleep(0)
        results = await pending
        thread.shutdown()
        assert seen == sorted(seen)
        assert all(n % 100 == 0 for n in seen)  # never half a batch: each one is a transaction
        assert store.count_readings() == 2000
        assert store.outbox_size() == 150 == sum(c.count for c in store.reading_chunks(1000, 100))
        assert sum(r.outbox_dropped for r in results) == store.outbox_dropped_total == 2000 - 150
        assert store.integrity_check() == "ok"


@pytest.mark.asyncio
async def test_acks_come_only_after_their_readings_are_committed(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    thread = StoreThread()
    with Store.open(path) as store:
        writer = StoreWriter(store, SimClock(0.0), thread=thread, batch_max=7, flush_interval_s=0.0,
                             forward=True)
        acked: list[float] = []
        violations: list[str] = []

        def ack_for(r: Reading) -> None:
            if r.ts not in committed_ts(path):
                violations.append(f"reading {r.ts} acked before it was committed")
            acked.append(r.ts)

        run = asyncio.create_task(writer.run())
        for n in range(60):
            r = reading(float(n), seq=n)
            writer.submit(IngestItem([r], on_durable=lambda r=r: ack_for(r)))
            if n % 9 == 0:
                await asyncio.sleep(0)  # let a commit start while more items arrive
        await writer.close()
        await run
        thread.shutdown()
        assert violations == []
        assert acked == [float(n) for n in range(60)]  # batches commit strictly in order
        assert committed_ts(path) == acked
        assert writer.readings_stored == 60 and writer.pending == 0
        assert store.outbox_size() == 60


@pytest.mark.asyncio
async def test_close_waits_for_the_commit_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    thread = StoreThread()
    store = Store.open(path)
    writer = StoreWriter(store, SimClock(0.0), thread=thread, batch_max=10_000, flush_interval_s=0.0,
                         forward=False)
    run = asyncio.create_task(writer.run())
    writer.submit(IngestItem([reading(float(i)) for i in range(3000)]))
    await asyncio.sleep(0)  # the commit is now on the store thread
    await writer.close()
    await run
    thread.shutdown()
    store.close()
    assert len(committed_ts(path)) == 3000


def test_calls_from_two_threads_never_interleave_their_transactions(tmp_path: Path) -> None:
    """The store's lock: a loop-thread call waits for the worker's transaction to end."""
    with Store.open(tmp_path / "gw.db") as store:
        done = threading.Event()

        def writer() -> None:
            for b in range(30):
                store.write_batch([reading(float(b * 50 + i)) for i in range(50)], now=1.0)
            done.set()

        worker = threading.Thread(target=writer)
        worker.start()
        logged = 0
        while not done.is_set() or logged == 0:
            store.log_event(time.time(), "stale", "node-0001/temperature", {"stale": True})
            logged += 1
        worker.join()
        assert store.count_readings() == 1500
        assert len(store.events("stale")) == logged
        assert store.integrity_check() == "ok"


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False),
             min_size=1, max_size=5),
    st.integers(1, 2100),
)
def test_multi_row_writes_keep_every_row_order_and_exact_values(created: list[float], n: int) -> None:
    """Batches are written with multi-row statements; sizes around their limits lose nothing,
    and the upstream JSON SQLite writes reads back to the exact stored values."""
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "gw.db") as store:
        for i, now in enumerate(created):
            batch = [reading(i * 10_000 + t + 0.1) for t in range(n if i == 0 else 1)]
            store.write_batch(batch, now=now, forward=True)
        chunks = store.reading_chunks(n + len(created), 100)
        items = [item for c in chunks for item in json.loads(f"[{c.items}]")]
        assert [(i["point"], i["ts"], i["value"]) for i in items] == [(r.point, r.ts, r.value) for r in store.readings()]
        ids = [i for c in chunks for i in c.id_list()]
        assert ids == sorted(ids)
        assert store.readings_forwarded(chunks) == len(ids) == store.count_readings()
        assert store.outbox_size() == 0
