"""The one place every command passes: the rules in a fixed order, and their memory.

:meth:`Guardrails.evaluate` runs a request through :data:`RULE_ORDER` and returns a
:class:`Decision`.  It is pure logic on event time: no I/O except the store
that keeps occupants' overrides, no clock of its own (the agent passes its
clock's time), so any sequence of requests can be replayed in a test.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from agent.config.schema import GuardrailsConfig
from agent.guardrails.deadband import DeviceReports, SetpointDeadband
from agent.guardrails.decision import ActionRequest, Decision, Evaluation, finite_number
from agent.guardrails.overrides import OverrideBook, OverrideStore
from agent.guardrails.rules import (
    AntiShortCycle,
    InvalidValue,
    RateLimit,
    Rule,
    SetpointLimits,
    StaleSensorFailSafe,
    UnknownTarget,
    UserOverrideHold,
    ZoneAlert,
    same_setpoint,
)
from agent.guardrails.schedule import SafeSchedule, time_zone
from agent.guardrails.targets import SETPOINTS, Kind, Registry, Target
from agent.state.staleness import SensorTimes
from agent.store.audit import AuditRecord, Origin, Outcome, Override, Verdict

FAIL_SAFE_APP = "failsafe"
"""The app name of the fail-safe's own requests in the audit trail."""

RULE_ORDER = (
    "UnknownTarget",
    "SetpointLimits",
    "SetpointDeadband",
    "InvalidValue",
    "StaleSensorFailSafe",
    "UserOverrideHold",
    "AntiShortCycle",
    "RateLimit",
)
"""The order rules are evaluated in; the first rule that blocks ends the evaluation.

Knowing the target comes first (nothing else can be judged without it); the
value is normalised next (clamped, or blocked if meaningless), so later rules
compare the value that would really be sent; then who may command the zone at
all (fail-safe, occupant hold); then equipment protection; the rate limit last,
so only commands that would be sent use up a device's budget."""


class UnknownZoneError(LookupError):
    """No zone of that name, or no device in it takes the attribute."""


@dataclass(frozen=True, slots=True)
class Sent:
    """The last command sent to one target, and whether the device is known to have it."""

    value: object
    ts: float
    seq: int
    ok: bool | None = None
    """``None`` while in flight."""


