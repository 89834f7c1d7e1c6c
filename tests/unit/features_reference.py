"""A slow, literal numpy reference for ``agent.features.extract`` (docs/features.md).

Every feature is computed for one window at a time, straight from its
definition in docs/features.md, so that a reader can check it line by line
against the spec.  Speed does not matter here; being obviously right does.

Rules followed literally:

* NaN and ±inf samples are skipped; ``count`` is the number of finite ones.
* Finite samples keep their index ``i`` in the window (time ``i / fs``).
* Pair features use only neighbours ``(i, i + 1)`` that are both finite.
* A window whose finite samples are all equal is exactly constant: mean is that
  value, std 0, skewness/kurtosis/lag1_autocorr NaN, nothing above the mean.
* A window with no finite sample: count 0, NaN elsewhere, except
  mean_crossings, longest_run_above_mean and time_above_threshold, which are 0.
* Band membership ``low <= k*fs/L < high`` is decided in exact rational
  arithmetic on the given doubles (``fractions.Fraction``), so the reference
  has no rounding at band edges; the default edges are the exact values
  ``j*fs/8``.  The tests decide what to do with bins that sit on an edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

NAN = math.nan
BASE_FEATURES: tuple[str, ...] = (
    "count", "mean", "std", "min", "max", "range", "rms", "skewness", "kurtosis",
    "median", "p10", "p25", "p75", "p90", "iqr", "mean_abs_change", "mean_crossings",
    "slope", "lag1_autocorr",
)
TAIL_FEATURES: tuple[str, ...] = ("time_above_threshold", "longest_run_above_mean")
COUNTS_ZERO_WHEN_EMPTY = frozenset({"mean_crossings", "longest_run_above_mean", "time_above_threshold"})
QUANTILES: dict[str, float] = {"median": 0.5, "p10": 0.1, "p25": 0.25, "p75": 0.75, "p90": 0.9}

Band = tuple[float, float]
# An edge as an exact rational; None stands for +inf (no upper edge).
ExactEdge = Fraction | None


def band_names(n_bands: int) -> tuple[str, ...]:
    return tuple(f"band_energy_{j}" for j in range(n_bands))


def all_features(n_bands: int = 4) -> tuple[str, ...]:
    """FEATURES in the order of the spec's table, with one name per band."""
    return BASE_FEATURES + band_names(n_bands) + TAIL_FEATURES


def exact_bands(fs: float, bands: Sequence[Band] | None) -> list[tuple[Fraction, ExactEdge]]:
    """Band edges as exact rationals; the default quarters of [0, fs/2] are exactly j*fs/8."""
    if bands is None:
        f = Fraction(fs)
        return [(Fraction(0), f / 8), (f / 8, f / 4), (f / 4, 3 * f / 8), (3 * f / 8, None)]
    return [(Fraction(lo), None if math.isinf(hi) else Fraction(hi)) for lo, hi in bands]


def bin_frequency(k: int, fs: float, length: int) -> Fraction:
    """The exact frequency ``k*fs/L`` of one-sided DFT bin k."""
    return Fraction(k) * Fraction(fs) / length


