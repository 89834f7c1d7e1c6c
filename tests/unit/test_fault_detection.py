"""Fault detection through the simulator: every kind is found within days, a healthy
building raises nothing for a month, and missing data is "insufficient data", not an alarm."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from agent.apps.faults import INSUFFICIENT_DATA, SiteSeries, detect, load_rules
from agent.apps.faults.report import faults_main, record
from agent.apps.faults.rules import RuleError
from agent.apps.faults.series import ROOM_SIGNALS
from agent.store.store import Store
from agent.upstream.topics import faults_topic
from firmware_sim.faults import FAULT_KINDS, Fault, simulate
from firmware_sim.simulation import DEFAULT_START

DAY = 86400.0
START_DAY = 9
MAX_DAYS_TO_DETECT = 7
MAGNITUDE = {"sensor_bias": 4.5, "sensor_drift": 0.3, "window_open": 2.0, "leaking_valve": 0.2}
"""A 4.5 K bias is found within the week; a 4 K one in this building scores just under the
threshold (docs/faults.md, Limitations), so the test does not pretend otherwise."""
SLOW_TO_FIND = {"sensor_drift": 15}
"""Days a kind may take instead of a week: a drift of 0.3 K/day is found once it has grown to
its full 4 K, about two weeks on (docs/faults.md, Limitations).  Its own test runs long enough."""
FAULT_START = DEFAULT_START + START_DAY * DAY + 5 * 3600.0
ACCEPTED_KIND = {"sensor_drift": {"sensor_drift", "sensor_bias"}}
"""A drifting sensor found early looks like a biased one; both name the right sensor."""


@pytest.fixture(scope="module")
def faulty() -> tuple[object, object]:
    faults = [Fault(k, f"room{i + 1:02d}", FAULT_START, MAGNITUDE.get(k, 0.0)) for i, k in enumerate(FAULT_KINDS)]
    rec = simulate(12, 3, DEFAULT_START, 21, faults)
    return rec, detect(SiteSeries(**rec.signals()))


@pytest.fixture(scope="module")
def healthy_month() -> object:
    return simulate(6, 21, DEFAULT_START, 30)


@pytest.fixture(scope="module")
def drifting() -> tuple[object, object]:
    """The same building for long enough to see a slow drift grow: 17 days of it."""
    rec = simulate(12, 3, DEFAULT_START, 26, [Fault("sensor_drift", "room04", FAULT_START, MAGNITUDE["sensor_drift"])])
    return rec, detect(SiteSeries(**rec.signals()))


@pytest.mark.parametrize("kind", [k for k in FAULT_KINDS if k not in SLOW_TO_FIND])
def test_each_fault_kind_is_found_named_and_ranked_within_a_week(faulty, kind: str) -> None:
    rec, found = faulty
    fault = next(f for f in rec.faults if f.kind == kind)
    hits = [f for f in found.faults if f.room == fault.room_id]
    assert hits, f"{kind} in {fault.room_id} not detected; status {found.status[fault.room_id]}"
    hit = hits[0]
    assert hit.kind in ACCEPTED_KIND.get(kind, {kind})
    assert fault.start - DAY < hit.first_seen <= fault.start + MAX_DAYS_TO_DETECT * DAY
    assert hit.evidence and hit.detectors


def test_a_slow_sensor_drift_is_found_within_two_weeks_and_nothing_else_is(drifting) -> None:
    _, found = drifting
    (hit,) = found.faults
    assert hit.room == "room04" and hit.kind in ACCEPTED_KIND["sensor_drift"]
    assert FAULT_START - DAY < hit.first_seen <= FAULT_START + SLOW_TO_FIND["sensor_drift"] * DAY
    assert {room for room, status in found.status.items() if status != "ok"} == {"room04"}


def test_healthy_rooms_beside_faulty_ones_raise_nothing(faulty) -> None:
    rec, found = faulty
    faulty_rooms = {f.room_id for f in rec.faults}
    missed = {f.room_id for f in rec.faults if f.kind in SLOW_TO_FIND}
    assert {f.room for f in found.faults} == faulty_rooms - missed
    assert all(found.status[r] == "ok" for r in rec.room_ids if r not in faulty_rooms)


def test_faults_are_ranked_by_estimated_waste_which_tracks_the_truth(faulty) -> None:
    rec, found = faulty
    estimates = [f.waste_kwh_per_day for f in found.faults]
    assert estimates == sorted(estimates, reverse=True)
    truth = rec.daily_true_waste()
    index = {r: i for i, r in enumerate(rec.room_ids)}
    true_mean = [truth[index[f.room], START_DAY + 1:].mean() for f in found.faults]
    # The three biggest wasters are the three biggest estimates.
    assert set(np.argsort(true_mean)[-3:]) == {0, 1, 2}


def test_a_healthy_building_raises_no_fault_over_a_month(healthy_month) -> None:
    found = detect(SiteSeries(**healthy_month.signals()))
    assert found.faults == []
    assert set(found.status.values()) == {"ok"}


def _with(series: SiteSeries, **arrays: np.ndarray) -> SiteSeries:
    return dataclasses.replace(series, **arrays)


def test_gaps_and_nans_never_raise_alarms(healthy_month) -> None:
    series = SiteSeries(**healthy_month.signals())
    rng = np.random.default_rng(5)
    temp = series.temperature.copy()
    temp[rng.random(temp.shape) < 0.1] = np.nan  # scattered dropouts
    temp[1, 10 * 96: 14 * 96] = np.nan  # a four-day outage
    energy = series.energy_kwh.copy()
    energy[2, 20 * 96:] = np.nan  # a meter that died
    found = detect(_with(series, temperature=temp, energy_kwh=energy))
    assert found.faults == []
    assert not found.flagged[1, 10:14].any()
    assert np.isnan(found.model_score[1, 10:14]).all()


def test_too_little_history_is_insufficient_data(healthy_month) -> None:
    series = SiteSeries(**healthy_month.signals())
    temp = series.temperature.copy()
    temp[0, : 5 * 96] = np.nan  # room01 missed most of its training week
    temp[3, :] = np.nan  # room04 never reported
    found = detect(_with(series, temperature=temp))
    assert found.status["room01"] == found.status["room04"] == INSUFFICIENT_DATA
    assert found.faults == []
    short = SiteSeries(**simulate(2, 1, DEFAULT_START, 5).signals())
    assert set(detect(short).status.values()) == {INSUFFICIENT_DATA}
    nothing = _with(short, t=short.t[:0], outdoor=short.outdoor[:0],
                    **{name: getattr(short, name)[:, :0] for name in ROOM_SIGNALS})
    assert set(detect(nothing).status.values()) == {INSUFFICIENT_DATA}


def test_a_series_of_the_wrong_shape_is_refused(healthy_month) -> None:
    signals = healthy_month.signals()
    signals["duty"] = signals["duty"][:, :-1]
    with pytest.raises(ValueError, match="duty must have shape"):
        SiteSeries(**signals)


def test_the_shipped_rules_load_and_bad_rules_are_named(tmp_path: Path) -> None:
    rules = load_rules()
    assert {r.fault for r in rules} >= {"stuck_sensor", "schedule", "short_cycling", "leaking_valve"}
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - name: oops\n    fault: x\n    when: {signal: nonsense, above: 1}\n")
    with pytest.raises(RuleError, match="oops.*signal"):
        load_rules(bad)
    bad.write_text("rules:\n  - name: late\n    fault: x\n    hours: [22, 30]\n"
                   "    when: {signal: duty, above: 0.5}\n")
    with pytest.raises(RuleError, match="late.*between 0 and 24"):
        load_rules(bad)


def test_faults_are_stored_once_alerted_once_and_listed(faulty, tmp_path: Path, capsys) -> None:
    _, found = faulty
    db = tmp_path / "edgewise.db"
    topic = faults_topic("edgewise", "gw1")
    with Store.open(db) as store:
        new = record(store, found.faults, DEFAULT_START + 21 * DAY, topic)
        again = record(store, found.faults, DEFAULT_START + 22 * DAY, topic)
        assert len(new) == len(found.faults) and again == []
        assert store.outbox_size() == len(found.faults)
        rows = store.faults()
    assert [r.room for r in rows] == [f.room for f in found.faults]
    conn = sqlite3.connect(db)
    assert {t for (t,) in conn.execute("SELECT topic FROM outbox")} == {topic}
    assert faults_main(str(db), "/nonexistent.yaml", as_json=False) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[1] == found.faults[0].room
    assert faults_main(str(tmp_path / "missing.db"), "/nonexistent.yaml", as_json=True) == 2
