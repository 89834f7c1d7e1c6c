"""MQTT connections with visible, capped-backoff reconnection.

Following aiomqtt's model, a connection is an async context manager and the
reconnect loop is plain code here rather than a thread inside a library.  Each
user of a broker (Zigbee ingest, upstream publisher) runs its own
:func:`run_connected` loop, so one broker going away never stalls the other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiomqtt

from agent.transports.backoff import Backoff
from agent.transports.buffered_socket import buffer_reads
from agent.transports.topic_filters import skip_empty_topic_matching

log = logging.getLogger(__name__)


class _DropPendingCallNotices(logging.Filter):
    """aiomqtt warns whenever more than ten publishes are in flight; concurrent
    QoS 1 publishing is how we reach throughput, so that notice is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pending publish calls" not in record.getMessage()


def client_logger() -> logging.Logger:
    """The logger MQTT clients log through (``edgewise.mqtt``), without the noise."""
    logger = logging.getLogger("edgewise.mqtt")
    if not any(isinstance(f, _DropPendingCallNotices) for f in logger.filters):
        logger.addFilter(_DropPendingCallNotices())
    return logger


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where a broker is and how to log in to it."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30


def make_client(
    address: BrokerAddress,
    *,
    identifier: str | None = None,
    will: aiomqtt.Will | None = None,
    max_inflight: int = 100,
    persistent: bool = False,
    queue_type: type[asyncio.Queue[aiomqtt.Message]] | None = None,
) -> aiomqtt.Client:
    """A client for ``address``; not yet connected (enter it with ``async with``).

    ``persistent`` asks the broker to keep the session (subscriptions and queued
    QoS 1 messages) while we are away, so a restart of the agent loses no
    device message; it needs a stable ``identifier``.

    The client reads its socket in large pieces and skips paho's per-topic
    callback matching while none is registered (agent/transports/
    buffered_socket.py, topic_filters.py): on a busy gateway those two were
    over a third of the time spent per message.
    """
    if persistent and not identifier:
        raise ValueError("a persistent MQTT session needs a fixed client identifier")
    client = aiomqtt.Client(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
        identifier=identifier,
        will=will,
        keepalive=address.keepalive_s,
        timeout=10,
        max_inflight_messages=max_inflight,
        clean_session=not persistent,
        queue_type=queue_type,
        logger=client_logger(),
    )
    buffer_reads(client)
    skip_empty_topic_matching(client)
    return client


async def run_connected(
    name: str,
    connect: Callable[[], aiomqtt.Client],
    session: Callable[[aiomqtt.Client], Awaitable[None]],
    backoff: Backoff,
    stop: asyncio.Event,
    on_connection_change: Callable[[bool], None] | None = None,
) -> None:
    """Keep ``session`` running on a fresh connection until ``stop`` is set.

    ``session`` returns or raises :class:`aiomqtt.MqttError` when the connection
    drops; we then wait the next backoff delay (or until ``stop``) and reconnect.
    """
    while not stop.is_set():
        try:
            async with connect() as client:
                backoff.reset()
                log.info("%s: connected", name)
                if on_connection_change:
                    on_connection_change(True)
                await session(client)
                return
        except aiomqtt.MqttError as exc:
            delay = backoff.next_delay()
            log.warning("%s: broker connection lost or refused (%s); retrying in %.1f s", name, exc, delay)
        finally:
            if on_connection_change:
                on_connection_change(False)
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            pass
