"""Occupants' setpoint holds, kept in memory for the rules and in the store for restarts."""

from __future__ import annotations

from typing import Protocol

from agent.store.audit import Override


class OverrideStore(Protocol):
    """The part of :class:`~agent.store.Store` that keeps overrides."""

    def save_override(self, override: Override) -> Override: ...

    def clear_override(self, zone: str, attribute: str, ts: float, by: str) -> list[Override]: ...

    def overrides(self, *, zone: str | None = None, active_at: float | None = None) -> list[Override]: ...


class OverrideBook:
    """The holds in force, written through to the store.

    Loaded once from the store when the guardrails start, so a hold set before
    a restart still holds after it; expiry is a comparison with event time, so
    a hold ends at the same simulated or real moment whether or not the agent
    restarted in between.
    """

    def __init__(self, store: OverrideStore, now: float) -> None:
        self._store = store
        self._held: dict[tuple[str, str], Override] = {}
        for override in store.overrides(active_at=now):
            self._held[(override.zone, override.attribute)] = override

    def active(self, zone: str, attribute: str, now: float) -> Override | None:
        held = self._held.get((zone, attribute))
        return held if held is not None and held.active(now) else None

    def in_zone(self, zone: str, now: float) -> list[Override]:
        return [o for (z, _), o in self._held.items() if z == zone and o.active(now)]

    def all_active(self, now: float) -> list[Override]:
        return [o for o in self._held.values() if o.active(now)]

    def hold(self, override: Override) -> Override:
        """Persist a new hold (replacing the zone's previous one of that attribute)."""
        stored = self._store.save_override(override)
        self._held[(stored.zone, stored.attribute)] = stored
        return stored

    def release(self, zone: str, attribute: str, now: float, by: str) -> Override | None:
        """End the hold early (back to automatic); the hold as it was, or ``None`` if there was none."""
        ended = self._store.clear_override(zone, attribute, now, by)
        self._held.pop((zone, attribute), None)
        return ended[-1] if ended else None
