"""A :class:`SiteSeries` from the store's readings: what the gateway measured, on the detectors' grid.

Devices report when they report (serial nodes on their own schedule, Zigbee
devices when a value changes and at least once per their maximum reporting
interval, often an hour; gaps when a radio is down); the detectors want one
value per room per interval.  Each signal is binned into intervals
``(t_k, t_k + Δ]`` (a report stamped on the boundary closes the interval before
it, as a meter reading does).  An interval without a report holds the last
reported value while that is at most ``hold_s`` old at the interval's end
(a device reporting on change has not changed), and a meter's reading at the
boundary is interpolated between readings at most ``hold_s`` apart.  Beyond
that it is NaN, never a guess: the detectors skip NaN and call a room with too
little data "insufficient data".

Which device measures what comes from the configuration: ``devices.<name>.room``
puts a device in a room, and the kind it has under ``guardrails.zones``
(``heating_thermostat``, ``hvac_switch``, ``fan``, ``switch``, ``sensor_node``)
says which of its channels (Zigbee2MQTT's names) feed which signal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from agent.apps.faults.series import DAY_S, SiteSeries
from agent.ingest.reading import Reading

HOLD_S = 4500.0
"""How long a reported value stands for a device that reports on change: Zigbee2MQTT's usual maximum
reporting interval of an hour, plus one 15-minute interval of slack (``apps.fault_detection.hold_s``)."""
RELAY_ON_W = 20.0
"""A heater plug drawing more than this is on: above any plug's standby, far below any heater's rating."""
THERMOSTAT_KINDS = ("heating_thermostat", "thermostat")

Fetch = Callable[[str, str, float, float], Sequence[Reading]]
"""Readings of one point (device, channel) with since <= ts <= until, ordered by ts (Store.readings)."""


@dataclass(frozen=True, slots=True)
class RoomPoints:
    """Where one room's signals come from: points are ``device/channel``, devices are names."""

    room: str
    temperature: str | None = None
    setpoint: str | None = None
    heater: str | None = None
    """A metering plug in front of the heater: ``power`` is the relay, ``energy`` the meter (kWh)."""
    ventilation: str | None = None
    lights: str | None = None
    """A light: ``state`` and ``power``."""
    illuminance: str | None = None
    occupancy: str | None = None
    """PIR events per report (``pir_count``): occupied while any were counted."""


def room_points(rooms: Mapping[str, str | None], kinds: Mapping[str, str]) -> list[RoomPoints]:
    """Each room's points, from each device's room (``rooms``) and its kind (``kinds``), rooms sorted.

    A room's thermostat gives its temperature (the sensor its heating follows) and
    setpoint; a sensor node gives illuminance and occupancy, and the temperature
    if the room has no thermostat.  Devices of no known kind are not read, and a
    room with neither a thermostat nor a heater plug (a corridor) is not watched.
    """
    by_room: dict[str, dict[str, str]] = {}
    for device in sorted(rooms):
        room, kind = rooms[device], kinds.get(device)
        if room is None or kind is None:
            continue
        found = by_room.setdefault(room, {})
        if kind in THERMOSTAT_KINDS:
            found.update(temperature=f"{device}/local_temperature", setpoint=f"{device}/occupied_heating_setpoint")
        elif kind == "hvac_switch":
            found.setdefault("heater", device)
        elif kind == "fan":
            found.setdefault("ventilation", f"{device}/state")
        elif kind == "switch":
            found.setdefault("lights", device)
        elif kind == "sensor_node":
            found.setdefault("illuminance", f"{device}/illuminance")
            found.setdefault("occupancy", f"{device}/pir_count")
            found.setdefault("node_temperature", f"{device}/temperature")
    points = []
    for room, found in sorted(by_room.items()):
        node_temperature = found.pop("node_temperature", None)
        if node_temperature is not None:
            found.setdefault("temperature", node_temperature)
        if "setpoint" in found or "heater" in found:  # a corridor with only a PIR node has nothing to judge
            points.append(RoomPoints(room, **found))
    return points


Samples = tuple[np.ndarray, np.ndarray]
"""(ts, values) of one point, in time order, finite values only."""
NO_SAMPLES: Samples = (np.empty(0), np.empty(0))


def points_read(rooms: Sequence[RoomPoints], outdoor: str | None) -> list[str]:
    """Every point :func:`build_series` reads."""
    points = [outdoor] if outdoor else []
    for r in rooms:
        points += [p for p in (r.temperature, r.setpoint, r.ventilation, r.illuminance, r.occupancy) if p]
        points += [f"{r.heater}/{c}" for c in ("power", "energy") if r.heater]
        points += [f"{r.lights}/{c}" for c in ("state", "power") if r.lights]
    return list(dict.fromkeys(points))


