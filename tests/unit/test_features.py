"""``agent.features.extract`` checked against the literal numpy reference.

The reference (tests/unit/features_reference.py) follows docs/features.md one
window at a time; these tests feed both the same random windows (gaps, ±inf,
constant and empty windows, float32 and float64, any strides, magnitudes from
1e-30 to 1e30) and demand agreement.

Tolerance rule.  A value ``a`` from the extractor agrees with the reference's
``b`` when ``|a - b| <= 1e-9 * max(|b|, scale)``, the scale depending on what
the feature measures in the window's finite samples:

* location (mean, min, max, rms): the largest magnitude ``max|x|``;
* spread (std, range, iqr, quantiles, mean_abs_change): ``max(x) - min(x)``;
* scale-free (skewness, kurtosis, lag1_autocorr): 1;
* slope: ``max|x| / std(t)``, the size of a slope error caused by an error of
  ``max|x|`` in the samples;
* band energies: the window's total energy ``Σ (xᵢ - x̄)²`` (gaps 0);
* count: exact.

NaN must be NaN in exactly the same places.  The counts ``mean_crossings`` and
``longest_run_above_mean`` must match exactly, except in a (rare) window where a
finite sample lies within 1e-12 ``max|x|`` of the mean: there the last bit of a
correctly computed mean decides, so those two features are not compared for
that window.  Exactly constant windows are never skipped: the spec makes them
exact.  ``time_above_threshold`` is compared to 1e-12 relative (exact on the
count, allowing ``count * (1/fs)`` for ``count / fs``); it needs no skip, as
``x > threshold`` involves no computed value.  A band bin within 1e-12 relative
of a band edge may land in either band (floating-point ``k*fs/L`` decides);
the dedicated edge test pins the case where every formula is exact.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest
from features_reference import (
    Band,
    all_features,
    band_masks,
    bin_frequency,
    exact_bands,
    finite_mean,
    mean_removed,
    reference,
)
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from agent import features

RTOL = 1e-9
TIE_RTOL = 1e-12
LOCATION = frozenset({"mean", "min", "max", "rms"})
SPREAD = frozenset({"std", "range", "iqr", "median", "p10", "p25", "p75", "p90", "mean_abs_change"})
SCALE_FREE = frozenset({"skewness", "kurtosis", "lag1_autocorr"})
MEAN_COUNTS = frozenset({"mean_crossings", "longest_run_above_mean"})
MOMENTS = ("count", "mean", "std", "min", "max", "rms", "skewness", "kurtosis",
           "mean_abs_change", "mean_crossings", "slope", "lag1_autocorr")


# -- comparison -----------------------------------------------------------------------


@dataclass(frozen=True)
class WindowScales:
    """Per-window quantities the tolerance rule needs, from the reference's view of the window."""

    maxabs: float
    spread: float
    slope: float
    energy: float
    constant: bool
    mean_tie: bool
    power: np.ndarray  # |Y_k|^2 / L of the mean-removed window, for band-edge bins


def window_scales(w: np.ndarray, fs: float) -> WindowScales:
    finite = np.isfinite(w)
    v = w[finite]
    if v.size == 0:
        return WindowScales(math.nan, math.nan, math.nan, math.nan, False, False, np.zeros(0))
    mean, constant = finite_mean(v)
    maxabs = float(np.max(np.abs(v)))
    t = np.flatnonzero(finite) / fs
    y = mean_removed(w, finite, mean)
    return WindowScales(
        maxabs=maxabs,
        spread=float(v.max() - v.min()),
        slope=maxabs / float(np.std(t)) if v.size > 1 else math.nan,
        energy=float(np.sum(y * y)),
        constant=constant,
        mean_tie=(not constant) and bool(np.any(np.abs(v - mean) <= TIE_RTOL * maxabs)),
        power=np.abs(np.fft.rfft(y)) ** 2 / w.size,
    )


