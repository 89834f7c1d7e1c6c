"""Occupancy features, model and online estimator, without the UCI data.

What must hold whatever the readings:

* features never use the future: the features of a row are the same whatever
  the rows after it hold (prefix invariance), batch and online alike;
* NaN, infinite or non-numeric values, gaps, late readings and missing
  channels never raise; the estimator answers None ("unknown") while a channel
  it needs has no current value, and a probability again once it has;
* the online estimator gives the batch model's answers on the same readings;
* a saved and reloaded model predicts identically, and fitting is deterministic.

A small simulated office (CO2 mass balance, people at work on weekdays)
supplies labelled data where it is needed.
"""

from __future__ import annotations

import json
import math
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.apps.occupancy import (
    CHANNELS,
    FeatureSpec,
    OccupancyEstimator,
    OccupancyModel,
    RoomFeatures,
    default_model,
    feature_names,
    replay,
)
from agent.apps.occupancy.model import Schedule

MONDAY = 1_422_835_200.0  # 2015-02-02 00:00 UTC
STEP = 60.0
SPEC = FeatureSpec(channels=("co2", "humidity_ratio", "temperature", "humidity", "light", "pir"), time=True)

# -- a simulated office -----------------------------------------------------------------


def simulate(days: int, seed: int, start: float = MONDAY) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """One reading a minute per channel; occupied on weekdays from about 8:00 to 17:30 with a lunch break."""
    rng = np.random.default_rng(seed)
    n = days * 1440
    ts = start + STEP * np.arange(n)
    minute = np.arange(n) % 1440
    weekday = (np.arange(n) // 1440 + 0) % 7  # start is a Monday
    occ = np.zeros(n, dtype=np.int8)
    for d in range(days):
        if d % 7 >= 5:
            continue
        arrive, leave = 480 + rng.integers(-40, 40), 1050 + rng.integers(-40, 40)
        lunch = 720 + rng.integers(-20, 20)
        day = slice(d * 1440, (d + 1) * 1440)
        occ[day] = (minute[day] >= arrive) & (minute[day] < leave) & ~((minute[day] >= lunch)
                                                                        & (minute[day] < lunch + 40))
    co2 = np.empty(n)
    c = 430.0
    for i in range(n):
        c += 6.0 * occ[i] - 0.006 * (c - 420.0) + rng.normal(0, 1.5)
        co2[i] = c + rng.normal(0, 3)
    heating = ((minute >= 360) & (minute < 1080) & (weekday < 5)).astype(float)
    temperature = 20 + 1.5 * heating + 0.4 * occ + rng.normal(0, 0.05, n)
    humidity = 28 + 2 * occ + rng.normal(0, 0.02 + 0.08 * occ, n)
    values = {
        "co2": co2, "temperature": temperature, "humidity": humidity,
        "humidity_ratio": 0.0038 + 0.0003 * occ + rng.normal(0, 0.00003, n),
        "light": np.where(occ == 1, 450 + rng.normal(0, 20, n), np.maximum(0, rng.normal(0, 5, n))),
        "pir": ((occ == 1) & (rng.random(n) < 0.5)).astype(float),
    }
    return ts, values, occ


def rows_of(ts: np.ndarray, values: dict[str, np.ndarray]) -> list[tuple[float, dict[str, float]]]:
    return [(float(t), {ch: float(v[i]) for ch, v in values.items()}) for i, t in enumerate(ts)]


@pytest.fixture(scope="module")
def office() -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    return simulate(days=7, seed=1)


@pytest.fixture(scope="module")
def trained(office: tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]) -> OccupancyModel:
    ts, values, occ = office
    x, ready = replay(rows_of(ts, values), SPEC, UTC)
    return OccupancyModel(SPEC).fit(x[ready], occ[ready], (ts[ready] // 86400).astype(int))


# -- features use only the past ----------------------------------------------------------

value = st.one_of(
    st.floats(-50.0, 2000.0, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
row = st.tuples(
    st.sampled_from([1.0, 30.0, 59.0, 60.0, 61.0, 120.0, 700.0, 5000.0]),  # time since the previous row
    st.dictionaries(st.sampled_from(SPEC.channels), value, max_size=len(SPEC.channels)),
)


def _rows(spec: list[tuple[float, dict[str, float]]]) -> list[tuple[float, dict[str, float]]]:
    out, t = [], MONDAY + 8 * 3600
    for dt, readings in spec:
        t += dt
        out.append((t, readings))
    return out


@settings(max_examples=150)
@given(st.lists(row, min_size=1, max_size=60), st.lists(row, min_size=0, max_size=30), st.data())
def test_features_of_a_row_do_not_depend_on_later_rows(prefix: list, suffix: list, data: st.DataObject) -> None:
    """Prefix invariance: change every row after row k and rows 0..k keep their features, bit for bit."""
    k = data.draw(st.integers(0, len(prefix) - 1))
    base = _rows(prefix + suffix)
    changed = base[: k + 1] + [(t + 7.0, {c: v * 1.5 + 3.0 for c, v in r.items()}) for t, r in base[k + 1:]]
    x1, ready1 = replay(base, SPEC, UTC)
    x2, ready2 = replay(changed, SPEC, UTC)
    np.testing.assert_array_equal(x1[: k + 1], x2[: k + 1])
    np.testing.assert_array_equal(ready1[: k + 1], ready2[: k + 1])


@settings(max_examples=100)
@given(st.lists(row, min_size=1, max_size=60), st.data())
def test_online_answers_do_not_depend_on_later_readings(rows: list, data: st.DataObject) -> None:
    """The estimator's answer after row k is fixed once row k is in: later readings cannot change it."""
    model = _model_for(SPEC)
    base = _rows(rows)
    k = data.draw(st.integers(0, len(base) - 1))

    def answers(rs: list[tuple[float, dict[str, float]]]) -> list[float | None]:
        est = OccupancyEstimator(model, tz=UTC)
        out = []
        for t, readings in rs:
            for c, v in readings.items():
                est.push(c, t, v)
            out.append(est.probability(now=est.features.slot_end(t)))
        return out

    noise = [(t, {c: -v for c, v in r.items()}) for t, r in base[k + 1:]]
    assert answers(base)[: k + 1] == answers(base[: k + 1] + noise)[: k + 1]


def _model_for(spec: FeatureSpec) -> OccupancyModel:
    """A model with arbitrary but fixed weights: enough to exercise the online path."""
    m = OccupancyModel(spec)
    n = len(m.weights)
    m.weights = np.linspace(-1, 1, n)
    m.mean, m.scale = np.zeros(n), np.full(n, 10.0)
    if spec.time:
        m.schedule = Schedule(15, np.linspace(-3, 3, 2 * 96).reshape(2, 96))
        m.schedule_weight = 0.5
    return m


# -- bad input never crashes; missing data is "unknown" ---------------------------------

junk = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.none(), st.text(max_size=3), st.booleans(),
    st.integers(-10**20, 10**20),
)


@settings(max_examples=200)
@given(st.lists(st.tuples(st.one_of(st.sampled_from([*CHANNELS, "illuminance", "CO2", "bogus"]), st.none(),
                                    st.integers()),
                          st.one_of(st.floats(MONDAY - 1e6, MONDAY + 1e6), junk), junk), max_size=80))
def test_any_readings_give_a_probability_or_none_and_never_raise(readings: list) -> None:
    est = OccupancyEstimator(_model_for(SPEC), tz=UTC)
    for channel, ts, v in readings:
        est.push(channel, ts, v)  # type: ignore[arg-type]
        p = est.probability()
        assert p is None or 0.0 <= p <= 1.0
        q = est.probability(now=ts if isinstance(ts, float) else None)
        assert q is None or 0.0 <= q <= 1.0


def feed(est: OccupancyEstimator, t: float, channels: tuple[str, ...], v: float = 500.0) -> None:
    for c in channels:
        est.push(c, t, v)


def test_missing_channel_is_unknown_until_it_reports() -> None:
    spec = FeatureSpec(channels=("co2", "temperature"), time=False)
    est = OccupancyEstimator(_model_for(spec))
    assert est.probability() is None  # nothing yet
    est.push("co2", MONDAY, 600.0)
    assert est.probability(now=MONDAY + 90) is None
    assert est.stale_channels() == ["temperature"]
    est.push("temperature", MONDAY + 120, 21.0)
    est.push("co2", MONDAY + 120, 610.0)
    assert est.probability() is not None


def test_a_silent_sensor_turns_the_answer_unknown_after_hold_and_back_when_it_returns() -> None:
    spec = FeatureSpec(channels=("co2", "temperature"), time=False, hold_s=600)
    est = OccupancyEstimator(_model_for(spec))
    for i in range(10):
        feed(est, MONDAY + 60 * i, spec.channels)
    assert est.probability() is not None
    t = MONDAY + 60 * 9
    for i in range(1, 12):  # temperature goes silent; co2 keeps reporting
        est.push("co2", t + 60 * i, 500.0)
    assert est.probability(now=t + 60 * 5) is not None  # within hold: last value stands in
    assert est.probability(now=t + 60 * 12) is None
    assert est.stale_channels() == ["temperature"]
    feed(est, t + 60 * 13, spec.channels)
    assert est.probability() is not None


def test_a_long_gap_costs_at_most_a_window_of_slots_and_recovers() -> None:
    spec = FeatureSpec(channels=("co2",), time=False)
    est = OccupancyEstimator(_model_for(spec))
    feed(est, MONDAY, spec.channels)
    assert est.probability(now=MONDAY + 86400 * 365) is None  # a year of silence
    feed(est, MONDAY + 86400 * 365 + 60, spec.channels)
    assert est.probability() is not None
    assert est.features.vector() is not None and np.isnan(est.features.vector()[:2]).all()  # no slope yet


def test_late_and_bad_readings_are_dropped_and_counted() -> None:
    spec = FeatureSpec(channels=("co2",), time=False)
    room = RoomFeatures(spec)
    assert room.push("co2", MONDAY + 600, 500.0)
    assert not room.push("co2", MONDAY, 500.0)  # older than a closed slot
    assert not room.push("co2", MONDAY + 660, math.nan)
    assert not room.push("light", MONDAY + 660, 1.0)  # not a channel of this spec
    assert not room.push("co2", "noon", 1.0)  # type: ignore[arg-type]
    assert room.dropped == 4
    first = RoomFeatures(FeatureSpec(channels=("co2", "light"), time=False))
    assert first.push("co2", MONDAY + 600, 500.0)
    assert not first.push("light", MONDAY, 5.0)  # before the slot being filled


def test_channel_aliases() -> None:
    spec = FeatureSpec(channels=("light", "pir"), time=False)
    room = RoomFeatures(spec)
    assert room.push("illuminance", MONDAY, 300.0) and room.push("Occupancy", MONDAY, 1.0)
    v = room.vector()
    assert v is not None and v[0] == 300.0


def test_pir_slot_keeps_any_motion() -> None:
    spec = FeatureSpec(channels=("pir", "co2"), time=False)
    room = RoomFeatures(spec)
    for i, motion in enumerate([0.0, 1.0, 0.0]):
        room.push("pir", MONDAY + 10 * i, motion)  # three readings in one slot
    room.push("co2", MONDAY, 500.0)
    v = room.vector()
    assert v is not None and dict(zip(room.names, v))["pir_mean_5m"] == 1.0


def test_time_features_follow_the_time_zone() -> None:
    from zoneinfo import ZoneInfo

    spec = FeatureSpec(channels=("co2",), time=True)
    utc, paris = RoomFeatures(spec, UTC), RoomFeatures(spec, ZoneInfo("Europe/Paris"))
    for room in (utc, paris):
        room.push("co2", MONDAY + 7 * 3600, 500.0)  # 07:00 UTC on a Monday = 08:00 in Paris
    assert utc.vector()[-2:].tolist() == [420.0, 0.0]  # type: ignore[index]
    assert paris.vector()[-2:].tolist() == [480.0, 0.0]  # type: ignore[index]


def test_spec_orders_channels_and_rejects_unknown_ones() -> None:
    assert FeatureSpec(channels=("light", "co2")).channels == ("co2", "light")
    with pytest.raises(ValueError, match="channels"):
        FeatureSpec(channels=("co2", "smell"))
    with pytest.raises(ValueError, match="channels"):
        FeatureSpec(channels=())
    with pytest.raises(ValueError, match="step_s"):
        FeatureSpec(step_s=0)
    names = feature_names(FeatureSpec(channels=("co2",), time=False))
    assert names == ["co2_source_3m", "co2_source_5m", "co2_source_10m", "co2_source_20m"]


# -- the model ---------------------------------------------------------------------------


def test_online_estimator_equals_the_batch_model(office: tuple, trained: OccupancyModel) -> None:
    ts, values, _ = office
    rows = rows_of(ts[:3000], {k: v[:3000] for k, v in values.items()})
    x, ready = replay(rows, SPEC, UTC)
    batch = trained.predict_proba(x)
    est = OccupancyEstimator(trained, tz=UTC)
    online = []
    for t, readings in rows:
        for c, v in readings.items():
            est.push(c, t, v)
        online.append(est.probability())
    assert all(p is not None for p in online) and ready.all()
    np.testing.assert_allclose(np.array(online, dtype=float), batch, rtol=0, atol=1e-12)


def test_model_learns_the_simulated_office(office: tuple, trained: OccupancyModel) -> None:
    """On a week it never saw, sensors find people; the schedule alone cannot know the lunch breaks."""
    ts, values, occ = simulate(days=7, seed=2, start=MONDAY + 7 * 86400)
    x, ready = replay(rows_of(ts, values), SPEC, UTC)
    acc = float(np.mean(trained.predict(x[ready]) == (occ[ready] == 1)))
    assert acc > 0.97
    assert np.mean(trained.time_decided(x[ready])) < 0.1


def test_fit_is_deterministic(office: tuple) -> None:
    ts, values, occ = office
    x, ready = replay(rows_of(ts[:4000], {k: v[:4000] for k, v in values.items()}), SPEC, UTC)
    groups = (ts[:4000] // 86400).astype(int)[ready]
    a = OccupancyModel(SPEC, l2=1.0).fit(x[ready], occ[:4000][ready], groups)
    b = OccupancyModel(SPEC, l2=1.0).fit(x[ready], occ[:4000][ready], groups)
    assert a.to_dict() == b.to_dict()


@settings(max_examples=50)
@given(st.lists(st.lists(st.one_of(st.floats(-1e4, 1e4), st.just(math.nan)), min_size=len(feature_names(SPEC)),
                         max_size=len(feature_names(SPEC))), min_size=1, max_size=20))
def test_save_and_load_give_identical_predictions(tmp_path_factory: pytest.TempPathFactory,
                                                  trained: OccupancyModel, xs: list[list[float]]) -> None:
    path = tmp_path_factory.mktemp("model") / "room.json"
    trained.save(path)
    loaded = OccupancyModel.load(path)
    x = np.array(xs)
    np.testing.assert_array_equal(trained.predict_proba(x), loaded.predict_proba(x))
    for v in x:
        assert trained.proba_one(v) == loaded.proba_one(v)
    assert loaded.spec == trained.spec and loaded.names == trained.names


def test_model_file_names_its_channels_and_features(tmp_path: Path, trained: OccupancyModel) -> None:
    path = tmp_path / "room.json"
    trained.save(path)
    d = json.loads(path.read_text())
    assert d["channels"] == list(SPEC.channels) and d["features"] == feature_names(SPEC)
    assert path.stat().st_size < 20_000


def test_load_rejects_a_file_whose_features_this_code_does_not_compute(tmp_path: Path,
                                                                      trained: OccupancyModel) -> None:
    d = trained.to_dict()
    d["features"] = d["features"][::-1]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="bad.json"):
        OccupancyModel.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        OccupancyModel.load(path)


def test_a_model_without_time_ignores_the_clock(office: tuple) -> None:
    ts, values, occ = office
    spec = FeatureSpec(channels=("co2", "humidity"), time=False)
    x, ready = replay(rows_of(ts[:3000], {k: values[k][:3000] for k in spec.channels}), spec)
    m = OccupancyModel(spec).fit(x[ready], occ[:3000][ready])
    assert m.schedule is None and "time" not in m.contributions(x[ready])
    assert not m.time_decided(x[ready]).any()


@pytest.mark.parametrize("variant", ["all", "no_light", "no_light_no_time"])
def test_shipped_models_load_and_run(variant: str) -> None:
    model = default_model(variant)
    assert ("light" in model.spec.channels) == (variant == "all")
    assert model.spec.time == (variant != "no_light_no_time")
    est = OccupancyEstimator(model, tz=UTC)
    for i in range(30):
        feed(est, MONDAY + 9 * 3600 + 60 * i, model.spec.channels, 500.0 + 5 * i)
    p = est.probability()
    assert p is not None and 0.0 <= p <= 1.0
    with pytest.raises(ValueError, match="variant"):
        default_model("colour")
