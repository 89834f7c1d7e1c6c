"""Drop serial reports the gateway has already stored.

The dongle retransmits a report until the gateway acks it, always with the same
per-node sequence number, so a lost ack means the same report arrives twice.
Sequence numbers are 16 bit and wrap, so we remember a window of recent ones per
node rather than a high-water mark.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class SequenceDeduper:
    """Remembers the last ``window`` sequence numbers seen per node."""

    def __init__(self, window: int = 256) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self._window = window
        self._order: dict[str, deque[int]] = {}
        self._seen: dict[str, set[int]] = {}

    def load(self, recent: dict[str, Iterable[int]]) -> None:
        """Restore memory after a restart from what the store holds (oldest first)."""
        for device, seqs in recent.items():
            for seq in seqs:
                self.remember(device, seq)

    def is_duplicate(self, device: str, seq: int) -> bool:
        return seq in self._seen.get(device, ())

    def remember(self, device: str, seq: int) -> None:
        order = self._order.setdefault(device, deque())
        seen = self._seen.setdefault(device, set())
        if seq in seen:
            return
        order.append(seq)
        seen.add(seq)
        if len(order) > self._window:
            seen.discard(order.popleft())
