"""Per-point rolling statistics, computed in the C++ core.

The state layer updates a window for every reading the agent ingests, so the
update has to be O(1) and allocation-free; that code lives in
``cpp/src/rolling.cpp`` and is exposed as ``agent._core``. This module is the
Python-facing name for it: import from here, not from ``agent._core``, so the
rest of the agent does not depend on how the native module is laid out.

``RollingStats(capacity)``
    One point's window of the last ``capacity`` finite samples. ``push(t, x)``
    adds a sample and returns ``False`` (counting it in ``rejected``) when
    ``t`` or ``x`` is NaN or infinite. Properties ``count``, ``mean``,
    ``variance``/``std`` (sample, ddof=1), ``pvariance``/``pstd``
    (population, ddof=0), ``min``, ``max``, ``last``, ``last_time`` are NaN
    for an empty window (and ``variance``/``std`` below two samples).
    ``values()`` and ``times()`` return the window oldest first.

``RollingStatsBank(points, capacity)``
    Windows for points ``0..points-1``. ``push_many(idx, t, x)`` applies a
    batch without holding the GIL (bad batches raise ``ValueError`` and change
    nothing); ``snapshot()`` returns every point's statistics as numpy columns;
    ``stale(now, max_age)`` flags points with no sample or whose newest sample
    is more than ``max_age`` seconds old.

Capacity must be between 1 and ``MAX_CAPACITY``; anything else is a
``ValueError``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from agent._core import MAX_CAPACITY, BankSnapshot, RollingStats, RollingStatsBank

__all__ = [
    "MAX_CAPACITY",
    "BankSnapshot",
    "PointStats",
    "RollingStats",
    "RollingStatsBank",
    "point_stats",
]


class PointStats(NamedTuple):
    """An immutable copy of one window's statistics, safe to keep or log."""

    count: int
    mean: float
    std: float
    min: float
    max: float
    last: float
    last_time: float
    rejected: int

    @property
    def empty(self) -> bool:
        return self.count == 0

    def age(self, now: float) -> float:
        """Seconds since the newest sample at ``now``; infinite when there is none."""
        return math.inf if self.count == 0 else now - self.last_time


def point_stats(stats: RollingStats) -> PointStats:
    """Copy the current statistics out of a live window."""
    return PointStats(
        count=stats.count,
        mean=stats.mean,
        std=stats.std,
        min=stats.min,
        max=stats.max,
        last=stats.last,
        last_time=stats.last_time,
        rejected=stats.rejected,
    )
