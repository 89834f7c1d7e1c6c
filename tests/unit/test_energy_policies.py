"""Policies: greedy thresholds, the learned table's file, and the trainer's determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent import _core
from agent.energy import MODES, load_table, make_policy, run_policy, save_table
from agent.energy.scenarios import build_scenario
from agent.energy.train import LUX_EDGES, VOLTAGE_EDGES

MODES_PIR_ON = np.array([pir for pir, _ in MODES])
"""Whether each mode index keeps the PIR on."""


def test_modes_cover_pir_and_report_interval() -> None:
    assert {pir for pir, _ in MODES} == {False, True}
    assert {interval for _, interval in MODES} == {900.0, 3600.0, 14400.0}


@pytest.mark.parametrize(("voltage", "mode"), [(2.4, 2), (2.9, 5), (3.5, 4), (4.5, 3)])
def test_greedy_spends_more_the_more_is_stored(voltage: float, mode: int) -> None:
    assert make_policy("greedy").decide(12, voltage, 100.0) == mode


def test_fixed_always_senses_every_15_minutes() -> None:
    assert MODES[make_policy("fixed").decide(3, 2.0, 0.0)] == (True, 900.0)


def test_shipped_table_loads_and_senses_when_charged() -> None:
    table = load_table()
    assert list(table.voltage_edges) == list(VOLTAGE_EDGES) and list(table.lux_edges) == list(LUX_EDGES)
    pir_on = [MODES[table.decide(h, 4.5, 300.0)][0] for h in range(8, 18)]
    assert all(pir_on)


def test_table_round_trips_through_json(tmp_path: Path) -> None:
    modes = np.random.default_rng(1).integers(0, 6, 24 * 3 * 2).astype(np.int8).tolist()
    table = _core.TablePolicy([3.0, 4.0], [100.0], modes)
    path = tmp_path / "policy.json"
    save_table(table, path, {"note": "test"})
    loaded = load_table(path)
    assert loaded.modes.tolist() == modes
    assert json.loads(path.read_text())["modes"][23][2][1] == modes[-1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "cannot read a policy table"),
        ('{"format": "other"}', "not an edgewise schedule table"),
        ('{"format": "edgewise.schedule-table", "version": 9}', "table version 9"),
        ('{"format": "edgewise.schedule-table", "version": 1, "voltage_edges": [3], "lux_edges": [], '
         '"modes": [1, 2]}', "table has 2 modes"),
    ],
)
def test_bad_table_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_table(path)


def test_training_is_deterministic_and_learns_to_sense() -> None:
    traces = [build_scenario("interior_office", 28, 10_001)]
    args = (_core.NodeParams(), traces, 3600.0, list(VOLTAGE_EDGES), list(LUX_EDGES))
    a = _core.train_q_learning(*args, episodes_per_trace=5, gamma=0.9, alpha=0.01, seed=3)
    b = _core.train_q_learning(*args, episodes_per_trace=5, gamma=0.9, alpha=0.01, seed=3)
    assert a.modes.tolist() == b.modes.tolist()
    result = _core.simulate(_core.NodeParams(), build_scenario("interior_office", 28, 1), a)
    assert result.events_detected > 0.5 * result.events_total


def test_learned_beats_fixed_on_an_unseen_interior_office_quarter() -> None:
    """Not the benchmark (a year, every scenario): a quarter where 15-minute reports brown the node out."""
    params = _core.NodeParams()
    trace = build_scenario("interior_office", 91, 7)
    learned, fixed = run_policy("learned", params, trace), run_policy("fixed", params, trace)
    assert learned.brownout_hours == 0.0
    assert learned.events_detected >= fixed.events_detected


def test_the_pir_off_margin_keeps_the_pir_on_unless_off_is_clearly_better() -> None:
    """Margin 0 is plain argmax, which turns the PIR off in some states; an enormous
    margin keeps it on everywhere; a moderate one only removes PIR-off entries."""
    traces = [build_scenario("dim_corridor", 28, 10_002)]
    args = (_core.NodeParams(), traces, 3600.0, list(VOLTAGE_EDGES), list(LUX_EDGES))
    tables = {margin: _core.train_q_learning(*args, episodes_per_trace=5, gamma=0.9, alpha=0.01, seed=3,
                                             pir_off_margin=margin).modes
              for margin in (0.0, 2.0, 1e9)}
    pir_on = {margin: MODES_PIR_ON[modes] for margin, modes in tables.items()}
    assert not pir_on[0.0].all()
    assert pir_on[1e9].all()
    assert (pir_on[2.0] >= pir_on[0.0]).all()  # only ever turns an off entry on
    same_side = pir_on[2.0] == pir_on[0.0]
    assert (tables[2.0][same_side] == tables[0.0][same_side]).all()
