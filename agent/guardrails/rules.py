"""The rules every command passes, each a small class named after what it forbids.

A rule looks at an :class:`Evaluation` and may block it or change the value to
send; :meth:`Rule.commit` is called only for commands that are going to be
sent, so only those count towards rate limits and equipment starts.  Rules hold
no clock: the time is the evaluation's, given by the agent's event-time clock.
See docs/guardrails.md for the order and the defaults.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from agent.config.schema import HvacTimingConfig, RangeConfig, RateLimitConfig, ZoneLimitsConfig
from agent.guardrails.decision import Evaluation, finite_number, show
from agent.guardrails.overrides import OverrideBook
from agent.guardrails.targets import (
    ATTRIBUTES,
    COOLING_SETPOINT,
    FAN_MODE,
    HEATING_SETPOINT,
    PIR_ENABLE,
    REPORT_INTERVAL,
    SETPOINTS,
    STATE,
    Kind,
    Registry,
)
from agent.state.staleness import SensorTimes, silent_points
from agent.store.audit import Origin, Override

HOUR_S = 3600.0
FAN_MODES = ("off", "low", "medium", "high", "on", "auto", "smart")
"""Zigbee2MQTT's fan modes."""
REPORT_INTERVAL_RANGE = (10, 86_400)
"""Whole seconds a serial node may be told to report at."""
SETPOINT_EPSILON = 1e-6
"""Setpoints closer than this are the same setpoint."""


class Rule:
    """Base of the rules: a name for the audit trail, a check, and an optional commit."""

    @property
    def name(self) -> str:
        return type(self).__name__

    def check(self, ev: Evaluation) -> None:
        raise NotImplementedError

    def commit(self, ev: Evaluation, seq: int) -> None:
        """Remember command number ``seq``, which will be sent (called only when none blocked it)."""


class UnknownTarget(Rule):
    """Forbids commands to devices no zone lists, attributes the device does not take,
    and requests naming the wrong zone: the default is deny."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def check(self, ev: Evaluation) -> None:
        req = ev.request
        found = self._registry.kind_of(req.device) if isinstance(req.device, str) else None
        if found is None:
            ev.block(self.name, f"{show(req.device)} is not an actuator of any zone")
            return
        zone, kind = found
        target = self._registry.target(req.device, req.attribute) if isinstance(req.attribute, str) else None
        if target is None:
            takes = ", ".join(ATTRIBUTES[kind])
            ev.block(self.name, f"{req.device} ({kind}) has no attribute {show(req.attribute)}; it takes {takes}")
        elif req.zone is not None and req.zone != zone:
            ev.block(self.name, f"{req.device} is in zone {zone}, not {show(req.zone)}")
        else:
            ev.target = target


class SetpointLimits(Rule):
    """Forbids setpoints outside the zone's limits (clamped: verdict modified) and
    setpoints that are not finite numbers (blocked).

    Occupants and ordinary app requests get the occupied limits (G36: heating
    18–22 °C, cooling 22–27 °C); an app's setback request may go down to
    ``setback_heating_c`` / up to ``setback_cooling_c``.  Nothing ever leaves
    the absolute limits.
    """

    def __init__(self, limits: Mapping[str, ZoneLimitsConfig], absolute: RangeConfig) -> None:
        self._limits = dict(limits)
        self._absolute = absolute

    def range_for(self, zone: str, attribute: str, *, setback: bool = False) -> tuple[float, float]:
        """The lowest and highest setpoint of ``attribute`` that may be sent to ``zone``."""
        lim = self._limits[zone]
        if attribute == HEATING_SETPOINT:
            low, high = (lim.setback_heating_c if setback else lim.heating_c.min), lim.heating_c.max
        elif attribute == COOLING_SETPOINT:
            low, high = lim.cooling_c.min, (lim.setback_cooling_c if setback else lim.cooling_c.max)
        else:
            raise ValueError(f"{attribute!r} is not a setpoint")
        return max(low, self._absolute.min), min(high, self._absolute.max)

    def check(self, ev: Evaluation) -> None:
        target = ev.target
        assert target is not None
        if target.attribute not in SETPOINTS:
            return
        number = finite_number(ev.value)
        if number is None:
            ev.block(self.name, f"setpoint {show(ev.value)} is not a finite number")
            return
        setback = bool(ev.request.setback) and ev.origin is not Origin.USER
        low, high = self.range_for(target.zone, target.attribute, setback=setback)
        what = f"zone {target.zone}'s {'setback ' if setback else ''}limit"
        if number < low:
            ev.modify(self.name, low, f"setpoint {number:g} °C is below {what} {low:g} °C; sending {low:g} °C")
        elif number > high:
            ev.modify(self.name, high, f"setpoint {number:g} °C is above {what} {high:g} °C; sending {high:g} °C")
        else:
            ev.value = number


class InvalidValue(Rule):
    """Forbids values a non-setpoint attribute cannot take: a switch state other
    than ON/OFF, a fan mode Zigbee2MQTT does not know, a report interval that is
    not a whole number of seconds in 10–86400, a PIR setting other than on/off."""

    def check(self, ev: Evaluation) -> None:
        assert ev.target is not None
        attribute = ev.target.attribute
        if attribute == STATE:
            state = on_off(ev.value)
            if state is None:
                ev.block(self.name, f"state must be ON or OFF, got {show(ev.value)}")
            else:
                ev.value = state
        elif attribute == FAN_MODE:
            mode = ev.value.lower() if isinstance(ev.value, str) else None
            if mode not in FAN_MODES:
                ev.block(self.name, f"fan_mode must be one of {', '.join(FAN_MODES)}, got {show(ev.value)}")
            else:
                ev.value = mode
        elif attribute == REPORT_INTERVAL:
            seconds = whole_number(ev.value)
            low, high = REPORT_INTERVAL_RANGE
            if seconds is None or not low <= seconds <= high:
                ev.block(self.name, f"report_interval_s must be whole seconds {low}–{high}, got {show(ev.value)}")
            else:
                ev.value = seconds
        elif attribute == PIR_ENABLE:
            enabled = ev.value if isinstance(ev.value, bool) else _BITS.get(whole_number(ev.value))
            if enabled is None:
                ev.block(self.name, f"pir_enable must be true/false or 1/0, got {show(ev.value)}")
            else:
                ev.value = int(enabled)


_BITS: dict[int | None, bool] = {0: False, 1: True}


def on_off(value: object) -> str | None:
    """``"ON"``/``"OFF"`` from a bool or from either word in any case; ``None`` otherwise."""
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, str) and value.upper() in ("ON", "OFF"):
        return value.upper()
    return None


def whole_number(value: object) -> int | None:
    number = finite_number(value)
    if number is None or number != int(number):
        return None
    return int(number)


@dataclass(frozen=True, slots=True)
class ZoneAlert:
    """A zone entering (``stale``) or leaving the fail-safe."""

    zone: str
    stale: bool
    sensors: tuple[str, ...]
    """The silent sensors (entering), or the zone's sensors (leaving)."""


