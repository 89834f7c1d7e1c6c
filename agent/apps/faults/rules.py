"""Guideline-36-style fault rules from a YAML file, evaluated on hourly signals.

Rules catch what a statistical detector finds late or cannot name: a sensor
that is exactly flat, ventilation at night, a heater that starts every few
minutes.  They live in a readable file (rules.yaml, shipped with the package)
so a facility engineer can read and tune them without touching code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from ruamel.yaml import YAML

SIGNALS: tuple[str, ...] = (
    "temperature_error", "temperature_span", "duty", "starts", "occupied", "ventilation", "setpoint",
    "heat_without_call",
)


@dataclass(frozen=True, slots=True)
class Condition:
    signal: str
    above: float | None = None
    below: float | None = None

    def holds(self, signals: Mapping[str, np.ndarray]) -> np.ndarray:
        """Boolean array; NaN (missing data) never meets a condition."""
        x = signals[self.signal]
        ok = np.isfinite(x)
        if self.above is not None:
            ok &= np.where(ok, x, 0.0) > self.above
        if self.below is not None:
            ok &= np.where(ok, x, 0.0) < self.below
        return ok


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    fault: str
    description: str
    conditions: tuple[Condition, ...]
    min_hours: int
    hours: tuple[int, int] | None = None

    def hours_met(self, signals: Mapping[str, np.ndarray]) -> np.ndarray:
        """(rooms, days) number of hours in each day that meet every condition."""
        met = np.ones_like(signals["duty"], dtype=bool)
        for condition in self.conditions:
            met &= condition.holds(signals)
        if self.hours is not None:
            start, stop = self.hours
            hour = np.arange(24)
            keep = (hour >= start) & (hour < stop) if start <= stop else (hour >= start) | (hour < stop)
            met &= keep
        return met.sum(axis=-1)

    def fires(self, signals: Mapping[str, np.ndarray]) -> np.ndarray:
        """(rooms, days) whether the rule fires on each room-day."""
        return self.hours_met(signals) >= self.min_hours


class RuleError(ValueError):
    """The rule file is not valid; the message names the rule and the problem."""


def default_rules_path() -> Path:
    return Path(str(resources.files("agent.apps.faults") / "rules.yaml"))


def load_rules(path: str | Path | None = None) -> tuple[Rule, ...]:
    """Rules from ``path`` (default: the packaged rules.yaml)."""
    where = Path(path) if path is not None else default_rules_path()
    data = YAML(typ="safe").load(where.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleError(f"{where}: expected a mapping with a 'rules' list")
    return tuple(_rule(item, where) for item in data["rules"])


def _rule(item: object, where: Path) -> Rule:
    if not isinstance(item, dict) or "name" not in item:
        raise RuleError(f"{where}: every rule needs a name, got {item!r}")
    name = str(item["name"])
    try:
        hours = item.get("hours")
        return Rule(
            name=name,
            fault=str(item["fault"]),
            description=str(item.get("description", "")),
            conditions=_conditions(item["when"]),
            min_hours=int(item.get("min_hours", 1)),
            hours=None if hours is None else (int(hours[0]), int(hours[1])),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise RuleError(f"{where}: rule {name!r}: {exc}") from None


def _conditions(when: object) -> tuple[Condition, ...]:
    if isinstance(when, dict) and "all" in when:
        return tuple(c for part in when["all"] for c in _conditions(part))
    if not isinstance(when, dict) or when.get("signal") not in SIGNALS:
        raise ValueError(f"a condition needs a signal out of {', '.join(SIGNALS)}, got {when!r}")
    if "above" not in when and "below" not in when:
        raise ValueError(f"condition on {when['signal']} needs 'above' or 'below'")
    above, below = when.get("above"), when.get("below")
    return (Condition(str(when["signal"]), None if above is None else float(above),
                      None if below is None else float(below)),)
