"""Schema migrations for the gateway database.

The schema version is ``PRAGMA user_version``: it lives in the database header,
costs nothing to read and changes inside the same transaction as the schema, so a
migration that fails half-way leaves neither new tables nor a new version behind.
Migrations are append-only: a released script is never edited, a change is a new
script at the end of :data:`MIGRATIONS`.
"""

from __future__ import annotations

import sqlite3


class StoreError(Exception):
    """The store cannot do what was asked; the message says which file and why."""


MIGRATIONS: tuple[str, ...] = (
    # 1: readings, devices, the event log and the upstream outbox.
    """
    CREATE TABLE readings (
        id          INTEGER PRIMARY KEY,
        device      TEXT    NOT NULL,
        channel     TEXT    NOT NULL,
        ts          REAL    NOT NULL,
        value       REAL    NOT NULL,
        unit        TEXT    NOT NULL,
        source      TEXT    NOT NULL,
        seq         INTEGER,
        received_ts REAL    NOT NULL
    );
    -- One row per (point, event time): what makes storing exactly-once.  It is
    -- also the index for time-range queries of one point.  No index on ts alone:
    -- every index is paid for on each insert, and site-wide scans are rare.
    CREATE UNIQUE INDEX readings_point_ts ON readings (device, channel, ts);

    CREATE TABLE devices (
        name       TEXT PRIMARY KEY,
        source     TEXT,
        room       TEXT,
        first_seen REAL,
        last_seen  REAL,
        available  INTEGER NULL
    );

    CREATE TABLE events (
        id      INTEGER PRIMARY KEY,
        ts      REAL,
        kind    TEXT,
        subject TEXT,
        detail  TEXT  -- JSON
    );
    CREATE INDEX events_kind_ts ON events (kind, ts);

    -- AUTOINCREMENT: ids never go backwards even after the newest rows were
    -- published and deleted, so "oldest first" is simply "smallest id first".
    CREATE TABLE outbox (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        topic      TEXT NOT NULL,
        item       TEXT NOT NULL,
        created_ts REAL NOT NULL
    );
    """,
    # 2: serial sequence memory (duplicate detection across restarts) and a
    # key/value table for counters that must survive restarts.
    """
    CREATE TABLE serial_seqs (
        device TEXT,
        seq    INTEGER,
        ts     REAL,
        PRIMARY KEY (device, seq)
    );
    -- Ordered by rowid within a device: finds the newest/oldest seqs of a device.
    CREATE INDEX serial_seqs_device ON serial_seqs (device);

    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value
    );
    """,
    # 3: the audit trail of every command request (agent/store/audit.py) and the
    # setpoint overrides occupants set, which must survive a restart.
    """
    CREATE TABLE audit (
        id         INTEGER PRIMARY KEY,
        ts         REAL    NOT NULL,  -- event time of the decision
        app        TEXT    NOT NULL,
        origin     TEXT    NOT NULL,  -- app, user or failsafe
        zone       TEXT,
        device     TEXT    NOT NULL,
        attribute  TEXT    NOT NULL,
        requested  TEXT    NOT NULL,  -- JSON
        sent       TEXT,              -- JSON; NULL when blocked
        verdict    TEXT    NOT NULL,  -- allowed, modified or blocked
        rules      TEXT    NOT NULL,  -- rule names that acted, comma-separated
        why        TEXT    NOT NULL,
        reason     TEXT    NOT NULL,
        outcome    TEXT    NOT NULL,
        outcome_ts REAL,
        attempts   INTEGER NOT NULL,
        detail     TEXT    NOT NULL
    );
    CREATE INDEX audit_ts ON audit (ts);
    CREATE INDEX audit_device_ts ON audit (device, ts);

    CREATE TABLE overrides (
        id         INTEGER PRIMARY KEY,
        zone       TEXT NOT NULL,
        attribute  TEXT NOT NULL,
        value      TEXT NOT NULL,  -- JSON
        set_ts     REAL NOT NULL,
        expires_ts REAL NOT NULL,
        by         TEXT NOT NULL,
        cleared_ts REAL,
        cleared_by TEXT
    );
    CREATE INDEX overrides_zone_attribute ON overrides (zone, attribute);
    """,
    # 4: access tokens of the thermostat page (agent/store/tokens.py): only a
    # token's SHA-256 is kept; revoked tokens keep their row for the audit trail.
    """
    CREATE TABLE web_tokens (
        sha256     TEXT PRIMARY KEY,  -- hex SHA-256 of the token
        zone       TEXT NOT NULL,
        created_ts REAL NOT NULL,
        label      TEXT NOT NULL DEFAULT '',
        revoked_ts REAL
    );
    """,
    # 5: detected faults ranked by wasted energy (agent/store/faults.py): one row
    # per room and kind, updated when a later detection run sees it again.
    """
    CREATE TABLE faults (
        id                INTEGER PRIMARY KEY,
        room              TEXT NOT NULL,
        kind              TEXT NOT NULL,
        first_seen        REAL NOT NULL,  -- event time of the first flagged day
        last_seen         REAL NOT NULL,  -- event time of the run that last confirmed it
        waste_kwh_per_day REAL NOT NULL,
        detectors         TEXT NOT NULL,  -- model, cluster, rules; comma-separated
        evidence          TEXT NOT NULL,
        UNIQUE (room, kind)
    );
    """,
    # 6: readings wait for upstream in their own table, after a cursor
    # (agent/store/forwarding.py).  Readings an older edgewise already queued in
    # the outbox table stay there and are forwarded from it; the cursor starts
    # after them, so none goes twice.
    """
    INSERT INTO meta (key, value)
    SELECT 'upstream_cursor', COALESCE(MAX(id), 0) FROM readings WHERE true
    ON CONFLICT (key) DO NOTHING;
    """,
    # 7: a fault a person marked repaired (``edgewise faults --repaired``); found
    # again after that, it is reopened and alerted again.
    """
    ALTER TABLE faults ADD COLUMN repaired_ts REAL;
    ALTER TABLE faults ADD COLUMN repaired_by TEXT;
    """,
)

LATEST = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The version recorded in the database header (0 for a new file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, *, target: int = LATEST) -> int:
    """Bring the database up to ``target``, one transaction per migration.

    ``conn`` must be in autocommit mode (``isolation_level=None``).  The version is
    re-read inside each write transaction, so two processes opening the same new
    file cannot apply a migration twice.  A database newer than this code is
    refused: running old code on it could silently misread or damage the data.
    Returns the version the database ends at.
    """
    if not 0 <= target <= LATEST:
        raise ValueError(f"target must be between 0 and {LATEST}, got {target}")
    current = _refuse_newer(conn)
    for version in range(current + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _refuse_newer(conn) < version:
                for statement in _statements(MIGRATIONS[version - 1]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)


def _refuse_newer(conn: sqlite3.Connection) -> int:
    version = schema_version(conn)
    if version > LATEST:
        raise StoreError(
            f"database schema version {version} is newer than this edgewise understands "
            f"(latest known: {LATEST}); upgrade edgewise instead of opening it with an older one"
        )
    return version


def _statements(script: str) -> list[str]:
    """Split a migration script into complete statements.

    ``executescript`` would commit our transaction first, so each statement is run
    with ``execute`` inside the one we opened.
    """
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                statements.append(pending.strip())
            pending = ""
    if pending.strip() and not _only_comments(pending):
        raise ValueError(f"incomplete SQL at the end of a migration: {pending.strip()!r}")
    return statements


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())
