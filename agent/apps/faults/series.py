"""The signals fault detection reads, on a regular grid, and their daily views.

A gateway stores readings at irregular times; detection wants one value per
room per interval (15 minutes by default) so rooms and days line up.  Missing
values are NaN and stay NaN: every detector skips them, and a room or day with
too few values is reported as having insufficient data rather than scored.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

DAY_S = 86400.0
ROOM_SIGNALS = (
    "temperature", "setpoint", "duty", "starts", "energy_kwh", "occupied", "ventilation", "illuminance", "lights",
)
"""The (rooms, intervals) arrays of a SiteSeries."""


@dataclass(frozen=True)
class SiteSeries:
    """Per-room signals, arrays (rooms, intervals) unless noted; interval k covers [t[k], t[k] + interval_s)."""

    room_ids: tuple[str, ...]
    interval_s: float
    t: np.ndarray
    """(intervals,) interval starts, Unix seconds; the first is a midnight (UTC)."""
    outdoor: np.ndarray
    """(intervals,) outdoor temperature, °C; or (rooms, intervals) when rooms are on different sites."""
    temperature: np.ndarray
    """Room sensor, °C."""
    setpoint: np.ndarray
    """Thermostat setpoint, °C."""
    duty: np.ndarray
    """Share of the interval the heater relay was on, 0–1."""
    starts: np.ndarray
    """Heater starts in the interval."""
    energy_kwh: np.ndarray
    """Metered HVAC energy in the interval."""
    occupied: np.ndarray
    """Share of the interval the room was occupied, 0–1."""
    ventilation: np.ndarray
    """Share of the design outdoor airflow, 0–1."""
    illuminance: np.ndarray
    """Room illuminance, lx: daylight (a proxy for solar gain) and lights."""
    lights: np.ndarray
    """Share of the interval the lights were on, 0–1."""
    heater_kw: np.ndarray
    """(rooms,) heater ratings, kW."""
    lights_kw: np.ndarray
    """(rooms,) lighting power, kW: lights heat the room as the heater does."""

    def __post_init__(self) -> None:
        rooms, n = len(self.room_ids), len(self.t)
        if self.interval_s <= 0 or DAY_S % self.interval_s:
            raise ValueError(f"interval_s must divide a day, got {self.interval_s}")
        for name in ROOM_SIGNALS:
            shape = np.shape(getattr(self, name))
            if shape != (rooms, n):
                raise ValueError(f"{name} must have shape ({rooms}, {n}), got {shape}")
        ratings_ok = np.shape(self.heater_kw) == np.shape(self.lights_kw) == (rooms,)
        if np.shape(self.outdoor) not in ((n,), (rooms, n)) or not ratings_ok:
            raise ValueError("outdoor must be (intervals,) or (rooms, intervals) and heater_kw, lights_kw (rooms,)")

    @property
    def outdoor_by_room(self) -> np.ndarray:
        """(rooms, intervals) outdoor temperature."""
        return np.broadcast_to(self.outdoor, self.temperature.shape)

    @property
    def per_day(self) -> int:
        return round(DAY_S / self.interval_s)

    @property
    def days(self) -> int:
        """Whole days covered (a trailing partial day is ignored)."""
        return len(self.t) // self.per_day

    def daily(self, values: np.ndarray) -> np.ndarray:
        """(rooms, days, per_day) view of a (rooms, intervals) array, whole days only."""
        d, p = self.days, self.per_day
        return np.asarray(values, dtype=float)[:, : d * p].reshape(values.shape[0], d, p)

    def hourly(self, values: np.ndarray, how: str = "mean") -> np.ndarray:
        """(rooms, days, 24) hourly means (or sums) of a (rooms, intervals) array; NaN if any value is
        missing, except with ``how="nanmean"``: the mean of what there is (NaN if nothing)."""
        per_hour = self.per_day // 24
        if per_hour < 1 or self.per_day % 24:
            raise ValueError("hourly views need an interval that divides an hour")
        x = self.daily(values).reshape(values.shape[0], self.days, 24, per_hour)
        if how == "nanmean":
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return np.nanmean(x, axis=3)
        return x.sum(axis=3) if how == "sum" else x.mean(axis=3)
