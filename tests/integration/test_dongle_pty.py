"""The simulated dongle over a real pseudo-terminal, against a minimal gateway.

The gateway side opens the pty slave with pyserial-asyncio-fast, as the agent
does, decodes frames with FrameStream and acks reports.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
import serial_asyncio_fast

from agent.protocol import (
    Ack,
    Command,
    Frame,
    FrameStream,
    Heartbeat,
    MessageType,
    Report,
    encode_frame,
    report_from_values,
)
from firmware_sim.dongle import Dongle


class Gateway:
    """Just enough of the agent: decode, record, ack reports (unless holding acks)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.stream = FrameStream()
        self.frames: list[Frame] = []
        self.hold_acks = False
        self.held: list[Frame] = []
        self._seq = 0

    @property
    def reports(self) -> list[Frame]:
        return [f for f in self.frames if f.type is MessageType.REPORT]

    async def run(self) -> None:
        while data := await self.reader.read(4096):
            for frame in self.stream.feed(data):
                self.frames.append(frame)
                if frame.type is MessageType.REPORT:
                    self.held.append(frame) if self.hold_acks else self.ack(frame)

    def ack(self, frame: Frame) -> None:
        self.send(frame.node, Ack(MessageType.REPORT, frame.seq, 0))

    def release_acks(self) -> None:
        self.hold_acks = False
        for frame in self.held:
            self.ack(frame)
        self.held.clear()

    def send(self, node: int, message: Ack | Command) -> int:
        kind = MessageType.ACK if isinstance(message, Ack) else MessageType.COMMAND
        seq, self._seq = self._seq, self._seq + 1
        self.writer.write(encode_frame(Frame(kind, node, seq, message)))
        return seq


@pytest_asyncio.fixture
async def gateway(pty_pair: tuple[int, str]) -> AsyncIterator[Gateway]:
    reader, writer = await serial_asyncio_fast.open_serial_connection(url=pty_pair[1], baudrate=115200)
    gw = Gateway(reader, writer)
    task = asyncio.create_task(gw.run())
    yield gw
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    writer.close()


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Wait for a condition that a correct system reaches; False only if it never does."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)
    return True


def sample(rng: random.Random) -> dict[str, float]:
    return {
        "temperature": round(rng.uniform(15, 28), 2),
        "humidity": round(rng.uniform(20, 70), 2),
        "illuminance": round(rng.uniform(0, 900), 1),
        "co2": float(rng.randint(400, 1600)),
        "pir_count": float(rng.randint(0, 9)),
        "supercap_voltage": round(rng.uniform(2.3, 5.5), 3),
    }


async def send_many(dongle: Dongle, count: int, nodes: int = 5) -> dict[tuple[int, int], Report]:
    """Send ``count`` reports round-robin over nodes; what each (node, seq) carried."""
    rng = random.Random(7)
    sent = {}
    for i in range(count):
        node, values = 1 + i % nodes, sample(rng)
        seq = await dongle.send_report(node, 1767571200 + i, values)
        sent[(node, seq)] = report_from_values(1767571200 + i, values)
    return sent


@pytest.mark.asyncio
async def test_reports_arrive_intact_and_are_acked(pty_pair: tuple[int, str], gateway: Gateway) -> None:
    async with Dongle(pty_pair[0], rng=random.Random(1)) as dongle:
        sent = await send_many(dongle, 60)
        assert await dongle.drain(10.0)
        assert await until(lambda: len({(f.node, f.seq) for f in gateway.reports}) == len(sent))
    assert {(f.node, f.seq): f.message for f in gateway.reports} == sent
    assert gateway.stream.rejected_total == 0
    assert dongle.given_up == 0
    # Per-node seqs count up from 0 without gaps.
    assert sorted(seq for node, seq in sent if node == 2) == list(range(12))


@pytest.mark.asyncio
async def test_lost_acks_cause_retransmissions_with_the_original_seq(
    pty_pair: tuple[int, str], gateway: Gateway
) -> None:
    dongle = Dongle(pty_pair[0], rng=random.Random(3), ack_timeout_s=0.05, ack_loss_prob=0.5, duplicate_prob=0.2)
    async with dongle:
        sent = await send_many(dongle, 40)
        assert await dongle.drain(20.0)
        transmissions = len(sent) + dongle.retransmits + dongle.duplicates_sent
        # A retransmission queued just before the last ack may still be on its way.
        assert await until(lambda: len(gateway.reports) == transmissions)
    assert dongle.retransmits > 0 and dongle.acks_dropped > 0 and dongle.duplicates_sent > 0
    assert dongle.given_up == 0 and dongle.pending == 0
    # Every transmission repeats a (node, seq) that was sent, with the same content.
    for frame in gateway.reports:
        assert sent[(frame.node, frame.seq)] == frame.message
    assert {(f.node, f.seq) for f in gateway.reports} == set(sent)


