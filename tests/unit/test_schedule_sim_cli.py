"""``edgewise schedule-sim``: the table, the JSON, the users' files and the errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main

KEYS = {"policy", "events_total", "events_detected", "detection_pct", "brownout_hours", "min_voltage",
        "decisions_per_s"}


def test_json_lists_every_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule-sim", "--scenario", "dim_corridor", "--days", "7", "--seed", "4", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["policy"] for r in rows] == ["fixed", "greedy", "learned", "oracle"]
    assert all(KEYS <= r.keys() for r in rows)
    assert len({r["events_total"] for r in rows}) == 1
    oracle = rows[-1]["events_detected"]
    assert all(r["events_detected"] <= oracle for r in rows)


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule-sim", "--days", "3", "--policy", "greedy"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["policy", "events", "detected"]
    assert out.splitlines()[1].startswith("greedy")


def test_users_csv_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    light = tmp_path / "light.csv"
    light.write_text("time_s,lux\n" + "".join(f"{h * 3600},{300 if 8 <= h % 24 < 18 else 0}\n" for h in range(73)))
    events = tmp_path / "events.csv"
    events.write_text("time_s\n" + "".join(f"{h * 3600 + 600}\n" for h in range(72) if 9 <= h % 24 < 17))
    assert main(["schedule-sim", "--light-csv", str(light), "--events-csv", str(events), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["events_total"] for r in rows} == {24}


def test_bad_csv_exits_2_naming_file_and_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    light = tmp_path / "light.csv"
    light.write_text("time_s,lux\n0,1\n60,-5\n")
    events = tmp_path / "events.csv"
    events.write_text("time_s\n1\n")
    assert main(["schedule-sim", "--light-csv", str(light), "--events-csv", str(events)]) == 2
    assert f"{light}: row 3: lux -5 is negative" in capsys.readouterr().err


def test_light_without_events_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule-sim", "--light-csv", str(tmp_path / "x.csv")]) == 2
    assert "go together" in capsys.readouterr().err


def test_node_type_from_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("gateway: {id: gw}\nenergy_harvesting:\n  node_types:\n    tiny: {capacitance_f: 0.05}\n")
    args = ["schedule-sim", "--days", "7", "--policy", "fixed", "--json", "--config", str(config)]
    assert main([*args, "--node-type", "tiny"]) == 0
    tiny = json.loads(capsys.readouterr().out)[0]
    assert main([*args, "--node-type", "nope"]) == 2
    assert "no node type 'nope'" in capsys.readouterr().err
    assert main(["schedule-sim", "--days", "7", "--policy", "fixed", "--json"]) == 0
    default = json.loads(capsys.readouterr().out)[0]
    assert tiny["min_voltage"] < default["min_voltage"]
