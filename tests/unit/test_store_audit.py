"""The audit and overrides tables (migration 3), on real database files."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from agent.ingest.reading import Reading
from agent.store import AuditRecord, Origin, Outcome, Override, Store, Verdict
from agent.store.migrations import LATEST, migrate

T = 1_767_571_200.0


def record(requested: object = 30.0, **changes: object) -> AuditRecord:
    base = AuditRecord(
        id=0, ts=T, app="occupancy", origin=Origin.APP, zone="room01", device="room01_thermostat",
        attribute="occupied_heating_setpoint", requested=requested, sent=22.0, verdict=Verdict.MODIFIED,
        rules=("SetpointLimits",), why="setpoint 30 °C is above zone room01's limit 22 °C; sending 22 °C",
        reason="room is cold", outcome=Outcome.PENDING, outcome_ts=None, attempts=0, detail="",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_request_is_one_row_from_pending_to_its_outcome(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        pending = store.add_audit(record())
        assert pending.id == 1 and store.outbox_size() == 0  # nothing goes upstream before the outcome
        done = replace(pending, outcome=Outcome.CONFIRMED, outcome_ts=T + 2, attempts=1, detail="confirmed")
        store.finish_audit(done, "edgewise/gw/audit")
        assert store.audit() == [done]
        (row,) = store.outbox_peek(10)
    assert row.topic == "edgewise/gw/audit"
    item = json.loads(row.item)
    assert item["requested"] == 30.0 and item["sent"] == 22.0 and item["outcome"] == "confirmed"
    assert item["rules"] == ["SetpointLimits"] and item["outcome_ts"] == T + 2


@pytest.mark.parametrize(
    ("requested", "stored"),
    [(math.nan, "nan"), (-math.inf, "-inf"), (10**5000, "<integer of 16610 bits>"), ("warm", "warm"),
     (None, None), ([1, 2], "[1, 2]"), (True, True)],
    ids=["nan", "-inf", "huge", "text", "none", "list", "bool"],
)
def test_any_requested_value_is_kept_readably(tmp_path: Path, requested: object, stored: object) -> None:
    blocked = record(requested, sent=None, verdict=Verdict.BLOCKED, outcome=Outcome.NOT_SENT, outcome_ts=T)
    with Store.open(tmp_path / "gw.db") as store:
        store.add_audit(blocked, "edgewise/gw/audit")  # final at once: queued upstream too
        (row,) = store.audit()
        (queued,) = store.outbox_peek(10)
    assert row.requested == stored and row.sent is None and row.outcome is Outcome.NOT_SENT
    assert json.loads(queued.item)["requested"] == stored


def test_audit_filters(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        for i, device in enumerate(["a", "b", "a"]):
            store.add_audit(record(device=device, ts=T + i, app=f"app{i}"))
        assert [r.ts for r in store.audit(device="a")] == [T, T + 2]
        assert [r.app for r in store.audit(since=T + 1)] == ["app1", "app2"]
        assert [r.app for r in store.audit(until=T + 1, limit=1)] == ["app0"]


def test_audit_rows_count_towards_the_outbox_bound(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db", outbox_max_rows=2) as store:
        for i in range(3):
            store.add_audit(record(ts=T + i, outcome=Outcome.NOT_SENT, outcome_ts=T + i), "up/audit")
        assert store.outbox_size() == 2 and store.outbox_dropped_total == 1


def test_overrides_replace_and_clear(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        first = store.save_override(Override("room01", "occupied_heating_setpoint", 21.5, T, T + 100, "web"))
        second = store.save_override(Override("room01", "occupied_heating_setpoint", 22.0, T + 10, T + 200, "web"))
        other = store.save_override(Override("room02", "occupied_heating_setpoint", 20.0, T, T + 50, "web"))
        assert store.overrides(active_at=T + 20) == [second, other]
        assert store.overrides(active_at=T + 60) == [second]  # room02's expired on event time
        assert store.overrides()[0] == replace(first, cleared_ts=T + 10, cleared_by="web")
        assert store.clear_override("room01", "occupied_heating_setpoint", T + 70, "desk") == [second]
        assert store.clear_override("room01", "occupied_heating_setpoint", T + 80, "desk") == []
        assert store.overrides(active_at=T + 70) == []


def test_migration_3_keeps_what_version_2_stored(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=2) == 2  # a database written before the audit trail existed
    conn.execute(
        "INSERT INTO readings (device, channel, ts, value, unit, source, seq, received_ts)"
        " VALUES ('node-0001', 'temperature', ?, 20.5, '°C', 'serial', 1, ?)",
        (T, T),
    )
    conn.close()
    with Store.open(path) as store:
        assert store.readings() == [Reading("node-0001", "temperature", T, 20.5, "°C", "serial", 1)]
        assert store.audit() == [] and store.overrides() == []
        store.add_audit(record())
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST >= 3
    assert conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == 1
    conn.close()
