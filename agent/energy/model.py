"""Node parameters: the configuration's units (µA, V, F) turned into the core's SI ``NodeParams``.

The defaults are Ember's node (Fraternali et al., "Ember: energy management of
batteryless event detection sensors with deep reinforcement learning",
SenSys 2020) as issue 6 quotes them; the restart and initial voltages are
edgewise's choice (the paper gives only the usable 2.3–5.5 V range).
"""

from __future__ import annotations

from typing import Any

from agent import _core

MODES: tuple[tuple[bool, float], ...] = tuple(_core.MODES)
"""Sensing modes by index: (PIR on, report interval in seconds)."""

DEFAULT_NODE_TYPE = "ember"

MICRO = 1e-6
# config key -> (NodeParams field, scale to SI)
_FIELDS: dict[str, tuple[str, float]] = {
    "capacitance_f": ("capacitance_f", 1.0),
    "v_max": ("v_max", 1.0),
    "v_cutoff": ("v_cutoff", 1.0),
    "v_restart": ("v_restart", 1.0),
    "v_initial": ("v_initial", 1.0),
    "harvest_v": ("harvest_v", 1.0),
    "harvest_ua": ("harvest_a", MICRO),
    "harvest_ref_lux": ("harvest_ref_lux", 1.0),
    "sleep_ua": ("sleep_a", MICRO),
    "pir_ua": ("pir_a", MICRO),
    "pir_event_s": ("pir_event_s", 1.0),
    "radio_ua": ("radio_a", MICRO),
    "radio_s": ("radio_s", 1.0),
    "radio_tx_ua": ("radio_tx_a", MICRO),
    "radio_tx_s": ("radio_tx_s", 1.0),
}


def node_params(node_type: Any = None) -> _core.NodeParams:
    """``NodeParams`` of a configured node type (an ``EnergyNodeTypeConfig`` or a mapping); defaults if None.

    Only keys the configuration knows are read, so a node type written for
    µA never reaches the core as amperes by mistake.
    """
    if node_type is None:
        return _core.NodeParams()
    values = node_type if isinstance(node_type, dict) else node_type.model_dump()
    unknown = set(values) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown node type keys: {', '.join(sorted(unknown))}")
    return _core.NodeParams(**{_FIELDS[k][0]: float(v) * _FIELDS[k][1] for k, v in values.items()})
