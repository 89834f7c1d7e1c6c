"""systemd integration without a dependency on python-systemd.

The agent runs as a ``Type=notify`` unit: it tells systemd when it is ready and
when it is stopping, and feeds the watchdog so that an agent that is alive but
stuck gets restarted.  The sd_notify protocol is one datagram of ``KEY=value``
lines on the socket named by ``$NOTIFY_SOCKET`` (see sd_notify(3)), small enough
to speak directly.  Outside systemd that variable is unset and every call here
does nothing, so the same code runs in a terminal, in the demo and in tests.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import sys
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

_FIELD_NAME = re.compile(r"[A-Z][A-Z0-9_]*")

# Long enough for PID 1 to drain a momentarily full queue, short enough that a
# wedged systemd cannot stall the event loop for long.
_SEND_TIMEOUT_S = 1.0


class Notifier:
    """Sends sd_notify messages to the service manager, or nothing when there is none.

    Failures to send are never raised: losing a status line must not take the
    gateway down.  The first failure is logged at debug level, later ones are not,
    so a misconfigured socket cannot flood the journal.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._environ = env
        self._address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self._socket: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        """True when a service manager is listening (``$NOTIFY_SOCKET`` is usable)."""
        return self._address is not None

    def ready(self) -> None:
        """Startup is complete; ``systemctl start`` returns once this arrives."""
        self.notify(READY=1)

    def stopping(self) -> None:
        """A clean stop has begun, so systemd does not mistake the shutdown for a hang."""
        self.notify(STOPPING=1)

    def watchdog(self) -> None:
        """Feed the watchdog (``WatchdogSec=`` in the unit)."""
        self.notify(WATCHDOG=1)

    def status(self, text: str) -> None:
        """A one-line status shown by ``systemctl status``."""
        self.notify(STATUS=text)

    def notify(self, **fields: object) -> None:
        """Send ``KEY=value`` fields in one datagram; ``notify(READY=1, STATUS="up")``.

        Names must be upper-case sd_notify variables; a wrong name is a programming
        error and raises :class:`ValueError` even when no manager listens.  Newlines
        inside values would start a new field, so they are replaced by spaces.
        """
        message = _encode(fields)
        if self._address is None:
            return
        try:
            self._send(message)
        except OSError as exc:
            if not self._failed:
                log.debug("sd_notify to %r failed (%s); further failures are not logged", self._address, exc)
            self._failed = True

    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings, or None when systemd expects none.

        Half the timeout from ``$WATCHDOG_USEC``, as sd_watchdog_enabled(3)
        recommends, so one late ping does not get the service killed.  A
        ``$WATCHDOG_PID`` naming another process means the watchdog is not ours.
        """
        return _watchdog_interval(self._environ, os.getpid())

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _send(self, message: bytes) -> None:
        if self._socket is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.settimeout(_SEND_TIMEOUT_S)
            self._socket = sock
        self._socket.sendto(message, self._address)  # type: ignore[arg-type]


def _socket_address(value: str) -> str | bytes | None:
    """The address to send to: a path, an abstract name (``@name``), or None."""
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    if value:
        # e.g. vsock: addresses of systemd ≥ 253, which a gateway never uses.
        log.debug("NOTIFY_SOCKET=%r is not a unix socket; not notifying systemd", value)
    return None


def _encode(fields: Mapping[str, object]) -> bytes:
    lines = []
    for name, value in fields.items():
        if not _FIELD_NAME.fullmatch(name):
            raise ValueError(f"sd_notify field names are upper-case words like READY or STATUS, not {name!r}")
        if isinstance(value, bool):
            value = int(value)
        text = str(value).replace("\r", " ").replace("\n", " ")
        lines.append(f"{name}={text}")
    return "\n".join(lines).encode()


def _watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    try:
        usec = int(environ.get("WATCHDOG_USEC", "").strip())
    except ValueError:
        return None
    if usec <= 0:
        return None
    owner = environ.get("WATCHDOG_PID", "").strip()
    if owner:
        try:
            if int(owner) != pid:
                return None
        except ValueError:
            return None
    return usec / 2_000_000


async def watchdog_loop(notifier: Notifier, stop: asyncio.Event, healthy: Callable[[], bool]) -> None:
    """Feed the systemd watchdog while ``healthy()`` holds, until ``stop`` is set.

    A ping proves more than "the process exists": it is sent from the event loop
    and only when the agent reports itself healthy, so a blocked loop or a store
    writer that fell hopelessly behind stops the pings and systemd restarts the
    service.  The interval is wall time on purpose: the watchdog is about this
    process, not about the building's event time.
    """
    interval = notifier.watchdog_interval()
    if interval is None:
        await stop.wait()
        return
    while not stop.is_set():
        if _is_healthy(healthy):
            notifier.watchdog()
        else:
            log.warning("agent unhealthy: not feeding the systemd watchdog, expect a restart")
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass


def _is_healthy(healthy: Callable[[], bool]) -> bool:
    # A failing health check counts as unhealthy; letting it escape would tear
    # down the whole agent's task group instead of asking for a restart.
    try:
        return bool(healthy())
    except Exception:
        log.exception("health check failed")
        return False


# --------------------------------------------------------------------------- logging

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

# sd-daemon(3): a "<N>" prefix on a line written to a journal stream sets its priority.
_SYSLOG_PRIORITY = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


class _JournalFormatter(logging.Formatter):
    """``<N>logger: message`` with the prefix on every line, tracebacks included.

    journald splits a stream into entries at newlines, so a prefix only on the
    first line would file the rest of a traceback at the default priority.
    """

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def _priority(levelno: int) -> int:
    for threshold, priority in _SYSLOG_PRIORITY:
        if levelno >= threshold:
            return priority
    return 7


class _EdgewiseHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so reconfiguring replaces it."""


def configure_logging(level: str) -> None:
    """Log to stderr at ``level`` (debug, info, warning, error; any case).

    Under systemd stderr goes to the journal, which timestamps every line
    itself and understands ``<N>`` priority prefixes, so lines are written that
    way there; in a terminal they carry a timestamp and the level name instead.
    Calling it again (say, with another level) replaces the earlier setup.
    """
    try:
        numeric = _LEVELS[level.strip().lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"log level must be one of debug, info, warning, error, not {level!r}") from None
    handler = _EdgewiseHandler(sys.stderr)
    if _stderr_is_journal(os.environ.get("JOURNAL_STREAM", "")):
        handler.setFormatter(_JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _EdgewiseHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)


def _stderr_is_journal(journal_stream: str) -> bool:
    """Whether stderr is the journal stream systemd connected, per systemd.exec(5).

    ``$JOURNAL_STREAM`` is inherited by children, so a program started from a
    service with stderr redirected to a file must not write journal prefixes into
    it; comparing device and inode tells the two apart.
    """
    device, _, inode = journal_stream.partition(":")
    try:
        expected = (int(device), int(inode))
        stat = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (stat.st_dev, stat.st_ino) == expected
