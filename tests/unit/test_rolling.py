"""Rolling statistics in the native core, checked against numpy.

The state layer trusts these numbers for every point of the building, so the
properties tested are the ones users read: the window holds exactly the last
``capacity`` finite samples, and its statistics agree with numpy over them.
"""

from __future__ import annotations

import ast
import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import agent._core as core
from agent.state.rolling import (
    MAX_CAPACITY,
    PointStats,
    RollingStats,
    RollingStatsBank,
    point_stats,
)

Sample = tuple[float, float]

# Near the subnormal range double precision itself runs out, for numpy as much
# as for us: a mean of values around 1e-320 is only good to a few units of
# 5e-324, and squared deviations of values below ~1e-154 underflow.
SUBNORMAL_MEAN_FLOOR = 1e-300
SUBNORMAL_STD_FLOOR = 1e-150

finite_values = st.one_of(
    st.floats(-1e100, 1e100, allow_nan=False),
    st.floats(-1e-290, 1e-290, allow_nan=False),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.integers(-1000, 1000).map(float),
)
values = st.one_of(finite_values, st.sampled_from([math.nan, math.inf, -math.inf]))
times = st.one_of(st.floats(0, 2e9, allow_nan=False), st.sampled_from([math.nan, math.inf]))
capacities = st.one_of(st.just(1), st.just(2), st.integers(1, 40))


@st.composite
def streams(draw: st.DrawFn) -> list[Sample]:
    """Random samples, or a constant value with a few non-finite ones mixed in."""
    if draw(st.booleans()):
        return draw(st.lists(st.tuples(times, values), max_size=120))
    constant = draw(finite_values)
    xs = draw(st.lists(st.one_of(st.just(constant), st.just(math.nan)), max_size=120))
    return [(float(i), x) for i, x in enumerate(xs)]


def window(samples: Sequence[Sample], capacity: int) -> list[Sample]:
    """The reference: the last ``capacity`` samples with finite time and value."""
    return [(t, x) for t, x in samples if math.isfinite(t) and math.isfinite(x)][-capacity:]


def filled(capacity: int, samples: Sequence[Sample]) -> RollingStats:
    stats = RollingStats(capacity)
    for t, x in samples:
        stats.push(t, x)
    return stats


def assert_close(got: float, want: float, *, scale: float, floor: float = 0.0) -> None:
    """|got - want| within 1e-9 relative, or 1e-9 of the window's magnitude."""
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9 * scale + floor)


def assert_matches_numpy(stats: RollingStats, kept: list[Sample]) -> None:
    ts = np.array([t for t, _ in kept])
    xs = np.array([x for _, x in kept])
    assert stats.count == len(kept) == len(stats)
    np.testing.assert_array_equal(stats.values(), xs)
    np.testing.assert_array_equal(stats.times(), ts)
    if not kept:
        for name in ("mean", "variance", "pvariance", "std", "pstd", "min", "max", "last", "last_time"):
            assert math.isnan(getattr(stats, name)), name
        return
    scale = float(np.max(np.abs(xs)))
    assert stats.min == xs.min()
    assert stats.max == xs.max()
    assert stats.last == xs[-1]
    assert stats.last_time == ts[-1]
    assert stats.min <= stats.mean <= stats.max
    assert_close(stats.mean, float(np.mean(xs)), scale=scale, floor=SUBNORMAL_MEAN_FLOOR)
    assert_close(stats.pstd, float(np.std(xs)), scale=scale, floor=SUBNORMAL_STD_FLOOR)
    if len(kept) == 1:
        assert math.isnan(stats.std) and math.isnan(stats.variance)
        assert stats.pstd == 0.0
    else:
        assert_close(stats.std, float(np.std(xs, ddof=1)), scale=scale, floor=SUBNORMAL_STD_FLOOR)
    if xs.min() == xs.max():
        assert stats.mean == xs[0]
        assert stats.pvariance == 0.0


# --------------------------------------------------------------- RollingStats


@given(capacities, streams())
def test_window_statistics_match_numpy(capacity: int, samples: list[Sample]) -> None:
    stats = filled(capacity, samples)
    assert_matches_numpy(stats, window(samples, capacity))
    non_finite = sum(1 for t, x in samples if not (math.isfinite(t) and math.isfinite(x)))
    assert stats.rejected == non_finite


@given(capacities, streams())
def test_statistics_match_numpy_after_every_push(capacity: int, samples: list[Sample]) -> None:
    stats = RollingStats(capacity)
    for i, (t, x) in enumerate(samples):
        accepted = stats.push(t, x)
        assert accepted == (math.isfinite(t) and math.isfinite(x))
        assert_matches_numpy(stats, window(samples[: i + 1], capacity))


