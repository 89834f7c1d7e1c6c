"""StreamingFeatures keeps the batch features of its window up to date.

For any stream and window, after every push, its values equal
``features.extract`` over the same window: to 1e-9 relative to the window's
scale (its largest magnitude for location features, its spread for std and
range, 1 for the scale-free skewness, kurtosis and lag-1 autocorrelation), and
exactly for the counts, min and max.  Tolerance and scales as in
test_features.py; the streaming sums are recomputed exactly once per window,
so their rounding errors stay near the batch code's.

When a window's spread is below 1e-6 of its magnitude (say -400 and
-399.99998), rounding the mean already moves skewness, kurtosis and the
autocorrelation by more than 1e-9, in the batch code as much as here; those
three are then only checked for not being NaN, and not at all when the
spread is so small (below 1e-70) that its fourth power underflows; likewise
std and rms of samples below 1e-150, whose squares underflow.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agent import features
from agent.features import STREAMING_FEATURES, StreamingFeatures

EXACT = {"count", "min", "max", "time_above_threshold"}
SCALE_FREE = {"skewness", "kurtosis", "lag1_autocorr"}
TOLERANCE = 1e-9

samples = st.one_of(
    st.floats(-1e3, 1e3, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1.0]),
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[float], int, float, float]:
    values = draw(st.lists(samples, min_size=1, max_size=150))
    scale = 10.0 ** draw(st.integers(-6, 6))
    offset = draw(st.sampled_from([0.0, 20.0, -400.0]))  # a room at 20 °C, a CO2 sensor's baseline
    return (
        [v * scale + offset if math.isfinite(v) else v for v in values],
        draw(st.integers(1, 40)),
        draw(st.floats(0.01, 100.0)),
        draw(st.floats(-10.0, 10.0)),
    )


def assert_matches_batch(stream: StreamingFeatures, fs: float, threshold: float) -> None:
    window = stream.samples()
    batch = features.extract(window[None, :], STREAMING_FEATURES, fs=fs, threshold=threshold)
    got = stream.values()
    finite = window[np.isfinite(window)]
    magnitude = float(np.max(np.abs(finite))) if finite.size else 1.0
    spread = float(np.ptp(finite)) if finite.size else 1.0
    for name in STREAMING_FEATURES:
        expected, actual = float(batch[name][0]), got[name]
        if name in SCALE_FREE and 0 < spread < 1e-70:
            continue  # the fourth powers underflow: any answer is rounding noise
        if name in ("std", "rms") and 0 < magnitude < 1e-150:
            continue  # the squares underflow (below 1e-308): both sides are rounding noise
        if math.isnan(expected):
            assert math.isnan(actual), (name, actual, window)
            continue
        if name in EXACT:
            assert actual == expected, (name, actual, expected, window)
            continue
        if name in SCALE_FREE and spread < 1e-6 * magnitude:
            assert not math.isnan(actual), (name, window)
            continue
        scale = 1.0 if name in SCALE_FREE else spread if name in ("std", "range") else magnitude
        if name == "slope":
            scale = magnitude * fs / len(window)
        floor = 1e-290  # subnormal samples: differences this small are not information
        allowed = TOLERANCE * max(abs(expected), scale, floor)
        if name in ("std", "range"):
            # Samples are known only to a few ulps of their magnitude: a spread of
            # 6e-11 around -400 cannot be measured to 1e-9 of itself by anyone.
            allowed = max(allowed, 64 * np.finfo(float).eps * magnitude)
        assert abs(actual - expected) <= allowed, (name, actual, expected, window)


@settings(max_examples=150, deadline=None)
@given(streams())
@example(case=([-400.0, -399.99999999994037], 33, 1.0, 0.0))  # a spread below the samples' resolution
def test_streaming_equals_batch_after_every_push(case: tuple[list[float], int, float, float]) -> None:
    values, window, fs, threshold = case
    stream = StreamingFeatures(window, fs=fs, threshold=threshold)
    for i, x in enumerate(values):
        stream.push(x)
        assert len(stream) == min(i + 1, window)
        np.testing.assert_array_equal(stream.samples(), np.array(values[max(0, i + 1 - window) : i + 1]))
        assert_matches_batch(stream, fs, threshold)


def test_a_long_drifting_stream_stays_accurate() -> None:
    """A temperature that climbs for days and a step in CO2: the sums must not
    drift away over a million samples (recomputed once per window)."""
    rng = np.random.default_rng(7)
    t = np.arange(1_000_000)
    x = 20.0 + t * 1e-5 + rng.normal(0, 0.05, t.size)
    x[600_000:] += 800.0
    stream = StreamingFeatures(720, fs=1 / 60)
    stream.push_many(x)
    assert stream.pushed == 1_000_000
    assert_matches_batch(stream, 1 / 60, 0.0)
    stream.push_many(x[:1000])  # the step back down, inside the window
    assert_matches_batch(stream, 1 / 60, 0.0)


def test_push_many_equals_pushing_one_by_one() -> None:
    x = np.random.default_rng(3).normal(size=500)
    x[::7] = np.nan
    one, many = StreamingFeatures(64), StreamingFeatures(64)
    for v in x:
        one.push(float(v))
    many.push_many(x)
    assert one.values() == pytest.approx(many.values(), nan_ok=True, rel=0, abs=0)


def test_clear_forgets_everything() -> None:
    stream = StreamingFeatures(8, fs=2.0, threshold=1.0)
    stream.push_many(np.arange(20.0))
    stream.clear()
    assert (len(stream), stream.count, stream.pushed) == (0, 0, 0)
    assert math.isnan(stream.values()["mean"])
    stream.push(5.0)
    assert stream.values()["mean"] == 5.0 and stream.values()["time_above_threshold"] == 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 0}, "window"),
        ({"window": -3}, "window"),
        ({"window": 4, "fs": 0.0}, "fs"),
        ({"window": 4, "fs": math.nan}, "fs"),
        ({"window": 4, "threshold": math.nan}, "threshold"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StreamingFeatures(**kwargs)  # type: ignore[arg-type]


def test_push_many_wants_a_1d_array() -> None:
    with pytest.raises(ValueError, match="1-D"):
        StreamingFeatures(4).push_many(np.zeros((2, 2)))


def test_the_state_layer_keeps_streaming_features_for_every_point() -> None:
    from agent.ingest.reading import Reading
    from agent.state.points import PointTable

    table = PointTable(window=10)
    temps = [20.0 + 0.1 * i for i in range(25)]
    table.update(Reading("node-0001", "temperature", float(i), v, "°C", "serial") for i, v in enumerate(temps))
    table.update([Reading("plug", "power", 0.0, 5.0, "W", "zigbee")])
    last = np.array(temps[-10:])[None, :]
    expected = features.extract(last, STREAMING_FEATURES)
    got = table.features("node-0001/temperature")
    assert got["count"] == 10 and got["slope"] == pytest.approx(0.1, rel=1e-9)
    for name in ("mean", "std", "min", "max", "slope", "mean_abs_change"):
        assert got[name] == pytest.approx(float(expected[name][0]), rel=1e-9)
    assert table.features("plug/power")["count"] == 1
