"""The command-line contract of ``edgewise check`` and of ``edgewise run`` with a bad config.

Someone editing a gateway's config over SSH runs ``edgewise check`` before
restarting the service; systemd runs ``edgewise run``.  Both must refuse a bad
file with exit status 2 and a ``FILE:LINE:COL: key: problem`` line on stderr
that points at the mistake, and ``run`` must not start anything when it does.
The parser's detailed messages are tested in-process in tests/unit/test_config.py;
here each case is a real process, as an operator or systemd would start it.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "edgewise.yaml"
MARK = "# <-"
"""Ends the line an error must point at, so the cases state their line by showing it."""

_TIMEOUT_S = 60  # a process that started serving instead of refusing fails here, not hangs


@dataclass(frozen=True)
class Case:
    text: str
    key_path: str
    """The dotted key the message must name; empty for YAML syntax errors."""
    words: str
    """Part of the explanation the operator must see."""


def _config(body: str) -> str:
    """A config whose database lies next to it, so a started agent would leave a file behind."""
    return "gateway:\n  id: gw-1\n  database: agent.db\n" + body


CASES = {
    "yaml_syntax": Case(_config("mqtt:\n  host: a: b  # <-\n"), "", "invalid YAML"),
    "tab_indent": Case("gateway:\n\tid: gw-1  # <-\n", "", "tabs"),
    "unknown_key": Case(_config("mqtt:\n  port: 1883\n  colour: blue  # <-\n"), "mqtt.colour", "unknown key"),
    "wrong_type": Case(_config("mqtt:\n  port: '1883'  # <-\n"), "mqtt.port", "must be an integer"),
    "out_of_range": Case(_config("mqtt:\n  port: 70000  # <-\n"), "mqtt.port", "65535"),
    "missing_required": Case(
        _config("serial:\n  - name: dongle-1  # <-\n    baudrate: 115200\n"), "serial[0].port", "missing"
    ),
    "missing_gateway_id": Case("gateway:  # <-\n  log_level: info\n", "gateway.id", "missing"),
    "duplicate_key": Case(_config("  log_level: info\n  log_level: debug  # <-\n"), "gateway.log_level", "duplicate"),
    "bad_choice": Case(_config("  log_level: loud  # <-\n"), "gateway.log_level", "'loud'"),
    "yaml11_boolean": Case(
        _config("serial:\n  - name: d\n    port: /dev/null\n    ack: on  # <-\n"), "serial[0].ack", "true or false"
    ),
}


def _edgewise(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
    )


def _marked_line(text: str) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if line.rstrip().endswith(MARK)]
    assert len(lines) == 1, "a case marks exactly one line"
    return lines[0]


def _expected_prefix(path: Path, case: Case) -> tuple[str, str]:
    """``FILE:LINE:`` and what must follow the column: the key path, or the problem."""
    return f"{path}:{_marked_line(case.text)}:", f": {case.key_path}: " if case.key_path else ": "


def _assert_points_at(stderr: str, path: Path, case: Case) -> None:
    where, what = _expected_prefix(path, case)
    matching = [line for line in stderr.splitlines() if line.startswith(where) and what in line]
    assert matching, f"no line starting {where!r} naming {what.strip()!r} in:\n{stderr}"
    assert any(case.words in line for line in matching), stderr


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_rejects_with_exit_2_and_points_at_the_line(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    path = tmp_path / "edgewise.yaml"
    path.write_text(case.text)

    result = _edgewise("check", str(path), cwd=tmp_path)

    assert result.returncode == 2, result
    _assert_points_at(result.stderr, path, case)
    assert result.stdout == "", "errors belong on stderr, so `check FILE > /dev/null` still shows them"


@pytest.mark.parametrize("name", sorted(CASES))
def test_run_refuses_the_same_config_with_the_same_message_and_starts_nothing(
    name: str, tmp_path: Path
) -> None:
    case = CASES[name]
    path = tmp_path / "edgewise.yaml"
    path.write_text(case.text)

    checked = _edgewise("check", str(path), cwd=tmp_path)
    result = _edgewise("run", "--config", str(path), cwd=tmp_path)

    assert result.returncode == 2, result
    _assert_points_at(result.stderr, path, case)
    assert result.stderr == checked.stderr, "run and check must explain a bad config identically"
    assert not (tmp_path / "agent.db").exists(), "run opened the database of a config it rejected"


def test_several_problems_are_all_reported_one_per_line(tmp_path: Path) -> None:
    text = _config("mqtt:\n  port: 70000\n  colour: blue\n")
    path = tmp_path / "edgewise.yaml"
    path.write_text(text)

    result = _edgewise("check", str(path), cwd=tmp_path)

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert [line.split(": ")[1] for line in lines] == ["mqtt.port", "mqtt.colour"]
    assert lines[0].startswith(f"{path}:5:") and lines[1].startswith(f"{path}:6:")


def test_check_accepts_the_shipped_example(tmp_path: Path) -> None:
    result = _edgewise("check", str(EXAMPLE), cwd=tmp_path)

    assert (result.returncode, result.stdout, result.stderr) == (0, f"{EXAMPLE}: ok\n", "")


def test_check_accepts_a_minimal_config_given_by_relative_path(tmp_path: Path) -> None:
    (tmp_path / "gw.yaml").write_text("gateway:\n  id: gw-1\n")

    result = _edgewise("check", "gw.yaml", cwd=tmp_path)

    assert (result.returncode, result.stdout, result.stderr) == (0, "gw.yaml: ok\n", "")


@pytest.mark.parametrize("command", [("check",), ("run", "--config")])
def test_missing_file_exits_2_with_a_clear_message(command: tuple[str, ...], tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"

    result = _edgewise(*command, str(missing), cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.strip() == f"{missing}: cannot read the file: No such file or directory"
    assert "Traceback" not in result.stderr


def test_run_refuses_an_occupancy_model_it_cannot_load_and_opens_nothing(tmp_path: Path) -> None:
    path = tmp_path / "edgewise.yaml"
    path.write_text(_config("apps:\n  occupancy_control:\n    enabled: true\n    model: missing.json\n"))

    result = _edgewise("run", "--config", str(path), cwd=tmp_path)

    assert result.returncode == 2, result
    assert f"{path}: apps.occupancy_control.model: cannot load 'missing.json'" in result.stderr
    assert "no_light" in result.stderr  # what would work instead
    assert not (tmp_path / "agent.db").exists()
