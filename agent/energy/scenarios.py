"""Light and PIR-event traces: three seeded built-in scenarios, and the users' own CSV files.

Every trace is on the simulator's step grid (``STEP_S``): the mean lux of each
step and the number of PIR events in it, with t = 0 at midnight starting a
Monday (the learned policy looks at the hour of the day).  The scenarios draw
everything from one ``numpy.random.Generator`` seeded by the caller, so a seed
reproduces a trace exactly and no global random state is touched.

Built-in scenarios (docs/energy-harvesting.md gives the numbers):

* ``window_office`` — daylight through a window (day length by season, cloudy
  spells) plus the electric lights while someone is in on weekdays.
* ``interior_office`` — no daylight; lit only while occupied on working days.
* ``dim_corridor`` — emergency lighting all night, dim lighting in the day,
  many passers-by.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent import _core

STEP_S = 60.0
DAY_S = 86_400.0
STEPS_PER_DAY = int(DAY_S / STEP_S)
SCENARIOS = ("window_office", "interior_office", "dim_corridor")


class ScenarioError(ValueError):
    """A trace that cannot be used; the message names the file and row."""


@dataclass(frozen=True)
class Occupancy:
    """Per-step occupied flag of one room and its day structure."""

    occupied: np.ndarray  # bool per step
    weekday: np.ndarray  # bool per step


def _hours(steps: int) -> np.ndarray:
    return (np.arange(steps) * STEP_S / 3600.0) % 24.0


def _day_index(steps: int) -> np.ndarray:
    return (np.arange(steps) * STEP_S // DAY_S).astype(np.int64)


def occupant_schedule(rng: np.random.Generator, days: int) -> Occupancy:
    """Weekdays: arrive ~08:30, leave ~17:30 (σ 30 min), out for lunch half the days; weekends: rare visits."""
    steps = days * STEPS_PER_DAY
    hours, day = _hours(steps), _day_index(steps)
    weekday_of_day = (np.arange(days) % 7) < 5
    arrive = rng.normal(8.5, 0.5, days)
    leave = rng.normal(17.5, 0.5, days)
    lunch = rng.random(days) < 0.5
    visit = (~weekday_of_day) & (rng.random(days) < 0.15)
    at_work = weekday_of_day[day] & (hours >= arrive[day]) & (hours < leave[day])
    at_lunch = lunch[day] & (hours >= 12.25) & (hours < 13.0)
    visiting = visit[day] & (hours >= 10.0) & (hours < 13.0)
    return Occupancy((at_work & ~at_lunch) | visiting, weekday_of_day[day])


def _events(rng: np.random.Generator, rate_per_h: np.ndarray) -> np.ndarray:
    return rng.poisson(rate_per_h * STEP_S / 3600.0).astype(np.int32)


def _daylight(rng: np.random.Generator, days: int, clear_peak_lux: float) -> np.ndarray:
    """Sun through a window: day length by season (start 1 January), cloudy spells, passing clouds."""
    steps = days * STEPS_PER_DAY
    hours, day = _hours(steps), _day_index(steps)
    length = 12.0 + 4.0 * np.sin(2 * math.pi * (np.arange(days) - 80) / 365.0)
    sunrise = 12.0 - length / 2
    cloudy = np.empty(days, dtype=bool)
    state = False
    for d in range(days):  # cloudy spells persist: a two-state Markov chain
        state = rng.random() < (0.7 if state else 0.25)
        cloudy[d] = state
    factor = np.where(cloudy, rng.uniform(0.1, 0.3, days), rng.uniform(0.8, 1.0, days))
    phase = (hours - sunrise[day]) / length[day]
    sun = np.where((phase > 0) & (phase < 1), np.sin(math.pi * np.clip(phase, 0, 1)), 0.0)
    hourly = np.repeat(rng.uniform(0.7, 1.0, days * 24), int(3600 / STEP_S))
    return clear_peak_lux * factor[day] * sun * hourly


def window_office(rng: np.random.Generator, days: int) -> tuple[np.ndarray, np.ndarray]:
    occ = occupant_schedule(rng, days)
    lux = _daylight(rng, days, clear_peak_lux=450.0) + np.where(occ.occupied, 150.0, 0.0)
    return lux, _events(rng, np.where(occ.occupied, 20.0, 0.0))


def interior_office(rng: np.random.Generator, days: int) -> tuple[np.ndarray, np.ndarray]:
    occ = occupant_schedule(rng, days)
    lux = np.where(occ.occupied, 230.0, 0.0)
    return lux, _events(rng, np.where(occ.occupied, 20.0, 0.0))


def dim_corridor(rng: np.random.Generator, days: int) -> tuple[np.ndarray, np.ndarray]:
    steps = days * STEPS_PER_DAY
    hours = _hours(steps)
    occ = occupant_schedule(rng, days)
    daytime = occ.weekday & (hours >= 7.0) & (hours < 20.0)
    lux = np.where(daytime, 100.0, 40.0)
    rate = np.where(occ.weekday & (hours >= 8.0) & (hours < 18.0), 30.0, np.where(daytime, 5.0, 0.2))
    return lux, _events(rng, rate)


_BUILDERS = {"window_office": window_office, "interior_office": interior_office, "dim_corridor": dim_corridor}


def build_scenario(name: str, days: int, seed: int) -> _core.Trace:
    """A built-in scenario's trace of ``days`` days; the same (name, days, seed) gives the same trace."""
    if name not in _BUILDERS:
        raise ScenarioError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    if days < 1:
        raise ScenarioError(f"days must be at least 1, got {days}")
    lux, events = _BUILDERS[name](np.random.default_rng(seed), days)
    return _core.Trace(lux, events, STEP_S)


