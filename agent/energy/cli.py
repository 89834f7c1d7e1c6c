"""``edgewise schedule-sim``: simulate the scheduling policies on a scenario or the user's own traces."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from agent import _core
from agent.energy.model import DEFAULT_NODE_TYPE, node_params
from agent.energy.policies import POLICY_NAMES
from agent.energy.scenarios import ScenarioError, build_scenario, load_csv_trace
from agent.energy.simulate import DECISION_S, PolicyResult, run_policy

DEFAULT_SCENARIO = "window_office"


@dataclass(frozen=True)
class ScheduleSimOptions:
    scenario: str | None = None
    light_csv: Path | None = None
    events_csv: Path | None = None
    policy: str = "all"
    days: int | None = None
    seed: int = 1
    json: bool = False
    config: Path | None = None
    node_type: str | None = None
    policy_file: Path | None = None


def _params_and_settings(options: ScheduleSimOptions) -> tuple[_core.NodeParams, float, Path | None]:
    """Node parameters, decision interval and policy file: from the configuration if one is given."""
    if options.config is None:
        if options.node_type is not None:
            raise ScenarioError("--node-type needs --config (node types are defined in the configuration)")
        return node_params(), DECISION_S, options.policy_file
    from agent.config import ConfigError, load_config

    try:
        section = load_config(options.config).energy_harvesting
    except ConfigError as exc:
        raise ScenarioError("\n".join(str(issue) for issue in exc.issues)) from exc
    name = options.node_type or DEFAULT_NODE_TYPE
    if name not in section.node_types:
        known = ", ".join(section.node_types) or "none"
        raise ScenarioError(f"{options.config}: no node type {name!r} under energy_harvesting.node_types ({known})")
    policy_file = options.policy_file or (Path(section.policy_file) if section.policy_file else None)
    return node_params(section.node_types[name]), section.decision_interval_s, policy_file


def _trace(options: ScheduleSimOptions) -> _core.Trace:
    if (options.light_csv is None) != (options.events_csv is None):
        raise ScenarioError("--light-csv and --events-csv go together")
    if options.light_csv is not None and options.events_csv is not None:
        if options.scenario is not None:
            raise ScenarioError("give either --scenario or --light-csv/--events-csv, not both")
        return load_csv_trace(options.light_csv, options.events_csv, options.days)
    return build_scenario(options.scenario or DEFAULT_SCENARIO, options.days or 365, options.seed)


def _print_table(results: list[PolicyResult], out: TextIO) -> None:
    header = f"{'policy':<8} {'events':>8} {'detected':>9} {'detect %':>9} {'brown-out h':>12} {'min V':>6} {'decisions/s':>12}"
    print(header, file=out)
    for r in results:
        print(f"{r.policy:<8} {r.events_total:>8} {r.events_detected:>9} {r.detection_pct:>8.2f}% "
              f"{r.brownout_hours:>12.1f} {r.min_voltage:>6.2f} {r.decisions_per_s:>12,.0f}", file=out)


def schedule_sim_main(options: ScheduleSimOptions, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the chosen policies; 0 on success, 2 on bad input (the message names the file and row)."""
    out = out or sys.stdout  # looked up per call, so redirected streams are honoured
    err = err or sys.stderr
    if options.policy != "all" and options.policy not in POLICY_NAMES:
        print(f"edgewise schedule-sim: unknown policy {options.policy!r}", file=err)
        return 2
    try:
        params, decision_s, policy_file = _params_and_settings(options)
        trace = _trace(options)
        names = POLICY_NAMES if options.policy == "all" else (options.policy,)
        results = [run_policy(name, params, trace, decision_s, policy_file) for name in names]
    except (ScenarioError, ValueError) as exc:
        print(f"edgewise schedule-sim: {exc}", file=err)
        return 2
    if options.json:
        json.dump([r.as_dict() for r in results], out, indent=1)
        print(file=out)
    else:
        _print_table(results, out)
    return 0
