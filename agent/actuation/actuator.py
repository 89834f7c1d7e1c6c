"""Send what the guardrails allowed, and write down everything.

Every request becomes exactly one ``audit`` row: a blocked one straight away
(outcome ``not_sent``), a sent one first as ``pending`` (so a crash mid-way
still leaves a trace) and then with its outcome.  Finished rows also go
upstream through the outbox.

Commands to one device go out one at a time, in the order they were decided,
so a retry of an older command can never overtake a newer one.  Transport
timeouts are wall-clock time: they model the radio and the broker, which are
real even when the building is simulated (as in the dongle simulator).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

import aiomqtt

from agent.actuation.zigbee import NotConnected, ZigbeeCommander
from agent.clock import Clock
from agent.config.schema import ActuationConfig
from agent.guardrails.decision import ActionRequest, Decision, finite_number
from agent.guardrails.rules import on_off
from agent.guardrails.targets import SERIAL_ACTUATORS, SETPOINTS, STATE, Target, Transport
from agent.ingest.serial_listener import CommandResult, SerialNotOpen
from agent.protocol import AckStatus, Command
from agent.store import AuditRecord, Outcome, Override, Store, StoreThread

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class ActuationClosed(RuntimeError):
    """The agent is stopping: no new commands are taken."""


class _Stopped(Exception):
    """The actuator closed while a command was waiting for its confirmation."""


class _Undeliverable(Exception):
    """There is no way to send the command (no dongle for the node, no broker)."""


class SerialCommandPort(Protocol):
    """What actuation needs of a serial listener (:class:`~agent.ingest.serial_listener.SerialListener`)."""

    nodes_heard: set[int]

    async def send_command(self, node: int, command: Command, *, timeout_s: float, retries: int) -> CommandResult: ...


@dataclass(slots=True)
class ActuationStats:
    """Counters for the agent's stats and the demo summary."""

    requested: int = 0
    blocked: int = 0
    sent: int = 0
    succeeded: int = 0
    """Acked (serial) or confirmed (Zigbee)."""


@dataclass(frozen=True, slots=True)
class OverrideResult:
    """What an occupant's override did: the hold (``None`` if every command was blocked) and the audit rows."""

    override: Override | None
    records: tuple[AuditRecord, ...]


@dataclass(slots=True)
class _Delivery:
    outcome: Outcome = Outcome.FAILED
    attempts: int = 0
    detail: str = ""


