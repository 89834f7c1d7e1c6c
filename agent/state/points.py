"""Latest value and rolling statistics of every point, kept in the C++ core.

Apps and the demo read the building's current state from here instead of the
database: one O(1) native update per reading, no SQL on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agent.features import StreamingFeatures
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
    """Per-point ring buffers; points appear the first time a reading names them.

    Each point has its rolling statistics (latest value and time, for staleness
    and summaries) and its streaming features (trend, shape, roughness of the
    last ``window`` readings, for the apps), both in the C++ core.
    """

    def __init__(self, window: int) -> None:
        self._window = window
        self._stats: dict[str, RollingStats] = {}
        self._features: dict[str, StreamingFeatures] = {}
        self._units: dict[str, str] = {}

    def update(self, readings: Iterable[Reading]) -> None:
        table = self._stats
        for r in readings:
            point = f"{r.device}/{r.channel}"  # r.point, without a property call per reading
            stats = table.get(point)
            if stats is None:
                stats = table[point] = RollingStats(self._window)
                self._features[point] = StreamingFeatures(self._window)
                self._units[point] = r.unit
            stats.push(r.ts, r.value)
            self._features[point].push(r.value)

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

    def features(self, point: str) -> dict[str, float]:
        """The streaming features (agent.features.STREAMING_FEATURES) of the point's last
        ``window`` readings.  Positions are reading numbers, not seconds: ``slope``
        is per reading, ``time_above_threshold`` counts readings above 0."""
        return self._features[point].values()

    def stale(self, now: float, max_age: float) -> list[str]:
        """Points whose last reading is older than ``max_age`` seconds at ``now``."""
        return sorted(p for p, s in self._stats.items() if s.count == 0 or now - s.last_time > max_age)
