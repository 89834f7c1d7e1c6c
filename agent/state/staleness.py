"""Detect sensors that stopped reporting, once per transition.

A stale temperature sensor is how a heating zone silently goes wrong, so the
agent logs an event when a point goes stale and again when it recovers, rather
than on every check.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.state.points import PointTable


@dataclass(frozen=True, slots=True)
class StalenessChange:
    newly_stale: list[str]
    recovered: list[str]


class StalenessMonitor:
    def __init__(self, points: PointTable, max_age_s: float) -> None:
        self._points = points
        self._max_age = max_age_s
        self._stale: set[str] = set()

    @property
    def stale_points(self) -> list[str]:
        return sorted(self._stale)

    def check(self, now: float) -> StalenessChange:
        current = set(self._points.stale(now, self._max_age))
        change = StalenessChange(sorted(current - self._stale), sorted(self._stale - current))
        self._stale = current
        return change
