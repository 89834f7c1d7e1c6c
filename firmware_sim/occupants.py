"""Who is in a room when: seeded office and meeting-room occupancy schedules.

A schedule draws one 64-bit seed from the rng it is given and derives each day's
plan from that seed and the day number alone, so any moment can be asked about
in any order and the answer never depends on what was asked before.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass

from firmware_sim.weather import DAY_S, HOUR_S, day_index, weekday

OFFICE = "office"
MEETING = "meeting"


@dataclass(frozen=True, slots=True)
class DayPlan:
    """Occupant count as a step function of the second of the day."""

    times: list[float]
    counts: list[int]

    def at(self, second_of_day: float) -> int:
        return self.counts[bisect_right(self.times, second_of_day) - 1]


class OccupancySchedule:
    """Occupants of one room over time.

    ``kind="office"``: on weekdays each of ``capacity`` people comes in with
    probability 0.85, arriving 08:00–09:30, most taking a lunch break, leaving
    16:30–18:30; one day in twenty the whole team is away.  ``kind="meeting"``:
    zero to four non-overlapping meetings of 30–120 min between 08:30 and 18:30.
    Weekends are empty except for the rare person catching up in an office.
    """

    def __init__(self, rng: random.Random, capacity: int, *, kind: str = OFFICE) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if kind not in (OFFICE, MEETING):
            raise ValueError(f"kind must be {OFFICE!r} or {MEETING!r}, got {kind!r}")
        self.capacity = capacity
        self.kind = kind
        self._seed = rng.getrandbits(64)
        self._plans: dict[int, DayPlan] = {}

    def occupants(self, t: float) -> int:
        """Number of people in the room at event time ``t``."""
        day = day_index(t)
        plan = self._plans.get(day)
        if plan is None:
            plan = self._plan(day)
        return plan.at(t - day * DAY_S)

    def _plan(self, day: int) -> DayPlan:
        rng = random.Random(self._seed ^ (day * 0x9E3779B97F4A7C15 & (2**64 - 1)))
        is_weekend = weekday(day * DAY_S) >= 5
        if self.kind == MEETING:
            events = [] if is_weekend else _meetings(rng, self.capacity)
        elif is_weekend:
            events = _weekend_visit(rng)
        else:
            events = _office_day(rng, self.capacity)
        plan = _to_plan(events)
        if len(self._plans) > 16:
            self._plans.clear()
        self._plans[day] = plan
        return plan


def _office_day(rng: random.Random, capacity: int) -> list[tuple[float, int]]:
    """(second of day, change in occupants) events of one working day."""
    if rng.random() < 0.05:
        return []
    events: list[tuple[float, int]] = []
    for _ in range(capacity):
        if rng.random() >= 0.85:
            continue
        arrive = rng.uniform(8.0, 9.5) * HOUR_S
        leave = rng.uniform(16.5, 18.5) * HOUR_S
        events += [(arrive, 1), (leave, -1)]
        if rng.random() < 0.7:
            out = rng.uniform(11.75, 13.25) * HOUR_S
            events += [(out, -1), (out + rng.uniform(0.5, 1.0) * HOUR_S, 1)]
    return events


def _meetings(rng: random.Random, capacity: int) -> list[tuple[float, int]]:
    booked: list[tuple[float, float]] = []
    events: list[tuple[float, int]] = []
    for _ in range(rng.choices((0, 1, 2, 3, 4), weights=(2, 3, 3, 2, 1))[0]):
        start = (8.5 + 0.25 * rng.randrange(0, 33)) * HOUR_S
        end = min(start + rng.choice((0.5, 1.0, 1.5, 2.0)) * HOUR_S, 18.5 * HOUR_S)
        if any(start < b_end and b_start < end for b_start, b_end in booked):
            continue
        booked.append((start, end))
        people = rng.randint(min(2, capacity), capacity)
        events += [(start, people), (end, -people)]
    return events


def _weekend_visit(rng: random.Random) -> list[tuple[float, int]]:
    if rng.random() >= 0.04:
        return []
    arrive = rng.uniform(10.0, 14.0) * HOUR_S
    return [(arrive, 1), (arrive + rng.uniform(2.0, 4.0) * HOUR_S, -1)]


def _to_plan(events: list[tuple[float, int]]) -> DayPlan:
    """Fold change events into a step function; departures sort before arrivals at a tie."""
    times, counts = [0.0], [0]
    for when, delta in sorted(events, key=lambda e: (e[0], e[1])):
        if when == times[-1]:
            counts[-1] += delta
        else:
            times.append(when)
            counts.append(counts[-1] + delta)
    return DayPlan(times, counts)
