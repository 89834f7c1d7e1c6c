"""The gateway's SQLite store: readings, devices, events, the upstream outbox, the audit trail, overrides
and the thermostat page's token hashes."""

from agent.store.audit import AuditRecord, Origin, Outcome, Override, Verdict
from agent.store.migrations import StoreError
from agent.store.outbox_chunks import OutboxChunk, OutboxRow
from agent.store.store import Device, Event, Store, StoreThread, WriteResult
from agent.store.tokens import WebToken

__all__ = [
    "AuditRecord", "Device", "Event", "Origin", "Outcome", "OutboxChunk", "OutboxRow", "Override", "Store",
    "StoreError", "StoreThread", "Verdict", "WebToken", "WriteResult",
]
