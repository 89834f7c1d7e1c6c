"""Property tests: whatever apps ask, whenever, nothing unsafe reaches a device.

Hypothesis drives the guardrails with random sequences of requests (any
target, any value — NaN, infinities, huge numbers, text, None — from apps,
occupants and the fail-safe), sensor readings, occupants' holds and times that
may even run backwards (a wall clock stepped back).  Commands that pass are
"delivered" to model devices, some of them lost or unconfirmed on the way, and
the devices check what users care about:

* no setpoint outside the zone's limits, and no malformed value, is sent;
* no thermostat of a zone holds a heating setpoint within the zone's deadband
  of a cooling setpoint any thermostat of the zone holds — even when commands
  are lost or their confirmations are;
* no HVAC unit really switches on before its minimum off time, off before its
  minimum on time, or starts more often per hour than allowed — even when
  commands are lost or their confirmations are;
* no device gets more commands per window than the rate limit;
* no app request passes for a zone with a silent sensor, or against a hold.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from guardrails_support import MONDAY, SITE, MemoryOverrides, Sensors, site_config
from hypothesis import example, given, settings, target
from hypothesis import strategies as st

from agent.guardrails import (
    COOLING_SETPOINT,
    HEATING_SETPOINT,
    ActionRequest,
    Decision,
    Guardrails,
    Origin,
    Verdict,
)
from agent.guardrails.rules import FAN_MODES, REPORT_INTERVAL_RANGE, same_setpoint
from agent.store import Outcome

CONFIG = site_config()
HVAC = CONFIG.hvac
RATE = CONFIG.rate_limit
DEVICES = [device for zone in SITE["zones"].values() for device in zone["actuators"]] + ["ghost", ""]
ATTRIBUTES = [HEATING_SETPOINT, COOLING_SETPOINT, "state", "fan_mode", "report_interval_s", "pir_enable", "colour"]
POINTS = [point for zone in SITE["zones"].values() for point in zone["sensors"]]

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=45),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.just(10**5000),
    st.sampled_from(["ON", "OFF", "on", "off", "TOGGLE", "", "auto", "low", "21.5"]),
    st.booleans(),
    st.none(),
)
# Mostly forward, sometimes a long gap, sometimes a clock stepped backwards.
steps_in_time = st.one_of(st.floats(0, 400), st.floats(400, 5000), st.just(0.0), st.floats(-2000, 0))


@st.composite
def request_step(draw: st.DrawFn) -> tuple[object, ...]:
    request = ActionRequest(
        draw(st.sampled_from(["occupancy", "scheduler"])),
        draw(st.sampled_from(DEVICES)),
        draw(st.sampled_from(ATTRIBUTES)),
        draw(values),
        "property test",
        draw(st.sampled_from([None, None, "office", "meeting"])),
        draw(st.booleans()),
    )
    origin = draw(st.sampled_from([Origin.APP, Origin.APP, Origin.USER, Origin.FAIL_SAFE]))
    # (delivered to the device, confirmation received): never confirmed without delivery.
    fate = draw(st.sampled_from([(True, True), (True, True), (True, False), (False, False)]))
    return ("request", request, origin, fate)


steps = st.one_of(
    request_step(),
    st.tuples(st.just("reading"), st.sampled_from(POINTS)),
    st.tuples(
        st.just("hold"), st.sampled_from(["office", "meeting"]), st.sampled_from([HEATING_SETPOINT, COOLING_SETPOINT]),
        st.floats(10, 30), st.floats(60, 20_000),
    ),
    st.tuples(st.just("release"), st.sampled_from(["office", "meeting"]), st.just(HEATING_SETPOINT)),
    st.tuples(st.just("failsafe"), st.sampled_from([(True, True), (False, False), (True, False)])),
)


class Reports:
    """The thermostats' own state reports, as the agent's point table keeps them."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[float, float]] = {}

    def last_reading(self, point: str) -> tuple[float, float] | None:
        return self.values.get(point)


