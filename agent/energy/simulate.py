"""Run the policies over a trace and summarise what each caught and what it cost."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent import _core
from agent.energy.policies import make_policy

DECISION_S = 3600.0
ORACLE_GRID = 256


@dataclass(frozen=True)
class PolicyResult:
    """One policy's run: the CLI's and the benchmark's row."""

    policy: str
    events_total: int
    events_detected: int
    detection_pct: float
    brownout_hours: float
    min_voltage: float
    decisions: int
    decisions_per_s: float
    harvested_j: float
    consumed_j: float
    reports: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def oracle_policy(params: _core.NodeParams, trace: _core.Trace, decision_s: float = DECISION_S,
                  grid: int = ORACLE_GRID) -> _core.PlanPolicy:
    """The offline optimum's plan for this trace, as a policy that replays it."""
    return _core.PlanPolicy(_core.oracle_plan(params, trace, decision_s, grid).tolist())


def run_policy(name: str, params: _core.NodeParams, trace: _core.Trace, decision_s: float = DECISION_S,
               table: Path | None = None) -> PolicyResult:
    """Simulate one named policy; decisions per second include the oracle's planning, which is its real cost."""
    start = time.perf_counter()
    policy = oracle_policy(params, trace, decision_s) if name == "oracle" else make_policy(name, table)
    result = _core.simulate(params, trace, policy, decision_s)
    elapsed = time.perf_counter() - start
    return summarise(name, result, elapsed)


def summarise(name: str, result: _core.SimResult, elapsed_s: float) -> PolicyResult:
    total = int(result.events_total)
    detected = int(result.events_detected)
    return PolicyResult(
        policy=name,
        events_total=total,
        events_detected=detected,
        detection_pct=100.0 * detected / total if total else 100.0,
        brownout_hours=result.brownout_s / 3600.0,
        min_voltage=result.min_voltage,
        decisions=int(result.decisions),
        decisions_per_s=result.decisions / elapsed_s if elapsed_s > 0 else float("inf"),
        harvested_j=result.harvested_j,
        consumed_j=result.consumed_j,
        reports=int(result.reports),
    )
