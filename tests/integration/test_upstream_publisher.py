"""The upstream publisher against a real broker: fuller messages, order, nothing lost."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
import pytest

from agent.ingest.reading import Reading
from agent.store import Store, StoreThread
from agent.transports.backoff import Backoff
from agent.transports.mqtt import BrokerAddress
from agent.upstream.publisher import UpstreamPublisher
from firmware_sim.broker import Mosquitto


def write(store: Store, device: str, start: int, n: int) -> None:
    batch = [Reading(device, "t", float(start + i), float(i), "°C", "zigbee") for i in range(n)]
    store.write_batch(batch, now=1.0, forward=True)


async def run_publisher(
    broker: Mosquitto, store: Store, linger_s: float, commits: int, gap_s: float = 0.01
) -> tuple[UpstreamPublisher, list[dict[str, object]]]:
    """Commit ``commits`` small batches for two devices, notifying the publisher after
    each as the store writer does, and collect what arrives upstream."""
    thread = StoreThread()
    publisher = UpstreamPublisher(
        store, BrokerAddress(broker.host, broker.port), thread=thread, gateway_id="gw", prefix="edgewise",
        qos=1, batch_size=100, backoff=Backoff(0.1, 0.5), linger_s=linger_s,
    )
    received: list[dict[str, object]] = []
    expected = commits * 2 * 5
    async with aiomqtt.Client(broker.host, broker.port) as consumer:
        await consumer.subscribe("edgewise/gw/readings/#", qos=1)
        task = asyncio.create_task(publisher.run())
        for k in range(commits):
            for device in ("a", "b"):
                write(store, device, 5 * k, 5)
            publisher.notify()
            await asyncio.sleep(gap_s)
        async with asyncio.timeout(20):
            async for message in consumer.messages:
                received.append(json.loads(message.payload))
                if sum(len(m["readings"]) for m in received) >= expected:
                    break
        publisher.stop()
        await task
    thread.shutdown()
    return publisher, received


@pytest.mark.asyncio
async def test_linger_sends_fewer_fuller_messages_in_order(broker: Mosquitto, tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        publisher, received = await run_publisher(broker, store, linger_s=1.5, commits=10)
        assert store.outbox_size() == 0
    # 10 commits of 5 readings per device, all within the linger: one message per device.
    assert sorted((m["device"], len(m["readings"])) for m in received) == [("a", 50), ("b", 50)]
    for m in received:
        assert [r["ts"] for r in m["readings"]] == [float(t) for t in range(50)]
    assert publisher.published_messages == 2


@pytest.mark.asyncio
async def test_without_linger_each_commit_goes_out_at_once(broker: Mosquitto, tmp_path: Path) -> None:
    with Store.open(tmp_path / "gw.db") as store:
        publisher, received = await run_publisher(broker, store, linger_s=0.0, commits=10)
    assert publisher.published_messages > 2
    for device in ("a", "b"):
        ts = [r["ts"] for m in received if m["device"] == device for r in m["readings"]]
        assert ts == [float(t) for t in range(50)]


@pytest.mark.asyncio
async def test_linger_stops_well_before_the_outbox_bound(broker: Mosquitto, tmp_path: Path) -> None:
    # Bound 40, 10 rows a commit: lingering 5 s would overflow the outbox and drop
    # rows; a quarter of the bound (10 rows) ends the linger at every commit.
    with Store.open(tmp_path / "gw.db", outbox_max_rows=40) as store:
        publisher, received = await run_publisher(broker, store, linger_s=5.0, commits=10, gap_s=0.1)
        assert store.outbox_dropped_total == 0
    assert publisher.published_readings == 100
    assert len(received) > 2


@pytest.mark.asyncio
async def test_readings_go_upstream_as_json_that_reads_back_exactly(broker: Mosquitto, tmp_path: Path) -> None:
    """SQLite writes the upstream JSON: every value, however many digits, reads back as stored."""
    values = [0.1 + 0.2, 21.37, -0.0, 1e20, 5e-324, 123456789.12345679, 3.0]
    batch = [Reading("dev \"x\"/ü", "ch", 1_767_571_200.125 + i, v, "µg/m³", "zigbee") for i, v in enumerate(values)]
    with Store.open(tmp_path / "gw.db") as store:
        store.write_batch(batch, now=1.0, forward=True)
        thread = StoreThread()
        publisher = UpstreamPublisher(
            store, BrokerAddress(broker.host, broker.port), thread=thread, gateway_id="gw", prefix="edgewise",
            qos=1, batch_size=100, backoff=Backoff(0.1, 0.5),
        )
        async with aiomqtt.Client(broker.host, broker.port) as consumer:
            await consumer.subscribe("edgewise/gw/readings/#", qos=1)
            task = asyncio.create_task(publisher.run())
            async with asyncio.timeout(20):
                message = await anext(aiter(consumer.messages))
            publisher.stop()
            await task
        thread.shutdown()
        assert store.outbox_size() == 0
    body = json.loads(message.payload)
    assert message.topic.value == 'edgewise/gw/readings/dev "x"/ü'
    assert body["gateway"] == "gw" and body["device"] == 'dev "x"/ü'
    assert [(r["point"], r["ts"], r["value"], r["unit"]) for r in body["readings"]] == [
        (r.point, r.ts, r.value, r.unit) for r in batch
    ]
