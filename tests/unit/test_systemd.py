"""systemd integration: sd_notify over a real datagram socket, the watchdog, journald logging, the unit file."""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import socket
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.cli import build_parser
from agent.systemd import Notifier, configure_logging, watchdog_loop

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "deploy" / "edgewise.service"


# --------------------------------------------------------------------------- sd_notify


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound AF_UNIX datagram socket standing in for systemd, and its path."""
    path = tmp_path / "notify"
    if len(str(path)) >= 100:  # sun_path is 108 bytes; pytest's tmp_path can be long
        path = Path("/tmp") / f"ew-notify-{uuid.uuid4().hex[:12]}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    try:
        yield sock, str(path)
    finally:
        sock.close()
        path.unlink(missing_ok=True)


def received(sock: socket.socket) -> list[str]:
    """Every datagram waiting on ``sock``, decoded."""
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


def test_lifecycle_messages_arrive_verbatim(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    notifier.ready()
    notifier.status("ingesting 3 serial nodes")
    notifier.watchdog()
    notifier.stopping()
    notifier.close()
    assert received(sock) == ["READY=1", "STATUS=ingesting 3 serial nodes", "WATCHDOG=1", "STOPPING=1"]


def test_several_fields_travel_in_one_datagram(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    Notifier({"NOTIFY_SOCKET": path}).notify(READY=1, STATUS="up\nand running")
    # A newline in a value would smuggle in a field of its own.
    assert received(sock) == ["READY=1\nSTATUS=up and running"]


def test_abstract_socket() -> None:
    name = f"edgewise-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.setblocking(False)
    try:
        Notifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert received(sock) == ["READY=1"]
    finally:
        sock.close()


@pytest.mark.parametrize("environ", [{}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "vsock:2:1234"}])
def test_without_a_manager_every_call_is_a_no_op(environ: dict[str, str]) -> None:
    notifier = Notifier(environ)
    assert not notifier.enabled
    notifier.ready()
    notifier.status("x")
    notifier.watchdog()
    notifier.stopping()
    assert notifier.watchdog_interval() is None


def test_a_missing_socket_never_raises(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.enabled
    for _ in range(3):
        notifier.ready()
        notifier.status("still fine")


def test_bad_field_names_are_rejected_even_without_a_manager() -> None:
    with pytest.raises(ValueError, match="upper-case"):
        Notifier({}).notify(ready=1)


# --------------------------------------------------------------------------- watchdog interval


def test_watchdog_interval_is_half_the_timeout() -> None:
    assert Notifier({"WATCHDOG_USEC": "30000000"}).watchdog_interval() == 15.0
    assert Notifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}).watchdog_interval() == 15.0


def test_watchdog_of_another_process_is_not_ours() -> None:
    assert Notifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}).watchdog_interval() is None


@pytest.mark.parametrize("usec", ["", "0", "-5", "30s", "1e6"])
def test_unusable_watchdog_usec_means_no_watchdog(usec: str) -> None:
    assert Notifier({"WATCHDOG_USEC": usec}).watchdog_interval() is None


@given(usec=st.text(max_size=30), pid=st.text(max_size=12))
def test_watchdog_parsing_never_crashes(usec: str, pid: str) -> None:
    interval = Notifier({"WATCHDOG_USEC": usec, "WATCHDOG_PID": pid}).watchdog_interval()
    assert interval is None or interval > 0


@given(usec=st.integers(min_value=1, max_value=2**63))
def test_any_positive_timeout_gives_half_of_it(usec: int) -> None:
    interval = Notifier({"WATCHDOG_USEC": str(usec)}).watchdog_interval()
    assert interval == pytest.approx(usec / 2e6)


# --------------------------------------------------------------------------- watchdog loop


async def run_watchdog(path: str, health: list[bool]) -> None:
    """Run the loop with a 20 ms interval until it has asked ``health`` for every answer."""
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "40000"})
    stop = asyncio.Event()
    answers = iter(health)

    def healthy() -> bool:
        answer = next(answers, None)
        if answer is None:  # out of answers: stop, and answer "unhealthy" so nothing more is sent
            stop.set()
            return False
        return answer

    await asyncio.wait_for(watchdog_loop(notifier, stop, healthy), timeout=30)
    notifier.close()


@pytest.mark.asyncio
async def test_watchdog_is_fed_while_healthy(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    await run_watchdog(path, [True, True, True])
    assert received(sock) == ["WATCHDOG=1"] * 3


@pytest.mark.asyncio
async def test_watchdog_starves_while_unhealthy(
    notify_socket: tuple[socket.socket, str], caplog: pytest.LogCaptureFixture
) -> None:
    sock, path = notify_socket
    with caplog.at_level(logging.WARNING, logger="agent.systemd"):
        await run_watchdog(path, [True, False, False, False])
    assert received(sock) == ["WATCHDOG=1"]
    assert any("unhealthy" in r.message for r in caplog.records)


@pytest.mark.asyncio
async def test_a_failing_health_check_starves_the_watchdog_without_crashing(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "40000"})
    stop = asyncio.Event()
    calls = 0

    def broken() -> bool:
        nonlocal calls
        calls += 1
        if calls >= 3:
            stop.set()
        raise RuntimeError("store gone")

    await asyncio.wait_for(watchdog_loop(notifier, stop, broken), timeout=30)
    assert calls == 3
    assert received(sock) == []


@pytest.mark.asyncio
async def test_without_watchdog_the_loop_just_waits_for_stop(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    stop = asyncio.Event()
    task = asyncio.create_task(watchdog_loop(Notifier({"NOTIFY_SOCKET": path}), stop, lambda: True))
    await asyncio.sleep(0)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    assert received(sock) == []


# --------------------------------------------------------------------------- logging


@dataclass
class StderrFile:
    """A real file standing in for stderr, so it has a device and inode like a journal stream."""

    path: Path
    stream: TextIO


@pytest.fixture
def stderr_file(tmp_path: Path) -> Iterator[StderrFile]:
    """The file, with the root logger's setup restored afterwards.

    pytest installs its own stderr capture after fixtures are set up, so each
    test points sys.stderr at the file itself, with :func:`use_stderr`.
    """
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    path = tmp_path / "stderr.log"
    with path.open("w") as stream:
        yield StderrFile(path, stream)
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])


def use_stderr(err: StderrFile, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", err.stream)


def journal_stream_of(path: Path) -> str:
    stat = os.stat(path)
    return f"{stat.st_dev}:{stat.st_ino}"


def emit_samples() -> None:
    log = logging.getLogger("edgewise.test")
    log.debug("debug line")
    log.info("info line")
    log.warning("warning line")
    log.error("error line")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    for handler in logging.getLogger().handlers:
        handler.flush()


def test_journal_lines_carry_syslog_priorities(stderr_file: StderrFile, monkeypatch: pytest.MonkeyPatch) -> None:
    use_stderr(stderr_file, monkeypatch)
    monkeypatch.setenv("JOURNAL_STREAM", journal_stream_of(stderr_file.path))
    configure_logging("DEBUG")
    emit_samples()
    lines = stderr_file.path.read_text().splitlines()
    assert lines[:4] == [
        "<7>edgewise.test: debug line",
        "<6>edgewise.test: info line",
        "<4>edgewise.test: warning line",
        "<3>edgewise.test: error line",
    ]
    # Every traceback line keeps the error priority, or journald would file it as info.
    traceback = lines[4:]
    assert traceback[0] == "<3>edgewise.test: failed"
    assert any("RuntimeError: boom" in line for line in traceback)
    assert all(line.startswith("<3>") for line in traceback)


def test_terminal_lines_carry_time_and_level(stderr_file: StderrFile, monkeypatch: pytest.MonkeyPatch) -> None:
    use_stderr(stderr_file, monkeypatch)
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    configure_logging("info")
    emit_samples()
    lines = stderr_file.path.read_text().splitlines()
    assert not any("debug line" in line for line in lines)
    assert lines[0].endswith(" INFO edgewise.test: info line")
    assert lines[0][:4].isdigit()  # starts with the date
    assert not any(line.startswith("<") for line in lines)


def test_an_inherited_journal_stream_is_ignored_when_stderr_is_elsewhere(
    stderr_file: StderrFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_stderr(stderr_file, monkeypatch)
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    configure_logging("info")
    emit_samples()
    assert not stderr_file.path.read_text().startswith("<")


def test_reconfiguring_replaces_instead_of_duplicating(
    stderr_file: StderrFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_stderr(stderr_file, monkeypatch)
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    configure_logging("info")
    configure_logging("warning")
    configure_logging("Warning")
    emit_samples()
    text = stderr_file.path.read_text()
    assert text.count("warning line") == 1
    assert "info line" not in text


@pytest.mark.parametrize("level", ["verbose", "", "critical"])
def test_unknown_log_level_is_a_clear_error(level: str) -> None:
    with pytest.raises(ValueError, match="debug, info, warning, error"):
        configure_logging(level)


# --------------------------------------------------------------------------- the unit file


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """systemd.syntax(7) in miniature: sections of keys that may repeat."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"setting outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not a KEY=value line: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def unit() -> dict[str, dict[str, list[str]]]:
    return parse_unit(UNIT.read_text())


