"""How fast the agent drains Zigbee2MQTT state messages into SQLite, beside a bare subscriber.

Run from a source checkout::

    python3 -m benchmarks.ingest                 # 100,000 messages, 50 devices
    python3 -m benchmarks.ingest --json          # one JSON object instead of the table

Both consumers drain the same backlog from a private mosquitto.  The baseline
is a bare aiomqtt subscriber that only receives and counts messages, so it
shows what this machine's MQTT client stack can do at all; the agent parses
every message, updates its rolling statistics, commits the readings to SQLite
and forwards them upstream.  Their ratio is the price of ingest, independent of
how fast the machine is.

The agent reads its broker socket in large pieces (agent/transports/
buffered_socket.py), which a bare aiomqtt client does not; for context, a third
consumer is the same bare subscriber with those buffered reads.  The process is
set up as ``edgewise run`` sets it up (agent/gc_tuning.py), for all three
consumers alike.  See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiomqtt

from agent.clock import WallClock
from agent.config import Config, load_config
from agent.demo import example_config_path
from agent.gc_tuning import tune_garbage_collection
from agent.service import Agent
from agent.transports.buffered_socket import buffer_reads
from agent.transports.mqtt import client_logger
from benchmarks.common import machine, positive
from firmware_sim.broker import Mosquitto, find_mosquitto
from firmware_sim.zigbee_devices import count_readings

BASE_TOPIC = "zigbee2mqtt"
GOAL_RATIO = 0.8
GOAL_MSGS_PER_S = 10_000.0
# Unlimited queue and in-flight window: the broker must hold the whole backlog
# for an offline session and hand it over as fast as the consumer reads.
BROKER_SETTINGS = ("max_queued_messages 0", "max_inflight_messages 0")
PUBLISH_WINDOW = 100
"""QoS 1 publishes awaited together while filling the backlog; measured fastest
here (a window of 2000 took twice as long: paho's bookkeeping grows with it)."""
POLL_S = 0.002
"""How often the agent's committed-readings counter is looked at."""
FIRST_LAST_SEEN_MS = 1_767_571_200_000
REPORT_INTERVAL_MS = 60_000

log = logging.getLogger("edgewise.bench")


class BenchmarkError(RuntimeError):
    """A consumer did not receive or store what was published; the numbers would lie."""


# -- workload ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Workload:
    """The messages both consumers receive, and the readings the agent must store."""

    messages: list[tuple[str, bytes]]
    readings: int
    devices: int


@dataclass(slots=True)
class _Device:
    name: str
    thermostat: bool
    rng: random.Random
    temperature: float
    setpoint: float
    energy_kwh: float
    lqi: int
    sent: int = 0


def make_workload(messages: int, devices: int, seed: int) -> Workload:
    """Zigbee2MQTT-style thermostat and plug states, round robin over the devices.

    Each device's ``last_seen`` moves forward one report interval per message, so
    the agent never mistakes one for a QoS 1 redelivery and drops it.
    """
    if messages < 1 or devices < 1:
        raise ValueError("messages and devices must both be at least 1")
    rng = random.Random(seed)
    fleet = [_new_device(i, random.Random(rng.getrandbits(64))) for i in range(devices)]
    out: list[tuple[str, bytes]] = []
    readings = 0
    for n in range(messages):
        device = fleet[n % devices]
        state = _next_state(device)
        readings += count_readings(state)
        out.append((f"{BASE_TOPIC}/{device.name}", json.dumps(state).encode()))
    return Workload(out, readings, devices)


def _new_device(index: int, rng: random.Random) -> _Device:
    room = index // 2 + 1
    thermostat = index % 2 == 0
    name = f"room{room:02d}_{'thermostat' if thermostat else 'heater_plug'}"
    return _Device(name, thermostat, rng, rng.uniform(18.0, 22.0), rng.choice([19.0, 20.0, 21.0]),
                   rng.uniform(0.0, 50.0), rng.randint(60, 200))


def _next_state(d: _Device) -> dict[str, object]:
    """The device's next report; the heater follows the thermostat's setpoint loosely."""
    rng = d.rng
    d.sent += 1
    last_seen = FIRST_LAST_SEEN_MS + d.sent * REPORT_INTERVAL_MS
    lqi = max(0, min(255, d.lqi + rng.randint(-8, 8)))
    heating = d.temperature < d.setpoint
    d.temperature += (0.05 if heating else -0.03) + rng.gauss(0.0, 0.02)
    if d.thermostat:
        return {
            "local_temperature": round(d.temperature, 1),
            "occupied_heating_setpoint": d.setpoint,
            "running_state": "heat" if heating else "idle",
            "system_mode": "heat",
            "linkquality": lqi,
            "last_seen": last_seen,
        }
    power = round(rng.uniform(1480.0, 1520.0), 1) if heating else 0.5
    d.energy_kwh += power / 1000.0 * REPORT_INTERVAL_MS / 3_600_000
    return {
        "state": "ON",
        "power": power,
        "energy": round(d.energy_kwh, 3),
        "linkquality": lqi,
        "last_seen": last_seen,
    }


# -- broker side ------------------------------------------------------------------


def _client(broker: Mosquitto, identifier: str, **kwargs: object) -> aiomqtt.Client:
    return aiomqtt.Client(broker.host, broker.port, identifier=identifier, logger=client_logger(),
                          timeout=30, **kwargs)  # type: ignore[arg-type]


async def prime_session(broker: Mosquitto, client_id: str) -> None:
    """Leave a persistent session subscribed to the Zigbee topics, then go away,
    so the broker queues everything published next for ``client_id``."""
    async with _client(broker, client_id, clean_session=False) as client:
        await client.subscribe(f"{BASE_TOPIC}/#", qos=1)


async def publish_backlog(broker: Mosquitto, messages: Sequence[tuple[str, bytes]]) -> None:
    """Publish everything at QoS 1; once every PUBACK is in, the broker holds it all."""
    async with _client(broker, "edgewise-bench-publisher", max_inflight_messages=PUBLISH_WINDOW) as client:
        for start in range(0, len(messages), PUBLISH_WINDOW):
            window = messages[start : start + PUBLISH_WINDOW]
            await asyncio.gather(*(client.publish(topic, payload, qos=1) for topic, payload in window))


def _deadline_s(messages: int) -> float:
    """A hang guard only, far above any plausible run (200 msg/s would be broken)."""
    return 60.0 + messages / 200.0


# -- consumers --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trial:
    seconds: float
    messages: int
    readings: int
    """Readings stored (agent) or carried by the received messages (baseline)."""


async def drain_baseline(broker: Mosquitto, client_id: str, workload: Workload, buffered: bool = False) -> Trial:
    """Reconnect the primed session and only count messages until all have arrived;
    with ``buffered``, reading the socket as the agent does."""
    expected = len(workload.messages)
    received = 0
    client = _client(broker, client_id, clean_session=False)
    if buffered:
        buffer_reads(client)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(_deadline_s(expected)):
            async with client:
                async for _ in client.messages:
                    received += 1
                    if received >= expected:
                        break
                seconds = time.perf_counter() - started
    except TimeoutError:
        raise BenchmarkError(f"baseline received {received} of {expected} messages before giving up") from None
    return Trial(seconds, received, workload.readings)


def bench_config(broker: Mosquitto, client_id: str, database: str) -> Config:
    """The shipped example config, pointed at the private broker and a scratch database.

    Batching and state settings stay as shipped, so the numbers describe a
    default install; upstream publishing runs against the same broker.
    """
    base = load_config(example_config_path())
    data = base.model_dump()
    assert base.mqtt is not None and base.upstream is not None, "the example config has mqtt and upstream"
    data.update(
        gateway={**data["gateway"], "database": database},
        serial=[],
        mqtt={**data["mqtt"], "host": broker.host, "port": broker.port, "client_id": client_id,
              "base_topic": BASE_TOPIC},
        upstream={**data["upstream"], "host": broker.host, "port": broker.port,
                  "reconnect_initial_s": 0.2, "reconnect_max_s": 2.0},
        devices={},
    )
    return Config.model_validate(data)


async def drain_agent(broker: Mosquitto, client_id: str, workload: Workload, db_dir: str | None) -> Trial:
    """Run the real agent on the primed session until every reading is committed."""
    expected = workload.readings
    with tempfile.TemporaryDirectory(prefix="edgewise-bench-", dir=db_dir) as tmp:
        agent = Agent(bench_config(broker, client_id, os.path.join(tmp, "bench.db")), WallClock())
        stop = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(agent.run(stop), name="agent")
        try:
            await _wait_committed(agent, task, expected, _deadline_s(len(workload.messages)))
            seconds = time.perf_counter() - started
            stored = agent.store.count_readings()
        finally:
            stop.set()
            await task
    if stored != expected:
        raise BenchmarkError(f"agent stored {stored} readings, expected {expected}")
    return Trial(seconds, len(workload.messages), stored)


async def _wait_committed(agent: Agent, task: asyncio.Task[None], expected: int, deadline_s: float) -> None:
    try:
        async with asyncio.timeout(deadline_s):
            while agent.writer.readings_stored < expected:
                if task.done():
                    task.result()  # re-raise the agent's failure
                    raise BenchmarkError("agent stopped before storing every reading")
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        stats = agent.stats()
        raise BenchmarkError(
            f"agent committed {agent.writer.readings_stored} of {expected} readings before giving up;"
            f" mqtt received {stats['mqtt_messages_received']}, rejected {stats['mqtt_messages_rejected']},"
            f" duplicates {stats['mqtt_duplicates']}"
        ) from None


async def run_trial(consumer: str, workload: Workload, round_no: int, db_dir: str | None) -> Trial:
    """One consumer draining one backlog, on a broker of its own so nothing carries over."""
    client_id = f"edgewise-bench-{consumer}-{round_no}"
    async with Mosquitto(extra_config=BROKER_SETTINGS) as broker:
        await prime_session(broker, client_id)
        await publish_backlog(broker, workload.messages)
        if consumer != "agent":
            return await drain_baseline(broker, client_id, workload, buffered=consumer == "buffered")
        return await drain_agent(broker, client_id, workload, db_dir)


# -- results ----------------------------------------------------------------------


@dataclass(slots=True)
class Result:
    messages: int
    readings: int
    devices: int
    seed: int
    baseline: list[Trial] = field(default_factory=list)
    agent: list[Trial] = field(default_factory=list)
    buffered: list[Trial] = field(default_factory=list)
    """The bare subscriber with the agent's buffered socket reads: context only."""

    @staticmethod
    def median_s(trials: list[Trial]) -> float:
        return statistics.median(t.seconds for t in trials)

    def as_dict(self) -> dict[str, object]:
        base_s, agent_s = self.median_s(self.baseline), self.median_s(self.agent)
        buffered_s = self.median_s(self.buffered)
        base_rate, agent_rate = self.messages / base_s, self.messages / agent_s
        ratio = agent_rate / base_rate
        return {
            "messages": self.messages,
            "readings": self.readings,
            "devices": self.devices,
            "seed": self.seed,
            "runs": len(self.agent),
            "baseline_seconds": base_s,
            "agent_seconds": agent_s,
            "baseline_msgs_per_s": base_rate,
            "agent_msgs_per_s": agent_rate,
            "baseline_readings_per_s": self.readings / base_s,
            "agent_readings_per_s": self.readings / agent_s,
            "buffered_baseline_seconds": buffered_s,
            "buffered_baseline_msgs_per_s": self.messages / buffered_s,
            "buffered_baseline_readings_per_s": self.readings / buffered_s,
            "ratio": ratio,
            "ratio_vs_buffered_baseline": buffered_s / agent_s,
            "goal_ratio": GOAL_RATIO,
            "goal_msgs_per_s": GOAL_MSGS_PER_S,
            "goal_ratio_met": ratio >= GOAL_RATIO,
            "goal_rate_met": agent_rate >= GOAL_MSGS_PER_S,
            "baseline_runs_s": [t.seconds for t in self.baseline],
            "agent_runs_s": [t.seconds for t in self.agent],
            "buffered_baseline_runs_s": [t.seconds for t in self.buffered],
            "baseline_messages_received": [t.messages for t in self.baseline],
            "agent_readings_stored": [t.readings for t in self.agent],
            "machine": machine(mosquitto=_mosquitto_version()),
        }


def _mosquitto_version() -> str:
    try:
        out = subprocess.run([find_mosquitto(), "-h"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    first = out.splitlines()[0] if out else ""
    return first.removeprefix("mosquitto version ").strip() or "unknown"


def format_table(d: dict[str, object]) -> str:
    m = d["machine"]
    assert isinstance(m, dict)
    rows = [
        ("baseline (receive + count)", d["baseline_seconds"], d["baseline_msgs_per_s"], d["baseline_readings_per_s"]),
        ("agent (parse, state, SQLite)", d["agent_seconds"], d["agent_msgs_per_s"], d["agent_readings_per_s"]),
        ("baseline, buffered reads", d["buffered_baseline_seconds"], d["buffered_baseline_msgs_per_s"],
         d["buffered_baseline_readings_per_s"]),
    ]
    lines = [
        f"edgewise ingest benchmark: {d['messages']} messages from {d['devices']} devices,"
        f" {d['readings']} readings, seed {d['seed']}, median of {d['runs']} run(s)",
        f"machine: {m['platform']}, {m['cpu_count']} CPUs, Python {m['python']}, mosquitto {m['mosquitto']}",
        "",
        f"  {'consumer':<30}{'messages':>10}{'readings':>10}{'seconds':>9}{'msgs/s':>10}{'readings/s':>12}",
    ]
    for name, seconds, rate, rrate in rows:
        lines.append(
            f"  {name:<30}{d['messages']:>10}{d['readings']:>10}{seconds:>9.2f}{rate:>10,.0f}{rrate:>12,.0f}"
        )
    lines += [
        "",
        f"  ratio agent/baseline  {d['ratio']:.2f}   goal ≥ {GOAL_RATIO:.1f}: {_verdict(d['goal_ratio_met'])}",
        f"  agent msgs/s          {d['agent_msgs_per_s']:,.0f}   goal ≥ {GOAL_MSGS_PER_S:,.0f}:"
        f" {_verdict(d['goal_rate_met'])}",
        f"  ratio agent/baseline with buffered reads  {d['ratio_vs_buffered_baseline']:.2f}   (context, no goal)",
    ]
    return "\n".join(lines)


def _verdict(met: object) -> str:
    return "met" if met else "NOT met"


# -- entry point ------------------------------------------------------------------


async def run_benchmark(messages: int, devices: int, seed: int, runs: int, db_dir: str | None) -> Result:
    """Alternate the consumers' trials so drift on the machine hits them alike."""
    workload = make_workload(messages, devices, seed)
    tune_garbage_collection()
    result = Result(messages, workload.readings, devices, seed)
    for round_no in range(runs):
        result.baseline.append(await run_trial("baseline", workload, round_no, db_dir))
        result.agent.append(await run_trial("agent", workload, round_no, db_dir))
        result.buffered.append(await run_trial("buffered", workload, round_no, db_dir))
        log.info("round %d: baseline %.2f s, agent %.2f s, buffered baseline %.2f s", round_no + 1,
                 result.baseline[-1].seconds, result.agent[-1].seconds, result.buffered[-1].seconds)
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python3 -m benchmarks.ingest", description=(__doc__ or "ingest benchmark").splitlines()[0])
    p.add_argument("--messages", type=positive, default=100_000, help="messages in the backlog (default 100000)")
    p.add_argument("--devices", type=positive, default=50, help="distinct devices publishing (default 50)")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated payloads (default 1)")
    p.add_argument("--runs", type=positive, default=3, help="trials per consumer; the median is reported")
    p.add_argument("--db-dir", default=None, help="where the agent's SQLite file goes (default: system temp)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status says only whether the benchmark ran correctly; missed goals are reported, not failed."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = asyncio.run(run_benchmark(args.messages, args.devices, args.seed, args.runs, args.db_dir))
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    summary = result.as_dict()
    print(json.dumps(summary) if args.json else format_table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
