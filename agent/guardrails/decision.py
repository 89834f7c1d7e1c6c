"""What an app asks for, and what the guardrails decide about it."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

from agent.guardrails.targets import Target
from agent.store.audit import Origin, Verdict, jsonable


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """An app's request to set one attribute of one device.

    The event time is not the app's to give: the agent stamps every request
    with its clock when it evaluates it, so no app can backdate a command past a
    minimum on-time or a rate limit.
    """

    app: str
    """Who asks, e.g. ``occupancy``; recorded in the audit row."""
    device: str
    """Zigbee2MQTT friendly name, or ``node-NNNN`` for a serial node."""
    attribute: str
    """E.g. ``occupied_heating_setpoint``, ``state``, ``report_interval_s``."""
    value: object
    """°C for setpoints, ``"ON"``/``"OFF"`` (or a bool) for switches, whole seconds for intervals."""
    reason: str = ""
    """Why the app asks, for people reading the audit trail."""
    zone: str | None = None
    """The zone the app believes the device is in; a mismatch is blocked."""
    setback: bool = False
    """An unoccupied-mode setpoint (G36 setback/setup): heating may go down to the
    zone's ``setback_heating_c`` and cooling up to ``setback_cooling_c`` instead
    of the occupied limits."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The guardrails' verdict on one request at one event time."""

    ts: float
    origin: Origin
    verdict: Verdict
    value: object | None
    """What to send; ``None`` when blocked."""
    rules: tuple[str, ...]
    """Rules that acted (modified or blocked), in evaluation order."""
    why: str
    target: Target | None
    """The resolved target; ``None`` when the device or attribute is unknown."""
    seq: int = 0
    """Number of the decision within its :class:`Guardrails`, to match outcomes to it."""

    @property
    def sent(self) -> bool:
        return self.verdict is not Verdict.BLOCKED


@dataclass(slots=True)
class Evaluation:
    """A request on its way through the rules; each rule may modify the value or block it."""

    request: ActionRequest
    origin: Origin
    now: float
    target: Target | None = None
    value: object = None
    blocked: bool = False
    modified: bool = False
    acted: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def block(self, rule: str, why: str) -> None:
        self.blocked = True
        self.acted.append(rule)
        self.reasons.append(why)

    def modify(self, rule: str, value: object, why: str) -> None:
        self.modified = True
        self.value = value
        self.acted.append(rule)
        self.reasons.append(why)

    def decision(self, seq: int) -> Decision:
        if self.blocked:
            verdict, value = Verdict.BLOCKED, None
        else:
            verdict, value = (Verdict.MODIFIED if self.modified else Verdict.ALLOWED), self.value
        why = "; ".join(self.reasons) or "within every limit"
        return Decision(self.now, self.origin, verdict, value, tuple(self.acted), why, self.target, seq)


def finite_number(value: object) -> float | None:
    """``value`` as a float if it is a real, finite number (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def show(value: object) -> str:
    """A value for a message: short, and never an exception (a 10**5000 cannot be printed)."""
    shown = jsonable(value)
    if isinstance(shown, float):
        return f"{shown:g}"
    return repr(shown) if isinstance(shown, str) and shown is value else str(shown)