@dataclass
class HvacUnit:
    """A real heater relay: it only switches when a delivered command changes its state."""

    state: str | None = None
    changed_at: float = -math.inf
    starts: list[float] = field(default_factory=list)

    def receive(self, value: str, t: float) -> None:
        if self.state is not None and value == self.state:
            return
        if self.state == "OFF":
            assert t - self.changed_at >= HVAC.min_off_s, f"started {t - self.changed_at} s after stopping"
        if self.state == "ON":
            assert t - self.changed_at >= HVAC.min_on_s, f"stopped {t - self.changed_at} s after starting"
        if value == "ON":
            self.starts.append(t)
            in_hour = [s for s in self.starts if s > t - 3600]
            assert len(in_hour) <= HVAC.max_starts_per_hour, f"{len(in_hour)} starts in an hour"
        self.state, self.changed_at = value, t


class Site:
    """The guardrails plus model devices, driven one step at a time."""

    def __init__(self) -> None:
        self.now = MONDAY + 8 * 3600
        self.effective = self.now
        """The guardrails' time: the latest event time they were given (it never runs backwards)."""
        self.sensors = Sensors().all_fresh(self.now)
        self.overrides = MemoryOverrides()
        self.units: dict[str, HvacUnit] = {}
        self.setpoints: dict[tuple[str, str], tuple[str, float]] = {}
        """What each thermostat holds: (device, attribute) → (zone, °C)."""
        self.reports = Reports()
        self.guardrails = Guardrails(CONFIG, sensors=self.sensors, overrides=self.overrides, now=self.now,
                                     reports=self.reports)
        self.in_flight: list[tuple[Decision, Outcome]] = []
        self.sent: dict[str, deque[float]] = {}

    def advance(self, dt: float) -> None:
        self.now += dt

    def request(self, request: ActionRequest, origin: Origin, fate: tuple[bool, bool], later: bool = False) -> None:
        """``later``: the outcome is reported only after the next request was decided (still in flight)."""
        decision = self.guardrails.evaluate(request, self.now, origin)
        self.effective = max(self.effective, self.now)
        assert decision.ts == self.effective
        silent = self.silent_zones()
        held = {(o.zone, o.attribute): o.value for o in self.guardrails.active_overrides(self.effective)}
        if decision.verdict is Verdict.BLOCKED:
            assert decision.value is None and decision.rules
            return
        target = decision.target
        assert target is not None and target.device == request.device
        if origin is Origin.APP:
            assert target.zone not in silent, "an app commanded a zone whose sensor is silent"
            if target.attribute in (HEATING_SETPOINT, COOLING_SETPOINT) and (target.zone, target.attribute) in held:
                assert same_setpoint(decision.value, held[(target.zone, target.attribute)])
            if target.kind == "hvac_switch" and decision.value == "OFF":
                assert not any(zone == target.zone for zone, _ in held)
        self.check_value(decision, request, origin)
        self.deliver(decision, fate, later)

    def check_value(self, decision: Decision, request: ActionRequest, origin: Origin) -> None:
        target = decision.target
        assert target is not None
        value = decision.value
        if target.attribute in (HEATING_SETPOINT, COOLING_SETPOINT):
            assert isinstance(value, float) and math.isfinite(value)
            limits = CONFIG.zones[target.zone].limits
            setback = bool(request.setback) and origin is not Origin.USER
            if target.attribute == HEATING_SETPOINT:
                low = limits.setback_heating_c if setback else limits.heating_c.min
                high = limits.heating_c.max
            else:
                low, high = limits.cooling_c.min, limits.setback_cooling_c if setback else limits.cooling_c.max
            assert max(low, CONFIG.absolute_c.min) <= value <= min(high, CONFIG.absolute_c.max)
            assert (decision.verdict is Verdict.MODIFIED) == (value != request.value)
        elif target.attribute == "state":
            assert value in ("ON", "OFF")
        elif target.attribute == "fan_mode":
            assert value in FAN_MODES
        elif target.attribute == "report_interval_s":
            assert type(value) is int and REPORT_INTERVAL_RANGE[0] <= value <= REPORT_INTERVAL_RANGE[1]
        else:
            assert value in (0, 1) and type(value) is int

    def deliver(self, decision: Decision, fate: tuple[bool, bool], later: bool = False) -> None:
        target = decision.target
        assert target is not None
        times = self.sent.setdefault(target.device, deque())
        times.append(decision.ts)
        assert sum(1 for t in times if t > decision.ts - RATE.window_s) <= RATE.commands
        delivered, confirmed = fate
        if delivered and target.kind == "hvac_switch":
            self.units.setdefault(target.device, HvacUnit()).receive(str(decision.value), decision.ts)
        if delivered and target.attribute in (HEATING_SETPOINT, COOLING_SETPOINT):
            self.setpoints[(target.device, target.attribute)] = (target.zone, float(decision.value))  # type: ignore[arg-type]
            self.check_deadband(target.zone, target.attribute, float(decision.value))  # type: ignore[arg-type]
        for earlier, outcome in self.in_flight:
            self.guardrails.record_outcome(earlier, outcome)
        self.in_flight.clear()
        outcome = Outcome.CONFIRMED if confirmed else Outcome.UNCONFIRMED
        if later:
            self.in_flight.append((decision, outcome))
        else:
            self.guardrails.record_outcome(decision, outcome)

    def check_deadband(self, zone: str, attribute: str, value: float) -> None:
        """A setpoint just delivered keeps the deadband to every opposite one the zone's thermostats
        hold (an occupant at a thermostat's dial may break it; a command may not)."""
        opposite = COOLING_SETPOINT if attribute == HEATING_SETPOINT else HEATING_SETPOINT
        others = [v for (_, a), (z, v) in self.setpoints.items() if z == zone and a == opposite]
        gaps = [(o - value) if attribute == HEATING_SETPOINT else (value - o) for o in others]
        deadband = CONFIG.zones[zone].limits.deadband_c
        assert all(g >= deadband - 1e-9 for g in gaps), f"zone {zone}: {attribute} {value:g} against {others}"

    def report(self, device: str, attribute: str) -> None:
        """The thermostat publishes its state (as Zigbee2MQTT devices do).  Each message carries
        a later stamp than the one before (``last_seen`` moves on), even when event time stands
        still or the clock was stepped back."""
        held = self.setpoints.get((device, attribute))
        if held is not None:
            point = f"{device}/{attribute}"
            before = self.reports.values.get(point, (-math.inf, 0.0))[0]
            self.reports.values[point] = (max(self.now, self.effective, before + 0.001), held[1])

    def dial(self, device: str, attribute: str, value: float) -> None:
        """An occupant turns the thermostat's own dial; the device reports it."""
        zone = next(z for z, cfg in SITE["zones"].items() if device in cfg["actuators"])
        self.setpoints[(device, attribute)] = (zone, value)
        self.report(device, attribute)

    def silent_zones(self, at: float | None = None) -> set[str]:
        at = self.effective if at is None else at
        silent = set()
        for zone, cfg in SITE["zones"].items():
            for point in cfg["sensors"]:
                last = self.sensors.times.get(point)
                if last is None or at - last > CONFIG.stale_after_s:
                    silent.add(zone)
        return silent

    def failsafe(self, fate: tuple[bool, bool]) -> None:
        requests = self.guardrails.failsafe_requests(self.now)
        at = max(self.effective, self.now)
        for request in requests:
            assert request.zone in self.silent_zones(at)
            self.request(request, Origin.FAIL_SAFE, fate)

    def step(self, step: tuple[object, ...]) -> None:
        kind = step[0]
        if kind == "request":
            self.request(step[1], step[2], step[3])  # type: ignore[arg-type]
        elif kind == "reading":
            self.sensors.times[str(step[1])] = self.now
        elif kind == "hold":
            _, zone, attribute, value, hold_s = step
            self.guardrails.hold(str(zone), str(attribute), value, self.now, "test", hold_s)
            self.effective = max(self.effective, self.now)
        elif kind == "release":
            self.effective = max(self.effective, self.now)
            self.guardrails.release(str(step[1]), str(step[2]), self.now, "test")
        else:
            self.failsafe(step[1])  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(steps_in_time, steps), max_size=80))
