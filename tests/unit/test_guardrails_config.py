"""The guardrails and actuation sections: defaults, the example, the docs, and errors that point at the line."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agent.config import ActuationConfig, ConfigError, GuardrailsConfig, load_config
from agent.config.schema import (
    HvacTimingConfig,
    RangeConfig,
    RateLimitConfig,
    SafeScheduleConfig,
    ZoneConfig,
    ZoneLimitsConfig,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "edgewise.yaml"
DOCS = REPO / "docs" / "configuration.md"


def issue(tmp_path: Path, text: str) -> str:
    path = tmp_path / "site.yaml"
    path.write_text("gateway: {id: gw}\n" + textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (only,) = caught.value.issues
    return str(only).replace(str(path), "site.yaml")


def test_defaults_are_ashrae_guideline_36_and_deny_everything() -> None:
    g = GuardrailsConfig()
    assert (g.absolute_c.min, g.absolute_c.max) == (7.0, 35.0)
    limits = ZoneLimitsConfig()
    assert (limits.heating_c, limits.cooling_c) == (RangeConfig(min=18, max=22), RangeConfig(min=22, max=27))
    assert (limits.setback_heating_c, limits.setback_cooling_c) == (16.0, 32.0)
    assert g.override_hold_s == 4 * 3600 and g.zones == {}


def test_the_example_spells_out_the_defaults_and_two_zones() -> None:
    config = load_config(EXAMPLE)
    g = config.guardrails
    assert (g.hvac, g.rate_limit, g.safe_schedule) == (HvacTimingConfig(), RateLimitConfig(), SafeScheduleConfig())
    assert (g.absolute_c, g.stale_after_s, g.override_hold_s) == (RangeConfig(min=7, max=35), 900, 14400)
    assert config.actuation == ActuationConfig()
    assert set(g.zones) == {"kitchen", "office"}
    assert g.zones["kitchen"].limits == ZoneLimitsConfig()
    # Every device the zones command is one the example describes.
    assert {d for z in g.zones.values() for d in z.actuators} <= set(config.devices)


def _first_table_keys(section: str) -> list[str]:
    table = re.search(r"^\| Key \|.*?(?=^\s*$|\Z)", section, flags=re.MULTILINE | re.DOTALL)
    assert table is not None
    return re.findall(r"^\| `([a-z_]+)` \|", table.group(0), flags=re.MULTILINE)


@pytest.mark.parametrize(
    ("heading", "model"),
    [
        ("## `guardrails`", GuardrailsConfig), ("### `guardrails.hvac`", HvacTimingConfig),
        ("### `guardrails.rate_limit`", RateLimitConfig), ("### `guardrails.safe_schedule`", SafeScheduleConfig),
        ("### `guardrails.zones.<zone>`", ZoneConfig), ("### `guardrails.zones.<zone>.limits`", ZoneLimitsConfig),
        ("## `actuation`", ActuationConfig),
    ],
)
def test_docs_list_every_key(heading: str, model: Any) -> None:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(heading + "\n")
    section = text[start:]
    assert _first_table_keys(section) == list(model.model_fields)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "guardrails:\n  zones:\n    a:\n      limits:\n        heating_c: {min: 18, max: 40}\n",
            "site.yaml:4:5: guardrails.zones: zones.a.limits.heating_c.max = 40.0 is outside absolute_c (7.0–35.0)",
        ),
        (
            "guardrails:\n  zones:\n    a:\n      limits:\n        setback_heating_c: 19\n",
            "site.yaml:6:28: guardrails.zones.a.limits.setback_heating_c: must be at most heating_c.min = 18.0, got 19.0",
        ),
        (
            "guardrails:\n  zones:\n    a: {actuators: {x: switch}}\n    b: {actuators: {x: switch}}\n",
            "site.yaml:4:5: guardrails.zones: device 'x' is in zones 'a' and 'b'",
        ),
        (
            "guardrails:\n  zones:\n    a: {actuators: {x: heater}}\n",
            "site.yaml:4:24: guardrails.zones.a.actuators.x: 'heater' is not a kind of actuator; use one of thermostat,",
        ),
        (
            "guardrails:\n  zones:\n    a: {actuators: {node-1: sensor_node}}\n",
            "site.yaml:4:20: guardrails.zones.a.actuators: sensor_node 'node-1' must be named node-<4 or 5 digits>",
        ),
        (
            "guardrails:\n  zones:\n    a: {sensors: [temperature]}\n",
            "site.yaml:4:19: guardrails.zones.a.sensors[0]: 'temperature' is not a point; write device/channel",
        ),
        ("guardrails:\n  timezone: Mars/Olympus\n", "site.yaml:3:13: guardrails.timezone: 'Mars/Olympus' is not a known"),
        (
            "guardrails:\n  safe_schedule: {occupied_from_h: 8, occupied_until_h: 7}\n",
            "site.yaml:3:57: guardrails.safe_schedule.occupied_until_h: must be after occupied_from_h = 8.0, got 7.0",
        ),
        (
            "guardrails:\n  override_hold_s: 90000\n",
            "site.yaml:2:1: guardrails.max_override_hold_s: must be at least override_hold_s = 90000.0, got 86400.0",
        ),
        ("actuation:\n  zigbee_retries: -1\n", "site.yaml:3:19: actuation.zigbee_retries: must be at least 0, got -1"),
    ],
)
def test_errors_name_the_line_the_key_and_what_is_allowed(tmp_path: Path, text: str, expected: str) -> None:
    assert issue(tmp_path, text).startswith(expected)
