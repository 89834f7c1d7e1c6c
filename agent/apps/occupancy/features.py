"""One room's occupancy features, from its recent readings only.

Readings arrive one at a time as ``(channel, ts, value)`` in event time.  They
are put on a grid of ``step_s``-second slots (one a minute by default) because
sensors report at their own pace (Zigbee ones on change): a slot's value is the
mean of its readings (the maximum for PIR), or the channel's last value while it
is younger than ``hold_s``, or NaN (a gap).  Each channel's slot values feed
:class:`agent.features.StreamingFeatures` windows in the C++ core, one per window
length, so a slot costs O(1) whatever the windows; the features of a slot are
read from those windows, which hold that slot and the ones before it, never a
later one.

Training replays labelled rows through this same class (:func:`replay`), so a
model is trained on exactly the numbers it sees online.

Why these features (see docs/occupancy.md):

* ``co2_source_<w>m``: people are a CO2 source.  A room's mass balance is
  ``dC/dt = G − k·(C − C_out)``, so ``slope + k·(mean − C_out)`` over the last
  ``w`` minutes estimates the generation ``G`` in ppm per minute.  It is about
  0 in an empty room whether CO2 is high and decaying or flat at the outdoor
  level, and positive while people breathe in it: level and rise in one number,
  without the level alone (which stays high for hours after everyone left).
* ``humidity_ratio_slope_<w>m``, ``temperature_slope_<w>m``: people add
  moisture and heat.
* ``humidity_roughness_<w>m``: mean absolute minute-to-minute change of the
  relative humidity; people moving near the sensor make it jitter.
* ``light_last``: illuminance now (strong, but treacherous once the agent
  switches lights itself).  A five-minute minimum or maximum beside it did
  no better in cross-validation and notices people later.
* ``pir_mean_<w>m``: the fraction of slots with motion.
* ``minute_of_day``, ``weekday``: only when ``FeatureSpec.time`` is set; the
  model turns them into a schedule prior whose weight it reports.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo

import numpy as np

from agent.features import StreamingFeatures

CHANNELS: tuple[str, ...] = ("co2", "humidity_ratio", "temperature", "humidity", "light", "pir")
"""Every channel the features know, in feature order."""

ALIASES: dict[str, str] = {
    "carbon_dioxide": "co2", "co2_ppm": "co2",
    "humidityratio": "humidity_ratio",
    "relative_humidity": "humidity", "rh": "humidity",
    "illuminance": "light", "illuminance_lux": "light", "lux": "light",
    "occupancy": "pir", "motion": "pir", "presence": "pir", "pir_count": "pir",
}
"""Other names a reading's channel may have (Zigbee2MQTT's ``illuminance``,
``occupancy``...); matched case-insensitively."""

TIME_FEATURES: tuple[str, ...] = ("minute_of_day", "weekday")

MAX_TS = 32_503_680_000.0
"""Readings must be stamped in seconds since 1970 before the year 3000; anything else is a bad clock."""

RECIPE: dict[str, tuple[tuple[str, int], ...]] = {
    "co2": (("source", 3), ("source", 5), ("source", 10), ("source", 20)),
    "humidity_ratio": (("slope", 5), ("slope", 10), ("slope", 20)),
    "temperature": (("slope", 5), ("slope", 10), ("slope", 20)),
    "humidity": (("roughness", 10), ("roughness", 30)),
    "light": (("last", 1),),
    "pir": (("mean", 5), ("mean", 15)),
}
"""Per channel, ``(statistic, window in minutes)``.  Chosen among a few alternatives by
leave-one-day-out cross-validation on the UCI training file (docs/occupancy.md)."""


def canonical(channel: str) -> str | None:
    """The feature name of a reading's channel, or None for a channel the features do not use."""
    if not isinstance(channel, str):
        return None
    name = channel.strip().lower()
    name = ALIASES.get(name, name)
    return name if name in RECIPE else None


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """What a model needs from a room: its channels and how readings become features.

    Saved with the model, so a model file says which sensors it needs.
    """

    channels: tuple[str, ...] = ("co2", "humidity_ratio", "temperature", "humidity", "light")
    time: bool = True
    step_s: float = 60.0
    hold_s: float = 600.0
    """A channel's last value stands in for a slot without readings while it is
    at most this old (sensors that report on change); after that it is a gap."""
    co2_outdoor_ppm: float = 420.0
    air_change_per_min: float = 0.006
    """``k`` of the CO2 mass balance: the fraction of the room's excess CO2 that
    ventilation removes per minute (0.006 ≈ 0.36 air changes an hour)."""

    def __post_init__(self) -> None:
        channels = tuple(self.channels)
        unknown = [c for c in channels if c not in RECIPE]
        if unknown or not channels or len(set(channels)) != len(channels):
            raise ValueError(f"channels must be distinct names from {CHANNELS}, got {channels!r}")
        object.__setattr__(self, "channels", tuple(c for c in CHANNELS if c in channels))  # feature order
        for name in ("step_s", "hold_s", "co2_outdoor_ppm", "air_change_per_min"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.step_s <= 0:
            raise ValueError(f"step_s must be > 0, got {self.step_s!r}")

    def steps(self, minutes: int) -> int:
        """A window of ``minutes`` in slots (at least 2, so a slope exists)."""
        return max(2, round(minutes * 60.0 / self.step_s))

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> FeatureSpec:
        known = {f for f in cls.__dataclass_fields__}
        extra = set(d) - known
        if extra:
            raise ValueError(f"unknown feature spec keys {sorted(extra)}")
        kwargs = dict(d)
        if "channels" in kwargs:
            kwargs["channels"] = tuple(kwargs["channels"])  # type: ignore[arg-type]
        return cls(**kwargs)  # type: ignore[arg-type]


def feature_names(spec: FeatureSpec) -> list[str]:
    """The columns of a feature vector for ``spec``, in order."""
    names = [_name(ch, stat, minutes) for ch in spec.channels for stat, minutes in RECIPE[ch]]
    return names + (list(TIME_FEATURES) if spec.time else [])


def feature_channels(spec: FeatureSpec) -> list[str]:
    """The channel each column comes from (``"time"`` for the time columns), for ablations and reports."""
    chans = [ch for ch in spec.channels for _ in RECIPE[ch]]
    return chans + (["time"] * len(TIME_FEATURES) if spec.time else [])


def _name(channel: str, stat: str, minutes: int) -> str:
    return f"{channel}_last" if stat == "last" else f"{channel}_{stat}_{minutes}m"


@dataclass(slots=True)
class _Channel:
    """One channel's open-slot accumulator, last reading and windows (one per distinct length)."""

    windows: dict[int, StreamingFeatures]
    is_max: bool
    total: float = 0.0
    n: int = 0
    last_value: float = math.nan
    last_ts: float = -math.inf
    current: float = math.nan


class RoomFeatures:
    """Feature vectors of one room, fed one reading at a time.

    ``push`` never raises on bad input: a reading with a NaN, infinite or
    non-numeric value, a time outside [0, ``MAX_TS``), a channel the spec does
    not use, or a time in a slot already closed is dropped and counted.
    ``vector()`` is None until every channel of the spec has a value in the
    latest closed slot.
    """

    def __init__(self, spec: FeatureSpec, tz: tzinfo | None = None) -> None:
        self.spec = spec
        self.names = feature_names(spec)
        self._tz = tz
        self._chans: dict[str, _Channel] = {
            ch: _Channel(
                {spec.steps(m): StreamingFeatures(spec.steps(m)) for stat, m in RECIPE[ch] if stat != "last"},
                is_max=ch == "pir",
            )
            for ch in spec.channels
        }
        self._plan = [(state, tuple((stat, spec.steps(m)) for stat, m in RECIPE[ch]))
                      for ch, state in self._chans.items()]
        self._longest = max((w for c in self._chans.values() for w in c.windows), default=2)
        self._open: int | None = None
        self._closed: int | None = None
        self._reported: set[str] = set()
        self._vector: np.ndarray | None = None
        self._time: tuple[float, float] = (math.nan, math.nan)
        self.dropped = 0
        """Readings dropped: bad value or time, unknown channel, or too late."""

    # -- input ------------------------------------------------------------------

    def push(self, channel: str, ts: float, value: float) -> bool:
        """Add one reading; True when it was used.  Closes the slot once every channel reported in it."""
        ch = canonical(channel)
        t, x = _number(ts), _number(value)
        state = self._chans.get(ch) if ch is not None else None
        if state is None or not 0.0 <= t < MAX_TS or not math.isfinite(x):
            self.dropped += 1
            return False
        slot = self._slot(t)
        if (self._closed is not None and slot <= self._closed) or (self._open is not None and slot < self._open):
            self.dropped += 1  # late: its slot is closed, or older than the slot being filled
            return False
        if self._open is not None and slot > self._open:
            self._close(self._open)
        if self._open is None:
            self._fill(slot - 1)
            self._open = slot
        if state.is_max:  # PIR: any motion in the slot counts
            state.total = x if state.n == 0 else max(state.total, x)
        else:
            state.total += x
        state.n += 1
        state.last_value, state.last_ts = x, t
        self._reported.add(ch)  # type: ignore[arg-type]
        if len(self._reported) == len(self._chans):
            self._close(self._open)
        return True

    def advance(self, now: float) -> None:
        """Close every slot that has ended by ``now`` (event time), so a silent sensor shows as stale."""
        t = _number(now)
        if not 0.0 <= t < MAX_TS:
            return
        done = math.floor(t / self.spec.step_s - 0.5)  # the slots whose end (s + ½)·step is <= now
        if self._open is not None and self._open <= done:
            self._close(self._open)
        if self._closed is not None and done > self._closed:
            self._fill(done)

    def slot_end(self, ts: float) -> float:
        """The event time at which the slot holding ``ts`` has ended (pass it to :meth:`advance`)."""
        return (self._slot(ts) + 0.5) * self.spec.step_s

    def _slot(self, t: float) -> int:
        """Slot ``s`` covers [(s − ½)·step, (s + ½)·step): a reading at 12:00:59 belongs to 12:01."""
        return math.floor(t / self.spec.step_s + 0.5)

    def _fill(self, through: int) -> None:
        """Close the slots after the last closed one up to ``through`` that had no reading.
        Only the last ``longest window`` of them can still be in a window, so a long gap costs
        no more than that."""
        if self._closed is None:
            return
        for s in range(max(self._closed + 1, through - self._longest + 1), through + 1):
            self._close(s)

    def _close(self, slot: int) -> None:
        """Push the slot's value of every channel into its windows."""
        slot_ts = slot * self.spec.step_s
        for state in self._chans.values():
            if state.n:
                v = state.total if state.is_max else state.total / state.n
            elif slot_ts - state.last_ts <= self.spec.hold_s:
                v = state.last_value
            else:
                v = math.nan
            state.total, state.n, state.current = 0.0, 0, v
            for stream in state.windows.values():
                stream.push(v)
        self._open, self._closed = None, slot
        self._reported.clear()
        self._vector = None
        self._time = _time_of(slot_ts, self._tz) if self.spec.time else (math.nan, math.nan)

    # -- output -----------------------------------------------------------------

    @property
    def slot_time(self) -> float | None:
        """Event time (seconds) of the latest closed slot: the time the vector describes."""
        return None if self._closed is None else self._closed * self.spec.step_s

    def stale_channels(self) -> list[str]:
        """Channels without a value in the latest closed slot (all of them before the first slot)."""
        if self._closed is None:
            return list(self._chans)
        return [ch for ch, s in self._chans.items() if math.isnan(s.current)]

    def vector(self) -> np.ndarray | None:
        """The feature vector of the latest closed slot, or None when a channel has no current value."""
        if self._vector is None and not self.stale_channels():
            self._vector = self._compute()
        return self._vector

    def _compute(self) -> np.ndarray:
        spec = self.spec
        per_min = 60.0 / spec.step_s
        out: list[float] = []
        for state, recipe in self._plan:
            stats = {w: s.values() for w, s in state.windows.items()}
            for stat, steps in recipe:
                if stat == "last":
                    out.append(state.current)
                    continue
                v = stats[steps]
                if stat == "source":
                    out.append(v["slope"] * per_min + spec.air_change_per_min * (v["mean"] - spec.co2_outdoor_ppm))
                elif stat == "slope":
                    out.append(v["slope"] * per_min)
                elif stat == "roughness":
                    out.append(v["mean_abs_change"])
                else:
                    out.append(v[stat])
        if spec.time:
            out.extend(self._time)
        return np.array(out, dtype=np.float64)


def _number(x: object) -> float:
    """float(x), or NaN for anything that is not a real number (None, strings, bools)."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        return math.nan
    return float(x)


def _time_of(ts: float, tz: tzinfo | None) -> tuple[float, float]:
    """Minute of the day and weekday (Monday 0) of ``ts`` in ``tz`` (None: the gateway's local time)."""
    try:
        if tz is None:
            t = time.localtime(ts)
            return float(t.tm_hour * 60 + t.tm_min + t.tm_sec / 60), float(t.tm_wday)
        d = datetime.fromtimestamp(ts, tz)
    except (OverflowError, OSError, ValueError):  # a time the platform cannot convert: no schedule prior
        return math.nan, math.nan
    return float(d.hour * 60 + d.minute + d.second / 60), float(d.weekday())


def replay(
    rows: Iterable[tuple[float, Mapping[str, float]]], spec: FeatureSpec, tz: tzinfo | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Feature vectors of labelled rows, by feeding them to :class:`RoomFeatures` in order.

    ``rows`` are ``(ts, {channel: value})``, in time order and at least a slot
    apart.  Returns ``(x, ready)``: row ``i`` of ``x`` describes the slot of row
    ``i`` after its readings; ``ready[i]`` is False (and the row NaN) where the
    room had a channel without a value.  Training uses this, so it computes
    features with the online code.
    """
    room = RoomFeatures(spec, tz)
    out, ready = [], []
    width = len(room.names)
    for ts, values in rows:
        for channel, value in values.items():
            room.push(channel, ts, value)
        room.advance(room.slot_end(ts))  # the row's slot has ended: close it even if a channel was missing
        v = room.vector()
        ready.append(v is not None)
        out.append(v if v is not None else np.full(width, np.nan))
    return np.array(out, dtype=np.float64).reshape(-1, width), np.array(ready, dtype=bool)
