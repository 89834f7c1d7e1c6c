"""How fast ``agent.features.extract`` turns windows into features, beside vectorised numpy.

Run from a source checkout::

    python3 -m benchmarks.features                  # 10,000 windows of 1,024 float64 samples
    python3 -m benchmarks.features --json           # one JSON object instead of the table
    python3 -m benchmarks.features --windows 2000 --length 4096 --threads 4 --seed 7

Every implementation gets the same seeded windows (normal noise plus a trend
and an offset per window) and computes the same features.  The baseline is
numpy at its best: whole-matrix operations along axis 1, no Python loop over
windows.  Their ratio is what the C++ core buys, whatever the machine.  The
one-pass moment subset (``MOMENT_FEATURES``) is also compared with the memory
read rate measured in the same run, since a single pass over the data can go
no faster than memory delivers it.  tsfresh and pycatch22 are timed when
importable.  See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from agent import features
from benchmarks.common import machine, positive

GOAL_RATIO = 5.0
GOAL_MOMENT_RATIO = 10.0
GOAL_MEMORY_FRACTION = 0.25
MAX_REL_ERR = 1e-9
FS = 1.0
THRESHOLD = 0.0
QUANTILES = {"median": 0.5, "p10": 0.1, "p25": 0.25, "p75": 0.75, "p90": 0.9}
TSFRESH_WINDOWS = 500
"""tsfresh and pycatch22 are timed on at most this many windows: they are slow."""


# -- workload ---------------------------------------------------------------------


def make_windows(windows: int, length: int, seed: int) -> np.ndarray:
    """Normal noise, a random trend and offset per window; no NaN, so numpy needs no masking."""
    rng = np.random.default_rng(seed)
    trend = rng.uniform(-0.01, 0.01, (windows, 1)) * np.arange(length)
    offset = rng.uniform(-10.0, 10.0, (windows, 1))
    return rng.standard_normal((windows, length)) + trend + offset


# -- the numpy baseline -----------------------------------------------------------


def numpy_features(x: np.ndarray, names: Sequence[str], fs: float = FS, threshold: float = THRESHOLD,
                   ) -> dict[str, np.ndarray]:
    """The spec's features of NaN-free windows, vectorised over axis 1; only what is asked is computed."""
    want = set(names)
    n, length = x.shape
    mean = x.mean(axis=1)
    d = x - mean[:, None]
    d2 = d * d
    m2 = d2.mean(axis=1)
    out: dict[str, np.ndarray] = {"count": np.full(n, float(length)), "mean": mean, "std": np.sqrt(m2)}
    out.update(_extremes(x))
    out["rms"] = np.sqrt(np.einsum("ij,ij->i", x, x) / length)
    if want & {"skewness", "kurtosis"}:
        out["skewness"] = np.einsum("ij,ij->i", d2, d) / length / m2**1.5
        out["kurtosis"] = np.einsum("ij,ij->i", d2, d2) / length / m2**2 - 3.0
    out["mean_abs_change"] = np.abs(np.diff(x, axis=1)).mean(axis=1)
    above = x > mean[:, None]
    out["mean_crossings"] = np.count_nonzero(above[:, 1:] != above[:, :-1], axis=1).astype(np.float64)
    tc = (np.arange(length) - (length - 1) / 2) / fs
    out["slope"] = d @ tc / (tc @ tc)
    out["lag1_autocorr"] = np.einsum("ij,ij->i", d[:, 1:], d[:, :-1]) / (m2 * length)
    if want & {*QUANTILES, "iqr"}:
        out.update(_quantiles(x))
    if any(name.startswith("band_energy_") for name in want):
        out.update(_default_band_energies(d))
    if "time_above_threshold" in want:
        out["time_above_threshold"] = np.count_nonzero(x > threshold, axis=1) / fs
    if "longest_run_above_mean" in want:
        out["longest_run_above_mean"] = _longest_runs(above)
    return {name: out[name] for name in names}


def _extremes(x: np.ndarray) -> dict[str, np.ndarray]:
    lo, hi = x.min(axis=1), x.max(axis=1)
    return {"min": lo, "max": hi, "range": hi - lo}


def _quantiles(x: np.ndarray) -> dict[str, np.ndarray]:
    """One np.quantile call for all five (numpy's default linear method, as the spec)."""
    q = np.quantile(x, list(QUANTILES.values()), axis=1)
    out = dict(zip(QUANTILES, q))
    out["iqr"] = out["p75"] - out["p25"]
    return out


