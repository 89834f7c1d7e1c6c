"""The interval series reduced, in one native pass, to what fault detection needs per room-day.

A year of a 1,000-room building at 15 minutes is 35 million intervals per
signal.  The detectors never need them one by one: a least-squares fit over
some days, or the mean residual of one day, follows from each day's Gram
matrix of the model's [x | y]; the counterfactual energy of a day from the
sums of its counterfactual rows; profiles and rule hours are daily anyway.
So ``day_stats`` reads the series once (cpp/src/room_day_stats.cpp, all
rooms in parallel, GIL released) and everything after it works on days.
The two inputs that must be known before that pass are learnt from the
training days here: each room's typical temperature and ventilation by time
of day (the counterfactual's inputs) and what its lights add to the
illuminance (so daylight can stand in for sun).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent import _core
from agent.apps.faults.rules import Rule
from agent.apps.faults.series import DAY_S, SiteSeries

MODEL_COLUMNS = 6
"""Columns of each room model; their Gram matrices are (7, 7): [x | y]."""
CONSTANT = 5
"""Index of the constant column (1 for the thermal model, the interval's hours for the energy model)."""


@dataclass(frozen=True)
class DayStats:
    """Per room-day summaries; arrays are (rooms, days, ...)."""

    room_ids: tuple[str, ...]
    day_start: np.ndarray
    """(days,) Unix seconds of each day's first interval."""
    weekend: np.ndarray
    """(days,) Saturday or Sunday."""
    per_day: int
    interval_s: float
    valid: np.ndarray
    """Intervals with temperature, setpoint, duty and energy all known."""
    outdoor_valid: np.ndarray
    """Intervals with a known outdoor temperature."""
    thermal: np.ndarray
    """(rooms, days, 7, 7) Gram of the thermal model's [x | y] (docs/faults.md)."""
    energy: np.ndarray
    """(rooms, days, 7, 7) Gram of the energy model's [x | y]."""
    counterfactual: np.ndarray
    """(rooms, days, 8) sums of the energy rows fed typical temperature and ventilation, of their target, and
    their count."""
    profiles: np.ndarray
    """(rooms, days, 72) hourly setpoint error (±5 K), heater duty, starts/4: the cluster detector's input."""
    rule_hours: np.ndarray
    """(rooms, days, rules) hours of the day that met each rule."""
    night_duty: np.ndarray
    """(rooms, days, 2) sum and count of the known hourly heater duties between 00:00 and 06:00."""

    @property
    def days(self) -> int:
        return len(self.day_start)

    @property
    def hours_per_interval(self) -> float:
        return self.interval_s / 3600.0


def day_stats(series: SiteSeries, train_days: int, rules: Sequence[Rule], threads: int = 1) -> DayStats:
    """Summarise ``series`` per room-day; the first ``train_days`` days teach the typical room."""
    days, per_day = series.days, series.per_day
    weekend = weekend_days(series)
    lux = _core.fault_lit_night_lux(_rows(series.illuminance), _rows(series.lights), days, per_day,
                                    series.interval_s, threads)
    out = _core.fault_day_stats(
        temperature=_rows(series.temperature), setpoint=_rows(series.setpoint), duty=_rows(series.duty),
        starts=_rows(series.starts), energy_kwh=_rows(series.energy_kwh), occupied=_rows(series.occupied),
        ventilation=_rows(series.ventilation), illuminance=_rows(series.illuminance), lights=_rows(series.lights),
        outdoor=np.ascontiguousarray(series.outdoor, dtype=float), heater_kw=series.heater_kw,
        lights_kw=series.lights_kw, lux_per_light=np.nan_to_num(lux, nan=0.0),
        typical_temperature=typical_profile(series, series.temperature, train_days, weekend),
        typical_ventilation=typical_profile(series, series.ventilation, train_days, weekend),
        weekend=weekend.astype(np.uint8), per_day=per_day, interval_s=series.interval_s,
        rules=[rule.compiled() for rule in rules], threads=threads,
    )
    day_start = (series.t[0] if len(series.t) else 0.0) + np.arange(days) * DAY_S  # no interval: no day
    return DayStats(series.room_ids, day_start, weekend, per_day, series.interval_s, **out)


def weekend_days(series: SiteSeries) -> np.ndarray:
    """(days,) whether each day is a Saturday or Sunday (1970-01-01 was a Thursday)."""
    day_index = np.floor(series.t[:: series.per_day][: series.days] / DAY_S).astype(np.int64)
    return (day_index + 3) % 7 >= 5


def typical_profile(series: SiteSeries, values: np.ndarray, train_days: int, weekend: np.ndarray) -> np.ndarray:
    """(rooms, 2, per_day): each room's median over its training days of the same time of day, workdays
    (row 0) and weekends (row 1) apart -- what a healthy day looks like.  NaN for a kind of day the
    training days did not include."""
    rooms, per_day = len(series.room_ids), series.per_day
    train = min(train_days, series.days)
    daily = np.asarray(values, dtype=float)[:, : train * per_day].reshape(rooms, train, per_day)
    out = np.full((rooms, 2, per_day), np.nan)
    for row, flag in enumerate((False, True)):
        chosen = np.flatnonzero(weekend[:train] == flag)
        if len(chosen):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an interval never known stays NaN
                out[:, row] = np.nanmedian(daily[:, chosen], axis=1)
    return out


def _rows(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=float)
