"""Read the radio dongle's serial stream and turn frames into ingest items.

Reports become readings of device ``node-NNNN``; each report is acked to the
dongle only after its readings are committed (``IngestItem.on_durable``), so an
ack always means "stored".  A retransmitted report (same per-node seq) is
dropped but acked again once everything before it is committed, otherwise the
dongle would keep retransmitting.  Every byte goes through
:class:`~agent.protocol.FrameStream`, which counts and drops what is malformed:
no input can stop this listener.  When the port disappears (dongle unplugged)
it reopens with capped exponential backoff.

The listener owns the port, so commands to nodes go out through it too
(:meth:`SerialListener.send_command`): the dongle's ACK for the command's seq,
read here, completes the command.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from agent.clock import Clock
from agent.config.schema import SerialPortConfig
from agent.ingest.counters import IngestCounters
from agent.ingest.dedupe import SequenceDeduper
from agent.ingest.gateway_seqs import GatewaySeqs
from agent.ingest.item import IngestItem
from agent.ingest.reading import Reading
from agent.protocol import (
    CHANNELS,
    Ack,
    AckStatus,
    Command,
    Frame,
    FrameStream,
    Heartbeat,
    MessageType,
    Report,
    encode_frame,
)
from agent.transports.backoff import Backoff
from agent.transports.serial_port import SerialError, SerialPort

log = logging.getLogger(__name__)


class SerialStatus(Protocol):
    serial_open: dict[str, bool]


def node_device(node: int) -> str:
    """The device name under which a serial node's points are stored."""
    return f"node-{node:04d}"


class SerialNotOpen(ConnectionError):
    """A command could not be sent: the dongle's port is not open."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How one command to a node ended."""

    status: AckStatus | None
    """The dongle's answer; ``None`` when no ack came after every attempt."""
    attempts: int
    seq: int