def test_nothing_unsafe_reaches_a_device(program: list[tuple[float, tuple[object, ...]]]) -> None:
    site = Site()
    for dt, step in program:
        site.advance(dt)
        site.step(step)


# Gaps near the minimum times and the hour, where an off-by-one would show.
near_limits = st.sampled_from([0.0, 1.0, 299.0, 300.0, 301.0, 599.0, 600.0, 601.0, 900.0, 3599.0])


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(near_limits, st.floats(0, 900)),
            st.sampled_from(["ON", "OFF", True, False]),
            st.sampled_from([(True, True), (True, True), (True, False), (False, False)]),
            st.booleans(),
        ),
        max_size=120,
    ),
    st.booleans(),
)
def test_an_hvac_unit_hammered_with_switching_never_short_cycles(
    program: list[tuple[float, object, tuple[bool, bool], bool]], alternate: bool
) -> None:
    """The same invariant, with every request aimed at one heater relay and
    outcomes sometimes still in flight when the next request comes.
    ``alternate`` asks ON, OFF, ON ... in turn: the app that cycles hardest."""
    site = Site()
    for i, (dt, value, fate, later) in enumerate(program):
        site.advance(dt)
        site.sensors.all_fresh(site.now)
        asked = ("ON", "OFF")[i % 2] if alternate else value
        site.request(ActionRequest("occupancy", "office_heater", "state", asked), Origin.APP, fate, later)
    # Steer the search towards the edge: as many starts in one hour as possible.
    unit = site.units.get("office_heater")
    starts = unit.starts if unit else []
    target(float(max((sum(1 for s in starts if t - 3600 < s <= t) for t in starts), default=0)))