def scale_of(name: str, s: WindowScales) -> float:
    if name in LOCATION:
        return s.maxabs
    if name in SPREAD:
        return s.spread
    if name in SCALE_FREE:
        return 1.0
    if name == "slope":
        return s.slope
    if name.startswith("band_energy_"):
        return s.energy
    return 0.0  # count and the other counts: exact


def close(a: float, b: float, scale: float, rtol: float = RTOL) -> bool:
    return abs(a - b) <= rtol * max(abs(b), scale)


def note_event(what: str) -> None:
    """Count it in hypothesis's statistics (``--hypothesis-show-statistics``) when inside a property test."""
    if currently_in_test_context():
        event(what)


def edge_bins(length: int, fs: float, bands: Sequence[Band] | None) -> list[np.ndarray]:
    """For each band, the bins within 1e-12 relative of one of its (positive, finite) edges."""
    out = []
    for lo, hi in exact_bands(fs, bands):
        edges = [e for e in (lo, hi) if e is not None and e > 0]
        near = [any(abs(bin_frequency(k, fs, length) - e) <= Fraction(TIE_RTOL) * e for e in edges)
                for k in range(length // 2 + 1)]
        out.append(np.array(near, dtype=bool))
    return out


def band_agrees(a: float, b: float, j: int, s: WindowScales, edges: list[np.ndarray],
                exact: list[np.ndarray]) -> bool:
    """Agreement, letting each edge bin of band j count in or out of it."""
    near = edges[j]
    if not near.any() or math.isnan(b):
        return close(a, b, s.energy)
    certain = float(np.sum(s.power[exact[j] & ~near]))
    maybe = float(np.sum(s.power[near]))
    slack = RTOL * max(certain + maybe, s.energy)
    return certain - slack <= a <= certain + maybe + slack


def assert_agrees(x: np.ndarray, got: dict[str, np.ndarray], want: dict[str, np.ndarray], fs: float,
                  bands: Sequence[Band] | None, strict_edges: bool = False) -> None:
    """Every feature of every window within the module's tolerance rule."""
    assert list(got) == list(want)
    x64 = np.asarray(x, dtype=np.float64)
    scales = [window_scales(w, fs) for w in x64]
    exact = band_masks(x.shape[1], fs, bands)
    edges = [np.zeros_like(m) for m in exact] if strict_edges else edge_bins(x.shape[1], fs, bands)
    for name, b_all in want.items():
        a_all = got[name]
        assert isinstance(a_all, np.ndarray) and a_all.dtype == np.float64 and a_all.shape == (x.shape[0],), name
        np.testing.assert_array_equal(np.isnan(a_all), np.isnan(b_all), err_msg=f"NaN positions of {name}")
        for i, (a, b) in enumerate(zip(a_all.tolist(), b_all.tolist())):
            if math.isnan(b) or _agrees(name, a, b, scales[i], edges, exact):
                continue
            pytest.fail(f"{name} of window {i}: extract {a!r}, reference {b!r}; window {x64[i].tolist()!r}")


def _agrees(name: str, a: float, b: float, s: WindowScales, edges: list[np.ndarray],
            exact: list[np.ndarray]) -> bool:
    if name in MEAN_COUNTS:
        if s.mean_tie:
            note_event(f"{name} not compared: a sample within 1e-12 of the mean")
            return True
        return a == b
    if name == "time_above_threshold":
        return close(a, b, 0.0, TIE_RTOL)
    if name.startswith("band_energy_"):
        return band_agrees(a, b, int(name.rsplit("_", 1)[1]), s, edges, exact)
    if s.constant and name == "mean":
        return a == b  # the spec: mean *is* that value
    if s.constant and name == "std":
        return a == 0.0
    return close(a, b, scale_of(name, s))


# -- generated windows ----------------------------------------------------------------

KINDS = ("normal", "normal", "normal", "trend", "trend", "sine", "heavy", "quantized", "constant", "empty")
LAYOUTS = ("c", "every_other_column", "fortran", "column_slice", "every_other_row", "reversed")
NON_FINITE = np.array([math.nan, math.inf, -math.inf])


@dataclass(frozen=True)
class Window:
    kind: str
    exponent: int
    offset: float  # in units of the window's spread; |offset| <= 1e3
    gaps: float  # fraction of samples made non-finite


@dataclass(frozen=True)
class Case:
    x: np.ndarray
    names: list[str] | None
    fs: float
    bands: list[Band] | None
    threshold: float


def base_window(kind: str, length: int, rng: np.random.Generator) -> np.ndarray:
    """Shapes of signal a sensor produces, before scaling, offset and gaps."""
    t = np.arange(length)
    if kind == "normal":
        return rng.standard_normal(length)
    if kind == "trend":
        return rng.uniform(-5, 5) * t / max(length, 1) + 0.1 * rng.standard_normal(length)
    if kind == "sine":
        return np.sin(2 * np.pi * rng.uniform(0, 0.5) * t + rng.uniform(0, 6)) + 0.01 * rng.standard_normal(length)
    if kind == "heavy":
        return rng.standard_t(2, length)
    if kind == "quantized":
        return rng.integers(-3, 4, length).astype(np.float64)
    if kind == "constant":
        return np.full(length, rng.choice([0.0, 1.0, -2.5, float(rng.standard_normal())]))
    return np.full(length, math.nan)  # "empty"


def make_window(spec: Window, length: int, rng: np.random.Generator) -> np.ndarray:
    """Offset bounded by 1e3 × spread: far larger offsets make skewness and
    kurtosis ill-conditioned (the deviations lose their digits to cancellation)
    in any implementation, so no tolerance could be stated for them."""
    w = base_window(spec.kind, length, rng)
    if spec.kind == "empty":
        return NON_FINITE[rng.integers(0, 3, length)]
    w = (w + spec.offset * float(np.ptp(w))) * 10.0**spec.exponent
    gaps = rng.random(length) < spec.gaps
    w[gaps] = NON_FINITE[rng.integers(0, 3, int(gaps.sum()))]
    return w


def lay_out(x: np.ndarray, layout: str) -> np.ndarray:
    """The same values as ``x`` in another memory layout, never contiguous except "c"."""
    n, length = x.shape
    if layout == "every_other_column":
        big = np.zeros((n, 2 * length), dtype=x.dtype)
        big[:, ::2] = x
        return big[:, ::2]
    if layout == "fortran":
        return np.asfortranarray(x)  # rows strided by n items: x.T of a C array
    if layout == "column_slice":
        big = np.full((n, length + 7), 99.0, dtype=x.dtype)
        big[:, 3 : 3 + length] = x
        return big[:, 3 : 3 + length]
    if layout == "every_other_row":
        big = np.zeros((2 * n, length), dtype=x.dtype)
        big[::2] = x
        return big[::2]
    if layout == "reversed":
        return np.ascontiguousarray(x[::-1, ::-1])[::-1, ::-1]  # negative strides
    return x


window_specs = st.builds(
    Window,
    kind=st.sampled_from(KINDS),
    exponent=st.one_of(st.just(0), st.integers(-30, 30)),
    offset=st.one_of(st.just(0.0), st.sampled_from([1.0, -5.0, 1e3, -1e3]), st.floats(-1e3, 1e3)),
    gaps=st.sampled_from([0.0, 0.0, 0.0, 0.05, 0.3, 0.9]),
)
sample_rates = st.one_of(st.sampled_from([1.0, 1 / 60, 0.1, 100.0]), st.floats(1e-3, 1e4))


@st.composite
def custom_bands(draw: st.DrawFn, fs: float) -> list[Band]:
    """1..5 bands in units of fs, possibly overlapping, the last possibly open-ended."""
    out = []
    for _ in range(draw(st.integers(1, 5))):
        lo = draw(st.sampled_from([0.0, 0.1, 0.125, 0.25])) if draw(st.booleans()) else draw(st.floats(0, 0.5))
        width = draw(st.one_of(st.just(math.inf), st.floats(0.01, 0.6)))
        out.append((lo * fs, lo * fs + width * fs if math.isfinite(width) else math.inf))
    return out


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 20))
    length = draw(st.one_of(st.sampled_from([1, 2, 3, 8, 64]), st.integers(1, 300)))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    specs = draw(st.lists(window_specs, min_size=n, max_size=n))
    if dtype == np.float32:  # keep |x| inside float32's normal range
        specs = [Window(s.kind, max(-20, min(20, s.exponent)), s.offset, s.gaps) for s in specs]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = np.stack([make_window(s, length, rng) for s in specs]).astype(dtype)
    fs = draw(sample_rates)
    bands = draw(st.one_of(st.none(), custom_bands(fs)))
    names = draw(st.one_of(st.none(), st.permutations(all_features(4 if bands is None else len(bands)))
                           .flatmap(lambda p: st.integers(1, len(p)).map(lambda k: list(p[:k])))))
    if names is None and bands is not None:
        names = list(all_features(len(bands)))  # None with custom bands: see its own test
    view = lay_out(x, draw(st.sampled_from(LAYOUTS)))
    assert np.array_equal(view, x, equal_nan=True)
    return Case(view, names, fs, bands, draw(thresholds(x)))


