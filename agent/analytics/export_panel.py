"""``edgewise export-panel``: daily energy per zone from the gateway's store, as a panel CSV.

The output is the long format ``edgewise savings`` reads directly
(``zone,date,kwh,treated``), so a site's own meters answer "what did the
measure save?" — with the site's zones as the units.

**Energy.** Every reading on channel ``energy`` in kWh (Zigbee plugs and
lights report a cumulative ``energy`` counter, agent/ingest/zigbee.py) of a
device with a room in the ``devices`` table counts for that room's zone.
Counters are cumulative, so a day's energy is the counter's rise between two
midnights:

* between readings the counter is interpolated linearly, so energy across
  midnight is split by time, not given to whichever day saw the next reading;
* a counter that goes down was reset (a power cut, a re-paired plug): the
  reading after the reset counts from zero, and the reset is reported;
* readings further apart than ``max_gap_s`` are a *gap*: the energy across it
  is known from the counter but spread evenly over the gap, so gaps are
  reported, and a reset inside a gap loses the energy before the reset;
* a day is exported only when every zone's meters cover it (reach within
  ``max_gap_s`` of both its midnights), because ``savings`` needs a balanced
  panel; partial days at the ends are left out and counted.

Days are local days in the site's time zone (``guardrails.timezone`` of the
configuration, UTC without one).

**Treatment.** A zone is treated from the day the measure took effect there:

* ``--treated-from ZONE=DATE`` (repeatable) — the facility manager's own
  record, used when given; other zones are then controls;
* otherwise the first command the measure's app (``--app``, default the
  occupancy control app) sent to a device in the zone and the guardrails let
  through, by the audit trail.  The day of that command counts as treated.
  Other apps' commands do not count: the sensing scheduler, say, commands PIR
  nodes to save *their* batteries, not the building's energy.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

import numpy as np

from agent.apps.occupancy.control import APP as OCCUPANCY_APP
from agent.store.audit import Origin, Verdict
from agent.store.migrations import StoreError
from agent.store.store import Store

CHANNEL = "energy"
UNIT = "kWh"
DEFAULT_MAX_GAP_S = 3600.0
EXIT_USAGE = 2


class ExportError(ValueError):
    """Nothing sensible can be exported; the message says why."""


@dataclass(frozen=True)
class Gap:
    zone: str
    device: str
    start: float
    end: float


@dataclass(frozen=True)
class DeviceSeries:
    """One device's counter made continuous: resets undone, kWh since its first reading."""

    device: str
    ts: np.ndarray
    kwh: np.ndarray
    resets: int


@dataclass(frozen=True)
class ZonePanel:
    zones: tuple[str, ...]
    days: tuple[date, ...]
    kwh: np.ndarray
    """(zones × days) energy per local day."""
    treated_from: dict[str, date]
    gaps: list[Gap] = field(default_factory=list)
    resets: dict[str, int] = field(default_factory=dict)
    """Counter resets per device."""
    days_left_out: int = 0

    def treated(self) -> np.ndarray:
        return np.array([[z in self.treated_from and d >= self.treated_from[z] for d in self.days]
                         for z in self.zones], dtype=bool)

    def write_csv(self, path: str | Path) -> None:
        treated = self.treated()
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["zone", "date", "kwh", "treated"])
            for i, zone in enumerate(self.zones):
                for j, day in enumerate(self.days):
                    out.writerow([zone, day.isoformat(), f"{self.kwh[i, j]:.4f}", int(treated[i, j])])


def continuous_counter(device: str, ts: Sequence[float], values: Sequence[float]) -> DeviceSeries:
    """kWh since the first reading, a drop in the counter taken as a reset to zero."""
    v = np.asarray(values, dtype=np.float64)
    steps = np.diff(v)
    reset = steps < 0
    steps = np.where(reset, v[1:], steps)  # after a reset the counter restarted from zero
    return DeviceSeries(device, np.asarray(ts, dtype=np.float64), np.concatenate([[0.0], np.cumsum(steps)]),
                        int(reset.sum()))


