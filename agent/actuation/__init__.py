"""Actuation: send what the guardrails allowed, confirm it, and audit every request.

Apps never use this package directly: they call ``await agent.request(req)``
(:class:`agent.service.Agent`), which evaluates the request with the guardrails
and hands the decision to :class:`Actuator`.
"""

from agent.actuation.actuator import ActuationClosed, ActuationStats, Actuator, OverrideResult
from agent.actuation.zigbee import NotConnected, ZigbeeCommander
from agent.guardrails.decision import ActionRequest
from agent.store.audit import AuditRecord, Outcome

__all__ = [
    "ActionRequest", "ActuationClosed", "ActuationStats", "Actuator", "AuditRecord", "NotConnected", "Outcome",
    "OverrideResult",
    "ZigbeeCommander",
]