def thresholds(x: np.ndarray) -> st.SearchStrategy[float]:
    """0, a sample value itself (tests the strict ``>``), the doubles just beside
    one (a float32 sample must be compared as its exact value, not the threshold
    rounded to float32), or a level inside the data."""
    v = x[np.isfinite(x)].astype(np.float64)
    if v.size == 0:
        return st.just(0.0)
    samples = st.sampled_from(v.tolist())
    beside = st.tuples(samples, st.sampled_from([-math.inf, math.inf])).map(lambda p: math.nextafter(*p))
    return st.one_of(st.just(0.0), samples, beside, st.floats(float(v.min()), float(v.max())))


# -- agreement with the reference -----------------------------------------------------


@pytest.mark.slow
@settings(max_examples=300)
@given(cases(), st.booleans())
def test_extract_agrees_with_reference(case: Case, simd: bool) -> None:
    """Both kernel widths: the four-lane AVX2 ones this CPU may pick, and the
    portable two-lane ones every other machine runs (``simd=False``)."""
    got = features.extract(case.x, case.names, fs=case.fs, bands=case.bands, threshold=case.threshold, simd=simd)
    want = reference(case.x, case.names, case.fs, case.bands, case.threshold)
    note_event(f"dtype {case.x.dtype}, simd {simd}")
    assert_agrees(case.x, got, want, case.fs, case.bands)


