"""The simulated USB radio dongle, on the master side of a pseudo-terminal.

The agent opens the pty's slave path exactly as it would open
``/dev/ttyUSB0``, so it exercises its real serial code.  This side behaves like
the dongle firmware (see ``docs/protocol.md``): it frames node reports, keeps
each one until the gateway acks it, retransmits unacked reports with the same
seq, and answers gateway COMMANDs with ACKs.  Radio faults are injected with a
seeded RNG: lost ACKs (which force retransmissions) and duplicated frames.

Timeouts run on the event loop's wall clock, not the simulation clock: they
model the radio, which is real time even when the building is simulated.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import tty
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from agent.protocol import (
    Ack,
    AckStatus,
    Actuator,
    Command,
    Frame,
    FrameStream,
    Heartbeat,
    MessageType,
    encode_frame,
    report_from_values,
)

_READ_SIZE = 4096
_EIO_RETRY_S = 0.05  # nobody holds the slave open; look again shortly
_COMMAND_MEMORY = 32  # gateway command seqs remembered per node, to spot retries
_ACTUATORS = frozenset(Actuator)


@dataclass(slots=True)
class _Pending:
    wire: bytes
    deadline: float
    retries: int = 0


class Dongle:
    """A radio dongle driving ``master_fd``; use as an async context manager.

    Counters: ``frames_sent`` (distinct frames originated: reports, heartbeats,
    acks), ``retransmits``, ``duplicates_sent``, ``acks_received`` (every ACK
    frame from the gateway), ``acks_dropped`` (ACKs ignored as if lost on air),
    ``given_up`` (reports abandoned after ``max_retries`` retransmissions),
    ``reports_rejected`` (acked with status rejected), ``commands_received``
    (distinct gateway commands), ``commands_ignored`` (dropped while
    ``ignore_commands`` is set).

    Gateway commands for an unknown actuator are acked with status rejected and
    not passed to ``on_command``.
    """

    def __init__(
        self,
        master_fd: int,
        *,
        rng: random.Random,
        ack_timeout_s: float = 0.5,
        max_retries: int = 20,
        window: int = 32,
        ack_loss_prob: float = 0.0,
        duplicate_prob: float = 0.0,
        on_command: Callable[[int, Command], None] | None = None,
    ) -> None:
        if window < 1 or max_retries < 0 or ack_timeout_s <= 0:
            raise ValueError("window must be >= 1, max_retries >= 0 and ack_timeout_s > 0")
        if not (0.0 <= ack_loss_prob < 1.0 and 0.0 <= duplicate_prob <= 1.0):
            raise ValueError("ack_loss_prob must be in [0, 1) and duplicate_prob in [0, 1]")
        self.fd = master_fd
        self.rng = rng
        self.ack_timeout_s = ack_timeout_s
        self.max_retries = max_retries
        self.window = window
        self.ack_loss_prob = ack_loss_prob
        self.duplicate_prob = duplicate_prob
        self.on_command = on_command
        self.stream = FrameStream()
        self.frames_sent = 0
        self.retransmits = 0
        self.duplicates_sent = 0
        self.acks_received = 0
        self.acks_dropped = 0
        self.given_up = 0
        self.reports_rejected = 0
        self.commands_received = 0
        self.commands_ignored = 0
        self.ignore_commands = False
        """Fault injection: drop gateway COMMANDs unapplied and unacked, as a dongle
        whose radio link to the nodes is down would."""
        self._seq: dict[int, int] = {}
        self._pending: dict[tuple[int, int], _Pending] = {}
        self._commands_seen: dict[int, deque[int]] = {}
        self._out: asyncio.Queue[bytes] = asyncio.Queue()
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resume: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Dongle:
        self._loop = asyncio.get_running_loop()
        tty.setraw(self.fd)
        os.set_blocking(self.fd, False)
        self._loop.add_reader(self.fd, self._on_readable)
        self._tasks = [
            asyncio.create_task(self._writer(), name="dongle-writer"),
            asyncio.create_task(self._retransmitter(), name="dongle-retransmit"),
        ]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._loop is not None
        if self._resume is not None:
            self._resume.cancel()
        self._loop.remove_reader(self.fd)
        self._loop.remove_writer(self.fd)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # ------------------------------------------------------------ sending

    @property
    def pending(self) -> int:
        """Reports sent and not yet acked (nor given up)."""
        return len(self._pending)

    async def send_report(self, node_id: int, ts: int, values: dict[str, float]) -> int:
        """Send one report from ``node_id``; returns its seq.

        Waits while ``window`` reports are unacked, like firmware with a fixed
        number of retransmit buffers.
        """
        report = report_from_values(ts, values)
        while len(self._pending) >= self.window:
            await self._wait_change()
        seq = self._next_seq(node_id)
        wire = encode_frame(Frame(MessageType.REPORT, node_id, seq, report))
        self._pending[(node_id, seq)] = _Pending(wire, self._now() + self.ack_timeout_s)
        self._emit(wire)
        if self.rng.random() < self.duplicate_prob:
            self.duplicates_sent += 1
            self._out.put_nowait(wire)
        return seq

    async def send_heartbeat(self, node_id: int, uptime_s: int, rssi_dbm: int, supply_mv: int) -> int:
        """Send one heartbeat (not acked, never retransmitted); returns its seq."""
        message = Heartbeat(uptime_s, rssi_dbm, supply_mv)
        seq = self._next_seq(node_id)
        self._emit(encode_frame(Frame(MessageType.HEARTBEAT, node_id, seq, message)))
        return seq

    async def send_raw(self, data: bytes) -> None:
        """Put arbitrary bytes on the line (garbage, truncated frames) in order with frames."""
        self._out.put_nowait(bytes(data))

    async def drain(self, timeout: float) -> bool:
        """Wait until every report is acked or given up; False if ``timeout`` passed first."""
        try:
            async with asyncio.timeout(timeout):
                while self._pending:
                    await self._wait_change()
        except TimeoutError:
            return False
        return True

    def _next_seq(self, node_id: int) -> int:
        seq = self._seq.get(node_id, 0)
        self._seq[node_id] = (seq + 1) & 0xFFFF
        return seq

    def _emit(self, wire: bytes) -> None:
        self.frames_sent += 1
        self._out.put_nowait(wire)

    def _now(self) -> float:
        assert self._loop is not None, "use the dongle inside 'async with'"
        return self._loop.time()

    async def _wait_change(self) -> None:
        # No await between the caller's check and clear(), so no change is missed.
        self._changed.clear()
        await self._changed.wait()

    def _forget(self, key: tuple[int, int]) -> None:
        if self._pending.pop(key, None) is not None:
            self._changed.set()

    # ------------------------------------------------------------ tasks

    async def _writer(self) -> None:
        """Write queued frames one at a time so frames never interleave on the line."""
        while True:
            data = await self._out.get()
            await self._write_all(data)

    async def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                await self._writable()
                continue
            view = view[written:]

    async def _writable(self) -> None:
        """Wait until the pty has room again (its buffer is only a few KB)."""
        assert self._loop is not None
        ready = self._loop.create_future()
        self._loop.add_writer(self.fd, lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            self._loop.remove_writer(self.fd)

    async def _retransmitter(self) -> None:
        while True:
            now = self._now()
            for key, item in list(self._pending.items()):
                if item.deadline > now:
                    continue
                if item.retries >= self.max_retries:
                    self.given_up += 1
                    self._forget(key)
                    continue
                item.retries += 1
                item.deadline = now + self.ack_timeout_s
                self.retransmits += 1
                self._out.put_nowait(item.wire)
            next_due = min((p.deadline for p in self._pending.values()), default=now + self.ack_timeout_s)
            await asyncio.sleep(max(0.0, next_due - now))

    # ------------------------------------------------------------ receiving

    def _on_readable(self) -> None:
        try:
            data = os.read(self.fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            self._pause_reading()
            return
        for frame in self.stream.feed(data):
            if frame.type is MessageType.ACK:
                self._on_ack(frame)
            elif frame.type is MessageType.COMMAND:
                self._on_command(frame)

    def _pause_reading(self) -> None:
        """EIO means no process has the slave open; polling would spin, so back off."""
        assert self._loop is not None
        self._loop.remove_reader(self.fd)
        self._resume = self._loop.call_later(_EIO_RETRY_S, self._loop.add_reader, self.fd, self._on_readable)

    def _on_ack(self, frame: Frame) -> None:
        ack = frame.message
        assert isinstance(ack, Ack)
        self.acks_received += 1
        if ack.acked_type != MessageType.REPORT or (frame.node, ack.acked_seq) not in self._pending:
            return
        if self.rng.random() < self.ack_loss_prob:
            self.acks_dropped += 1
            return
        if ack.status == AckStatus.REJECTED:
            self.reports_rejected += 1
        self._forget((frame.node, ack.acked_seq))

    def _on_command(self, frame: Frame) -> None:
        command = frame.message
        assert isinstance(command, Command)
        if self.ignore_commands:
            self.commands_ignored += 1
            return
        known = command.actuator in _ACTUATORS
        seen = self._commands_seen.setdefault(frame.node, deque(maxlen=_COMMAND_MEMORY))
        if frame.seq not in seen:
            # A gateway retry of a command we already applied is acked again, not re-applied.
            seen.append(frame.seq)
            self.commands_received += 1
            if known and self.on_command is not None:
                self.on_command(frame.node, command)
        status = AckStatus.OK if known else AckStatus.REJECTED
        ack = Ack(MessageType.COMMAND, frame.seq, status)
        self._emit(encode_frame(Frame(MessageType.ACK, frame.node, self._next_seq(frame.node), ack)))