class Guardrails:
    """Evaluates every request against the rules in :data:`RULE_ORDER`."""

    def __init__(
        self,
        config: GuardrailsConfig,
        *,
        sensors: SensorTimes,
        overrides: OverrideStore,
        now: float,
        history: Iterable[AuditRecord] = (),
        reports: DeviceReports | None = None,
    ) -> None:
        """``history``: audit rows in the order written, so equipment starts, rate limits and
        what thermostats may hold survive a restart (the last hour, and each setpoint's rows
        since its last confirmed one: :meth:`~agent.store.Store.audit_since_confirmed`).
        ``reports``: the devices' own readings (the agent's point table), for the setpoints
        they report."""
        self.config = config
        self.registry = Registry(config.zones)
        self.overrides = OverrideBook(overrides, now)
        self.schedule = SafeSchedule(config.safe_schedule, time_zone(config.timezone))
        self.limits = SetpointLimits({z: c.limits for z, c in config.zones.items()}, config.absolute_c)
        self.failsafe = StaleSensorFailSafe(
            {z: tuple(c.sensors) for z, c in config.zones.items()}, sensors, config.stale_after_s, now
        )
        self._cycle = AntiShortCycle(config.hvac)
        self._rate = RateLimit(config.rate_limit)
        self.deadband = SetpointDeadband(
            {z: c.limits for z, c in config.zones.items()}, self.registry, self.limits.range_for, reports
        )
        self.rules: tuple[Rule, ...] = (
            UnknownTarget(self.registry),
            self.limits,
            self.deadband,
            InvalidValue(),
            self.failsafe,
            UserOverrideHold(self.overrides),
            self._cycle,
            self._rate,
        )
        assert tuple(rule.name for rule in self.rules) == RULE_ORDER
        self._now = now
        self._seq = 0
        self._sent: dict[tuple[str, str], Sent] = {}
        for record in history:
            self._replay(record)

    # -- decisions -----------------------------------------------------------

    def evaluate(self, request: ActionRequest, now: float, origin: Origin = Origin.APP) -> Decision:
        """Decide on ``request`` at event time ``now``; a command that will be sent is remembered."""
        ev = self._run(request, now, origin)
        if ev.blocked:
            return ev.decision(0)
        self._seq += 1
        for rule in self.rules:
            rule.commit(ev, self._seq)
        decision = ev.decision(self._seq)
        assert decision.target is not None
        self._sent[(decision.target.device, decision.target.attribute)] = Sent(decision.value, decision.ts, self._seq)
        return decision

    def check(self, request: ActionRequest, now: float, origin: Origin = Origin.APP) -> Decision:
        """What :meth:`evaluate` would decide, remembering nothing (e.g. to show a user a limit)."""
        return self._run(request, now, origin).decision(0)

    def record_outcome(self, decision: Decision, outcome: Outcome) -> None:
        """Tell the guardrails what became of a sent command (see :class:`AntiShortCycle`)."""
        target = decision.target
        if target is None or not decision.sent:
            return
        key = (target.device, target.attribute)
        last = self._sent.get(key)
        if last is not None and last.seq == decision.seq:
            self._sent[key] = Sent(last.value, last.ts, last.seq, outcome.succeeded)
        if target.kind is Kind.HVAC_SWITCH:
            self._cycle.delivered(target.device, decision.seq, outcome.succeeded)
        self.deadband.delivered(target.device, target.attribute, decision.seq, outcome.succeeded)

    def last_sent(self, device: str, attribute: str) -> Sent | None:
        return self._sent.get((device, attribute))

    def setpoint_range(self, zone: str, attribute: str, *, setback: bool = False) -> tuple[float, float]:
        """The setpoints of ``attribute`` that may be sent to ``zone`` (an occupant's: ``setback=False``)."""
        if zone not in self.registry.zones:
            raise UnknownZoneError(f"no zone {zone!r}")
        return self.limits.range_for(zone, attribute, setback=setback)

    def _run(self, request: ActionRequest, now: float, origin: Origin) -> Evaluation:
        ev = Evaluation(request, Origin(origin), self._advance(now), value=request.value)
        for rule in self.rules:
            rule.check(ev)
            if ev.blocked:
                break
        return ev

    def _advance(self, now: float) -> float:
        """Event time as the rules see it: never backwards (a wall clock stepped back
        by NTP must not reopen a minimum off time or a rate window)."""
        if not math.isfinite(now):
            raise ValueError(f"event time must be finite, got {now!r}")
        self._now = max(self._now, now)
        return self._now

    # -- overrides -----------------------------------------------------------

    def zone_targets(self, zone: str, attribute: str) -> list[Target]:
        """The devices of ``zone`` that take ``attribute``; :class:`UnknownZoneError` if none."""
        if zone not in self.registry.zones:
            raise UnknownZoneError(f"no zone {zone!r}")
        targets = self.registry.targets(zone, attribute)
        if not targets:
            raise UnknownZoneError(f"zone {zone!r} has no device taking {attribute!r}")
        return targets

    def hold_duration(self, hold_s: object = None) -> float:
        """Seconds a hold lasts: ``override_hold_s`` by default, at most ``max_override_hold_s``.

        Raises :class:`ValueError` for anything but a positive number.
        """
        seconds = self.config.override_hold_s if hold_s is None else finite_number(hold_s)
        if seconds is None or seconds <= 0:
            raise ValueError(f"hold_s must be a positive number of seconds, got {hold_s!r}")
        return min(seconds, self.config.max_override_hold_s)

    def check_holdable(self, zone: str, attribute: str) -> list[Target]:
        """The targets an occupant's hold of ``attribute`` in ``zone`` would set; raises if none can be held."""
        if attribute not in SETPOINTS:
            raise ValueError(f"only setpoints ({', '.join(SETPOINTS)}) can be held, not {attribute!r}")
        return self.zone_targets(zone, attribute)

    def hold(self, zone: str, attribute: str, value: object, now: float, by: str, hold_s: object = None) -> Override:
        """Persist an occupant's hold of a setpoint (the value already through the rules)."""
        self.check_holdable(zone, attribute)
        seconds = self.hold_duration(hold_s)
        start = self._advance(now)
        return self.overrides.hold(Override(zone, attribute, value, start, start + seconds, by))

    def release(self, zone: str, attribute: str, now: float, by: str) -> Override | None:
        """End a hold before it expires (back to automatic); the hold, or ``None`` if none was in force."""
        return self.overrides.release(zone, attribute, self._advance(now), by)

    def active_overrides(self, now: float, zone: str | None = None) -> list[Override]:
        active = self.overrides.all_active(max(self._now, now))
        return [o for o in active if zone is None or o.zone == zone]

    # -- fail-safe -----------------------------------------------------------

    def stale_zones(self, now: float) -> dict[str, list[str]]:
        """Zones with silent sensors, and those sensors."""
        t = max(self._now, now)
        found = {zone: self.failsafe.silent(zone, t) for zone in self.registry.zones}
        return {zone: silent for zone, silent in found.items() if silent}

    def update_staleness(self, now: float) -> list[ZoneAlert]:
        """Zones that entered or left the fail-safe since the last call: one alert per transition."""
        return self.failsafe.update(max(self._now, now))

    def failsafe_requests(self, now: float) -> list[ActionRequest]:
        """What the fail-safe must send now to hold every stale zone at the safe schedule.

        Nothing is asked twice: a target that already has (or is being sent) the
        safe value is skipped; one that did not confirm is asked again after
        ``stale_after_s``.  A setpoint an occupant holds is left alone.
        """
        t = max(self._now, now)
        occupied = self.schedule.occupied(t)
        requests = []
        for zone, silent in self.stale_zones(t).items():
            for target in self.registry.targets(zone):
                value = self.schedule.value(target, t)
                if value is None or self.overrides.active(zone, target.attribute, t) is not None:
                    continue
                if self._failsafe_due(target, value, t):
                    reason = (
                        f"sensor(s) {', '.join(silent)} silent: safe schedule"
                        f" ({'occupied' if occupied else 'unoccupied'} hours)"
                    )
                    requests.append(
                        ActionRequest(FAIL_SAFE_APP, target.device, target.attribute, value, reason, zone, not occupied)
                    )
        return requests

    def _failsafe_due(self, target: Target, value: object, now: float) -> bool:
        last = self._sent.get((target.device, target.attribute))
        if last is None:
            return True
        same = same_setpoint(last.value, value) if target.attribute in SETPOINTS else last.value == value
        if not same:
            return True
        return last.ok is False and now - last.ts >= self.config.stale_after_s

    # -- restart -------------------------------------------------------------

    def _replay(self, record: AuditRecord) -> None:
        """Rebuild equipment and rate memory from one audit row written before a restart."""
        if record.verdict is Verdict.BLOCKED:
            return
        target = self.registry.target(record.device, record.attribute)
        if target is None:
            return  # the device left the configuration
        self._seq += 1
        self._now = max(self._now, record.ts)
        ok = record.outcome.succeeded
        self._rate.sent(target.device, record.ts)
        if target.kind is Kind.HVAC_SWITCH and record.sent in ("ON", "OFF"):
            self._cycle.switched(target.device, str(record.sent), record.ts, self._seq)
            self._cycle.delivered(target.device, self._seq, ok)
        if target.attribute in SETPOINTS and (value := finite_number(record.sent)) is not None:
            self.deadband.sent(target.device, target.attribute, value, self._seq)
            self.deadband.delivered(target.device, target.attribute, self._seq, ok)
        self._sent[(target.device, target.attribute)] = Sent(record.sent, record.ts, self._seq, ok)
