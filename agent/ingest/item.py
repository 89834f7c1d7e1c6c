"""What ingest hands downstream: readings plus what to do once they are durable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.ingest.reading import Reading


@dataclass(slots=True)
class IngestItem:
    """Readings from one frame or message.

    ``on_durable`` runs after the readings are committed to the store; the serial
    path uses it to ack the dongle, so an acked report is never lost.  A duplicate
    report arrives as an item with no readings but an ``on_durable`` ack, so the
    dongle stops retransmitting only after the original is committed.
    """

    readings: list[Reading]
    on_durable: Callable[[], None] | None = None
    events: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)
    """(kind, subject, detail) for the store's event log."""
