"""The ``apps.fault_detection`` section: defaults, the docs, a bad rules file, and errors that point at the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.apps.errors import AppSetupError
from agent.apps.faults.app import load_rules_file
from agent.config import ConfigError, load_config
from agent.config.schema import FaultDetectionConfig

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def issue(tmp_path: Path, text: str) -> str:
    path = tmp_path / "site.yaml"
    path.write_text("gateway: {id: gw}\napps:\n  fault_detection:\n" + text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (only,) = caught.value.issues
    return str(only).replace(str(path), "site.yaml")


def test_off_by_default_with_a_four_week_window_and_no_outdoor_sensor(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("gateway: {id: gw}\n", encoding="utf-8")
    assert load_config(path).apps.fault_detection == FaultDetectionConfig(
        enabled=False, hour=2, window_days=28, outdoor=None, rules=None)


def test_a_valid_section_loads(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("gateway: {id: gw}\napps:\n  fault_detection:\n    enabled: true\n    hour: 3\n"
                    "    window_days: 14\n    outdoor: weather/temperature\n", encoding="utf-8")
    section = load_config(path).apps.fault_detection
    assert (section.enabled, section.hour, section.window_days, section.outdoor) == (True, 3, 14, "weather/temperature")


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("    hour: 24\n", 4, "apps.fault_detection.hour: must be at most 23"),
        ("    window_days: 7\n", 4, "apps.fault_detection.window_days: must be at least 9"),
        ("    enabled: true\n    outdoor: weather\n", 5, "'weather' is not a point; write device/channel"),
        ("    rules: ''\n", 4, "apps.fault_detection.rules"),
        ("    colour: red\n", 4, "apps.fault_detection.colour: unknown key"),
    ],
)
def test_errors_name_the_line_and_what_is_allowed(tmp_path: Path, text: str, line: int, says: str) -> None:
    message = issue(tmp_path, text)
    assert message.startswith(f"site.yaml:{line}:") and says in message


def test_a_rules_file_that_does_not_load_stops_the_start(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - name: x\n    fault: stuck_sensor\n    when: {signal: nonsense, above: 1}\n",
                   encoding="utf-8")
    with pytest.raises(AppSetupError, match="apps.fault_detection.rules: .*nonsense"):
        load_rules_file(FaultDetectionConfig(enabled=True, rules=str(bad)))
    with pytest.raises(AppSetupError, match="apps.fault_detection.rules"):
        load_rules_file(FaultDetectionConfig(enabled=True, rules=str(tmp_path / "missing.yaml")))
    assert len(load_rules_file(FaultDetectionConfig(enabled=True))) == 5  # the shipped rules


def test_docs_list_every_key() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("### `apps.fault_detection`\n"):]
    table = re.search(r"^\| Key \|.*?(?=^\s*$|\Z)", section, flags=re.MULTILINE | re.DOTALL)
    assert table is not None
    assert re.findall(r"^\| `([a-z_]+)` \|", table.group(0), flags=re.MULTILINE) == list(FaultDetectionConfig.model_fields)
