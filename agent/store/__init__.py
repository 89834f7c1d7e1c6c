"""The gateway's SQLite store: readings, devices, events and the upstream outbox."""

from agent.store.migrations import StoreError
from agent.store.store import Device, Event, OutboxRow, Store, StoreThread, WriteResult

__all__ = ["Device", "Event", "OutboxRow", "Store", "StoreError", "StoreThread", "WriteResult"]
