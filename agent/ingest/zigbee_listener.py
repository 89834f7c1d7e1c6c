"""Subscribe to Zigbee2MQTT topics and turn each message into an ingest item.

Every message is counted; one that cannot be parsed is counted as rejected with
its reason and dropped, and the listener carries on.

Messages are handled inside the MQTT client's receive callback, not taken from
a queue by an ``async for`` loop.  aiomqtt hands every incoming message to its
queue's ``put_nowait``; the queue class we give it (aiomqtt's ``queue_type``
parameter) handles the message right there.  Two things follow:

* nothing waits in aiomqtt's queue, so nothing the client acknowledged to the
  broker can be lost when we stop or the connection drops (paho sends the QoS 1
  PUBACK after the callback returns, i.e. after the message was parsed into the
  current burst, which is handed on before ``run`` returns);
* no task and no ``asyncio.wait`` per message, which is most of what a plain
  ``async for message in client.messages`` costs: the listener receives faster
  than a bare aiomqtt subscriber that only counts (see benchmarks/README.md).

The messages of one socket read (hundreds, when a backlog drains) are parsed
one by one as they arrive, then handed on together as one item, right after
the read (``call_soon``): the state layer, the apps and the store writer see
one batch per read rather than one call per message.  When the session ends,
anything parsed and not yet handed on is handed on before ``run`` returns.

The session with the broker is persistent, so messages published while the
agent is away wait in the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable

import aiomqtt

from agent.clock import Clock
from agent.ingest.counters import IngestCounters
from agent.ingest.item import IngestItem
from agent.ingest.zigbee import (
    PayloadError,
    StateMessage,
    classify_topic,
    parse_availability,
    parse_state,
)
from agent.transports.backoff import Backoff

log = logging.getLogger(__name__)


class ZigbeeListener:
    def __init__(
        self,
        base_topic: str,
        clock: Clock,
        counters: IngestCounters,
        submit: Callable[[IngestItem], None],
        on_state: Callable[[StateMessage], None] | None = None,
    ) -> None:
        """``on_state`` sees every accepted state message (actuation confirms commands with it)."""
        self._base = base_topic
        self._clock = clock
        self._counters = counters
        self._submit = submit
        self._on_state = on_state
        self._last_device_time: dict[str, float] = {}
        self._burst: IngestItem | None = None
        """Items parsed since the last hand-on, merged; handed on by :meth:`flush`."""

    async def run(
        self,
        connect: Callable[[type[asyncio.Queue[aiomqtt.Message]]], aiomqtt.Client],
        backoff: Backoff,
        stop: asyncio.Event,
        on_connection_change: Callable[[bool], None] | None = None,
    ) -> None:
        """Keep a session until ``stop``; returns after disconnecting, with every
        received message handled.

        ``connect(queue_type)`` makes a client whose incoming queue is of that class.
        """
        queue_type = self.queue_type()
        while not stop.is_set():
            try:
                async with connect(queue_type) as client:
                    backoff.reset()
                    if on_connection_change:
                        on_connection_change(True)
                    try:
                        await self._subscribe_and_watch(client, stop)
                    finally:
                        self.flush()
                return
            except aiomqtt.MqttError as exc:
                delay = backoff.next_delay()
                log.warning("zigbee: broker connection lost or refused (%s); retrying in %.1f s", exc, delay)
            finally:
                if on_connection_change:
                    on_connection_change(False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    def queue_type(self) -> type[asyncio.Queue[aiomqtt.Message]]:
        """A queue class for aiomqtt's ``queue_type`` that handles each message as it is put."""
        handle = self.handle_message

        class HandOffQueue(asyncio.Queue):  # type: ignore[type-arg]
            def put_nowait(self, item: aiomqtt.Message) -> None:
                handle(item)

        return HandOffQueue

    async def _subscribe_and_watch(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """Subscribe, then wait for ``stop`` (returns) or a dropped connection (raises).

        Messages are handled by the queue as they arrive; the iterator only
        watches the connection, so it never yields and may be cancelled freely.
        """
        watcher = asyncio.create_task(_until_disconnected(client), name="zigbee-connection")
        # No timeout on the SUBACK: a persistent session's backlog arrives before
        # it, and handling 100,000 queued messages takes longer than any fixed
        # timeout.  A dead connection still ends the wait, through the watcher.
        subscribing = asyncio.create_task(client.subscribe(f"{self._base}/#", qos=1, timeout=math.inf))
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({watcher, stopper, subscribing}, return_when=asyncio.FIRST_COMPLETED)
            if done == {subscribing} and subscribing.exception() is None:
                await asyncio.wait({watcher, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stopper, subscribing, watcher):
                if not task.done():
                    task.cancel()
        if subscribing.done() and not subscribing.cancelled():
            subscribing.result()  # a refused subscription raises MqttError
        if watcher.done() and not watcher.cancelled():
            watcher.result()  # the connection dropped: raises MqttError

    def handle_message(self, message: aiomqtt.Message) -> None:
        """The client's receive callback: never raises, whatever the message holds.

        The message's item joins the current burst, handed on right after this
        read by :meth:`flush`.
        """
        try:
            item = self.parse(message.topic.value, _payload_bytes(message.payload))
            if item is not None:
                self._join_burst(item)
        except Exception:  # a bug here would otherwise drop the connection
            self._counters.reject_mqtt("internal_error")
            log.exception("could not handle a message; dropped")

    def flush(self) -> None:
        """Hand on what the current burst holds, as one item."""
        burst, self._burst = self._burst, None
        if burst is not None:
            self._submit(burst)

    def _join_burst(self, item: IngestItem) -> None:
        if self._burst is None:
            self._burst = IngestItem(list(item.readings), None, list(item.events))
            asyncio.get_running_loop().call_soon(self.flush)
        else:
            self._burst.readings += item.readings
            self._burst.events += item.events

    def handle(self, topic: str, payload: bytes) -> None:
        """Parse one message and hand its item on at once."""
        item = self.parse(topic, payload)
        if item is not None:
            self._submit(item)

    def parse(self, topic: str, payload: bytes) -> IngestItem | None:
        """One message's item (``None``: not ingested, rejected or a redelivery); counts it."""
        kind_device = classify_topic(topic, self._base)
        if kind_device is None:
            return None
        kind, device = kind_device
        self._counters.mqtt_messages_received += 1
        try:
            item = self._availability(device, payload) if kind == "availability" else self._state(device, payload)
        except PayloadError as exc:
            self._counters.reject_mqtt(exc.reason)
            log.debug("rejected message on %s: %s", topic, exc)
            return None
        except Exception:  # a parser bug must cost one message, never the agent
            self._counters.reject_mqtt("internal_error")
            log.exception("could not handle the message on %s; dropped", topic)
            return None
        return item

    def _availability(self, device: str, payload: bytes) -> IngestItem:
        availability = parse_availability(device, payload)
        return IngestItem([], None, [("availability", device, {"online": availability.online})])

    def _state(self, device: str, payload: bytes) -> IngestItem | None:
        message = parse_state(device, payload, self._clock.now())
        if message.has_device_time:
            # QoS 1 may redeliver; Zigbee2MQTT's last_seen only moves forward.
            previous = self._last_device_time.get(device)
            if previous is not None and message.ts <= previous:
                self._counters.mqtt_duplicates += 1
                return None
            self._last_device_time[device] = message.ts
        if self._on_state is not None:
            self._on_state(message)
        self._counters.readings_accepted += len(message.readings)
        return IngestItem(message.readings)


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if payload is None:
        return b""
    return str(payload).encode()


async def _until_disconnected(client: aiomqtt.Client) -> None:
    """Raises :class:`aiomqtt.MqttError` when the connection drops; never returns otherwise."""
    async for _ in client.messages:
        pass  # the hand-off queue never holds a message
