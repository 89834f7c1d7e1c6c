"""The ingest benchmark runs end to end and its numbers describe a correct run.

Speed is never asserted here (CI machines vary); what is asserted is that the
benchmark measured what it claims: every published message reached the
baseline, and the agent stored every reading exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType

import pytest

from firmware_sim.zigbee_devices import count_readings

KEYS = {
    "messages", "baseline_msgs_per_s", "agent_msgs_per_s", "ratio", "agent_readings_per_s",
    "goal_ratio_met", "goal_rate_met", "readings", "agent_readings_stored", "baseline_messages_received",
    "machine",
}


@pytest.fixture(scope="module")
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("ingest")


@pytest.mark.slow
def test_small_run_reports_every_key_and_stores_every_reading(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    status = bench.main(["--messages", "2000", "--devices", "5", "--json"])
    out = capsys.readouterr().out

    assert status == 0
    result = json.loads(out)
    assert KEYS <= result.keys()
    assert result["messages"] == 2000
    expected = sum(count_readings(json.loads(p)) for _, p in bench.make_workload(2000, 5, 1).messages)
    assert result["readings"] == expected
    assert result["agent_readings_stored"] == [expected] * 3
    assert result["baseline_messages_received"] == [2000] * 3
    assert result["ratio"] == pytest.approx(result["agent_msgs_per_s"] / result["baseline_msgs_per_s"])
    assert isinstance(result["goal_ratio_met"], bool) and isinstance(result["goal_rate_met"], bool)


def test_workload_last_seen_only_moves_forward_per_device(bench: ModuleType) -> None:
    """Otherwise the agent would drop messages as QoS 1 redeliveries and never finish."""
    workload = bench.make_workload(500, 7, 3)
    last: dict[str, int] = {}
    for topic, payload in workload.messages:
        seen = json.loads(payload)["last_seen"]
        assert seen > last.get(topic, 0)
        last[topic] = seen
    assert len(last) == 7


def test_bad_options_are_refused_with_a_message(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--messages", "0"])
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