class SerialListener:
    """One dongle: open, read, decode, dedupe, submit, ack; reopen when it goes away."""

    def __init__(
        self,
        port: SerialPortConfig,
        clock: Clock,
        counters: IngestCounters,
        deduper: SequenceDeduper,
        submit: Callable[[IngestItem], None],
        status: SerialStatus,
        *,
        seqs: GatewaySeqs | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        """``seqs``: the gateway's own seq counters for this dongle's nodes, restored from the store
        so a restart never reuses a seq the dongle remembers (the default keeps them in memory)."""
        self._cfg = port
        self._clock = clock
        self._counters = counters
        self._deduper = deduper
        self._submit = submit
        self._status = status
        self._backoff = backoff or Backoff(0.5, 30.0)
        self._stream = FrameStream()
        self._rejected_seen = 0
        self._seen_by_reason: Counter[str] = Counter()
        self._seqs = seqs or GatewaySeqs()
        self._port: SerialPort | None = None
        self._command_acks: dict[tuple[int, int], asyncio.Future[AckStatus]] = {}
        self.nodes_heard: set[int] = set()
        """Nodes this dongle has relayed a frame from: where commands to them go."""

    async def run(self) -> None:
        """Until cancelled: keep the port open and read it."""
        while True:
            try:
                async with SerialPort(self._cfg.port, self._cfg.baudrate) as port:
                    self._opened(port)
                    await self._read(port)
                log.warning("serial %s: device closed the port", self._cfg.name)
            except SerialError as exc:
                log.warning("serial %s: %s", self._cfg.name, exc)
            finally:
                self._port = None
                self._status.serial_open[self._cfg.name] = False
            await asyncio.sleep(self._backoff.next_delay())

    def _opened(self, port: SerialPort) -> None:
        log.info("serial %s: opened %s at %d baud", self._cfg.name, self._cfg.port, self._cfg.baudrate)
        self._port = port
        self._backoff.reset()
        self._stream = FrameStream()  # a partial frame from the old connection is gone
        self._rejected_seen = 0
        self._seen_by_reason = Counter()
        self._status.serial_open[self._cfg.name] = True

    async def _read(self, port: SerialPort) -> None:
        while data := await port.read():
            self.feed(data)

    def feed(self, data: bytes) -> None:
        """Decode bytes from the dongle and handle every complete frame."""
        frames = self._stream.feed(data)
        self._count_rejects()
        for frame in frames:
            self._counters.frames_received += 1
            try:
                self._handle(frame)
            except Exception:  # a bug must cost one frame (the dongle retransmits), never the agent
                self._counters.reject_frame("internal_error")
                log.exception("could not handle a frame from node %d; dropped", frame.node)

    def _count_rejects(self) -> None:
        """Move the stream's new rejects (per reason) into the agent's counters."""
        if self._stream.rejected_total == self._rejected_seen:
            return
        self._rejected_seen = self._stream.rejected_total
        for reason, n in self._stream.rejected.items():
            new = n - self._seen_by_reason[reason]
            if new > 0:
                self._counters.frames_rejected += new
                self._counters.frame_reject_reasons[reason] += new
                self._seen_by_reason[reason] = n

    def _handle(self, frame: Frame) -> None:
        message = frame.message
        if isinstance(message, Report):
            self._report(frame, message)
        elif isinstance(message, Heartbeat):
            self._counters.heartbeats += 1
            self.nodes_heard.add(frame.node)
        elif isinstance(message, Ack):
            self._command_acked(frame.node, message)
        else:
            self._counters.reject_frame("unexpected_type")

    def _report(self, frame: Frame, report: Report) -> None:
        self.nodes_heard.add(frame.node)
        device = node_device(frame.node)
        ack = self._acker(frame.node, frame.seq)
        if self._deduper.is_duplicate(device, frame.seq):
            self._counters.serial_duplicates += 1
            self._submit(IngestItem([], ack))
            return
        self._deduper.remember(device, frame.seq)
        unknown = report.unknown_channels()
        if unknown:
            self._counters.unknown_channels += len(unknown)
        readings = [
            Reading(device, name, float(report.ts), value, _UNITS[name], "serial", frame.seq)
            for name, value in report.values().items()
        ]
        self._counters.readings_accepted += len(readings)
        self._submit(IngestItem(readings, ack))

    def _acker(self, node: int, seq: int) -> Callable[[], None] | None:
        if not self._cfg.ack:
            return None

        def send_ack() -> None:
            port = self._port
            if port is None:
                return  # the dongle retransmits; we ack the duplicate after reopening
            ack = Frame(MessageType.ACK, node, self._seqs.take(node), Ack(int(MessageType.REPORT), seq, 0))
            port.write(encode_frame(ack))

        return send_ack

    # -- commands ---------------------------------------------------------------

    async def send_command(self, node: int, command: Command, *, timeout_s: float, retries: int) -> CommandResult:
        """Send ``command`` to ``node`` and wait for the dongle's ACK of it.

        With no ack within ``timeout_s`` (wall-clock: it models the radio) the
        same frame, same seq, is sent again, up to ``retries`` times; the dongle
        applies a repeated seq only once.  Raises :class:`SerialNotOpen` if the
        port is closed when the command would first be sent.
        """
        if self._port is None:
            raise SerialNotOpen(f"serial {self._cfg.name}: {self._cfg.port} is not open")
        seq = self._seqs.take(node)
        wire = encode_frame(Frame(MessageType.COMMAND, node, seq, command))
        acked: asyncio.Future[AckStatus] = asyncio.get_running_loop().create_future()
        self._command_acks[(node, seq)] = acked
        try:
            for attempt in range(1, retries + 2):
                port = self._port
                if port is not None:
                    port.write(wire)
                try:
                    status = await asyncio.wait_for(asyncio.shield(acked), timeout_s)
                except TimeoutError:
                    continue
                return CommandResult(status, attempt, seq)
            return CommandResult(None, retries + 1, seq)
        finally:
            self._command_acks.pop((node, seq), None)

    def _command_acked(self, node: int, ack: Ack) -> None:
        if ack.acked_type != MessageType.COMMAND:
            return
        waiting = self._command_acks.get((node, ack.acked_seq))
        if waiting is not None and not waiting.done():
            waiting.set_result(AckStatus(ack.status))


_UNITS = {channel.name: channel.unit for channel in CHANNELS.values()}
