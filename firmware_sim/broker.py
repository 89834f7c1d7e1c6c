"""A private Mosquitto broker on a loopback port, for the demo and the tests.

Tests need a real broker they can stop and start again on the same port (to
take the upstream side down and bring it back), optionally with persistence so
retained messages and persistent sessions survive the restart.  This runs
``mosquitto`` with a generated config in its own temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
DEFAULT_MAX_QUEUED = 100_000


class BrokerError(RuntimeError):
    """Mosquitto is missing, would not start, or could not listen."""


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise BrokerError("mosquitto not found; install it with: apt-get install mosquitto")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Mosquitto:
    """One mosquitto process; restartable on the same port until closed.

    Use as ``with Mosquitto() as b:`` or ``async with Mosquitto() as b:``; or
    call :meth:`start`, :meth:`stop` and finally :meth:`close` yourself.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        persistence: bool = False,
        extra_config: Sequence[str] = (),
    ) -> None:
        self._host = host
        self._port = port if port is not None else free_port(host)
        self.persistence = persistence
        self.extra_config = list(extra_config)
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def address(self) -> str:
        return f"{self._host}:{self._port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path | None:
        return None if self._dir is None else self._dir / "mosquitto.log"

    def config_text(self, directory: Path) -> str:
        lines = [
            f"listener {self._port} {self._host}",
            "allow_anonymous true",
            f"log_dest file {directory / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            # Without this, Nagle's algorithm meets delayed ACKs on loopback and
            # each QoS 1 round trip can stall for ~40 ms: ten times slower runs.
            "set_tcp_nodelay true",
        ]
        if os.geteuid() == 0:
            # As root mosquitto would switch to the 'mosquitto' user, which cannot
            # write into our private directory.
            lines.append("user root")
        if self.persistence:
            lines += ["persistence true", f"persistence_location {directory}/", "autosave_interval 1"]
        else:
            lines.append("persistence false")
        if not any(line.split()[:1] == ["max_queued_messages"] for line in self.extra_config):
            lines.append(f"max_queued_messages {DEFAULT_MAX_QUEUED}")
        return "\n".join(lines + self.extra_config) + "\n"

    def start(self) -> None:
        """Launch mosquitto and return once it accepts connections."""
        if self.running:
            return
        binary = find_mosquitto()
        self._check_port_free()
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="edgewise-mosquitto-"))
        config = self._dir / "mosquitto.conf"
        config.write_text(self.config_text(self._dir))
        log_path = self._dir / "mosquitto.log"
        self._log_offset = log_path.stat().st_size if log_path.exists() else 0
        self._proc = subprocess.Popen(
            [binary, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_until_listening()

    def stop(self) -> None:
        """SIGTERM (mosquitto saves its persistence file), SIGKILL if it hangs."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()

    def close(self) -> None:
        """Stop and delete the temporary directory (config, log, persistence)."""
        self.stop()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def log_tail(self, lines: int = 20) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _log_since_start(self) -> str:
        """The log this run wrote: a restart appends to the previous run's log."""
        path = self.log_path
        if path is None or not path.exists():
            return ""
        with path.open("rb") as f:
            f.seek(self._log_offset)
            return f.read().decode(errors="replace")

    def _check_port_free(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((self._host, self._port))
            except OSError as exc:
                raise BrokerError(f"cannot start mosquitto on {self.address}: port in use ({exc})") from None

    def _wait_until_listening(self) -> None:
        """Poll until the port answers and mosquitto reports itself running."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                self._fail(f"mosquitto exited with status {self._proc.returncode}")
            if self._accepts_connections() and " running" in self._log_since_start():
                return
            time.sleep(0.02)
        self._fail(f"mosquitto did not listen on {self.address} within {START_TIMEOUT_S:.0f} s")

    def _accepts_connections(self) -> bool:
        try:
            with socket.create_connection((self._host, self._port), timeout=0.5):
                return True
        except OSError:
            return False

    def _fail(self, reason: str) -> None:
        stderr = ""
        proc = self._proc
        if proc is not None and proc.poll() is not None and proc.stderr is not None:
            stderr = proc.stderr.read().decode(errors="replace").strip()
        self.stop()
        details = "\n".join(part for part in (self.log_tail(), stderr) if part)
        raise BrokerError(f"{reason}; mosquitto log:\n{details or '(empty)'}")

    # -- context managers -----------------------------------------------------

    def __enter__(self) -> Mosquitto:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Mosquitto:
        try:
            await asyncio.to_thread(self.start)
        except BaseException:
            await asyncio.to_thread(self.close)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.close)
