"""Rows of the ``audit`` and ``overrides`` tables, and the SQL that reads and writes them.

The vocabulary of a command's life (:class:`Origin`, :class:`Verdict`,
:class:`Outcome`) is defined here, beside the rows that hold it, so the store
does not import the layers above it; ``agent.guardrails`` and
``agent.actuation`` re-export these names.

Values (what an app asked for, what was sent, an override's value) are kept as
JSON text.  An app may ask for anything, NaN or a huge integer included, and the
audit row must still say what it asked: values JSON cannot hold are stored as
their text (``"nan"``, ``"inf"``, a ``repr``).
"""

from __future__ import annotations

import json
import math
import numbers
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from agent.store.query import filtered_select


class Origin(StrEnum):
    """Who asked for a command."""

    APP = "app"
    """An app (occupancy control, a scheduler ...): subject to every rule."""
    USER = "user"
    """An occupant overriding a setpoint: sets a hold that apps must respect."""
    FAIL_SAFE = "failsafe"
    """The stale-sensor fail-safe returning a zone to its safe schedule."""


class Verdict(StrEnum):
    ALLOWED = "allowed"
    MODIFIED = "modified"
    """Sent, but with a different value than asked (e.g. clamped to a limit)."""
    BLOCKED = "blocked"


class Outcome(StrEnum):
    """What happened to a request after the guardrails decided."""

    PENDING = "pending"
    """Being sent.  A row left like this means the agent stopped mid-way."""
    NOT_SENT = "not_sent"
    """Blocked by the guardrails; nothing was sent."""
    ACKED = "acked"
    """Serial: the dongle acknowledged the command."""
    REJECTED = "rejected"
    """Serial: the dongle acknowledged it but refused it."""
    TIMEOUT = "timeout"
    """Serial: no acknowledgement after every retry."""
    CONFIRMED = "confirmed"
    """Zigbee: the device's state message showed the value."""
    UNCONFIRMED = "unconfirmed"
    """Zigbee: published, but no state message showed the value in time."""
    FAILED = "failed"
    """Could not be sent at all (broker unreachable, serial port closed, node unknown)."""

    @property
    def succeeded(self) -> bool:
        """The device is known to have the value."""
        return self in (Outcome.ACKED, Outcome.CONFIRMED)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One command request and everything that became of it: one ``audit`` row."""

    id: int
    """Row id; 0 before the row is stored."""
    ts: float
    """Event time of the guardrails' decision (Unix seconds)."""
    app: str
    origin: Origin
    zone: str | None
    device: str
    attribute: str
    requested: object
    """The value the app asked for, as it was given (see the module docstring)."""
    sent: object | None
    """The value sent to the device; ``None`` when blocked."""
    verdict: Verdict
    rules: tuple[str, ...]
    """Names of the guardrail rules that acted, in evaluation order."""
    why: str
    """The guardrails' explanation, for people."""
    reason: str
    """The requester's reason."""
    outcome: Outcome
    outcome_ts: float | None
    """Event time the outcome was known; ``None`` while pending."""
    attempts: int
    """Transmissions made (serial frames or MQTT publishes), retries included."""
    detail: str
    """What delivery found, e.g. ``no ack after 4 attempts``; empty when blocked."""

    def item(self) -> str:
        """The record as the JSON object sent upstream."""
        return json.dumps(
            {
                "id": self.id, "ts": self.ts, "app": self.app, "origin": str(self.origin), "zone": self.zone,
                "device": self.device, "attribute": self.attribute, "requested": jsonable(self.requested),
                "sent": jsonable(self.sent), "verdict": str(self.verdict), "rules": list(self.rules),
                "why": self.why, "reason": self.reason, "outcome": str(self.outcome),
                "outcome_ts": self.outcome_ts, "attempts": self.attempts, "detail": self.detail,
            },
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
        )


