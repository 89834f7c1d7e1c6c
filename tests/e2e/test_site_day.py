"""A simulated day end to end: simulator → pty/broker → agent → SQLite → upstream."""

from __future__ import annotations

import pytest

from agent.demo import DemoOptions, DemoSite, LinkFaults


@pytest.mark.asyncio
async def test_every_reading_of_a_day_is_stored_exactly_once_and_forwarded() -> None:
    async with DemoSite(DemoOptions(days=1, rooms=3, seed=11)) as site:
        await site.simulate(1.0)
        assert await site.settle()
        s = site.summary(wall_seconds=0.0)
        rooms = {d.name: d.room for d in site.agent.store.devices()}
    assert rooms["node-0002"] == "room02" and rooms["room03_thermostat"] == "room03"  # from the config
    assert s["readings_emitted"] > 3 * 288 * 6  # serial nodes alone, plus Zigbee devices
    assert s["readings_stored"] == s["readings_emitted"]
    assert s["duplicates_stored"] == 0
    assert s["frames_rejected"] == 0 and s["mqtt_messages_rejected"] == 0
    assert s["upstream_pending"] == 0
    assert s["upstream_received"] == s["readings_stored"]
    temps = [row["temperature"]["mean"] for row in s["room_summary"]]
    assert all(10.0 < t < 30.0 for t in temps)


@pytest.mark.asyncio
async def test_lost_acks_and_duplicate_frames_are_deduplicated() -> None:
    faults = LinkFaults(ack_loss_prob=0.2, duplicate_prob=0.1, ack_timeout_s=0.1)
    async with DemoSite(DemoOptions(days=0.5, rooms=2, seed=5), faults=faults) as site:
        await site.simulate(0.5)
        assert await site.settle()
        s = site.summary(wall_seconds=0.0)
    assert s["dongle_retransmits"] > 0
    assert s["serial_duplicates_dropped"] > 0
    assert s["readings_stored"] == s["readings_emitted"]
    assert s["duplicates_stored"] == 0


@pytest.mark.asyncio
async def test_same_seed_stores_the_same_readings() -> None:
    async def run(seed: int) -> list[tuple[str, str, float, float]]:
        async with DemoSite(DemoOptions(days=0.25, rooms=2, seed=seed)) as site:
            await site.simulate(0.25)
            assert await site.settle()
            rows = site.agent.store.readings()
        return sorted((r.device, r.channel, r.ts, r.value) for r in rows)

    first, again, other = await run(3), await run(3), await run(4)
    assert first == again
    assert first != other
