"""``edgewise run`` as a real process, stopped and restarted the way systemd does it.

The agent runs as ``python -m agent.cli run --config FILE`` with ``$NOTIFY_SOCKET``
pointing at a datagram socket the test reads, like PID 1's.  A simulated dongle
drives a real pseudo-terminal, Zigbee2MQTT state arrives through a real
Mosquitto, and an upstream consumer subscribes on the same broker.

The guarantee under test is the one the gateway is for: an ack means stored.
Whatever the dongle saw acknowledged before a SIGTERM (or even a SIGKILL) is in
the database, and after a restart every report and device message ends up
stored exactly once and forwarded upstream at least once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import socket
import sqlite3
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiomqtt
import pytest
import pytest_asyncio

from firmware_sim.broker import Mosquitto
from firmware_sim.dongle import Dongle

pytestmark = pytest.mark.slow

GATEWAY = "gw-e2e"
BASE_TOPIC = "zigbee2mqtt"
READINGS_TOPIC = f"edgewise/{GATEWAY}/readings/#"
AVAILABILITY_TOPIC = f"edgewise/{GATEWAY}/availability"
T0 = 1_767_571_200  # event times are fixed, so every reading has a known key
NODES = 5
REPORTS_PER_NODE = 40
ZIGBEE_DEVICES = ("room01_thermostat", "room02_thermostat")
ZIGBEE_MESSAGES = 20
PROBE_DEVICE = "probe_plug"

# Generous: these bound a hang on a slow CI machine, they are not what is tested.
READY_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 30.0
SETTLE_TIMEOUT_S = 90.0

Key = tuple[str, str, float]
"""(device, channel, event time): what "stored exactly once" counts by."""


# ---------------------------------------------------------------- the process


class NotifySocket:
    """The service manager's end of sd_notify: a datagram socket we read."""

    def __init__(self, directory: Path) -> None:
        path = directory / "notify.sock"
        if len(os.fsencode(path)) >= 100:  # sun_path holds 108 bytes
            path = Path(tempfile.mkdtemp(prefix="ew-")) / "notify.sock"
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.fields: list[str] = []

    async def expect(self, field: str, timeout: float) -> None:
        """Wait until a datagram carried ``field`` (e.g. ``READY=1``) since the last :meth:`clear`."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while field not in self.fields:
                data = await loop.sock_recv(self.sock, 4096)
                self.fields.extend(data.decode().splitlines())

    def drain(self) -> list[str]:
        """Every field received so far, without waiting."""
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return self.fields
            self.fields.extend(data.decode().splitlines())

    def clear(self) -> None:
        self.fields.clear()

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)


class AgentProcess:
    """One ``edgewise run`` process; its log (stdout and stderr) goes to a file."""

    def __init__(self, config: Path, log: Path, notify: NotifySocket) -> None:
        self.config = config
        self.log_path = log
        self.notify = notify
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")}
        env["NOTIFY_SOCKET"] = str(self.notify.path)
        self.notify.clear()
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "agent.cli", "run", "--config", str(self.config),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, env=env,
            )

    async def ready(self) -> None:
        """Wait for READY=1; fail with the log if the process exits first."""
        assert self.proc is not None
        ready = asyncio.ensure_future(self.notify.expect("READY=1", READY_TIMEOUT_S))
        exited = asyncio.ensure_future(self.proc.wait())
        await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        exited.cancel()
        if not ready.done():
            ready.cancel()
            pytest.fail(f"edgewise run exited with {self.proc.returncode} before READY=1:\n{self.log()}")
        ready.result()

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def exit_code(self) -> int:
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), EXIT_TIMEOUT_S)
        except TimeoutError:
            pytest.fail(f"edgewise run did not exit within {EXIT_TIMEOUT_S} s:\n{self.log()}")

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    def log(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Site:
    """Everything one test needs around the agent: config, notify socket, processes."""

    def __init__(self, tmp_path: Path, serial_path: str, broker: Mosquitto) -> None:
        self.database = tmp_path / "edgewise.db"
        self.config = tmp_path / "edgewise.yaml"
        self.config.write_text(_config_text(self.database, serial_path, broker.port))
        self.notify = NotifySocket(tmp_path)
        self.log = tmp_path / "agent.log"
        self.processes: list[AgentProcess] = []

    async def start_agent(self) -> AgentProcess:
        agent = AgentProcess(self.config, self.log, self.notify)
        self.processes.append(agent)
        await agent.start()
        await agent.ready()
        return agent

    async def close(self) -> None:
        for agent in self.processes:
            await agent.kill()
        self.notify.close()


def _config_text(database: Path, serial_path: str, port: int) -> str:
    """A complete configuration, shaped like examples/edgewise.yaml, on loopback only."""
    return f"""\