@given(cases())
def test_moment_subset_agrees_with_reference(case: Case) -> None:
    """The one-pass path alone (random subsets seldom hit exactly this set)."""
    names = list(MOMENTS)
    got = features.extract(case.x, names, fs=case.fs, threshold=case.threshold)
    assert_agrees(case.x, got, reference(case.x, names, case.fs, None, case.threshold), case.fs, None)


def run(rows: Sequence[Sequence[float]], fs: float = 1.0, threshold: float = 0.0,
        bands: Sequence[Band] | None = None, strict_edges: bool = False,
        ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(extract, reference) of all features for small literal windows."""
    x = np.array(rows, dtype=np.float64)
    names = list(all_features(4 if bands is None else len(bands)))
    got = features.extract(x, names, fs=fs, bands=bands, threshold=threshold)
    want = reference(x, names, fs, bands, threshold)
    assert_agrees(x, got, want, fs, bands, strict_edges)
    return got, want


@pytest.mark.parametrize(
    ("rows", "kwargs", "expected"),
    [
        # a gap keeps later samples in place: slope 1 per second, not 2
        ([[0.0, math.nan, 2.0]], {}, {"slope": 1.0, "count": 2.0, "mean_abs_change": math.nan}),
        # only finite neighbours pair up: |3 - 2| only
        ([[0.0, math.nan, 2.0, 3.0]], {}, {"mean_abs_change": 1.0, "mean_crossings": 0.0}),
        # a non-finite sample breaks a run above the mean (3)
        ([[5.0, 5.0, math.inf, 5.0, 0.0, 0.0]], {}, {"longest_run_above_mean": 2.0, "mean_crossings": 1.0}),
        # constant apart from gaps: exact mean, std 0, shape features NaN, nothing above
        ([[2.0, math.nan, 2.0, -math.inf]], {},
         {"mean": 2.0, "std": 0.0, "skewness": math.nan, "kurtosis": math.nan, "lag1_autocorr": math.nan,
          "mean_crossings": 0.0, "longest_run_above_mean": 0.0, "band_energy_0": 0.0}),
        # no finite sample: counts 0, NaN elsewhere
        ([[math.nan, math.inf, -math.inf]], {},
         {"count": 0.0, "mean": math.nan, "band_energy_0": math.nan, "slope": math.nan,
          "mean_crossings": 0.0, "longest_run_above_mean": 0.0, "time_above_threshold": 0.0}),
        # one sample: no slope, no change, constant
        ([[7.0]], {}, {"count": 1.0, "slope": math.nan, "mean_abs_change": math.nan, "skewness": math.nan,
                       "median": 7.0, "iqr": 0.0}),
        # strictly above the threshold, in seconds
        ([[1.0, 2.0, 3.0, 2.0]], {"fs": 2.0, "threshold": 2.0}, {"time_above_threshold": 0.5}),
        # quantiles interpolate linearly between order statistics
        ([[4.0, 1.0, 3.0, 2.0]], {}, {"median": 2.5, "p10": 1.3, "p90": 3.7, "iqr": 1.5}),
        ([[1.0, 2.0, 3.0, 4.0]], {}, {"skewness": 0.0, "kurtosis": 1.64 - 3.0, "lag1_autocorr": 0.25}),
    ],
)
def test_spec_examples(rows: list[list[float]], kwargs: dict[str, float], expected: dict[str, float]) -> None:
    """Hand-worked values from docs/features.md: these also check the reference itself."""
    got, want = run(rows, **kwargs)
    for name, value in expected.items():
        for source, result in (("extract", got), ("reference", want)):
            actual = float(result[name][0])
            assert (math.isnan(actual) and math.isnan(value)) or actual == pytest.approx(value, rel=1e-12), (
                f"{source} {name}: {actual} != {value}"
            )


def test_tone_on_a_band_edge_belongs_to_the_band_above() -> None:
    """``low <= f``: with L = 1024 and fs = 1 the bins k = 128, 256, 384 are exactly
    fs/8, fs/4, 3fs/8 in any floating-point formula, so the spec decides."""
    t = np.arange(1024)
    x = np.stack([np.cos(2 * np.pi * k * t / 1024) for k in (127, 128, 256, 384, 512)])
    got, _ = run(x.tolist(), fs=1.0, strict_edges=True)
    bands = np.stack([got[f"band_energy_{j}"] for j in range(4)], axis=1)
    assert bands.argmax(axis=1).tolist() == [0, 1, 2, 3, 3]


def test_custom_bands_scale_with_fs() -> None:
    x = np.sin(2 * np.pi * 0.01 * np.arange(600))[None, :]  # 0.01 cycles/sample
    got, _ = run(x.tolist(), fs=1 / 60, bands=[(0.0, 0.01 / 120), (0.01 / 120, math.inf)])
    assert got["band_energy_1"][0] > 1e6 * got["band_energy_0"][0]


# -- layouts, dtypes, threads ---------------------------------------------------------


def sample_matrix(n: int, length: int, dtype: type, seed: int = 5) -> np.ndarray:
    """Windows with gaps, one constant row and one empty row."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, length)).cumsum(axis=1)
    x[rng.random((n, length)) < 0.05] = math.nan
    x[0, :] = 3.0
    if n > 1:
        x[1, :] = math.nan
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 40])
def test_threads_give_bit_identical_results(n: int, dtype: type) -> None:
    x = lay_out(sample_matrix(n, 257, dtype), "every_other_column")
    one = features.extract(x, fs=0.5, threshold=1.0, threads=1)
    for threads in (2, 3, 8):
        many = features.extract(x, fs=0.5, threshold=1.0, threads=threads)
        assert list(many) == list(one)
        for name in one:
            assert many[name].tobytes() == one[name].tobytes(), f"{name} with {threads} threads"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_is_read_in_place(layout: str, dtype: type) -> None:
    x = lay_out(sample_matrix(6, 100, dtype), layout)
    assert_agrees(x, features.extract(x, fs=2.0), reference(x, None, 2.0, None, 0.0), 2.0, None)


