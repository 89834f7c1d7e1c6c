"""The scheduler benchmark runs end to end, tiny, and reports every key. Speed is never asserted."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType

import pytest

KEYS = {"days", "seeds", "scenarios", "learned_of_oracle", "decision_ns", "node_years_per_s", "goal_detection_met",
        "goal_of_oracle_met", "goal_decision_cost_met", "wall_s", "machine"}


def test_tiny_run_reports_every_key(load_benchmark: Callable[[str], ModuleType],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_benchmark("scheduler")
    assert bench.main(["--days", "3", "--seeds", "5", "--decisions", "1000", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert KEYS <= result.keys()
    assert set(result["scenarios"]) == {"window_office", "interior_office", "dim_corridor"}
    for rows in result["scenarios"].values():
        assert set(rows) == {"fixed", "greedy", "learned", "oracle"}
        assert all(r["events_detected"] <= rows["oracle"]["events_detected"] for r in rows.values())
    assert all(isinstance(result[k], bool) for k in KEYS if k.startswith("goal_"))
    assert set(result["decision_ns"]) == {"fixed", "greedy", "learned"}
