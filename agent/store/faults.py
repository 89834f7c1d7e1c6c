"""Rows of the ``faults`` table (agent/apps/faults/) and the SQL that reads and writes them.

One row per (room, kind): a fault that is seen again on a later run updates
its row (waste estimate, evidence, last seen) instead of adding one, so the
table is the current ranked list and an alert goes upstream once per fault.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass


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

    def item(self) -> str:
        """The fault as the JSON alert sent upstream."""
        return json.dumps(
            {"id": self.id, "room": self.room, "kind": self.kind, "first_seen": self.first_seen,
             "last_seen": self.last_seen, "waste_kwh_per_day": self.waste_kwh_per_day,
             "detectors": list(self.detectors), "evidence": self.evidence},
            ensure_ascii=False, separators=(",", ":"), allow_nan=False,
        )


_COLUMNS = "id, room, kind, first_seen, last_seen, waste_kwh_per_day, detectors, evidence"


def upsert_fault(conn: sqlite3.Connection, row: FaultRow) -> tuple[FaultRow, bool]:
    """Insert ``row`` or update the stored row of its room and kind; (stored row, whether it is new).

    ``first_seen`` of a known fault never moves later: it is when the fault was first seen.
    """
    found = conn.execute(
        "SELECT id, first_seen FROM faults WHERE room = ? AND kind = ?", (row.room, row.kind)
    ).fetchone()
    detectors = ",".join(row.detectors)
    if found is None:
        cursor = conn.execute(
            "INSERT INTO faults (room, kind, first_seen, last_seen, waste_kwh_per_day, detectors, evidence)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (row.room, row.kind, row.first_seen, row.last_seen, row.waste_kwh_per_day, detectors, row.evidence),
        )
        return FaultRow(row.room, row.kind, row.first_seen, row.last_seen, row.waste_kwh_per_day, row.detectors,
                        row.evidence, int(cursor.lastrowid or 0)), True
    fault_id, first_seen = int(found[0]), min(float(found[1]), row.first_seen)
    conn.execute(
        "UPDATE faults SET first_seen = ?, last_seen = ?, waste_kwh_per_day = ?, detectors = ?, evidence = ?"
        " WHERE id = ?",
        (first_seen, row.last_seen, row.waste_kwh_per_day, detectors, row.evidence, fault_id),
    )
    return FaultRow(row.room, row.kind, first_seen, row.last_seen, row.waste_kwh_per_day, row.detectors,
                    row.evidence, fault_id), False


def select_faults(conn: sqlite3.Connection) -> list[FaultRow]:
    """Every stored fault, most wasted energy first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM faults ORDER BY waste_kwh_per_day DESC, room, kind").fetchall()
    return [
        FaultRow(str(room), str(kind), float(first), float(last), float(waste),
                 tuple(d for d in str(detectors).split(",") if d), str(evidence), int(id_))
        for id_, room, kind, first, last, waste, detectors, evidence in rows
    ]