class StaleSensorFailSafe(Rule):
    """Forbids apps to command a zone while any of its sensors is silent.

    The apps decide from those sensors, so their requests for the zone are
    blocked until the sensors report again; meanwhile the fail-safe holds the
    zone at the safe schedule (its own requests and occupants' still pass).
    """

    def __init__(
        self, sensors: Mapping[str, tuple[str, ...]], times: SensorTimes, max_age_s: float, since: float
    ) -> None:
        self._sensors = dict(sensors)
        self._times = times
        self.max_age_s = max_age_s
        self._since = since
        self._stale: set[str] = set()

    def silent(self, zone: str, now: float) -> list[str]:
        return silent_points(self._sensors.get(zone, ()), self._times, now, self.max_age_s, since=self._since)

    def check(self, ev: Evaluation) -> None:
        assert ev.target is not None
        if ev.origin is not Origin.APP:
            return
        silent = self.silent(ev.target.zone, ev.now)
        if silent:
            ev.block(
                self.name,
                f"zone {ev.target.zone} is in fail-safe: no reading from {', '.join(silent)}"
                f" for over {self.max_age_s:g} s",
            )

    def update(self, now: float) -> list[ZoneAlert]:
        """Zones that went stale or recovered since the last call (once per transition)."""
        alerts = []
        for zone, sensors in self._sensors.items():
            silent = self.silent(zone, now)
            if silent and zone not in self._stale:
                self._stale.add(zone)
                alerts.append(ZoneAlert(zone, True, tuple(silent)))
            elif not silent and zone in self._stale:
                self._stale.discard(zone)
                alerts.append(ZoneAlert(zone, False, sensors))
        return alerts


class UserOverrideHold(Rule):
    """Forbids apps to contradict an occupant's hold until it expires: another value
    for the held setpoint, or switching the zone's heating/cooling off."""

    def __init__(self, book: OverrideBook) -> None:
        self._book = book

    def check(self, ev: Evaluation) -> None:
        target = ev.target
        assert target is not None
        if ev.origin is not Origin.APP:
            return
        if target.attribute in SETPOINTS:
            held = self._book.active(target.zone, target.attribute, ev.now)
            if held is not None and not same_setpoint(ev.value, held.value):
                ev.block(self.name, f"{held_text(held)}; apps may not change it")
        elif target.kind is Kind.HVAC_SWITCH and ev.value == "OFF":
            holds = [o for o in self._book.in_zone(target.zone, ev.now) if o.attribute in SETPOINTS]
            if holds:
                ev.block(self.name, f"{held_text(holds[0])}; its heating/cooling stays available")