def test_unit_is_a_notify_service_with_a_watchdog(unit: dict[str, dict[str, list[str]]]) -> None:
    service = unit["Service"]
    assert service["Type"] == ["notify"]
    assert int(service["WatchdogSec"][0]) > 0
    assert service["Restart"] == ["on-failure"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_unit_exec_start_is_a_valid_edgewise_run(unit: dict[str, dict[str, list[str]]]) -> None:
    argv = shlex.split(unit["Service"]["ExecStart"][0])
    assert argv[0] == "/opt/edgewise/venv/bin/edgewise"
    args = build_parser().parse_args(argv[1:])
    assert args.command == "run"
    assert args.config == "/etc/edgewise/edgewise.yaml"
    assert unit["Service"]["ConfigurationDirectory"] == ["edgewise"]


def test_unit_state_directory_holds_the_example_database(unit: dict[str, dict[str, list[str]]]) -> None:
    from ruamel.yaml import YAML

    example = YAML(typ="safe").load((REPO / "examples" / "edgewise.yaml").read_text())
    state_dir = Path("/var/lib") / unit["Service"]["StateDirectory"][0]
    assert Path(example["gateway"]["database"]).parent == state_dir


HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "",
    "DevicePolicy": "closed",
    "UMask": "0027",
}


def test_unit_is_hardened(unit: dict[str, dict[str, list[str]]]) -> None:
    service = unit["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], key
    assert service["User"] == ["edgewise"]
    assert "dialout" in service["SupplementaryGroups"][0].split()
    assert set(service["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert "@system-service" in service["SystemCallFilter"]
    assert {"char-ttyUSB rw", "char-ttyACM rw"} <= set(service["DeviceAllow"])
    assert service["MemoryMax"][0].endswith("M")
