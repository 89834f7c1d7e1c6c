"""Subscribe to Zigbee2MQTT topics and turn each message into an ingest item.

Every message is counted; one that cannot be parsed is counted as rejected with
its reason and dropped, and the listener carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiomqtt

from agent.clock import Clock
from agent.ingest.counters import IngestCounters
from agent.ingest.item import IngestItem
from agent.ingest.zigbee import PayloadError, classify_topic, parse_availability, parse_state

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

    async def session(self, client: aiomqtt.Client) -> None:
        """Run on one connection until it drops (raises MqttError) or is cancelled."""
        await client.subscribe(f"{self._base}/#", qos=1)
        async for message in client.messages:
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