gateway:
  id: {GATEWAY}
  database: {database}
  log_level: info
serial:
  - name: dongle-1
    port: {serial_path}
    baudrate: 115200
    ack: true
mqtt:
  host: 127.0.0.1
  port: {port}
  base_topic: {BASE_TOPIC}
  keepalive_s: 5
upstream:
  host: 127.0.0.1
  port: {port}
  topic_prefix: edgewise
  qos: 1
  batch_size: 50
  reconnect_initial_s: 0.2
  reconnect_max_s: 2.0
state:
  window: 10
store:
  batch_max: 500
  flush_interval_s: 0.02
"""


@pytest_asyncio.fixture
async def site(tmp_path: Path, pty_pair: tuple[int, str], broker: Mosquitto) -> AsyncIterator[Site]:
    s = Site(tmp_path, pty_pair[1], broker)
    try:
        yield s
    finally:
        await s.close()


# ---------------------------------------------------------------- the world around it


class Upstream:
    """The consumer upstream: records every reading and availability message it receives."""

    def __init__(self, broker: Mosquitto) -> None:
        self.client = aiomqtt.Client("127.0.0.1", broker.port, identifier="e2e-upstream-consumer")
        self.readings: Counter[Key] = Counter()
        self.availability: list[str] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Upstream:
        await self.client.__aenter__()
        await self.client.subscribe(READINGS_TOPIC, qos=1)
        await self.client.subscribe(AVAILABILITY_TOPIC, qos=1)
        self._task = asyncio.create_task(self._collect())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.client.__aexit__(None, None, None)

    async def _collect(self) -> None:
        async for message in self.client.messages:
            payload = bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b""
            if message.topic.value == AVAILABILITY_TOPIC:
                self.availability.append(payload.decode())
            else:
                body = json.loads(payload)
                for item in body["readings"]:
                    device, channel = item["point"].split("/", 1)
                    self.readings[(device, channel, float(item["ts"]))] += 1
            self._changed.set()

    async def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not condition():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            pytest.fail(f"upstream never saw {what}")


async def retained(broker: Mosquitto, topic: str) -> str | None:
    """The retained message on ``topic`` as a new subscriber gets it, or None."""
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.subscribe(topic, qos=1)
        try:
            async with asyncio.timeout(5.0):
                async for message in client.messages:
                    assert message.retain, "the first message a new subscriber gets is the retained one"
                    return bytes(message.payload).decode()  # type: ignore[arg-type]
        except TimeoutError:
            return None
    return None


def zigbee_message(index: int) -> tuple[int, dict[str, float]]:
    """Event time and fields of a Zigbee2MQTT state message (last_seen in epoch ms)."""
    ts = T0 + 30 * index
    return ts, {"local_temperature": 19.0 + index / 10, "linkquality": 100 + index, "last_seen": ts * 1000}


async def publish_zigbee(broker: Mosquitto, indices: range) -> None:
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        for index in indices:
            for device in ZIGBEE_DEVICES:
                _, fields = zigbee_message(index)
                await client.publish(f"{BASE_TOPIC}/{device}", json.dumps(fields), qos=1)


async def publish_probe(broker: Mosquitto) -> Key:
    """A retained state message: the agent gets it on subscribing, so seeing it
    upstream proves the agent's Zigbee subscription exists."""
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        payload = json.dumps({"power": 1.5, "last_seen": T0 * 1000})
        await client.publish(f"{BASE_TOPIC}/{PROBE_DEVICE}", payload, qos=1, retain=True)
    return (PROBE_DEVICE, "power", float(T0))


