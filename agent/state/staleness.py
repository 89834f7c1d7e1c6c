"""Detect sensors that stopped reporting, once per transition.

A stale temperature sensor is how a heating zone silently goes wrong, so the
agent logs an event when a point goes stale and again when it recovers, rather
than on every check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from agent.state.points import PointTable


class SensorTimes(Protocol):
    """Where the event time of a point's newest reading can be looked up (a :class:`PointTable`)."""

    def last_time(self, point: str) -> float | None: ...


def silent_points(
    points: Iterable[str], times: SensorTimes, now: float, max_age_s: float, *, since: float
) -> list[str]:
    """Those of ``points`` with no reading for more than ``max_age_s`` at ``now``.

    The same test as :meth:`PointTable.stale`, except that a point never heard
    from counts from ``since`` (when the agent started): right after a restart
    nothing has reported yet, and that alone is no reason to raise an alarm.
    The guardrails' stale-sensor fail-safe asks this for each zone's sensors.
    """
    silent = []
    for point in points:
        last = times.last_time(point)
        if now - (since if last is None else last) > max_age_s:
            silent.append(point)
    return silent


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
