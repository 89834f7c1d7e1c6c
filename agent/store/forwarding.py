"""Which stored readings still have to go upstream: every reading after a cursor.

The readings table is its own outbox.  A second row per reading in an outbox
table doubled the writes of every batch (and the SD card's wear), and its JSON
item had to be built in Python on the event loop's time.  Instead the store
keeps, in ``meta``:

``upstream_cursor``
    every reading with an id at or below it has been forwarded (or dropped by
    the outbox bound);
``upstream_ahead``
    ids above the cursor that were already acknowledged.  Devices are published
    concurrently, so when a connection drops, one device's messages may be
    acknowledged while an older one of another device's was not; those are
    skipped until the cursor passes them, so nothing goes upstream twice.

SQLite builds each upstream chunk's JSON from the rows itself (``quote`` writes
a REAL with every digit it needs to read back exactly), so forwarding costs the
event loop one string per chunk, not one object per reading.  Reading ids
only grow: the table is append-only and never deleted from.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

CURSOR_KEY = "upstream_cursor"
AHEAD_KEY = "upstream_ahead"

READING_CHUNKS_SQL = """
SELECT device, group_concat(item, ','), json_group_array(id), count(*)
FROM (
    SELECT id, device,
           '{"point":' || json_quote(device || '/' || channel) || ',"ts":' || quote(ts)
           || ',"value":' || quote(value) || ',"unit":' || json_quote(unit) || '}' AS item,
           (row_number() OVER (PARTITION BY device ORDER BY id) - 1) / :size AS chunk
    FROM (SELECT id, device, channel, ts, value, unit FROM readings
          WHERE id > :cursor AND id NOT IN (SELECT value FROM json_each(:ahead))
          ORDER BY id LIMIT :limit)
    ORDER BY device, chunk, id
)
GROUP BY device, chunk
ORDER BY min(id)
"""
"""Chunks of the oldest waiting readings: per device, in id order, at most
``:size`` each.  The rows are fed to the aggregates sorted (SQLite 3.40 has no
ORDER BY inside aggregates); :func:`ReadingChunk.ids_ascend` checks it."""


@dataclass(frozen=True, slots=True)
class ReadingChunk:
    """Consecutive waiting readings of one device that travel as one MQTT message."""

    device: str
    items: str
    """The readings' JSON objects joined by commas, oldest first."""
    ids: str
    """A JSON array of the readings' ids, ascending."""
    count: int

    def id_list(self) -> list[int]:
        return [int(i) for i in json.loads(self.ids)]

    def ids_ascend(self) -> bool:
        ids = self.id_list()
        return all(a < b for a, b in zip(ids, ids[1:]))


@dataclass(slots=True)
class ForwardState:
    """The cursor, the ids acknowledged beyond it, and how many readings wait."""

    cursor: int = 0
    ahead: set[int] = field(default_factory=set)
    waiting: int = 0


def load(conn: sqlite3.Connection) -> ForwardState:
    """Read the state and count the waiting readings (an index range count)."""
    cursor = int(_meta(conn, CURSOR_KEY, 0))
    ahead = {int(i) for i in json.loads(_meta(conn, AHEAD_KEY, "[]"))}
    after = conn.execute("SELECT COUNT(*) FROM readings WHERE id > ?", (cursor,)).fetchone()[0]
    return ForwardState(cursor, ahead, int(after) - len(ahead))


def save(conn: sqlite3.Connection, state: ForwardState) -> None:
    """Persist the cursor and the ids ahead of it, inside the caller's transaction."""
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [(CURSOR_KEY, state.cursor), (AHEAD_KEY, json.dumps(sorted(state.ahead)))],
    )


def chunks(conn: sqlite3.Connection, state: ForwardState, limit: int, size: int) -> list[ReadingChunk]:
    """The oldest ``limit`` waiting readings as chunks of at most ``size``, oldest chunk first."""
    params = {"cursor": state.cursor, "ahead": json.dumps(sorted(state.ahead)), "limit": limit, "size": size}
    return [ReadingChunk(device, items, ids, n) for device, items, ids, n in conn.execute(READING_CHUNKS_SQL, params)]


def acknowledge(conn: sqlite3.Connection, state: ForwardState, ids: Iterable[int]) -> int:
    """Mark readings as forwarded; move the cursor up to the oldest reading still
    waiting.  Returns how many of ``ids`` were waiting (a repeat counts nothing)."""
    acked = {i for i in ids if i > state.cursor and i not in state.ahead}
    if not acked:
        return 0
    done = state.ahead | acked
    row = conn.execute(
        "SELECT MIN(id) FROM readings WHERE id > ? AND id NOT IN (SELECT value FROM json_each(?))",
        (state.cursor, json.dumps(sorted(done))),
    ).fetchone()
    if row[0] is None:
        state.cursor = max(done)
    else:
        state.cursor = int(row[0]) - 1
    state.ahead = {i for i in done if i > state.cursor}
    state.waiting -= len(acked)
    save(conn, state)
    return len(acked)


def drop_oldest(conn: sqlite3.Connection, state: ForwardState, n: int) -> int:
    """Give up forwarding the oldest ``n`` waiting readings (they stay stored); how many were."""
    n = min(n, state.waiting)
    if n <= 0:
        return 0
    (last,) = conn.execute(
        "SELECT id FROM readings WHERE id > ? AND id NOT IN (SELECT value FROM json_each(?))"
        " ORDER BY id LIMIT 1 OFFSET ?",
        (state.cursor, json.dumps(sorted(state.ahead)), n - 1),
    ).fetchone()
    state.cursor = int(last)
    state.ahead = {i for i in state.ahead if i > state.cursor}
    state.waiting -= n
    save(conn, state)
    return n


def skip_all(conn: sqlite3.Connection, state: ForwardState) -> None:
    """Nothing stored so far goes upstream: a gateway without upstream keeps no backlog."""
    (newest,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM readings").fetchone()
    if newest == state.cursor and not state.ahead:
        return
    state.cursor, state.ahead, state.waiting = int(newest), set(), 0
    save(conn, state)


def in_order(found: Sequence[ReadingChunk]) -> bool:
    return all(chunk.ids_ascend() for chunk in found)


def _meta(conn: sqlite3.Connection, key: str, default: object) -> object:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return default if row is None else row[0]
