"""The agent: wires transports → ingest → state → store → upstream and runs them.

Everything runs as tasks of one :class:`asyncio.TaskGroup` in one thread, except
the store's batch commits and outbox reads, which run on one
:class:`~agent.store.StoreThread` so disk waits never stall ingest.  A stop
request (SIGTERM in ``edgewise run``) stops the sources first, then lets the
store writer commit what was already ingested, then lets the upstream publisher
say ``offline``; the store thread is stopped, then the store closed — so the
store is consistent and nothing acknowledged is lost.

Apps act through one door, :meth:`Agent.request`: the agent's
:class:`~agent.guardrails.Guardrails` decide, its
:class:`~agent.actuation.Actuator` sends and audits.  Apps never hold a
transport.  Commands in flight when a stop comes end their waits and get their
audit rows before the store closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.actuation import Actuator, OverrideResult, ZigbeeCommander
from agent.apps.faults.app import FaultDetection, load_rules_file
from agent.apps.faults.gather import room_points
from agent.apps.occupancy.control import OccupancyControl, load_model
from agent.apps.sensing_schedule import SensingSchedule, load_policy
from agent.clock import Clock
from agent.config import Config
from agent.guardrails import ActionRequest, Guardrails, Origin, Override, Transport, ZoneAlert
from agent.guardrails.schedule import SafeSchedule, time_zone
from agent.guardrails.targets import SETPOINTS
from agent.ingest.zigbee import StateMessage
from agent.ingest.counters import IngestCounters
from agent.ingest.dedupe import SequenceDeduper
from agent.ingest.gateway_seqs import GatewaySeqs, resume
from agent.ingest.item import IngestItem
from agent.ingest.serial_listener import SerialListener
from agent.ingest.zigbee_listener import ZigbeeListener
from agent.state.points import PointTable
from agent.state.staleness import StalenessMonitor
from agent.store import AuditRecord, Store, StoreThread
from agent.store.writer import StoreWriter
from agent.systemd import Notifier, watchdog_loop
from agent.transports.backoff import Backoff
from agent.transports.mqtt import BrokerAddress, make_client
from agent.upstream.publisher import UpstreamPublisher
from agent.upstream.topics import audit_topic, faults_topic
from agent.web import WebServer

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
        # First, before anything is opened: a model that cannot load stops the start cleanly.
        control = config.apps.occupancy_control
        self._occupancy_model = load_model(control.model) if control.enabled else None
        self._schedule_policy = load_policy(config.energy_harvesting) if config.energy_harvesting.nodes else None
        faults = config.apps.fault_detection
        self._fault_rules = load_rules_file(faults) if faults.enabled else None
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
        self.store.set_rooms({name: device.room for name, device in config.devices.items()})
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
            forward=upstream is not None,
            on_committed=self.publisher.notify if self.publisher else None,
        )
        self.serial_listeners = [
            SerialListener(port, clock, self.counters, self.deduper, self.submit, self.status,
                           seqs=self._gateway_seqs(port.name))
            for port in config.serial
        ]
        self.guardrails = self._make_guardrails()
        self.zigbee_commander = self._make_commander()
        self.actuator = Actuator(
            self.store,
            clock,
            config.actuation,
            thread=self.store_thread,
            serial=self.serial_listeners,
            zigbee=self.zigbee_commander,
            upstream_topic=audit_topic(upstream.topic_prefix, config.gateway.id) if upstream else None,
            on_queued=self.publisher.notify if self.publisher else None,
            on_outcome=self.guardrails.record_outcome,
        )
        self.occupancy_control = self._make_occupancy_control()
        self.sensing_schedule = self._make_sensing_schedule()
        self.fault_detection = self._make_fault_detection()
        self.running = asyncio.Event()
        self._sources_stop = asyncio.Event()
        self.web = WebServer(self, config.web) if config.web.enabled else None
        """The occupants' thermostat page (``web.enabled``); ``web.port`` is the bound port once listening."""
        self._web_stop = asyncio.Event()

    def _gateway_seqs(self, port: str) -> GatewaySeqs:
        """The gateway's seq counters for a dongle, resumed past a previous run's (agent/ingest/gateway_seqs.py).

        The next block is committed here, before the port opens; later blocks are
        reserved on the store thread while half a block is still left.
        """
        stored = self.store.gateway_seq_reservations(port)
        ahead = resume(stored)
        self.store.reserve_gateway_seqs(port, ahead)
        thread, store = self.store_thread, self.store
        return GatewaySeqs(stored, ahead,
                           reserve=lambda node, upto: thread.submit(store.reserve_gateway_seqs, port, {node: upto}))

    def submit(self, item: IngestItem) -> None:
        """Ingest → state → store: the one door every reading goes through."""
        self.points.update(item.readings)
        if self.occupancy_control is not None:
            self.occupancy_control.on_readings(item.readings)
        if self.sensing_schedule is not None:
            self.sensing_schedule.on_readings(item.readings)
        self.writer.submit(item)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                sources = self._start_sources(tg)
                zigbee = tg.create_task(self._zigbee(), name="zigbee") if self.config.mqtt else None
                commander = self.zigbee_commander
                actuation = tg.create_task(commander.run(), name="actuation-mqtt") if commander else None
                writer = tg.create_task(self.writer.run(), name="store-writer")
                publisher = tg.create_task(self.publisher.run(), name="upstream") if self.publisher else None
                monitors = [
                    tg.create_task(self._staleness_loop(), name="staleness"),
                    tg.create_task(self._failsafe_loop(), name="failsafe"),
                    tg.create_task(watchdog_loop(self.notifier, stop, self._healthy), name="watchdog"),
                ]
                if self.sensing_schedule is not None:
                    monitors.append(tg.create_task(self.sensing_schedule.run(), name="sensing-schedule"))
                if self.fault_detection is not None:
                    monitors.append(tg.create_task(self.fault_detection.run(), name="fault-detection"))
                web = tg.create_task(self.web.serve(self._web_stop), name="web") if self.web else None
                self.running.set()
                self.notifier.ready()
                await stop.wait()
                self.notifier.stopping()
                if web is not None:  # first, so no occupant's nudge arrives while actuation closes
                    self._web_stop.set()
                    await web
                log.info("stopping: closing sources, committing what was ingested")
                for task in sources + monitors:
                    task.cancel()
                if self.occupancy_control is not None:
                    self.occupancy_control.close()
                if self.sensing_schedule is not None:
                    self.sensing_schedule.close()
                await self.actuator.close()
                if self.occupancy_control is not None:
                    await self.occupancy_control.idle()
                if self.sensing_schedule is not None:
                    await self.sensing_schedule.idle()
                if commander is not None and actuation is not None:
                    commander.stop()
                    await actuation
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
            stale_points=[p for p in self.staleness.stale_points if not self._scheduled(p)],
            commands_requested=self.actuator.stats.requested,
            commands_blocked=self.actuator.stats.blocked,
            commands_sent=self.actuator.stats.sent,
            commands_succeeded=self.actuator.stats.succeeded,
        )
        return stats

    # -- acting: the one door apps use -----------------------------------------

    async def request(self, req: ActionRequest) -> AuditRecord:
        """Evaluate an app's request with the guardrails, send what they allow, and
        return the request's audit record (verdict, value sent, outcome).

        Blocked requests are audited too.  Raises
        :class:`~agent.actuation.ActuationClosed` once the agent is stopping.
        """
        return await self._act(req, Origin.APP)

    async def override(
        self, zone: str, attribute: str, value: object, *, by: str, hold_s: float | None = None, app: str = "user"
    ) -> OverrideResult:
        """An occupant sets ``attribute`` (a setpoint) of ``zone`` and holds it.

        The value goes through the guardrails as the occupant's (occupied limits
        apply, it may be clamped).  Unless every command was blocked, the hold is
        stored with the value sent and lasts ``hold_s`` (default
        ``guardrails.override_hold_s``), across restarts: until then apps cannot
        change that setpoint or switch the zone's HVAC off.  Raises
        :class:`~agent.guardrails.UnknownZoneError` or :class:`ValueError` for a
        zone, attribute or hold that cannot be.
        """
        targets = self.guardrails.check_holdable(zone, attribute)
        self.guardrails.hold_duration(hold_s)  # refuse a bad hold before anything is sent
        now = self.clock.now()
        reason = f"override by {by}"
        pairs = []
        for target in targets:
            req = ActionRequest(app, target.device, attribute, value, reason, zone)
            pairs.append((req, self.guardrails.evaluate(req, now, Origin.USER)))
        sent = [decision for _, decision in pairs if decision.sent]
        held = None
        if sent:
            held = self.guardrails.hold(zone, attribute, sent[0].value, now, by, hold_s)
            self.store.log_event(now, "override", zone, {"attribute": attribute, "value": held.value,
                                                         "expires_ts": held.expires_ts, "by": by})
        records = await asyncio.gather(*(self.actuator.carry_out(req, decision) for req, decision in pairs))
        return OverrideResult(held, tuple(records))

    def clear_override(self, zone: str, attribute: str, *, by: str) -> Override | None:
        """Return ``zone``'s ``attribute`` to automatic (the apps) before the hold expires."""
        now = self.clock.now()
        released = self.guardrails.release(zone, attribute, now, by)
        if released is not None:
            self.store.log_event(now, "override", zone, {"attribute": attribute, "cleared": True, "by": by})
            if self.occupancy_control is not None:
                self.occupancy_control.replan(zone)
        return released

    def overrides(self, zone: str | None = None) -> list[Override]:
        """Occupants' holds in force now."""
        return self.guardrails.active_overrides(self.clock.now(), zone)

    async def enforce_failsafe(self) -> list[AuditRecord]:
        """Alert on zones whose sensors went silent (or came back) and send the
        safe schedule to the silent ones; runs every ``state.check_interval_s``."""
        now = self.clock.now()
        for alert in self.guardrails.update_staleness(now):
            self._log_alert(alert, now)
        requests = self.guardrails.failsafe_requests(now)
        return list(await asyncio.gather(*(self._act(req, Origin.FAIL_SAFE) for req in requests)))

    async def _act(self, req: ActionRequest, origin: Origin) -> AuditRecord:
        decision = self.guardrails.evaluate(req, self.clock.now(), origin)
        return await self.actuator.carry_out(req, decision)

    def _log_alert(self, alert: ZoneAlert, now: float) -> None:
        if alert.stale:
            log.warning("zone %s: no reading from %s; holding it at the safe schedule", alert.zone,
                        ", ".join(alert.sensors))
        else:
            log.info("zone %s: sensors report again; apps may command it", alert.zone)
        detail = {"rule": "StaleSensorFailSafe", "stale": alert.stale, "sensors": list(alert.sensors)}
        self.store.log_event(now, "alert", alert.zone, detail)

    async def _failsafe_loop(self) -> None:
        interval = self.config.state.check_interval_s
        while True:
            await self.clock.sleep(interval)
            try:
                await self.enforce_failsafe()
            except Exception:  # a bug here must not stop the agent; the next round tries again
                log.exception("fail-safe check failed")

    def _make_guardrails(self) -> Guardrails:
        """Guardrails primed with the overrides in force, the commands of the last hour and each
        setpoint's since its last confirmed one, so holds, minimum on/off times, rate limits
        and the deadband survive a restart."""
        g = self.config.guardrails
        now = self.clock.now()
        memory = max(3600.0, g.rate_limit.window_s, g.hvac.min_on_s, g.hvac.min_off_s, g.stale_after_s)
        recent = {r.id: r for r in self.store.audit(since=now - memory)}
        recent.update({r.id: r for r in self.store.audit_since_confirmed(SETPOINTS)})
        history = [recent[i] for i in sorted(recent)]
        return Guardrails(g, sensors=self.points, overrides=self.store, now=now, history=history, reports=self.points)

    def _make_commander(self) -> ZigbeeCommander | None:
        """A connection for Zigbee commands, only if some zone lists a Zigbee device."""
        mqtt = self.config.mqtt
        zigbee_targets = [t for t in self.guardrails.registry.targets() if t.transport is Transport.ZIGBEE]
        if mqtt is None or not zigbee_targets:
            return None
        address = BrokerAddress(mqtt.host, mqtt.port, mqtt.username, mqtt.password, mqtt.keepalive_s)
        identifier = f"{mqtt.client_id or f'edgewise-{self.config.gateway.id}-zigbee'}-actuation"
        return ZigbeeCommander(address, mqtt.base_topic, identifier, Backoff(1.0, 30.0))

    def _start_sources(self, tg: asyncio.TaskGroup) -> list[asyncio.Task[None]]:
        return [
            tg.create_task(listener.run(), name=f"serial:{port.name}")
            for listener, port in zip(self.serial_listeners, self.config.serial)
        ]

    async def _zigbee(self) -> None:
        mqtt = self.config.mqtt
        assert mqtt is not None
        listener = ZigbeeListener(mqtt.base_topic, self.clock, self.counters, self.submit, self._state_observer())
        address = BrokerAddress(mqtt.host, mqtt.port, mqtt.username, mqtt.password, mqtt.keepalive_s)
        identifier = mqtt.client_id or f"edgewise-{self.config.gateway.id}-zigbee"
        await listener.run(
            lambda queue_type: make_client(address, identifier=identifier, persistent=True, queue_type=queue_type),
            Backoff(1.0, 30.0),
            self._sources_stop,
            lambda up: setattr(self.status, "mqtt_connected", up),
        )

    def _state_observer(self) -> Callable[[StateMessage], None] | None:
        """Who sees each Zigbee state message: actuation (confirmations) and the control app."""
        callbacks: list[Callable[[StateMessage], None]] = []
        if self.zigbee_commander is not None:
            callbacks.append(self.zigbee_commander.observe)
        if self.occupancy_control is not None:
            callbacks.append(self.occupancy_control.on_state)
        if not callbacks:
            return None
        if len(callbacks) == 1:
            return callbacks[0]

        def observe(message: StateMessage) -> None:
            for callback in callbacks:
                callback(message)

        return observe

    def _make_occupancy_control(self) -> OccupancyControl | None:
        """The occupancy control app, if enabled; it acts only through :meth:`request`."""
        model = self._occupancy_model
        if model is None:
            return None
        g = self.config.guardrails
        schedule = SafeSchedule(g.safe_schedule, time_zone(g.timezone))
        return OccupancyControl(
            self.config.apps.occupancy_control, g.zones, self.guardrails.registry, schedule, self.request,
            self.clock, model, self._held_attributes,
        )

    def _make_sensing_schedule(self) -> SensingSchedule | None:
        """The harvesting nodes' scheduler, if ``energy_harvesting.nodes`` names any; it acts through
        :meth:`request`."""
        if self._schedule_policy is None:
            return None
        return SensingSchedule(
            self.config.energy_harvesting, self.guardrails.registry, self._schedule_policy, self.request, self.clock,
            time_zone(self.config.guardrails.timezone),
        )

    def _make_fault_detection(self) -> FaultDetection | None:
        """The daily fault detector, if enabled; it reads the store and only alerts (no commands)."""
        if self._fault_rules is None:
            return None
        kinds = {device: kind for zone in self.config.guardrails.zones.values()
                 for device, kind in zone.actuators.items()}
        rooms = room_points({name: device.room for name, device in self.config.devices.items()}, kinds)
        up = self.config.upstream
        return FaultDetection(
            self.config.apps.fault_detection, rooms, self._fault_rules, self.store, self.store_thread, self.clock,
            time_zone(self.config.guardrails.timezone),
            upstream_topic=faults_topic(up.topic_prefix, self.config.gateway.id) if up else None,
            on_queued=self.publisher.notify if self.publisher else None,
        )

    def _held_attributes(self, zone: str, now: float) -> frozenset[str]:
        return frozenset(o.attribute for o in self.guardrails.active_overrides(now, zone))

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
            for point in [p for p in change.newly_stale if not self._scheduled(p)]:
                log.warning("point %s is stale (no reading for %.0f s)", point, self.config.state.stale_after_s)
                self.store.log_event(self.clock.now(), "stale", point, {"stale": True})
            for point in [p for p in change.recovered if not self._scheduled(p)]:
                log.info("point %s reports again", point)
                self.store.log_event(self.clock.now(), "stale", point, {"stale": False})

    def _scheduled(self, point: str) -> bool:
        """Points of harvesting nodes are silent for hours by design; the sensing schedule
        knows each node's report interval and warns when one is overdue instead."""
        return point.split("/", 1)[0] in self.config.energy_harvesting.nodes

    def _healthy(self) -> bool:
        """The watchdog stops being fed when the store writer falls hopelessly behind."""
        return self.writer.pending < 50 * self.config.store.batch_max
