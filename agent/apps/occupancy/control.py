"""Occupancy-based control: set rooms back when they are empty, act only through the guardrails.

The app reacts to data, not to a timer: each report of a room's sensors goes
to the room's :class:`~agent.apps.occupancy.online.OccupancyEstimator`, the
room's :func:`~agent.apps.occupancy.policy.plan` is worked out at that event
time, and whatever differs from what the room's devices last reported is asked
for through :meth:`Agent.request <agent.service.Agent.request>`.  Decisions are
therefore a function of the readings alone, so a simulated run with a seed
reproduces its commands exactly.

An attribute an occupant holds (a setpoint set on the thermostat page) is left
alone until the hold ends or is released: the guardrails would block it anyway,
and asking every few minutes would only fill the audit trail.  A request in
flight for a device is never doubled; a request that did not succeed (blocked,
unconfirmed) is not repeated for the same value before ``RETRY_AFTER_S``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from agent.apps.errors import AppSetupError
from agent.apps.occupancy.features import canonical
from agent.apps.occupancy.model import OccupancyModel
from agent.apps.occupancy.online import (
    DEFAULT_MODELS,
    OccupancyEstimator,
    default_model,
)
from agent.apps.occupancy.policy import FAN_OFF, ControlSettings, Plan, RoomView, plan
from agent.apps.pending import PendingRequests
from agent.clock import Clock
from agent.config.schema import OccupancyControlConfig, ZoneConfig
from agent.guardrails import ActionRequest
from agent.guardrails.schedule import SafeSchedule
from agent.guardrails.targets import (
    FAN_MODE,
    HEATING_SETPOINT,
    STATE,
    Kind,
    Registry,
    Target,
)
from agent.ingest.reading import Reading
from agent.ingest.zigbee import StateMessage
from agent.store import AuditRecord, Outcome

log = logging.getLogger(__name__)

APP = "occupancy"
RETRY_AFTER_S = 900.0
"""A request that did not succeed is not repeated for the same value sooner than this."""
SCHEDULE_LOOKAHEAD_S = 43_200.0
SCHEDULE_STEP_S = 300.0
_SUCCESS = frozenset({Outcome.CONFIRMED, Outcome.ACKED})

Requester = Callable[[ActionRequest], Awaitable[AuditRecord]]
HeldAttributes = Callable[[str, float], frozenset[str]]
"""``(zone, now)`` → the attributes of the zone an occupant holds now."""


class ModelError(AppSetupError):
    """The configured occupancy model cannot be loaded; the message says which and why."""


def load_model(name: str) -> OccupancyModel:
    """A shipped model by variant name, or a model file by path."""
    if name in DEFAULT_MODELS:
        return default_model(name)
    try:
        return OccupancyModel.load(name)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"apps.occupancy_control.model: cannot load {name!r} ({exc}); use one of "
            f"{', '.join(DEFAULT_MODELS)} or the path of a model file"
        ) from None


@dataclass(slots=True)
class WarmupLearner:
    """The room's heating rate, learned from its own warm-ups (K/h, smoothed)."""

    rate_k_per_h: float
    _last: tuple[float, float] | None = None

    def observe(self, ts: float, temperature: float, heating: bool) -> None:
        """Feed each temperature report; ``heating``: the setpoint was well above the room since the last."""
        last, self._last = self._last, (ts, temperature)
        if last is None or not heating or ts <= last[0]:
            return
        rate = (temperature - last[1]) / (ts - last[0]) * 3600.0
        if 0.1 <= rate <= 20.0:
            self.rate_k_per_h += 0.2 * (rate - self.rate_k_per_h)


@dataclass(slots=True)
class Room:
    """One controlled zone: its sensors, its estimator, its actuators and what it last did."""

    zone: str
    sensor_devices: frozenset[str]
    estimator: OccupancyEstimator
    thermostats: list[Target]
    fans: list[Target]
    lights: list[Target]
    warmup: WarmupLearner
    temperature: float | None = None
    co2: float | None = None
    last_occupied_ts: float | None = None
    occupied: bool | None = None
    """The estimator's latest answer."""
    plan: Plan | None = None
    plans_by_mode: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Failed:
    value: object
    ts: float