@pytest.mark.asyncio
async def test_window_limits_unacked_reports(pty_pair: tuple[int, str], gateway: Gateway) -> None:
    gateway.hold_acks = True
    async with Dongle(pty_pair[0], rng=random.Random(1), window=4, ack_timeout_s=60.0) as dongle:
        await send_many(dongle, 4)
        fifth = asyncio.create_task(dongle.send_report(9, 1767571300, {"co2": 500.0}))
        assert await until(lambda: len(gateway.held) == 4)
        await asyncio.sleep(0.05)
        assert not fifth.done() and dongle.pending == 4
        gateway.release_acks()
        assert await fifth == 0
        assert await dongle.drain(10.0)


@pytest.mark.asyncio
async def test_drain_reports_a_silent_gateway(pty_pair: tuple[int, str], gateway: Gateway) -> None:
    gateway.hold_acks = True
    async with Dongle(pty_pair[0], rng=random.Random(1), ack_timeout_s=60.0) as dongle:
        await dongle.send_report(1, 1767571200, {"temperature": 20.0})
        assert not await dongle.drain(0.1)
        assert dongle.pending == 1


@pytest.mark.asyncio
async def test_dongle_gives_up_after_max_retries(pty_pair: tuple[int, str], gateway: Gateway) -> None:
    gateway.hold_acks = True
    async with Dongle(pty_pair[0], rng=random.Random(1), ack_timeout_s=0.01, max_retries=3) as dongle:
        await dongle.send_report(1, 1767571200, {"temperature": 20.0})
        assert await dongle.drain(10.0)
        assert dongle.given_up == 1 and dongle.retransmits == 3
        assert await until(lambda: len(gateway.held) == 4)


@pytest.mark.asyncio
async def test_command_reaches_the_node_and_is_acked(pty_pair: tuple[int, str], gateway: Gateway) -> None:
    applied: list[tuple[int, Command]] = []
    async with Dongle(pty_pair[0], rng=random.Random(1), on_command=lambda n, c: applied.append((n, c))) as dongle:
        seq = gateway.send(7, Command(1, 600))
        assert await until(lambda: any(f.type is MessageType.ACK for f in gateway.frames))
        ack = next(f for f in gateway.frames if f.type is MessageType.ACK)
        assert ack.node == 7 and ack.message == Ack(MessageType.COMMAND, seq, 0)
        assert applied == [(7, Command(1, 600))]

        bogus = gateway.send(7, Command(99, 1))
        assert await until(lambda: sum(f.type is MessageType.ACK for f in gateway.frames) == 2)
        assert gateway.frames[-1].message == Ack(MessageType.COMMAND, bogus, 1)
        assert applied == [(7, Command(1, 600))]
        assert dongle.commands_received == 2


@pytest.mark.asyncio
async def test_retried_command_is_acked_again_but_applied_once(
    pty_pair: tuple[int, str], gateway: Gateway
) -> None:
    applied: list[tuple[int, Command]] = []
    async with Dongle(pty_pair[0], rng=random.Random(1), on_command=lambda n, c: applied.append((n, c))):
        wire = encode_frame(Frame(MessageType.COMMAND, 4, 41, Command(2, 0)))
        gateway.writer.write(wire + wire)
        assert await until(lambda: sum(f.type is MessageType.ACK for f in gateway.frames) == 2)
    assert applied == [(4, Command(2, 0))]
    assert all(f.message == Ack(MessageType.COMMAND, 41, 0) for f in gateway.frames)


@pytest.mark.asyncio
async def test_heartbeat_arrives(pty_pair: tuple[int, str], gateway: Gateway) -> None:
    async with Dongle(pty_pair[0], rng=random.Random(1)) as dongle:
        seq = await dongle.send_heartbeat(3, 86400, -67, 3300)
        assert await until(lambda: bool(gateway.frames))
    assert gateway.frames == [Frame(MessageType.HEARTBEAT, 3, seq, Heartbeat(86400, -67, 3300))]


@pytest.mark.asyncio
async def test_faults_on_the_line_are_survived(pty_pair: tuple[int, str], gateway: Gateway) -> None:
    async with Dongle(pty_pair[0], rng=random.Random(1), ack_timeout_s=0.05) as dongle:
        # Far more than the pty buffer holds, so writes block part-way and resume.
        await dongle.send_raw(b"\x01" * 20000 + b"\x00")
        # Garbage with no delimiter spoils the frame written after it ...
        await dongle.send_raw(b"\x13\x37noise")
        seq = await dongle.send_report(1, 1767571200, {"temperature": 19.25})
        # ... and a cut-off frame is just dropped at the next delimiter.
        await dongle.send_raw(encode_frame(Frame(MessageType.HEARTBEAT, 2, 0, Heartbeat(1, -50, 3000)))[:6] + b"\x00")
        # The spoiled report is retransmitted and gets through.
        assert await dongle.drain(10.0)
    assert {(f.node, f.seq, f.message) for f in gateway.reports} == {(1, seq, Report(1767571200, ((1, 1925),)))}
    assert dongle.retransmits >= 1
    assert gateway.stream.rejected["oversize"] == 1
    assert gateway.stream.rejected_total >= 3