def unpickled(x: np.ndarray) -> np.ndarray:
    return pickle.loads(pickle.dumps(x))  # as multiprocessing hands it over


def big_endian(x: np.ndarray) -> np.ndarray:
    return x.astype(x.dtype.newbyteorder(">"))


def packed_field(x: np.ndarray) -> np.ndarray:
    """Readings stored beside a 1-byte flag: unaligned, 9- or 5-byte stride."""
    records = np.zeros(x.shape, dtype=np.dtype([("flag", "u1"), ("v", x.dtype)], align=False))
    records["v"] = x
    return records["v"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("variant", [unpickled, big_endian, packed_field], ids=lambda f: f.__name__)
def test_every_float64_and_float32_array_is_accepted(variant: Callable[[np.ndarray], np.ndarray], dtype: type) -> None:
    """The spec takes float64 or float32 of any layout; these arrays are that, though
    their dtype object is not numpy's canonical one (or they are unaligned)."""
    x = variant(sample_matrix(4, 30, dtype))
    assert x.dtype.kind == "f" and x.dtype.itemsize == np.dtype(dtype).itemsize
    assert_agrees(x, features.extract(x), reference(x, None, 1.0, None, 0.0), 1.0, None)


def test_input_is_read_in_place_and_left_alone() -> None:
    x = sample_matrix(4, 50, np.float64)
    before = x.copy()
    x.setflags(write=False)
    features.extract(x)
    np.testing.assert_array_equal(x, before)


def test_float32_is_read_as_its_exact_values() -> None:
    x32 = sample_matrix(5, 80, np.float32)
    got = features.extract(x32)
    want = reference(x32, None, 1.0, None, 0.0)
    assert_agrees(x32, got, want, 1.0, None)


# -- the result's shape ---------------------------------------------------------------


def test_feature_tuples_follow_the_spec() -> None:
    assert features.FEATURES == all_features(4)
    assert features.MOMENT_FEATURES == MOMENTS


def test_none_means_every_feature_in_order() -> None:
    got = features.extract(sample_matrix(3, 20, np.float64))
    assert list(got) == list(features.FEATURES)
    assert all(v.dtype == np.float64 and v.shape == (3,) for v in got.values())


@given(st.permutations(all_features(4)).flatmap(lambda p: st.integers(1, len(p)).map(lambda k: list(p[:k]))))
def test_names_come_back_exactly_in_the_order_asked(names: list[str]) -> None:
    got = features.extract(sample_matrix(2, 16, np.float64), names)
    assert list(got) == names
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 and v.shape == (2,) for v in got.values())