def report_plan() -> list[tuple[int, int, dict[str, float]]]:
    """(node, ts, values) of every report, interleaving the nodes like a real radio."""
    return [
        (node, T0 + 60 * i, {"temperature": 20.0 + node + i / 100, "humidity": 40.0 + i / 10})
        for i in range(REPORTS_PER_NODE)
        for node in range(1, NODES + 1)
    ]


def serial_keys(node: int, ts: int, values: dict[str, float]) -> list[Key]:
    return [(f"node-{node:04d}", channel, float(ts)) for channel in values]


def expected_keys() -> set[Key]:
    keys = {k for node, ts, values in report_plan() for k in serial_keys(node, ts, values)}
    for index in range(ZIGBEE_MESSAGES):
        ts, fields = zigbee_message(index)
        keys |= {(device, name, float(ts)) for device in ZIGBEE_DEVICES for name in fields if name != "last_seen"}
    return keys


class Radio:
    """The dongle plus a ledger of which report (node, seq) carried which readings."""

    def __init__(self, dongle: Dongle) -> None:
        self.dongle = dongle
        self.sent: dict[tuple[int, int], list[Key]] = {}

    async def send(self, reports: list[tuple[int, int, dict[str, float]]]) -> None:
        for node, ts, values in reports:
            seq = await self.dongle.send_report(node, ts, values)
            self.sent[(node, seq)] = serial_keys(node, ts, values)

    def acked(self) -> list[Key]:
        """Readings of every report the dongle saw acknowledged.

        Dongle exposes only the number of unacked reports, so the set is read
        from its retransmit buffer; with no report given up, every sent report
        not in it was acked.
        """
        assert self.dongle.given_up == 0, "a report was given up: raise max_retries"
        unacked = set(self.dongle._pending)
        return [key for report, keys in self.sent.items() if report not in unacked for key in keys]

    async def wait_acked(self, reports: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while len(self.sent) - self.dongle.pending < reports:
                await asyncio.sleep(0.01)


def make_dongle(master_fd: int) -> Dongle:
    # Never give up while the agent is down: the test controls how long that is.
    return Dongle(master_fd, rng=random.Random(3), ack_timeout_s=0.3, max_retries=1_000_000, window=32)


# ---------------------------------------------------------------- the database


def stored(database: Path) -> Counter[Key]:
    """How many rows each (device, channel, ts) has, read with a connection of our own."""
    with sqlite3.connect(database, timeout=10) as conn:
        rows = conn.execute("SELECT device, channel, ts, COUNT(*) FROM readings NOT INDEXED GROUP BY 1, 2, 3")
        return Counter({(device, channel, float(ts)): n for device, channel, ts, n in rows})


def integrity(database: Path) -> str:
    with sqlite3.connect(database, timeout=10) as conn:
        return "\n".join(row[0] for row in conn.execute("PRAGMA integrity_check"))


async def wait_stored(database: Path, expected: set[Key], timeout: float, agent: AgentProcess) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not expected <= set(stored(database)):
                await asyncio.sleep(0.1)
    except TimeoutError:
        missing = expected - set(stored(database))
        pytest.fail(f"{len(missing)} of {len(expected)} readings never stored, e.g. {sorted(missing)[:5]}\n{agent.log()}")


def assert_acked_are_stored(radio: Radio, database: Path, agent: AgentProcess) -> int:
    acked = radio.acked()
    rows = stored(database)
    lost = [key for key in acked if key not in rows]
    assert not lost, f"{len(lost)} acked readings are not in the database, e.g. {lost[:5]}\n{agent.log()}"
    return len(acked)


# ---------------------------------------------------------------- the tests


@pytest.mark.asyncio
async def test_sigterm_mid_stream_loses_nothing_acked_and_a_restart_completes_the_data(
    site: Site, pty_pair: tuple[int, str], broker: Mosquitto
) -> None:
    plan = report_plan()
    first, rest = plan[: len(plan) // 2], plan[len(plan) // 2 :]
    probe = await publish_probe(broker)
    expected = expected_keys() | {probe}

    async with Upstream(broker) as upstream, make_dongle(pty_pair[0]) as dongle:
        radio = Radio(dongle)
        agent = await site.start_agent()
        await upstream.wait_until(lambda: probe in upstream.readings, SETTLE_TIMEOUT_S, "the probe reading")
        await publish_zigbee(broker, range(0, 10))
        await radio.send(first)
        await radio.wait_acked(len(first) // 2, SETTLE_TIMEOUT_S)

        # Stop while reports are still arriving.  (Device messages arriving during
        # the stop are the next test's subject.)
        agent.send_signal(signal.SIGTERM)
        sending = asyncio.create_task(radio.send(rest))
        assert await agent.exit_code() == 0, agent.log()
        await site.notify.expect("STOPPING=1", 5.0)
        assert integrity(site.database) == "ok"
        acked = assert_acked_are_stored(radio, site.database, agent)
        assert len(first) // 2 * 2 <= acked < len(plan) * 2, "the stop must come mid-stream"
        assert await retained(broker, AVAILABILITY_TOPIC) == "offline"

        # Device messages published while the agent is down wait in its broker session.
        await publish_zigbee(broker, range(10, ZIGBEE_MESSAGES))
        agent = await site.start_agent()
        await sending
        assert await dongle.drain(SETTLE_TIMEOUT_S), f"the restarted agent left reports unacked\n{agent.log()}"
        await wait_stored(site.database, expected, SETTLE_TIMEOUT_S, agent)
        await upstream.wait_until(lambda: expected <= set(upstream.readings), SETTLE_TIMEOUT_S, "every reading")
        agent.send_signal(signal.SIGTERM)
        assert await agent.exit_code() == 0, agent.log()

    rows = stored(site.database)
    assert set(rows) == expected
    assert all(n == 1 for n in rows.values()), "a reading was stored twice"
    assert integrity(site.database) == "ok"
    assert dongle.given_up == 0
    assert await retained(broker, AVAILABILITY_TOPIC) == "offline"


FLOOD_DEVICES = 10
FLOOD_MESSAGES = 1500
FLOOD_CONCURRENCY = 50


def flood_message(index: int) -> tuple[str, int, str]:
    """Device, event time and payload of the ``index``-th message of a burst."""
    ts = T0 + index  # increasing per device, as Zigbee2MQTT's last_seen is
    return f"flood{index % FLOOD_DEVICES:02d}", ts, json.dumps({"power": float(index), "last_seen": ts * 1000})


async def publish_flood(broker: Mosquitto, started: asyncio.Event) -> None:
    """Zigbee2MQTT at full speed: many QoS 1 publishes in flight, in order per device."""
    quiet = logging.getLogger("e2e.flood")
    quiet.setLevel(logging.ERROR)  # aiomqtt notes every publish beyond ten in flight
    async with aiomqtt.Client("127.0.0.1", broker.port, logger=quiet) as client:
        for first in range(0, FLOOD_MESSAGES, FLOOD_CONCURRENCY):
            batch = [flood_message(i) for i in range(first, min(first + FLOOD_CONCURRENCY, FLOOD_MESSAGES))]
            await asyncio.gather(*(client.publish(f"{BASE_TOPIC}/{d}", p, qos=1) for d, _, p in batch))
            started.set()


@pytest.mark.asyncio
async def test_device_messages_arriving_during_sigterm_are_stored_after_the_restart(
    site: Site, broker: Mosquitto
) -> None:
    """The broker counts a QoS 1 message as delivered once the agent's client acked
    it; the agent's persistent session keeps the rest while it is down.  Either
    way a message published around a SIGTERM must end up stored exactly once."""
    probe = await publish_probe(broker)
    expected = {(device, "power", float(ts)) for device, ts, _ in map(flood_message, range(FLOOD_MESSAGES))}
    agent = await site.start_agent()
    await wait_stored(site.database, {probe}, SETTLE_TIMEOUT_S, agent)  # subscribed

    started = asyncio.Event()
    flood = asyncio.create_task(publish_flood(broker, started))
    await started.wait()
    agent.send_signal(signal.SIGTERM)
    assert await agent.exit_code() == 0, agent.log()
    await flood
    assert integrity(site.database) == "ok"

    agent = await site.start_agent()
    await wait_stored(site.database, expected, SETTLE_TIMEOUT_S, agent)
    agent.send_signal(signal.SIGTERM)
    assert await agent.exit_code() == 0, agent.log()
    rows = stored(site.database)
    assert set(rows) == expected | {probe}
    assert all(n == 1 for n in rows.values()), "a reading was stored twice"


@pytest.mark.asyncio
async def test_sigint_stops_cleanly_like_sigterm(site: Site, pty_pair: tuple[int, str], broker: Mosquitto) -> None:
    async with Upstream(broker) as upstream, make_dongle(pty_pair[0]) as dongle:
        radio = Radio(dongle)
        agent = await site.start_agent()
        await upstream.wait_until(lambda: "online" in upstream.availability, SETTLE_TIMEOUT_S, "online")
        sending = asyncio.create_task(radio.send(report_plan()[:60]))
        await radio.wait_acked(20, SETTLE_TIMEOUT_S)

        agent.send_signal(signal.SIGINT)
        assert await agent.exit_code() == 0, agent.log()
        await site.notify.expect("STOPPING=1", 5.0)
        sending.cancel()
        assert "Traceback" not in agent.log(200)
        assert integrity(site.database) == "ok"
        assert assert_acked_are_stored(radio, site.database, agent) >= 40
    assert await retained(broker, AVAILABILITY_TOPIC) == "offline"


@pytest.mark.asyncio
async def test_sigkill_keeps_acked_reports_and_the_broker_announces_offline(
    site: Site, pty_pair: tuple[int, str], broker: Mosquitto
) -> None:
    """kill -9: no STOPPING, no goodbye; the database and the last will must still be right.

    The kernel closes the dead process's TCP connection, so Mosquitto publishes
    the will at once; a silently vanished network (will after 1.5 × keepalive)
    cannot be tested quickly because ``upstream`` has no keepalive setting.
    """
    async with Upstream(broker) as upstream, make_dongle(pty_pair[0]) as dongle:
        radio = Radio(dongle)
        agent = await site.start_agent()
        await upstream.wait_until(lambda: "online" in upstream.availability, SETTLE_TIMEOUT_S, "online")
        sending = asyncio.create_task(radio.send(report_plan()))
        await radio.wait_acked(40, SETTLE_TIMEOUT_S)

        agent.send_signal(signal.SIGKILL)
        assert await agent.exit_code() == -signal.SIGKILL
        await upstream.wait_until(lambda: upstream.availability[-1:] == ["offline"], 30.0, "the last will")
        sending.cancel()
        assert "READY=1" in site.notify.drain() and "STOPPING=1" not in site.notify.drain()
        assert integrity(site.database) == "ok"
        assert assert_acked_are_stored(radio, site.database, agent) >= 80
    assert upstream.availability[0] == "online"
    assert await retained(broker, AVAILABILITY_TOPIC) == "offline"
