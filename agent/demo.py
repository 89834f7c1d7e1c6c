"""``edgewise demo``: a simulated building, a private broker and the real agent.

This is the only place where the agent and the simulator meet.  The agent runs
exactly as on a gateway — serial frames over a real pseudo-terminal, Zigbee2MQTT
messages through a real mosquitto, readings into a real SQLite file, upstream
publication through the outbox — except that its clock follows the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING

import aiomqtt

from agent.clock import SimClock
from agent.config import ActuationConfig, Config, load_config
from agent.service import Agent
from agent.state.points import PointTable
from agent.systemd import configure_logging
from agent.transports.mqtt import client_logger

if TYPE_CHECKING:
    from firmware_sim.faults import Fault
    from firmware_sim.nodes import HarvestingNode, Spot

log = logging.getLogger("edgewise.demo")


@dataclass(frozen=True, slots=True)
class DemoOptions:
    days: float = 1.0
    rooms: int = 4
    seed: int = 1
    broker: str | None = None
    db: str | None = None
    json: bool = False
    control: bool = True
    """Run occupancy-based control (and compare with the fixed-schedule baseline)."""
    harvesting_nodes: int = 0
    """Battery-free PIR nodes (corridor first, then rooms) scheduled by the sensing-schedule app;
    ``edgewise demo`` runs three."""
    fault_detection: bool = True
    """Run daily fault detection, with an outdoor weather sensor on the Zigbee network for its thermal model."""
    faults: tuple[Fault, ...] = ()
    """Faults injected into the building (firmware_sim/faults.py); ``edgewise demo`` injects :func:`demo_fault`."""
    zigbee_on_change: bool = False
    """Zigbee devices report on change and at least hourly (firmware_sim.zigbee_devices.Reporting), as
    Zigbee2MQTT configures real ones, instead of every device every five minutes."""


def example_config_path() -> Path:
    """The annotated example config: installed in the package, or in a source checkout."""
    installed = Path(__file__).parent / "config" / "edgewise.example.yaml"
    if installed.exists():
        return installed
    return Path(__file__).resolve().parent.parent / "examples" / "edgewise.yaml"


def run_demo(options: DemoOptions) -> int:
    if options.days <= 0 or options.rooms < 1:
        print("edgewise demo: --days must be > 0 and --rooms >= 1", file=sys.stderr)
        return 2
    if not 0 <= options.harvesting_nodes <= options.rooms + 1:
        print(f"edgewise demo: --harvesting-nodes must be 0–{options.rooms + 1} (the corridor and one per room)",
              file=sys.stderr)
        return 2
    configure_logging("warning")
    if options.fault_detection and not options.faults:
        options = replace(options, faults=(demo_fault(options.rooms),))
    summary = asyncio.run(_demo(options))
    if options.json:
        print(json.dumps(summary))
    else:
        print(format_summary(summary))
    ok = summary["readings_stored"] == summary["readings_emitted"] and summary["duplicates_stored"] == 0
    return 0 if ok else 1


async def _demo(options: DemoOptions) -> dict[str, object]:
    started = time.monotonic()
    async with DemoSite(options) as site:
        await site.simulate(options.days, _progress(options))
        await site.settle()
        return site.summary(wall_seconds=time.monotonic() - started)


@dataclass(frozen=True, slots=True)
class LinkFaults:
    """Faults the simulated radio link injects (tests use them; the demo runs clean)."""

    ack_loss_prob: float = 0.0
    duplicate_prob: float = 0.0
    ack_timeout_s: float = 0.5
    """How long the dongle waits for an ack before retransmitting (wall time)."""


class DemoSite:
    """A simulated site wired to a real agent: brokers, pty, store, simulator.

    ``edgewise demo`` and the end-to-end tests both drive the agent through this
    class, so the tests exercise exactly what a newcomer runs.  The upstream
    broker may differ from the device broker (tests stop it mid-run).
    """

    def __init__(
        self,
        options: DemoOptions,
        *,
        faults: LinkFaults = LinkFaults(),
        upstream: tuple[str, int] | None = None,
        outbox_max_rows: int | None = None,
        actuation: ActuationConfig | None = None,
        harvesting_types: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        """``actuation`` replaces the example's section (tests shorten its timeouts);
        ``harvesting_types`` gives harvesting nodes (by device, e.g. ``node-0102``) their
        own node-type parameters instead of the default Ember node's."""
        self.options = options
        self._harvesting_types = dict(harvesting_types or {})
        self.faults = faults
        self._upstream_address = upstream
        self._outbox_max_rows = outbox_max_rows
        self._actuation = actuation
        self._stack = AsyncExitStack()
        self._zigbee_received_before = 0
        self._frames_received_before = 0
        """Messages and frames the agents before a restart received (their counters are gone)."""
        self._last_scored: float | None = None
        self.occupancy_score = OccupancyScore()

    async def __aenter__(self) -> DemoSite:
        from firmware_sim.broker import Mosquitto
        from firmware_sim.building import Building
        from firmware_sim.dongle import Dongle
        from firmware_sim.faults import inject, leak_watts
        from firmware_sim.nodes import harvesting_spots
        from firmware_sim.simulation import Simulation, SimulationSettings
        from firmware_sim.zigbee_devices import Reporting, ZigbeeNetwork

        stack = self._stack
        opts = self.options
        if opts.broker:
            self.host, self.port = _parse_broker(opts.broker)
        else:
            broker = await stack.enter_async_context(Mosquitto())
            self.host, self.port = broker.host, broker.port
        up_host, up_port = self._upstream_address or (self.host, self.port)
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="edgewise-demo-"))
        self.db_path = opts.db or os.path.join(tmp, "edgewise.db")
        master, slave = os.openpty()
        stack.callback(os.close, master)
        stack.callback(os.close, slave)

        self.settings = SimulationSettings(rooms=opts.rooms, seed=opts.seed)
        self.building = Building(opts.rooms, opts.seed, self.settings.start)
        inject(self.building, [leak_watts(self.building, f) for f in opts.faults])
        model = train_demo_model(opts.rooms, opts.seed, self.settings.start, tmp) if opts.control else None
        spots = harvesting_spots(self.building, opts.harvesting_nodes)
        self.config = demo_config(
            load_config(example_config_path()), os.ttyname(slave), (self.host, self.port),
            (up_host, up_port), self.db_path, self.building, self._outbox_max_rows, occupancy_model=model,
            harvesting={f"node-{node_id:04d}": spot.name for node_id, spot in spots},
            harvesting_types=self._harvesting_types, outdoor_sensor=OUTDOOR_SENSOR if opts.fault_detection else None,
        )
        if self._actuation is not None:
            self.config = self.config.model_copy(update={"actuation": self._actuation})
        self.clock = SimClock(self.settings.start)
        self.sim = Simulation(self.settings, self.clock, self.building, harvesting_nodes(self.config, spots, opts.seed))
        self.counter = UpstreamCounter(up_host, up_port, self.config)
        await self.start_agent()
        counter_task = asyncio.create_task(self.counter.run())
        stack.push_async_callback(self._stop_counter, counter_task)
        await _wait_until(lambda: self.counter.subscribed, 20.0)
        rng = random.Random(opts.seed * 104729)
        self.dongle = await stack.enter_async_context(
            Dongle(master, rng=rng, ack_timeout_s=self.faults.ack_timeout_s, ack_loss_prob=self.faults.ack_loss_prob,
                   duplicate_prob=self.faults.duplicate_prob, on_command=self.sim.apply_command)
        )
        self.zigbee = await stack.enter_async_context(
            ZigbeeNetwork(self.building, self.host, self.port, rng=random.Random(opts.seed * 104729 + 1),
                          outdoor_sensor=OUTDOOR_SENSOR if opts.fault_detection else None,
                          reporting=Reporting() if opts.zigbee_on_change else None)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_agent()
        await self._stack.aclose()

    async def start_agent(self) -> None:
        """Start (or restart) the agent on the same database and config."""
        if hasattr(self, "agent"):
            self._zigbee_received_before += self.agent.counters.mqtt_messages_received
            self._frames_received_before += self.agent.counters.frames_received
        self.agent = Agent(self.config, self.clock)
        self._stop = asyncio.Event()
        self._agent_task = asyncio.create_task(self.agent.run(self._stop))
        await self.agent.running.wait()
        await _wait_until(lambda: self.agent.status.mqtt_connected, 20.0)

    async def stop_agent(self) -> None:
        """Stop the agent the way SIGTERM does; the store is closed consistently."""
        if self._agent_task.done():
            return
        self._stop.set()
        await self._agent_task

    async def simulate(self, days: float, progress: Callable[[float], None] | None = None) -> None:
        """Run the simulation up to ``days`` after its start.

        With the control app on, each step waits until the agent has reacted to
        the step's readings (see :meth:`_settle_step`), so a seed reproduces the
        commands, the energy and the comfort of a run exactly.
        """
        apps = (self.agent.occupancy_control, self.agent.sensing_schedule)
        settle = self._settle_step if any(app is not None for app in apps) else None
        await self.sim.run(days, self.dongle, self.zigbee, progress, settle)

    @property
    def readings_emitted(self) -> int:
        """Everything the devices sent: reports, periodic states, and the states answering commands."""
        return self.sim.readings_emitted + self.zigbee.command_readings

    async def _settle_step(self, t: float) -> None:
        """Let the agent finish with step ``t``: reports committed (so the app has
        planned), commands confirmed (so the devices applied them at ``t``), and
        every Zigbee state ingested (so the next plan sees what the devices did).
        The sensing schedule's decision of the step, if one falls due, is made and
        acknowledged too, so the harvesting nodes change mode at a reproducible time."""
        app = self.agent.occupancy_control
        await self._caught_up(self._serial_behind)
        schedule = self.agent.sensing_schedule
        if schedule is not None:
            await self._caught_up(lambda: not schedule.caught_up(t))
            await schedule.idle()
        if app is None:
            return
        while True:
            await app.idle()
            await self._caught_up(self._zigbee_behind)
            if app.in_flight() == 0:
                break
        if t != self._last_scored:
            self._last_scored = t
            self.occupancy_score.observe(app, self.building)

    def _serial_behind(self) -> bool:
        """Frames the dongle sent that the agent has not decoded yet (its plans follow at once)."""
        received = self.agent.counters.frames_received + self._frames_received_before
        return received < self.dongle.frames_sent

    def _zigbee_behind(self) -> bool:
        received = self.agent.counters.mqtt_messages_received + self._zigbee_received_before
        return received < self.zigbee.device_messages_published

    async def _caught_up(self, behind: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while behind():
            if time.monotonic() > deadline:
                raise RuntimeError("the agent stopped receiving what the simulated devices send")
            await asyncio.sleep(0.0002)

    async def settle(self, timeout: float = 30.0) -> bool:
        """Wait until every emitted reading is stored and has reached the upstream consumer."""
        await self.sim.drain(self.dongle)
        emitted = self.readings_emitted
        return (
            await _wait_until(lambda: self.agent.store.count_readings() >= emitted, timeout)
            and await _wait_until(lambda: self.agent.store.outbox_size() == 0, timeout)
            and await _wait_until(lambda: self.counter.readings >= emitted, timeout)
        )

    def summary(self, wall_seconds: float) -> dict[str, object]:
        stats = self.agent.stats()
        return {
            "sim_days": self.options.days,
            "rooms": self.options.rooms,
            "seed": self.options.seed,
            "readings_emitted": self.readings_emitted,
            "readings_stored": self.agent.store.count_readings(),
            "duplicates_stored": self.agent.store.count_duplicate_readings(),
            "frames_received": stats["frames_received"],
            "frames_rejected": stats["frames_rejected"],
            "serial_duplicates_dropped": stats["serial_duplicates"],
            "dongle_retransmits": self.dongle.retransmits,
            "mqtt_messages_received": stats["mqtt_messages_received"],
            "mqtt_messages_rejected": stats["mqtt_messages_rejected"],
            "upstream_published": stats["upstream_published"],
            "upstream_received": self.counter.readings,
            "upstream_pending": stats["upstream_pending"],
            "stale_points": stats["stale_points"],
            "room_summary": room_summary(self.agent.points, self.building),
            **self.energy_summary(stats),
            "harvesting": self.harvesting_summary(),
            **self.fault_summary(),
            "wall_seconds": round(wall_seconds, 2),
        }

    def energy_summary(self, stats: dict[str, object]) -> dict[str, object]:
        """Energy and comfort of this run beside the same seed on the fixed schedule."""
        from firmware_sim.baseline import fixed_schedule_totals

        run = self.building.totals()
        base = fixed_schedule_totals(self.options.rooms, self.options.seed, self.settings.start,
                                     (self.building.time - self.settings.start) / 86400.0, self.settings.step_s)
        app = self.agent.occupancy_control
        return {
            "control": app is not None,
            "hvac_kwh": round(run.hvac_kwh, 3),
            "baseline_hvac_kwh": round(base.hvac_kwh, 3),
            "hvac_savings_pct": round(_savings_pct(run.hvac_kwh, base.hvac_kwh), 2),
            "lighting_kwh": round(run.lighting_kwh, 3),
            "baseline_lighting_kwh": round(base.lighting_kwh, 3),
            "lighting_savings_pct": round(_savings_pct(run.lighting_kwh, base.lighting_kwh), 2),
            "comfort_violation_degree_hours": round(run.comfort_violation_degree_hours, 3),
            "baseline_comfort_violation_degree_hours": round(base.comfort_violation_degree_hours, 3),
            "occupied_room_hours": round(run.occupied_hours, 2),
            "commands_requested": stats["commands_requested"],
            "commands_sent": stats["commands_sent"],
            "commands_blocked": stats["commands_blocked"],
            "commands_succeeded": stats["commands_succeeded"],
            "occupancy_accuracy": self.occupancy_score.accuracy(),
            "occupancy_control": app.summary() if app is not None else {},
        }

    def harvesting_summary(self) -> list[dict[str, object]]:
        """Per harvesting node: the simulator's truth (events, caught, brown-out, lowest
        voltage) beside what the gateway heard and chose."""
        schedule = self.agent.sensing_schedule
        seen = schedule.summary() if schedule is not None else {}
        rows = []
        for node in self.sim.harvesting:
            row = node.summary()
            gateway = seen.get(str(row["node"]), {})
            row.update(gateway_voltage=gateway.get("voltage"), mode=gateway.get("mode"),
                       decisions=gateway.get("decisions", 0), overdue_decisions=gateway.get("overdue_decisions", 0))
            rows.append(row)
        return rows

    def fault_summary(self) -> dict[str, object]:
        """The faults the gateway found (the store's table, ranked) beside those injected, and its last run."""
        app = self.agent.fault_detection
        last = app.runs[-1].summary() if app is not None and app.runs else None
        return {
            "fault_detection": last,
            "faults_found": [json.loads(row.item()) for row in self.agent.store.faults()],
            "faults_injected": [{"room": f.room_id, "kind": f.kind, "start": f.start,
                                 "day": round((f.start - self.settings.start) / 86400.0, 3)} for f in self.options.faults],
        }

    async def _stop_counter(self, task: asyncio.Task[None]) -> None:
        self.counter.stop()
        await task


def demo_config(
    base: Config,
    serial_port: str,
    devices_broker: tuple[str, int],
    upstream_broker: tuple[str, int],
    db: str,
    building: object,
    outbox_max_rows: int | None = None,
    *,
    occupancy_model: str | None = None,
    harvesting: Mapping[str, str] | None = None,
    harvesting_types: Mapping[str, Mapping[str, float]] | None = None,
    outdoor_sensor: str | None = None,
) -> Config:
    """The example config with only the site-specific parts replaced.

    With ``occupancy_model`` (a model file), the occupancy control app is on.
    ``harvesting`` (device → room id or ``corridor``) adds battery-free PIR nodes,
    scheduled by the sensing-schedule app; ``harvesting_types`` gives some of them
    their own node type (named after the device).  With ``outdoor_sensor`` (a Zigbee
    weather sensor's name) daily fault detection is on, reading its temperature.
    """
    rooms = getattr(building, "rooms")
    devices = {}
    zones = {}
    for room in rooms:
        node = f"node-{room.node_id:04d}"
        actuators = {
            room.thermostat_name: "heating_thermostat",
            room.plug_name: "hvac_switch",
            room.ventilation_name: "fan",
            room.light_name: "switch",
            node: "sensor_node",
        }
        for name in actuators:
            devices[name] = {"room": room.room_id, "name": None}
        # One guardrails zone per room: its node's temperature must stay fresh,
        # and these are the devices the agent may command.
        zones[room.room_id] = {"sensors": [f"{node}/temperature"], "actuators": actuators}
    energy = base.energy_harvesting.model_dump()
    for device, place in (harvesting or {}).items():
        devices[device] = {"room": place, "name": None}
        zone = zones.setdefault(place, {"sensors": [], "actuators": {}})  # the corridor has no sensors to go stale
        zone["actuators"][device] = "sensor_node"
        if device in (harvesting_types or {}):
            energy["node_types"][device] = dict((harvesting_types or {})[device])
        energy["nodes"][device] = device if device in energy["node_types"] else DEMO_NODE_TYPE
    serial = [base.serial[0].model_copy(update={"port": serial_port, "name": "demo-dongle"})]
    host, port = devices_broker
    mqtt = base.mqtt.model_copy(update={"host": host, "port": port}) if base.mqtt else None
    up_update: dict[str, object] = {"host": upstream_broker[0], "port": upstream_broker[1],
                                    "reconnect_initial_s": 0.2, "reconnect_max_s": 2.0}
    if outbox_max_rows is not None:
        up_update["outbox_max_rows"] = outbox_max_rows
    upstream = base.upstream.model_copy(update=up_update) if base.upstream else None
    data = base.model_dump()
    data.update(
        gateway={**data["gateway"], "database": db},
        serial=[s.model_dump() for s in serial],
        mqtt=mqtt.model_dump() if mqtt else None,
        upstream=upstream.model_dump() if upstream else None,
        store={**data["store"], "flush_interval_s": 0.001},
        devices=devices,
        guardrails={**data["guardrails"], "zones": zones},
        energy_harvesting=energy,
    )
    if occupancy_model is not None:
        control = {**data["apps"]["occupancy_control"], "enabled": True, "model": occupancy_model}
        data["apps"] = {**data["apps"], "occupancy_control": control}
    if outdoor_sensor is not None:
        devices[outdoor_sensor] = {"room": None, "name": "outdoor weather sensor"}
        faults = {**data["apps"]["fault_detection"], "enabled": True, "outdoor": f"{outdoor_sensor}/temperature"}
        data["apps"] = {**data["apps"], "fault_detection": faults}
    return Config.model_validate(data)


DEMO_NODE_TYPE = "ember"
OUTDOOR_SENSOR = "outdoor_weather"
DEMO_FAULT_DAY = 7.5
"""The demo's fault starts at noon of day 7, after the detectors' training week."""


def demo_fault(rooms: int) -> Fault:
    """What ``edgewise demo`` injects: the last room's heating valve leaks 20 % of its heater's
    rating, found by the gateway's run on day 9 (``--days 10``).  A leak, because the occupancy
    control app cannot hide it: a stuck time programme, say, it corrects by setting the empty
    room back, so there is little waste to find."""
    from firmware_sim.faults import Fault
    from firmware_sim.simulation import DEFAULT_START

    return Fault("leaking_valve", f"room{rooms:02d}", DEFAULT_START + DEMO_FAULT_DAY * 86400.0, 0.2)


def harvesting_nodes(config: Config, spots: list[tuple[int, Spot]], seed: int) -> list[HarvestingNode]:
    """The simulated harvesting nodes, each with the parameters of its configured node type."""
    from agent.energy import node_params
    from firmware_sim.nodes import HarvestingNode

    energy = config.energy_harvesting
    rng = random.Random(seed * 15485863)
    nodes = []
    for node_id, spot in spots:
        node_type = energy.node_types[energy.nodes[f"node-{node_id:04d}"]]
        nodes.append(HarvestingNode(node_id, spot, node_params(node_type), random.Random(rng.getrandbits(64))))
    return nodes


TRAINING_SEED_OFFSET = 7919
TRAINING_DAYS = 7.0
DEMO_MODEL_SPEC_CHANNELS = ("co2", "temperature", "humidity", "pir")


def train_demo_model(rooms: int, seed: int, start: float, directory: str) -> str:
    """Train the demo's occupancy model on a labelled week of *another* seed; returns its file.

    The nodes report every five minutes, so the features use five-minute slots.
    Light is left out on purpose: once the agent switches lights off, illuminance
    says more about the agent than about people (docs/occupancy.md).
    """
    from agent.apps.occupancy.features import FeatureSpec
    from agent.apps.occupancy.training import LabelledSeries, train_rooms
    from firmware_sim.labelled import labelled_rooms

    spec = FeatureSpec(channels=DEMO_MODEL_SPEC_CHANNELS, time=False, step_s=300.0, hold_s=600.0)
    data = labelled_rooms(max(rooms, 4), seed + TRAINING_SEED_OFFSET, start, TRAINING_DAYS)
    wanted = ("co2", "temperature", "humidity", "pir_count")
    series = [LabelledSeries(r.ts, {c: r.values[c] for c in wanted}, r.occupied) for r in data]
    model = train_rooms(series, spec, timezone.utc)
    model.info["trained_on"] = f"simulated building, seed {seed + TRAINING_SEED_OFFSET}, {TRAINING_DAYS:g} days"
    path = os.path.join(directory, "occupancy-model.json")
    model.save(path)
    return path


class OccupancyScore:
    """How often the app's occupancy estimate matched the simulator's truth, per room-minute."""

    def __init__(self) -> None:
        self.correct = 0
        self.total = 0

    def observe(self, app: object, building: object) -> None:
        for zone, room in getattr(app, "rooms").items():
            if room.occupied is None:
                continue
            truth = getattr(building, "room")(zone).occupants > 0
            self.total += 1
            self.correct += room.occupied == truth

    def accuracy(self) -> float | None:
        return round(self.correct / self.total, 4) if self.total else None


def _savings_pct(run: float, baseline: float) -> float:
    return 100.0 * (1.0 - run / baseline) if baseline > 0 else 0.0


class UpstreamCounter:
    """A consumer of the gateway's upstream topics, as a building's back end would be.

    It keeps a persistent session and reconnects, so an upstream broker outage
    (tests stop the broker on purpose) loses nothing on this side either.
    ``received`` keeps, per device, every (point, ts) in arrival order.
    """

    def __init__(self, host: str, port: int, config: Config) -> None:
        assert config.upstream is not None
        self._host, self._port = host, port
        self._topic = f"{config.upstream.topic_prefix}/{config.gateway.id}/readings/#"
        self._identifier = f"edgewise-demo-consumer-{config.gateway.id}-{os.getpid()}-{id(self):x}"
        self.readings = 0
        self.messages = 0
        self.received: dict[str, list[tuple[str, float]]] = {}
        self.subscribed = False
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                log.info("upstream consumer: %s; reconnecting", exc)
                await asyncio.sleep(0.2)

    async def _session(self) -> None:
        async with aiomqtt.Client(
            self._host, self._port, identifier=self._identifier, clean_session=False, logger=client_logger()
        ) as client:
            await client.subscribe(self._topic, qos=1)
            self.subscribed = True
            reader = asyncio.create_task(self._read(client))
            stopper = asyncio.create_task(self._stop.wait())
            try:
                await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            if reader.done() and not reader.cancelled() and reader.exception() is not None:
                raise reader.exception()  # type: ignore[misc]

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            if not isinstance(payload, bytes | bytearray):
                continue
            body = json.loads(payload)
            self.messages += 1
            self.readings += len(body["readings"])
            seen = self.received.setdefault(body["device"], [])
            seen.extend((r["point"], r["ts"]) for r in body["readings"])


def room_summary(points: PointTable, building: object) -> list[dict[str, object]]:
    """Per room: the rolling statistics the agent holds, beside the simulator's HVAC energy."""
    rows = []
    for room in getattr(building, "rooms"):
        node = f"node-{room.node_id:04d}"
        row: dict[str, object] = {"room": room.room_id}
        for channel in ("temperature", "co2", "illuminance"):
            point = f"{node}/{channel}"
            if point in points:
                s = points.summary(point)
                f = points.features(point)
                row[channel] = {"mean": round(s.mean, 2), "min": round(s.min, 2), "max": round(s.max, 2),
                                "last": round(s.last, 2), "n": s.count, "std": round(f["std"], 3),
                                "slope_per_reading": round(f["slope"], 4)}
        row["hvac_energy_kwh"] = round(room.hvac_energy_kwh, 3)
        rows.append(row)
    return rows


def format_summary(summary: dict[str, object]) -> str:
    lines = [
        f"edgewise demo: {summary['sim_days']} simulated day(s), {summary['rooms']} rooms, seed {summary['seed']}",
        f"  readings emitted by the simulator  {summary['readings_emitted']}",
        f"  readings stored (exactly once)     {summary['readings_stored']}  (duplicates {summary['duplicates_stored']})",
        f"  serial frames received / rejected  {summary['frames_received']} / {summary['frames_rejected']}"
        f"  (retransmits {summary['dongle_retransmits']}, duplicates dropped {summary['serial_duplicates_dropped']})",
        f"  MQTT messages received / rejected  {summary['mqtt_messages_received']} / {summary['mqtt_messages_rejected']}",
        f"  upstream published / received / pending  {summary['upstream_published']} / "
        f"{summary['upstream_received']} / {summary['upstream_pending']}",
        f"  wall time                          {summary['wall_seconds']} s",
        "",
        *_energy_lines(summary),
        *_harvesting_lines(summary),
        *_fault_lines(summary),
        "  room     temp mean (min–max) over the last window   CO2 last   HVAC energy",
    ]
    for row in summary["room_summary"]:  # type: ignore[union-attr]
        t = row.get("temperature", {})
        c = row.get("co2", {})
        lines.append(
            f"  {row['room']:<8} {t.get('mean', float('nan')):5.1f} °C ({t.get('min', float('nan')):.1f}–"
            f"{t.get('max', float('nan')):.1f})"
            f"{'':22}{c.get('last', float('nan')):6.0f} ppm  {row['hvac_energy_kwh']:7.2f} kWh"
        )
    return "\n".join(lines)


def _energy_lines(summary: dict[str, object]) -> list[str]:
    """This run beside the same seed on the fixed programme."""
    label = "occupancy control" if summary["control"] else "no control (--no-control)"
    accuracy = summary["occupancy_accuracy"]
    lines = [
        f"  {'':34}{label:>18}  {'fixed schedule':>14}",
        f"  {'HVAC energy':34}{summary['hvac_kwh']:>14.2f} kWh  {summary['baseline_hvac_kwh']:>10.2f} kWh"
        f"   saved {summary['hvac_savings_pct']:.1f} %",
        f"  {'lighting energy':34}{summary['lighting_kwh']:>14.2f} kWh  {summary['baseline_lighting_kwh']:>10.2f} kWh"
        f"   saved {summary['lighting_savings_pct']:.1f} %",
        f"  {'comfort violation while occupied':34}{summary['comfort_violation_degree_hours']:>15.2f} Kh"
        f"  {summary['baseline_comfort_violation_degree_hours']:>11.2f} Kh",
        f"  commands requested / sent / blocked / confirmed  {summary['commands_requested']} / "
        f"{summary['commands_sent']} / {summary['commands_blocked']} / {summary['commands_succeeded']}",
    ]
    if accuracy is not None:
        lines.append(f"  occupancy estimate right, per room-minute     {float(accuracy) * 100:.1f} %")  # type: ignore[arg-type]
    return lines + [""]


def _harvesting_lines(summary: dict[str, object]) -> list[str]:
    """Per harvesting node: motion in its view, what it caught, brown-out, lowest voltage, last mode."""
    rows = summary.get("harvesting") or []
    if not rows:
        return []
    lines = ["  harvesting node  place      events  caught  detect %  brown-out h  min V  mode chosen last"]
    for row in rows:  # type: ignore[union-attr]
        pct = row["detection_pct"]
        lines.append(
            f"  {row['node']:<16} {row['spot']:<9} {row['events']:>7} {row['events_caught']:>7}"
            f"  {'–' if pct is None else f'{pct:.1f} %':>8}  {row['brownout_h']:>11.1f}  {row['min_voltage']:.2f}"
            f"  {row['mode'] or '–'}"
        )
    return lines + [""]


def _fault_lines(summary: dict[str, object]) -> list[str]:
    """What the gateway's daily fault detection found, beside what the simulator injected."""
    last = summary.get("fault_detection")
    if not isinstance(last, dict):
        return []
    injected = ", ".join(f"{f['kind']} in {f['room']} from day {f['day']:g}"
                         for f in summary["faults_injected"]) or "none"  # type: ignore[union-attr]
    lines = [f"  fault detection (daily, on {last['days']} day(s) of stored history)   injected: {injected}"]
    if last["insufficient_data"]:
        lines.append(f"    insufficient data for {len(last['insufficient_data'])} of {last['rooms']} rooms "
                     "(the detectors train on 7 days, then score; try --days 10)")
    found = summary["faults_found"]
    for rank, f in enumerate(found, 1):  # type: ignore[arg-type]
        lines.append(f"    {rank}. {f['room']:<8} {f['kind']:<14} {f['waste_kwh_per_day']:6.2f} kWh/day wasted"
                     f"  ({', '.join(f['detectors'])})")
    if not found and not last["insufficient_data"]:
        lines.append("    no faults found")
    return lines + [""]


def _progress(options: DemoOptions) -> Callable[[float], None]:
    interactive = sys.stderr.isatty() and not options.json
    state = {"last": -1}

    def report(fraction: float) -> None:
        percent = int(fraction * 100)
        if percent == state["last"]:
            return
        state["last"] = percent
        day = fraction * options.days
        if interactive:
            print(f"\rsimulating: day {day:5.2f} of {options.days:g} [{percent:3d}%]", end="", file=sys.stderr)
            if percent == 100:
                print(file=sys.stderr)
        elif percent % 25 == 0:
            print(f"simulating: day {day:.2f} of {options.days:g} ({percent}%)", file=sys.stderr)

    return report


async def _wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            log.warning("demo: gave up waiting after %.0f s", timeout)
            return False
        await asyncio.sleep(0.02)
    return True


def _parse_broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"edgewise demo: --broker must be HOST:PORT, got {text!r}")
    return host, int(port)