def test_custom_bands_rename_the_band_features() -> None:
    """Reading of the spec: with bands=[...] the band names are band_energy_0..len-1
    and features=None puts them where the default four stand."""
    bands = [(0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, math.inf)]
    got = features.extract(sample_matrix(2, 64, np.float64), bands=bands)
    assert list(got) == list(all_features(5))
    two = features.extract(sample_matrix(2, 64, np.float64), ["band_energy_1"], bands=bands[:2])
    assert list(two) == ["band_energy_1"]


# -- bad input ------------------------------------------------------------------------

GOOD = np.zeros((3, 10))
BAD_CALLS: list[tuple[str, type[Exception], Callable[[], object]]] = [
    ("1-D", ValueError, lambda: features.extract(np.zeros(10))),
    ("3-D", ValueError, lambda: features.extract(np.zeros((2, 3, 4)))),
    ("no rows", ValueError, lambda: features.extract(np.zeros((0, 10)))),
    ("no columns", ValueError, lambda: features.extract(np.zeros((10, 0)))),
    ("int", TypeError, lambda: features.extract(np.zeros((3, 10), dtype=np.int64))),
    ("object", TypeError, lambda: features.extract(np.zeros((3, 10), dtype=object))),
    ("complex", TypeError, lambda: features.extract(np.zeros((3, 10), dtype=np.complex128))),
    ("bool", TypeError, lambda: features.extract(np.zeros((3, 10), dtype=bool))),
    ("fs 0", ValueError, lambda: features.extract(GOOD, fs=0.0)),
    ("fs < 0", ValueError, lambda: features.extract(GOOD, fs=-1.0)),
    ("fs NaN", ValueError, lambda: features.extract(GOOD, fs=math.nan)),
    ("band low = high", ValueError, lambda: features.extract(GOOD, bands=[(0.1, 0.1)])),
    ("band low > high", ValueError, lambda: features.extract(GOOD, bands=[(0.2, 0.1)])),
    ("band low < 0", ValueError, lambda: features.extract(GOOD, bands=[(-0.1, 0.2)])),
    ("threads 0", ValueError, lambda: features.extract(GOOD, threads=0)),
    ("threads < 0", ValueError, lambda: features.extract(GOOD, threads=-2)),
]


