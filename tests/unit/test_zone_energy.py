"""``edgewise export-panel``: cumulative counters into daily kWh per zone, treatment from the audit trail."""

from __future__ import annotations

import json
from datetime import UTC, date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.analytics.causal import Panel, load_long_csv
from agent.analytics.export_panel import continuous_counter, daily_energy, zone_panel
from agent.cli import main
from agent.ingest.reading import Reading
from agent.store.audit import AuditRecord, Origin, Outcome, Verdict
from agent.store.store import Store

DAY = 86400.0
START = 1767571200.0  # 2026-01-05 00:00 UTC, a Monday
STEP = 900.0


@settings(max_examples=60, deadline=None)
@given(used=st.lists(st.floats(0.0, 5.0), min_size=2, max_size=60), resets=st.sets(st.integers(1, 59)))
def test_a_reset_counter_still_adds_up_to_the_energy_used(used: list[float], resets: set[int]) -> None:
    """Counter readings of a meter that restarts from zero at some readings: nothing between readings is lost.

    A reset is seen as a drop, so one only happens here where the counter would drop (a restarted
    counter that already reads more than before cannot be told from one that did not restart)."""
    counter, values, dropped = 100.0, [], 0
    for k, e in enumerate(used):
        reset = k in resets and e < counter  # reset just after the previous reading
        counter, dropped = (e, dropped + 1) if reset else (counter + e, dropped)
        values.append(counter)
    series = continuous_counter("plug", [float(k) for k in range(len(used))], values)
    assert series.kwh[-1] == pytest.approx(sum(used[1:]), abs=1e-9)
    assert series.resets == dropped


def test_energy_across_midnight_is_split_by_time() -> None:
    series = continuous_counter("plug", [START - 3600, START + 3600], [10.0, 12.0])
    energy, covered = daily_energy(series, np.array([START - DAY, START, START + DAY]), max_gap_s=3600)
    assert energy == pytest.approx([1.0, 1.0])
    assert not covered.any()  # neither day has readings near both its midnights


def audit(zone: str, ts: float, app: str = "occupancy", origin: Origin = Origin.APP,
          verdict: Verdict = Verdict.ALLOWED) -> AuditRecord:
    return AuditRecord(
        id=0, ts=ts, app=app, origin=origin, zone=zone, device=f"{zone}_thermostat",
        attribute="occupied_heating_setpoint", requested=19.0, sent=19.0, verdict=verdict, rules=(), why="",
        reason="room empty", outcome=Outcome.CONFIRMED, outcome_ts=ts, attempts=1, detail="",
    )


def site_db(tmp_path: Path) -> Path:
    """Two zones over five days: each has a plug (1 kW in A, 2 kW in B) and a 0.1 kW light, read every 15 min.

    A's plug resets on day 2 and goes quiet (its readings stop) for three hours on day 3."""
    path = tmp_path / "site.db"
    readings = []
    for zone, kw in (("A", 1.0), ("B", 2.0)):
        for device, power in ((f"{zone}_plug", kw), (f"{zone}_light", 0.1)):
            for k in range(int(5 * DAY / STEP) + 1):
                t = START + k * STEP
                value = power * k * STEP / 3600
                if device == "A_plug" and t >= START + 1.5 * DAY:
                    value -= 1.0 * 1.5 * 24 - 0.25  # the counter restarted at the reading before
                if device == "A_plug" and START + 3 * DAY + 3600 < t < START + 3 * DAY + 4 * 3600:
                    continue
                readings.append(Reading(device, "energy", t, value, "kWh", "zigbee"))
    readings.append(Reading("A_plug", "power", START, 1000.0, "W", "zigbee"))
    with Store.open(path) as store:
        store.write_batch(readings, now=START + 5 * DAY)
        store.set_rooms({"A_plug": "A", "A_light": "A", "B_plug": "B", "B_light": "B", "outdoor": None})
        store.add_audit(audit("B", START + 1.5 * DAY, app="sensing_schedule"))  # not the measure
        store.add_audit(audit("A", START + 2.2 * DAY, origin=Origin.USER))  # a person, not the app
        store.add_audit(audit("A", START + 2.5 * DAY, verdict=Verdict.BLOCKED))  # never reached the device
        store.add_audit(audit("A", START + 3.5 * DAY))
        store.add_audit(audit("A", START + 4.5 * DAY))
    return path


def test_daily_zone_energy_undoes_resets_reports_gaps_and_marks_the_first_app_command(tmp_path: Path) -> None:
    with Store.open(site_db(tmp_path)) as store:
        panel = zone_panel(store, UTC)
    assert panel.zones == ("A", "B")
    assert panel.days == tuple(date(2026, 1, d) for d in range(5, 10))
    assert panel.kwh[0] == pytest.approx([26.4] * 5)  # (1 + 0.1) kW × 24 h, reset and gap notwithstanding
    assert panel.kwh[1] == pytest.approx([50.4] * 5)
    assert panel.resets == {"A_plug": 1}
    assert [(g.device, g.end - g.start) for g in panel.gaps] == [("A_plug", 3 * 3600.0)]
    assert panel.treated_from == {"A": date(2026, 1, 8)}
    assert panel.treated().sum(axis=1).tolist() == [2, 0]
    assert panel.days_left_out == 1  # 2026-01-10 has one reading at midnight


def test_export_panel_writes_what_savings_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, out = site_db(tmp_path), tmp_path / "zones.csv"
    assert main(["export-panel", "--db", str(db), str(out), "--treated-from", "B=2026-01-07"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["treated_from"] == {"B": "2026-01-07"} and (summary["zones"], summary["days"]) == (2, 5)
    assert "gap in A_plug (A) from 2026-01-08 01:00 to 2026-01-08 04:00" in captured.err
    assert "counter of A_plug was reset 1 time(s)" in captured.err
    panel = load_long_csv(out, unit="zone", time="date", outcome="kwh", treated="treated")
    assert isinstance(panel, Panel) and panel.n_pre == 2 and panel.units == ("A", "B")
    # Days in Berlin start an hour before UTC midnight: with readings allowed half an hour apart,
    # the first local day is no longer covered.
    assert main(["export-panel", "--db", str(db), str(out), "--timezone", "Europe/Berlin", "--max-gap", "1800"]) == 0
    assert json.loads(capsys.readouterr().out)["first_day"] == "2026-01-06"


@pytest.mark.parametrize(("db_name", "args", "words"), [
    ("missing.db", [], "missing.db does not exist"),
    ("site.db", ["--treated-from", "A:2026-01-07"], "expected ZONE=YYYY-MM-DD"),
    ("site.db", ["--treated-from", "C=2026-01-07"], "zones without energy readings: C"),
])
def test_a_request_that_cannot_be_exported_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], db_name: str, args: list[str], words: str
) -> None:
    site_db(tmp_path)
    assert main(["export-panel", "--db", str(tmp_path / db_name), str(tmp_path / "out.csv"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgewise export-panel: ") and words in err


def test_a_store_without_energy_counters_is_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "empty.db") as store:
        store.set_rooms({"A_plug": "A"})
        with pytest.raises(ValueError, match="no 'energy' readings"):
            zone_panel(store, UTC)
