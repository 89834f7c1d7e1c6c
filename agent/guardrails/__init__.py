"""Guardrails: the rules every command passes between the apps and the devices.

Apps build an :class:`ActionRequest` and hand it to the agent
(``await agent.request(req)``); the agent asks :class:`Guardrails` for a
:class:`Decision` and actuation sends what was allowed.  See docs/guardrails.md.
"""

from agent.guardrails.deadband import SetpointDeadband
from agent.guardrails.decision import ActionRequest, Decision
from agent.guardrails.guardrails import FAIL_SAFE_APP, RULE_ORDER, Guardrails, Sent, UnknownZoneError
from agent.guardrails.rules import (
    AntiShortCycle,
    InvalidValue,
    RateLimit,
    SetpointLimits,
    StaleSensorFailSafe,
    UnknownTarget,
    UserOverrideHold,
    ZoneAlert,
)
from agent.guardrails.targets import (
    COOLING_SETPOINT,
    FAN_MODE,
    HEATING_SETPOINT,
    PIR_ENABLE,
    REPORT_INTERVAL,
    STATE,
    Kind,
    Registry,
    Target,
    Transport,
)
from agent.store.audit import Origin, Override, Verdict

__all__ = [
    "COOLING_SETPOINT", "FAIL_SAFE_APP", "FAN_MODE", "HEATING_SETPOINT", "PIR_ENABLE", "REPORT_INTERVAL",
    "RULE_ORDER", "STATE",
    "ActionRequest", "AntiShortCycle", "Decision", "Guardrails", "InvalidValue", "Kind", "Origin", "Override",
    "RateLimit", "Registry", "Sent", "SetpointDeadband", "SetpointLimits", "StaleSensorFailSafe", "Target",
    "Transport", "UnknownTarget", "UnknownZoneError", "UserOverrideHold", "Verdict", "ZoneAlert",
]
