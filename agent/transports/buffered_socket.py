"""Fewer system calls per MQTT message: read the broker's socket in large pieces.

paho reads a packet as it parses it: one ``recv`` for the fixed header byte,
one per byte of the remaining length, one for the body, about five system calls
per message, and aiomqtt wakes the event loop once per packet.  A gateway
draining a backlog of small Zigbee2MQTT messages spends more time in those
calls than in handling the messages.

:class:`BufferedSocket` answers paho's small ``recv`` calls from one large read
and reports what it still holds through ``pending()``, the hook paho and
aiomqtt already use for TLS sockets (whose decrypted bytes are invisible to
``select``): both keep reading packets while ``pending()`` is non-zero, so one
event-loop wake-up handles every message a read brought in.
"""

from __future__ import annotations

import logging
import socket
import ssl
from typing import Any

import aiomqtt
import paho.mqtt.client as paho

log = logging.getLogger(__name__)

READ_SIZE = 1 << 16
"""Bytes asked of the kernel per read: hundreds of typical Zigbee2MQTT messages."""


class BufferedSocket:
    """A non-blocking socket whose ``recv`` is served from a read-ahead buffer.

    Everything other than ``recv`` and ``pending`` goes to the wrapped socket,
    so paho can send, close and ``fileno()`` it as before.  Only the reading
    side is buffered; writes stay immediate.
    """

    def __init__(self, sock: socket.socket | ssl.SSLSocket) -> None:
        self._sock = sock
        self._buffer = b""
        self._pos = 0
        self.reads = 0
        """System-call reads tried so far, including those that found nothing;
        ``recv`` calls answered from the buffer are not counted."""

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes; ``BlockingIOError`` (from the socket) when none are ready, ``b""`` at EOF."""
        if self._pos >= len(self._buffer):
            self.reads += 1
            data = self._sock.recv(READ_SIZE)
            if not data:
                return data
            self._buffer, self._pos = data, 0
        start = self._pos
        self._pos = min(start + size, len(self._buffer))
        return self._buffer[start : self._pos]

    def pending(self) -> int:
        """Bytes already read but not yet handed out (plus a TLS socket's own)."""
        own = self._sock.pending() if isinstance(self._sock, ssl.SSLSocket) else 0
        return len(self._buffer) - self._pos + own

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - whatever the socket has
        return getattr(self._sock, name)


def buffer_reads(client: aiomqtt.Client) -> None:
    """Make ``client`` read its broker socket through a :class:`BufferedSocket`.

    Call before connecting.  The socket is swapped when paho announces it
    (``on_socket_open``), before the first byte is read.  paho keeps its socket
    in a private attribute; if a future paho has none, the client is left as it
    was, unbuffered but correct.
    """
    inner: paho.Client = client._client  # noqa: SLF001 - aiomqtt exposes no hook
    announce = inner.on_socket_open

    def opened(pc: paho.Client, userdata: Any, sock: Any) -> None:  # noqa: ANN401
        if getattr(pc, "_sock", None) is sock:
            sock = BufferedSocket(sock)
            pc._sock = sock  # noqa: SLF001
        else:
            log.warning("paho's socket attribute changed; MQTT reads stay unbuffered")
        if announce is not None:
            announce(pc, userdata, sock)

    inner.on_socket_open = opened
