"""Rows of the ``faults`` table (agent/apps/faults/) and the SQL that reads and writes them.

One row per (room, kind): a fault that is seen again on a later run updates
its row (waste estimate, evidence, last seen) instead of adding one, so the
table is the current ranked list and an alert goes upstream once per fault.
A person marks a fault repaired (``edgewise faults --repaired``); if it is
stored again after that, it has come back: the row is reopened and alerted
again.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class FaultRow:
    room: str
    kind: str
    first_seen: float
    """Event time (Unix seconds) of the first day the fault was flagged."""
    last_seen: float
    """Event time of the detection run that last confirmed it."""
    waste_kwh_per_day: float
    detectors: tuple[str, ...]
    evidence: str
    id: int = 0
    repaired_ts: float | None = None
    """When a person marked it repaired (Unix seconds); None while it is open."""
    repaired_by: str | None = None

    def item(self) -> str:
        """The fault as the JSON alert sent upstream."""
        return json.dumps(
            {"id": self.id, "room": self.room, "kind": self.kind, "first_seen": self.first_seen,
             "last_seen": self.last_seen, "waste_kwh_per_day": self.waste_kwh_per_day,
             "detectors": list(self.detectors), "evidence": self.evidence,
             "repaired_ts": self.repaired_ts, "repaired_by": self.repaired_by},
            ensure_ascii=False, separators=(",", ":"), allow_nan=False,
        )


_COLUMNS = "id, room, kind, first_seen, last_seen, waste_kwh_per_day, detectors, evidence, repaired_ts, repaired_by"


def upsert_fault(conn: sqlite3.Connection, row: FaultRow) -> tuple[FaultRow, bool]:
    """Insert ``row`` or update the stored row of its room and kind; (stored row, whether it is new).

    ``first_seen`` of a known fault never moves later: it is when the fault was first seen.  A
    repaired fault stored again has come back: it is reopened from ``row.first_seen`` and counts
    as new (the caller decides whether what it found is from after the repair).
    """
    found = conn.execute(
        "SELECT id, first_seen, repaired_ts FROM faults WHERE room = ? AND kind = ?", (row.room, row.kind)
    ).fetchone()
    detectors = ",".join(row.detectors)
    if found is None:
        cursor = conn.execute(
            "INSERT INTO faults (room, kind, first_seen, last_seen, waste_kwh_per_day, detectors, evidence)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (row.room, row.kind, row.first_seen, row.last_seen, row.waste_kwh_per_day, detectors, row.evidence),
        )
        return _open(row, int(cursor.lastrowid or 0)), True
    fault_id, reopened = int(found[0]), found[2] is not None
    first_seen = row.first_seen if reopened else min(float(found[1]), row.first_seen)
    conn.execute(
        "UPDATE faults SET first_seen = ?, last_seen = ?, waste_kwh_per_day = ?, detectors = ?, evidence = ?,"
        " repaired_ts = NULL, repaired_by = NULL WHERE id = ?",
        (first_seen, row.last_seen, row.waste_kwh_per_day, detectors, row.evidence, fault_id),
    )
    return _open(replace(row, first_seen=first_seen), fault_id), reopened


def mark_repaired(conn: sqlite3.Connection, room: str, kind: str, ts: float, by: str) -> FaultRow | None:
    """Mark the stored fault repaired at ``ts`` by ``by``; the row, or None if there is no such fault."""
    conn.execute("UPDATE faults SET repaired_ts = ?, repaired_by = ? WHERE room = ? AND kind = ?",
                 (ts, by, room, kind))
    found = conn.execute(f"SELECT {_COLUMNS} FROM faults WHERE room = ? AND kind = ?", (room, kind)).fetchone()
    return None if found is None else _row(found)


def select_faults(conn: sqlite3.Connection) -> list[FaultRow]:
    """Every stored fault: open ones first, most wasted energy first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM faults ORDER BY repaired_ts IS NOT NULL, waste_kwh_per_day DESC, room, kind"
    ).fetchall()
    return [_row(r) for r in rows]


def _open(row: FaultRow, fault_id: int) -> FaultRow:
    return replace(row, id=fault_id, repaired_ts=None, repaired_by=None)


def _row(r: tuple[object, ...]) -> FaultRow:
    id_, room, kind, first, last, waste, detectors, evidence, repaired_ts, repaired_by = r
    return FaultRow(str(room), str(kind), float(first), float(last), float(waste),  # type: ignore[arg-type]
                    tuple(d for d in str(detectors).split(",") if d), str(evidence), int(id_),  # type: ignore[call-overload]
                    None if repaired_ts is None else float(repaired_ts),  # type: ignore[arg-type]
                    None if repaired_by is None else str(repaired_by))
