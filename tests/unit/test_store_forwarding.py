"""Readings waiting for upstream after the forwarding cursor: bound, partial acknowledgements, restarts."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.ingest.reading import Reading
from agent.store import Store
from agent.store.forwarding import ReadingChunk
from agent.store.migrations import migrate

DEVICES = ("a", "b", "c")


def batch(start: int, n: int, devices: list[int]) -> list[Reading]:
    """``n`` readings with timestamps from ``start``, spread over ``devices`` (indexes into DEVICES)."""
    return [Reading(DEVICES[devices[i % len(devices)]], "t", float(start + i), float(start + i), "°C", "zigbee")
            for i in range(n)]


def chunk_ts(chunk: ReadingChunk) -> list[float]:
    return [item["ts"] for item in json.loads(f"[{chunk.items}]")]


def waiting(store: Store) -> list[float]:
    """Timestamps (unique here) of every waiting reading, in storage order."""
    chunks = store.reading_chunks(1_000_000, 7)
    return [ts for _, ts in sorted((i, ts) for c in chunks for i, ts in zip(c.id_list(), chunk_ts(c)))]


def acknowledged_prefixes(chunks: list[ReadingChunk], keep: list[int]) -> list[ReadingChunk]:
    """What the publisher acknowledges after a dropped connection: a prefix of each device's chunks."""
    by_device: dict[str, list[ReadingChunk]] = {}
    for chunk in chunks:
        by_device.setdefault(chunk.device, []).append(chunk)
    acked = []
    for k, device in enumerate(sorted(by_device)):
        acked += by_device[device][: keep[k % len(keep)]]
    return acked


step = st.one_of(
    st.tuples(st.just("write"), st.integers(0, 25), st.lists(st.integers(0, 2), min_size=1, max_size=3)),
    st.tuples(st.just("publish"), st.integers(1, 30), st.lists(st.integers(0, 3), min_size=1, max_size=3)),
    st.tuples(st.just("restart"), st.just(0), st.just([0])),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(step, max_size=14), st.integers(1, 40), st.integers(1, 6))
def test_every_reading_goes_upstream_once_in_order_or_is_counted_dropped(
    plan: list[tuple[str, int, list[int]]], bound: int, chunk_size: int
) -> None:
    model: list[float] = []  # what waits, in storage order
    dropped = 0
    sent: dict[str, list[float]] = {d: [] for d in DEVICES}
    counter = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gw.db"
        store = Store.open(path, outbox_max_rows=bound)
        try:
            for action, n, arg in plan:
                if action == "restart":
                    store.close()
                    store = Store.open(path, outbox_max_rows=bound)
                elif action == "write":
                    result = store.write_batch(batch(counter, n, arg), now=1.0, forward=True)
                    counter += n
                    model += [float(t) for t in range(counter - n, counter)]
                    overflow = max(0, len(model) - bound)
                    del model[:overflow]
                    dropped += overflow
                    assert (result.outbox_added, result.outbox_dropped) == (n, overflow)
                else:
                    chunks = store.reading_chunks(n, chunk_size)
                    window = sorted(ts for c in chunks for ts in chunk_ts(c))
                    assert window == model[:n]
                    assert all(c.count <= chunk_size and chunk_ts(c) == sorted(chunk_ts(c)) for c in chunks)
                    acked = acknowledged_prefixes(chunks, arg)
                    assert store.readings_forwarded(acked) == sum(c.count for c in acked)
                    assert store.readings_forwarded(acked) == 0  # a repeat marks nothing
                    for c in acked:
                        sent[c.device] += chunk_ts(c)
                        for ts in chunk_ts(c):
                            model.remove(ts)
                assert waiting(store) == model
                assert store.outbox_size() == len(model) == store.readings_waiting()
                assert store.outbox_dropped_total == dropped
        finally:
            store.close()
    for device, stamps in sent.items():
        assert stamps == sorted(set(stamps)), f"{device}: sent twice or out of order"


def test_the_bound_gives_up_readings_before_audit_records(tmp_path: Path) -> None:
    from tests.unit.test_store import audit_record

    with Store.open(tmp_path / "gw.db", outbox_max_rows=5) as store:
        store.add_audit(audit_record(1), "up/audit")
        result = store.write_batch(batch(0, 6, [0]), now=1.0, forward=True)
        assert result.outbox_dropped == 2
        assert waiting(store) == [2.0, 3.0, 4.0, 5.0]
        assert len(store.outbox_peek(10)) == 1
        store.add_audit(audit_record(2), "up/audit")  # one reading more goes
        assert waiting(store) == [3.0, 4.0, 5.0] and len(store.outbox_peek(10)) == 2


def test_readings_queued_by_an_older_edgewise_are_neither_lost_nor_sent_twice(tmp_path: Path) -> None:
    """Migration 6 starts the cursor after the readings already stored: the ones an
    older version queued in the outbox table go from there, the rest are not re-sent."""
    path = tmp_path / "gw.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=5)
    conn.execute("INSERT INTO readings (device, channel, ts, value, unit, source, received_ts)"
                 " VALUES ('a', 't', 1.0, 1.0, '°C', 'zigbee', 1.0), ('a', 't', 2.0, 2.0, '°C', 'zigbee', 2.0)")
    conn.execute("INSERT INTO outbox (topic, item, created_ts) VALUES ('edgewise/gw/readings/a', '{\"ts\":2.0}', 2.0)")
    conn.close()
    with Store.open(path) as store:
        assert store.readings_waiting() == 0
        assert [row.item for row in store.outbox_peek(10)] == ['{"ts":2.0}']
        store.write_batch(batch(3, 1, [0]), now=3.0, forward=True)
        assert waiting(store) == [3.0]
        assert store.outbox_size() == 2
