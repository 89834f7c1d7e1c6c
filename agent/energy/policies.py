"""The scheduling policies by name, and the learned policy's file.

``fixed`` always senses and reports every 15 minutes, as a node without a
scheduler would.  ``greedy`` spends by energy thresholds on the last reported
voltage.  ``learned`` is a lookup table over (hour of the day, voltage bin,
light bin) trained by tabular Q-learning on simulated years (``agent.energy.train``);
it is stored as a small JSON file, so the gateway needs no ML library to use it.
``oracle`` knows the future and is built per trace (``agent.energy.simulate``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from agent import _core

POLICY_NAMES = ("fixed", "greedy", "learned", "oracle")
TABLE_FORMAT = "edgewise.schedule-table"
TABLE_VERSION = 1
FIXED_MODE = 3  # PIR on, report every 15 minutes


def shipped_table_path() -> Path:
    """The learned table that ships with the agent (trained by ``python3 -m agent.energy.train``)."""
    return Path(str(resources.files("agent.energy") / "learned_policy.json"))


def save_table(policy: _core.TablePolicy, path: Path, trained_on: dict[str, Any]) -> None:
    """Write a table as JSON: modes nested hour → voltage bin → light bin, readable and diffable."""
    shape = (24, len(policy.voltage_edges) + 1, len(policy.lux_edges) + 1)
    document = {
        "format": TABLE_FORMAT,
        "version": TABLE_VERSION,
        "modes_legend": [{"pir_on": pir, "report_interval_s": interval} for pir, interval in _core.MODES],
        "voltage_edges": list(policy.voltage_edges),
        "lux_edges": list(policy.lux_edges),
        "modes": np.asarray(policy.modes).reshape(shape).tolist(),
        "trained_on": trained_on,
    }
    Path(path).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def load_table(path: Path | None = None) -> _core.TablePolicy:
    """Read a table file (the shipped one if ``path`` is None); ValueError naming the file if it is not one."""
    path = Path(path) if path is not None else shipped_table_path()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read a policy table: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != TABLE_FORMAT:
        raise ValueError(f"{path}: not an edgewise schedule table (format must be {TABLE_FORMAT!r})")
    if document.get("version") != TABLE_VERSION:
        raise ValueError(f"{path}: table version {document.get('version')!r}; this agent reads {TABLE_VERSION}")
    try:
        modes = np.asarray(document["modes"], dtype=np.int8).ravel().tolist()
        return _core.TablePolicy(document["voltage_edges"], document["lux_edges"], modes)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: bad policy table: {exc}") from exc


def make_policy(name: str, table: Path | None = None) -> _core.Policy:
    """A trace-independent policy by name (``oracle`` needs the trace: see ``simulate.run_policy``)."""
    if name == "fixed":
        return _core.FixedPolicy(FIXED_MODE)
    if name == "greedy":
        return _core.GreedyPolicy()
    if name == "learned":
        return load_table(table)
    raise ValueError(f"unknown policy {name!r}; choose one of {', '.join(POLICY_NAMES)}")