@given(
    st.integers(2, 64),
    st.lists(st.integers(-1000, 1000), min_size=2, max_size=300),
)
def test_variance_of_well_scaled_data_is_accurate_to_1e9(capacity: int, ints: list[int]) -> None:
    xs = [float(v) for v in ints]
    stats = filled(capacity, [(float(i), x) for i, x in enumerate(xs)])
    kept = np.array(xs[-capacity:])
    assert stats.variance == pytest.approx(np.var(kept, ddof=1), rel=1e-9)
    assert stats.pvariance == pytest.approx(np.var(kept), rel=1e-9)
    assert stats.mean == pytest.approx(np.mean(kept), rel=1e-9, abs=1e-12)


@given(
    offset=st.floats(-1e9, 1e9),
    noise=st.floats(1e-3, 1e3),
    seed=st.integers(0, 2**32 - 1),
    capacity=st.integers(2, 300),
)
def test_long_streams_do_not_drift(offset: float, noise: float, seed: int, capacity: int) -> None:
    xs = offset + noise * np.random.default_rng(seed).standard_normal(5000)
    stats = filled(capacity, [(float(i), float(x)) for i, x in enumerate(xs)])
    kept = xs[-capacity:]
    assert stats.std == pytest.approx(np.std(kept, ddof=1), rel=1e-9, abs=1e-9 * np.max(np.abs(kept)))
    assert stats.mean == pytest.approx(np.mean(kept), rel=1e-12)


def test_variance_recovers_when_an_outlier_leaves_the_window() -> None:
    # Rounding error left by 1e9 would swamp the variance of the small values
    # if the sums were not rebuilt when the window's magnitude collapses.
    capacity = 1000
    xs = [1e9] + [float(i % 3) for i in range(capacity)]
    stats = filled(capacity, [(float(i), x) for i, x in enumerate(xs)])
    kept = np.array(xs[-capacity:])
    assert 1e9 not in stats.values()
    assert stats.variance == pytest.approx(np.var(kept, ddof=1), rel=1e-12)
    assert stats.mean == pytest.approx(np.mean(kept), rel=1e-12)


def test_statistics_recover_after_overflowing_values_leave() -> None:
    stats = RollingStats(3)
    stats.push(0.0, 1e300)
    stats.push(1.0, -1e300)
    assert math.isinf(stats.variance)
    for i, x in enumerate([20.5, 21.0, 22.5]):
        stats.push(2.0 + i, x)
    assert stats.mean == pytest.approx(np.mean([20.5, 21.0, 22.5]), rel=1e-12)
    assert stats.variance == pytest.approx(np.var([20.5, 21.0, 22.5], ddof=1), rel=1e-12)


def test_clear_forgets_samples_and_rejections() -> None:
    stats = filled(4, [(0.0, 1.0), (1.0, math.nan), (2.0, 3.0)])
    stats.clear()
    assert stats.count == 0 and stats.rejected == 0 and math.isnan(stats.mean)
    stats.push(5.0, 7.0)
    assert (stats.mean, stats.last_time, stats.capacity) == (7.0, 5.0, 4)


def test_returned_arrays_are_copies() -> None:
    stats = filled(3, [(0.0, 1.0), (1.0, 2.0)])
    vals = stats.values()
    vals[0] = 99.0
    assert stats.values().tolist() == [1.0, 2.0]
    assert vals.dtype == np.float64 and stats.times().dtype == np.float64


@pytest.mark.parametrize("capacity", [0, -1, MAX_CAPACITY + 1])
def test_bad_capacity_is_a_value_error(capacity: int) -> None:
    with pytest.raises(ValueError, match="capacity"):
        RollingStats(capacity)


@pytest.mark.parametrize("capacity", [1.5, "10", None])
def test_non_integer_capacity_is_a_type_error(capacity: object) -> None:
    with pytest.raises(TypeError):
        RollingStats(capacity)  # type: ignore[arg-type]


def test_non_numeric_sample_is_a_type_error() -> None:
    stats = RollingStats(2)
    with pytest.raises(TypeError):
        stats.push("now", 1.0)  # type: ignore[arg-type]
    assert stats.count == 0


def test_point_stats_is_an_immutable_copy() -> None:
    stats = filled(3, [(10.0, 1.0), (11.0, 3.0), (12.0, math.inf)])
    snap = point_stats(stats)
    stats.push(13.0, 100.0)
    assert snap == PointStats(2, 2.0, math.sqrt(2.0), 1.0, 3.0, 3.0, 11.0, 1)
    assert snap.age(20.0) == 9.0 and not snap.empty
    empty = point_stats(RollingStats(3))
    assert empty.empty and empty.age(20.0) == math.inf


