"""The outbox window cut into upstream chunks: per topic, in outbox order, bounded size.

The publisher sends one MQTT message per chunk.  SQLite groups and joins the
rows itself, so Python handles one string per chunk instead of one object per
reading: on a busy gateway every Python object made on the store thread takes
the GIL from the event loop that receives the readings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple


class OutboxRow(NamedTuple):
    """One item waiting to go upstream."""

    id: int
    topic: str
    item: str
    created_ts: float


@dataclass(frozen=True, slots=True)
class OutboxChunk:
    """Consecutive outbox rows of one topic that travel as one MQTT message."""

    topic: str
    items: str
    """The rows' JSON items joined by commas, oldest first."""
    ids: str
    """A JSON array of the rows' outbox ids, ascending; what to delete once acknowledged."""
    count: int


CHUNKS_SQL = """
SELECT topic, group_concat(item, ','), json_group_array(id), count(*)
FROM (
    SELECT id, topic, item,
           (row_number() OVER (PARTITION BY topic ORDER BY id) - 1) / :size AS chunk
    FROM (SELECT id, topic, item FROM outbox ORDER BY id LIMIT :limit)
    ORDER BY topic, chunk, id
)
GROUP BY topic, chunk
ORDER BY min(id)
"""
"""SQLite 3.40 (Debian 12) has no ORDER BY inside aggregates, so the rows are fed
to the aggregates sorted; :func:`in_order` checks that they came out that way."""


def in_order(chunks: Sequence[OutboxChunk]) -> bool:
    """Whether every chunk's ids ascend: then its items are in outbox order too."""
    for chunk in chunks:
        ids = json.loads(chunk.ids)
        if any(a >= b for a, b in zip(ids, ids[1:])):
            return False
    return True


def chunk_rows(rows: Sequence[OutboxRow], size: int) -> list[OutboxChunk]:
    """What :data:`CHUNKS_SQL` computes, in Python: the reference, and the fallback."""
    by_topic: dict[str, list[list[OutboxRow]]] = {}
    for row in sorted(rows):
        chunks = by_topic.setdefault(row.topic, [[]])
        if len(chunks[-1]) >= size:
            chunks.append([])
        chunks[-1].append(row)
    grouped = sorted((chunk for chunks in by_topic.values() for chunk in chunks), key=lambda c: c[0].id)
    return [
        OutboxChunk(c[0].topic, ",".join(r.item for r in c), json.dumps([r.id for r in c], separators=(",", ":")), len(c))
        for c in grouped
    ]


def joined_ids(chunks: Sequence[OutboxChunk]) -> str:
    """One JSON array holding the ids of all ``chunks``."""
    return "[" + ",".join(c.ids[1:-1] for c in chunks if c.count) + "]"
