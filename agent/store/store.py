"""The gateway's durable memory: readings, devices, events and what waits to go upstream.

One SQLite file, standard library only.  Readings wait for upstream in their
own table, after a cursor (agent/store/forwarding.py); audit records and fault
alerts wait in the ``outbox`` table.  Every call is one short transaction;
the writer batches readings so that one transaction (and one fsync) covers many
of them.  The agent makes its hot-path calls (batch commits, outbox reads and
deletes) on one dedicated :class:`StoreThread`, so SQLite's disk waits never
stall the event loop, and a few occasional ones (counts, the staleness event
log) from the loop itself: an internal lock keeps the two from interleaving.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial, wraps
from itertools import chain
from types import TracebackType
from typing import Concatenate, ParamSpec, TypeVar

from agent.ingest.reading import Reading
from agent.store import audit, forwarding, tokens
from agent.store import faults as fault_rows
from agent.store.audit import AuditRecord, Outcome, Override
from agent.store.migrations import StoreError, migrate
from agent.store.outbox_chunks import CHUNKS_SQL, OutboxChunk, OutboxRow, chunk_rows, in_order, joined_ids
from agent.store.query import filtered_select
from agent.store.faults import FaultRow
from agent.store.forwarding import ReadingChunk
from agent.store.tokens import WebToken

log = logging.getLogger(__name__)

SERIAL_SEQS_PER_DEVICE = 512
"""Sequence numbers kept per serial node; twice the deduper's default window."""

BUSY_TIMEOUT_MS = 5000
"""How long to wait for a lock held by another process (e.g. the sqlite3 CLI)."""

_DROPPED_KEY = "outbox_dropped_total"

_INSERT_READINGS = "INSERT OR IGNORE INTO readings (device, channel, ts, value, unit, source, seq, received_ts) VALUES "
_INSERT_OUTBOX = "INSERT INTO outbox (topic, item, created_ts) VALUES "
_OUTBOX_ROWS = "SELECT COUNT(*) FROM outbox"
ROWS_PER_STATEMENT = 1024
"""Most rows one multi-row INSERT or DELETE carries (fewer if SQLite allows fewer parameters).

``executemany`` runs one ``sqlite3_step`` per row and takes the GIL back after
each; with the event loop busy on the other thread, every hand-back waits (up
to the 5 ms switch interval), and a commit took ten times as long.  A statement
of many rows runs without the GIL.  Statements carry a power-of-two number of
rows, so the connection's statement cache holds a few sizes (about 2 MB), not
one big statement per batch size (over 100 MB)."""
_INSERT_DEVICES = "INSERT INTO devices (name, source, first_seen, last_seen) VALUES "
_ON_DEVICE_CONFLICT = " ON CONFLICT (name) DO UPDATE SET source = excluded.source, last_seen = excluded.last_seen"
_INSERT_SEQS = "INSERT OR IGNORE INTO serial_seqs (device, seq, ts) VALUES "
_PRUNE_SEQS = (
    "DELETE FROM serial_seqs WHERE device = ?1 AND rowid <= ("
    " SELECT rowid FROM serial_seqs WHERE device = ?1 ORDER BY rowid DESC LIMIT 1 OFFSET ?2)"
)

EventRow = tuple[float, str, str, object]

_P = ParamSpec("_P")
_T = TypeVar("_T")