def same_setpoint(a: object, b: object) -> bool:
    x, y = finite_number(a), finite_number(b)
    return x is not None and y is not None and abs(x - y) < SETPOINT_EPSILON


def held_text(held: Override) -> str:
    until = datetime.fromtimestamp(held.expires_ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"zone {held.zone} holds {held.attribute} at {show(held.value)} (set by {held.by} until {until})"


@dataclass(slots=True)
class _Unit:
    """What the guardrails know of one HVAC switch: the state last commanded and since when."""

    state: str
    since: float
    starts: deque[float] = field(default_factory=deque)
    uncertain: bool = True
    """The last command's delivery is not confirmed (in flight or failed)."""
    last_seq: int = 0


class AntiShortCycle(Rule):
    """Forbids switching HVAC equipment on before its minimum off time, off before its
    minimum on time, and more starts per hour than allowed.

    Times run from the command's decision.  A command that was not confirmed
    may or may not have switched the unit, so the next command for the same
    state restarts the clock: whichever of the two really switched it, the unit
    gets its full minimum time.
    """

    def __init__(self, timing: HvacTimingConfig) -> None:
        self._timing = timing
        self._units: dict[str, _Unit] = {}

    def check(self, ev: Evaluation) -> None:
        target = ev.target
        assert target is not None
        unit = self._units.get(target.device)
        if target.kind is not Kind.HVAC_SWITCH or unit is None or unit.state == ev.value:
            return
        elapsed = ev.now - unit.since
        t = self._timing
        device = target.device
        if ev.value == "ON":
            if elapsed < t.min_off_s:
                why = f"{device} was switched off {elapsed:.0f} s ago; minimum off time is {t.min_off_s:g} s"
                ev.block(self.name, why)
                return
            starts = sum(1 for s in unit.starts if s > ev.now - HOUR_S)
            if starts >= t.max_starts_per_hour:
                why = f"{device} started {starts} times in the last hour; at most {t.max_starts_per_hour}"
                ev.block(self.name, why)
        elif elapsed < t.min_on_s:
            ev.block(self.name, f"{device} was switched on {elapsed:.0f} s ago; minimum on time is {t.min_on_s:g} s")

    def commit(self, ev: Evaluation, seq: int) -> None:
        target = ev.target
        assert target is not None
        if target.kind is Kind.HVAC_SWITCH:
            self.switched(target.device, str(ev.value), ev.now, seq)

    def switched(self, device: str, state: str, now: float, seq: int) -> None:
        unit = self._units.get(device)
        if unit is None:
            unit = self._units[device] = _Unit(state, now)
            if state == "ON":
                unit.starts.append(now)
        elif unit.state != state:
            unit.state, unit.since = state, now
            if state == "ON":
                unit.starts.append(now)
        elif unit.uncertain:
            # The earlier command may never have arrived: this one may be the real switch.
            unit.since = now
            if state == "ON" and unit.starts:
                unit.starts[-1] = now
        while unit.starts and unit.starts[0] <= now - HOUR_S:
            unit.starts.popleft()
        unit.uncertain, unit.last_seq = True, seq

    def delivered(self, device: str, seq: int, ok: bool) -> None:
        """The outcome of decision ``seq``: only a confirmed latest command makes the state certain."""
        unit = self._units.get(device)
        if unit is not None and unit.last_seq == seq:
            unit.uncertain = not ok


class RateLimit(Rule):
    """Forbids more than ``commands`` commands to one device in any ``window_s`` seconds."""

    def __init__(self, config: RateLimitConfig) -> None:
        self._config = config
        self._sent: dict[str, deque[float]] = {}

    def check(self, ev: Evaluation) -> None:
        assert ev.target is not None
        device = ev.target.device
        window, most = self._config.window_s, self._config.commands
        recent = sum(1 for t in self._sent.get(device, ()) if t > ev.now - window)
        if recent >= most:
            ev.block(self.name, f"{device} was sent {recent} commands in the last {window:g} s; at most {most}")

    def commit(self, ev: Evaluation, seq: int) -> None:
        assert ev.target is not None
        self.sent(ev.target.device, ev.now)

    def sent(self, device: str, now: float) -> None:
        times = self._sent.setdefault(device, deque())
        times.append(now)
        while times and times[0] <= now - self._config.window_s:
            times.popleft()