def daily_energy(series: DeviceSeries, edges: np.ndarray, max_gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """kWh per day between consecutive ``edges`` (midnights), and which days the readings cover."""
    at_edges = np.interp(edges, series.ts, series.kwh)
    covered = (edges[:-1] >= series.ts[0] - max_gap_s) & (edges[1:] <= series.ts[-1] + max_gap_s)
    return np.diff(at_edges), covered


def zone_panel(store: Store, tz: tzinfo, *, treated_from: Mapping[str, date] | None = None,
               app: str = OCCUPANCY_APP, max_gap_s: float = DEFAULT_MAX_GAP_S) -> ZonePanel:
    """Daily kWh per zone from the store's energy counters (see the module doc)."""
    rooms = {d.name: d.room for d in store.devices() if d.room}
    by_zone: dict[str, list[DeviceSeries]] = {}
    gaps: list[Gap] = []
    for device, room in sorted(rooms.items()):
        rows = [r for r in store.readings(device=device, channel=CHANNEL) if r.unit == UNIT]
        if len(rows) < 2:
            continue
        series = continuous_counter(device, [r.ts for r in rows], [r.value for r in rows])
        by_zone.setdefault(room, []).append(series)
        wide = np.flatnonzero(np.diff(series.ts) > max_gap_s)
        gaps += [Gap(room, device, float(series.ts[k]), float(series.ts[k + 1])) for k in wide]
    if not by_zone:
        raise ExportError(f"no {CHANNEL!r} readings in {UNIT} from a device with a room: nothing to export")
    everything = [s for group in by_zone.values() for s in group]
    first = datetime.fromtimestamp(min(s.ts[0] for s in everything), tz).date()
    last = datetime.fromtimestamp(max(s.ts[-1] for s in everything), tz).date()
    all_days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    edges = np.array([_midnight(d, tz) for d in [*all_days, last + timedelta(days=1)]])
    zones = tuple(sorted(by_zone))
    kwh = np.zeros((len(zones), len(all_days)))
    covered = np.ones(len(all_days), dtype=bool)
    for i, zone in enumerate(zones):
        for series in by_zone[zone]:
            energy, ok = daily_energy(series, edges, max_gap_s)
            kwh[i] += energy
            covered &= ok
    keep = np.flatnonzero(covered)
    if not len(keep):
        raise ExportError("no day is covered by every zone's meters from midnight to midnight")
    keep = np.arange(keep[0], keep[-1] + 1)  # a gap day inside the range stays: the counter knows its energy
    treated = dict(treated_from) if treated_from else _first_app_commands(store, tz, set(zones), app)
    resets = {s.device: s.resets for s in everything if s.resets}
    return ZonePanel(zones, tuple(all_days[k] for k in keep), kwh[:, keep], treated, gaps, resets,
                     len(all_days) - len(keep))


def _midnight(day: date, tz: tzinfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def _first_app_commands(store: Store, tz: tzinfo, zones: set[str], app: str) -> dict[str, date]:
    """Per zone, the local day of the first command ``app`` sent there (the audit trail is in time order)."""
    first: dict[str, date] = {}
    for record in store.audit(app=app):
        if record.zone in zones and record.zone not in first and record.origin is Origin.APP \
                and record.verdict is not Verdict.BLOCKED:
            first[record.zone] = datetime.fromtimestamp(record.ts, tz).date()
    return first


def parse_treated_from(items: Sequence[str]) -> dict[str, date]:
    """``ZONE=YYYY-MM-DD`` pairs."""
    out: dict[str, date] = {}
    for item in items:
        zone, sep, day = item.partition("=")
        try:
            if not sep or not zone:
                raise ValueError
            out[zone] = date.fromisoformat(day)
        except ValueError:
            raise ExportError(f"--treated-from {item!r}: expected ZONE=YYYY-MM-DD") from None
    return out


def export_panel_main(out: Path, db: str | None, config_path: str, treated_from: Sequence[str],
                      timezone_name: str | None, max_gap_s: float, app: str = OCCUPANCY_APP) -> int:
    """``edgewise export-panel``: write the CSV, one summary line on stdout, warnings on stderr; 0 or 2."""
    from agent.guardrails.schedule import time_zone

    try:
        path, zone_name = (db, "UTC") if db is not None else _database_and_zone(config_path)
        if not os.path.exists(path):
            raise ExportError(f"database {path} does not exist")
        tz = time_zone(timezone_name or zone_name)
        with Store.open(path) as store:
            panel = zone_panel(store, tz, treated_from=parse_treated_from(treated_from), app=app,
                               max_gap_s=max_gap_s)
        unknown = sorted(set(panel.treated_from) - set(panel.zones))
        if unknown:
            raise ExportError(f"--treated-from names zones without energy readings: {', '.join(unknown)}; "
                              f"zones with readings: {', '.join(panel.zones)}")
        panel.write_csv(out)
    except (ExportError, StoreError, OSError, LookupError) as exc:
        print(f"edgewise export-panel: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for gap in panel.gaps:
        print(f"edgewise export-panel: gap in {gap.device} ({gap.zone}) from {_when(gap.start, tz)} to "
              f"{_when(gap.end, tz)}: its energy is spread evenly over the gap", file=sys.stderr)
    if not panel.treated_from:
        print(f"edgewise export-panel: no zone is treated (no --treated-from, no command by app {app!r}): "
              "every zone is written as a control", file=sys.stderr)
    for device, n in panel.resets.items():
        print(f"edgewise export-panel: counter of {device} was reset {n} time(s)", file=sys.stderr)
    print(json.dumps({
        "file": str(out), "zones": len(panel.zones), "days": len(panel.days),
        "first_day": panel.days[0].isoformat(), "last_day": panel.days[-1].isoformat(),
        "treated_from": {z: d.isoformat() for z, d in sorted(panel.treated_from.items())},
        "gaps": len(panel.gaps), "resets": sum(panel.resets.values()), "partial_days_left_out": panel.days_left_out,
    }))
    return 0


def _when(ts: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")


def _database_and_zone(config_path: str) -> tuple[str, str]:
    from agent.config.errors import ConfigError
    from agent.config.loader import load_config

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise ExportError("\n".join(str(issue) for issue in exc.issues)) from None
    except OSError as exc:
        raise ExportError(f"cannot read {config_path}: {exc.strerror}; pass --db FILE") from None
    return config.gateway.database, config.guardrails.timezone
