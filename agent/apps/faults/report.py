"""Detected faults into the store (alerts upstream once per new fault), and ``edgewise faults``.

Detection (agent.apps.faults.detect) is a pure function of the signals; this
module is the thin layer that remembers what it found, so a fault that is
still there on the next run updates its row instead of raising a second alert.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from typing import TextIO

import numpy as np

from agent.apps.faults.detect import DetectedFault, DetectorConfig, confirmed_from
from agent.apps.faults.series import DAY_S
from agent.store.faults import FaultRow
from agent.store.migrations import StoreError
from agent.store.store import Store

EXIT_USAGE = 2


def record(store: Store, faults: Sequence[DetectedFault], now: float, upstream_topic: str | None,
           confirm_days: int = DetectorConfig().confirm_days) -> list[FaultRow]:
    """Store ``faults`` (seen by a detection run at event time ``now``); return the new ones,
    which were also queued upstream on ``upstream_topic`` (e.g. agent.upstream.topics.faults_topic).

    A fault a person marked repaired stays repaired while what the run saw is from before the
    repair (the window still holds those days); it is reopened, and alerted again, only when it
    was confirmed again after the repair, by the detectors' own rule (``confirm_days``).
    """
    repaired = {(r.room, r.kind): r.repaired_ts for r in store.faults() if r.repaired_ts is not None}
    rows = []
    for f in faults:
        first = f.first_seen
        since = repaired.get((f.room, f.kind))
        if since is not None:
            came_back = confirmed_after(f.flagged_days, since, confirm_days)
            if came_back is None:
                continue
            first = came_back
        rows.append(FaultRow(f.room, f.kind, first, now, f.waste_kwh_per_day, f.detectors, f.evidence))
    return store.save_faults(rows, upstream_topic)


def confirmed_after(flagged_days: Sequence[float], since: float, confirm_days: int) -> float | None:
    """The first flagged day starting at or after ``since`` from which ``confirm_days`` flagged days
    fall within ``confirm_days + 1`` days (the detectors' confirmation rule); None if there is none."""
    after = np.array(sorted(t for t in flagged_days if t >= since))
    if not len(after):
        return None
    day = np.rint((after - after[0]) / DAY_S).astype(np.intp)
    flags = np.zeros((1, int(day[-1]) + 1), dtype=bool)
    flags[0, day] = True
    first = int(confirmed_from(flags, confirm_days)[0])
    return None if first < 0 else float(after[0] + first * DAY_S)


def faults_main(db: str | None, config_path: str, as_json: bool, out: TextIO | None = None) -> int:
    """``edgewise faults``: the stored faults, open ones first, most wasted energy first; 0, or 2
    with a message on stderr."""
    out = out if out is not None else sys.stdout
    try:
        with Store.open(_existing_database(db, config_path)) as store:
            rows = store.faults()
    except (_UsageError, StoreError) as exc:
        print(f"edgewise faults: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if as_json:
        out.write(json.dumps([json.loads(r.item()) for r in rows], ensure_ascii=False) + "\n")
    else:
        print_table(rows, out)
    return 0


def repaired_main(db: str | None, config_path: str, room: str, kind: str, *, by: str | None = None,
                  now: float | None = None, out: TextIO | None = None) -> int:
    """``edgewise faults --repaired ROOM KIND``: mark a stored fault repaired (wall-clock time);
    0, or 2 with a message on stderr (no database, no such fault)."""
    out = out if out is not None else sys.stdout
    who = by or _login()
    try:
        with Store.open(_existing_database(db, config_path)) as store:
            row = store.mark_fault_repaired(room, kind, time.time() if now is None else now, who)
            if row is None:
                known = ", ".join(f"{r.room} {r.kind}" for r in store.faults()) or "none"
                raise _UsageError(f"no fault {kind!r} in room {room!r} is recorded; recorded: {known}")
    except (_UsageError, StoreError) as exc:
        print(f"edgewise faults: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out.write(f"{room} {kind}: marked repaired by {who} at {_utc(row.repaired_ts or 0.0)} UTC;"
              " it is alerted again if the detectors confirm it after that\n")
    return 0


def print_table(rows: Sequence[FaultRow], out: TextIO) -> None:
    if not rows:
        out.write("no faults recorded\n")
        return
    out.write(f"{'rank':>4}  {'room':<14}{'fault':<16}{'kWh/day':>9}  {'first seen (UTC)':<17} "
              f"{'last seen (UTC)':<17} detectors\n")
    for rank, r in enumerate(rows, 1):
        out.write(f"{rank:>4}  {r.room:<14}{r.kind:<16}{r.waste_kwh_per_day:>9.2f}  {_utc(r.first_seen):<17} "
                  f"{_utc(r.last_seen):<17} {','.join(r.detectors)}\n      {r.evidence}\n")
        if r.repaired_ts is not None:
            out.write(f"      repaired {_utc(r.repaired_ts)} by {r.repaired_by}\n")


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def _login() -> str:
    try:
        return os.getlogin()
    except OSError:
        return os.environ.get("USER") or "unknown"


def _existing_database(db: str | None, config_path: str) -> str:
    path = db if db is not None else _database_of(config_path)
    if not os.path.exists(path):
        raise _UsageError(f"database {path} does not exist")
    return path


class _UsageError(Exception):
    pass


def _database_of(config_path: str) -> str:
    from agent.config.errors import ConfigError
    from agent.config.loader import load_config

    try:
        return load_config(config_path).gateway.database
    except ConfigError as exc:
        raise _UsageError("\n".join(str(issue) for issue in exc.issues)) from None
    except OSError as exc:
        raise _UsageError(f"cannot read {config_path}: {exc.strerror}; pass --db FILE") from None