# ---------------------------------------------------------------------------- CSV files


def _read_rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV with a header naming ``columns``; clear errors otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text") from exc
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise ScenarioError(f"{path}: empty file; expected a header row {','.join(columns)}")
    reader = csv.DictReader(lines)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    for column in columns:
        if column not in header:
            raise ScenarioError(f"{path}: row 1: missing column {column!r} (header is {','.join(header)})")
    rows = [(reader.line_num, row) for row in reader if any((v or "").strip() for v in row.values())]
    if not rows:
        raise ScenarioError(f"{path}: no data rows after the header")
    return rows


def _number(path: Path, line: int, row: dict[str, str], column: str) -> float:
    raw = (row.get(column) or "").strip()
    try:
        value = float(raw)
    except ValueError:
        raise ScenarioError(f"{path}: row {line}: {column} {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ScenarioError(f"{path}: row {line}: {column} {raw!r} is not a finite number")
    return value


def read_light_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Times (s from start, first 0, increasing by ≥ 1 s) and lux (≥ 0) of a ``time_s,lux`` file."""
    times: list[float] = []
    luxes: list[float] = []
    for line, row in _read_rows(path, ("time_s", "lux")):
        t = _number(path, line, row, "time_s")
        lux = _number(path, line, row, "lux")
        if not times and t != 0:
            raise ScenarioError(f"{path}: row {line}: the first time_s must be 0 (seconds from the start), got {t:g}")
        if times and t - times[-1] < 1.0:
            what = "is not after" if t <= times[-1] else "is less than 1 s after"
            raise ScenarioError(f"{path}: row {line}: time_s {t:g} {what} the previous row's {times[-1]:g}")
        if lux < 0:
            raise ScenarioError(f"{path}: row {line}: lux {lux:g} is negative")
        times.append(t)
        luxes.append(lux)
    if len(times) < 2:
        raise ScenarioError(f"{path}: needs at least two rows (the last row's time ends the trace)")
    return np.asarray(times), np.asarray(luxes)


def read_events_csv(path: Path) -> np.ndarray:
    """Event times (s from start, ≥ 0, never decreasing) of a ``time_s`` file, one row per event."""
    times: list[float] = []
    for line, row in _read_rows(path, ("time_s",)):
        t = _number(path, line, row, "time_s")
        if t < 0:
            raise ScenarioError(f"{path}: row {line}: time_s {t:g} is negative")
        if times and t < times[-1]:
            raise ScenarioError(f"{path}: row {line}: time_s {t:g} is before the previous row's {times[-1]:g}")
        times.append(t)
    return np.asarray(times)


def step_means(times: np.ndarray, lux: np.ndarray, steps: int) -> np.ndarray:
    """Mean lux of each STEP_S step of a piecewise-constant light trace (each row holds until the next)."""
    cumulative = np.concatenate(([0.0], np.cumsum(lux[:-1] * np.diff(times))))
    edges = np.arange(steps + 1) * STEP_S
    return np.diff(np.interp(edges, times, cumulative)) / STEP_S


def load_csv_trace(light_csv: Path, events_csv: Path, days: float | None = None) -> _core.Trace:
    """A trace from the users' files: light holds each row's value until the next row; the last row ends it."""
    times, lux = read_light_csv(Path(light_csv))
    event_times = read_events_csv(Path(events_csv))
    duration = float(times[-1]) if days is None else min(float(times[-1]), days * DAY_S)
    steps = int(duration // STEP_S)
    if steps * STEP_S < 3600.0:
        raise ScenarioError(f"{light_csv}: the trace covers {duration:g} s; at least one hour (3600 s) is needed")
    late = event_times >= times[-1]
    if days is None and late.any():
        row = int(np.argmax(late)) + 2
        raise ScenarioError(
            f"{events_csv}: row {row}: time_s {event_times[late][0]:g} is after the light trace ends at {times[-1]:g}"
        )
    counts = np.bincount((event_times // STEP_S).astype(np.int64), minlength=steps)[:steps].astype(np.int32)
    return _core.Trace(step_means(times, lux, steps), counts, STEP_S)
