"""The agent: wires transports → ingest → state → store → upstream and runs them.

Everything runs as tasks of one :class:`asyncio.TaskGroup` in one thread, except
the store's batch commits and outbox reads, which run on one
:class:`~agent.store.StoreThread` so disk waits never stall ingest.  A stop
request (SIGTERM in ``edgewise run``) stops the sources first, then lets the
store writer commit what was already ingested, then lets the upstream publisher
say ``offline``; the store thread is stopped, then the store closed — so the
store is consistent and nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from agent.clock import Clock
from agent.config import Config
from agent.ingest.counters import IngestCounters
from agent.ingest.dedupe import SequenceDeduper
from agent.ingest.item import IngestItem
from agent.ingest.serial_listener import SerialListener
from agent.ingest.zigbee_listener import ZigbeeListener
from agent.state.points import PointTable
from agent.state.staleness import StalenessMonitor
from agent.store import Store, StoreThread
from agent.store.writer import StoreWriter
from agent.systemd import Notifier, watchdog_loop
from agent.transports.backoff import Backoff
from agent.transports.mqtt import BrokerAddress, make_client
from agent.upstream.publisher import UpstreamPublisher

log = logging.getLogger(__name__)


@dataclass
class AgentStatus:
    """What the agent knows about its own health, for the watchdog and the demo."""

    serial_open: dict[str, bool] = field(default_factory=dict)
    mqtt_connected: bool = False
    upstream_connected: bool = False


class Agent:
    """One gateway's agent.  Construct, then ``await run(stop)``."""

    def __init__(self, config: Config, clock: Clock, *, notifier: Notifier | None = None) -> None:
        self.config = config
        self.clock = clock
        self.notifier = notifier or Notifier()
        self.counters = IngestCounters()
        self.status = AgentStatus()
        self.points = PointTable(config.state.window)
        self.staleness = StalenessMonitor(self.points, config.state.stale_after_s)
        upstream = config.upstream
        self.store = Store.open(
            config.gateway.database,
            outbox_max_rows=upstream.outbox_max_rows if upstream else 1_000_000,
        )
        self.deduper = SequenceDeduper()
        self.deduper.load(self.store.recent_serial_seqs())
        self.store_thread = StoreThread()
        self.publisher = self._make_publisher()
        self.writer = StoreWriter(
            self.store,
            clock,
            thread=self.store_thread,
            batch_max=config.store.batch_max,
            flush_interval_s=config.store.flush_interval_s,
            upstream_prefix=upstream.topic_prefix if upstream else None,
            gateway_id=config.gateway.id,
            on_committed=self.publisher.notify if self.publisher else None,
        )
        self.running = asyncio.Event()
        self._sources_stop = asyncio.Event()

    def submit(self, item: IngestItem) -> None:
        """Ingest → state → store: the one door every reading goes through."""
        self.points.update(item.readings)
        self.writer.submit(item)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                sources = self._start_sources(tg)
                zigbee = tg.create_task(self._zigbee(), name="zigbee") if self.config.mqtt else None
                writer = tg.create_task(self.writer.run(), name="store-writer")
                publisher = tg.create_task(self.publisher.run(), name="upstream") if self.publisher else None
                monitors = [
                    tg.create_task(self._staleness_loop(), name="staleness"),
                    tg.create_task(watchdog_loop(self.notifier, stop, self._healthy), name="watchdog"),
                ]
                self.running.set()
                self.notifier.ready()
                await stop.wait()
                self.notifier.stopping()
                log.info("stopping: closing sources, committing what was ingested")
                for task in sources + monitors:
                    task.cancel()
                # Not cancelled: the Zigbee listener disconnects, then handles what
                # its client had already acknowledged to the broker.
                self._sources_stop.set()
                if zigbee is not None:
                    await zigbee
                await self.writer.close()
                await writer
                if self.publisher and publisher:
                    self.publisher.stop()
        finally:
            # Every task has ended, but a cancelled one may have left its store
            # call running on the thread: let it finish before closing.
            self.store_thread.shutdown()
            self.store.close()
            log.info("stopped; store closed")

    def stats(self) -> dict[str, object]:
        stats: dict[str, object] = dict(self.counters.as_dict())
        stats.update(
            readings_stored=self.writer.readings_stored,
            store_batches=self.writer.batches,
            upstream_published=self.publisher.published_readings if self.publisher else 0,
            upstream_messages=self.publisher.published_messages if self.publisher else 0,
            upstream_pending=self.store.outbox_size(),
            outbox_dropped=self.writer.outbox_dropped,
            points=len(self.points),
            stale_points=self.staleness.stale_points,
        )
        return stats

    def _start_sources(self, tg: asyncio.TaskGroup) -> list[asyncio.Task[None]]:
        tasks = []
        for port in self.config.serial:
            listener = SerialListener(port, self.clock, self.counters, self.deduper, self.submit, self.status)
            tasks.append(tg.create_task(listener.run(), name=f"serial:{port.name}"))
        return tasks

    async def _zigbee(self) -> None:
        mqtt = self.config.mqtt
        assert mqtt is not None
        listener = ZigbeeListener(mqtt.base_topic, self.clock, self.counters, self.submit)
        address = BrokerAddress(mqtt.host, mqtt.port, mqtt.username, mqtt.password, mqtt.keepalive_s)
        identifier = mqtt.client_id or f"edgewise-{self.config.gateway.id}-zigbee"
        await listener.run(
            lambda queue_type: make_client(address, identifier=identifier, persistent=True, queue_type=queue_type),
            Backoff(1.0, 30.0),
            self._sources_stop,
            lambda up: setattr(self.status, "mqtt_connected", up),
        )

    def _make_publisher(self) -> UpstreamPublisher | None:
        up = self.config.upstream
        if up is None:
            return None
        publisher = UpstreamPublisher(
            self.store,
            BrokerAddress(up.host, up.port, up.username, up.password),
            thread=self.store_thread,
            gateway_id=self.config.gateway.id,
            prefix=up.topic_prefix,
            qos=up.qos,
            batch_size=up.batch_size,
            linger_s=up.linger_s,
            backoff=Backoff(up.reconnect_initial_s, up.reconnect_max_s),
        )
        publisher.on_connection_change = lambda c: setattr(self.status, "upstream_connected", c)
        return publisher

    async def _staleness_loop(self) -> None:
        interval = self.config.state.check_interval_s
        while True:
            await self.clock.sleep(interval)
            change = self.staleness.check(self.clock.now())
            for point in change.newly_stale:
                log.warning("point %s is stale (no reading for %.0f s)", point, self.config.state.stale_after_s)
                self.store.log_event(self.clock.now(), "stale", point, {"stale": True})
            for point in change.recovered:
                log.info("point %s reports again", point)
                self.store.log_event(self.clock.now(), "stale", point, {"stale": False})

    def _healthy(self) -> bool:
        """The watchdog stops being fed when the store writer falls hopelessly behind."""
        return self.writer.pending < 50 * self.config.store.batch_max