def read_point(fetch: Fetch, point: str, grid: Grid) -> Samples:
    """One point's samples over the grid and the interval before it (a counter's base)."""
    device, channel = point.split("/", 1)
    rows = fetch(device, channel, grid.start - grid.interval_s, grid.end)
    ts = np.fromiter((r.ts for r in rows), dtype=float, count=len(rows))
    values = np.fromiter((r.value for r in rows), dtype=float, count=len(rows))
    ok = np.isfinite(ts) & np.isfinite(values)
    return ts[ok], values[ok]


def build_series(rooms: Sequence[RoomPoints], outdoor: str | None, samples: Mapping[str, Samples], grid: Grid,
                 *, hold_s: float = HOLD_S) -> SiteSeries:
    """Every room's signals on ``grid`` from the samples of the :func:`points_read` (missing: none);
    a value stands for up to ``hold_s`` after its report (0: only intervals with a report have one).

    Without an ``outdoor`` point the outdoor temperature is NaN: the model
    detector then has insufficient data, the others still run.  A room's
    heater and light ratings are the median power they drew while on (0 if
    never on: its duty is 0 then too).
    """
    if grid.start % DAY_S or DAY_S % grid.interval_s:
        raise ValueError("the grid must start at a UTC midnight and its interval divide a day")

    def of(point: str | None) -> Samples:
        return samples.get(point, NO_SAMPLES) if point else NO_SAMPLES

    signals: dict[str, list[np.ndarray]] = {name: [] for name in SIGNALS}
    heater_kw, lights_kw = [], []
    for room in rooms:
        values, heater, lights = _room_signals(room, of, grid, hold_s)
        for name in SIGNALS:
            signals[name].append(values[name])
        heater_kw.append(heater)
        lights_kw.append(lights)
    shape = (len(rooms), grid.n)
    return SiteSeries(
        room_ids=tuple(r.room for r in rooms), interval_s=grid.interval_s, t=grid.times(),
        outdoor=grid.mean(*of(outdoor), hold_s=hold_s), heater_kw=np.array(heater_kw, dtype=float),
        lights_kw=np.array(lights_kw, dtype=float),
        **{name: np.array(v, dtype=float).reshape(shape) for name, v in signals.items()},
    )


def from_first_data(series: SiteSeries) -> SiteSeries:
    """``series`` without its leading days on which no room has a temperature: a gateway
    installed last week has a week of history, not a window of empty days before it."""
    have = np.isfinite(series.daily(series.temperature)).any(axis=(0, 2))
    first = int(np.argmax(have)) if have.any() else series.days - 1  # nothing at all: one empty day
    if first <= 0:
        return series
    cut = first * series.per_day
    fields = {name: getattr(series, name)[:, cut:] for name in SIGNALS}
    outdoor = series.outdoor[..., cut:]
    return replace(series, t=series.t[cut:], outdoor=outdoor, **fields)


SIGNALS = ("temperature", "setpoint", "duty", "starts", "energy_kwh", "occupied", "ventilation", "illuminance",
           "lights")


def _room_signals(
    room: RoomPoints, of: Callable[[str | None], Samples], grid: Grid, hold_s: float
) -> tuple[dict[str, np.ndarray], float, float]:
    out = {
        "temperature": grid.last(*of(room.temperature), hold_s=hold_s),
        "setpoint": grid.mean(*of(room.setpoint), hold_s=hold_s),
        "ventilation": grid.mean(*_on_off(of(room.ventilation)), hold_s=hold_s),
        "illuminance": grid.mean(*of(room.illuminance), hold_s=hold_s),
        "occupied": grid.mean(*_positive(of(room.occupancy))),  # PIR counts per report: an event, not a state
        "lights": grid.mean(*_on_off(of(_channel(room.lights, "state"))), hold_s=hold_s),
    }
    power_ts, power = of(_channel(room.heater, "power"))
    relay = (power > RELAY_ON_W).astype(float)
    out["duty"] = grid.mean(power_ts, relay, hold_s=hold_s)
    starts = grid.switch_ons(power_ts, relay)
    out["starts"] = np.where(np.isnan(starts) & np.isfinite(out["duty"]), 0.0, starts)  # held: no switching
    out["energy_kwh"] = grid.counter(*of(_channel(room.heater, "energy")), hold_s=hold_s)
    _, light_power = of(_channel(room.lights, "power"))
    return out, _rating_kw(power), _rating_kw(light_power)


def _channel(device: str | None, channel: str) -> str | None:
    return f"{device}/{channel}" if device else None


