"""How well edgewise finds and ranks faults, beside PCA and IsolationForest on the same data.

Run from a source checkout::

    python3 -m benchmarks.faults                     # 1,000 rooms x 365 days (slow: see README)
    python3 -m benchmarks.faults --rooms 200 --days 60 --json
    python3 -m benchmarks.faults --cache /var/tmp/edgewise-faults   # simulate once, re-run in seconds

A building of ``--rooms`` rooms (simulated in blocks of up to 50 rooms, each
block its own seeded ``firmware_sim`` building, in parallel processes) runs
for ``--days`` days; about ``--rate`` of the rooms get one fault each
(firmware_sim/faults.py: every kind equally likely, starting after the
training days).  The truth is the simulator's: which room-days are faulty and
how much energy each fault wasted (against the fault-free twin room).

edgewise (agent.apps.faults: model, cluster & compare, rules) is scored on
faulty room-days and faulty rooms after the training days.  Its detection is
two steps, timed apart: one native pass that reduces the 15-minute series to
day statistics (day_stats.py; the daily profiles are among them) and the
scoring on those (detect.score).  The baselines score the very same daily
profiles, are fitted on the same training days, flag a room-day above the
99th percentile of their training scores, and confirm a room with the same
two-flagged-days rule.  Scoring times (fits included) are the median of
``--repeat`` wall-clock runs; they are never asserted in tests.  See
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

import firmware_sim
from agent.apps.faults import (
    DayStats,
    DetectorConfig,
    SiteSeries,
    day_stats,
    load_rules,
    score,
)
from agent.apps.faults.detect import confirmed_from
from firmware_sim.faults import FaultMix, draw_faults, simulate
from firmware_sim.simulation import DEFAULT_START

T = TypeVar("T")
BLOCK_ROOMS = 50
TRAIN_DAYS = DetectorConfig().train_days
PCA_COMPONENTS = 8
GOALS = {"room_precision": 0.9, "room_recall": 0.9, "waste_spearman": 0.8, "pca_speedup": 3.0,
         "isolation_forest_speedup": 20.0}


@dataclass
class Workload:
    series: SiteSeries
    faulty_day: np.ndarray
    """(rooms, days) the room had a fault on that day."""
    faulty_room: np.ndarray
    true_waste: np.ndarray
    """(rooms,) mean true waste per day since the fault started (0 for healthy rooms)."""
    kinds: list[str | None]


# -- workload ---------------------------------------------------------------------

BlockResult = tuple[dict[str, object], list[tuple[str, str, float]], np.ndarray]
BlockJob = tuple[int, int, int, float, int, str | None]


def _block(args: BlockJob) -> BlockResult:
    """One block of rooms, simulated, or read back from ``cache`` when this simulator made it."""
    block, rooms, days, rate, seed, cache = args
    path = None if cache is None else _cache_path(cache, args[:5])
    if path is not None and path.exists():
        return _load_block(path)
    result = _simulate_block(block, rooms, days, rate, seed)
    if path is not None:
        _save_block(path, result)
    return result


def _simulate_block(block: int, rooms: int, days: int, rate: float, seed: int) -> BlockResult:
    block_seed = seed * 1000 + block
    ids = [f"room{i + 1:02d}" for i in range(rooms)]
    mix = FaultMix(rate=rate, earliest_day=TRAIN_DAYS + 1.0, latest_day=max(TRAIN_DAYS + 1.0, days - 3.0))
    faults = draw_faults(ids, DEFAULT_START, days, mix, block_seed + 7)
    rec = simulate(rooms, block_seed, DEFAULT_START, days, faults)
    signals = rec.signals()
    signals["room_ids"] = tuple(f"b{block:03d}-{r}" for r in rec.room_ids)
    truth = [(f"b{block:03d}-{f.room_id}", f.kind, f.start) for f in rec.faults]
    return signals, truth, rec.daily_true_waste()


SIMULATOR_SOURCES = ("building.py", "faults.py", "occupants.py", "weather.py")
"""The firmware_sim modules a block's numbers depend on."""


def _simulator_digest() -> str:
    """Hash of the simulator's source: a cached block is reused only if the same code made it."""
    digest = hashlib.sha256()
    for name in SIMULATOR_SOURCES:
        path = Path(firmware_sim.__file__).parent / name
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_path(cache: str, key: tuple[int, int, int, float, int]) -> Path:
    block, rooms, days, rate, seed = key
    name = f"faults-{_simulator_digest()}-s{seed}-d{days}-r{rate:g}-b{block:03d}-n{rooms}.npz"
    return Path(cache) / name


