"""Occupancy inference on the UCI office data, and the loader for that format.

The data (Candanedo and Feldheim, 2016; UCI Machine Learning Repository, CC BY
4.0) is read from ``../shared/data/`` beside the project, as its README asks;
the tests that need it skip when it is absent.  Models are trained on
``datatraining.txt`` only and scored on ``datatest.txt``.

The thresholds are the goals the model meets (benchmarks/occupancy.py prints
the numbers, docs/occupancy.md discusses them).  With all sensors the issue's
goal of 98.5% is not met (97.8%, level with a light threshold), so that test
asserts what is met.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import numpy as np
import pytest

from agent.apps.occupancy import (
    FeatureSpec,
    OccupancyEstimator,
    OccupancyModel,
    default_model,
    uci,
)
from agent.apps.occupancy.model import Schedule

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "uci_occupancy"
SENSORS = ("co2", "humidity_ratio", "temperature", "humidity")
NO_LIGHT = FeatureSpec(channels=SENSORS, time=True)
ALL = FeatureSpec(channels=(*SENSORS, "light"), time=True)
SCHEDULE_GRID = ((60, 0), (30, 1), (15, 2), (15, 4), (10, 3), (5, 6))


def _load(name: str) -> uci.Labelled:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"the UCI occupancy data is not at {path} (../shared/data beside the project)")
    return uci.load(path)


@pytest.fixture(scope="module")
def train() -> uci.Labelled:
    return _load("datatraining.txt")


@pytest.fixture(scope="module")
def test() -> uci.Labelled:
    return _load("datatest.txt")


@pytest.fixture(scope="module")
def no_light(train: uci.Labelled) -> OccupancyModel:
    return uci.train(train, NO_LIGHT)


def accuracy(model: OccupancyModel, data: uci.Labelled) -> float:
    x, _ = uci.features_of(data, model.spec)
    return float(np.mean(model.predict(x) == (data.occupancy == 1)))


def schedule_predictions(train: uci.Labelled, test: uci.Labelled, bins: int, smooth: int) -> np.ndarray:
    def cols(d: uci.Labelled) -> tuple[np.ndarray, np.ndarray]:
        return (d.ts % 86400) // 60, (d.ts // 86400 + 3) % 7  # 1970-01-01 was a Thursday

    s = Schedule.fit(*cols(train), train.occupancy.astype(float), bins, smooth)
    return s.logit(*cols(test)) >= 0


def test_files_load_as_documented(train: uci.Labelled, test: uci.Labelled) -> None:
    assert (len(train), len(test)) == (8143, 2665)
    assert sorted(train.values) == sorted([*SENSORS, "light"])
    assert 0.2 < train.occupancy.mean() < 0.22 and 0.36 < test.occupancy.mean() < 0.37
    assert np.all(np.diff(train.ts) > 0)


def test_without_light_beats_every_schedule_model_and_reaches_97_percent(
    no_light: OccupancyModel, train: uci.Labelled, test: uci.Labelled
) -> None:
    """The schedule models get their best settings *on the test file* here, and still lose."""
    best_schedule = max(float(np.mean(schedule_predictions(train, test, b, s) == (test.occupancy == 1)))
                        for b, s in SCHEDULE_GRID)
    acc = accuracy(no_light, test)
    assert best_schedule < 0.96
    assert acc >= 0.97
    assert acc > best_schedule + 0.01


def test_without_light_it_is_not_a_schedule_model(no_light: OccupancyModel, train: uci.Labelled,
                                                  test: uci.Labelled) -> None:
    """Where people deviate from the schedule, the sensors say so: most of the schedule's
    mistakes are right here, and the schedule term flips few decisions."""
    x, _ = uci.features_of(test, NO_LIGHT)
    truth = test.occupancy == 1
    wrong = schedule_predictions(train, test, 60, 0) != truth
    assert wrong.sum() > 100
    assert np.mean(no_light.predict(x)[wrong] == truth[wrong]) >= 0.6
    assert np.mean(no_light.time_decided(x)) < 0.05


def test_sensor_evidence_alone_without_light_or_time(train: uci.Labelled, test: uci.Labelled) -> None:
    """No light, no clock: far above a logistic regression on the raw readings (88.2%)."""
    assert accuracy(uci.train(train, FeatureSpec(channels=SENSORS, time=False)), test) >= 0.93


def test_with_all_sensors(train: uci.Labelled, test: uci.Labelled) -> None:
    """97.8% measured; the 98.5% goal is NOT met (see docs/occupancy.md), so this asserts what is."""
    assert accuracy(uci.train(train, ALL), test) >= 0.975


def test_the_all_sensors_goal_lies_above_what_the_model_can_fit_even_to_the_test_file(
    train: uci.Labelled, test: uci.Labelled
) -> None:
    """The benchmark's ceiling: the model fitted on the test file itself, which no honest model can
    beat with these features, stays under 98.5% (docs/occupancy.md).  If a feature lifts it above,
    the goal has become reachable: revisit the docs and this test."""
    from benchmarks.occupancy import GOAL_ACCURACY, ceilings

    ceiling = ceilings(test)
    trained = accuracy(uci.train(train, ALL), test)
    assert trained <= ceiling["all"] < GOAL_ACCURACY
    assert 0.975 < ceiling["light_threshold"] < GOAL_ACCURACY


def test_shipped_no_light_model_is_what_the_documented_command_trains(no_light: OccupancyModel) -> None:
    shipped = default_model("no_light")
    assert shipped.spec == no_light.spec and shipped.l2 == no_light.l2
    np.testing.assert_allclose(shipped.weights, no_light.weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(shipped.schedule.logits, no_light.schedule.logits, rtol=1e-12)  # type: ignore[union-attr]


def test_online_estimator_gives_the_batch_answers_on_the_test_file(no_light: OccupancyModel,
                                                                   test: uci.Labelled) -> None:
    x, ready = uci.features_of(test, NO_LIGHT)
    est = OccupancyEstimator(no_light, tz=UTC)
    online = []
    for ts, values in test.rows(NO_LIGHT.channels):
        for channel, value in values.items():
            est.push(channel, ts, value)
        online.append(est.probability())
    assert ready.all() and None not in online
    np.testing.assert_allclose(np.array(online, dtype=float), no_light.predict_proba(x), rtol=0, atol=1e-12)


def test_features_of_the_first_rows_ignore_the_rest_of_the_file(test: uci.Labelled) -> None:
    full, _ = uci.features_of(test, ALL)
    for k in (1, 7, 100, 1500):
        part, _ = uci.features_of(test.head(k), ALL)
        np.testing.assert_array_equal(part, full[:k])


# -- the loader, with no data needed ---------------------------------------------------------

HEADER = '"date","Temperature","Humidity","Light","CO2","HumidityRatio","Occupancy"\n'
GOOD = '"1","2015-02-04 17:51:00",23.18,27.272,426,721.25,0.0047929,1\n'


@pytest.mark.parametrize(("line", "message"), [
    ('"2","2015-02-04 17:52:00",23.18,27.272,426,721.25,1\n', "expected 8 fields like the first row, got 7"),
    ('"2","2015-02-04 17:52:00",23.18,warm,426,721.25,0.0047,1\n', "humidity is not a number: 'warm'"),
    ('"2","04/02/2015 17:52",23.18,27.272,426,721.25,0.0047,1\n', "is not %Y-%m-%d %H:%M:%S"),
    ('"2","2015-02-04 17:52:00",23.18,27.272,426,721.25,0.0047,2\n', "Occupancy must be 0 or 1"),
    ('"2","2015-02-04 17:50:00",23.18,27.272,426,721.25,0.0047,1\n', "time goes backwards"),
    ('"2","2015-02-04 17:52:00",23.18,27.272,inf,721.25,0.0047,1\n', "light is infinite"),
])
def test_a_malformed_row_names_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "room.txt"
    path.write_text(HEADER + GOOD + line)
    with pytest.raises(ValueError, match=rf"room\.txt:3: .*{message}"):
        uci.load(path)


def test_header_problems_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "room.txt"
    for text, message in [("", "empty file"), ('"date","Smell","Occupancy"\n', "unknown column 'Smell'"),
                          ('"date","CO2"\n', "the header has no 'occupancy' column")]:
        path.write_text(text)
        with pytest.raises(ValueError, match=rf"room\.txt:1: {message}"):
            uci.load(path)


def test_own_data_with_our_channel_names_and_gaps(tmp_path: Path) -> None:
    """Our names (pir included) are accepted, the id column is optional, an empty cell is a gap."""
    path = tmp_path / "room.csv"
    path.write_text("date,co2,pir,occupancy\n2024-05-06 09:00:00,600,1,1\n2024-05-06 09:01:00,,0,1\n")
    data = uci.load(path)
    assert sorted(data.values) == ["co2", "pir"] and np.isnan(data.values["co2"][1])
    assert list(data.rows()) == [(data.ts[0], {"co2": 600.0, "pir": 1.0}), (data.ts[1], {"pir": 0.0})]


def test_training_cli_sets_how_long_a_reading_stands(tmp_path: Path) -> None:
    """For sensors that report on change: a model trained with --hold-s 4500 still answers after
    half an hour of silence; the default (600 s) calls the channel stale."""
    rows = ["date,co2,occupancy"]
    for day in (6, 7):
        for minute in range(8 * 60, 12 * 60):
            occupied = 540 <= minute < 660
            co2 = 420 + (minute - 540) * 3 if occupied else 420 + max(0, 360 * 0.99 ** (minute - 660))
            rows.append(f"2024-05-{day:02d} {minute // 60:02d}:{minute % 60:02d}:00,{co2:.1f},{int(occupied)}")
    path = tmp_path / "room.csv"
    path.write_text("\n".join(rows) + "\n")
    patient, hasty = tmp_path / "patient.json", tmp_path / "hasty.json"
    assert uci.main(["train", str(path), "--out", str(patient), "--no-time", "--hold-s", "4500"]) == 0
    assert uci.main(["train", str(path), "--out", str(hasty), "--no-time"]) == 0
    assert uci.main(["train", str(path), "--out", str(hasty), "--hold-s", "-1"]) == 2
    answers = []
    for model in (patient, hasty):
        room = OccupancyEstimator.from_file(model, tz=UTC)
        assert room.model.spec.hold_s == (4500.0 if model == patient else 600.0)
        t0 = 1_715_000_000.0
        for i in range(30):
            room.push("co2", t0 + 60 * i, 600.0 + 3 * i)
        answers.append(room.probability(now=t0 + 60 * 29 + 1800))
    assert answers[0] is not None and answers[1] is None


def test_training_cli_writes_a_model(tmp_path: Path, train: uci.Labelled) -> None:
    out = tmp_path / "m.json"
    assert uci.main(["train", train.path, "--out", str(out), "--no-light", "--no-time"]) == 0
    assert OccupancyModel.load(out).spec == FeatureSpec(channels=SENSORS, time=False)
    assert uci.main(["train", str(tmp_path / "missing.txt"), "--out", str(out)]) == 2