def band_masks(length: int, fs: float, bands: Sequence[Band] | None) -> list[np.ndarray]:
    """For each band, which bins k = 0..L//2 satisfy ``low <= k*fs/L < high`` exactly."""
    freqs = [bin_frequency(k, fs, length) for k in range(length // 2 + 1)]
    masks = []
    for lo, hi in exact_bands(fs, bands):
        masks.append(np.array([lo <= f and (hi is None or f < hi) for f in freqs], dtype=bool))
    return masks


def reference(
    x: np.ndarray,
    features: Sequence[str] | None,
    fs: float,
    bands: Sequence[Band] | None,
    threshold: float,
) -> dict[str, np.ndarray]:
    """The spec's features of every row of ``x``, one window at a time."""
    n_bands = 4 if bands is None else len(bands)
    names = tuple(features) if features is not None else all_features(n_bands)
    masks = band_masks(x.shape[1], fs, bands)
    rows = [window_features(np.asarray(w, dtype=np.float64), fs, masks, threshold) for w in x]
    return {name: np.array([r[name] for r in rows], dtype=np.float64) for name in names}


def window_features(w: np.ndarray, fs: float, masks: list[np.ndarray], threshold: float) -> dict[str, float]:
    """All features of one window (float64; float32 input converts exactly)."""
    finite = np.isfinite(w)
    v = w[finite]
    if v.size == 0:
        return _empty_window(len(masks))
    mean, constant = finite_mean(v)
    out: dict[str, float] = {"count": float(v.size), "mean": mean}
    out.update(_moments(v, mean, constant))
    out.update(_order_statistics(v))
    out.update(_pair_features(w, finite, mean, constant))
    out["slope"] = _slope(np.flatnonzero(finite) / fs, v, mean)
    out.update(_band_energies(w, finite, mean, masks))
    out["time_above_threshold"] = float(np.count_nonzero(v > threshold)) / fs
    return out


def _empty_window(n_bands: int) -> dict[str, float]:
    names = all_features(n_bands)
    out = {name: (0.0 if name in COUNTS_ZERO_WHEN_EMPTY else NAN) for name in names}
    out["count"] = 0.0
    return out


def finite_mean(v: np.ndarray) -> tuple[float, bool]:
    """The mean, and whether the window is exactly constant.

    math.fsum gives the correctly rounded sum, so the reference mean is within
    one rounding of the true mean whatever the extractor's summation order:
    any disagreement beyond the tolerance is then the extractor's, not ours.
    (np.mean's pairwise sum would also do at these sizes, but is not exact.)
    """
    if np.all(v == v[0]):
        return float(v[0]), True
    return math.fsum(v.tolist()) / v.size, False


def _moments(v: np.ndarray, mean: float, constant: bool) -> dict[str, float]:
    """std, min, max, range, rms, skewness, kurtosis from two-pass central moments."""
    d = v - mean
    m2, m3, m4 = float(np.mean(d**2)), float(np.mean(d**3)), float(np.mean(d**4))
    lo, hi = float(v.min()), float(v.max())
    out = {
        "std": 0.0 if constant else math.sqrt(m2),
        "min": lo,
        "max": hi,
        "range": hi - lo,
        "rms": math.sqrt(float(np.mean(v * v))),
        "skewness": NAN if constant else m3 / m2**1.5,
        "kurtosis": NAN if constant else m4 / m2**2 - 3.0,
    }
    return out


def _order_statistics(v: np.ndarray) -> dict[str, float]:
    q = {name: float(np.quantile(v, p, method="linear")) for name, p in QUANTILES.items()}
    q["iqr"] = q["p75"] - q["p25"]
    return q


def _pair_features(w: np.ndarray, finite: np.ndarray, mean: float, constant: bool) -> dict[str, float]:
    """Features over neighbouring samples that are both finite."""
    pair = finite[:-1] & finite[1:]
    a, b = w[:-1][pair], w[1:][pair]
    above = np.where(finite, w > mean, False) if not constant else np.zeros(w.shape, dtype=bool)
    d = w[finite] - mean
    return {
        "mean_abs_change": float(np.mean(np.abs(b - a))) if a.size else NAN,
        "mean_crossings": float(np.count_nonzero(above[:-1][pair] != above[1:][pair])),
        "lag1_autocorr": NAN if constant else float(np.sum((a - mean) * (b - mean)) / np.sum(d * d)),
        "longest_run_above_mean": float(_longest_true_run(above)),
    }


def _longest_true_run(flags: np.ndarray) -> int:
    """Longest run of consecutive True; non-finite samples are False, so they break runs."""
    best = run = 0
    for f in flags.tolist():
        run = run + 1 if f else 0
        best = max(best, run)
    return best


def _slope(t: np.ndarray, v: np.ndarray, mean: float) -> float:
    """Least-squares slope of v against t (seconds); NaN with fewer than two samples."""
    if v.size < 2:
        return NAN
    tc = t - t.mean()
    return float(np.sum(tc * (v - mean)) / np.sum(tc * tc))


def _band_energies(w: np.ndarray, finite: np.ndarray, mean: float, masks: list[np.ndarray]) -> dict[str, float]:
    """sum |Y_k|^2 / L over each band's bins; Y is the DFT of the mean-removed window, gaps 0."""
    power = np.abs(np.fft.rfft(mean_removed(w, finite, mean))) ** 2 / w.size
    return {f"band_energy_{j}": float(np.sum(power[m])) for j, m in enumerate(masks)}


def mean_removed(w: np.ndarray, finite: np.ndarray, mean: float) -> np.ndarray:
    """The window minus its mean, with non-finite samples set to 0 (the spec's DFT input)."""
    return np.where(finite, w - mean, 0.0)
