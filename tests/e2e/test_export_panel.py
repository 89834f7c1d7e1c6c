"""A simulated site's own meters as a savings panel: simulator → agent → store → export-panel → load_long_csv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.analytics.causal import Panel, load_long_csv
from agent.cli import main
from agent.demo import DemoOptions, DemoSite


@pytest.mark.slow
@pytest.mark.asyncio
async def test_four_simulated_days_export_as_a_panel_savings_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "site.db"
    options = DemoOptions(days=4, rooms=3, seed=21, db=str(db), control=False, fault_detection=False)
    async with DemoSite(options) as site:
        await site.simulate(4.0)
        assert await site.settle()
        metered = {r.room_id: r.hvac_energy_kwh + r.lighting_energy_kwh for r in site.building.rooms}
    out = tmp_path / "zones.csv"
    assert main(["export-panel", "--db", str(db), str(out), "--treated-from", "room02=2026-01-07"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert (summary["zones"], summary["days"], summary["gaps"], summary["resets"]) == (3, 4, 0, 0)
    assert captured.err == ""  # no gap, no reset: nothing to warn about

    panel = load_long_csv(out, unit="zone", time="date", outcome="kwh", treated="treated")
    assert isinstance(panel, Panel)
    assert panel.units == ("room01", "room03", "room02") and panel.n_pre == 2
    assert panel.periods == ("2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08")
    # Four whole days hold all the energy the simulator metered, less the five minutes before the
    # first Zigbee report and the rounding of the counters to 1 Wh.
    for i, zone in enumerate(panel.units):
        assert panel.y[i].sum() == pytest.approx(metered[zone], rel=0.01, abs=0.05)
        assert (panel.y[i] > 0).all()
    assert main(["savings", str(out), "--unit", "zone", "--time", "date", "--outcome", "kwh", "--treated", "treated",
                 "--method", "did", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["n_units"], row["n_treated"], row["n_periods"]) == (3, 1, 4)