def _save_block(path: Path, result: BlockResult) -> None:
    signals, truth, waste = result
    arrays = {k: np.asarray(v) for k, v in signals.items() if k != "room_ids"}
    meta = json.dumps({"room_ids": list(signals["room_ids"]), "truth": truth})  # type: ignore[call-overload]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, _meta=np.array(meta), _waste=waste, **arrays)
    partial.replace(path)  # a killed run never leaves a half-written block behind


def _load_block(path: Path) -> BlockResult:
    with np.load(path) as data:
        meta = json.loads(str(data["_meta"]))
        signals: dict[str, object] = {k: data[k] for k in data.files if not k.startswith("_")}
        signals["interval_s"] = float(signals["interval_s"])  # type: ignore[arg-type]
        waste = data["_waste"]
    signals["room_ids"] = tuple(meta["room_ids"])
    return signals, [tuple(t) for t in meta["truth"]], waste  # type: ignore[misc]


def make_workload(rooms: int, days: int, seed: int, rate: float, workers: int,
                  cache: str | None = None) -> Workload:
    sizes = [min(BLOCK_ROOMS, rooms - b) for b in range(0, rooms, BLOCK_ROOMS)]
    jobs = [(i, n, days, rate, seed, cache) for i, n in enumerate(sizes)]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_block, jobs))
    else:
        parts = [_block(job) for job in jobs]
    merged: dict[str, object] = {}
    for key in parts[0][0]:
        values = [p[0][key] for p in parts]
        if key == "room_ids":
            merged[key] = tuple(r for v in values for r in v)  # type: ignore[union-attr]
        elif key in ("t", "interval_s"):
            merged[key] = values[0]
        elif key == "heater_kw":
            merged[key] = np.concatenate(values)  # type: ignore[arg-type]
        else:
            merged[key] = np.concatenate(values, axis=0)  # type: ignore[arg-type]
    # Each block has its own weather, so the outdoor temperature is per room.
    merged["outdoor"] = np.concatenate([np.broadcast_to(p[0]["outdoor"], (n, len(p[0]["t"])))  # type: ignore
                                        for p, n in zip(parts, sizes)])
    series = SiteSeries(**merged)  # type: ignore[arg-type]
    waste_days = np.concatenate([p[2] for p in parts], axis=0)
    index = {r: i for i, r in enumerate(series.room_ids)}
    faulty_day = np.zeros((len(index), series.days), dtype=bool)
    true_waste = np.zeros(len(index))
    kinds: list[str | None] = [None] * len(index)
    for _, truth, _ in parts:
        for room, kind, start in truth:
            i = index[room]
            first = int((start - DEFAULT_START) // 86400.0)
            faulty_day[i, first:] = True
            true_waste[i] = waste_days[i, first:].mean()
            kinds[i] = kind
    return Workload(series, faulty_day, faulty_day.any(axis=1), true_waste, kinds)


# -- metrics ------------------------------------------------------------------------

def prf(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 of boolean predictions (0 where undefined)."""
    tp = float(np.sum(truth & predicted))
    precision = tp / max(1.0, float(predicted.sum()))
    recall = tp / max(1.0, float(truth.sum()))
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN below three pairs."""
    if len(a) < 3:
        return float("nan")
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for value in np.unique(x):  # average ties
        tied = x == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def from_day_flags(flags: np.ndarray, confirm: int) -> tuple[np.ndarray, np.ndarray]:
    """Faulty rooms and faulty room-days as a report would give them: a room is faulty once
    ``confirm`` flagged days fall within ``confirm + 1``, from its first flagged day on."""
    first = confirmed_from(flags, confirm)
    rooms = first >= 0
    days = rooms[:, None] & (np.arange(flags.shape[1]) >= first[:, None])
    return rooms, days


def metrics(work: Workload, rooms: np.ndarray, days: np.ndarray) -> dict[str, float]:
    scored = np.s_[:, TRAIN_DAYS:]
    p, r, f = prf(work.faulty_room, rooms)
    dp, dr, df = prf(work.faulty_day[scored], days[scored])
    return {"precision": p, "recall": r, "f1": f, "day_precision": dp, "day_recall": dr, "day_f1": df}


# -- the three scorers --------------------------------------------------------------

def timed(fn: Callable[[], T], repeat: int) -> tuple[T, float]:
    """fn's result and its median wall time over ``repeat`` calls (the first call pays for warming
    caches and thread pools, for edgewise and the baselines alike)."""
    times, result = [], None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, float(np.median(times))  # type: ignore[return-value]


def run_edgewise(work: Workload, repeat: int) -> tuple[dict[str, object], DayStats, float, float]:
    """Scores, the day statistics, and the seconds of the native pass over the series and of scoring."""
    cfg, rules = DetectorConfig(), load_rules()
    stats, features_s = timed(lambda: day_stats(work.series, cfg.train_days, rules, cfg.threads), repeat)
    found, score_s = timed(lambda: score(stats, cfg, rules), repeat)
    index = {r: i for i, r in enumerate(work.series.room_ids)}
    rooms = np.zeros(len(index), dtype=bool)
    days = np.zeros_like(work.faulty_day)
    estimate = np.zeros(len(index))
    for fault in found.faults:
        i = index[fault.room]
        rooms[i] = True
        days[i, int((fault.first_seen - work.series.t[0]) // 86400.0):] = True
        estimate[i] = fault.waste_kwh_per_day
    out: dict[str, object] = dict(metrics(work, rooms, days))
    out["_found"] = {f.room: True for f in found.faults}
    hit = rooms & work.faulty_room
    out["waste_spearman"] = spearman(estimate[hit], work.true_waste[hit])
    out["insufficient_data_rooms"] = float(sum(s == "insufficient_data" for s in found.status.values()))
    return out, stats, features_s, score_s


def _training_rows(profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All rows, training rows (finite), and the training mean and std used to standardise both."""
    rooms, days, width = profiles.shape
    rows = profiles.reshape(rooms * days, width)
    train = profiles[:, :TRAIN_DAYS].reshape(-1, width)
    train = train[np.isfinite(train).all(axis=1)]
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-6
    return (rows - mean) / std, (train - mean) / std, mean, std


def _flags_from_scores(score: np.ndarray, train_score: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    threshold = np.quantile(train_score, 0.99)
    flags = np.nan_to_num(score, nan=-np.inf).reshape(shape) > threshold
    flags[:, :TRAIN_DAYS] = False
    return flags


def run_pca(work: Workload, profiles: np.ndarray, repeat: int) -> tuple[dict[str, float], float]:
    def fit_and_flag() -> np.ndarray:
        rows, train, _, _ = _training_rows(profiles)
        centre = train.mean(axis=0)
        _, _, vt = np.linalg.svd(train - centre, full_matrices=False)
        basis = vt[:PCA_COMPONENTS]

        def error(x: np.ndarray) -> np.ndarray:
            d = x - centre
            return np.sum((d - (d @ basis.T) @ basis) ** 2, axis=1)

        return _flags_from_scores(error(rows), error(train), profiles.shape[:2])

    flags, seconds = timed(fit_and_flag, repeat)
    rooms, days = from_day_flags(flags, DetectorConfig().confirm_days)
    return metrics(work, rooms, days), seconds


def run_isolation_forest(work: Workload, profiles: np.ndarray, seed: int,
                         repeat: int) -> tuple[dict[str, float], float] | None:
    try:
        from sklearn.ensemble import IsolationForest
    except ImportError:
        return None

    def fit_and_flag() -> np.ndarray:
        rows, train, _, _ = _training_rows(profiles)
        forest = IsolationForest(n_estimators=100, random_state=seed).fit(train)
        finite = np.isfinite(rows).all(axis=1)
        score = np.full(len(rows), np.nan)
        score[finite] = -forest.score_samples(rows[finite])
        return _flags_from_scores(score, -forest.score_samples(train), profiles.shape[:2])

    flags, seconds = timed(fit_and_flag, repeat)
    rooms, days = from_day_flags(flags, DetectorConfig().confirm_days)
    return metrics(work, rooms, days), seconds


# -- report ---------------------------------------------------------------------------

def run(rooms: int, days: int, seed: int, rate: float, workers: int, cache: str | None = None,
        repeat: int = 7) -> dict[str, object]:
    if days < TRAIN_DAYS + 4:
        raise ValueError(f"days must be at least {TRAIN_DAYS + 4} (training days plus a few to score)")
    t0 = time.perf_counter()
    work = make_workload(rooms, days, seed, rate, workers, cache)
    simulate_s = time.perf_counter() - t0
    edgewise, stats, features_s, score_s = run_edgewise(work, repeat)
    found = edgewise.pop("_found")
    profiles = stats.profiles  # the baselines see the very profiles edgewise clusters
    pca, pca_s = run_pca(work, profiles, repeat)
    forest = run_isolation_forest(work, profiles, seed, repeat)
    result: dict[str, object] = {
        "rooms": rooms, "days": days, "seed": seed, "rate": rate, "faulty_rooms": int(work.faulty_room.sum()),
        "simulate_seconds": simulate_s, **edgewise, "edgewise_seconds": score_s,
        "edgewise_features_seconds": features_s, "edgewise_total_seconds": features_s + score_s,
        "numpy_pca_seconds": pca_s, **{f"pca_{k}": v for k, v in pca.items()},
        "machine": platform.machine(), "cpus": os.cpu_count(),
    }
    if forest is not None:
        result["isolation_forest_seconds"] = forest[1]
        result.update({f"isolation_forest_{k}": v for k, v in forest[0].items()})
    else:
        result["isolation_forest_seconds"] = None
        result["isolation_forest_f1"] = None
    result["per_kind_recall"] = _per_kind(work, found)  # type: ignore[arg-type]
    return result


def _per_kind(work: Workload, found: dict[str, bool]) -> dict[str, str]:
    out: dict[str, list[int]] = {}
    for room, kind in zip(work.series.room_ids, work.kinds):
        if kind is not None:
            hit = out.setdefault(kind, [0, 0])
            hit[0] += int(found.get(room, False))
            hit[1] += 1
    return {k: f"{a}/{b}" for k, (a, b) in sorted(out.items())}


def print_table(r: dict[str, object]) -> None:
    def f(x: object) -> str:
        return "n/a" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)

    print(f"{r['rooms']} rooms x {r['days']} days, {r['faulty_rooms']} faulty rooms, seed {r['seed']} "
          f"(simulated in {f(r['simulate_seconds'])} s on {r['cpus']} CPUs, {r['machine']})")
    print(f"{'scorer':<18}{'room P':>8}{'room R':>8}{'room F1':>9}{'day P':>8}{'day R':>8}{'day F1':>8}{'seconds':>10}")
    rows = [("edgewise", "", "edgewise_seconds"), ("numpy PCA", "pca_", "numpy_pca_seconds"),
            ("IsolationForest", "isolation_forest_", "isolation_forest_seconds")]
    for name, prefix, secs in rows:
        if r.get(f"{prefix}f1") is None:
            print(f"{name:<18}{'(scikit-learn not installed)':>50}")
            continue
        cols = [r[f"{prefix}{k}"] for k in ("precision", "recall", "f1", "day_precision", "day_recall", "day_f1")]
        print(f"{name:<18}" + "".join(f"{f(c):>8}" for c in cols[:2]) + f"{f(cols[2]):>9}"
              + "".join(f"{f(c):>8}" for c in cols[3:]) + f"{f(r[secs]):>10}")
    print(f"waste Spearman (detected faulty rooms): {f(r['waste_spearman'])}")
    print(f"recall by kind: {', '.join(f'{k} {v}' for k, v in r['per_kind_recall'].items())}")  # type: ignore
    pca_s, forest_s = r["numpy_pca_seconds"], r.get("isolation_forest_seconds")
    line = f"edgewise scoring ({f(r['edgewise_seconds'])} s): {pca_s / r['edgewise_seconds']:.2f}x the speed of numpy PCA"  # type: ignore[operator]
    if forest_s:
        line += f", {forest_s / r['edgewise_seconds']:.1f}x that of IsolationForest"  # type: ignore[operator]
    print(line)
    print(f"edgewise native pass over the {r['rooms']} x {r['days']} x 96 series (day statistics, profiles, rule "
          f"hours): {f(r['edgewise_features_seconds'])} s; features + scoring {f(r['edgewise_total_seconds'])} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.1, help="share of rooms with a fault (default 0.1)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="simulation processes")
    parser.add_argument("--cache", metavar="DIR",
                        help="keep simulated blocks here and reuse them while the simulator's source is unchanged")
    parser.add_argument("--repeat", type=int, default=7, help="time each scorer this many times, report the median")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    result = run(args.rooms, args.days, args.seed, args.rate, args.workers, args.cache, args.repeat)
    if args.json:
        print(json.dumps(result, allow_nan=True))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
