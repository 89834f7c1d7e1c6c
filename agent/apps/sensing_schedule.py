"""Energy-budgeted sensing on the gateway: each harvesting node's mode, decided hourly.

At every decision step of event time (``energy_harvesting.decision_interval_s``,
a minute after the step so that the reports sent on the hour are in) the app
asks the configured policy (docs/energy-harvesting.md: the learned table by
default, or the greedy thresholds) for each scheduled node's sensing mode, from
what the gateway knows: the local hour, and the supercapacitor voltage and mean
light in the node's last report.  Whatever differs from what the node is known
to run is asked for through :meth:`Agent.request <agent.service.Agent.request>`
(``pir_enable``, ``report_interval_s``), so the guardrails and the audit trail
apply; a command the node did not acknowledge leaves its setting unknown, and
the next decision sends it again.

A node that is overdue (no report for its report interval plus a grace) has
probably browned out.  It cannot hear the gateway until it restarts, and when
it does its capacitor is just above the restart voltage: so the app decides for
that state (``v_restart`` of the node's type, the last light it reported) and
the dongle keeps the command for the node's restart.  Once it reports again,
its real voltage is used.  The app never needs a reading to exist: a node never
heard and not yet overdue is simply left on its firmware's default.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from agent import _core
from agent.apps.errors import AppSetupError
from agent.apps.pending import PendingRequests
from agent.clock import Clock
from agent.config.schema import EnergyHarvestingConfig
from agent.energy import MODES, make_policy, node_params
from agent.guardrails import ActionRequest
from agent.guardrails.targets import PIR_ENABLE, REPORT_INTERVAL, Registry
from agent.ingest.reading import Reading
from agent.store import AuditRecord, Outcome

log = logging.getLogger(__name__)

APP = "sensing_schedule"
DECISION_LAG_S = 60.0
"""Decisions come this long after each step, so a report sent on the hour is already in."""
SILENCE_GRACE_S = 300.0
"""A node is overdue when no report came within its report interval plus this."""
FIRMWARE_DEFAULT = (True, 900)
"""What a node runs until the gateway knows better: PIR on, a report every 15 minutes."""
_SUCCESS = frozenset({Outcome.ACKED, Outcome.CONFIRMED})

Requester = Callable[[ActionRequest], Awaitable[AuditRecord]]


class PolicyError(AppSetupError):
    """The configured scheduling policy cannot be loaded (``edgewise run`` exits 2 with the message)."""


def load_policy(config: EnergyHarvestingConfig) -> _core.Policy:
    """The configured policy; the learned one from ``policy_file`` or the shipped table."""
    table = Path(config.policy_file) if config.policy_file else None
    try:
        return make_policy(config.policy, table)
    except ValueError as exc:
        raise PolicyError(f"energy_harvesting.policy_file: {exc}") from None


@dataclass(slots=True)
class NodeState:
    """What the gateway knows about one scheduled node."""

    device: str
    zone: str
    v_restart: float
    expect_by: float
    """Event time by which the next report should have come."""
    heard_ts: float | None = None
    voltage: float | None = None
    lux: float | None = None
    pir_on: bool | None = None
    """The PIR setting the node acknowledged; ``None`` until then (or after a lost command)."""
    interval_s: int | None = None
    decisions: int = 0
    overdue_decisions: int = 0
    modes: dict[int, int] = field(default_factory=dict)
    mode: int | None = None
    """The mode last chosen."""
    was_overdue: bool = False

    def overdue(self, now: float) -> bool:
        return now > self.expect_by

    def heard(self, ts: float) -> None:
        """A report at ``ts``: the next one is due one report interval later."""
        self.heard_ts = ts
        self.expect_by = ts + self.current_interval() + SILENCE_GRACE_S

    def current_interval(self) -> int:
        return self.interval_s if self.interval_s is not None else FIRMWARE_DEFAULT[1]


@dataclass(frozen=True, slots=True)
class Observation:
    """What a decision is made from, and how it reads in the audit trail."""

    hour: int
    voltage: float
    lux: float
    overdue: bool
    basis: str


def observe(node: NodeState, now: float, hour: int) -> Observation | None:
    """The policy's input for ``node`` at ``now``; ``None`` while there is nothing to decide from."""
    if node.overdue(now):
        since = "since the start" if node.heard_ts is None else f"for {(now - node.heard_ts) / 3600:.1f} h"
        lux = node.lux if node.lux is not None else 0.0
        basis = f"no report {since} (browned out?): deciding for its restart at {node.v_restart:.2f} V"
        return Observation(hour, node.v_restart, lux, True, basis)
    if node.voltage is None or node.heard_ts is None:
        return None
    lux = node.lux if node.lux is not None else 0.0
    age = (now - node.heard_ts) / 60
    basis = f"last report {node.voltage:.2f} V, {lux:.0f} lx, {age:.0f} min ago"
    return Observation(hour, node.voltage, lux, False, basis)


