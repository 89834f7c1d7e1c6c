"""Store-and-forward: the upstream broker goes away and comes back.

While it is down the gateway keeps ingesting and storing; when it returns every
stored reading reaches the upstream consumer, each device's readings in the
order they were stored.  With a bounded outbox the oldest rows are dropped, and
exactly as many as the bound says.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from agent.demo import DemoOptions, DemoSite
from firmware_sim.broker import Mosquitto
from tests.eventually import eventually


def _stored_order(db: str, last: int = -1) -> dict[str, list[tuple[str, float]]]:
    """Per device, (point, ts) in the order the gateway committed them (the ``last`` newest only)."""
    order: dict[str, list[tuple[str, float]]] = {}
    sql = "SELECT device, channel, ts FROM (SELECT * FROM readings ORDER BY id DESC LIMIT ?) ORDER BY id"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        for device, channel, ts in conn.execute(sql, (last,)):
            order.setdefault(device, []).append((f"{device}/{channel}", ts))
    return order


def _first_occurrences(items: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Delivery is at least once; a consumer keeps the first copy of each reading."""
    seen: set[tuple[str, float]] = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


@pytest.mark.asyncio
async def test_outage_loses_nothing_and_keeps_order_per_device() -> None:
    with Mosquitto(persistence=True) as upstream:
        async with DemoSite(DemoOptions(days=1, rooms=2, seed=21), upstream=(upstream.host, upstream.port)) as site:
            await site.simulate(0.1)
            upstream.stop()
            await site.simulate(0.3)
            backlog = site.agent.store.outbox_size()
            upstream.start()
            await site.simulate(0.1)
            assert await site.settle(timeout=60)
            received = dict(site.counter.received)
            db = site.db_path
            stored = _stored_order(db)
            published = site.agent.publisher.published_readings
    assert backlog > 1000
    assert published >= sum(len(v) for v in stored.values())
    assert set(received) == set(stored)
    for device, items in stored.items():
        assert _first_occurrences(received[device]) == items, device


@pytest.mark.asyncio
async def test_bounded_outbox_drops_exactly_the_oldest_overflow() -> None:
    bound = 300
    with Mosquitto() as upstream:
        async with DemoSite(
            DemoOptions(days=1, rooms=2, seed=22, control=False), upstream=(upstream.host, upstream.port), outbox_max_rows=bound
        ) as site:
            await site.simulate(0.05)
            assert await site.settle()
            before = site.agent.store.count_readings()
            upstream.stop()
            await site.simulate(0.2)
            await site.sim.drain(site.dongle)
            store = site.agent.store
            during = store.count_readings() - before
            assert store.outbox_size() == bound
            assert site.agent.writer.outbox_dropped == during - bound
            kept = [item for c in store.reading_chunks(bound + 1, 100) for item in json.loads(f"[{c.items}]")]
            newest = [item for items in _stored_order(site.db_path, last=bound).values() for item in items]
            upstream.start()
            assert await eventually(lambda: store.outbox_size() == 0, 30.0)
            published = site.agent.publisher.published_readings
    assert during > bound
    assert sorted((k["point"], k["ts"]) for k in kept) == sorted(newest)
    assert published == before + bound