# ----------------------------------------------------------- RollingStatsBank


@st.composite
def batches(draw: st.DrawFn) -> tuple[int, int, list[tuple[int, float, float]]]:
    points = draw(st.integers(1, 8))
    capacity = draw(capacities)
    rows = draw(st.lists(st.tuples(st.integers(0, points - 1), times, values), max_size=200))
    return points, capacity, rows


def snapshot_columns(bank: RollingStatsBank) -> dict[str, np.ndarray]:
    snap = bank.snapshot()
    names = ("count", "mean", "std", "min", "max", "last", "last_time")
    return {name: np.array(getattr(snap, name)) for name in names}


@given(batches(), st.integers(1, 50))
def test_push_many_equals_individual_pushes(
    batch: tuple[int, int, list[tuple[int, float, float]]], chunk: int
) -> None:
    points, capacity, rows = batch
    many = RollingStatsBank(points, capacity)
    accepted = 0
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        idx = np.array([r[0] for r in part], dtype=np.int32)
        accepted += many.push_many(idx, np.array([r[1] for r in part]), np.array([r[2] for r in part]))
    singles = [RollingStats(capacity) for _ in range(points)]
    for i, t, x in rows:
        singles[i].push(t, x)

    assert accepted == sum(1 for _, t, x in rows if math.isfinite(t) and math.isfinite(x))
    cols = snapshot_columns(many)
    for p, single in enumerate(singles):
        assert cols["count"][p] == single.count
        for name in ("mean", "std", "min", "max", "last", "last_time"):
            np.testing.assert_equal(cols[name][p], getattr(single, name))
        copy = many.point(p)
        np.testing.assert_array_equal(copy.values(), single.values())
        np.testing.assert_array_equal(copy.times(), single.times())
        assert copy.rejected == single.rejected


