"""The gateway's own sequence numbers per serial node, never reused across a restart.

The dongle applies a COMMAND only the first time it sees its seq (a retry of a
command it applied is acked again, not applied twice), and it remembers the
last few command seqs of each node.  A gateway that restarted its counters at
0 would reuse seqs the dongle still remembers: the new command would be acked
but never applied, and the audit would say it was.

So the counters are reserved in blocks in the gateway's database.  At start
every node's counter resumes at the end of its last reservation, and the next
block is committed before the port opens (:func:`resume`); while the gateway
runs, the next block is reserved when half of the current one is used, so a
reservation has hundreds of frames of time to commit before it is needed.  A seq handed out is therefore always
beyond anything a previous run may have used.  Counts are unbounded integers;
the wire seq is the count modulo 65536 (docs/protocol.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

BLOCK = 1024
"""Seqs reserved at a time per node.  At one frame a minute that is a write every eight hours."""
SEQ_MODULUS = 1 << 16
NEW_NODES = -1
"""The key, in reservations, of where nodes without a reservation of their own start (node ids are ≥ 0).
A node's first block is reserved on the store thread; had the gateway died before that write, the
node's first seqs were below this floor, and the next run starts it here, past them."""

Reserve = Callable[[int, int], None]
"""``reserve(node, upto)``: make "counts below ``upto`` may be used" durable (need not wait)."""


class GatewaySeqs:
    """Next seq per node for the gateway's ACKs and COMMANDs (one counter per node)."""

    def __init__(self, start: Mapping[int, int] | None = None, reserved: Mapping[int, int] | None = None,
                 reserve: Reserve | None = None) -> None:
        """``start``: each node's first count, the reservation a previous run stored (counts below it
        may have been used), and under :data:`NEW_NODES` where other nodes start (default 0).
        ``reserved``: what is already durable, at least ``start`` (default ``start``).
        ``reserve``: called with a node's new reservation before its counter gets there; None keeps
        the counters in memory only, so a restart begins again at 0."""
        self._next: dict[int, int] = {int(node): int(count) for node, count in (start or {}).items()}
        self._reserved: dict[int, int] = {int(node): int(upto) for node, upto in (reserved or self._next).items()}
        self._first = self._next.pop(NEW_NODES, 0)
        self._reserved.pop(NEW_NODES, None)
        self._reserve = reserve

    def take(self, node: int) -> int:
        """The next wire seq for ``node`` (0–65535)."""
        count = self._next.get(node, self._first)
        self._next[node] = count + 1
        if self._reserved.get(node, 0) - (count + 1) < BLOCK // 2:
            self._extend(node, count + 1 + BLOCK)
        return count % SEQ_MODULUS

    def _extend(self, node: int, upto: int) -> None:
        self._reserved[node] = upto
        if self._reserve is None:
            return
        try:
            self._reserve(node, upto)
        except Exception:  # the counter must keep working; a restart may then reuse seqs, so say so
            log.exception("could not reserve serial seqs for node %d up to %d", node, upto)


def resume(stored: Mapping[int, int]) -> dict[int, int]:
    """The reservations a restarted gateway commits before it sends anything: a block past each
    stored one, and past the floor where nodes new to this run start."""
    return {**{node: upto + BLOCK for node, upto in stored.items()}, NEW_NODES: stored.get(NEW_NODES, 0) + BLOCK}
