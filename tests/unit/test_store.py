"""The SQLite store, on real database files."""

from __future__ import annotations

import json
import math
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.ingest.dedupe import SequenceDeduper
from agent.ingest.reading import Reading
from agent.store.audit import AuditRecord, Origin, Outcome, Verdict
from agent.store.migrations import LATEST, StoreError, migrate
from agent.store.store import SERIAL_SEQS_PER_DEVICE, Device, OutboxRow, Store, WriteResult


def reading(ts: float, device: str = "node-0001", channel: str = "temperature", seq: int | None = None) -> Reading:
    return Reading(device, channel, ts, 20.0 + ts / 100, "°C", "serial" if seq is not None else "zigbee", seq)


def audit_record(n: int) -> AuditRecord:
    """A blocked request: final at once, so it goes to the outbox when stored."""
    return AuditRecord(
        id=0, ts=float(n), app="test", origin=Origin.APP, zone="z", device="d", attribute="a",
        requested=n, sent=None, verdict=Verdict.BLOCKED, rules=("RateLimit",), why="w", reason=f"r{n}",
        outcome=Outcome.NOT_SENT, outcome_ts=float(n), attempts=0, detail="",
    )


def raw(path: Path) -> sqlite3.Connection:
    """A second, independent connection: what an operator's sqlite3 CLI would see."""
    return sqlite3.connect(path, isolation_level=None)


# -- readings ----------------------------------------------------------------


def test_readings_round_trip_and_filter(tmp_path: Path) -> None:
    batch = [reading(t, device=d, channel=c) for t in (3.0, 1.0, 2.0) for d in ("a", "b") for c in ("t", "h")]
    with Store.open(tmp_path / "gw.db") as store:
        result = store.write_batch(batch, now=100.0)
        assert result == WriteResult(inserted=12, duplicates=0, outbox_added=0, outbox_dropped=0)
        assert store.count_readings() == 12
        assert sorted(store.readings(), key=lambda r: (r.ts, r.device, r.channel)) == sorted(
            batch, key=lambda r: (r.ts, r.device, r.channel)
        )
        assert [r.ts for r in store.readings()] == sorted(r.ts for r in batch)
        point = store.readings(device="a", channel="h", since=1.5, until=3.0)
        assert point == [reading(2.0, "a", "h"), reading(3.0, "a", "h")]
        first_three = [reading(1.0, "a", "t"), reading(1.0, "b", "t"), reading(2.0, "a", "t")]
        assert store.readings(channel="t", limit=3) == first_three


finite = st.floats(allow_nan=False, allow_infinity=False)
names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(names, names, finite, finite, st.none() | st.integers(0, 65535)), max_size=20))
def test_any_finite_reading_comes_back_exactly(rows: list[tuple[str, str, float, float, int | None]]) -> None:
    batch = [Reading(d, c, ts, v, "u", "serial", seq) for d, c, ts, v, seq in rows]
    unique = {(r.device, r.channel, r.ts): r for r in reversed(batch)}  # the first copy wins
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "gw.db") as store:
        result = store.write_batch(batch, now=1.0)
        assert (result.inserted, result.duplicates) == (len(unique), len(batch) - len(unique))
        def key(r: Reading) -> tuple[str, str, float]:
            return (r.device, r.channel, r.ts)

        # == rather than repr: SQLite keeps -0.0 as 0.0, which no reader can tell apart
        assert sorted(store.readings(), key=key) == sorted(unique.values(), key=key)


def test_non_finite_values_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        bad = Reading("node-0001", "temperature", 5.0, math.nan, "°C", "serial", 1)
        with pytest.raises(ValueError, match="node-0001/temperature"):
            store.write_batch([reading(1.0), bad], now=1.0)
        assert store.count_readings() == 0


