"""Labelled occupancy data in the UCI format, and training a model from it.

The UCI occupancy files (Candanedo and Feldheim, 2016) look like::

    "date","Temperature","Humidity","Light","CO2","HumidityRatio","Occupancy"
    "1","2015-02-04 17:51:00",23.18,27.272,426,721.25,0.00479298817650529,1

The header omits the row-id column that every row starts with.  Your own
labelled data can use the same layout: a ``date`` column (local time,
``YYYY-MM-DD HH:MM:SS``), any of the channel columns (UCI names or this
package's: ``co2``, ``humidity_ratio``, ``temperature``, ``humidity``,
``light``, ``pir``), and ``Occupancy`` (0 or 1); the id column is optional.
An empty cell is a missing reading.

Train and save a model::

    python3 -m agent.apps.occupancy.uci train datatraining.txt --out room.json [--no-light] [--no-time] [--hold-s S]
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from agent.apps.occupancy.features import CHANNELS, FeatureSpec, canonical, replay
from agent.apps.occupancy.model import OccupancyModel, fit_selected

UCI_NAMES = ("Temperature", "Humidity", "Light", "CO2", "HumidityRatio")
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class Labelled:
    """Rows of one room: times (local wall-clock time written as UTC seconds), readings per channel, labels."""

    path: str
    ts: np.ndarray
    values: dict[str, np.ndarray]
    occupancy: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    def rows(self, channels: Sequence[str] | None = None) -> Iterator[tuple[float, dict[str, float]]]:
        """``(ts, {channel: value})`` per row, leaving out missing (NaN) readings and unwanted channels."""
        names = [c for c in self.values if channels is None or c in channels]
        columns = [self.values[c] for c in names]
        for i, t in enumerate(self.ts.tolist()):
            yield t, {c: v for c, col in zip(names, columns) if not math.isnan(v := float(col[i]))}

    def days(self) -> np.ndarray:
        """The calendar day of each row: the groups for leave-one-day-out cross-validation."""
        return (self.ts // 86400).astype(np.int64)

    def head(self, n: int) -> Labelled:
        return Labelled(self.path, self.ts[:n], {k: v[:n] for k, v in self.values.items()}, self.occupancy[:n])


def load(path: str | Path) -> Labelled:
    """Read a UCI-format file; a malformed row raises ValueError naming the file and line."""
    path = Path(path)
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}:1: empty file, expected a header with date, channels and Occupancy")
        columns = _columns(path, header)
        ts, label, values = [], [], {ch: [] for ch in columns if ch not in ("date", "occupancy")}
        width = None  # fields per row: the first row decides whether rows start with an id
        for row in reader:
            if not row:
                continue
            width = width or (len(columns) + 1 if len(row) == len(columns) + 1 else len(columns))
            if len(row) != width:
                raise ValueError(f"{path}:{reader.line_num}: expected {width} fields like the first row,"
                                 f" got {len(row)}")
            t, y, readings = _row(path, reader.line_num, row[len(row) - len(columns):], columns)
            if ts and t < ts[-1]:
                raise ValueError(f"{path}:{reader.line_num}: time goes backwards ({_when(t)} after {_when(ts[-1])})")
            ts.append(t)
            label.append(y)
            for ch, v in readings.items():
                values[ch].append(v)
    return Labelled(str(path), np.array(ts, dtype=np.float64), {k: np.array(v) for k, v in values.items()},
                    np.array(label, dtype=np.int8))


def _columns(path: Path, header: list[str]) -> list[str]:
    names = []
    for i, raw in enumerate(header):
        key = raw.strip().lower()
        if key in ("date", "occupancy"):
            names.append(key)
        elif (channel := canonical(key)) is not None:
            names.append(channel)
        elif i == 0 and key in ("", "id"):
            continue  # an explicit id column: every row has it anyway
        else:
            raise ValueError(f"{path}:1: unknown column {raw!r}; expected date, Occupancy and channel columns"
                             f" ({', '.join(UCI_NAMES)} or {', '.join(CHANNELS)})")
    for need in ("date", "occupancy"):
        if need not in names:
            raise ValueError(f"{path}:1: the header has no {need!r} column")
    if len(set(names)) != len(names):
        raise ValueError(f"{path}:1: a column appears twice: {header}")
    return names


def _row(path: Path, line: int, row: list[str], columns: list[str]) -> tuple[float, int, dict[str, float]]:
    """One data row, without its id: the fields of the header's columns."""
    fields = dict(zip(columns, row))
    try:
        t = datetime.strptime(fields["date"].strip(), DATE_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ValueError(f"{path}:{line}: date {fields['date']!r} is not {DATE_FORMAT}") from None
    occ = fields["occupancy"].strip()
    if occ not in ("0", "1"):
        raise ValueError(f"{path}:{line}: Occupancy must be 0 or 1, got {occ!r}")
    readings = {}
    for ch in columns:
        if ch in ("date", "occupancy"):
            continue
        text = fields[ch].strip()
        try:
            v = float(text) if text else math.nan
        except ValueError:
            raise ValueError(f"{path}:{line}: {ch} is not a number: {text!r}") from None
        if math.isinf(v):
            raise ValueError(f"{path}:{line}: {ch} is infinite")
        readings[ch] = v
    return t, int(occ), readings


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime(DATE_FORMAT)


# -- training -----------------------------------------------------------------------


def features_of(data: Labelled, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows of labelled data and which rows were ready, computed by replaying the rows
    through the online feature code (:func:`~.features.replay`).

    The file's times are wall-clock times written as UTC, so the schedule is read in UTC.
    """
    return replay(data.rows(spec.channels), spec, UTC)


def train(data: Labelled, spec: FeatureSpec, l2_grid: Sequence[float] = (0.1, 1.0, 10.0)) -> OccupancyModel:
    """A model for ``spec`` from labelled rows; the penalty is chosen by leave-one-day-out CV on them."""
    missing = [c for c in spec.channels if c not in data.values]
    if missing:
        raise ValueError(f"{data.path}: no column for channel(s) {', '.join(missing)}")
    x, ready = features_of(data, spec)
    model = fit_selected(x[ready], data.occupancy[ready], data.days()[ready], spec, l2_grid)
    model.info.update({"trained_on": Path(data.path).name, "rows": int(ready.sum()),
                       "cross_validation": "leave-one-day-out on the training rows"})
    return model


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m agent.apps.occupancy.uci", description="train an occupancy model")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train on a labelled UCI-format file and save the model as JSON")
    t.add_argument("file", type=Path)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--no-light", action="store_true", help="leave the light channel out")
    t.add_argument("--no-time", action="store_true", help="no schedule prior (sensor evidence only)")
    t.add_argument("--channels", help="comma-separated channels (default: every channel the file has)")
    t.add_argument("--hold-s", type=float, default=FeatureSpec().hold_s, metavar="SECONDS",
                   help="how long a reading stands for a sensor that reports on change (default 600; "
                        "Zigbee sensors that report at least hourly: about 4500)")
    args = p.parse_args(argv)
    try:
        data = load(args.file)
        channels = args.channels.split(",") if args.channels else list(data.values)
        if args.no_light:
            channels = [c for c in channels if c != "light"]
        spec = FeatureSpec(channels=tuple(channels), time=not args.no_time, hold_s=args.hold_s)
        model = train(data, spec)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    model.save(args.out)
    print(f"saved {args.out}: channels {', '.join(model.spec.channels)}, time {model.spec.time},"
          f" l2 {model.l2:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