class OccupancyControl:
    """The app; the agent calls :meth:`on_readings` and :meth:`on_state`, and stops it with :meth:`close`."""

    def __init__(
        self,
        config: OccupancyControlConfig,
        zones: Mapping[str, ZoneConfig],
        registry: Registry,
        schedule: SafeSchedule,
        request: Requester,
        clock: Clock,
        model: OccupancyModel,
        held: HeldAttributes = lambda zone, now: frozenset(),
    ) -> None:
        self._settings = ControlSettings(
            occupied_setpoint_c=config.occupied_setpoint_c,
            standby_offset_k=config.standby_offset_k,
            unoccupied_setpoint_c=config.unoccupied_setpoint_c,
            vacancy_delay_s=config.vacancy_delay_s,
            lights_off_after_s=config.lights_off_after_s,
            co2_high_ppm=config.dcv.co2_high_ppm,
            co2_low_ppm=config.dcv.co2_low_ppm,
            preheat_max_s=config.preheat_max_s,
        )
        self._schedule = schedule
        self._request = request
        self._clock = clock
        self._held = held
        self.rooms = _rooms(config, zones, registry, schedule, model)
        self._by_sensor = {device: room for room in self.rooms.values() for device in room.sensor_devices}
        self._fields: dict[str, dict[str, object]] = {}
        self._pending = PendingRequests()
        self._failed: dict[tuple[str, str], _Failed] = {}
        self._start_cache: tuple[float, float | None] = (0.0, None)
        """(event time searched from, next scheduled start found)."""
        self._closed = False
        self.requests = 0
        self.decisions = 0

    # -- inputs ------------------------------------------------------------------

    def on_readings(self, readings: Iterable[Reading]) -> None:
        """Feed a batch of readings (one report, usually); re-plan the rooms they belong to."""
        touched: dict[str, Room] = {}
        for r in readings:
            room = self._by_sensor.get(r.device)
            if room is None:
                continue
            self._take(room, r)
            touched[room.zone] = room
        if self._closed:
            return
        for room in touched.values():
            try:
                self._decide(room, self._clock.now())
            except Exception:  # a bug in one room's decision must not stop ingest
                log.exception("occupancy control: could not decide for zone %s", room.zone)

    def on_state(self, message: StateMessage) -> None:
        """A Zigbee device's reported state: what the app compares its plan against."""
        self._fields[message.device] = dict(message.fields)

    # -- lifecycle ---------------------------------------------------------------

    def in_flight(self) -> int:
        return len(self._pending)

    async def idle(self) -> None:
        """Wait until every request made so far has its outcome."""
        await self._pending.idle()

    def close(self) -> None:
        """Make no more requests; those in flight end when the actuator closes (then :meth:`idle`)."""
        self._closed = True

    def replan(self, zone: str) -> None:
        """Decide for ``zone`` now rather than at its next sensor report: an occupant
        who ends a hold early expects the automation back at once.  A zone the app
        does not control is left alone."""
        room = self.rooms.get(zone)
        if room is None or self._closed:
            return
        try:
            self._decide(room, self._clock.now())
        except Exception:  # as in on_readings: one room's bug must not reach the caller
            log.exception("occupancy control: could not decide for zone %s", zone)

    # -- deciding ----------------------------------------------------------------

    def _take(self, room: Room, r: Reading) -> None:
        room.estimator.push(r.channel, r.ts, r.value)
        name = canonical(r.channel)
        if not math.isfinite(r.value):
            return
        if name == "temperature":
            heating = room.plan is not None and room.plan.setpoint_c >= (room.temperature or r.value) + 0.5
            room.warmup.observe(r.ts, r.value, heating)
            room.temperature = r.value
        elif name == "co2":
            room.co2 = r.value

    def _decide(self, room: Room, now: float) -> None:
        occupied = room.estimator.occupied(now)
        room.occupied = occupied
        if occupied:
            room.last_occupied_ts = now
        scheduled = self._schedule.occupied(now)
        view = RoomView(
            now=now,
            occupied=occupied,
            last_occupied_ts=room.last_occupied_ts,
            scheduled=scheduled,
            next_scheduled_start=self._next_start(now, scheduled),
            temperature=room.temperature,
            co2=room.co2,
            fan_mode=self._reported(room.fans[0].device, FAN_MODE) if room.fans else None,
            warmup_k_per_h=room.warmup.rate_k_per_h,
        )
        room.plan = p = plan(view, self._settings)
        room.plans_by_mode[p.mode] = room.plans_by_mode.get(p.mode, 0) + 1
        self.decisions += 1
        held = self._held(room.zone, now)
        for target, value in self._wanted(room, p):
            if target.attribute not in held:
                self._ask(room, target, value, p, now)

    def _wanted(self, room: Room, p: Plan) -> list[tuple[Target, object]]:
        """(target, value) pairs where the devices' reported state differs from the plan."""
        out: list[tuple[Target, object]] = []
        for t in room.thermostats:
            current = self._reported(t.device, HEATING_SETPOINT)
            if not isinstance(current, int | float) or abs(float(current) - p.setpoint_c) > 0.05:
                out.append((t, p.setpoint_c))
        for t in room.fans:
            if not _fan_matches(self._fields.get(t.device, {}), p.fan_mode):
                out.append((t, p.fan_mode))
        if p.lights_off:
            out += [(t, "OFF") for t in room.lights if self._reported(t.device, STATE) == "ON"]
        return out

    def _ask(self, room: Room, target: Target, value: object, p: Plan, now: float) -> None:
        key = (target.device, target.attribute)
        if key in self._pending:
            return
        failed = self._failed.get(key)
        if failed is not None and failed.value == value and now - failed.ts < RETRY_AFTER_S:
            return
        setback = p.setback and target.attribute == HEATING_SETPOINT
        req = ActionRequest(APP, target.device, target.attribute, value, f"{p.mode}: {p.why}", room.zone, setback)
        self.requests += 1
        self._pending.start(key, self._send(key, req, now), name=f"occupancy:{target.device}")

    async def _send(self, key: tuple[str, str], req: ActionRequest, now: float) -> None:
        try:
            record = await self._request(req)
        except Exception as exc:  # the agent stopping (ActuationClosed) or a bug: log, never raise
            log.info("occupancy control: %s %s=%r not carried out: %s", req.device, req.attribute, req.value, exc)
            self._failed[key] = _Failed(req.value, now)
            return
        if record.outcome in _SUCCESS:
            self._failed.pop(key, None)
        else:
            self._failed[key] = _Failed(req.value, now)

    def _reported(self, device: str, attribute: str) -> object | None:
        return self._fields.get(device, {}).get(attribute)

    def _next_start(self, now: float, scheduled: bool) -> float | None:
        """The next moment the schedule turns occupied, on a 5-minute grid, within 12 h.

        Every room reports every few minutes and all share one schedule, so a
        start found stays the answer until it passes: searched once, not per report.
        """
        if scheduled:
            return None
        found_at, start = self._start_cache
        if start is not None and found_at <= now < start:
            return start
        start = self._search_start(now)
        self._start_cache = (now, start)
        return start

    def _search_start(self, now: float) -> float | None:
        t = now - now % SCHEDULE_STEP_S
        end = now + SCHEDULE_LOOKAHEAD_S
        while t <= end:
            t += SCHEDULE_STEP_S
            if self._schedule.occupied(t):
                return t
        return None

    def summary(self) -> dict[str, object]:
        """Per zone: the latest estimate and mode, and how often each mode was planned."""
        return {
            zone: {
                "occupied": room.occupied,
                "mode": room.plan.mode.value if room.plan else None,
                "plans_by_mode": dict(room.plans_by_mode),
                "warmup_k_per_h": round(room.warmup.rate_k_per_h, 2),
            }
            for zone, room in self.rooms.items()
        }