def _default_band_energies(d: np.ndarray) -> dict[str, np.ndarray]:
    """|rfft|²/L summed per default band; bin k is in band j when j/8 <= k/L < (j+1)/8,
    decided in integers so no rounding moves a bin on an edge."""
    length = d.shape[1]
    y = np.fft.rfft(d, axis=1)
    power = (y.real**2 + y.imag**2) / length
    k = np.arange(length // 2 + 1)
    band = np.minimum(8 * k // length, 3)
    onehot = (band[:, None] == np.arange(4)[None, :]).astype(np.float64)
    energies = power @ onehot
    return {f"band_energy_{j}": energies[:, j] for j in range(4)}


def _longest_runs(above: np.ndarray) -> np.ndarray:
    """Longest run of True per row, without a loop: run starts and ends from a padded diff."""
    n = above.shape[0]
    padded = np.zeros((n, above.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = above
    step = np.diff(padded, axis=1)
    rows, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)  # row-major order: the i-th end closes the i-th start
    out = np.zeros(n)
    np.maximum.at(out, rows, (ends - starts).astype(np.float64))
    return out


# -- accuracy ---------------------------------------------------------------------


def max_relative_error(x: np.ndarray, got: dict[str, np.ndarray], want: dict[str, np.ndarray],
                       fs: float = FS) -> tuple[float, str]:
    """Largest ``|a - b| / max(|b|, scale)`` over features and windows, scale as in the tests:
    max|x| for locations, the spread for spreads and quantiles, 1 for shape
    features, max|x|/std(t) for the slope, the total energy for bands, 0 for counts."""
    scales = _scales(x, fs)
    worst, where = 0.0, ""
    for name, b in want.items():
        a = got[name]
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            return math.inf, name
        denom = np.maximum(np.abs(b), _scale_of(name, scales))
        diff = np.abs(a - b)
        err = np.where(diff == 0, 0.0, diff / np.where(denom > 0, denom, 1.0))
        err = np.where(np.isnan(b), 0.0, err)
        if err.size and float(err.max()) > worst:
            worst, where = float(err.max()), name
    return worst, where


def _scales(x: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    maxabs = np.abs(x).max(axis=1)
    d = x - x.mean(axis=1, keepdims=True)
    return {
        "location": maxabs,
        "spread": np.ptp(x, axis=1),
        "slope": maxabs / float(np.std(np.arange(x.shape[1]) / fs)) if x.shape[1] > 1 else maxabs,
        "energy": np.einsum("ij,ij->i", d, d),
    }


def _scale_of(name: str, s: dict[str, np.ndarray]) -> np.ndarray | float:
    if name in {"mean", "min", "max", "rms"}:
        return s["location"]
    if name in {"std", "range", "iqr", "mean_abs_change", *QUANTILES}:
        return s["spread"]
    if name in {"skewness", "kurtosis", "lag1_autocorr"}:
        return 1.0
    if name == "slope":
        return s["slope"]
    if name.startswith("band_energy_"):
        return s["energy"]
    return 0.0


# -- timing -----------------------------------------------------------------------


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Fastest of ``repeat`` runs: the run least disturbed by the rest of the machine."""
    best = math.inf
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def memory_read_gb_per_s(megabytes: int, repeat: int) -> float:
    """np.sum over an array far larger than any cache: this machine's read rate for one core."""
    a = np.ones(megabytes * 1_000_000 // 8)
    a.sum()  # touch every page before timing
    return a.nbytes / best_of(a.sum, max(repeat, 5)) / 1e9


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    feature_set: str
    seconds: float | None
    windows: int
    bytes_read: int
    baseline: float | None = None
    """Seconds of the numpy row this one is compared with."""
    note: str = ""

    @property
    def windows_per_s(self) -> float | None:
        return None if self.seconds is None else self.windows / self.seconds

    @property
    def ratio(self) -> float | None:
        return None if self.seconds is None or self.baseline is None else self.baseline / self.seconds

    @property
    def gb_per_s(self) -> float | None:
        return None if self.seconds is None else self.bytes_read / self.seconds / 1e9


def time_tsfresh(x: np.ndarray, repeat: int) -> tuple[float | None, str]:
    """tsfresh's MinimalFCParameters (10 features) on up to TSFRESH_WINDOWS windows, if installed."""
    try:
        import pandas as pd
        from tsfresh import extract_features
        from tsfresh.feature_extraction import MinimalFCParameters
    except ImportError:
        return None, "skipped: tsfresh not installed"
    n, length = x.shape
    frame = pd.DataFrame({"id": np.repeat(np.arange(n), length), "time": np.tile(np.arange(length), n),
                          "value": x.ravel()})
    return best_of(lambda: extract_features(frame, column_id="id", column_sort="time", disable_progressbar=True,
                                            default_fc_parameters=MinimalFCParameters(), n_jobs=0), repeat), ""


def time_pycatch22(x: np.ndarray, repeat: int) -> tuple[float | None, str]:
    """pycatch22's 22 features, one window at a time (its API), if installed."""
    try:
        import pycatch22
    except ImportError:
        return None, "skipped: pycatch22 not installed"
    rows = [w.tolist() for w in x]
    return best_of(lambda: [pycatch22.catch22_all(r) for r in rows], repeat), ""


# -- the run ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    windows: int
    length: int
    threads: int
    seed: int
    repeat: int
    memory_mb: int


def run_benchmark(s: Settings) -> dict[str, object]:
    x = make_windows(s.windows, s.length, s.seed)
    full, moments = list(features.FEATURES), list(features.MOMENT_FEATURES)
    nbytes = x.nbytes
    memory = memory_read_gb_per_s(s.memory_mb, s.repeat)

    def edgewise(names: list[str], threads: int) -> float:
        return best_of(lambda: features.extract(x, names, fs=FS, threshold=THRESHOLD, threads=threads), s.repeat)

    numpy_full = best_of(lambda: numpy_features(x, full), s.repeat)
    numpy_moments = best_of(lambda: numpy_features(x, moments), s.repeat)
    many = f"{s.threads} thread{'s' if s.threads > 1 else ''}"
    rows = [
        Row("edgewise, 1 thread", "all", edgewise(full, 1), s.windows, nbytes, numpy_full),
        Row(f"edgewise, {many}", "all", edgewise(full, s.threads), s.windows, nbytes, numpy_full),
        Row("numpy vectorised", "all", numpy_full, s.windows, nbytes, numpy_full),
        Row("edgewise, 1 thread", "moments", edgewise(moments, 1), s.windows, nbytes, numpy_moments),
        Row(f"edgewise, {many}", "moments", edgewise(moments, s.threads), s.windows, nbytes, numpy_moments),
        Row("numpy vectorised", "moments", numpy_moments, s.windows, nbytes, numpy_moments),
    ]
    rows += _other_libraries(x, s.repeat, numpy_full / s.windows)
    err, err_feature = max_relative_error(x, features.extract(x, full, fs=FS, threshold=THRESHOLD),
                                          numpy_features(x, full))
    return summarise(s, rows, memory, err, err_feature, threads_identical(x, full, s.threads))


def _other_libraries(x: np.ndarray, repeat: int, numpy_s_per_window: float) -> list[Row]:
    sub = x[:TSFRESH_WINDOWS]
    out = []
    for label, timer in (("tsfresh MinimalFCParameters", time_tsfresh), ("pycatch22", time_pycatch22)):
        seconds, note = timer(sub, repeat)
        out.append(Row(label, "its own", seconds, len(sub), sub.nbytes, numpy_s_per_window * len(sub), note))
    return out


def threads_identical(x: np.ndarray, names: list[str], threads: int) -> bool:
    """The spec says the result does not depend on the thread count: check it bit for bit."""
    one = features.extract(x, names, fs=FS, threshold=THRESHOLD, threads=1)
    many = features.extract(x, names, fs=FS, threshold=THRESHOLD, threads=threads)
    return all(one[k].tobytes() == many[k].tobytes() for k in names)


def summarise(s: Settings, rows: list[Row], memory: float, err: float, err_feature: str,
              identical: bool) -> dict[str, object]:
    ew1, ewt, npf, em1, emt, npm = rows[:6]
    effective = em1.gb_per_s or 0.0
    result: dict[str, object] = {
        "windows": s.windows, "length": s.length, "threads": s.threads, "seed": s.seed, "repeat": s.repeat,
        "dtype": "float64", "features": len(features.FEATURES), "moment_features": len(features.MOMENT_FEATURES),
        "edgewise_windows_per_s": ew1.windows_per_s,
        "edgewise_threads_windows_per_s": ewt.windows_per_s,
        "numpy_windows_per_s": npf.windows_per_s,
        "ratio_vs_numpy": ew1.ratio,
        "threads_ratio_vs_numpy": ewt.ratio,
        "edgewise_moment_windows_per_s": em1.windows_per_s,
        "edgewise_threads_moment_windows_per_s": emt.windows_per_s,
        "numpy_moment_windows_per_s": npm.windows_per_s,
        "moment_ratio_vs_numpy": em1.ratio,
        "effective_gb_per_s": effective,
        "threads_effective_gb_per_s": emt.gb_per_s,
        "memory_read_gb_per_s": memory,
        "memory_fraction": effective / memory,
        "max_rel_err": err,
        "max_rel_err_feature": err_feature,
        "threads_identical": identical,
        "goal_ratio_met": (ew1.ratio or 0.0) >= GOAL_RATIO,
        "goal_moment_ratio_met": (em1.ratio or 0.0) >= GOAL_MOMENT_RATIO,
        "goal_memory_fraction_met": effective >= GOAL_MEMORY_FRACTION * memory,
        "machine": machine(),
    }
    for row, key in ((rows[6], "tsfresh"), (rows[7], "pycatch22")):
        result[f"{key}_windows_per_s"] = row.windows_per_s
        if row.note:
            result[f"{key}_note"] = row.note
    result["rows"] = [
        {"implementation": r.label, "features": r.feature_set, "windows_per_s": r.windows_per_s,
         "ratio_vs_numpy": r.ratio, "gb_per_s": r.gb_per_s, "note": r.note} for r in rows
    ]
    return result


# -- output -----------------------------------------------------------------------


def format_table(d: dict[str, object]) -> str:
    m = d["machine"]
    assert isinstance(m, dict)
    rows = d["rows"]
    assert isinstance(rows, list)
    lines = [
        (f"edgewise features benchmark: {d['windows']:,} windows × {d['length']:,} float64 samples,"
        f" seed {d['seed']}, best of {d['repeat']}"),
        f"machine: {m['platform']}, {m['cpu_count']} CPUs, Python {m['python']}, numpy {m['numpy']}",
        f"all = {d['features']} features (FEATURES), moments = {d['moment_features']} (MOMENT_FEATURES)",
        "",
        f"  {'implementation':<30}{'features':<10}{'windows/s':>12}{'vs numpy':>10}{'GB/s':>8}",
    ]
    for r in rows:
        if r["windows_per_s"] is None:
            lines.append(f"  {r['implementation']:<30}{r['features']:<10}  {r['note']}")
            continue
        lines.append(f"  {r['implementation']:<30}{r['features']:<10}{r['windows_per_s']:>12,.0f}"
                     f"{r['ratio_vs_numpy']:>10.2f}{r['gb_per_s']:>8.2f}")
    lines += [
        f"  {'memory read (np.sum, 1 core)':<40}{'':>22}{d['memory_read_gb_per_s']:>8.2f}",
        "",
        (f"  max relative error vs numpy  {d['max_rel_err']:.1e} ({d['max_rel_err_feature'] or '-'})"
        f"   must be ≤ {MAX_REL_ERR:.0e}: {'ok' if _accurate(d) else 'FAILED'}"),
        f"  threads give identical bits  {'yes' if d['threads_identical'] else 'NO'}",
        (f"  ratio vs numpy, all, 1 thread       {d['ratio_vs_numpy']:6.2f}   goal ≥ {GOAL_RATIO:.0f}:"
        f" {_verdict(d['goal_ratio_met'])}"),
        (f"  ratio vs numpy, moments, 1 thread   {d['moment_ratio_vs_numpy']:6.2f}   goal ≥ {GOAL_MOMENT_RATIO:.0f}:"
        f" {_verdict(d['goal_moment_ratio_met'])}"),
        (f"  moments GB/s / memory read GB/s     {d['memory_fraction']:6.2f}   goal ≥ {GOAL_MEMORY_FRACTION:.2f}:"
        f" {_verdict(d['goal_memory_fraction_met'])}"),
    ]
    return "\n".join(lines)


def _verdict(met: object) -> str:
    return "met" if met else "NOT met"


def _accurate(d: dict[str, object]) -> bool:
    err = d["max_rel_err"]
    return isinstance(err, float) and err <= MAX_REL_ERR


# -- entry point ------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python3 -m benchmarks.features",
                                description=(__doc__ or "features benchmark").splitlines()[0])
    p.add_argument("--windows", type=positive, default=10_000, help="windows (rows) (default 10000)")
    p.add_argument("--length", type=positive, default=1_024, help="samples per window (default 1024)")
    p.add_argument("--threads", type=positive, default=None, help="threads for the multi-threaded rows"
                   " (default: os.cpu_count())")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated windows (default 1)")
    p.add_argument("--repeat", type=positive, default=3, help="timed runs per row; the best is kept (default 3)")
    p.add_argument("--memory-mb", type=positive, default=256, help="array size for the memory read rate"
                   " (default 256; keep it far above the last-level cache)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status says only whether the numbers can be trusted (edgewise agrees with
    numpy to 1e-9); missed speed goals are reported, not failed."""
    args = parse_args(argv)
    s = Settings(args.windows, args.length, args.threads or os.cpu_count() or 1, args.seed, args.repeat,
                 args.memory_mb)
    summary = run_benchmark(s)
    print(json.dumps(summary) if args.json else format_table(summary))
    if not _accurate(summary):
        print(f"benchmark failed: edgewise differs from numpy by {summary['max_rel_err']:.3g} relative"
              f" in {summary['max_rel_err_feature']}; the timings compare different computations",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
