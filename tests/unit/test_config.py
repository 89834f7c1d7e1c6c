"""Configuration loading: the example is valid, and every error points at the right place.

Each test writes a real file into ``tmp_path`` and loads it the way the service
does, then checks the ``FILE:LINE:COL: key.path: ...`` a person would read.
"""

from __future__ import annotations

import io
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config import Config, ConfigError, ConfigIssue, load_config
from agent.config.check import check_main
from agent.config.schema import (
    DeviceConfig,
    GatewayConfig,
    MqttConfig,
    SerialPortConfig,
    StateConfig,
    StoreConfig,
    UpstreamConfig,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "edgewise.yaml"
DOCS = REPO / "docs" / "configuration.md"


def write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def issues_of(path: Path) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.issues


def only_issue(path: Path) -> ConfigIssue:
    issues = issues_of(path)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


# --- valid files -----------------------------------------------------------------------


def test_example_is_valid_and_describes_a_small_site() -> None:
    config = load_config(EXAMPLE)
    assert config.gateway.id == "demo-gateway"
    assert [s.port for s in config.serial] == ["/dev/ttyUSB0"]
    assert config.mqtt is not None and config.upstream is not None
    assert {d.room for d in config.devices.values()} == {"kitchen", "office"}


def test_example_spells_out_the_state_and_store_defaults() -> None:
    config = load_config(EXAMPLE)
    assert config.state == StateConfig()
    assert config.store == StoreConfig()


def test_example_survives_the_demo_round_trip() -> None:
    """``edgewise demo`` dumps the loaded example, edits it and validates it again."""
    config = load_config(EXAMPLE)
    assert Config.model_validate(config.model_dump()) == config


def test_minimal_file_gets_documented_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "gateway:\n  id: gw-1\n"))
    assert config.gateway.database == "/var/lib/edgewise/edgewise.db"
    assert config.gateway.log_level == "info"
    assert config.serial == [] and config.devices == {}
    assert config.mqtt is None and config.upstream is None
    assert (config.state.window, config.state.stale_after_s, config.state.check_interval_s) == (120, 900, 60)
    assert (config.store.batch_max, config.store.flush_interval_s) == (2000, 0.05)


def test_section_defaults_match_the_docs(tmp_path: Path) -> None:
    text = "gateway: {id: gw}\nmqtt: {}\nupstream: {host: up}\nserial: [{name: a, port: /dev/x}]\n"
    config = load_config(write(tmp_path, text))
    assert config.mqtt == MqttConfig(host="127.0.0.1", port=1883, base_topic="zigbee2mqtt", keepalive_s=30)
    up = config.upstream
    assert up is not None
    assert (up.port, up.topic_prefix, up.qos) == (1883, "edgewise", 1)
    assert (up.batch_size, up.outbox_max_rows) == (100, 1_000_000)
    assert (up.reconnect_initial_s, up.reconnect_max_s) == (1.0, 60.0)
    assert (config.serial[0].baudrate, config.serial[0].ack) == (115200, True)


def test_whole_number_is_accepted_for_a_decimal(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "gateway: {id: gw}\nstate: {stale_after_s: 30}\n"))
    assert config.state.stale_after_s == 30.0


def test_anchors_and_merge_keys_work(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        gateway: {id: gw}
        serial:
          - &dongle {name: a, port: /dev/ttyUSB0, baudrate: 9600}
          - <<: *dongle
            name: b
        """,
    )
    assert [(s.name, s.baudrate) for s in load_config(path).serial] == [("a", 9600), ("b", 9600)]


# --- each kind of error, with its exact place -----------------------------------------


def test_bad_type_points_at_the_value(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        gateway:
          id: gw
        upstream:
          host: up.example
          port: abc
        """,
    )
    issue = only_issue(path)
    assert str(issue) == f"{path}:5:9: upstream.port: must be an integer, got 'abc' (an integer 1–65535)"


def test_quoted_number_is_not_an_integer(tmp_path: Path) -> None:
    path = write(tmp_path, 'gateway: {id: gw}\nstate:\n  window: "5"\n')
    issue = only_issue(path)
    assert (issue.line, issue.col, issue.key_path) == (3, 11, "state.window")
    assert "must be an integer, got '5'" in issue.message


def test_unknown_top_level_key_points_at_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  id: gw\n\nwatchdog:\n  usec: 5\n")
    issue = only_issue(path)
    assert (issue.line, issue.col, issue.key_path) == (4, 1, "watchdog")
    assert issue.message == "unknown key"
    assert "gateway, serial, mqtt, upstream, state, store, devices" in issue.allowed