def _fan_matches(fields: Mapping[str, object], wanted: str) -> bool:
    """Whether a fan already does what the plan wants; "off" is met by any mode that moves no air."""
    if wanted == FAN_OFF and fields.get(STATE) == "OFF":
        return True
    return fields.get(FAN_MODE) == wanted


def _rooms(
    config: OccupancyControlConfig,
    zones: Mapping[str, ZoneConfig],
    registry: Registry,
    schedule: SafeSchedule,
    model: OccupancyModel,
) -> dict[str, Room]:
    """The zones to control: those named, or every zone with a heating thermostat."""
    names = list(config.zones) or [z for z in zones if registry.targets(z, HEATING_SETPOINT)]
    unknown = [z for z in names if z not in zones]
    if unknown:
        raise ValueError(
            f"apps.occupancy_control.zones: {', '.join(unknown)} not in guardrails.zones "
            f"(known: {', '.join(zones) or 'none'})"
        )
    rooms = {}
    for name in names:
        targets = registry.targets(name)
        rooms[name] = Room(
            zone=name,
            sensor_devices=frozenset(point.split("/", 1)[0] for point in zones[name].sensors),
            estimator=OccupancyEstimator(model, tz=schedule.tz),
            thermostats=[t for t in targets if t.attribute == HEATING_SETPOINT],
            fans=[t for t in targets if t.attribute == FAN_MODE],
            lights=[t for t in targets if t.kind is Kind.SWITCH and t.attribute == STATE],
            warmup=WarmupLearner(config.warmup_k_per_h),
        )
    return rooms
