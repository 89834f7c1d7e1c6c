"""The native per-room-day pass of fault detection against a plain numpy reference.

``_core.fault_day_stats`` replaced the numpy code that built the model designs,
daily profiles and hourly rule signals over the whole interval series.  The
reference below restates that older numpy meaning (per room, per day) so that
every output of the native pass -- Gram matrices, counterfactual sums,
profiles, rule hours, night duty, valid counts -- is checked on random small
sites with missing data sprinkled in, and ``fault_lit_night_lux`` against
``np.median``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import _core
from agent.apps.faults.rules import SIGNALS, Condition, Rule

SERIES = ("temperature", "setpoint", "duty", "starts", "energy_kwh", "occupied", "ventilation",
          "illuminance", "lights")
"""The (rooms, intervals) inputs besides outdoor."""

W = 7
"""Width of a Gram matrix: six model columns and the target."""


@dataclass(frozen=True)
class Site:
    """Inputs of one call to ``fault_day_stats``; arrays exactly as passed."""

    series: dict[str, np.ndarray]
    outdoor: np.ndarray
    heater_kw: np.ndarray
    lights_kw: np.ndarray
    lux_per_light: np.ndarray
    typical_temperature: np.ndarray
    typical_ventilation: np.ndarray
    weekend: np.ndarray
    per_day: int
    interval_s: float

    @property
    def rooms(self) -> int:
        return self.series["temperature"].shape[0]

    @property
    def days(self) -> int:
        return len(self.weekend)

    def kwargs(self) -> dict[str, object]:
        return dict(**self.series, outdoor=self.outdoor, heater_kw=self.heater_kw, lights_kw=self.lights_kw,
                    lux_per_light=self.lux_per_light, typical_temperature=self.typical_temperature,
                    typical_ventilation=self.typical_ventilation, weekend=self.weekend, per_day=self.per_day,
                    interval_s=self.interval_s)

    def outdoor_of(self, room: int) -> np.ndarray:
        return self.outdoor if self.outdoor.ndim == 1 else self.outdoor[room]


# -- random sites ---------------------------------------------------------------------------


def _sprinkle(rng: np.random.Generator, x: np.ndarray, rate: float, infinite: bool) -> np.ndarray:
    """Missing values at random, plus now and then a whole missing stretch (a dead sensor)."""
    x = x.copy()
    x[rng.random(x.shape) < rate] = np.nan
    if infinite and x.size:
        x.flat[rng.integers(0, x.size)] = rng.choice([np.inf, -np.inf])
    if rate > 0.0 and rng.random() < 0.3 and x.shape[-1] > 8:
        start = int(rng.integers(0, x.shape[-1] - 8))
        x[..., start:start + int(rng.integers(1, 8))] = np.nan
    return x


def _make_site(seed: int, rooms: int, days: int, interval_s: float, extra: int, shared_outdoor: bool,
               nan_rate: float, infinite: bool, quantised: bool) -> Site:
    """A plausible site: temperatures that drift, relays that switch, lights that are on or off.

    Values land on exact grids now and then (whole duties, setpoints on whole degrees, energy equal
    to the relay's) so that rule thresholds on those grids test the strict inequalities."""
    rng = np.random.default_rng(seed)
    per_hour = round(3600.0 / interval_s)
    per_day = 24 * per_hour
    n = days * per_day + extra
    shape = (rooms, n)
    hours = interval_s / 3600.0
    temperature = 20.0 + np.cumsum(rng.normal(0.0, 0.3, shape), axis=1)
    if quantised:
        temperature = np.round(temperature * 4.0) / 4.0
    heater_kw = rng.uniform(0.5, 3.0, rooms)
    duty = np.where(rng.random(shape) < 0.6, rng.choice([0.0, 1.0], shape), rng.uniform(0.0, 1.0, shape))
    relay = duty * heater_kw[:, None] * hours
    energy = np.where(rng.random(shape) < 0.5, relay, relay + rng.normal(0.0, 0.1, shape))
    lights = rng.choice([0.0, 0.0, 0.5, 0.99, 0.995, 1.0], shape)
    series = {
        "temperature": temperature,
        "setpoint": rng.choice([18.0, 20.0, 21.0, 22.0], shape),
        "duty": duty,
        "starts": rng.integers(0, 3, shape).astype(float),
        "energy_kwh": energy,
        "occupied": np.where(rng.random(shape) < 0.7, rng.choice([0.0, 1.0], shape), rng.random(shape)),
        "ventilation": rng.choice([0.0, 0.3, 1.0], shape) * np.where(rng.random(shape) < 0.8, 1.0,
                                                                     rng.random(shape)),
        "illuminance": rng.uniform(0.0, 600.0, shape) + lights * rng.uniform(100.0, 400.0, (rooms, 1)),
        "lights": lights,
    }
    series = {k: _sprinkle(rng, v, nan_rate, infinite and rng.random() < 0.3) for k, v in series.items()}
    outdoor = rng.uniform(-10.0, 15.0, (n,) if shared_outdoor else shape)
    typical_t = _sprinkle(rng, 19.0 + rng.uniform(0.0, 3.0, (rooms, 2, per_day)), nan_rate, False)
    typical_v = _sprinkle(rng, rng.uniform(0.0, 1.0, (rooms, 2, per_day)), nan_rate, False)
    return Site(
        series=series,
        outdoor=_sprinkle(rng, outdoor, nan_rate, False),
        heater_kw=heater_kw,
        lights_kw=rng.uniform(0.05, 0.3, rooms),
        lux_per_light=np.where(rng.random(rooms) < 0.2, 0.0, rng.uniform(50.0, 500.0, rooms)),
        typical_temperature=typical_t,
        typical_ventilation=typical_v,
        weekend=rng.integers(0, 2, days).astype(np.uint8),
        per_day=per_day,
        interval_s=interval_s,
    )


@st.composite
def sites(draw: st.DrawFn, max_rooms: int = 3, max_days: int = 4) -> Site:
    interval_s = draw(st.sampled_from([3600.0, 1800.0, 900.0]))
    per_day = 24 * round(3600.0 / interval_s)
    return _make_site(
        seed=draw(st.integers(0, 2**32 - 1)),
        rooms=draw(st.integers(1, max_rooms)),
        days=draw(st.integers(1, max_days)),
        interval_s=interval_s,
        extra=draw(st.sampled_from([0, 0, 1, per_day // 2, per_day - 1, per_day + 3])),
        shared_outdoor=draw(st.booleans()),
        nan_rate=draw(st.sampled_from([0.0, 0.02, 0.1, 0.3])),
        infinite=draw(st.booleans()),
        quantised=draw(st.booleans()),
    )


THRESHOLDS: dict[str, st.SearchStrategy[float]] = {
    "temperature_error": st.sampled_from([-1.0, -0.5, 0.0, 0.25, 1.0]) | st.floats(-4.0, 4.0),
    "temperature_span": st.sampled_from([0.0, 0.25, 0.5]) | st.floats(0.0, 1.5),
    "duty": st.sampled_from([0.0, 0.5, 1.0]) | st.floats(0.0, 1.0),
    "starts": st.integers(0, 6).map(float),
    "occupied": st.sampled_from([0.0, 1.0]) | st.floats(0.0, 1.0),
    "ventilation": st.sampled_from([0.0, 0.3, 1.0]) | st.floats(0.0, 1.0),
    "setpoint": st.sampled_from([18.0, 20.0, 21.0, 22.0]) | st.floats(17.0, 23.0),
    "heat_without_call": st.sampled_from([0.0]) | st.floats(-0.5, 0.5),
}


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    signal = draw(st.sampled_from(SIGNALS))
    bound = THRESHOLDS[signal]
    above, below = draw(st.none() | bound), draw(st.none() | bound)
    if above is None and below is None:
        above = draw(bound)
    return Condition(signal, above, below)


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    hours = draw(st.none() | st.tuples(st.integers(0, 24), st.integers(0, 24)))
    return Rule(name="r", fault="f", description="", conditions=tuple(draw(st.lists(conditions(), max_size=3))),
                min_hours=1, hours=hours)


# -- the numpy reference --------------------------------------------------------------------


def _grams(z: np.ndarray, per_day: int, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per day, the Gram of the finite rows of z (days * per_day, W) and the same of |z| (a scale
    for the tolerance: a sum of products of mixed sign may cancel)."""
    gram = np.zeros((days, W, W))
    scale = np.zeros((days, W, W))
    for d in range(days):
        rows = z[d * per_day:(d + 1) * per_day]
        rows = rows[np.isfinite(rows).all(axis=1)]
        gram[d] = rows.T @ rows
        scale[d] = np.abs(rows).T @ np.abs(rows)
    return gram, scale


def _daylight(site: Site, r: int, m: int) -> np.ndarray:
    lux, lights = site.series["illuminance"][r, :m], site.series["lights"][r, :m]
    return np.clip(lux - lights * site.lux_per_light[r], 0.0, None)


def _energy_rows(site: Site, r: int, temp: np.ndarray, vent: np.ndarray) -> np.ndarray:
    """(m, W) rows of the energy model fed ``temp`` and ``vent``; the target is always measured."""
    m = len(temp)
    s = {k: v[r, :m] for k, v in site.series.items()}
    h = site.interval_s / 3600.0
    before = np.concatenate([temp[:1], temp[:-1]])
    gap = ((before + temp) / 2.0 - site.outdoor_of(r)[:m]) * h
    heat = s["energy_kwh"] + s["lights"] * site.lights_kw[r] * h
    return np.stack([gap, vent * gap, s["occupied"] * h, _daylight(site, r, m) / 1000.0 * h, temp - before,
                     np.full(m, h), heat], axis=1)


def _thermal_rows(site: Site, r: int, m: int) -> np.ndarray:
    """(m, W) rows of the thermal model; row 0 has no previous reading and stays NaN."""
    s = {k: v[r, :m] for k, v in site.series.items()}
    temp = s["temperature"]
    z = np.full((m, W), np.nan)
    gap = site.outdoor_of(r)[1:m] - temp[:-1]
    z[1:, 0] = gap
    z[1:, 1] = s["duty"][1:] * site.heater_kw[r] + s["lights"][1:] * site.lights_kw[r]
    z[1:, 2] = s["ventilation"][1:] * gap
    z[1:, 3] = s["occupied"][1:]
    z[1:, 4] = _daylight(site, r, m)[1:] / 1000.0
    z[1:, 5] = 1.0
    z[1:, 6] = temp[1:] - temp[:-1]
    return z


def _typical(site: Site, profile: np.ndarray, m: int) -> np.ndarray:
    """The room's typical series: its workday or weekend profile, by the day each interval is in."""
    k = np.arange(m)
    return profile[site.weekend[k // site.per_day].astype(int), k % site.per_day]


def _counterfactual(site: Site, r: int, m: int) -> np.ndarray:
    z = _energy_rows(site, r, _typical(site, site.typical_temperature[r], m),
                     _typical(site, site.typical_ventilation[r], m))
    out = np.zeros((site.days, W + 1))
    for d in range(site.days):
        rows = z[d * site.per_day:(d + 1) * site.per_day]
        rows = rows[np.isfinite(rows).all(axis=1)]
        out[d, :W] = rows.sum(axis=0)
        out[d, W] = len(rows)
    return out


def _hourly(site: Site, x: np.ndarray) -> np.ndarray:
    """(days, 24, per_hour) view of one room's whole days."""
    return x[: site.days * site.per_day].reshape(site.days, 24, site.per_day // 24)


def _signals(site: Site, r: int) -> dict[str, np.ndarray]:
    """The (days, 24) hourly signals of the old ``hourly_signals``: NaN where any value is."""
    s = {k: _hourly(site, v[r]) for k, v in site.series.items()}
    relay = s["duty"] * site.heater_kw[r] * (site.interval_s / 3600.0)
    return {
        "temperature_error": (s["temperature"] - s["setpoint"]).mean(axis=2),
        "temperature_span": s["temperature"].max(axis=2) - s["temperature"].min(axis=2),
        "duty": s["duty"].mean(axis=2),
        "starts": s["starts"].sum(axis=2),
        "occupied": s["occupied"].mean(axis=2),
        "ventilation": s["ventilation"].mean(axis=2),
        "setpoint": s["setpoint"].mean(axis=2),
        "heat_without_call": (s["energy_kwh"] - relay).sum(axis=2),
    }


def _profiles(site: Site, r: int) -> np.ndarray:
    s = {k: _hourly(site, v[r]) for k, v in site.series.items()}
    per_hour = site.per_day / 24
    error = np.clip(np.nanmean(s["temperature"] - s["setpoint"], axis=2), -5.0, 5.0)
    duty = np.nanmean(s["duty"], axis=2)
    starts = np.clip(np.nanmean(s["starts"], axis=2) * per_hour / 4.0, 0.0, 5.0)
    return np.concatenate([error, duty, starts], axis=1)


def _in_window(hours: tuple[int, int] | None) -> np.ndarray:
    """(24,) the rule's hours: [from, to), across midnight when to < from."""
    hour = np.arange(24)
    if hours is None:
        return np.ones(24, dtype=bool)
    start, stop = hours
    return (hour >= start) & (hour < stop) if start <= stop else (hour >= start) | (hour < stop)


def _rule_hours(signals: dict[str, np.ndarray], rule: Rule) -> np.ndarray:
    """(days,) hours meeting every condition; a NaN (or infinite) signal never meets one."""
    met = np.ones_like(signals["duty"], dtype=bool)
    for c in rule.conditions:
        x = signals[c.signal]
        ok = np.isfinite(x)
        if c.above is not None:
            ok &= np.where(ok, x, 0.0) > c.above
        if c.below is not None:
            ok &= np.where(ok, x, 0.0) < c.below
        met &= ok
    return (met & _in_window(rule.hours)).sum(axis=1)


def reference(site: Site, rule_list: list[Rule]) -> dict[str, np.ndarray]:
    """Everything ``fault_day_stats`` returns, plus ``*_scale`` tolerances for the Gram matrices."""
    m = site.days * site.per_day
    out: dict[str, list[np.ndarray]] = {k: [] for k in (
        "valid", "outdoor_valid", "thermal", "thermal_scale", "energy", "energy_scale", "counterfactual",
        "profiles", "rule_hours", "night_duty")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for r in range(site.rooms):
            s = {k: v[r, :m] for k, v in site.series.items()}
            known = np.isfinite(np.stack([s["temperature"], s["setpoint"], s["duty"], s["energy_kwh"]])).all(axis=0)
            out["valid"].append(known.reshape(site.days, site.per_day).sum(axis=1))
            out["outdoor_valid"].append(
                np.isfinite(site.outdoor_of(r)[:m]).reshape(site.days, site.per_day).sum(axis=1))
            gram, scale = _grams(_thermal_rows(site, r, m), site.per_day, site.days)
            out["thermal"].append(gram)
            out["thermal_scale"].append(scale)
            gram, scale = _grams(_energy_rows(site, r, s["temperature"], s["ventilation"]), site.per_day, site.days)
            out["energy"].append(gram)
            out["energy_scale"].append(scale)
            out["counterfactual"].append(_counterfactual(site, r, m))
            out["profiles"].append(_profiles(site, r))
            signals = _signals(site, r)
            out["rule_hours"].append(np.stack([_rule_hours(signals, rule) for rule in rule_list], axis=1)
                                     if rule_list else np.zeros((site.days, 0), dtype=np.int64))
            night = signals["duty"][:, :6]
            finite = np.isfinite(night)
            out["night_duty"].append(np.stack([np.where(finite, night, 0.0).sum(axis=1), finite.sum(axis=1)],
                                              axis=1))
    return {k: np.stack(v) for k, v in out.items()}


def lit_night_reference(lux: np.ndarray, lights: np.ndarray, days: int, per_day: int,
                        interval_s: float) -> np.ndarray:
    """(rooms,) median night-time (hour >= 20 or < 6) illuminance with the lights fully on."""
    hour = np.floor(np.arange(per_day) * interval_s / 3600.0)
    night = np.tile((hour >= 20) | (hour < 6), days)
    m = days * per_day
    out = np.full(lux.shape[0], np.nan)
    for r in range(lux.shape[0]):
        with np.errstate(invalid="ignore"):
            lit = night & (lights[r, :m] > 0.99) & np.isfinite(lux[r, :m])
        if lit.any():
            out[r] = np.median(lux[r, :m][lit])
    return out


# -- comparisons ----------------------------------------------------------------------------


def _assert_sums(got: np.ndarray, want: np.ndarray, scale: np.ndarray, what: str) -> None:
    """Equal up to rounding: 1e-9 of the sum of the terms' magnitudes."""
    assert got.shape == want.shape, what
    bad = ~(np.abs(got - want) <= 1e-9 * scale + 1e-12)
    assert not bad.any(), f"{what}: first mismatch at {np.argwhere(bad)[0]}: {got[bad][0]} vs {want[bad][0]}"


def _compare(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert set(got) == {"valid", "outdoor_valid", "thermal", "energy", "counterfactual", "profiles",
                        "rule_hours", "night_duty"}
    for key in ("valid", "outdoor_valid", "rule_hours"):
        assert got[key].dtype == np.int64, key
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    for key in ("thermal", "energy"):
        _assert_sums(got[key], want[key], want[f"{key}_scale"], key)
        np.testing.assert_array_equal(got[key], np.swapaxes(got[key], -1, -2), err_msg=f"{key} symmetric")
    cf, cf_want = got["counterfactual"], want["counterfactual"]
    np.testing.assert_array_equal(cf[..., W], cf_want[..., W], err_msg="counterfactual count")
    np.testing.assert_allclose(cf[..., :W], cf_want[..., :W], rtol=1e-9, atol=1e-9, err_msg="counterfactual")
    np.testing.assert_allclose(got["profiles"], want["profiles"], rtol=1e-12, atol=1e-12, err_msg="profiles")
    np.testing.assert_array_equal(got["night_duty"][..., 1], want["night_duty"][..., 1], err_msg="night count")
    np.testing.assert_allclose(got["night_duty"][..., 0], want["night_duty"][..., 0], rtol=1e-12, atol=1e-12,
                               err_msg="night duty")


def _run(site: Site, rule_list: list[Rule], threads: int = 1) -> dict[str, np.ndarray]:
    return _core.fault_day_stats(**site.kwargs(), rules=[rule.compiled() for rule in rule_list], threads=threads)


# -- properties -----------------------------------------------------------------------------


def probe_rules(site: Site) -> list[Rule]:
    """Per signal, a rule met wherever the signal is known (so any slip in what makes an hour NaN
    shows), and two whose bound is a value the signal takes (so > and < must be strict and the
    hourly value exact)."""
    probes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        values = [_signals(site, r) for r in range(site.rooms)]
    for name in SIGNALS:
        seen = np.concatenate([v[name].ravel() for v in values])
        seen = np.sort(seen[np.isfinite(seen)])
        probes.append(Rule(name, "f", "", (Condition(name, above=-1e300),), 1))
        if len(seen):
            middle = float(seen[len(seen) // 2])
            probes.append(Rule(name, "f", "", (Condition(name, above=middle),), 1))
            probes.append(Rule(name, "f", "", (Condition(name, below=middle),), 1))
    return probes


@settings(max_examples=150, deadline=None)
@given(site=sites(), rule_list=st.lists(rules(), max_size=4), threads=st.sampled_from([1, 2]))
def test_day_stats_match_the_numpy_reference(site: Site, rule_list: list[Rule], threads: int) -> None:
    rule_list = rule_list + probe_rules(site)
    _compare(_run(site, rule_list, threads), reference(site, rule_list))


@settings(max_examples=15, deadline=None)
@given(site=sites(), rule_list=st.lists(rules(), min_size=1, max_size=3))
def test_trailing_partial_day_is_ignored(site: Site, rule_list: list[Rule]) -> None:
    """What lies past the last whole day changes nothing, whatever it holds."""
    m = site.days * site.per_day
    junk = np.random.default_rng(0).uniform(-1e3, 1e3, (site.rooms, 7))
    longer = replace(site, series={k: np.concatenate([v[:, :m], junk], axis=1) for k, v in site.series.items()},
                     outdoor=np.concatenate([site.outdoor[..., :m], junk[0] if site.outdoor.ndim == 1 else junk],
                                            axis=-1))
    exact = replace(site, series={k: v[:, :m] for k, v in site.series.items()}, outdoor=site.outdoor[..., :m])
    got, want = _run(longer, rule_list), _run(exact, rule_list)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


@settings(max_examples=10, deadline=None)
@given(site=sites(max_rooms=3, max_days=2))
def test_shared_outdoor_equals_outdoor_repeated_per_room(site: Site) -> None:
    shared = site.outdoor if site.outdoor.ndim == 1 else site.outdoor[0]
    a = _run(replace(site, outdoor=shared), [])
    b = _run(replace(site, outdoor=np.tile(shared, (site.rooms, 1))), [])
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rooms=st.integers(1, 3),
    days=st.integers(0, 4),
    interval_s=st.sampled_from([3600.0, 1800.0, 900.0]),
    extra=st.integers(0, 30),
    nan_rate=st.sampled_from([0.0, 0.1, 0.5]),
    threads=st.sampled_from([1, 2]),
)
def test_lit_night_lux_is_the_median_at_night_with_lights_on(seed: int, rooms: int, days: int, interval_s: float,
                                                             extra: int, nan_rate: float, threads: int) -> None:
    rng = np.random.default_rng(seed)
    per_day = 24 * round(3600.0 / interval_s)
    n = days * per_day + extra
    lux = _sprinkle(rng, rng.choice([100.0, 250.0, 300.0], (rooms, n)) + rng.uniform(0, 50, (rooms, n)) *
                    rng.integers(0, 2, (rooms, n)), nan_rate, False)
    lights = _sprinkle(rng, rng.choice([0.0, 0.5, 0.99, 0.995, 1.0], (rooms, n)), nan_rate, False)
    got = _core.fault_lit_night_lux(lux, lights, days, per_day, interval_s, threads)
    want = lit_night_reference(lux, lights, days, per_day, interval_s)
    assert got.shape == (rooms,)
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)


def test_lit_night_lux_hours_are_20_to_6_and_lights_must_exceed_099() -> None:
    """One day at 15 minutes, lights on at chosen intervals: which of them count."""
    per_day = 96
    lux = np.arange(per_day, dtype=float)[None] * 10.0
    lights = np.zeros((1, per_day))
    lights[0, [23, 24, 79, 80, 95]] = 1.0  # 05:45 and 20:00 / 23:45 count; 06:00 and 19:45 do not
    assert _core.fault_lit_night_lux(lux, lights, 1, per_day, 900.0)[0] == np.median([230.0, 800.0, 950.0])
    lights[0, [23, 80, 95]] = 0.99
    assert math.isnan(_core.fault_lit_night_lux(lux, lights, 1, per_day, 900.0)[0])
    lights[0, 80] = 0.995
    assert _core.fault_lit_night_lux(lux, lights, 1, per_day, 900.0)[0] == 800.0


# -- hand-made cases ------------------------------------------------------------------------


def _flat_site(days: int = 2, interval_s: float = 3600.0) -> Site:
    """No missing data, nothing random: every number below is worked out by hand."""
    return _make_site(seed=7, rooms=2, days=days, interval_s=interval_s, extra=0, shared_outdoor=True,
                      nan_rate=0.0, infinite=False, quantised=True)


def test_first_interval_has_no_thermal_row_but_later_days_reach_back() -> None:
    site = _flat_site()
    got = _run(site, [])
    # day 0 has per_day - 1 thermal rows (no reading before the first), day 1 all per_day: the constant column
    np.testing.assert_array_equal(got["thermal"][:, :, 5, 5], [[23.0, 24.0], [23.0, 24.0]])
    # every interval has an energy row; its constant column is the interval's hours
    np.testing.assert_array_equal(got["energy"][:, :, 5, 5], np.full((2, 2), 24.0))


def test_rule_hours_count_the_hour_mask_and_nan_never_meets() -> None:
    site = _flat_site(days=1)
    duty = np.zeros((2, 24))
    duty[0, :] = 1.0
    duty[0, 3] = np.nan  # an unknown hour meets no condition, not even a lenient one
    site = replace(site, series={**site.series, "duty": duty})
    on = Rule("on", "f", "", (Condition("duty", above=0.5),), 1, hours=(22, 6))  # 22:00-06:00
    anything = Rule("any", "f", "", (Condition("duty", above=-1.0),), 1)
    no_conditions = Rule("all", "f", "", (), 1, hours=(8, 10))
    got = _run(site, [on, anything, no_conditions])
    np.testing.assert_array_equal(got["rule_hours"][:, 0], [[7, 23, 2], [0, 24, 2]])
    np.testing.assert_array_equal(got["night_duty"][:, 0], [[5.0, 5.0], [0.0, 6.0]])


def test_no_days_gives_empty_results() -> None:
    site = _flat_site()
    got = _run(replace(site, weekend=np.zeros(0, dtype=np.uint8)), [Rule("r", "f", "", (), 1)])
    assert got["thermal"].shape == (2, 0, W, W)
    assert got["rule_hours"].shape == (2, 0, 1)
    assert got["profiles"].shape == (2, 0, 72)


def test_no_rooms_gives_empty_results() -> None:
    site = _flat_site()
    empty = replace(site, series={k: v[:0] for k, v in site.series.items()}, heater_kw=site.heater_kw[:0],
                    lights_kw=site.lights_kw[:0], lux_per_light=site.lux_per_light[:0],
                    typical_temperature=site.typical_temperature[:0], typical_ventilation=site.typical_ventilation[:0])
    got = _run(empty, [], threads=2)
    assert got["energy"].shape == (0, 2, W, W)
    assert _core.fault_lit_night_lux(np.zeros((0, 48)), np.zeros((0, 48)), 2, 24, 3600.0).shape == (0,)


def test_layout_dtype_and_threads_do_not_change_the_answer() -> None:
    """Fortran-ordered and float32 inputs, bool weekend flags and more threads than rooms: same numbers
    (float32 values are exact in float64, so the comparison can be exact)."""
    site = _make_site(seed=3, rooms=3, days=2, interval_s=900.0, extra=5, shared_outdoor=False, nan_rate=0.1,
                      infinite=False, quantised=True)
    site = replace(site, series={k: v.astype(np.float32).astype(float) for k, v in site.series.items()})
    want = _run(site, [Rule("r", "f", "", (Condition("duty", above=0.2),), 1)])
    kwargs = {k: np.asfortranarray(v) if isinstance(v, np.ndarray) and v.ndim == 2 else v
              for k, v in site.kwargs().items()}
    kwargs.update({k: v.astype(np.float32) for k, v in site.series.items()}, weekend=site.weekend.astype(bool))
    got = _core.fault_day_stats(**kwargs, rules=[([("duty", 0.2, math.nan)], 0xFFFFFF)], threads=8)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


# -- bad input ------------------------------------------------------------------------------


def _bad(site: Site, **override: object) -> dict[str, object]:
    kwargs = {**site.kwargs(), "rules": [], **override}
    return kwargs


@pytest.mark.parametrize("change", [
    "setpoint_rooms", "lights_length", "outdoor_rooms", "outdoor_length", "per_day_36", "per_day_0",
    "typical_size", "typical_ventilation_size", "heater_kw_rooms", "weekend_too_long", "temperature_1d",
    "interval_0", "interval_not_a_day", "threads_0", "unknown_signal",
])
def test_bad_shapes_raise_value_error(change: str) -> None:
    site = _flat_site()
    rooms, n = site.rooms, site.series["temperature"].shape[1]
    overrides: dict[str, dict[str, object]] = {
        "setpoint_rooms": {"setpoint": np.zeros((rooms + 1, n))},
        "lights_length": {"lights": np.zeros((rooms, n - 1))},
        "outdoor_rooms": {"outdoor": np.zeros((rooms + 1, n))},
        "outdoor_length": {"outdoor": np.zeros(n + 1)},
        "per_day_36": {"per_day": 36},
        "per_day_0": {"per_day": 0},
        "typical_size": {"typical_temperature": np.zeros((rooms, 2, site.per_day - 1))},
        "typical_ventilation_size": {"typical_ventilation": np.zeros((rooms, 1, site.per_day))},
        "heater_kw_rooms": {"heater_kw": np.ones(rooms + 1)},
        "weekend_too_long": {"weekend": np.zeros(site.days + 1, dtype=np.uint8)},
        "temperature_1d": {"temperature": np.zeros(n)},
        "interval_0": {"interval_s": 0.0},
        "interval_not_a_day": {"interval_s": 60.0},  # 24 one-minute intervals are not a day
        "threads_0": {"threads": 0},
        "unknown_signal": {"rules": [([("duty", 0.5, math.nan), ("humidity", 1.0, math.nan)], 0xFFFFFF)]},
    }
    with pytest.raises(ValueError):
        _core.fault_day_stats(**_bad(site, **overrides[change]))


@pytest.mark.parametrize("args", [
    (np.zeros((2, 48)), np.zeros((1, 48)), 2, 24, 3600.0),  # room counts differ
    (np.zeros((2, 48)), np.zeros((2, 47)), 1, 24, 3600.0),  # lengths differ
    (np.zeros(48), np.zeros(48), 2, 24, 3600.0),  # not (rooms, intervals)
    (np.zeros((2, 48)), np.zeros((2, 48)), 3, 24, 3600.0),  # more days than the series holds
    (np.zeros((2, 48)), np.zeros((2, 48)), 1, 36, 3600.0),  # per_day not a multiple of 24
    (np.zeros((2, 48)), np.zeros((2, 48)), 1, 24, 0.0),  # no interval
    (np.zeros((2, 48)), np.zeros((2, 48)), 1, 24, 900.0),  # 24 quarter hours are not a day
])
def test_lit_night_lux_bad_shapes_raise_value_error(args: tuple) -> None:
    with pytest.raises(ValueError):
        _core.fault_lit_night_lux(*args)
