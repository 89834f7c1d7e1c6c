"""Guideline-36-style fault rules from a YAML file, evaluated on hourly signals.

Rules catch what a statistical detector finds late or cannot name: a sensor
that is exactly flat, ventilation at night, a heater that starts every few
minutes.  They live in a readable file (rules.yaml, shipped with the package)
so a facility engineer can read and tune them without touching code.  They
are compiled to a small table (``Rule.compiled``) and counted, hour by hour,
in the same native pass that summarises the series (day_stats.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ruamel.yaml import YAML

from agent import _core

SIGNALS: tuple[str, ...] = tuple(_core.FAULT_RULE_SIGNALS)
"""The hourly signals a condition may name (cpp/include/edgewise/room_day_stats.hpp defines them)."""

CompiledRule = tuple[list[tuple[str, float, float]], int]
"""([(signal, above, below), ...], hour mask): NaN for a missing bound, bit h for hour h."""


@dataclass(frozen=True, slots=True)
class Condition:
    signal: str
    above: float | None = None
    below: float | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    fault: str
    description: str
    conditions: tuple[Condition, ...]
    min_hours: int
    hours: tuple[int, int] | None = None

    def compiled(self) -> CompiledRule:
        """The rule as the native pass counts it: a NaN never meets a condition; an hour counts
        when every condition holds and the hour is within ``hours``."""
        conditions = [(c.signal, math.nan if c.above is None else c.above, math.nan if c.below is None else c.below)
                      for c in self.conditions]
        return conditions, sum(1 << h for h in range(24) if self.covers(h))

    def covers(self, hour: int) -> bool:
        """Whether ``hour`` (0-23) is within the rule's hours: [from, to), wrapping midnight when to < from."""
        if self.hours is None:
            return True
        start, stop = self.hours
        return start <= hour < stop if start <= stop else hour >= start or hour < stop


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
            hours=None if hours is None else _hours(hours),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise RuleError(f"{where}: rule {name!r}: {exc}") from None


def _hours(value: object) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f"hours must be [from, to], got {value!r}")
    start, stop = int(value[0]), int(value[1])
    if not (0 <= start <= 24 and 0 <= stop <= 24):
        raise ValueError(f"hours must lie between 0 and 24, got {value!r}")
    return start, stop


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
