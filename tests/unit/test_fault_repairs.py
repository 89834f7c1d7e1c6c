"""Faults a person marks repaired: listed as such, kept repaired while the detection window still
holds the days from before the repair, reopened and alerted again when the fault comes back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from agent.apps.faults.detect import DetectedFault, confirmed_from
from agent.apps.faults.report import confirmed_after, faults_main, record, repaired_main
from agent.store.migrations import migrate
from agent.store.store import Store

DAY = 86400.0
D0 = 1767571200.0  # Monday 2026-01-05 00:00 UTC
TOPIC = "edgewise/gw1/faults"


def valve(*flagged_days: int, waste: float = 4.0) -> DetectedFault:
    """A leaking valve in room04 flagged on these days (numbers of days after D0)."""
    days = tuple(D0 + d * DAY for d in flagged_days)
    return DetectedFault("room04", "leaking_valve", days[0], waste, ("model",), "test", days)


def alerts(db: Path) -> list[dict[str, object]]:
    conn = sqlite3.connect(db)
    try:
        return [json.loads(item) for (item,) in conn.execute("SELECT item FROM outbox ORDER BY id")]
    finally:
        conn.close()


def test_a_repaired_fault_stays_repaired_until_it_is_confirmed_again_after_the_repair(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    with Store.open(db) as store:
        assert [r.kind for r in record(store, [valve(8, 9, 10)], D0 + 11 * DAY, TOPIC)] == ["leaking_valve"]
        repaired = store.mark_fault_repaired("room04", "leaking_valve", D0 + 11.5 * DAY, "alice")
        # The next runs still see the days before the repair, and one odd day after it: not back.
        assert record(store, [valve(8, 9, 10)], D0 + 12 * DAY, TOPIC) == []
        assert record(store, [valve(8, 9, 10, 13)], D0 + 14 * DAY, TOPIC) == []
        (still,) = store.faults()
        back = record(store, [valve(8, 9, 10, 13, 15)], D0 + 16 * DAY, TOPIC)
        (reopened,) = store.faults()
        events = store.events("fault_repaired")
    assert repaired is not None and (repaired.repaired_ts, repaired.repaired_by) == (D0 + 11.5 * DAY, "alice")
    assert still.repaired_ts == D0 + 11.5 * DAY and still.last_seen == D0 + 11 * DAY  # untouched
    # Days 13 and 15: two flagged days within three, the detectors' confirmation, from day 13.
    assert [(r.room, r.kind, r.first_seen) for r in back] == [("room04", "leaking_valve", D0 + 13 * DAY)]
    assert reopened.repaired_ts is None and reopened.first_seen == D0 + 13 * DAY
    assert [(a["kind"], a["first_seen"], a["repaired_ts"]) for a in alerts(db)] == [
        ("leaking_valve", D0 + 8 * DAY, None), ("leaking_valve", D0 + 13 * DAY, None)]  # alerted twice
    assert [(e.subject, e.detail) for e in events] == [("room04", {"kind": "leaking_valve", "by": "alice"})]


def test_the_list_shows_open_faults_first_and_who_repaired_what(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "gw.db"
    with Store.open(db) as store:
        small = DetectedFault("room02", "schedule", D0 + 8 * DAY, 1.0, ("rules",), "night heating", (D0 + 8 * DAY,))
        record(store, [valve(8, 9, waste=4.0), small], D0 + 10 * DAY, TOPIC)
    assert repaired_main(str(db), "/nonexistent.yaml", "room04", "leaking_valve", by="bob", now=D0 + 10.5 * DAY) == 0
    assert "room04 leaking_valve: marked repaired by bob at 2026-01-15 12:00 UTC" in capsys.readouterr().out
    assert faults_main(str(db), "/nonexistent.yaml", as_json=False) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in table if line[:4].strip().isdigit()] == ["room02", "room04"]
    assert table[-1].strip() == "repaired 2026-01-15 12:00 by bob"
    assert faults_main(str(db), "/nonexistent.yaml", as_json=True) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(f["room"], f["repaired_by"]) for f in listed] == [("room02", None), ("room04", "bob")]


def test_marking_an_unknown_fault_or_database_says_what_exists(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "gw.db"
    with Store.open(db) as store:
        record(store, [valve(8, 9)], D0 + 10 * DAY, None)
    assert repaired_main(str(db), "/nonexistent.yaml", "room04", "schedule") == 2
    assert "no fault 'schedule' in room 'room04' is recorded; recorded: room04 leaking_valve" in capsys.readouterr().err
    assert repaired_main(str(tmp_path / "nope.db"), "/nonexistent.yaml", "room04", "schedule") == 2
    assert "does not exist" in capsys.readouterr().err
    with Store.open(db) as store:
        assert store.faults()[0].repaired_ts is None and store.events("fault_repaired") == []


def test_a_database_from_before_repairs_gains_the_columns_and_keeps_its_faults(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=6)
    conn.execute("INSERT INTO faults (room, kind, first_seen, last_seen, waste_kwh_per_day, detectors, evidence)"
                 " VALUES ('room01', 'schedule', 1.0, 2.0, 3.0, 'rules', 'e')")
    conn.close()
    with Store.open(path) as store:
        (row,) = store.faults()
    assert (row.room, row.kind, row.repaired_ts, row.repaired_by) == ("room01", "schedule", None, None)


@given(st.lists(st.booleans(), min_size=1, max_size=30), st.integers(0, 29), st.integers(1, 4))
def test_confirmation_after_a_repair_is_the_detectors_own_rule(flags: list[bool], since: int, confirm: int) -> None:
    flagged = np.array(flags)
    since = min(since, len(flags) - 1)
    expected = confirmed_from(flagged[None, since:], confirm)[0]
    days = [D0 + d * DAY for d in np.nonzero(flagged)[0]]
    got = confirmed_after(days, D0 + since * DAY, confirm)
    assert got == (None if expected < 0 else D0 + (since + expected) * DAY)


def test_an_open_fault_seen_again_is_updated_not_alerted_again(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        record(store, [valve(8, 9)], D0 + 10 * DAY, TOPIC)
        assert record(store, [valve(8, 9, 10)], D0 + 11 * DAY, TOPIC) == []  # seen again: updated, not new
        (row,) = store.faults()
    assert row.last_seen == D0 + 11 * DAY and row.first_seen == D0 + 8 * DAY


def test_repairs_are_per_room_and_kind(tmp_path: Path) -> None:
    kind = "leaking_valve"
    with Store.open(tmp_path / "gw.db") as store:
        other = DetectedFault("room03", kind, D0 + 8 * DAY, 2.0, ("model",), "t", (D0 + 8 * DAY, D0 + 9 * DAY))
        record(store, [valve(8, 9), other], D0 + 10 * DAY, TOPIC)
        store.mark_fault_repaired("room04", kind, D0 + 10.5 * DAY, "carol")
        rows = {r.room: r.repaired_ts for r in store.faults()}
    assert rows == {"room04": D0 + 10.5 * DAY, "room03": None}