@dataclass(frozen=True, slots=True)
class Override:
    """An occupant's hold of one setpoint of a zone, until ``expires_ts`` (event time)."""

    zone: str
    attribute: str
    value: object
    set_ts: float
    expires_ts: float
    by: str
    """Who set it, e.g. ``token:<first 6 hex digits of its hash>`` for the thermostat page."""
    id: int = 0
    cleared_ts: float | None = None
    """When someone returned the zone to automatic before the hold expired."""
    cleared_by: str | None = None

    def active(self, now: float) -> bool:
        return self.cleared_ts is None and now < self.expires_ts


# -- values as JSON -----------------------------------------------------------

_MAX_INT_BITS = 256


def jsonable(value: object) -> object:
    """``value`` as something ``json.dumps(..., allow_nan=False)`` accepts, losing as little as possible."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        # Python refuses to print integers of more than 4300 digits; keep it short anyway.
        return value if value.bit_length() <= _MAX_INT_BITS else f"<integer of {value.bit_length()} bits>"
    if isinstance(value, numbers.Real):
        try:
            number = float(value)
        except (OverflowError, ValueError):
            return repr(value)[:200]
        return number if math.isfinite(number) else str(number)
    return repr(value)[:200]


def encode_value(value: object) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, allow_nan=False)


def decode_value(text: str | None) -> object:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


# -- SQL ----------------------------------------------------------------------

_AUDIT_COLUMNS = (
    "ts, app, origin, zone, device, attribute, requested, sent, verdict, rules, why, reason,"
    " outcome, outcome_ts, attempts, detail"
)
_AUDIT_COLUMNS_OF_A = ", ".join(f"a.{column.strip()}" for column in _AUDIT_COLUMNS.split(","))
"""The same columns of the table aliased ``a``, for queries that join it."""


def insert_audit(conn: sqlite3.Connection, record: AuditRecord) -> AuditRecord:
    """Insert ``record`` (its ``id`` is ignored); return it as stored: with the new
    row id and its values as they read back (NaN as ``"nan"``)."""
    requested = encode_value(record.requested)
    sent = None if record.sent is None else encode_value(record.sent)
    cursor = conn.execute(
        f"INSERT INTO audit ({_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.ts, record.app, str(record.origin), record.zone, record.device, record.attribute,
            requested, sent, str(record.verdict), ",".join(record.rules), record.why, record.reason,
            str(record.outcome), record.outcome_ts, record.attempts, record.detail,
        ),
    )
    return replace(record, id=int(cursor.lastrowid or 0), requested=decode_value(requested), sent=decode_value(sent))


def update_outcome(conn: sqlite3.Connection, record: AuditRecord) -> None:
    """Write a stored record's outcome, outcome time, attempts and detail."""
    updated = conn.execute(
        "UPDATE audit SET outcome = ?, outcome_ts = ?, attempts = ?, detail = ? WHERE id = ?",
        (str(record.outcome), record.outcome_ts, record.attempts, record.detail, record.id),
    ).rowcount
    if updated != 1:
        raise ValueError(f"no audit row {record.id} to update")


def select_audit(
    conn: sqlite3.Connection,
    *,
    since: float | None = None,
    until: float | None = None,
    device: str | None = None,
    zone: str | None = None,
    app: str | None = None,
    limit: int | None = None,
) -> list[AuditRecord]:
    """Audit rows in the order they were written; ``since`` <= ts <= ``until``."""
    filters = (("ts >= ?", since), ("ts <= ?", until), ("device = ?", device), ("zone = ?", zone), ("app = ?", app))
    sql, params = filtered_select(f"SELECT id, {_AUDIT_COLUMNS} FROM audit", filters, "id", limit)
    return [_audit_row(row) for row in conn.execute(sql, params).fetchall()]


