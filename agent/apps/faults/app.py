"""Fault detection inside the agent: once a day, on the stored readings, alerts upstream once per fault.

At ``apps.fault_detection.hour`` of each local day (event time, so a simulated
month runs in minutes) the app reads the last ``window_days`` whole UTC days of
every room's points from the store, builds the detectors' series
(agent/apps/faults/gather.py), runs the three detectors and stores what they
found with :meth:`Store.save_faults`, which queues an alert on
``<prefix>/<gateway>/faults`` for each fault not seen before.  A fault still
there the next day updates its row and sends nothing.

The work stays off the event loop: each point is read by its own call on the
store thread (so the writer's commits interleave with a long read), and the
detectors (numpy and the native kernels, which release the GIL) run in the
loop's default executor.  Memory is bounded by the window: one point's samples
at a time are turned into arrays, and the series is (rooms, window) floats.

Every run is logged as a ``fault_detection`` event: which rooms had enough
data, whether the model detector could run (it needs the outdoor temperature),
and how many faults were found and were new.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import numpy as np

from agent.apps.errors import AppSetupError
from agent.apps.faults.detect import (
    INSUFFICIENT_DATA,
    DetectedFault,
    Detection,
    DetectorConfig,
    detect,
)
from agent.apps.faults.gather import (
    Grid,
    RoomPoints,
    Samples,
    build_series,
    from_first_data,
    points_read,
    read_point,
)
from agent.apps.faults.report import record
from agent.apps.faults.rules import Rule, RuleError, load_rules
from agent.apps.faults.series import DAY_S
from agent.clock import Clock
from agent.config.schema import FaultDetectionConfig
from agent.store import Store, StoreThread
from agent.store.faults import FaultRow

log = logging.getLogger(__name__)

APP = "fault_detection"
INTERVAL_S = 900.0
RUNS_KEPT = 31


class RulesFileError(AppSetupError):
    """``apps.fault_detection.rules`` cannot be loaded (``edgewise run`` exits 2 with the message)."""


def load_rules_file(config: FaultDetectionConfig) -> tuple[Rule, ...]:
    """The configured rules, or the shipped ones; a bad file stops the start, not a run days later."""
    try:
        return load_rules(Path(config.rules)) if config.rules else load_rules()
    except (RuleError, OSError) as exc:
        raise RulesFileError(f"apps.fault_detection.rules: {exc}") from None


@dataclass(frozen=True)
class FaultRun:
    """What one detection run read and found."""

    at: float
    """Event time of the run."""
    start: float
    """First day of the series (a UTC midnight)."""
    days: int
    status: dict[str, str]
    """Room -> "ok", "fault" or "insufficient_data"."""
    model_status: dict[str, str]
    """Room -> "ok" or "insufficient_data" for the thermal model (needs the outdoor temperature)."""
    faults: list[DetectedFault]
    """Ranked, most wasted energy first."""
    new: list[FaultRow] = field(default_factory=list)
    """The faults stored for the first time by this run (each alerted upstream once)."""

    def summary(self) -> dict[str, object]:
        """The run as the event log and the demo show it."""
        insufficient = sorted(r for r, s in self.status.items() if s == INSUFFICIENT_DATA)
        model_insufficient = sorted(r for r, s in self.model_status.items() if s == INSUFFICIENT_DATA)
        return {"start": self.start, "days": self.days, "rooms": len(self.status), "faults": len(self.faults),
                "new": len(self.new), "insufficient_data": insufficient, "model_insufficient_data": model_insufficient}


class FaultDetection:
    """The app; the agent runs :meth:`run` as a task; :meth:`run_once` runs it now (tests, the demo)."""

    def __init__(
        self,
        config: FaultDetectionConfig,
        rooms: Sequence[RoomPoints],
        rules: tuple[Rule, ...],
        store: Store,
        thread: StoreThread,
        clock: Clock,
        tz: tzinfo,
        *,
        upstream_topic: str | None,
        on_queued: Callable[[], None] | None = None,
        detector: DetectorConfig | None = None,
    ) -> None:
        self.config = config
        self.rooms = list(rooms)
        self.rules = rules
        self.detector = detector or DetectorConfig()
        self._store, self._thread, self._clock, self._tz = store, thread, clock, tz
        self._topic = upstream_topic
        self._on_queued = on_queued
        self._lock = asyncio.Lock()
        self.runs: deque[FaultRun] = deque(maxlen=RUNS_KEPT)
        """The latest completed runs of this process, oldest first (the event log keeps them all)."""

    async def run(self) -> None:
        """Run at the configured hour of every local day until cancelled."""
        while True:
            now = self._clock.now()
            await self._clock.sleep(next_run(now, self.config.hour, self._tz) - now)
            try:
                await self.run_once()
            except Exception:  # a bug here must not stop the agent; tomorrow's run tries again
                log.exception("fault detection failed")

    async def run_once(self) -> FaultRun:
        """Detect on the whole days of the window before now; store and alert; return what was found."""
        async with self._lock:  # a run on demand never overlaps the daily one
            now = self._clock.now()
            grid = window(now, self.config.window_days)
            samples = await self._read(grid)
            loop = asyncio.get_running_loop()
            detection = await loop.run_in_executor(None, self._detect, samples, grid)
            new = await self._thread.call(record, self._store, detection.faults, now, self._topic,
                                          self.detector.confirm_days)
            if new and self._on_queued is not None:
                self._on_queued()
            result = FaultRun(now, float(detection.day_start[0]) if len(detection.day_start) else grid.end,
                              len(detection.day_start), dict(detection.status), dict(detection.model_status),
                              list(detection.faults), new)
            await self._log(result)
            self.runs.append(result)
            return result

    async def _read(self, grid: Grid) -> dict[str, Samples]:
        samples = {}
        for point in points_read(self.rooms, self.config.outdoor):
            samples[point] = await self._thread.call(read_point, self._store.readings, point, grid)
        return samples

    def _detect(self, samples: dict[str, Samples], grid: Grid) -> Detection:
        if not self.rooms:  # no device has a room and a kind: nothing to watch
            empty = np.empty((0, 0))
            return Detection((), np.empty(0), empty.astype(bool), empty, empty, {}, empty, {}, [], {})
        series = from_first_data(build_series(self.rooms, self.config.outdoor, samples, grid,
                                              hold_s=self.config.hold_s))
        return detect(series, self.detector, self.rules)

    async def _log(self, run: FaultRun) -> None:
        summary = run.summary()
        await self._thread.call(self._store.log_event, run.at, "fault_detection", APP, summary)
        if summary["insufficient_data"]:
            log.info("fault detection: insufficient data for %s (%d days of history)",
                     ", ".join(summary["insufficient_data"]), run.days)  # type: ignore[arg-type]
        if summary["model_insufficient_data"] and not self.config.outdoor:
            log.info("fault detection: no outdoor temperature configured (apps.fault_detection.outdoor); "
                     "the thermal model does not run")
        for fault in run.new:
            log.warning("fault detected in %s: %s, about %.1f kWh/day wasted", fault.room, fault.kind,
                        fault.waste_kwh_per_day)


def window(now: float, days: int) -> Grid:
    """The ``days`` whole UTC days before the midnight at or before ``now``."""
    end = now - now % DAY_S
    return Grid(end - days * DAY_S, INTERVAL_S, round(days * DAY_S / INTERVAL_S))


def next_run(now: float, hour: int, tz: tzinfo) -> float:
    """The first ``hour``:00 of the local day in ``tz`` strictly after ``now``."""
    local = datetime.fromtimestamp(now, tz)
    target = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    while target.timestamp() <= now:
        target = (target + timedelta(days=1)).replace(hour=hour)
    return target.timestamp()
