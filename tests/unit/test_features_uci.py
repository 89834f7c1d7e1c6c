"""The feature extractor on real sensor data: the UCI occupancy data set.

An office's light, CO2, temperature and humidity, about one reading a minute,
with ground-truth occupancy (Candanedo and Feldheim, 2016, Energy and Buildings
112; UCI Machine Learning Repository, CC BY 4.0).  It is read from
``../shared/data/`` beside the project, as the data's README asks, not copied.  Hour-long windows every ten minutes are taken with
``sliding_window_view``: overlapping, strided rows that the extractor must read
in place.  Besides agreeing with the reference, the features must tell what a
building operator would expect: an occupied office is lit and its CO2 rises.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from features_reference import reference
from numpy.lib.stride_tricks import sliding_window_view
from test_features import assert_agrees

from agent import features

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "uci_occupancy" / "datatraining.txt"
CHANNELS = ("Light", "CO2", "Temperature", "Humidity")
COLUMNS = ("id", "date", "Temperature", "Humidity", "Light", "CO2", "HumidityRatio", "Occupancy")
WINDOW, STEP = 60, 10
FS = 1 / 60  # one row a minute
SHAPE_FEATURES = ("skewness", "kurtosis", "lag1_autocorr")  # NaN exactly on flat windows


def load() -> dict[str, np.ndarray]:
    """Columns by name; the header omits the id column, so rows have one field more."""
    if not SHARED.exists():
        pytest.skip(f"the UCI occupancy data is not at {SHARED} (../shared/data beside the project)")
    with SHARED.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(COLUMNS[1:])
    body = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    return {name: body[:, i] for i, name in enumerate(COLUMNS[2:])}


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return load()


@pytest.fixture(scope="module")
def windows(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per channel, (n, 60) views into one (rows, 4) array: no copy, 32-byte sample stride."""
    table = np.stack([data[c] for c in CHANNELS], axis=1)
    return {c: sliding_window_view(table[:, i], WINDOW)[::STEP] for i, c in enumerate(CHANNELS)}


@pytest.fixture(scope="module")
def extracted(windows: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    return {c: features.extract(w, fs=FS) for c, w in windows.items()}


def test_windows_are_strided_views(windows: dict[str, np.ndarray], data: dict[str, np.ndarray]) -> None:
    n = (len(data["CO2"]) - WINDOW) // STEP + 1
    for w in windows.values():
        assert w.shape == (n, WINDOW) and not w.flags.c_contiguous and w.strides == (STEP * 32, 32)


def test_every_window_gets_every_feature_without_spurious_nan(
    windows: dict[str, np.ndarray], extracted: dict[str, dict[str, np.ndarray]]
) -> None:
    """No sample is missing, so only the shape features of flat windows may be NaN."""
    for channel, w in windows.items():
        result = extracted[channel]
        assert list(result) == list(features.FEATURES)
        flat = w.min(axis=1) == w.max(axis=1)
        for name, values in result.items():
            assert values.shape == (len(w),) and values.dtype == np.float64
            expected_nan = flat if name in SHAPE_FEATURES else np.zeros_like(flat)
            np.testing.assert_array_equal(np.isnan(values), expected_nan, err_msg=f"{channel} {name}")
        np.testing.assert_array_equal(result["count"], WINDOW)
    assert (windows["Light"].max(axis=1) == 0).sum() > 100  # nights: the flat case is really exercised


def test_sample_windows_agree_with_reference(
    windows: dict[str, np.ndarray], extracted: dict[str, dict[str, np.ndarray]]
) -> None:
    """About 20 windows per channel, spread over the week, plus flat ones where there are any."""
    for channel, w in windows.items():
        flat = np.flatnonzero(w.min(axis=1) == w.max(axis=1))[:4]
        picks = np.unique(np.concatenate([np.linspace(0, len(w) - 1, 16).astype(int), flat]))
        want = reference(w[picks], None, FS, None, 0.0)
        got = {name: v[picks] for name, v in extracted[channel].items()}
        assert_agrees(w[picks], got, want, FS, None)


def occupancy(data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Windows occupied throughout, and empty throughout."""
    occ = sliding_window_view(data["Occupancy"], WINDOW)[::STEP]
    return occ.min(axis=1) == 1, occ.max(axis=1) == 0


def test_occupied_office_is_lit(data: dict[str, np.ndarray], extracted: dict[str, dict[str, np.ndarray]]) -> None:
    """Every hour spent occupied is brighter on average than every empty hour
    (in this data: at least 416 lux against at most 348, daylight included)."""
    occupied, empty = occupancy(data)
    light = extracted["Light"]["mean"]
    assert occupied.sum() > 50 and empty.sum() > 300
    assert light[occupied].min() > light[empty].max()


def test_co2_rises_while_occupied(data: dict[str, np.ndarray], extracted: dict[str, dict[str, np.ndarray]]) -> None:
    """People breathe: CO2 climbs (about 2 ppm a minute) during occupied hours
    and on average does not in empty ones.  Slope is per second."""
    occupied, empty = occupancy(data)
    slope = extracted["CO2"]["slope"]
    assert slope[occupied].mean() > 0.01
    assert slope[occupied].mean() > slope[empty].mean() + 0.01
    assert math.isclose(float(np.median(slope[empty])), 0.0, abs_tol=0.005)