def test_unknown_key_inside_a_list_item(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        gateway: {id: gw}
        serial:
          - name: a
            port: /dev/ttyUSB0
          - name: b
            port: /dev/ttyUSB1
            baud: 9600
        """,
    )
    issue = only_issue(path)
    assert (issue.line, issue.col, issue.key_path) == (7, 5, "serial[1].baud")
    assert issue.message == "unknown key; did you mean 'baudrate'?"


def test_missing_required_key_points_at_its_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "# site\n\ngateway:\n  log_level: debug\n")
    issue = only_issue(path)
    assert str(issue).startswith(f"{path}:3:1: gateway.id: required key is missing (")


def test_missing_key_in_a_list_item_points_at_the_item(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {id: gw}\nserial:\n  - name: a\n  - name: b\n    port: /dev/x\n")
    issue = only_issue(path)
    assert (issue.line, issue.key_path, issue.message) == (3, "serial[0].port", "required key is missing")


def test_missing_gateway_section(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, "state:\n  window: 10\n"))
    assert (issue.line, issue.key_path, issue.message) == (1, "gateway", "required key is missing")


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  id: gw\n  log_level: info\n  id: other\n")
    issue = only_issue(path)
    assert str(issue) == f"{path}:4:3: gateway.id: duplicate key (first defined on line 2) (each key once per mapping)"


def test_duplicate_key_inside_a_list_item(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {id: gw}\nserial:\n  - name: a\n    port: /dev/x\n    port: /dev/y\n")
    issue = only_issue(path)
    assert (issue.line, issue.col, issue.key_path) == (5, 5, "serial[0].port")


def test_bad_yaml_syntax(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  id: gw\nserial: [\n  {name: a, port: /dev/x\n")
    issue = only_issue(path)
    assert issue.line == 5 and issue.key_path == ""
    assert issue.message.startswith("invalid YAML: ")
    assert str(issue).startswith(f"{path}:5:1: invalid YAML: ")


def test_tab_indentation_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("gateway:\n\tid: gw\n", encoding="utf-8")
    issue = only_issue(path)
    assert (issue.line, issue.col) == (2, 1)
    assert "tabs" in issue.allowed


def test_out_of_range_value(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {id: gw}\nupstream:\n  host: up\n  batch_size: 0\n")
    issue = only_issue(path)
    assert str(issue) == f"{path}:4:15: upstream.batch_size: must be at least 1, got 0 (an integer 1–10000)"


@pytest.mark.parametrize(
    ("text", "line", "col", "key_path", "message"),
    [
        ("gateway:\n  id: gw\n  log_level: verbose\n", 3, 14, "gateway.log_level", "'verbose' is not one"),
        ("gateway: {id: gw}\nupstream:\n  host: up\n  qos: 3\n", 4, 8, "upstream.qos", "3 is not one"),
        ("gateway: {id: gw}\nserial:\n  - {name: a, port: /dev/x, baudrate: 9601}\n", 3, 39, "serial[0].baudrate",
         "9601 is not one"),
    ],
)
def test_bad_enum_value(tmp_path: Path, text: str, line: int, col: int, key_path: str, message: str) -> None:
    issue = only_issue(write(tmp_path, text))
    assert (issue.line, issue.col, issue.key_path) == (line, col, key_path)
    assert issue.message.startswith(message)


def test_true_is_not_a_qos_level(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, "gateway: {id: gw}\nupstream: {host: up, qos: true}\n"))
    assert (issue.key_path, issue.message) == ("upstream.qos", "must be an integer, got true")


@pytest.mark.parametrize("word", ["on", "off", "yes", "no", '"true"'])
def test_yaml_11_booleans_are_not_booleans(tmp_path: Path, word: str) -> None:
    path = write(tmp_path, f"gateway: {{id: gw}}\nserial:\n  - name: a\n    port: /dev/x\n    ack: {word}\n")
    issue = only_issue(path)
    assert (issue.line, issue.col, issue.key_path) == (5, 10, "serial[0].ack")
    assert issue.message.startswith("must be true or false, got '")


def test_a_yaml_11_directive_is_refused(tmp_path: Path) -> None:
    """Under ``%YAML 1.1`` the word ``on`` would silently become ``true``."""
    path = write(tmp_path, "%YAML 1.1\n---\ngateway: {id: gw}\nserial: [{name: a, port: /dev/x, ack: on}]\n")
    issue = only_issue(path)
    assert (issue.line, issue.message) == (1, "YAML version 1.1 is not supported")


def test_reconnect_max_below_initial_names_the_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        gateway: {id: gw}
        upstream:
          host: up
          reconnect_max_s: 2
          reconnect_initial_s: 5
        """,
    )
    issue = only_issue(path)
    assert (issue.line, issue.col, issue.key_path) == (4, 20, "upstream.reconnect_max_s")
    assert issue.message == "must be at least reconnect_initial_s = 5.0, got 2.0"