@pytest.mark.parametrize(("what", "error", "call"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_raises_a_python_exception(what: str, error: type[Exception], call: Callable[[], object]) -> None:
    with pytest.raises(error):
        call()


@pytest.mark.parametrize("name", ["variance", "band_energy_4", "MEAN", ""])
def test_unknown_feature_is_named_in_the_error(name: str) -> None:
    with pytest.raises(ValueError) as info:
        features.extract(GOOD, ["mean", name])
    assert name in str(info.value)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(256, 3000),
    st.sampled_from(["normal", "rounded", "heavy_tail", "outliers", "nearly_flat", "cauchy"]),
    st.floats(0.0, 0.5),
    st.integers(0, 2**32 - 1),
)
def test_long_windows_quantiles_are_exact_order_statistics(length: int, shape: str, gaps: float, seed: int) -> None:
    """Windows of 256 samples and more take the histogram path: its buckets
    must never reorder values, whatever the distribution (duplicates, one
    bucket holding almost everything, ±1e300 outliers, gaps)."""
    rng = np.random.default_rng(seed)
    x = {
        "normal": lambda: rng.normal(size=length),
        "rounded": lambda: np.round(rng.normal(size=length) * 3),
        "heavy_tail": lambda: rng.exponential(size=length) ** 4,
        "outliers": lambda: np.concatenate([[1e300, -1e300], rng.normal(size=length - 2)]),
        "nearly_flat": lambda: np.where(rng.random(length) < 0.01, rng.normal(size=length), 5.0),
        "cauchy": lambda: rng.standard_cauchy(size=length),
    }[shape]()
    x[rng.random(length) < gaps] = np.nan
    finite = x[np.isfinite(x)]
    names = ["p10", "p25", "median", "p75", "p90"]
    got = features.extract(x[None, :], names)
    expected = np.quantile(finite, [0.10, 0.25, 0.50, 0.75, 0.90])
    spread = float(np.max(np.abs(expected)))  # interpolation rounds relative to its neighbours, not the result
    for name, want in zip(names, expected):
        assert got[name][0] == pytest.approx(want, rel=1e-12, abs=1e-12 * spread)
