"""Features of windows of sensor samples, computed in the C++ core.

The definitions, and how NaN and infinite samples are skipped and counted, are
in docs/features.md.  This module checks the arguments, names the columns and
hands the array to the native code, which reads it in place with the GIL
released.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from agent import _core

_KINDS: tuple[str, ...] = tuple(_core.FEATURE_KINDS)
_CODE = {name: code for code, name in enumerate(_KINDS)}
_BAND = "band_energy"
DEFAULT_BAND_COUNT = 4


MOMENT_FEATURES: tuple[str, ...] = (
    "count", "mean", "std", "min", "max", "rms", "skewness", "kurtosis",
    "mean_abs_change", "mean_crossings", "slope", "lag1_autocorr",
)
"""The features computed in the single pass over the samples (no selection, no FFT)."""


STREAMING_FEATURES: tuple[str, ...] = tuple(_core.STREAMING_FEATURES)
"""What :class:`StreamingFeatures` keeps up to date in O(1) per sample: the
batch features except the quantiles, the band energies, the mean crossings and
the longest run above the mean, which depend on the whole window at once."""

StreamingFeatures = _core.StreamingFeatures
"""``StreamingFeatures(window, fs=1.0, threshold=0.0)``: ``push(x)``,
``push_many(array)``, ``values()`` (a dict of :data:`STREAMING_FEATURES`) and
``samples()``.  ``values()`` equals :func:`extract` over ``samples()``."""


def default_bands(fs: float) -> list[tuple[float, float]]:
    """Four equal bands over [0, fs/2]; the last one is open so it keeps the Nyquist bin."""
    edges = [fs * j / 8 for j in range(DEFAULT_BAND_COUNT)]
    return [(lo, hi) for lo, hi in zip(edges, edges[1:] + [math.inf])]


def _kind(name: str) -> str:
    return _BAND if name.startswith(_BAND + "_") else name


def _columns(kinds: list[str], band_count: int) -> list[str]:
    """The names of the native result's rows: one per kind, one per band for band_energy."""
    return [n for kind in kinds for n in ([f"{_BAND}_{j}" for j in range(band_count)] if kind == _BAND else [kind])]


def feature_names(band_count: int = DEFAULT_BAND_COUNT) -> list[str]:
    """Every feature name, in result order, with ``band_count`` bands."""
    return _columns(list(_KINDS), band_count)


FEATURES: tuple[str, ...] = tuple(feature_names())
"""Every feature with the default bands, in result order."""


def extract(
    x: npt.ArrayLike,
    features: Iterable[str] | None = None,
    *,
    fs: float = 1.0,
    bands: Sequence[tuple[float, float]] | None = None,
    threshold: float = 0.0,
    threads: int = 1,
    simd: bool = True,
) -> dict[str, npt.NDArray[np.float64]]:
    """Features of every row of ``x``: a dict from name to one float64 value per window.

    Only what the names need is computed: leaving out the quantiles and the
    band energies skips the selection and the FFT.  ``simd=False`` forces the
    portable two-lane kernels even on a CPU with AVX2 (the results differ in
    the last bits); the tests use it to check both.
    """
    array = _windows(x)
    band_list = _bands(bands, fs)
    names = feature_names(len(band_list)) if features is None else _names(features, len(band_list))
    kinds = list(dict.fromkeys(_kind(name) for name in names))  # each native feature once, in first-use order
    columns = _core.extract_features(
        array, [_CODE[k] for k in kinds], float(fs), band_list, _threshold(threshold), _threads(threads), bool(simd)
    )
    index = {name: i for i, name in enumerate(_columns(kinds, len(band_list)))}
    return {name: columns[index[name]] for name in names}


def _windows(x: npt.ArrayLike) -> np.ndarray:
    array = np.asarray(x)
    if array.dtype.kind != "f" or array.dtype.itemsize not in (4, 8):
        raise TypeError(f"x must hold float64 or float32 samples, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"x must be 2-D (windows × samples), got {array.ndim} dimension(s)")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"x must have at least one window of at least one sample, got shape {array.shape}")
    if not array.dtype.isnative or not array.flags.aligned:
        array = array.astype(array.dtype.newbyteorder("="))  # the only cases that copy
    return array


def _bands(bands: Sequence[tuple[float, float]] | None, fs: float) -> list[tuple[float, float]]:
    if isinstance(fs, bool) or not isinstance(fs, (int, float)) or not (math.isfinite(fs) and fs > 0):
        raise ValueError(f"fs must be a finite number of samples per second > 0, got {fs!r}")
    if bands is None:
        return default_bands(fs)
    out = []
    for band in bands:
        low, high = (float(v) for v in band)
        if not (math.isfinite(low) and 0 <= low < high):
            raise ValueError(f"each band must be (low_hz, high_hz) with 0 <= low < high, got {tuple(band)!r}")
        out.append((low, high))
    if not out:
        raise ValueError("bands must hold at least one (low_hz, high_hz) pair")
    return out


def _names(features: Iterable[str], band_count: int) -> list[str]:
    if isinstance(features, str):
        raise TypeError(f"features must be a list of names, not the string {features!r}")
    names = list(features)
    if not names:
        raise ValueError("features must name at least one feature")
    known = set(feature_names(band_count))
    for name in names:
        if name not in known:
            raise ValueError(f"unknown feature {name!r}; known: {', '.join(feature_names(band_count))}")
    if len(set(names)) != len(names):
        raise ValueError(f"features names a feature twice: {names}")
    return names


def _threshold(threshold: float) -> float:
    value = float(threshold)
    if math.isnan(value):
        raise ValueError("threshold must be a number, got NaN")
    return value


MAX_THREADS = 1024


def _threads(threads: int) -> int:
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads must be an integer 1–{MAX_THREADS}, got {threads!r}")
    return threads