class StoreThread:
    """The one thread on which the agent runs its blocking store calls.

    SQLite releases the GIL inside ``sqlite3_step`` and while it waits for
    ``fsync``, so a commit running here overlaps with the event loop receiving
    the next messages instead of stalling it.  One explicit, named thread rather
    than the loop's default pool: calls run strictly in submission order (a
    batch's commit never overtakes the one before it), and the thread shows up
    as ``edgewise-store`` in ``py-spy`` and ``top -H``.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgewise-store")

    async def call(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run ``fn`` on the store thread; the awaiting task resumes once it returned.

        Cancelling the awaiting task does not stop a call already running: it
        finishes, and :meth:`shutdown` waits for it.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))

    def submit(self, fn: Callable[_P, object], *args: _P.args, **kwargs: _P.kwargs) -> None:
        """Queue ``fn`` on the store thread without waiting for it (after the calls queued before).

        For writes nothing waits on, from code that cannot await; a failure is logged.
        :meth:`shutdown` still runs it.
        """
        self._executor.submit(fn, *args, **kwargs).add_done_callback(_log_failure)

    def shutdown(self) -> None:
        """Wait for the call in progress, then stop the thread.  Idempotent.

        Call before :meth:`Store.close`, so no commit can find the store closed.
        """
        self._executor.shutdown(wait=True)


def _log_failure(done: Future[object]) -> None:
    if not done.cancelled() and (exc := done.exception()) is not None:
        log.error("a store write queued without a waiter failed: %s", exc, exc_info=exc)


def _locked(method: Callable[Concatenate[Store, _P], _T]) -> Callable[Concatenate[Store, _P], _T]:
    """Run a :class:`Store` method under the store's lock."""

    @wraps(method)
    def locked(self: Store, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one :meth:`Store.write_batch` did."""

    inserted: int
    duplicates: int
    """Readings already stored (same device, channel and ts), ignored."""
    outbox_added: int
    """Readings now waiting to go upstream (the inserted ones, when forwarding)."""
    outbox_dropped: int
    """Oldest waiting items given up to keep the upstream backlog within its bound."""




@dataclass(frozen=True, slots=True)
class Device:
    name: str
    source: str | None
    room: str | None
    first_seen: float | None
    last_seen: float | None
    available: bool | None
    """``None`` until the device reported its availability."""


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    ts: float
    kind: str
    subject: str
    detail: object
    """The JSON-decoded detail as it was logged."""


class Store:
    """A gateway database.  Create with :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, conn: sqlite3.Connection, path: str, outbox_max_rows: int) -> None:
        """Use :meth:`open`; this only wires an already migrated connection."""
        self.path = path
        self.outbox_max_rows = outbox_max_rows
        self._conn: sqlite3.Connection | None = conn
        # Reentrant: public methods call each other (e.g. via _query).
        self._lock = threading.RLock()
        self._records = int(conn.execute(_OUTBOX_ROWS).fetchone()[0])
        """Rows in the outbox table: audit records and fault alerts."""
        self._forward = forwarding.load(conn)
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (_DROPPED_KEY,)).fetchone()
        self._dropped_total = int(row[0]) if row else 0

    # -- lifecycle -----------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, outbox_max_rows: int = 1_000_000) -> Store:
        """Open (creating the file, not its directory) and migrate a database.

        The connection runs in WAL mode with ``synchronous=FULL``: a commit returns
        only after the write-ahead log is on disk, so anything the gateway acks
        after a commit survives a power cut.  WAL also lets an operator read the
        file with the sqlite3 CLI while the agent writes.
        """
        if outbox_max_rows < 1:
            raise ValueError(f"outbox_max_rows must be >= 1, got {outbox_max_rows}")
        where = os.fspath(path)
        try:
            # Used from the StoreThread and, occasionally, the event loop's
            # thread; self._lock serialises them.
            conn = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {where!r}: {exc}") from exc
        try:
            _configure(conn, where)
            migrate(conn)
            return cls(conn, where, outbox_max_rows)
        except (sqlite3.Error, StoreError) as exc:
            conn.close()
            raise StoreError(f"cannot open database {where!r}: {exc}") from exc

    @_locked
    def close(self) -> None:
        """Close the connection; later calls raise :class:`StoreError`.  Idempotent."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writing -------------------------------------------------------------

    @_locked
    def write_batch(
        self,
        readings: Sequence[Reading],
        events: Sequence[EventRow] = (),
        *,
        now: float,
        forward: bool = False,
    ) -> WriteResult:
        """Store one batch in one transaction; return what happened.

        With ``forward`` the readings inserted join the upstream backlog (a
        duplicate, not inserted, never goes upstream twice); when the backlog
        then exceeds ``outbox_max_rows`` its oldest readings are given up (they
        stay stored; only their upstream copy is lost).  Without ``forward``
        nothing stored so far waits for upstream: a gateway without an upstream
        broker keeps no backlog.
        """
        _check_batch(readings)
        state = self._forward_copy()
        with self._transaction() as conn:
            inserted = _insert_readings(conn, readings, now)
            _upsert_devices(conn, readings, now)
            _remember_seqs(conn, readings, now)
            _insert_events(conn, events)
            added = dropped = 0
            if forward:
                added = inserted
                state.waiting += inserted
                dropped, records_dropped = self._enforce_bound(conn, state, self._records)
            else:
                forwarding.skip_all(conn, state)
        self._forward = state
        if forward:
            self._count_dropped(dropped, records_dropped)
        return WriteResult(inserted, len(readings) - inserted, added, dropped)

    def _forward_copy(self) -> forwarding.ForwardState:
        """The forwarding state to change in a transaction; it replaces ours only after the commit."""
        f = self._forward
        return forwarding.ForwardState(f.cursor, set(f.ahead), f.waiting)

    def _enforce_bound(
        self, conn: sqlite3.Connection, state: forwarding.ForwardState, records: int
    ) -> tuple[int, int]:
        """Keep the backlog (waiting readings plus outbox rows) within the bound.

        Readings are given up first, oldest first: audit records and fault alerts
        are few and each matters.  Persists the running total; returns how many
        items were given up and how many of them were outbox rows.
        """
        overflow = state.waiting + records - self.outbox_max_rows
        if overflow <= 0:
            return 0, 0
        readings = forwarding.drop_oldest(conn, state, overflow)
        rows = 0
        if overflow > readings:
            rows = conn.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)", (overflow - readings,)
            ).rowcount
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (_DROPPED_KEY, self._dropped_total + readings + rows),
        )
        return readings + rows, rows

    def _count_dropped(self, dropped: int, records_dropped: int) -> None:
        """After the commit: keep the in-memory totals true."""
        self._records -= records_dropped
        self._dropped_total += dropped

    @_locked
    def log_event(self, ts: float, kind: str, subject: str, detail: object) -> None:
        """Append one event to the log in its own transaction."""
        with self._transaction() as conn:
            _insert_events(conn, [(ts, kind, subject, detail)])

    @_locked
    def set_availability(self, device: str, available: bool, ts: float) -> None:
        """Record whether a device says it is online; an unknown device is added."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO devices (name, first_seen, available) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET available = excluded.available",
                (device, ts, int(available)),
            )

    @_locked
    def set_rooms(self, rooms: Mapping[str, str | None]) -> None:
        """Write the configured room of each device (``devices.<name>.room``); a
        device not seen yet is added, so the table lists the site as configured.
        A device left out of the mapping keeps what it had."""
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO devices (name, room) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET room = excluded.room",
                list(rooms.items()),
            )

    @_locked
    def outbox_delete(self, ids: Iterable[int]) -> int:
        """Delete published outbox rows; return how many existed."""
        params = [int(i) for i in ids]
        if not params:
            return 0
        with self._transaction() as conn:
            deleted = 0
            for start, stop in _chunks(len(params), _rows_per_statement(conn, 1)):
                sql = f"DELETE FROM outbox WHERE id IN ({','.join('?' * (stop - start))})"
                deleted += conn.execute(sql, params[start:stop]).rowcount
        self._records -= deleted
        return deleted

    # -- reading -------------------------------------------------------------

    @_locked
    def count_readings(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM readings")[0][0])

    @_locked
    def count_duplicate_readings(self) -> int:
        """Rows sharing (device, channel, ts) beyond the first: 0 means stored exactly once.

        The unique index should make this impossible; the query checks the data
        itself rather than trusting the index.
        """
        rows = self._query(
            "SELECT COALESCE(SUM(n - 1), 0) FROM"
            " (SELECT COUNT(*) AS n FROM readings NOT INDEXED GROUP BY device, channel, ts HAVING n > 1)"
        )
        return int(rows[0][0])

    @_locked
    def readings(
        self,
        device: str | None = None,
        channel: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
    ) -> list[Reading]:
        """Stored readings ordered by ts (then storage order); ``since`` <= ts <= ``until``."""
        filters = (("device = ?", device), ("channel = ?", channel), ("ts >= ?", since), ("ts <= ?", until))
        sql, params = filtered_select(
            "SELECT device, channel, ts, value, unit, source, seq FROM readings", filters, "ts, id", limit
        )
        return [Reading(*row) for row in self._query(sql, params)]

    @_locked
    def recent_serial_seqs(self, limit_per_device: int = 256) -> dict[str, list[int]]:
        """The newest ``limit_per_device`` sequence numbers of each serial node, oldest first."""
        rows = self._query(
            "SELECT device, seq FROM (SELECT device, seq, rowid AS r,"
            " ROW_NUMBER() OVER (PARTITION BY device ORDER BY rowid DESC) AS n FROM serial_seqs)"
            " WHERE n <= ? ORDER BY device, r",
            (limit_per_device,),
        )
        recent: dict[str, list[int]] = {}
        for device, seq in rows:
            recent.setdefault(device, []).append(seq)
        return recent

    @_locked
    def gateway_seq_reservations(self, port: str) -> dict[int, int]:
        """Per node, how far the gateway's own seq counter for dongle ``port`` may have got
        (agent/ingest/gateway_seqs.py): a restarted gateway resumes there."""
        prefix = _seq_key(port, "")
        rows = self._query("SELECT key, value FROM meta WHERE key >= ? AND key < ?", (prefix, prefix + "\uffff"))
        nodes = ((key[len(prefix):], value) for key, value in rows)
        return {int(node): int(value) for node, value in nodes if node.lstrip("-").isdigit()}

    @_locked
    def reserve_gateway_seqs(self, port: str, reservations: Mapping[int, int]) -> None:
        """Record that the gateway may use seqs of these nodes up to (not including) these counts.
        A reservation never moves back."""
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
                [(_seq_key(port, str(node)), int(upto)) for node, upto in reservations.items()],
            )

    @_locked
    def outbox_peek(self, limit: int) -> list[OutboxRow]:
        """The oldest ``limit`` outbox rows, oldest first; they stay until deleted.

        SQLite hands the window over as one JSON array rather than row by row:
        each fetched row takes the GIL back from the busy event loop, which made
        a 2,000-row peek on the store thread five times slower than the query.
        ``quote`` writes a REAL with all its digits, so ``created_ts`` is exact.
        """
        (text,) = self._query(
            "SELECT json_group_array(json_array(id, topic, item, quote(created_ts)))"
            " FROM (SELECT id, topic, item, created_ts FROM outbox ORDER BY id LIMIT ?)",
            (limit,),
        )[0]
        rows = [OutboxRow(i, topic, item, float(ts)) for i, topic, item, ts in json.loads(text)]
        rows.sort()  # aggregate order follows the subquery in practice; not promised
        return rows

    @_locked
    def outbox_chunks(self, limit: int, chunk_size: int) -> list[OutboxChunk]:
        """The oldest ``limit`` outbox rows as upstream chunks, in outbox order.

        Each chunk holds up to ``chunk_size`` rows of one topic; a topic's chunks
        come in its rows' order.  They stay until :meth:`outbox_delete_chunks`.
        """
        rows = self._query(CHUNKS_SQL, {"limit": limit, "size": chunk_size})
        chunks = [OutboxChunk(topic, items, ids, n) for topic, items, ids, n in rows]
        if in_order(chunks):
            return chunks
        log.warning("outbox: SQLite aggregated rows out of order; chunking in Python")
        return chunk_rows(self.outbox_peek(limit), chunk_size)

    @_locked
    def outbox_delete_chunks(self, chunks: Sequence[OutboxChunk]) -> int:
        """Delete the rows of published chunks; return how many existed."""
        if not chunks:
            return 0
        with self._transaction() as conn:
            deleted = conn.execute(
                "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))", (joined_ids(chunks),)
            ).rowcount
        self._records -= deleted
        return deleted

    @_locked
    def reading_chunks(self, limit: int, chunk_size: int) -> list[ReadingChunk]:
        """The oldest ``limit`` readings waiting for upstream, as per-device chunks of at most
        ``chunk_size``, oldest chunk first; they wait until :meth:`readings_forwarded`."""
        try:
            conn = self._connection()
            found = forwarding.chunks(conn, self._forward, limit, chunk_size)
            if forwarding.in_order(found):
                return found
            log.warning("upstream: SQLite aggregated readings out of order; sending them one per message")
            return forwarding.chunks(conn, self._forward, limit, 1)
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path!r}: {exc}") from exc

    @_locked
    def readings_forwarded(self, chunks: Sequence[ReadingChunk]) -> int:
        """Mark the readings of acknowledged chunks as forwarded; return how many were waiting."""
        ids = [i for chunk in chunks for i in chunk.id_list()]
        state = self._forward_copy()
        with self._transaction() as conn:
            done = forwarding.acknowledge(conn, state, ids)
        self._forward = state
        return done

    def readings_waiting(self) -> int:
        """Stored readings not yet forwarded upstream (not locked, as :meth:`outbox_size`)."""
        return self._forward.waiting

    def outbox_size(self) -> int:
        """Items waiting to go upstream: readings and outbox rows (kept in memory: the publisher asks often).

        Deliberately not locked: the counter only changes under the lock, right
        after the transaction that changed the table, and reading one attribute
        is atomic; waiting here for a commit's fsync would stall the event loop.
        """
        return self._forward.waiting + self._records

    @property
    def outbox_dropped_total(self) -> int:
        """Waiting items ever given up by the bound, across restarts (not locked, as :meth:`outbox_size`)."""
        return self._dropped_total

    @_locked
    def events(self, kind: str | None = None) -> list[Event]:
        """Logged events in the order they were logged, optionally of one kind."""
        sql = "SELECT id, ts, kind, subject, detail FROM events"
        params: tuple[object, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            params = (kind,)
        rows = self._query(sql + " ORDER BY id", params)
        return [Event(i, ts, k, s, _decode(d)) for i, ts, k, s, d in rows]

    @_locked
    def devices(self) -> list[Device]:
        rows = self._query(
            "SELECT name, source, room, first_seen, last_seen, available FROM devices ORDER BY name"
        )
        return [Device(n, s, r, f, la, None if a is None else bool(a)) for n, s, r, f, la, a in rows]

    @_locked
    def integrity_check(self) -> str:
        """SQLite's own verdict on the file: ``"ok"`` or the problems it found."""
        return "\n".join(str(row[0]) for row in self._query("PRAGMA integrity_check"))

    # -- audit and overrides (rows and SQL in agent/store/audit.py) ----------

    @_locked
    def add_audit(self, record: AuditRecord, upstream_topic: str | None = None) -> AuditRecord:
        """Store a new audit row; return it with its id.

        A record whose outcome is already final (a blocked request) is also
        queued upstream on ``upstream_topic``, in the same transaction.
        """
        with self._transaction() as conn:
            stored = audit.insert_audit(conn, record)
            final = record.outcome is not Outcome.PENDING
            queued = self._queue_audit(conn, stored, upstream_topic if final else None)
        self._count_queued(*queued)
        return stored

    @_locked
    def finish_audit(self, record: AuditRecord, upstream_topic: str | None = None) -> AuditRecord:
        """Write a stored record's outcome and queue the finished record upstream."""
        with self._transaction() as conn:
            audit.update_outcome(conn, record)
            queued = self._queue_audit(conn, record, upstream_topic)
        self._count_queued(*queued)
        return record

    @_locked
    def audit(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        device: str | None = None,
        zone: str | None = None,
        app: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """Audit rows in the order they were written, optionally filtered; ``since`` <= ts <= ``until``."""
        try:
            return audit.select_audit(
                self._connection(), since=since, until=until, device=device, zone=zone, app=app, limit=limit
            )
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path!r}: {exc}") from exc

    @_locked
    def audit_since_confirmed(self, attributes: Sequence[str]) -> list[AuditRecord]:
        """For each device and one of ``attributes``: its sent rows from the last confirmed one on."""
        try:
            return audit.select_since_confirmed(self._connection(), attributes)
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path!r}: {exc}") from exc

    @_locked
    def save_override(self, override: Override) -> Override:
        """Store a hold (ending the zone's previous hold of the same attribute); return it with its id."""
        with self._transaction() as conn:
            return audit.insert_override(conn, override)

    @_locked
    def clear_override(self, zone: str, attribute: str, ts: float, by: str) -> list[Override]:
        """End the holds of ``zone``/``attribute`` in force at ``ts``; return them (empty if none)."""
        with self._transaction() as conn:
            return audit.end_overrides(conn, zone, attribute, ts, by)

    @_locked
    def overrides(self, *, zone: str | None = None, active_at: float | None = None) -> list[Override]:
        """Stored holds oldest first; with ``active_at`` only those in force at that event time."""
        try:
            return audit.select_overrides(self._connection(), zone=zone, active_at=active_at)
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path!r}: {exc}") from exc

    # -- thermostat-page tokens (rows and SQL in agent/store/tokens.py) -----

    @_locked
    def add_web_token(self, token: WebToken) -> WebToken:
        """Store a token's hash and zone (the token itself is never stored)."""
        with self._transaction() as conn:
            return tokens.insert_token(conn, token)

    @_locked
    def web_tokens(self, *, include_revoked: bool = False) -> list[WebToken]:
        """Stored tokens oldest first; revoked ones only with ``include_revoked``."""
        try:
            return tokens.select_tokens(self._connection(), include_revoked=include_revoked)
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path!r}: {exc}") from exc

    @_locked
    def revoke_web_tokens(self, prefix: str, ts: float) -> list[WebToken]:
        """Revoke the active tokens whose hash starts with ``prefix``; return them."""
        with self._transaction() as conn:
            return tokens.revoke_tokens(conn, prefix, ts)

    # -- detected faults (rows and SQL in agent/store/faults.py) -------------

    @_locked
    def save_faults(self, rows: Sequence[FaultRow], upstream_topic: str | None = None) -> list[FaultRow]:
        """Store or update detected faults; a fault not seen before is also queued
        upstream on ``upstream_topic`` as an alert, in the same transaction.
        Returns the faults that were new."""
        new: list[FaultRow] = []
        added = 0
        dropped = (0, 0)
        with self._transaction() as conn:
            for row in rows:
                stored, is_new = fault_rows.upsert_fault(conn, row)
                if is_new:
                    new.append(stored)
                    if upstream_topic is not None:
                        conn.execute(_INSERT_OUTBOX + "(?, ?, ?)", (upstream_topic, stored.item(), stored.last_seen))
                        added += 1
            state = self._forward_copy()
            if added:
                dropped = self._enforce_bound(conn, state, self._records + added)
        self._count_queued(added, dropped, state)
        return new

    @_locked
    def mark_fault_repaired(self, room: str, kind: str, ts: float, by: str) -> FaultRow | None:
        """A person says the fault of ``kind`` in ``room`` is repaired (logged as a ``fault_repaired``
        event); the row, or None if no such fault is stored."""
        with self._transaction() as conn:
            row = fault_rows.mark_repaired(conn, room, kind, ts, by)
            if row is not None:
                _insert_events(conn, [(ts, "fault_repaired", room, {"kind": kind, "by": by})])
        return row

    @_locked
    def faults(self) -> list[FaultRow]:
        """Stored faults: open ones first, most wasted energy first."""
        try:
            return fault_rows.select_faults(self._connection())
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path!r}: {exc}") from exc

    def _queue_audit(
        self, conn: sqlite3.Connection, record: AuditRecord, topic: str | None
    ) -> tuple[int, tuple[int, int], forwarding.ForwardState]:
        """Add the record's upstream copy to the outbox: (rows added, what the bound
        gave up, the forwarding state to keep after the commit)."""
        state = self._forward_copy()
        if topic is None:
            return 0, (0, 0), state
        created = record.outcome_ts if record.outcome_ts is not None else record.ts
        conn.execute(_INSERT_OUTBOX + "(?, ?, ?)", (topic, record.item(), created))
        return 1, self._enforce_bound(conn, state, self._records + 1), state

    def _count_queued(self, added: int, dropped: tuple[int, int], state: forwarding.ForwardState) -> None:
        """After the commit, as :meth:`write_batch` does: keep the in-memory backlog counters true."""
        self._forward = state
        self._records += added
        self._count_dropped(*dropped)

    # -- plumbing ------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"database {self.path!r} is closed")
        return self._conn

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:  # type: ignore[type-arg]
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path!r}: {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; sqlite errors become :class:`StoreError`.

        ``BEGIN IMMEDIATE`` takes the write lock up front, so a concurrent reader
        can never make us fail half-way through with SQLITE_BUSY.
        """
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path!r}: {exc}") from exc


def _seq_key(port: str, node: str) -> str:
    return f"gateway_seq:{port}:{node}"


def _configure(conn: sqlite3.Connection, where: str) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        log.warning("database %s: WAL not available (journal mode %s); commits are slower", where, mode)
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")


def _check_batch(readings: Sequence[Reading]) -> None:
    """Reject what SQLite would turn into a failed batch, before the transaction.

    SQLite stores NaN as NULL, which the NOT NULL columns refuse; one bad reading
    would then abort everything it was batched with.
    """
    for r in readings:
        if not (math.isfinite(r.ts) and math.isfinite(r.value)):
            raise ValueError(f"reading {r.point} has a non-finite ts or value ({r.ts!r}, {r.value!r})")


def _insert_rows(
    conn: sqlite3.Connection, insert: str, rows: Sequence[tuple[object, ...]], tail: str = ""
) -> int:
    """Insert ``rows`` with multi-row statements (see :data:`ROWS_PER_STATEMENT`); rows inserted.

    ``tail`` follows the VALUES list, e.g. an ``ON CONFLICT`` clause.
    """
    if not rows:
        return 0
    width = len(rows[0])
    one_row = "(" + ",".join("?" * width) + ")"
    inserted = 0
    for start, stop in _chunks(len(rows), _rows_per_statement(conn, width)):
        sql = insert + ",".join([one_row] * (stop - start)) + tail
        inserted += conn.execute(sql, list(chain.from_iterable(rows[start:stop]))).rowcount
    return inserted


def _insert_readings(conn: sqlite3.Connection, readings: Sequence[Reading], now: float) -> int:
    """Insert readings, each stamped ``received_ts = now``; rows inserted (duplicates are ignored).

    The readings' own tuples are the parameters, and ``now`` is bound once per
    statement as ``?1``: no row tuple is built per reading on the store thread.
    """
    width = len(Reading._fields)
    inserted = 0
    for start, stop in _chunks(len(readings), _rows_per_statement(conn, width, shared=1)):
        params = [now, *chain.from_iterable(readings[start:stop])]
        inserted += conn.execute(_readings_statement(stop - start), params).rowcount
    return inserted


@lru_cache(maxsize=32)
def _readings_statement(rows: int) -> str:
    """``INSERT OR IGNORE`` of ``rows`` readings: row i takes parameters 2+7i … 8+7i, then ``?1``."""
    width = len(Reading._fields)
    values = (
        "(" + ",".join(f"?{2 + i * width + k}" for k in range(width)) + ",?1)" for i in range(rows)
    )
    return _INSERT_READINGS + ",".join(values)


def _rows_per_statement(conn: sqlite3.Connection, width: int, shared: int = 0) -> int:
    """The largest power of two <= ROWS_PER_STATEMENT whose parameters SQLite accepts."""
    most = min(ROWS_PER_STATEMENT, (conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - shared) // width)
    return 1 << (max(1, most).bit_length() - 1)


def _chunks(n: int, largest: int) -> Iterator[tuple[int, int]]:
    """``[start, stop)`` slices covering ``range(n)``: ``largest`` rows each, then
    the rest in descending powers of two."""
    start = 0
    while start < n:
        left = n - start
        size = largest if left >= largest else 1 << (left.bit_length() - 1)
        yield start, start + size
        start += size


def _upsert_devices(conn: sqlite3.Connection, readings: Sequence[Reading], now: float) -> None:
    sources = {r.device: r.source for r in readings}
    rows = [(name, source, now, now) for name, source in sources.items()]
    _insert_rows(conn, _INSERT_DEVICES, rows, _ON_DEVICE_CONFLICT)


def _remember_seqs(conn: sqlite3.Connection, readings: Sequence[Reading], now: float) -> None:
    """Keep the newest serial sequence numbers per device for the deduper's restart.

    A seq already remembered keeps its place (like the in-memory deduper), so the
    oldest-first order survives; each touched device is trimmed to its newest
    :data:`SERIAL_SEQS_PER_DEVICE`.
    """
    seqs = dict.fromkeys((r.device, r.seq) for r in readings if r.seq is not None)
    if not seqs:
        return
    _insert_rows(conn, _INSERT_SEQS, [(device, seq, now) for device, seq in seqs])
    devices = dict.fromkeys(device for device, _ in seqs)
    conn.executemany(_PRUNE_SEQS, [(device, SERIAL_SEQS_PER_DEVICE) for device in devices])


def _insert_events(conn: sqlite3.Connection, events: Sequence[EventRow]) -> None:
    if events:
        conn.executemany(
            "INSERT INTO events (ts, kind, subject, detail) VALUES (?, ?, ?, ?)",
            [(ts, kind, subject, _encode(detail)) for ts, kind, subject, detail in events],
        )


def _encode(detail: object) -> str:
    """JSON for the event log; an odd value is stringified rather than failing the batch."""
    return json.dumps(detail, ensure_ascii=False, separators=(",", ":"), default=str)


def _decode(text: str | None) -> object:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # written by hand with the sqlite3 CLI; show it as it is