def test_reconnect_check_against_the_default_points_at_the_section(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {id: gw}\nupstream:\n  host: up\n  reconnect_initial_s: 120\n")
    issue = only_issue(path)
    assert (issue.line, issue.col, issue.key_path) == (2, 1, "upstream.reconnect_max_s")
    assert "default" in issue.message


def test_duplicate_serial_name_points_at_the_second(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {id: gw}\nserial:\n  - {name: a, port: /dev/x}\n  - {name: a, port: /dev/y}\n")
    issue = only_issue(path)
    assert (issue.line, issue.key_path) == (4, "serial[1].name")
    assert issue.message == "name 'a' is already used by serial[0]"


def test_gateway_id_must_be_safe_in_topics(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, "gateway:\n  id: Main/Gateway\n"))
    assert (issue.line, issue.col, issue.key_path) == (2, 7, "gateway.id")


def test_password_without_username(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, "gateway: {id: gw}\nmqtt:\n  password: secret\n"))
    assert (issue.line, issue.key_path) == (3, "mqtt.password")


def test_device_id_must_be_text(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, "gateway: {id: gw}\ndevices:\n  12: {room: hall}\n"))
    assert (issue.line, issue.col, issue.key_path) == (3, 3, "devices.12")
    assert issue.message == "key must be a string, got 12"


def test_every_problem_is_reported_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  id: gw\n  log_level: loud\nstate:\n  window: 1\n  stale: 3\n")
    assert [(i.line, i.key_path) for i in issues_of(path)] == [
        (3, "gateway.log_level"), (5, "state.window"), (6, "state.stale"),
    ]


def test_yaml_tags_are_rejected(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, "gateway:\n  id: !env GATEWAY\n"))
    assert (issue.line, issue.key_path) == (2, "gateway.id")
    assert "tag" in issue.message


# --- files that cannot be read --------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    issue = only_issue(path)
    assert str(issue) == f"{path}: cannot read the file: No such file or directory"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert str(only_issue(tmp_path)).startswith(f"{tmp_path}: cannot read the file: ")


def test_empty_file(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, "# nothing yet\n"))
    assert (issue.line, issue.message) == (1, "the file is empty")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_bytes(b"gateway:\n  id: caf\xe9\n")
    issue = only_issue(path)
    assert (issue.line, issue.col) == (2, 10)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, "- gateway\n"))
    assert (issue.line, issue.message) == (1, "must be a mapping, got a list")


# --- edgewise check ---------------------------------------------------------------------


