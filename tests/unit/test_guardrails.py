"""Each guardrail rule on examples, the order they run in, and overrides on a real SQLite file."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from guardrails_support import MONDAY, SITE, FreshSensors, MemoryOverrides, Sensors, site_config

from agent.config import GuardrailsConfig
from agent.guardrails import (
    COOLING_SETPOINT,
    FAIL_SAFE_APP,
    HEATING_SETPOINT,
    RULE_ORDER,
    ActionRequest,
    Guardrails,
    Origin,
    UnknownZoneError,
    Verdict,
    ZoneAlert,
)
from agent.store import AuditRecord, Outcome, Store

NOON = MONDAY + 12 * 3600


def guardrails(now: float = NOON, sensors: object = None, overrides: object = None,
               config: GuardrailsConfig | None = None, history: list[AuditRecord] | None = None) -> Guardrails:
    return Guardrails(
        config or site_config(),
        sensors=sensors if sensors is not None else FreshSensors(),  # type: ignore[arg-type]
        overrides=overrides if overrides is not None else MemoryOverrides(),  # type: ignore[arg-type]
        now=now,
        history=history or [],
    )


def heat(device: str = "office_thermostat", value: object = 21.0, **kw: object) -> ActionRequest:
    return ActionRequest("test", device, HEATING_SETPOINT, value, "because", **kw)  # type: ignore[arg-type]


def switch(value: object, device: str = "office_heater") -> ActionRequest:
    return ActionRequest("test", device, "state", value, "because")


# -- UnknownTarget -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        (heat("cellar_thermostat"), "'cellar_thermostat' is not an actuator of any zone"),
        (ActionRequest("test", "office_heater", HEATING_SETPOINT, 21.0), "office_heater (hvac_switch) has no attribute"),
        (heat(zone="meeting"), "office_thermostat is in zone office, not 'meeting'"),
        (ActionRequest("test", None, "state", "ON"), "None is not an actuator"),  # type: ignore[arg-type]
    ],
)
def test_unknown_targets_are_blocked(request_: ActionRequest, why: str) -> None:
    decision = guardrails().evaluate(request_, NOON)
    assert decision.verdict is Verdict.BLOCKED and decision.value is None
    assert decision.rules == ("UnknownTarget",)
    assert why in decision.why


# -- SetpointLimits -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "sent", "verdict"),
    [
        (heat(value=21.5), 21.5, Verdict.ALLOWED),
        (heat(value=30), 22.0, Verdict.MODIFIED),  # G36: occupied heating at most 22 °C
        (heat(value=12.0), 18.0, Verdict.MODIFIED),  # ... and at least 18 °C
        (heat(value=12.0, setback=True), 16.0, Verdict.MODIFIED),  # setback floor
        (heat(value=16.5, setback=True), 16.5, Verdict.ALLOWED),
        (heat(value=1e300), 22.0, Verdict.MODIFIED),
        (heat(value=10**30), 22.0, Verdict.MODIFIED),
        (ActionRequest("t", "office_thermostat", COOLING_SETPOINT, 20.0), 22.0, Verdict.MODIFIED),
        (ActionRequest("t", "office_thermostat", COOLING_SETPOINT, 40.0, setback=True), 32.0, Verdict.MODIFIED),
        (heat("meeting_thermostat", 18.0), 19.0, Verdict.MODIFIED),  # the zone's own limits
        (heat("meeting_thermostat", 5.0, setback=True), 15.0, Verdict.MODIFIED),
    ],
)
def test_setpoints_are_clamped_to_the_zone_limits(request_: ActionRequest, sent: float, verdict: Verdict) -> None:
    decision = guardrails().evaluate(request_, NOON)
    assert (decision.verdict, decision.value) == (verdict, sent)
    assert decision.rules == (("SetpointLimits",) if verdict is Verdict.MODIFIED else ())
    if verdict is Verdict.MODIFIED:
        assert f"sending {sent:g} °C" in decision.why


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, "21", None, True, 10**5000, [21.0]],
    ids=["nan", "inf", "-inf", "text", "none", "bool", "huge-int", "list"],
)
def test_setpoints_that_are_not_finite_numbers_are_blocked(value: object) -> None:
    decision = guardrails().evaluate(heat(value=value), NOON)
    assert decision.verdict is Verdict.BLOCKED
    assert decision.rules == ("SetpointLimits",)
    assert "is not a finite number" in decision.why


def test_an_occupant_cannot_use_the_setback_floor() -> None:
    decision = guardrails().evaluate(heat(value=10.0, setback=True), NOON, Origin.USER)
    assert decision.value == 18.0


def test_absolute_limits_cap_every_zone() -> None:
    config = site_config(absolute_c={"min": 17.0, "max": 35.0}, zones={
        "office": {"actuators": {"office_thermostat": "heating_thermostat"}, "limits": {"setback_heating_c": 17.0}},
    })
    g = guardrails(config=config)
    assert g.setpoint_range("office", HEATING_SETPOINT, setback=True) == (17.0, 22.0)
    assert g.evaluate(heat(value=3.0, setback=True), NOON).value == 17.0
    with pytest.raises(UnknownZoneError):
        g.setpoint_range("attic", HEATING_SETPOINT)


# -- InvalidValue ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "sent"),
    [
        (switch(True, "office_light"), "ON"),
        (switch("off", "office_light"), "OFF"),
        (ActionRequest("t", "node-0001", "report_interval_s", 600.0), 600),
        (ActionRequest("t", "node-0001", "pir_enable", False), 0),
        (ActionRequest("t", "office_fan", "fan_mode", "LOW"), "low"),
    ],
)
def test_values_are_normalised_for_the_device(request_: ActionRequest, sent: object) -> None:
    decision = guardrails().evaluate(request_, NOON)
    assert (decision.verdict, decision.value) == (Verdict.ALLOWED, sent)


@pytest.mark.parametrize(
    "request_",
    [
        switch("TOGGLE", "office_light"),
        switch(1, "office_light"),
        ActionRequest("t", "node-0001", "report_interval_s", 5),
        ActionRequest("t", "node-0001", "report_interval_s", 60.5),
        ActionRequest("t", "node-0001", "report_interval_s", math.nan),
        ActionRequest("t", "node-0001", "pir_enable", 2),
        ActionRequest("t", "office_fan", "fan_mode", "turbo"),
    ],
)
def test_values_a_device_cannot_take_are_blocked(request_: ActionRequest) -> None:
    decision = guardrails().evaluate(request_, NOON)
    assert decision.verdict is Verdict.BLOCKED and decision.rules == ("InvalidValue",)


# -- StaleSensorFailSafe --------------------------------------------------------------


def test_a_silent_sensor_blocks_apps_but_not_occupants_or_the_fail_safe() -> None:
    sensors = Sensors().all_fresh(NOON)
    g = guardrails(sensors=sensors)
    later = NOON + 901
    sensors.times["node-0002/temperature"] = later  # only the office's node falls silent
    sensors.times["meeting_thermostat/local_temperature"] = later
    app = g.evaluate(heat(value=20.0), later)
    assert app.verdict is Verdict.BLOCKED and app.rules == ("StaleSensorFailSafe",)
    assert "no reading from node-0001/temperature for over 900 s" in app.why
    assert g.evaluate(heat("meeting_thermostat", 20.0), later).verdict is Verdict.ALLOWED
    assert g.evaluate(heat(value=23.0), later, Origin.USER).value == 22.0
    assert g.evaluate(heat(value=16.0, setback=True), later, Origin.FAIL_SAFE).verdict is Verdict.ALLOWED


def test_a_sensor_never_heard_counts_from_the_start() -> None:
    g = guardrails(sensors=Sensors())
    assert g.evaluate(heat(), NOON + 900).verdict is Verdict.ALLOWED  # grace after a restart
    assert g.evaluate(heat(value=20.0), NOON + 901).verdict is Verdict.BLOCKED


def test_zone_alerts_come_once_per_transition() -> None:
    sensors = Sensors().all_fresh(NOON)
    g = guardrails(sensors=sensors)
    assert g.update_staleness(NOON + 600) == []
    assert g.update_staleness(NOON + 1000) == [
        ZoneAlert("office", True, ("node-0001/temperature",)),
        ZoneAlert("meeting", True, ("node-0002/temperature", "meeting_thermostat/local_temperature")),
    ]
    assert g.update_staleness(NOON + 1100) == []
    sensors.times["node-0001/temperature"] = NOON + 1150
    assert g.update_staleness(NOON + 1200) == [ZoneAlert("office", False, ("node-0001/temperature",))]


def test_fail_safe_sends_the_safe_schedule_once_and_retries_what_failed() -> None:
    night = MONDAY + 2 * 3600
    sensors = Sensors().all_fresh(night)
    sensors.times["node-0002/temperature"] = night + 10_000
    sensors.times["meeting_thermostat/local_temperature"] = night + 10_000
    g = guardrails(now=night, sensors=sensors)
    now = night + 1000
    requests = g.failsafe_requests(now)
    assert {(r.device, r.attribute, r.value, r.setback) for r in requests} == {
        ("office_thermostat", HEATING_SETPOINT, 16.0, True),  # G36 unoccupied heating
        ("office_thermostat", COOLING_SETPOINT, 32.0, True),  # G36 unoccupied cooling
        ("office_heater", "state", "ON", True),  # heating stays available
    }
    assert all(r.app == FAIL_SAFE_APP and r.zone == "office" and "node-0001" in r.reason for r in requests)
    decisions = [g.evaluate(r, now, Origin.FAIL_SAFE) for r in requests]
    assert all(d.verdict is Verdict.ALLOWED for d in decisions)
    assert g.failsafe_requests(now + 60) == []  # in flight: not asked twice
    for d in decisions:
        g.record_outcome(d, Outcome.CONFIRMED if d.target and d.target.attribute != "state" else Outcome.UNCONFIRMED)
    assert g.failsafe_requests(now + 60) == []
    again = g.failsafe_requests(now + 900)  # the unconfirmed plug is asked again after stale_after_s
    assert [(r.device, r.value) for r in again] == [("office_heater", "ON")]


def test_fail_safe_follows_the_occupied_hours_in_local_time() -> None:
    berlin = site_config(timezone="Europe/Berlin")
    monday_0630_utc = MONDAY + 6.5 * 3600  # 07:30 in Berlin (CET, UTC+1)
    sensors = Sensors()
    g = guardrails(now=monday_0630_utc - 1000, sensors=sensors, config=berlin)
    values = {(r.device, r.attribute): r.value for r in g.failsafe_requests(monday_0630_utc)}
    assert values[("office_thermostat", HEATING_SETPOINT)] == 21.0
    assert values[("meeting_thermostat", HEATING_SETPOINT)] == 21.0


def test_fail_safe_leaves_a_held_setpoint_alone(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        g = guardrails(sensors=Sensors(), overrides=store)
        g.hold("office", HEATING_SETPOINT, 21.5, NOON, "web")
        devices = {(r.device, r.attribute) for r in g.failsafe_requests(NOON + 1000)}
    assert ("office_thermostat", HEATING_SETPOINT) not in devices
    assert ("office_thermostat", COOLING_SETPOINT) in devices


# -- UserOverrideHold ----------------------------------------------------------------


def test_a_hold_blocks_contradicting_apps_until_it_expires_on_event_time(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        g = guardrails(overrides=store)
        held = g.hold("office", HEATING_SETPOINT, 21.5, NOON, "web")
        assert held.expires_ts == NOON + 4 * 3600  # the default hold
        blocked = g.evaluate(heat(value=17.0, setback=True), NOON + 60)
        assert blocked.verdict is Verdict.BLOCKED and blocked.rules == ("UserOverrideHold",)
        assert "zone office holds occupied_heating_setpoint at 21.5 (set by web until 2026-01-05 16:00:00Z)" in blocked.why
        assert g.evaluate(heat(value=21.5), NOON + 120).verdict is Verdict.ALLOWED  # agreeing is fine
        assert g.evaluate(switch("OFF"), NOON + 180).rules == ("UserOverrideHold",)  # no heating off under a hold
        assert g.evaluate(ActionRequest("t", "office_thermostat", COOLING_SETPOINT, 25.0), NOON + 200).sent
        assert g.evaluate(heat(value=17.0), NOON + 4 * 3600 - 1).verdict is Verdict.BLOCKED
        assert g.evaluate(heat(value=17.0), NOON + 4 * 3600).verdict is Verdict.MODIFIED  # expired: clamped to 18
        assert g.active_overrides(NOON + 4 * 3600) == []


def test_a_hold_survives_a_restart_and_can_be_released(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    with Store.open(path) as store:
        guardrails(overrides=store).hold("meeting", HEATING_SETPOINT, 22.0, NOON, "web", hold_s=1800)
    with Store.open(path) as store:  # a new agent on the same file
        g = guardrails(now=NOON + 600, overrides=store)
        assert g.evaluate(heat("meeting_thermostat", 20.0), NOON + 600).rules == ("UserOverrideHold",)
        released = g.release("meeting", HEATING_SETPOINT, NOON + 700, "web")
        assert released is not None and released.value == 22.0
        assert g.evaluate(heat("meeting_thermostat", 20.0), NOON + 760).verdict is Verdict.ALLOWED
    with Store.open(path) as store:
        assert store.overrides(active_at=NOON + 800) == []
        (row,) = store.overrides()
        assert (row.cleared_ts, row.cleared_by, row.expires_ts) == (NOON + 700, "web", NOON + 1800)


def test_hold_durations_are_checked_and_capped() -> None:
    g = guardrails()
    assert g.hold_duration() == 14_400
    assert g.hold_duration(10**9) == 86_400
    for bad in (0, -5, math.nan, "1h"):
        with pytest.raises(ValueError):
            g.hold_duration(bad)
    with pytest.raises(ValueError, match="only setpoints"):
        g.hold("office", "state", "ON", NOON, "web")
    with pytest.raises(UnknownZoneError):
        g.hold("attic", HEATING_SETPOINT, 21.0, NOON, "web")


# -- AntiShortCycle -------------------------------------------------------------------


def test_minimum_on_and_off_times_and_starts_per_hour() -> None:
    g = guardrails()
    t = NOON
    assert g.evaluate(switch("ON"), t).sent
    assert g.evaluate(switch("OFF"), t + 299).rules == ("AntiShortCycle",)  # min on 300 s
    assert g.evaluate(switch("OFF"), t + 300).sent
    off = g.evaluate(switch("ON"), t + 899)
    assert off.rules == ("AntiShortCycle",) and "minimum off time is 600 s" in off.why
    assert g.evaluate(switch("ON"), t + 900).sent  # second start
    assert g.evaluate(switch("OFF"), t + 1200).sent
    assert g.evaluate(switch("ON"), t + 1800).sent  # third start
    assert g.evaluate(switch("OFF"), t + 2100).sent
    fourth = g.evaluate(switch("ON"), t + 2700)
    assert fourth.rules == ("AntiShortCycle",) and "started 3 times in the last hour; at most 3" in fourth.why
    assert g.evaluate(switch("ON"), t + 3601).sent  # the first start left the hour
    assert g.evaluate(switch("ON"), t + 3602).sent  # already on: not a start


def test_an_unconfirmed_switch_restarts_the_clock_when_repeated() -> None:
    g = guardrails()
    first = g.evaluate(switch("ON"), NOON)
    g.record_outcome(first, Outcome.UNCONFIRMED)  # did the heater start?  unknown
    assert g.evaluate(switch("ON"), NOON + 200).sent  # this may be the real start ...
    assert g.evaluate(switch("OFF"), NOON + 300).rules == ("AntiShortCycle",)  # ... so it counts from here
    assert g.evaluate(switch("OFF"), NOON + 500).sent


def test_equipment_memory_survives_a_restart_through_the_audit_trail(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        g = guardrails()
        on = g.evaluate(switch("ON"), NOON)
        record = AuditRecord(0, NOON, "test", Origin.APP, "office", "office_heater", "state", "ON", on.value,
                             on.verdict, on.rules, on.why, "", Outcome.ACKED, NOON, 1, "")
        store.add_audit(record)
        restarted = guardrails(now=NOON + 60, history=store.audit(since=NOON - 3600))
    assert restarted.evaluate(switch("OFF"), NOON + 60).rules == ("AntiShortCycle",)


# -- RateLimit ------------------------------------------------------------------------


def test_rate_limit_counts_only_what_is_sent() -> None:
    g = guardrails()
    for i in range(4):
        assert g.evaluate(heat(value=18.0 + i), NOON + i).sent
    assert g.evaluate(heat(value=math.nan), NOON + 5).rules == ("SetpointLimits",)  # blocked: not counted
    limited = g.evaluate(heat(value=21.0), NOON + 10)
    assert limited.rules == ("RateLimit",)
    assert "office_thermostat was sent 4 commands in the last 120 s; at most 4" in limited.why
    assert g.evaluate(heat(value=21.0), NOON + 120).sent  # the first left the window
    assert g.evaluate(switch("ON", "office_light"), NOON + 121).sent  # per device


# -- SetpointDeadband ------------------------------------------------------------------


def cool(device: str = "office_thermostat", value: object = 24.0, **kw: object) -> ActionRequest:
    return ActionRequest("test", device, COOLING_SETPOINT, value, "because", **kw)  # type: ignore[arg-type]


class Reports:
    def __init__(self) -> None:
        self.values: dict[str, tuple[float, float]] = {}

    def last_reading(self, point: str) -> tuple[float, float] | None:
        return self.values.get(point)


def confirmed(g: Guardrails, request: ActionRequest, now: float, outcome: Outcome = Outcome.CONFIRMED) -> None:
    decision = g.evaluate(request, now)
    assert decision.sent
    g.record_outcome(decision, outcome)


def test_heating_is_kept_half_a_kelvin_below_the_same_thermostats_cooling() -> None:
    g = guardrails()
    confirmed(g, cool(value=22.0), NOON)
    nudged = g.evaluate(heat(value=22.0), NOON + 1)
    assert (nudged.verdict, nudged.value, nudged.rules) == (Verdict.MODIFIED, 21.5, ("SetpointDeadband",))
    assert nudged.why == ("setpoint 22 °C is within 0.5 K of zone office's cooling setpoint 22 °C"
                          " (office_thermostat); sending 21.5 °C")
    raised = g.evaluate(cool(value=22.0), NOON + 2)  # and cooling stays above the heating just sent
    assert (raised.value, raised.rules) == (22.0, ())
    assert g.evaluate(cool(value=21.0), NOON + 3).value == 22.0  # clamped to the limit, already clear


def test_the_deadband_spans_separate_heating_and_cooling_thermostats_of_a_zone() -> None:
    g = guardrails()
    confirmed(g, heat("meeting_thermostat", 23.0), NOON)  # meeting: heating 19–23, cooling 23–26
    pushed = g.evaluate(cool("meeting_cooler", 23.0), NOON + 1)
    assert (pushed.value, pushed.rules) == (23.5, ("SetpointDeadband",))
    assert "heating setpoint 23 °C (meeting_thermostat)" in pushed.why
    assert g.evaluate(heat("office_thermostat", 22.0), NOON + 2).rules == ()  # another zone: no effect


def test_a_lost_command_leaves_the_old_value_possible_until_one_is_confirmed() -> None:
    g = guardrails()
    confirmed(g, cool(value=22.0), NOON)
    confirmed(g, cool(value=26.0), NOON + 60, Outcome.UNCONFIRMED)  # may or may not have arrived
    assert g.evaluate(heat(value=22.0), NOON + 120).value == 21.5  # the device may still cool at 22
    confirmed(g, cool(value=26.0), NOON + 180)
    assert g.evaluate(heat(value=22.0), NOON + 240).value == 22.0


def test_a_late_confirmation_of_an_older_command_does_not_settle_a_newer_one() -> None:
    g = guardrails()
    older = g.evaluate(cool(value=22.0), NOON)
    newer = g.evaluate(cool(value=26.0), NOON + 60)  # sent while the first is still in flight
    g.record_outcome(older, Outcome.CONFIRMED)
    g.record_outcome(newer, Outcome.UNCONFIRMED)
    assert g.evaluate(heat(value=22.0), NOON + 120).value == 21.5


def test_what_a_thermostat_reports_counts_and_a_conflict_out_of_limits_is_blocked() -> None:
    reports = Reports()
    limits = {**SITE["zones"]["meeting"]["limits"], "deadband_c": 3.0}
    config = site_config(zones={**SITE["zones"], "meeting": {**SITE["zones"]["meeting"], "limits": limits}})
    g = Guardrails(config, sensors=FreshSensors(), overrides=MemoryOverrides(), now=NOON, reports=reports)
    reports.values["meeting_cooler/occupied_cooling_setpoint"] = (NOON, 23.0)  # its state topic
    assert g.evaluate(heat("meeting_thermostat", 21.0), NOON + 1).value == 20.0
    reports.values["meeting_cooler/occupied_cooling_setpoint"] = (NOON + 2, 21.5)  # turned at its own dial
    blocked = g.evaluate(heat("meeting_thermostat", 20.0), NOON + 3)
    assert blocked.verdict is Verdict.BLOCKED and blocked.rules == ("SetpointDeadband",)
    assert blocked.why == ("setpoint 20 °C is within 3 K of zone meeting's cooling setpoint 21.5 °C (meeting_cooler),"
                           " and 18.5 °C is outside the limit 19–23 °C")
    # A setback may go lower (down to 15 °C in this zone).
    assert g.evaluate(heat("meeting_thermostat", 20.0, setback=True), NOON + 4).value == 18.5


def test_reports_count_by_arrival_not_by_their_stamp() -> None:
    reports = Reports()
    g = Guardrails(site_config(), sensors=FreshSensors(), overrides=MemoryOverrides(), now=NOON, reports=reports)
    confirmed(g, cool(value=26.0), NOON)
    # Stamped before the command (a device clock behind the gateway's), but it arrived after it:
    # an occupant set 22 °C at the thermostat.
    reports.values["office_thermostat/occupied_cooling_setpoint"] = (NOON - 600, 22.0)
    assert g.evaluate(heat(value=22.0), NOON + 60).value == 21.5


def test_a_report_from_before_a_confirmed_command_does_not_linger() -> None:
    reports = Reports()
    g = Guardrails(site_config(), sensors=FreshSensors(), overrides=MemoryOverrides(), now=NOON, reports=reports)
    reports.values["office_thermostat/occupied_cooling_setpoint"] = (NOON - 60, 22.0)
    confirmed(g, cool(value=26.0), NOON)
    assert g.evaluate(heat(value=22.0), NOON + 60).value == 22.0  # the device holds 26 now, not 22


def test_a_dial_turned_before_a_late_confirmation_keeps_both_values_possible() -> None:
    reports = Reports()
    g = Guardrails(site_config(), sensors=FreshSensors(), overrides=MemoryOverrides(), now=NOON, reports=reports)
    sent = g.evaluate(cool(value=26.0), NOON)
    reports.values["office_thermostat/occupied_cooling_setpoint"] = (NOON + 1, 22.0)  # the dial, meanwhile
    g.record_outcome(sent, Outcome.CONFIRMED)  # the confirmation of 26 °C, noted only now
    assert g.evaluate(heat(value=22.0), NOON + 60).value == 21.5  # 22 or 26: which came last is unknown
    reports.values["office_thermostat/occupied_cooling_setpoint"] = (NOON + 90, 26.0)  # its next report
    assert g.evaluate(heat(value=22.0), NOON + 120).value == 22.0


def test_what_thermostats_hold_survives_a_restart_through_the_audit_trail(tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        g = guardrails()
        for value, outcome in ((22.0, Outcome.CONFIRMED), (26.0, Outcome.UNCONFIRMED)):
            d = g.evaluate(cool(value=value), NOON)
            store.add_audit(AuditRecord(0, NOON, "test", Origin.APP, "office", "office_thermostat", COOLING_SETPOINT,
                                        value, d.value, d.verdict, d.rules, d.why, "", outcome, NOON, 1, ""))
        day_later = NOON + 86_400
        restarted = guardrails(now=day_later, history=store.audit_since_confirmed([HEATING_SETPOINT, COOLING_SETPOINT]))
        assert [r.sent for r in store.audit_since_confirmed([COOLING_SETPOINT])] == [22.0, 26.0]
        assert store.audit_since_confirmed([HEATING_SETPOINT]) == []
    assert restarted.evaluate(heat(value=22.0), day_later).value == 21.5


# -- order and bookkeeping ------------------------------------------------------------


def test_rules_run_in_the_documented_order_and_the_first_block_ends_it() -> None:
    g = guardrails()
    assert [rule.name for rule in g.rules] == list(RULE_ORDER)
    assert g.evaluate(ActionRequest("t", "ghost", "state", math.nan), NOON).rules == ("UnknownTarget",)
    for i in range(4):
        g.evaluate(heat(value=20.0), NOON + i)
    both = g.evaluate(heat(value=40.0), NOON + 5)
    assert both.verdict is Verdict.BLOCKED and both.rules == ("SetpointLimits", "RateLimit")
    assert both.why.startswith("setpoint 40 °C is above zone office's limit 22 °C; sending 22 °C; office_thermostat")


def test_check_remembers_nothing_and_time_never_runs_backwards() -> None:
    g = guardrails()
    for _ in range(10):
        assert g.check(heat(), NOON).sent
    assert g.evaluate(switch("ON"), NOON).sent
    # A wall clock stepped back an hour does not reopen the minimum on time.
    stepped_back = g.evaluate(switch("OFF"), NOON - 3600 + 400)
    assert stepped_back.rules == ("AntiShortCycle",) and stepped_back.ts == NOON
    with pytest.raises(ValueError):
        g.evaluate(heat(), math.nan)
