"""Upstream topic names, in one place so consumers and tests agree.

``<prefix>/<gateway_id>/availability``      retained ``online``/``offline`` (last will)
``<prefix>/<gateway_id>/readings/<device>`` JSON batches of readings, QoS 1
``<prefix>/<gateway_id>/audit``             JSON batches of audit records (docs/guardrails.md), QoS 1
``<prefix>/<gateway_id>/faults``            JSON batches of new-fault alerts (docs/faults.md), QoS 1
"""

from __future__ import annotations


def availability_topic(prefix: str, gateway_id: str) -> str:
    return f"{prefix}/{gateway_id}/availability"


def readings_topic(prefix: str, gateway_id: str, device: str) -> str:
    return f"{prefix}/{gateway_id}/readings/{device}"


def audit_topic(prefix: str, gateway_id: str) -> str:
    return f"{prefix}/{gateway_id}/audit"


def faults_topic(prefix: str, gateway_id: str) -> str:
    return f"{prefix}/{gateway_id}/faults"


def device_from_readings_topic(topic: str) -> str:
    """The device name at the end of a readings topic."""
    return topic.rsplit("/readings/", 1)[1]