def test_a_failed_batch_leaves_nothing_behind(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        good = [reading(float(t)) for t in range(1100)]  # more than one INSERT statement
        bad = good[-1]._replace(ts=5000.0, unit=["not", "bindable"])
        with pytest.raises(StoreError):
            store.write_batch([*good, bad], now=1.0, forward=True)  # the second statement fails
        assert store.count_readings() == 0
        assert store.outbox_size() == 0 == store.readings_waiting()
        assert store.devices() == []
        assert store.write_batch(good, now=2.0, forward=True).outbox_added == 1100
        assert store.outbox_size() == 1100


# -- idempotence -------------------------------------------------------------


def test_storing_the_same_batch_twice_stores_and_forwards_it_once(tmp_path: Path) -> None:
    batch = [reading(float(t), seq=t) for t in range(5)]
    with Store.open(tmp_path / "gw.db") as store:
        first = store.write_batch(batch, now=10.0, forward=True)
        again = store.write_batch(batch, now=11.0, forward=True)
        assert first == WriteResult(inserted=5, duplicates=0, outbox_added=5, outbox_dropped=0)
        assert again == WriteResult(inserted=0, duplicates=5, outbox_added=0, outbox_dropped=0)
        assert store.count_readings() == 5
        assert store.count_duplicate_readings() == 0
        assert waiting_points(store) == [(r.point, r.ts) for r in batch]


def test_only_new_readings_of_a_mixed_batch_are_forwarded(tmp_path: Path) -> None:
    old = reading(1.0)
    new = reading(2.0)
    with Store.open(tmp_path / "gw.db") as store:
        store.write_batch([old], now=1.0, forward=True)
        result = store.write_batch([old, new, new, reading(3.0)], now=2.0, forward=True)
        assert result == WriteResult(inserted=2, duplicates=2, outbox_added=2, outbox_dropped=0)
        assert [ts for _, ts in waiting_points(store)] == [1.0, 2.0, 3.0]


def test_without_forwarding_nothing_waits_for_upstream(tmp_path: Path) -> None:
    """A gateway without upstream keeps no backlog, not even one forwarded readings left behind."""
    with Store.open(tmp_path / "gw.db") as store:
        store.write_batch([reading(1.0)], now=1.0, forward=True)
        assert store.outbox_size() == 1
        assert store.write_batch([reading(2.0)], now=2.0).outbox_added == 0
        assert store.outbox_size() == 0 == len(store.reading_chunks(10, 10))
        assert store.count_readings() == 2
        assert store.outbox_dropped_total == 0


def test_the_duplicate_check_looks_at_the_data_itself(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    with Store.open(path) as store:
        store.write_batch([reading(1.0), reading(2.0)], now=1.0)
    conn = raw(path)
    conn.execute("DROP INDEX readings_point_ts")  # what a broken schema would allow
    conn.execute("INSERT INTO readings (device, channel, ts, value, unit, source, received_ts) "
                 "SELECT device, channel, ts, value, unit, source, received_ts FROM readings WHERE ts = 1.0")
    conn.close()
    with Store.open(path) as store:
        assert store.count_readings() == 3
        assert store.count_duplicate_readings() == 1


# -- outbox ------------------------------------------------------------------


def waiting_points(store: Store) -> list[tuple[str, float]]:
    """(point, ts) of every reading waiting for upstream, oldest first, from the chunks' JSON."""
    chunks = store.reading_chunks(1_000_000, 1_000_000)
    items = sorted((i, item) for c in chunks for i, item in zip(c.id_list(), json.loads(f"[{c.items}]")))
    return [(item["point"], item["ts"]) for _, item in items]


def test_outbox_rows_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    with Store.open(path, outbox_max_rows=4) as store:
        for n in range(6):
            store.add_audit(audit_record(n), "up/audit")
        store.outbox_delete([store.outbox_peek(1)[0].id])
        before = store.outbox_peek(10)
    with Store.open(path, outbox_max_rows=4) as store:
        assert store.outbox_peek(10) == before
        assert len(before) == 3 and all(isinstance(row, OutboxRow) for row in before)
        assert [json.loads(row.item)["reason"] for row in before] == ["r3", "r4", "r5"]
        assert store.outbox_size() == 3
        assert store.outbox_dropped_total == 2


def test_deleting_unknown_outbox_ids_changes_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        store.add_audit(audit_record(1), "up/audit")
        assert store.outbox_delete([12345]) == 0
        assert store.outbox_delete([]) == 0
        assert store.outbox_size() == 1



# -- restart -----------------------------------------------------------------


def test_a_restart_keeps_readings_and_serial_duplicate_memory(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    total = SERIAL_SEQS_PER_DEVICE + 88
    with Store.open(path) as store:
        for start in range(0, total, 100):
            batch = [
                reading(float(s), device=dev, channel=ch, seq=s)
                for s in range(start, min(start + 100, total))
                for dev in ("node-0001", "node-0002")
                for ch in ("temperature", "humidity")
            ]
            store.write_batch(batch, now=float(start))
        store.write_batch([reading(1.0, device="zb-1")], now=9.0)  # no seq: not remembered
    with Store.open(path) as store:
        assert store.count_readings() == total * 4 + 1
        assert store.readings(device="node-0002", channel="humidity", limit=1) == [
            reading(0.0, device="node-0002", channel="humidity", seq=0)
        ]
        kept = store.recent_serial_seqs(limit_per_device=10_000)
        assert set(kept) == {"node-0001", "node-0002"}
        assert kept["node-0001"] == list(range(total - SERIAL_SEQS_PER_DEVICE, total))
        recent = store.recent_serial_seqs()
        assert recent["node-0002"] == list(range(total - 256, total))
        deduper = SequenceDeduper()
        deduper.load(recent)
        assert deduper.is_duplicate("node-0001", total - 1)
        assert not deduper.is_duplicate("node-0001", total)


def test_a_repeated_sequence_number_keeps_its_place(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        store.write_batch([reading(1.0, seq=7), reading(2.0, seq=8)], now=1.0)
        store.write_batch([reading(3.0, seq=7), reading(4.0, seq=9)], now=2.0)
        assert store.recent_serial_seqs() == {"node-0001": [7, 8, 9]}


# -- durability and schema ---------------------------------------------------


def test_the_database_is_in_wal_mode_and_healthy(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    with Store.open(path) as store:
        store.write_batch([reading(1.0)], now=1.0)
        assert store.integrity_check() == "ok"
        conn = raw(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0] == 1  # committed, visible
        conn.close()


def test_a_version_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = raw(path)
    assert migrate(conn, target=1) == 1
    conn.execute("INSERT INTO readings (device, channel, ts, value, unit, source, seq, received_ts) "
                 "VALUES ('node-0001', 'temperature', 5.0, 21.5, '°C', 'serial', 3, 6.0)")
    conn.close()
    with Store.open(path) as store:
        assert store.readings() == [Reading("node-0001", "temperature", 5.0, 21.5, "°C", "serial", 3)]
        store.write_batch([reading(6.0, seq=4)], now=7.0)
        assert store.recent_serial_seqs() == {"node-0001": [4]}
    conn = raw(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST > 1
    conn.close()


def test_a_database_from_a_newer_edgewise_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = raw(path)
    migrate(conn)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    with pytest.raises(StoreError, match=rf"future\.db.*version {LATEST + 1} is newer"):
        Store.open(path)
    conn = raw(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST + 1
    conn.close()


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "no-such-dir" / "gw.db"
    with pytest.raises(StoreError, match=r"no-such-dir/gw\.db.*unable to open"):
        Store.open(path)
    assert not path.parent.exists()


def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=str(tmp_path)):
        Store.open(tmp_path)


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    content = b"these are not the readings you are looking for\n" * 200
    path.write_bytes(content)
    with pytest.raises(StoreError, match=r"notes\.txt.*not a database"):
        Store.open(path)
    assert path.read_bytes() == content


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "gw.db")
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.count_readings()
    with pytest.raises(StoreError, match="closed"):
        store.write_batch([reading(1.0)], now=1.0)


# -- events and devices ------------------------------------------------------


def test_events_are_logged_with_their_detail(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    with Store.open(path) as store:
        store.write_batch([], events=[(5.0, "availability", "zb-1", {"online": False})], now=5.0)
        store.log_event(6.0, "stale", "node-0001/temperature", {"stale": True, "after_s": 900})
        store.log_event(7.0, "stale", "node-0001/temperature", {"stale": False})
    with Store.open(path) as store:
        stale = store.events("stale")
        assert [(e.ts, e.subject, e.detail) for e in stale] == [
            (6.0, "node-0001/temperature", {"stale": True, "after_s": 900}),
            (7.0, "node-0001/temperature", {"stale": False}),
        ]
        assert [e.kind for e in store.events()] == ["availability", "stale", "stale"]
        assert store.events("nothing") == []


def test_devices_are_tracked_from_readings_and_availability(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        store.write_batch([reading(1.0, seq=1), reading(1.0, device="zb-1")], now=100.0)
        store.write_batch([reading(2.0, seq=2)], now=160.0)
        store.set_availability("zb-1", False, 170.0)
        store.set_availability("zb-2", True, 180.0)
        assert store.devices() == [
            Device("node-0001", "serial", None, 100.0, 160.0, None),
            Device("zb-1", "zigbee", None, 100.0, 100.0, False),
            Device("zb-2", None, None, 180.0, None, True),
        ]


def test_configured_rooms_are_written_and_ingest_keeps_them(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        store.write_batch([reading(1.0, seq=1)], None, now=5.0)
        store.set_rooms({"node-0001": "kitchen", "kitchen-thermostat": "kitchen", "spare": None})
        store.write_batch([reading(2.0, seq=2)], None, now=6.0)
        devices = {d.name: d for d in store.devices()}
    assert devices["node-0001"].room == "kitchen"
    assert (devices["node-0001"].source, devices["node-0001"].last_seen) == ("serial", 6.0)
    assert devices["kitchen-thermostat"].room == "kitchen" and devices["kitchen-thermostat"].last_seen is None
    assert devices["spare"].room is None