class Actuator:
    """Carries out decisions over serial or Zigbee2MQTT and keeps the audit trail."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        config: ActuationConfig,
        *,
        thread: StoreThread,
        serial: Sequence[SerialCommandPort] = (),
        zigbee: ZigbeeCommander | None = None,
        upstream_topic: str | None = None,
        on_queued: Callable[[], None] | None = None,
        on_outcome: Callable[[Decision, Outcome], None] | None = None,
    ) -> None:
        """``upstream_topic``: where finished audit rows go through the outbox (``None``: nowhere);
        ``on_queued`` wakes the upstream publisher; ``on_outcome`` tells the guardrails."""
        self._store = store
        self._clock = clock
        self.config = config
        self._thread = thread
        self._serial = list(serial)
        self._zigbee = zigbee
        self._topic = upstream_topic
        self._on_queued = on_queued
        self._on_outcome = on_outcome
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[AuditRecord]] = set()
        self._closing = asyncio.Event()
        self.stats = ActuationStats()

    async def carry_out(self, request: ActionRequest, decision: Decision) -> AuditRecord:
        """Record ``decision`` and, unless it blocks, send its value; the finished audit record.

        The work runs in its own task: an app cancelled while waiting does not
        leave a command half-recorded.
        """
        if self._closing.is_set():
            raise ActuationClosed("the agent is stopping; no new commands are sent")
        task = asyncio.create_task(self._handle(request, decision), name=f"actuate:{decision.seq}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(task)

    async def close(self) -> None:
        """Refuse new commands, end the waits of those in flight, and let their rows be written."""
        self._closing.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- one request ---------------------------------------------------------

    async def _handle(self, request: ActionRequest, decision: Decision) -> AuditRecord:
        self.stats.requested += 1
        record = _record(request, decision)
        if not decision.sent:
            self.stats.blocked += 1
            log.info("blocked %s → %s/%s: %s", request.app, request.device, request.attribute, decision.why)
            stored = await self._thread.call(self._store.add_audit, record, self._topic)
            self._queued()
            return stored
        self.stats.sent += 1
        assert decision.target is not None
        # Taken before the first await: tasks start in the order they were created,
        # i.e. decided, so a device's commands queue here in decision order.
        async with self._locks.setdefault(decision.target.device, asyncio.Lock()):
            stored = await self._thread.call(self._store.add_audit, record)
            delivery = await self._deliver(decision)
        if self._on_outcome is not None:
            self._on_outcome(decision, delivery.outcome)
        if delivery.outcome.succeeded:
            self.stats.succeeded += 1
        else:
            log.warning("%s/%s = %s: %s (%s)", request.device, request.attribute, decision.value,
                        delivery.outcome, delivery.detail)
        final = replace(stored, outcome=delivery.outcome, outcome_ts=self._clock.now(), attempts=delivery.attempts,
                        detail=delivery.detail)
        await self._thread.call(self._store.finish_audit, final, self._topic)
        self._queued()
        return final

    async def _deliver(self, decision: Decision) -> _Delivery:
        target = decision.target
        assert target is not None
        delivery = _Delivery()
        try:
            if target.transport is Transport.SERIAL:
                await self._send_serial(target, decision.value, delivery)
            else:
                await self._send_zigbee(target, decision.value, delivery)
        except _Undeliverable as exc:
            delivery.outcome, delivery.detail = Outcome.FAILED, str(exc)
        except _Stopped:
            sent = delivery.attempts > 0
            waiting = Outcome.TIMEOUT if target.transport is Transport.SERIAL else Outcome.UNCONFIRMED
            delivery.outcome = waiting if sent else Outcome.FAILED
            delivery.detail = "the agent stopped before the command was " + ("confirmed" if sent else "sent")
        return delivery

    # -- serial --------------------------------------------------------------

    async def _send_serial(self, target: Target, value: object, delivery: _Delivery) -> None:
        node = int(target.device.removeprefix("node-"))
        port = self._port_for(node)
        command = Command(int(SERIAL_ACTUATORS[target.attribute]), int(value))  # type: ignore[call-overload]
        c = self.config
        delivery.attempts = 1  # at least the first frame is on its way once send_command runs
        try:
            result = await self._until_closed(
                port.send_command(node, command, timeout_s=c.serial_ack_timeout_s, retries=c.serial_retries)
            )
        except SerialNotOpen as exc:
            delivery.attempts = 0
            raise _Undeliverable(str(exc)) from None
        delivery.attempts = result.attempts
        if result.status is None:
            delivery.outcome, delivery.detail = Outcome.TIMEOUT, f"no ack after {result.attempts} attempts"
        elif result.status == AckStatus.REJECTED:
            delivery.outcome, delivery.detail = Outcome.REJECTED, "the dongle refused the command"
        else:
            delivery.outcome, delivery.detail = Outcome.ACKED, f"acked after {_times(result.attempts)}"

    def _port_for(self, node: int) -> SerialCommandPort:
        """The dongle that relays ``node``; with one dongle, that one."""
        for port in self._serial:
            if node in port.nodes_heard:
                return port
        if len(self._serial) == 1:
            return self._serial[0]
        if not self._serial:
            raise _Undeliverable("no serial port is configured")
        raise _Undeliverable(f"node {node} has not been heard on any of the {len(self._serial)} dongles yet")

    # -- Zigbee --------------------------------------------------------------

    async def _send_zigbee(self, target: Target, value: object, delivery: _Delivery) -> None:
        zigbee = self._zigbee
        if zigbee is None:
            raise _Undeliverable("no mqtt section is configured, so Zigbee devices cannot be reached")
        c = self.config
        seen = zigbee.expect(target.device, target.attribute, self._matcher(target.attribute, value))
        published = 0
        try:
            for attempt in range(1, c.zigbee_retries + 2):
                delivery.attempts = attempt
                try:
                    await self._until_closed(zigbee.publish(target.device, {target.attribute: value}))
                    published += 1
                except (NotConnected, aiomqtt.MqttError) as exc:
                    delivery.detail = f"could not publish: {exc}"
                if await self._until_closed(_seen_within(seen, c.zigbee_confirm_timeout_s)):
                    delivery.outcome = Outcome.CONFIRMED
                    delivery.detail = f"confirmed by the device's state after {_times(attempt)}"
                    return
        finally:
            zigbee.forget(target.device, seen)
        if published:
            delivery.outcome = Outcome.UNCONFIRMED
            delivery.detail = (
                f"published {published} time{'s' if published > 1 else ''}; no state message showed the value"
                f" within {c.zigbee_confirm_timeout_s:g} s of each"
            )
        else:
            delivery.outcome = Outcome.FAILED

    def _matcher(self, attribute: str, sent: object) -> Callable[[object], bool]:
        """Whether a reported value shows ``sent``: setpoints within the tolerance, words in any case."""
        if attribute in SETPOINTS:
            tolerance = self.config.setpoint_tolerance_c + 1e-9
            target = float(sent)  # type: ignore[arg-type]

            def close_enough(reported: object) -> bool:
                number = finite_number(reported)
                return number is not None and abs(number - target) <= tolerance

            return close_enough
        if attribute == STATE:
            return lambda reported: on_off(reported) == sent
        return lambda reported: isinstance(reported, str) and reported.lower() == str(sent).lower()

    # -- plumbing ------------------------------------------------------------

    async def _until_closed(self, awaitable: Awaitable[_T]) -> _T:
        """``awaitable``'s result; raises :class:`_Stopped` (cancelling it) if the actuator closes first."""
        work = asyncio.ensure_future(awaitable)
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait({work, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
        if work.cancelled():
            raise _Stopped()
        return work.result()

    def _queued(self) -> None:
        if self._topic is not None and self._on_queued is not None:
            self._on_queued()


async def _seen_within(seen: asyncio.Future[None], timeout_s: float) -> bool:
    try:
        await asyncio.wait_for(asyncio.shield(seen), timeout_s)
    except TimeoutError:
        return False
    return True


def _times(n: int) -> str:
    return "1 attempt" if n == 1 else f"{n} attempts"


def _record(request: ActionRequest, decision: Decision) -> AuditRecord:
    """The audit row of a decision, before anything was sent."""
    target = decision.target
    return AuditRecord(
        id=0,
        ts=decision.ts,
        app=str(request.app),
        origin=decision.origin,
        zone=target.zone if target is not None else (request.zone if isinstance(request.zone, str) else None),
        device=str(request.device),
        attribute=str(request.attribute),
        requested=request.value,
        sent=decision.value if decision.sent else None,
        verdict=decision.verdict,
        rules=decision.rules,
        why=decision.why,
        reason=str(request.reason),
        outcome=Outcome.PENDING if decision.sent else Outcome.NOT_SENT,
        outcome_ts=None if decision.sent else decision.ts,
        attempts=0,
        detail="",
    )