# Setpoints around where heating and cooling meet (22–23 °C in the test zones), and anywhere.
near_deadband = st.one_of(st.sampled_from([21.0, 21.5, 22.0, 22.4, 22.5, 23.0, 23.5, 26.0]), st.floats(15, 30))
THERMOSTATS = [("office_thermostat", HEATING_SETPOINT), ("office_thermostat", COOLING_SETPOINT),
               ("meeting_thermostat", HEATING_SETPOINT), ("meeting_cooler", COOLING_SETPOINT)]
setpoint_steps = st.one_of(
    st.tuples(
        st.just("request"), st.sampled_from(THERMOSTATS), near_deadband,
        st.sampled_from([Origin.APP, Origin.USER, Origin.FAIL_SAFE]), st.booleans(),
        st.sampled_from([(True, True), (True, False), (False, False)]), st.booleans(),
    ),
    st.tuples(st.just("report"), st.sampled_from(THERMOSTATS)),
    st.tuples(st.just("dial"), st.sampled_from(THERMOSTATS), near_deadband),
)


TIED_REPORT = [
    (0.0, ("report", ("office_thermostat", HEATING_SETPOINT))),
    (0.0, ("request", ("office_thermostat", HEATING_SETPOINT), 21.0, Origin.APP, False, (True, True), False)),
    (0.0, ("report", ("office_thermostat", HEATING_SETPOINT))),
    (0.0, ("request", ("office_thermostat", HEATING_SETPOINT), 22.0, Origin.APP, False, (True, True), False)),
    (0.0, ("request", ("office_thermostat", COOLING_SETPOINT), 21.0, Origin.APP, False, (True, True), False)),
]
"""Found by CI: a report of 21 °C stamped at the same instant as the confirmed command to 22 °C
must not stand for the thermostat's heating setpoint (which came first is unknown)."""


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.floats(0, 200), st.just(0.0), st.floats(-100, 0)), setpoint_steps),
                min_size=8, max_size=40))
@example(TIED_REPORT)
def test_no_zone_gets_heating_within_the_deadband_of_cooling(program: list[tuple[float, tuple[object, ...]]]) -> None:
    """Every request aimed at thermostats, some outcomes still in flight when the next one comes,
    some commands lost; thermostats publish their state, and occupants turn their dials."""
    site = Site()
    for dt, step in program:
        site.advance(dt)
        site.sensors.all_fresh(site.now)
        kind, (device, attribute) = step[0], step[1]  # type: ignore[misc]
        if kind == "request":
            value, origin, setback, fate, later = step[2:]
            request = ActionRequest("occupancy", device, attribute, value, "property test", None, setback)
            site.request(request, origin, fate, later)  # type: ignore[arg-type]
        elif kind == "report":
            site.report(device, attribute)
        else:
            site.dial(device, attribute, float(step[2]))  # type: ignore[arg-type]


def test_the_heater_model_catches_short_cycling() -> None:
    """The model devices above must be able to fail."""
    unit = HvacUnit()
    unit.receive("ON", 0.0)
    try:
        unit.receive("OFF", HVAC.min_on_s - 1)
    except AssertionError:
        return
    raise AssertionError("a stop before the minimum on time went unnoticed")