@given(batches())
def test_bank_push_equals_push_many(batch: tuple[int, int, list[tuple[int, float, float]]]) -> None:
    points, capacity, rows = batch
    one_by_one = RollingStatsBank(points, capacity)
    for i, t, x in rows:
        one_by_one.push(i, t, x)
    together = RollingStatsBank(points, capacity)
    together.push_many([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    a, b = snapshot_columns(one_by_one), snapshot_columns(together)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_push_many_counts_accepted_samples() -> None:
    bank = RollingStatsBank(2, 2)
    n = bank.push_many([0, 0, 0, 1], [1.0, 2.0, 3.0, math.nan], [5.0, 6.0, 7.0, 1.0])
    assert n == 3
    snap = bank.snapshot()
    assert snap.count.tolist() == [2, 0]
    assert snap.mean[0] == 6.5 and math.isnan(snap.mean[1])
    assert len(snap) == len(bank) == 2


def test_snapshot_columns_are_read_only() -> None:
    bank = RollingStatsBank(1, 2)
    bank.push(0, 1.0, 2.0)
    snap = bank.snapshot()
    with pytest.raises(ValueError):
        snap.mean[0] = 3.0
    assert snap.count.dtype == np.int64 and snap.last_time.dtype == np.float64


BAD_BATCHES: list[tuple[str, object, object, object, type[Exception], str]] = [
    ("index too large", [0, 3], [1.0, 2.0], [1.0, 2.0], ValueError, r"idx\[1\] = 3 is out of range"),
    ("negative index", [-1], [1.0], [1.0], ValueError, "out of range"),
    ("huge unsigned index", np.array([2**64 - 1], dtype=np.uint64), [1.0], [1.0], ValueError, "out of range"),
    ("lengths differ", [0, 1], [1.0], [1.0, 2.0], ValueError, "same length"),
    ("2-D index", [[0]], [[1.0]], [[1.0]], ValueError, "1-D"),
    ("scalar index", 0, [1.0], [1.0], ValueError, "1-D"),
    ("float index", [0.5], [1.0], [1.0], TypeError, "integers"),
    ("bool index", [True], [1.0], [1.0], TypeError, "integers"),
    ("text index", ["a"], [1.0], [1.0], TypeError, "integers"),
    ("None index", None, [1.0], [1.0], TypeError, "integers"),
    ("text time", [0], ["noon"], [1.0], TypeError, "real numbers"),
    ("complex value", [0], [1.0], [1j], TypeError, "real numbers"),
    ("object value", [0], [1.0], [object()], TypeError, "real numbers"),
]


@pytest.mark.parametrize(
    ("idx", "t", "x", "error", "message"),
    [case[1:] for case in BAD_BATCHES],
    ids=[case[0] for case in BAD_BATCHES],
)
def test_bad_batch_raises_and_changes_nothing(
    idx: object, t: object, x: object, error: type[Exception], message: str
) -> None:
    bank = RollingStatsBank(3, 4)
    bank.push_many([0, 1], [1.0, 2.0], [10.0, 20.0])
    before = snapshot_columns(bank)
    with pytest.raises(error, match=message):
        bank.push_many(idx, t, x)  # type: ignore[arg-type]
    after = snapshot_columns(bank)
    for name in before:
        np.testing.assert_array_equal(before[name], after[name])


def test_bank_accepts_any_integer_and_real_dtypes() -> None:
    bank = RollingStatsBank(3, 4)
    n = bank.push_many(
        np.array([0, 2], dtype=np.uint8), np.array([1, 2], dtype=np.int16), np.array([0.5, 1.5], dtype=np.float32)
    )
    assert n == 2
    np.testing.assert_array_equal(bank.snapshot().last, [0.5, np.nan, 1.5])
    np.testing.assert_array_equal(bank.point(2).times(), [2.0])
    assert bank.push_many([], [], []) == 0


@pytest.mark.parametrize(
    ("points", "capacity"), [(1, 0), (-1, 4), (MAX_CAPACITY, 2)], ids=["zero capacity", "negative", "too big"]
)
def test_bad_bank_shape_is_a_value_error(points: int, capacity: int) -> None:
    with pytest.raises(ValueError):
        RollingStatsBank(points, capacity)


def test_single_point_access_out_of_range_is_an_index_error() -> None:
    bank = RollingStatsBank(2, 2)
    with pytest.raises(IndexError):
        bank.push(2, 1.0, 1.0)
    with pytest.raises(IndexError):
        bank.point(-1)


@given(batches(), st.floats(0, 2e9), st.floats(0, 1e6))
def test_stale_flags_silent_and_never_seen_points(
    batch: tuple[int, int, list[tuple[int, float, float]]], now: float, max_age: float
) -> None:
    points, capacity, rows = batch
    bank = RollingStatsBank(points, capacity)
    bank.push_many([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    expected = []
    for p in range(points):
        kept = window([(t, x) for i, t, x in rows if i == p], capacity)
        expected.append(not kept or now - kept[-1][0] > max_age)
    flags = bank.stale(now, max_age)
    assert flags.dtype == np.bool_
    assert flags.tolist() == expected


def test_stale_boundary_and_bad_arguments() -> None:
    bank = RollingStatsBank(3, 2)
    bank.push(0, 100.0, 1.0)
    bank.push(1, 90.0, 1.0)
    assert bank.stale(110.0, 10.0).tolist() == [False, True, True]
    assert bank.stale(110.0, math.inf).tolist() == [False, False, True]
    with pytest.raises(ValueError):
        bank.stale(math.nan, 10.0)


def test_concurrent_batches_from_threads_are_all_applied() -> None:
    # push_many releases the GIL; the bank's own lock must keep batches whole.
    bank = RollingStatsBank(4, 100_000)
    per_thread = 20_000
    idx = np.arange(per_thread, dtype=np.int64) % 4
    xs = np.arange(per_thread, dtype=np.float64)

    def feed() -> None:
        for start in range(0, per_thread, 1000):
            sl = slice(start, start + 1000)
            bank.push_many(idx[sl], xs[sl], xs[sl])

    threads = [threading.Thread(target=feed) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    snap = bank.snapshot()
    assert snap.count.tolist() == [per_thread] * 4
    for p in range(4):
        assert sorted(bank.point(p).values().tolist()) == sorted(xs[p::4].tolist() * 4)


# -------------------------------------------------------------------- stubs


def _stub_tree() -> ast.Module:
    return ast.parse((Path(__file__).resolve().parents[2] / "agent" / "_core.pyi").read_text())


def _public(names: object) -> set[str]:
    return {n for n in names if not n.startswith("_")}  # type: ignore[attr-defined]


def test_stub_declares_exactly_the_native_module() -> None:
    tree = _stub_tree()
    declared: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            declared[node.name] = _public(
                n.name for n in node.body if isinstance(n, ast.FunctionDef)
            )
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            declared[node.target.id] = set()
        elif isinstance(node, ast.FunctionDef):
            declared[node.name] = set()
    assert set(declared) == _public(n for n in dir(core) if not isinstance(getattr(core, n), type(core)))
    for name, members in declared.items():
        obj = getattr(core, name)
        if isinstance(obj, type):
            assert members == _public(vars(obj)), name