def _on_off(samples: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    ts, values = samples
    return ts, (values > 0.5).astype(float)


def _positive(samples: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    ts, values = samples
    return ts, (values > 0).astype(float)


def _rating_kw(power_w: np.ndarray) -> float:
    on = power_w[power_w > RELAY_ON_W]
    return float(np.median(on)) / 1000.0 if len(on) else 0.0


@dataclass(frozen=True, slots=True)
class Grid:
    """``n`` intervals of ``interval_s`` from ``start``; interval k holds samples with t_k < ts <= t_k + Δ."""

    start: float
    interval_s: float
    n: int

    @property
    def end(self) -> float:
        return self.start + self.n * self.interval_s

    def times(self) -> np.ndarray:
        """(n,) interval starts."""
        return self.start + np.arange(self.n) * self.interval_s

    def empty(self) -> np.ndarray:
        return np.full(self.n, np.nan)

    def index(self, ts: np.ndarray) -> np.ndarray:
        """Interval of each sample: -1 for the interval before the grid, n past it."""
        k = np.ceil((ts - self.start) / self.interval_s).astype(np.int64) - 1
        return np.clip(k, -1, self.n)

    def mean(self, ts: np.ndarray, values: np.ndarray, *, hold_s: float = 0.0) -> np.ndarray:
        """Mean of the samples in each interval; else the value held (:meth:`held`); else NaN."""
        k = self.index(ts)
        inside = (k >= 0) & (k < self.n)
        total = np.bincount(k[inside], weights=values[inside], minlength=self.n)
        count = np.bincount(k[inside], minlength=self.n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        return _fill(mean, self.held(ts, values, hold_s))

    def last(self, ts: np.ndarray, values: np.ndarray, *, hold_s: float = 0.0) -> np.ndarray:
        """The last sample in each interval (samples in time order); else the value held; else NaN."""
        return _fill(self._last_with_before(ts, values)[1:], self.held(ts, values, hold_s))

    def held(self, ts: np.ndarray, values: np.ndarray, hold_s: float) -> np.ndarray:
        """Per interval, the last sample at or before its start if that is at most ``hold_s`` old at
        the interval's end, else NaN (samples in time order)."""
        if hold_s <= 0 or len(ts) == 0:
            return self.empty()
        starts = self.times()
        i = np.searchsorted(ts, starts, side="right") - 1
        j = np.maximum(i, 0)
        fresh = (i >= 0) & (starts + self.interval_s - ts[j] <= hold_s)
        return np.where(fresh, values[j], np.nan)

    def counter(self, ts: np.ndarray, values: np.ndarray, *, hold_s: float = 0.0) -> np.ndarray:
        """Increase of a cumulative counter (a kWh meter) over each interval: the counter at its end
        minus the counter at its start.  The counter at a boundary is interpolated between the
        readings around it when those are at most ``hold_s`` apart, else it is the last reading of
        the interval that ends there.  NaN where neither gives a value (the increase belongs to
        more than one interval) and where the counter went down (a meter reset or replaced)."""
        last = _fill(self._interpolated(ts, values, hold_s), self._last_with_before(ts, values))
        delta = np.diff(last)
        delta[delta < 0] = np.nan
        return delta

    def _interpolated(self, ts: np.ndarray, values: np.ndarray, hold_s: float) -> np.ndarray:
        """(n + 1,) a rising counter at the grid's start and each interval's end, linear between
        readings at most ``hold_s`` apart; NaN elsewhere."""
        bounds = self.start + np.arange(self.n + 1) * self.interval_s
        if hold_s <= 0 or len(ts) < 2:
            return np.full(self.n + 1, np.nan)
        i = np.clip(np.searchsorted(ts, bounds, side="right") - 1, 0, len(ts) - 2)
        t0, t1, v0, v1 = ts[i], ts[i + 1], values[i], values[i + 1]
        ok = (t0 <= bounds) & (bounds <= t1) & (t1 - t0 <= hold_s) & (t1 > t0) & (v1 >= v0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(ok, v0 + (v1 - v0) * (bounds - t0) / np.where(t1 > t0, t1 - t0, 1.0), np.nan)

    def switch_ons(self, ts: np.ndarray, on: np.ndarray) -> np.ndarray:
        """Off-to-on changes between consecutive samples, in the interval of the "on" sample.
        NaN where the interval has no sample; a start between sparse samples is seen only once."""
        k = self.index(ts)
        rising = np.zeros(len(on), dtype=bool)
        rising[1:] = (on[1:] > 0.5) & (on[:-1] <= 0.5)
        inside = (k >= 0) & (k < self.n)
        count = np.bincount(k[inside], weights=rising[inside].astype(float), minlength=self.n)
        seen = np.bincount(k[inside], minlength=self.n) > 0
        return np.where(seen, count, np.nan)

    def _last_with_before(self, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
        """(n + 1,) the last sample of the interval before the grid, then of each interval."""
        k = self.index(ts) + 1
        out = np.full(self.n + 1, np.nan)
        inside = k <= self.n
        out[k[inside]] = values[inside]  # later samples overwrite earlier ones: the last wins
        return out


def _fill(got: np.ndarray, held: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(got), held, got)
