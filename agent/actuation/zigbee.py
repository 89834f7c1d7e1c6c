"""Commands to Zigbee2MQTT devices: publish ``<base>/<device>/set``, confirm from the state topic.

Zigbee2MQTT answers a ``/set`` by publishing the device's new state on
``<base>/<device>``.  The agent already receives every state message (the
Zigbee listener), so instead of a second subscription the listener hands each
accepted state message to :meth:`ZigbeeCommander.observe`, which completes the
commands waiting for that device and value.

The commander keeps its own connection to the local broker (its reconnect loop
is :func:`~agent.transports.mqtt.run_connected`, visible here, as everywhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt

from agent.ingest.zigbee import StateMessage
from agent.transports.backoff import Backoff
from agent.transports.mqtt import BrokerAddress, make_client, run_connected

log = logging.getLogger(__name__)


class NotConnected(ConnectionError):
    """The local broker is not connected, so nothing can be published."""


@dataclass(slots=True)
class _Expectation:
    attribute: str
    matches: Callable[[object], bool]
    seen: asyncio.Future[None]


class ZigbeeCommander:
    """Publishes commands to Zigbee2MQTT and recognises their confirmations."""

    def __init__(self, address: BrokerAddress, base_topic: str, identifier: str, backoff: Backoff) -> None:
        self._address = address
        self._base = base_topic
        self._identifier = identifier
        self._backoff = backoff
        self._client: aiomqtt.Client | None = None
        self._stop = asyncio.Event()
        self._expected: dict[str, list[_Expectation]] = {}

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def run(self) -> None:
        """Stay connected until :meth:`stop`."""
        await run_connected("actuation", self._connect, self._session, self._backoff, self._stop)

    def stop(self) -> None:
        self._stop.set()

    def _connect(self) -> aiomqtt.Client:
        return make_client(self._address, identifier=self._identifier)

    async def _session(self, client: aiomqtt.Client) -> None:
        """Offer ``client`` for publishing until stopped (returns) or disconnected (raises)."""
        self._client = client
        watcher = asyncio.create_task(_until_disconnected(client), name="actuation-connection")
        stopper = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({watcher, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._client = None
            for task in (watcher, stopper):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopper
        if watcher.done() and not watcher.cancelled():
            watcher.result()

    async def publish(self, device: str, payload: dict[str, object]) -> None:
        """Publish one ``/set`` at QoS 1 and wait for the broker's PUBACK.

        Raises :class:`NotConnected` or :class:`aiomqtt.MqttError`.
        """
        client = self._client
        if client is None:
            raise NotConnected("the local MQTT broker is not connected")
        await client.publish(f"{self._base}/{device}/set", json.dumps(payload), qos=1)

    def expect(self, device: str, attribute: str, matches: Callable[[object], bool]) -> asyncio.Future[None]:
        """A future completed by the first state message of ``device`` whose
        ``attribute`` ``matches``; call before publishing, :meth:`forget` after."""
        seen: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._expected.setdefault(device, []).append(_Expectation(attribute, matches, seen))
        return seen

    def forget(self, device: str, seen: asyncio.Future[None]) -> None:
        waiting = [e for e in self._expected.get(device, []) if e.seen is not seen]
        if waiting:
            self._expected[device] = waiting
        else:
            self._expected.pop(device, None)

    def observe(self, message: StateMessage) -> None:
        """The Zigbee listener's hook: called for every accepted state message; never raises."""
        waiting = self._expected.get(message.device)
        if not waiting:
            return
        for expectation in waiting:
            if expectation.seen.done() or expectation.attribute not in message.fields:
                continue
            try:
                if expectation.matches(message.fields[expectation.attribute]):
                    expectation.seen.set_result(None)
            except Exception:  # a matcher bug must not cost the reading
                log.exception("could not compare the state of %s", message.device)


async def _until_disconnected(client: aiomqtt.Client) -> None:
    """Raises :class:`aiomqtt.MqttError` when the connection drops (nothing is subscribed)."""
    async for _ in client.messages:
        pass
