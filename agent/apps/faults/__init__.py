"""Fault detection and ranking by wasted energy (docs/faults.md)."""

from agent.apps.faults.detect import INSUFFICIENT_DATA, DetectedFault, Detection, DetectorConfig, detect
from agent.apps.faults.rules import Rule, RuleError, load_rules
from agent.apps.faults.series import SiteSeries

__all__ = [
    "INSUFFICIENT_DATA", "DetectedFault", "Detection", "DetectorConfig", "Rule", "RuleError", "SiteSeries",
    "detect", "load_rules",
]
