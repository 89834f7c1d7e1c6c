"""The heating/cooling deadband of a zone: heating never set within ``deadband_c`` of cooling.

ASHRAE Guideline 36 (the zone setpoint sequence) has the software keep the
heating setpoint at least 0.5 K below the cooling setpoint, and ASHRAE 90.1
asks the same of separate heating and cooling thermostats in one zone (the
setpoint overlap restriction): otherwise heating and cooling run against each
other.  The rule therefore looks at every device of the zone, not only the one
commanded.

What a device holds is not always known.  A command may be lost, or delivered
without a confirmation, so a device may hold its last confirmed value or any
value sent to it since; the rule keeps that range per device and setpoint and
checks against its worst end.  A value the device reports itself (its state
topic, e.g. an occupant turned its dial) counts too, once it arrived after the
command: after a confirmed command it is the truth and replaces the range; while
a command is unconfirmed it only widens it, since the command may still land
after the report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from agent.config.schema import ZoneLimitsConfig
from agent.guardrails.decision import Evaluation
from agent.guardrails.rules import SETPOINT_EPSILON, Rule
from agent.guardrails.targets import COOLING_SETPOINT, HEATING_SETPOINT, SETPOINTS, Registry
from agent.store.audit import Origin

SetpointRange = Callable[..., tuple[float, float]]
"""``range_for(zone, attribute, setback=...)`` of :class:`~agent.guardrails.rules.SetpointLimits`."""


class DeviceReports(Protocol):
    """Where a point's newest reading can be looked up (a :class:`~agent.state.points.PointTable`)."""

    def last_reading(self, point: str) -> tuple[float, float] | None:
        """``(event time, value)`` of the point's newest reading, or ``None``."""
        ...


@dataclass(slots=True)
class _Held:
    """The values one device's setpoint may hold: its last confirmed one and every one sent since."""

    low: float
    high: float
    last_value: float
    last_seq: int
    seen: tuple[float, float] | None
    """The device's report as it stood when the last command was sent (or confirmed): a report
    that differs from it arrived since.  Arrival, not the report's stamp, orders reports and
    commands: a wall clock stepped back or a device's own clock cannot reorder them."""
    confirmed: bool = False


class SetpointDeadband(Rule):
    """Forbids a heating setpoint less than the zone's ``deadband_c`` below any of its cooling
    setpoints, and a cooling setpoint less than that above any heating one.

    The request yields: it is moved to the nearest value that keeps the deadband
    (modified), or blocked if that value is outside the request's own limits.
    """

    def __init__(self, limits: Mapping[str, ZoneLimitsConfig], registry: Registry, setpoint_range: SetpointRange,
                 reports: DeviceReports | None = None) -> None:
        self._limits = dict(limits)
        self._registry = registry
        self._range = setpoint_range
        self._reports = reports
        self._held: dict[tuple[str, str], _Held] = {}

    def check(self, ev: Evaluation) -> None:
        target = ev.target
        assert target is not None
        if target.attribute not in SETPOINTS or not isinstance(ev.value, float):
            return
        heating = target.attribute == HEATING_SETPOINT
        other = COOLING_SETPOINT if heating else HEATING_SETPOINT
        worst = self._worst(target.zone, other, lowest=heating)
        if worst is None:
            return
        value, (device, held) = ev.value, worst
        deadband = self._limits[target.zone].deadband_c
        bound = held - deadband if heating else held + deadband
        if (value <= bound + SETPOINT_EPSILON) if heating else (value >= bound - SETPOINT_EPSILON):
            return
        setback = bool(ev.request.setback) and ev.origin is not Origin.USER
        low, high = self._range(target.zone, target.attribute, setback=setback)
        side = "cooling" if heating else "heating"
        near = f"{value:g} °C is within {deadband:g} K of zone {target.zone}'s {side} setpoint {held:g} °C ({device})"
        if low - SETPOINT_EPSILON <= bound <= high + SETPOINT_EPSILON:
            ev.modify(self.name, bound, f"setpoint {near}; sending {bound:g} °C")
        else:
            ev.block(self.name, f"setpoint {near}, and {bound:g} °C is outside the limit {low:g}–{high:g} °C")

    def _worst(self, zone: str, attribute: str, *, lowest: bool) -> tuple[str, float] | None:
        """The lowest (or highest) value any device of ``zone`` may hold for ``attribute``, and that device."""
        found = []
        for target in self._registry.targets(zone, attribute):
            span = self.possible(target.device, attribute)
            if span is not None:
                found.append((target.device, span[0] if lowest else span[1]))
        if not found:
            return None
        pick = min if lowest else max
        return pick(found, key=lambda item: item[1])

    def possible(self, device: str, attribute: str) -> tuple[float, float] | None:
        """The lowest and highest value the device's setpoint may hold now; ``None`` if unknown."""
        held = self._held.get((device, attribute))
        reported = self._report(device, attribute)
        if held is None:
            return None if reported is None else (reported[1], reported[1])
        if reported is None or reported == held.seen:
            return held.low, held.high
        if held.confirmed:  # changed at the device after our confirmed command
            return reported[1], reported[1]
        # Unconfirmed: the command may still land after this report, or may never have.
        return min(held.low, reported[1]), max(held.high, reported[1])

    def commit(self, ev: Evaluation, seq: int) -> None:
        target = ev.target
        assert target is not None
        if target.attribute in SETPOINTS and isinstance(ev.value, float):
            self.sent(target.device, target.attribute, ev.value, seq)

    def sent(self, device: str, attribute: str, value: float, seq: int) -> None:
        """Command ``seq`` sets the setpoint to ``value``: until it is confirmed, the device may
        hold ``value`` or anything it could hold before."""
        before = self.possible(device, attribute)
        low, high = (value, value) if before is None else (min(before[0], value), max(before[1], value))
        self._held[(device, attribute)] = _Held(low, high, value, seq, self._report(device, attribute))

    def delivered(self, device: str, attribute: str, seq: int, ok: bool) -> None:
        """The outcome of command ``seq``: a confirmed latest command is what the device holds,
        until a report arrives after the confirmation."""
        held = self._held.get((device, attribute))
        if held is None or held.last_seq != seq or not ok:
            return
        reported = self._report(device, attribute)
        value = held.last_value
        if reported is not None and reported != held.seen and reported[1] != value:
            # Another value was reported since the command: which of the two the device holds
            # now is unknown until the next report.
            held.low, held.high = min(value, reported[1]), max(value, reported[1])
        else:
            held.low = held.high = value
        held.confirmed, held.seen = True, reported

    def _report(self, device: str, attribute: str) -> tuple[float, float] | None:
        return self._reports.last_reading(f"{device}/{attribute}") if self._reports is not None else None