def select_since_confirmed(conn: sqlite3.Connection, attributes: Sequence[str]) -> list[AuditRecord]:
    """Per (device, attribute) among ``attributes``: the sent rows from the last one the device
    confirmed (or from the first, if none was), in the order written.  What a device may hold now."""
    if not attributes:
        return []
    marks = ", ".join("?" * len(attributes))
    done = ", ".join(f"'{o.value}'" for o in Outcome if o.succeeded)
    # The last confirmed row of each target is found once, not once per row.
    sql = (
        "WITH confirmed AS (SELECT device, attribute, MAX(id) AS since FROM audit"
        f" WHERE verdict != 'blocked' AND attribute IN ({marks}) AND outcome IN ({done}) GROUP BY device, attribute)"
        f" SELECT a.id, {_AUDIT_COLUMNS_OF_A} FROM audit AS a"
        " LEFT JOIN confirmed AS c ON c.device = a.device AND c.attribute = a.attribute"
        f" WHERE a.verdict != 'blocked' AND a.attribute IN ({marks}) AND a.id >= COALESCE(c.since, 0)"
        " ORDER BY a.id"
    )
    return [_audit_row(row) for row in conn.execute(sql, [*attributes, *attributes]).fetchall()]


def _audit_row(row: Sequence[object]) -> AuditRecord:
    (id_, ts, app, origin, zone, device, attribute, requested, sent, verdict, rules, why, reason,
     outcome, outcome_ts, attempts, detail) = row
    return AuditRecord(
        id=int(id_),  # type: ignore[call-overload]
        ts=float(ts),  # type: ignore[arg-type]
        app=str(app),
        origin=Origin(origin),
        zone=None if zone is None else str(zone),
        device=str(device),
        attribute=str(attribute),
        requested=decode_value(requested),  # type: ignore[arg-type]
        sent=decode_value(sent),  # type: ignore[arg-type]
        verdict=Verdict(verdict),
        rules=tuple(r for r in str(rules).split(",") if r),
        why=str(why),
        reason=str(reason),
        outcome=Outcome(outcome),
        outcome_ts=None if outcome_ts is None else float(outcome_ts),  # type: ignore[arg-type]
        attempts=int(attempts),  # type: ignore[call-overload]
        detail=str(detail),
    )


_OVERRIDE_COLUMNS = "id, zone, attribute, value, set_ts, expires_ts, by, cleared_ts, cleared_by"


def insert_override(conn: sqlite3.Connection, override: Override) -> Override:
    """Store a new hold, first ending any hold of the same zone and attribute still open."""
    end_overrides(conn, override.zone, override.attribute, override.set_ts, override.by)
    cursor = conn.execute(
        "INSERT INTO overrides (zone, attribute, value, set_ts, expires_ts, by) VALUES (?, ?, ?, ?, ?, ?)",
        (override.zone, override.attribute, encode_value(override.value), override.set_ts, override.expires_ts,
         override.by),
    )
    return replace(override, id=int(cursor.lastrowid or 0))


def end_overrides(conn: sqlite3.Connection, zone: str, attribute: str, ts: float, by: str) -> list[Override]:
    """Mark the holds of ``zone``/``attribute`` still in force at ``ts`` as cleared; return them as they were."""
    open_ = [
        o for o in select_overrides(conn, zone=zone)
        if o.attribute == attribute and o.active(ts)
    ]
    if open_:
        conn.executemany(
            "UPDATE overrides SET cleared_ts = ?, cleared_by = ? WHERE id = ?",
            [(ts, by, o.id) for o in open_],
        )
    return open_


def select_overrides(
    conn: sqlite3.Connection, *, zone: str | None = None, active_at: float | None = None
) -> list[Override]:
    """Overrides oldest first; with ``active_at`` only those in force at that event time."""
    filters = (("zone = ?", zone), ("cleared_ts IS NULL AND expires_ts > ?", active_at))
    sql, params = filtered_select(f"SELECT {_OVERRIDE_COLUMNS} FROM overrides", filters, "id")
    rows = conn.execute(sql, params).fetchall()
    return [
        Override(str(z), str(a), decode_value(v), float(s), float(e), str(b), int(i),
                 None if c is None else float(c), None if cb is None else str(cb))
        for i, z, a, v, s, e, b, c, cb in rows
    ]
