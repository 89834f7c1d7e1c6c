"""Event-time clocks.

Every piece of agent logic asks a :class:`Clock` for the time instead of calling
``time.time()``.  On a gateway that is :class:`WallClock`; under the simulator it is
:class:`SimClock`, which the simulator advances, so a simulated week runs in seconds
and a seed reproduces a run exactly.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """What the agent needs from a clock: the current event time and a way to wait."""

    def now(self) -> float:
        """Current event time in Unix seconds (UTC)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait until ``seconds`` of event time have passed."""
        ...


class WallClock:
    """The real time of the machine the agent runs on."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class SimClock:
    """A clock that only moves when its owner (the simulator) advances it.

    Sleepers wake in deadline order as soon as :meth:`advance_to` passes their
    deadline, so periodic agent tasks run at the right simulated moments no matter
    how fast the simulation runs in wall time.
    """

    def __init__(self, start: float) -> None:
        self._now = float(start)
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._counter = 0

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._counter += 1
        self._waiters.append((self._now + seconds, self._counter, future))
        try:
            await future
        finally:
            if not future.done():
                future.cancel()
            self._waiters = [w for w in self._waiters if w[2] is not future]

    def advance_to(self, t: float) -> None:
        """Move time forward to ``t`` and wake every sleeper whose deadline passed."""
        if t < self._now:
            raise ValueError(f"SimClock cannot go backwards ({t} < {self._now})")
        self._now = float(t)
        due = sorted((w for w in self._waiters if w[0] <= t), key=lambda w: (w[0], w[1]))
        for _, _, future in due:
            if not future.done():
                future.set_result(None)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.advance_to(self._now + seconds)
