"""Subscribe to Zigbee2MQTT topics and turn each message into an ingest item.

Every message is counted; one that cannot be parsed is counted as rejected with
its reason and dropped, and the listener carries on.

The session with the broker is persistent, so messages published while the
agent is away wait in the broker.  But the MQTT client acknowledges a QoS 1
message to the broker as soon as it is queued locally, so a message still in
that local queue when we stop or lose the connection would be lost for good.
:meth:`ZigbeeListener.run` therefore never cancels its reader: on stop it
disconnects (the broker keeps everything after that for our session) and then
handles every message that was already queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiomqtt

from agent.clock import Clock
from agent.ingest.counters import IngestCounters
from agent.ingest.item import IngestItem
from agent.ingest.zigbee import PayloadError, classify_topic, parse_availability, parse_state
from agent.transports.backoff import Backoff

log = logging.getLogger(__name__)


class ZigbeeListener:
    def __init__(
        self,
        base_topic: str,
        clock: Clock,
        counters: IngestCounters,
        submit: Callable[[IngestItem], None],
    ) -> None:
        self._base = base_topic
        self._clock = clock
        self._counters = counters
        self._submit = submit
        self._last_device_time: dict[str, float] = {}

    async def run(
        self,
        connect: Callable[[type[asyncio.Queue[aiomqtt.Message]]], aiomqtt.Client],
        backoff: Backoff,
        stop: asyncio.Event,
        on_connection_change: Callable[[bool], None] | None = None,
    ) -> None:
        """Keep a session until ``stop``; returns after every received message was handled.

        ``connect(queue_type)`` makes a client whose incoming queue is of that class.
        """
        while not stop.is_set():
            inbox = _Inbox()
            try:
                async with connect(inbox.queue_type()) as client:
                    backoff.reset()
                    if on_connection_change:
                        on_connection_change(True)
                    reader = await self._subscribe_and_read(client, stop)
                # Disconnected: nothing new arrives; finish what was already queued.
                await _finished(reader)
                return
            except aiomqtt.MqttError as exc:
                delay = backoff.next_delay()
                log.warning("zigbee: broker connection lost or refused (%s); retrying in %.1f s", exc, delay)
            finally:
                if on_connection_change:
                    on_connection_change(False)
                self._drain(inbox)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    async def _subscribe_and_read(self, client: aiomqtt.Client, stop: asyncio.Event) -> asyncio.Task[None]:
        """Read until ``stop`` (returns the still-running reader) or the connection drops (raises)."""
        await client.subscribe(f"{self._base}/#", qos=1)
        reader = asyncio.create_task(self._read(client), name="zigbee-reader")
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            reader.cancel()
            raise
        finally:
            stopper.cancel()
        if reader.done():
            reader.result()  # the connection dropped: raises MqttError
        return reader

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self.handle(message.topic.value, _payload_bytes(message.payload))

    def _drain(self, inbox: _Inbox) -> None:
        """Handle the messages the client had queued (and acknowledged) but we had not read."""
        for message in inbox.take_all():
            self.handle(message.topic.value, _payload_bytes(message.payload))

    def handle(self, topic: str, payload: bytes) -> None:
        kind_device = classify_topic(topic, self._base)
        if kind_device is None:
            return
        kind, device = kind_device
        self._counters.mqtt_messages_received += 1
        try:
            item = self._availability(device, payload) if kind == "availability" else self._state(device, payload)
        except PayloadError as exc:
            self._counters.reject_mqtt(exc.reason)
            log.debug("rejected message on %s: %s", topic, exc)
            return
        except Exception:  # a parser bug must cost one message, never the agent
            self._counters.reject_mqtt("internal_error")
            log.exception("could not handle the message on %s; dropped", topic)
            return
        if item is not None:
            self._submit(item)

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
        self._counters.readings_accepted += len(message.readings)
        return IngestItem(message.readings)


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if payload is None:
        return b""
    return str(payload).encode()


class _Inbox:
    """Keeps a handle on the client's incoming queue, which aiomqtt creates itself
    from the class we pass as ``queue_type``, so queued messages can be drained."""

    def __init__(self) -> None:
        self._queues: list[asyncio.Queue[aiomqtt.Message]] = []

    def queue_type(self) -> type[asyncio.Queue[aiomqtt.Message]]:
        queues = self._queues

        class CapturedQueue(asyncio.Queue):  # type: ignore[type-arg]
            def __init__(self, maxsize: int = 0) -> None:
                super().__init__(maxsize)
                queues.append(self)

        return CapturedQueue

    def take_all(self) -> list[aiomqtt.Message]:
        out = []
        for queue in self._queues:
            while not queue.empty():
                out.append(queue.get_nowait())
        return out


async def _finished(reader: asyncio.Task[None]) -> None:
    """Wait for the reader to notice the disconnect; it ends with MqttError by design.

    aiomqtt's iterator never takes a message off the queue once it has seen the
    disconnect, so whatever is left is drained from the queue afterwards.
    """
    with contextlib.suppress(aiomqtt.MqttError):
        await reader
