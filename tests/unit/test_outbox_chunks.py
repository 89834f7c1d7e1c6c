"""How outbox rows become upstream messages: grouped per topic, order kept, bounded size.

The outbox holds audit records, fault alerts and readings an older edgewise
queued there.  The chunks SQLite builds are checked against the Python
reference on a real database, and deleting published chunks removes exactly
their rows.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.store import OutboxChunk, OutboxRow, Store
from agent.store.outbox_chunks import chunk_rows, in_order, joined_ids
from agent.upstream.publisher import chunk_payload

devices = st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=120)


def fill(path: Path, names: list[str], start: int = 0) -> None:
    """One outbox row per name, in that order, as the agent queues them (with the store closed)."""
    Store.open(path).close()  # create and migrate
    conn = sqlite3.connect(path, isolation_level=None)
    rows = [(f"edgewise/gw/readings/{d}", json.dumps({"point": f"{d}/t", "n": start + i}), 1.0) for i, d in enumerate(names)]
    conn.executemany("INSERT INTO outbox (topic, item, created_ts) VALUES (?, ?, ?)", rows)
    conn.close()


@settings(max_examples=60, deadline=None)
@given(devices, devices, st.integers(0, 25), st.integers(1, 150), st.integers(1, 17))
def test_sqlite_chunks_equal_the_reference_and_keep_order(
    first: list[str], second: list[str], published: int, limit: int, size: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gw.db"
        fill(path, first)
        with Store.open(path) as store:
            store.outbox_delete(row.id for row in store.outbox_peek(published))  # ids no longer start at 1
        fill(path, second, start=len(first))
        store = Store.open(path)
        window = store.outbox_peek(limit)
        chunks = store.outbox_chunks(limit, size)

        assert chunks == chunk_rows(window, size)
        assert sorted(i for c in chunks for i in json.loads(c.ids)) == [row.id for row in window]
        for chunk in chunks:
            assert 1 <= chunk.count <= size
            ids = json.loads(chunk.ids)
            assert len(ids) == chunk.count and ids == sorted(ids)
            rows = {row.id: row for row in window}
            assert {rows[i].topic for i in ids} == {chunk.topic}
            assert json.loads(f"[{chunk.items}]") == [json.loads(rows[i].item) for i in ids]
        for topic in {row.topic for row in window}:  # a device's chunks come in its order
            ids = [i for c in chunks if c.topic == topic for i in json.loads(c.ids)]
            assert ids == sorted(ids)
        store.close()


@settings(max_examples=30, deadline=None)
@given(devices, st.integers(1, 9), st.data())
def test_deleting_published_chunks_removes_exactly_their_rows(names: list[str], size: int, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fill(Path(tmp) / "gw.db", names)
        store = Store.open(Path(tmp) / "gw.db")
        chunks = store.outbox_chunks(1000, size)
        acked = data.draw(st.lists(st.sampled_from(chunks), unique_by=lambda c: c.ids) if chunks else st.just([]))
        gone = {i for c in acked for i in json.loads(c.ids)}

        assert store.outbox_delete_chunks(acked) == len(gone)
        assert [row.id for row in store.outbox_peek(1000)] == sorted(
            i for c in chunks for i in json.loads(c.ids) if i not in gone
        )
        assert store.outbox_size() == len(names) - len(gone)
        assert store.outbox_delete_chunks(acked) == 0  # a second delete finds nothing
        store.close()


def test_out_of_order_ids_are_detected() -> None:
    assert in_order([OutboxChunk("t", "1,2", "[3,7]", 2), OutboxChunk("u", "x", "[5]", 1)])
    assert not in_order([OutboxChunk("t", "1,2", "[7,3]", 2)])
    assert joined_ids([OutboxChunk("t", "1,2", "[3,7]", 2), OutboxChunk("u", "x", "[5]", 1)]) == "[3,7,5]"


def test_payload_is_json_with_the_gateway_device_and_readings() -> None:
    rows = [
        OutboxRow(1, "edgewise/gw/readings/node-0001", '{"point":"node-0001/co2","ts":1.0,"value":500.0,"unit":"ppm"}', 0.0),
        OutboxRow(4, "edgewise/gw/readings/node-0001", '{"point":"node-0001/co2","ts":2.0,"value":510.0,"unit":"ppm"}', 0.0),
    ]
    (chunk,) = chunk_rows(rows, 10)
    assert json.loads(chunk_payload(chunk, "gw")) == {
        "gateway": "gw",
        "device": "node-0001",
        "readings": [
            {"point": "node-0001/co2", "ts": 1.0, "value": 500.0, "unit": "ppm"},
            {"point": "node-0001/co2", "ts": 2.0, "value": 510.0, "unit": "ppm"},
        ],
    }


def test_audit_records_travel_as_records_not_as_readings() -> None:
    rows = [OutboxRow(2, "edgewise/gw/audit", '{"id":7,"device":"room01_thermostat","sent":19.0}', 0.0)]
    (chunk,) = chunk_rows(rows, 10)
    assert json.loads(chunk_payload(chunk, "gw")) == {
        "gateway": "gw", "records": [{"id": 7, "device": "room01_thermostat", "sent": 19.0}],
    }
