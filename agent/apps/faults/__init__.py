"""Fault detection and ranking by wasted energy (docs/faults.md)."""

from agent.apps.faults.day_stats import DayStats, day_stats
from agent.apps.faults.detect import (
    INSUFFICIENT_DATA,
    DetectedFault,
    Detection,
    DetectorConfig,
    detect,
    score,
)
from agent.apps.faults.rules import Rule, RuleError, load_rules
from agent.apps.faults.series import SiteSeries

__all__ = [
    "INSUFFICIENT_DATA", "DayStats", "DetectedFault", "Detection", "DetectorConfig", "Rule", "RuleError",
    "SiteSeries", "day_stats", "detect", "load_rules", "score",
]
