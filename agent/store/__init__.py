"""The gateway's SQLite store: readings, devices, events, the upstream outbox, the audit trail and overrides."""

from agent.store.audit import AuditRecord, Origin, Outcome, Override, Verdict
from agent.store.migrations import StoreError
from agent.store.outbox_chunks import OutboxChunk, OutboxRow
from agent.store.store import Device, Event, Store, StoreThread, WriteResult

__all__ = [
    "AuditRecord", "Device", "Event", "Origin", "Outcome", "OutboxChunk", "OutboxRow", "Override", "Store",
    "StoreError", "StoreThread", "Verdict", "WriteResult",
]