def test_check_valid_file_prints_ok(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  id: gw\n")
    out = io.StringIO()
    assert check_main(str(path), out) == 0
    assert out.getvalue() == f"{path}: ok\n"


def test_check_invalid_file_prints_one_issue_per_line(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  id: gw\nmqtt:\n  port: 0\n  colour: blue\n")
    out = io.StringIO()
    assert check_main(str(path), out) == 2
    lines = out.getvalue().splitlines()
    assert lines == [
        f"{path}:4:9: mqtt.port: must be at least 1, got 0 (an integer 1–65535)",
        f"{path}:5:3: mqtt.colour: unknown key (known keys: host, port, username, password, base_topic, "
        "client_id, keepalive_s)",
    ]


def test_check_missing_file_exits_2(tmp_path: Path) -> None:
    out = io.StringIO()
    assert check_main(str(tmp_path / "nope.yaml"), out) == 2
    assert out.getvalue().startswith(f"{tmp_path / 'nope.yaml'}: cannot read the file")


def test_check_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_main(str(EXAMPLE)) == 0
    assert capsys.readouterr().out == f"{EXAMPLE}: ok\n"


# --- the docs cover the schema --------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "model"),
    [
        ("gateway", GatewayConfig), ("serial", SerialPortConfig), ("mqtt", MqttConfig),
        ("upstream", UpstreamConfig), ("state", StateConfig), ("store", StoreConfig), ("devices", DeviceConfig),
    ],
)
def test_docs_list_every_key_of_each_section(heading: str, model: type[Any]) -> None:
    sections = re.split(r"^## ", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE)
    section = next(s for s in sections if s.startswith(f"`{heading}`"))
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
    assert documented == list(model.model_fields)


# --- property tests ---------------------------------------------------------------------

Scalar = int | bool | str
BASE: dict[str, Any] = {
    "gateway": {"id": "gw-1", "log_level": "info"},
    "serial": [{"name": "d1", "port": "/dev/ttyUSB0"}, {"name": "d2", "port": "/dev/ttyUSB1", "ack": False}],
    "mqtt": {"host": "127.0.0.1", "port": 1883},
    "upstream": {"host": "up.example", "qos": 1},
    "state": {"window": 10},
    "store": {"batch_max": 5},
    "devices": {"node-0001": {"room": "kitchen"}},
}
# Mappings that are models, so any key not in the schema is unknown there.
TARGETS: list[tuple[Any, ...]] = [
    (), ("gateway",), ("serial", 0), ("serial", 1), ("mqtt",), ("upstream",), ("state",), ("store",),
    ("devices", "node-0001"),
]
JUNK_LINES = ["", "# a comment", "    # an indented comment"]
# Each example overwrites the same file in tmp_path, so sharing the fixture is harmless.
reuses_tmp_path = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def scalar_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def emit(node: dict[str, Any], indent: int, path: tuple[Any, ...], out: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Block-style YAML, one key per line, each line tagged with the key path it holds."""
    pad = " " * indent
    for key, value in node.items():
        here = (*path, key)
        if isinstance(value, dict):
            out.append((f"{pad}{key}:", here))
            emit(value, indent + 2, here, out)
        elif isinstance(value, list):
            out.append((f"{pad}{key}:", here))
            for index, item in enumerate(value):
                start = len(out)
                emit(item, indent + 4, (*here, index), out)
                first, first_path = out[start]
                out[start] = (f"{pad}  - {first.lstrip()}", first_path)
        else:
            out.append((f"{pad}{key}: {scalar_text(value)}", here))


def node_at(tree: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        tree = tree[step]
    return tree


def path_text(path: tuple[Any, ...]) -> str:
    return "".join(f"[{s}]" if isinstance(s, int) else (f".{s}" if i else s) for i, s in enumerate(path))


scalars = st.one_of(st.integers(-10**6, 10**6), st.booleans(), st.from_regex(r"[a-z0-9 ]{0,8}", fullmatch=True))
nested_keys = st.from_regex(r"[a-z]{1,5}", fullmatch=True)
unknown_values = st.one_of(scalars, st.dictionaries(nested_keys, scalars, min_size=1, max_size=2))


@reuses_tmp_path
@given(st.data())
def test_unknown_key_anywhere_is_reported_on_its_line(tmp_path: Path, data: st.DataObject) -> None:
    tree = json.loads(json.dumps(BASE))
    target = data.draw(st.sampled_from(TARGETS), label="target")
    mapping = node_at(tree, target)
    name = data.draw(st.from_regex(r"x[a-z_]{0,10}", fullmatch=True), label="key")
    position = data.draw(st.integers(0, len(mapping)), label="position")
    items = list(mapping.items())
    items.insert(position, (name, data.draw(unknown_values, label="value")))
    mapping.clear()
    mapping.update(items)

    emitted: list[tuple[str, tuple[Any, ...]]] = []
    emit(tree, 0, (), emitted)
    lines: list[str] = []
    expected_line = expected_col = 0
    for text, path in emitted:
        lines += data.draw(st.lists(st.sampled_from(JUNK_LINES), max_size=2), label="junk")
        lines.append(text)
        if path == (*target, name):
            expected_line, expected_col = len(lines), len(text) - len(text.lstrip(" -")) + 1

    path = tmp_path / "fuzz.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    issue = only_issue(path)
    assert (issue.line, issue.col) == (expected_line, expected_col)
    assert issue.key_path == path_text((*target, name))
    assert issue.message.startswith("unknown key")


@reuses_tmp_path
@given(port=st.integers(-(2**40), 2**40), blank_lines=st.integers(0, 5))
def test_port_range_and_its_line(tmp_path: Path, port: int, blank_lines: int) -> None:
    path = tmp_path / "port.yaml"
    path.write_text("gateway: {id: gw}\n" + "\n" * blank_lines + f"mqtt:\n  port: {port}\n", encoding="utf-8")
    if 1 <= port <= 65535:
        config = load_config(path)
        assert config.mqtt is not None and config.mqtt.port == port
    else:
        issue = only_issue(path)
        assert (issue.line, issue.col, issue.key_path) == (blank_lines + 3, 9, "mqtt.port")


@reuses_tmp_path
@given(gateway_id=st.text(alphabet="abcXYZ019_-./ é", max_size=70))
def test_gateway_id_accepted_exactly_when_topic_safe(tmp_path: Path, gateway_id: str) -> None:
    path = tmp_path / "id.yaml"
    path.write_text(f"gateway:\n  id: {json.dumps(gateway_id)}\n", encoding="utf-8")
    if re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", gateway_id):
        assert load_config(path).gateway.id == gateway_id
    else:
        issue = only_issue(path)
        assert (issue.line, issue.col, issue.key_path) == (2, 7, "gateway.id")

