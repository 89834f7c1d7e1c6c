"""The gateway's SQLite store: readings, devices, events and the upstream outbox."""

from agent.store.migrations import StoreError
from agent.store.outbox_chunks import OutboxChunk, OutboxRow
from agent.store.store import Device, Event, Store, StoreThread, WriteResult

__all__ = ["Device", "Event", "OutboxChunk", "OutboxRow", "Store", "StoreError", "StoreThread", "WriteResult"]
