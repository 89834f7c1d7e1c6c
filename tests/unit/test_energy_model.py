"""The node's energy model: conservation, the loads at the capacitor voltage, brown-out hysteresis, config units."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import _core
from agent.config.schema import Config, EnergyHarvestingConfig, EnergyNodeTypeConfig
from agent.energy.model import node_params

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
EVENT_S = 2.5


def test_defaults_are_embers_node() -> None:
    p = _core.NodeParams()
    assert (p.capacitance_f, p.v_cutoff, p.v_max) == (1.5, 2.3, 5.5)
    assert p.harvest_w(200.0) == pytest.approx(1.5 * 33.3e-6)
    assert p.harvest_w(400.0) == pytest.approx(2 * p.harvest_w(200.0))  # linear in lux
    assert (p.sleep_a, p.pir_a, p.pir_event_s) == (3.45e-6, 102e-6, EVENT_S)
    assert (p.radio_a, p.radio_s, p.radio_tx_a, p.radio_tx_s) == (65e-6, 11.0, 300e-6, 5.0)


def test_one_step_draws_v_times_i() -> None:
    """Dark, PIR on, 2 events, a report due (15-min mode, 900 s step): every load at the start voltage."""
    p = _core.NodeParams()
    node = _core.Node(p)
    v = node.voltage
    node.step(3, 0.0, 900.0, 2)
    charge = p.sleep_a * 900 + 2 * p.pir_a * EVENT_S + p.radio_a * p.radio_s + p.radio_tx_a * p.radio_tx_s
    assert node.consumed_j == pytest.approx(v * charge, rel=1e-12)
    assert node.energy_j == pytest.approx(p.energy_at(v) - v * charge, rel=1e-12)
    assert (node.events_detected, node.reports) == (2, 1)


def test_pir_off_misses_events_and_spends_nothing_on_them() -> None:
    node = _core.Node(_core.NodeParams())
    node.step(0, 0.0, 60.0, 5)
    assert node.events_detected == 0


def test_brown_out_at_cutoff_and_restart_only_above_restart_voltage() -> None:
    p = _core.NodeParams(v_initial=2.31)
    node = _core.Node(p)
    while node.alive:
        node.step(3, 0.0, 60.0, 1)
    assert node.voltage <= p.v_cutoff
    # Light just enough to lift it past the cut-off but not past the restart voltage: still off.
    while node.voltage < 2.9:
        node.step(3, 200.0, 60.0, 1)
    assert not node.alive and node.brownout_s > 0
    detected = node.events_detected
    while not node.alive:
        node.step(3, 200.0, 60.0, 1)
    assert node.voltage > p.v_restart and node.events_detected == detected


def test_full_capacitor_spills() -> None:
    node = _core.Node(_core.NodeParams(v_initial=5.5))
    node.step(5, 10_000.0, 3600.0, 0)
    assert node.voltage == pytest.approx(5.5) and node.spilled_j > 0


@settings(max_examples=60, deadline=None)
@given(
    lux=st.lists(st.floats(0, 2000), min_size=1, max_size=300),
    events=st.lists(st.integers(0, 20), min_size=300, max_size=300),
    v0=st.floats(2.31, 5.5),
    mode=st.integers(0, 5),
    step_s=st.sampled_from([1.0, 60.0, 900.0]),
)
def test_energy_is_conserved(lux: list[float], events: list[int], v0: float, mode: int, step_s: float) -> None:
    """Capacitor energy change = harvested - spilled - consumed, over any run, to rounding."""
    p = _core.NodeParams(v_initial=v0)
    node = _core.Node(p)
    start = node.energy_j
    for light, n in zip(lux, events):
        node.step(mode, light, step_s, n)
    balance = node.harvested_j - node.spilled_j - node.consumed_j
    assert node.energy_j - start == pytest.approx(balance, abs=1e-9 * max(1.0, node.harvested_j + start))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), v0=st.floats(2.31, 5.5), policy=st.sampled_from(["fixed", "greedy"]))
def test_simulated_runs_conserve_energy(seed: int, v0: float, policy: str) -> None:
    rng = np.random.default_rng(seed)
    steps = 24 * 60 * 3
    trace = _core.Trace(rng.uniform(0, 600, steps) * (rng.random(steps) < 0.5), rng.poisson(0.3, steps), 60.0)
    chosen = _core.FixedPolicy(3) if policy == "fixed" else _core.GreedyPolicy()
    r = _core.simulate(_core.NodeParams(v_initial=v0), trace, chosen, 3600.0)
    balance = r.harvested_j - r.spilled_j - r.consumed_j
    assert r.final_energy_j - r.initial_energy_j == pytest.approx(balance, abs=1e-9 * (r.harvested_j + 10))
    assert r.decisions == 72 and r.events_total == int(trace.events.sum())


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="v_restart"):
        _core.NodeParams(v_restart=2.0)
    with pytest.raises(TypeError, match="unknown NodeParams field"):
        _core.NodeParams(capacitance=1.0)


def test_config_node_type_in_microamps_becomes_si() -> None:
    section = Config.model_validate(
        {"gateway": {"id": "gw"}, "energy_harvesting": {"node_types": {"big": {"capacitance_f": 3, "sleep_ua": 2}}}}
    ).energy_harvesting
    p = node_params(section.node_types["big"])
    assert p.capacitance_f == 3.0 and p.sleep_a == pytest.approx(2e-6) and p.pir_a == pytest.approx(102e-6)
    assert math.isclose(node_params(EnergyNodeTypeConfig()).harvest_a, _core.NodeParams().harvest_a)


def test_config_refuses_disordered_voltages() -> None:
    with pytest.raises(ValueError, match="v_cutoff < v_restart"):
        EnergyNodeTypeConfig(v_restart=2.0)


@pytest.mark.parametrize(
    ("heading", "model"),
    [("## `energy_harvesting`", EnergyHarvestingConfig),
     ("### `energy_harvesting.node_types.<type>`", EnergyNodeTypeConfig)],
)
def test_docs_list_every_key(heading: str, model: type) -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index(heading + "\n"):]
    table = re.search(r"(^\|.*\n)+", section, flags=re.MULTILINE)
    assert table is not None
    assert re.findall(r"^\| `([a-z_0-9]+)` \|", table.group(0), flags=re.MULTILINE) == list(model.model_fields)
