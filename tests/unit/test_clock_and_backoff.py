"""The event-time clock and reconnect backoff."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.clock import SimClock
from agent.transports.backoff import Backoff


@pytest.mark.asyncio
async def test_sim_clock_wakes_sleepers_in_deadline_order_only_when_advanced() -> None:
    clock = SimClock(100.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper("late", 60)), asyncio.create_task(sleeper("early", 30))]
    await asyncio.sleep(0)
    clock.advance(29)
    await asyncio.sleep(0)
    assert woke == []
    clock.advance_to(200)
    await asyncio.gather(*tasks)
    assert [name for name, _ in woke] == ["early", "late"]


def test_sim_clock_refuses_to_go_backwards() -> None:
    clock = SimClock(10.0)
    with pytest.raises(ValueError):
        clock.advance_to(9.0)


@given(st.floats(0.01, 5), st.floats(5, 120), st.integers(1, 60))
def test_backoff_grows_and_stays_within_the_cap(initial: float, maximum: float, attempts: int) -> None:
    backoff = Backoff(initial, maximum, rng=random.Random(0))
    delays = [backoff.next_delay() for _ in range(attempts)]
    assert all(0 < d <= maximum for d in delays)
    assert delays[0] <= initial * 1.2
    backoff.reset()
    assert backoff.next_delay() <= initial * 1.2
