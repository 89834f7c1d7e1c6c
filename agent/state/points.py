"""Latest value and rolling statistics of every point, kept in the C++ core.

Apps and the demo read the building's current state from here instead of the
database: one O(1) native update per reading, no SQL on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agent.ingest.reading import Reading
from agent.state.rolling import RollingStats


@dataclass(frozen=True, slots=True)
class PointSummary:
    """Statistics over the last ``window`` finite samples of one point."""

    point: str
    unit: str
    count: int
    mean: float
    std: float
    min: float
    max: float
    last: float
    last_time: float


class PointTable:
    """Per-point ring buffers; points appear the first time a reading names them."""

    def __init__(self, window: int) -> None:
        self._window = window
        self._stats: dict[str, RollingStats] = {}
        self._units: dict[str, str] = {}

    def update(self, readings: Iterable[Reading]) -> None:
        table = self._stats
        for r in readings:
            point = f"{r.device}/{r.channel}"  # r.point, without a property call per reading
            stats = table.get(point)
            if stats is None:
                stats = table[point] = RollingStats(self._window)
                self._units[point] = r.unit
            stats.push(r.ts, r.value)

    def __len__(self) -> int:
        return len(self._stats)

    def __contains__(self, point: str) -> bool:
        return point in self._stats

    def points(self) -> list[str]:
        return sorted(self._stats)

    def summary(self, point: str) -> PointSummary:
        s = self._stats[point]
        return PointSummary(
            point, self._units[point], s.count, s.mean, s.std, s.min, s.max, s.last, s.last_time
        )

    def stale(self, now: float, max_age: float) -> list[str]:
        """Points whose last reading is older than ``max_age`` seconds at ``now``."""
        return sorted(p for p, s in self._stats.items() if s.count == 0 or now - s.last_time > max_age)
