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

from agent.apps.faults.detect import DetectedFault
from agent.store.faults import FaultRow
from agent.store.migrations import StoreError
from agent.store.store import Store

EXIT_USAGE = 2


def record(store: Store, faults: Sequence[DetectedFault], now: float, upstream_topic: str | None) -> list[FaultRow]:
    """Store ``faults`` (seen by a detection run at event time ``now``); return the new ones,
    which were also queued upstream on ``upstream_topic`` (e.g. agent.upstream.topics.faults_topic)."""
    rows = [
        FaultRow(f.room, f.kind, f.first_seen, now, f.waste_kwh_per_day, f.detectors, f.evidence)
        for f in faults
    ]
    return store.save_faults(rows, upstream_topic)


def faults_main(db: str | None, config_path: str, as_json: bool, out: TextIO | None = None) -> int:
    """``edgewise faults``: the stored faults, most wasted energy first; 0, or 2 with a message on stderr."""
    out = out if out is not None else sys.stdout
    try:
        path = db if db is not None else _database_of(config_path)
        if not os.path.exists(path):
            raise _UsageError(f"database {path} does not exist")
        with Store.open(path) as store:
            rows = store.faults()
    except (_UsageError, StoreError) as exc:
        print(f"edgewise faults: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if as_json:
        out.write(json.dumps([json.loads(r.item()) for r in rows], ensure_ascii=False) + "\n")
    else:
        print_table(rows, out)
    return 0


def print_table(rows: Sequence[FaultRow], out: TextIO) -> None:
    if not rows:
        out.write("no faults recorded\n")
        return
    out.write(f"{'rank':>4}  {'room':<14}{'fault':<16}{'kWh/day':>9}  {'first seen (UTC)':<17} detectors\n")
    for rank, r in enumerate(rows, 1):
        seen = time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.first_seen))
        out.write(f"{rank:>4}  {r.room:<14}{r.kind:<16}{r.waste_kwh_per_day:>9.2f}  {seen:<17} "
                  f"{','.join(r.detectors)}\n      {r.evidence}\n")


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
