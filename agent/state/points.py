"""Latest value and rolling statistics of every point, kept in the C++ core.

Apps and the demo read the building's current state from here instead of the
database: one O(1) native update per reading, no SQL on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

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


class _Point(NamedTuple):
    stats: RollingStats
    features: StreamingFeatures
    unit: str
    push_stats: Callable[[float, float], bool]
    """``stats.push``, bound once: the update loop runs for every reading."""
    push_feature: Callable[[float], None]


class PointTable:
    """Per-point ring buffers; points appear the first time a reading names them.

    Each point has its rolling statistics (latest value and time, for staleness
    and summaries) and its streaming features (trend, shape, roughness of the
    last ``window`` readings, for the apps), both in the C++ core.
    """

    def __init__(self, window: int) -> None:
        self._window = window
        self._points: dict[str, _Point] = {}
        self._by_pair: dict[tuple[str, str], _Point] = {}
        """The same points keyed by (device, channel): a tuple of two strings whose
        hashes are already cached hashes faster than a new "device/channel" string."""

    def update(self, readings: Iterable[Reading]) -> None:
        table = self._by_pair
        for r in readings:
            point = table.get((r.device, r.channel))
            if point is None:
                point = self._add(r)
            point.push_stats(r.ts, r.value)
            point.push_feature(r.value)

    def _add(self, r: Reading) -> _Point:
        stats, features = RollingStats(self._window), StreamingFeatures(self._window)
        point = _Point(stats, features, r.unit, stats.push, features.push)
        self._points[r.point] = self._by_pair[(r.device, r.channel)] = point
        return point

    def __len__(self) -> int:
        return len(self._points)

    def __contains__(self, point: str) -> bool:
        return point in self._points

    def points(self) -> list[str]:
        return sorted(self._points)

    def summary(self, point: str) -> PointSummary:
        p = self._points[point]
        s = p.stats
        return PointSummary(point, p.unit, s.count, s.mean, s.std, s.min, s.max, s.last, s.last_time)

    def features(self, point: str) -> dict[str, float]:
        """The streaming features (agent.features.STREAMING_FEATURES) of the point's last
        ``window`` readings.  Positions are reading numbers, not seconds: ``slope``
        is per reading, ``time_above_threshold`` counts readings above 0."""
        return self._points[point].features.values()

    def last_time(self, point: str) -> float | None:
        """Event time of the point's newest reading; ``None`` if it never reported."""
        p = self._points.get(point)
        if p is None or p.stats.count == 0:
            return None
        return p.stats.last_time

    def last_reading(self, point: str) -> tuple[float, float] | None:
        """``(event time, value)`` of the point's newest reading; ``None`` if it never reported."""
        p = self._points.get(point)
        if p is None or p.stats.count == 0:
            return None
        return p.stats.last_time, p.stats.last

    def stale(self, now: float, max_age: float) -> list[str]:
        """Points whose last reading is older than ``max_age`` seconds at ``now``."""
        return sorted(
            key for key, p in self._points.items() if p.stats.count == 0 or now - p.stats.last_time > max_age
        )