def describe(mode: int) -> str:
    pir, interval = MODES[mode]
    every = f"{interval / 3600:g} h" if interval >= 3600 else f"{interval / 60:g} min"
    return f"PIR {'on' if pir else 'off'}, a report every {every}"


class SensingSchedule:
    """The app; the agent feeds :meth:`on_readings`, runs :meth:`run`, and stops it with :meth:`close`."""

    def __init__(
        self,
        config: EnergyHarvestingConfig,
        registry: Registry,
        policy: _core.Policy,
        request: Requester,
        clock: Clock,
        tz: tzinfo,
    ) -> None:
        self.config = config
        self.policy = policy
        self._request = request
        self._clock = clock
        self._tz = tz
        self.interval_s = config.decision_interval_s
        now = clock.now()
        self.nodes: dict[str, NodeState] = {}
        for device, node_type in config.nodes.items():
            found = registry.kind_of(device)
            if found is None:  # the configuration's validation rules this out
                raise ValueError(f"energy_harvesting.nodes: {device} is in no guardrails zone")
            params = node_params(config.node_types[node_type])
            self.nodes[device] = NodeState(
                device, found[0], params.v_restart, expect_by=now + FIRMWARE_DEFAULT[1] + SILENCE_GRACE_S
            )
        self.decided_at = self._step_at_or_before(now)
        """Event time of the latest decision step handled (the start counts as handled)."""
        self._pending = PendingRequests()
        self._closed = False
        self.requests = 0

    # -- inputs ------------------------------------------------------------------

    def on_readings(self, readings: Iterable[Reading]) -> None:
        """Keep each scheduled node's last voltage and light (the policy's inputs)."""
        for r in readings:
            node = self.nodes.get(r.device)
            if node is None or not math.isfinite(r.value):
                continue
            if node.heard_ts is not None and r.ts < node.heard_ts:
                continue  # an older report arriving late says nothing new
            if r.channel == "supercap_voltage":
                node.voltage = r.value
                node.heard(r.ts)
            elif r.channel == "illuminance":
                node.lux = r.value
                node.heard(r.ts)

    # -- the decision loop ---------------------------------------------------------

    async def run(self) -> None:
        """Decide at every step of event time until cancelled."""
        while True:
            step = self._step_at_or_before(self._clock.now()) + self.interval_s
            await self._clock.sleep(step - self._clock.now())
            if self._closed:
                return
            self.decide(self._step_at_or_before(self._clock.now()))

    def caught_up(self, now: float) -> bool:
        """Whether the decision of the latest step at or before ``now`` has been made."""
        return self._step_at_or_before(now) <= self.decided_at

    def decide(self, step: float) -> None:
        """Choose every node's mode at decision step ``step`` and ask for what changes."""
        try:
            hour = datetime.fromtimestamp(step - DECISION_LAG_S, self._tz).hour
            for node in self.nodes.values():
                try:
                    self._decide(node, step, hour)
                except Exception:  # one node's bad data must not stop the others
                    log.exception("sensing schedule: could not decide for %s", node.device)
        finally:
            self.decided_at = max(self.decided_at, step)

    def _decide(self, node: NodeState, now: float, hour: int) -> None:
        obs = observe(node, now, hour)
        if obs is None:
            return
        if obs.overdue != node.was_overdue:
            node.was_overdue = obs.overdue
            if obs.overdue:
                log.warning("sensing schedule: %s is overdue: %s", node.device, obs.basis)
            else:
                log.info("sensing schedule: %s reports again (%s)", node.device, obs.basis)
        mode = int(self.policy.decide(obs.hour, obs.voltage, obs.lux))
        node.mode = mode
        node.decisions += 1
        node.overdue_decisions += obs.overdue
        node.modes[mode] = node.modes.get(mode, 0) + 1
        pir, interval = MODES[mode]
        reason = f"{self.config.policy} policy at {hour:02d}:00, {obs.basis} → {describe(mode)}"
        if node.pir_on is not pir:
            self._ask(node, PIR_ENABLE, int(pir), reason)
        if node.interval_s != int(interval):
            self._ask(node, REPORT_INTERVAL, int(interval), reason)

    def _ask(self, node: NodeState, attribute: str, value: int, reason: str) -> None:
        key = (node.device, attribute)
        if self._closed or key in self._pending:
            return
        req = ActionRequest(APP, node.device, attribute, value, reason, node.zone)
        self.requests += 1
        self._pending.start(key, self._send(node, req), name=f"{APP}:{node.device}")

    async def _send(self, node: NodeState, req: ActionRequest) -> None:
        try:
            record = await self._request(req)
            ok = record.outcome in _SUCCESS
            sent = record.sent
        except Exception as exc:  # the agent stopping (ActuationClosed) or a bug: log, never raise
            log.info("sensing schedule: %s %s=%r not carried out: %s", req.device, req.attribute, req.value, exc)
            ok, sent = False, None
        self._learn(node, req.attribute, sent if ok else None, self._clock.now())

    def _learn(self, node: NodeState, attribute: str, value: object, now: float) -> None:
        """What the node now runs: the acknowledged value, or unknown after a lost command."""
        if attribute == PIR_ENABLE:
            node.pir_on = None if value is None else bool(value)
            return
        node.interval_s = None if value is None else int(value)  # type: ignore[call-overload]
        if not node.overdue(now):
            # A longer interval pushes the next report out; the node has until then.
            # (An overdue node stays overdue until it reports: the dongle acked for it.)
            node.expect_by = max(node.expect_by, now + node.current_interval() + SILENCE_GRACE_S)

    # -- lifecycle -----------------------------------------------------------------

    def in_flight(self) -> int:
        return len(self._pending)

    async def idle(self) -> None:
        """Wait until every request made so far has its outcome."""
        await self._pending.idle()

    def close(self) -> None:
        """Make no more requests; those in flight end when the actuator closes (then :meth:`idle`)."""
        self._closed = True

    def summary(self) -> dict[str, object]:
        """Per node: what the gateway last heard, the mode it chose, how often each mode was chosen."""
        return {
            device: {
                "voltage": node.voltage,
                "lux": node.lux,
                "heard_ts": node.heard_ts,
                "mode": describe(node.mode) if node.mode is not None else None,
                "decisions": node.decisions,
                "overdue": node.was_overdue,
                "overdue_decisions": node.overdue_decisions,
                "modes": {describe(m): n for m, n in sorted(node.modes.items())},
            }
            for device, node in self.nodes.items()
        }

    def _step_at_or_before(self, t: float) -> float:
        return math.floor((t - DECISION_LAG_S) / self.interval_s) * self.interval_s + DECISION_LAG_S

