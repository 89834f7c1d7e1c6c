"""Fault detection in three complementary ways, combined and ranked by wasted energy.

* **model**: each room gets a thermal model (discrete 1R1C with heater,
  ventilation and occupancy inputs) and an energy model (metered HVAC energy
  against heating degree-hours, ventilation and occupancy), both fitted by
  least squares on the first ``train_days`` (assumed healthy).  Daily means of
  their residuals, in units of their spread on the training days, score each
  later day.  The energy model's residual is also the counterfactual: what the
  room used beyond what a healthy room would have used under the same weather,
  setpoints and people, i.e. the estimated waste.
* **cluster & compare**: every room-day becomes a profile of 24 hourly values
  of setpoint error, heater duty and heater starts; k-means on the training
  room-days of all rooms finds the typical patterns, and each room-day is
  scored by its distance from the nearest one, relative to how far healthy
  days sit from it.  A room that stops behaving like its peers stands out.
* **rules**: rules.yaml, for the faults rules name best.

The kernels (fits, residuals, k-means and distances) are native
(agent._core), run with the GIL released.  docs/faults.md has the details.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from agent import _core
from agent.apps.faults.rules import Rule, load_rules
from agent.apps.faults.series import SiteSeries

INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    train_days: int = 7
    """Days at the start assumed healthy: the models and clusters learn from them."""
    min_valid_share: float = 0.8
    """A day with fewer valid intervals than this share is not scored."""
    min_train_days: int = 5
    """A room with fewer valid training days gets "insufficient data"."""
    model_threshold: float = 10.0
    """Daily residual score (training spreads) above which the model flags a day."""
    cluster_threshold: float = 2.0
    """Distance (as a multiple of the healthy 99th percentile) above which a day is atypical."""
    clusters: int = 6
    persist_days: int = 5
    """Model and cluster scores are medians over this many trailing days (faults persist)."""
    confirm_days: int = 2
    """Flagged days (within ``confirm_days + 1``) before a room's fault is reported."""
    seed: int = 0
    threads: int = field(default_factory=lambda: max(1, min(8, os.cpu_count() or 1)))


@dataclass(frozen=True, slots=True)
class DetectedFault:
    """One fault as ranked and stored."""

    room: str
    kind: str
    first_seen: float
    """Start (Unix seconds) of the first flagged day."""
    waste_kwh_per_day: float
    """Estimated waste: mean daily energy-model residual over the flagged days."""
    detectors: tuple[str, ...]
    """Which of model, cluster and rules flagged it."""
    evidence: str
    """Why, for people."""


@dataclass(frozen=True)
class Detection:
    """Everything a run found, per room-day and per room."""

    room_ids: tuple[str, ...]
    day_start: np.ndarray
    """(days,) start of each day."""
    flagged: np.ndarray
    """(rooms, days) bool: any detector flagged the room-day."""
    model_score: np.ndarray
    cluster_score: np.ndarray
    rule_hits: dict[str, np.ndarray]
    """Rule name -> (rooms, days) bool."""
    waste_kwh: np.ndarray
    """(rooms, days) energy-model residual, kWh (the counterfactual waste); NaN where not scored."""
    status: dict[str, str]
    """Room -> "ok", "fault" or "insufficient_data"."""
    faults: list[DetectedFault]
    """Ranked: most wasted energy first."""
    model_status: dict[str, str] = field(default_factory=dict)
    """Room -> "ok" or "insufficient_data" for the model detector alone: it also needs the
    outdoor temperature, which a site may not have; the cluster and rule detectors run without."""


def detect(
    series: SiteSeries, config: DetectorConfig | None = None, rules: tuple[Rule, ...] | None = None
) -> Detection:
    """Score every room-day after the training days and report confirmed faults, ranked."""
    cfg = config or DetectorConfig()
    rules = load_rules() if rules is None else rules
    valid_day = _valid_days(series, cfg)
    enough = _enough(valid_day, series, cfg)
    valid_model = valid_day & _outdoor_days(series, cfg)
    model_enough = _enough(valid_model, series, cfg)
    model_score, waste, effect = _model_scores(series, cfg, valid_model)
    cluster_score = _cluster_scores(series, cfg, valid_day, enough)
    signals = hourly_signals(series)
    rule_hits = {rule.name: rule.fires(signals) & valid_day for rule in rules}
    scored = valid_day & enough[:, None]
    scored[:, : cfg.train_days] = False
    model_flag = scored & model_enough[:, None] & (model_score > cfg.model_threshold)
    cluster_flag = scored & (cluster_score > cfg.cluster_threshold)
    rule_flag = np.zeros_like(scored)
    for hits in rule_hits.values():
        rule_flag |= hits & scored
    flagged = model_flag | cluster_flag | rule_flag
    day_start = series.t[0] + np.arange(series.days) * 86400.0
    faults, status = [], {}
    for i, room in enumerate(series.room_ids):
        if not enough[i]:
            status[room] = INSUFFICIENT_DATA
            continue
        first = _confirmed_from(flagged[i], cfg.confirm_days)
        if first is None:
            status[room] = "ok"
            continue
        status[room] = "fault"
        faults.append(_describe(i, room, first, day_start, flagged, model_flag, cluster_flag, rule_hits, rules,
                                waste, model_score, cluster_score, signals, cfg.train_days, effect[i]))
    faults.sort(key=lambda f: (-f.waste_kwh_per_day, f.room))
    model_status = {room: "ok" if ok else INSUFFICIENT_DATA for room, ok in zip(series.room_ids, model_enough)}
    return Detection(series.room_ids, day_start, flagged, model_score, cluster_score, rule_hits, waste, status, faults,
                     model_status)


# -- data sufficiency ------------------------------------------------------------

def _valid_days(series: SiteSeries, cfg: DetectorConfig) -> np.ndarray:
    """(rooms, days): enough finite values of every room signal the detectors read."""
    ok = np.isfinite(series.daily(series.temperature)) & np.isfinite(series.daily(series.duty))
    ok &= np.isfinite(series.daily(series.energy_kwh)) & np.isfinite(series.daily(series.setpoint))
    return ok.mean(axis=2) >= cfg.min_valid_share


def _outdoor_days(series: SiteSeries, cfg: DetectorConfig) -> np.ndarray:
    """(rooms, days): enough outdoor temperatures for the model detector."""
    return np.isfinite(series.daily(series.outdoor_by_room)).mean(axis=2) >= cfg.min_valid_share


def _enough(valid_day: np.ndarray, series: SiteSeries, cfg: DetectorConfig) -> np.ndarray:
    """(rooms,): enough valid training days, and at least one day after them to score."""
    return (valid_day[:, : cfg.train_days].sum(axis=1) >= cfg.min_train_days) & (series.days > cfg.train_days)


# -- (a) model ---------------------------------------------------------------------

def thermal_design(series: SiteSeries) -> tuple[np.ndarray, np.ndarray]:
    """(rooms, n-1, 6) inputs and (rooms, n-1) temperature changes of the discrete 1R1C model.

    T[k+1] - T[k] = a (Tout - T) + b P + c vent (Tout - T) + d occupied + f lux + e, with P
    the electric heat of heater and lights (known ratings) and lux the room's daylight as a
    proxy for sun: exact for inputs held over the interval, with a = 1 - exp(-dt/RC) and
    b = a R.
    """
    temp = series.temperature  # read at the end of each interval: the state the next one starts from
    gap = series.outdoor_by_room[:, 1:] - temp[:, :-1]
    electric = series.duty[:, 1:] * series.heater_kw[:, None] + series.lights[:, 1:] * series.lights_kw[:, None]
    x = np.stack([gap, electric, series.ventilation[:, 1:] * gap, series.occupied[:, 1:],
                  daylight(series)[:, 1:] / 1000.0, np.ones_like(gap)], axis=2)
    return x, temp[:, 1:] - temp[:, :-1]


def daylight(series: SiteSeries) -> np.ndarray:
    """(rooms, intervals) room illuminance without the lights' own: a proxy for solar gain.

    What the lights add to a room's lux is learnt from the night (20:00-06:00, when
    there is no daylight): the median reading with the lights fully on.  Without
    this, a light left on over a weekend reads as sunshine all night.
    """
    hour = (series.t % 86400.0) // 3600.0
    night = (hour >= 20) | (hour < 6)
    out = np.array(series.illuminance, dtype=float, copy=True)
    for i in range(len(series.room_ids)):
        lit = night & (series.lights[i] > 0.99) & np.isfinite(series.illuminance[i])
        if lit.any():
            out[i] -= series.lights[i] * float(np.median(series.illuminance[i][lit]))
    return np.clip(out, 0.0, None)


def energy_design(series: SiteSeries, temperature: np.ndarray, ventilation: np.ndarray) -> np.ndarray:
    """(rooms, n, 6) inputs of the heat-balance energy model.

    E + E_lights = θ1 (T - Tout) h + θ2 vent (T - Tout) h + θ3 occupied h + θ4 lux h
    + θ5 (T[k+1] - T[k]) + θ6 h, E_lights the lights' known electric heat: losses through
    the envelope and the outdoor air, the free gains of people and sun (room daylight),
    heat stored in the room,
    and a constant for everything else.  Fed with the room's *typical* temperature and
    ventilation instead of the measured ones it gives the counterfactual energy.
    """
    hours = series.interval_s / 3600.0
    before = np.concatenate([temperature[:, :1], temperature[:, :-1]], axis=1)  # reading at the interval's start
    gap = ((before + temperature) / 2.0 - series.outdoor_by_room) * hours
    stored = temperature - before
    gains = [series.occupied * hours, daylight(series) / 1000.0 * hours]
    return np.stack([gap, ventilation * gap, *gains, stored, np.full_like(gap, hours)], axis=2)


def typical(series: SiteSeries, values: np.ndarray, train_days: int) -> np.ndarray:
    """(rooms, intervals): each room's median over its training days of the same time of day
    and the same kind of day (weekday or weekend) -- what a healthy day looks like."""
    daily = series.daily(values)
    weekend = _weekend(series)
    out = np.full(values.shape, np.nan)
    rooms, days, per_day = daily.shape
    for flag in (False, True):
        train = [d for d in range(min(train_days, days)) if weekend[d] == flag]
        if not train:
            continue
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            profile = np.nanmedian(daily[:, train, :], axis=1)
        for d in range(days):
            if weekend[d] == flag:
                out[:, d * per_day:(d + 1) * per_day] = profile
    return out


def _weekend(series: SiteSeries) -> np.ndarray:
    """(days,) whether each day is a Saturday or Sunday (1970-01-01 was a Thursday)."""
    day_index = np.floor(series.t[:: series.per_day][: series.days] / 86400.0).astype(np.int64)
    return (day_index + 3) % 7 >= 5


def _model_scores(
    series: SiteSeries, cfg: DetectorConfig, valid_day: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rooms, days) model score and estimated waste (kWh/day, energy over the counterfactual),
    and (rooms,) the heater's remaining effect after the training days (1: as trained, 0: none)."""
    train_n = cfg.train_days * series.per_day
    xt, yt = thermal_design(series)
    coef_t, _, _, res_t = _core.fault_fit_residuals(np.ascontiguousarray(xt), np.ascontiguousarray(yt), train_n - 1,
                                                     cfg.threads)
    effect = _heater_effect(xt[:, train_n:, 1], res_t[:, train_n:], coef_t[:, 1])
    res_t = np.concatenate([res_t, np.full((res_t.shape[0], 1), np.nan)], axis=1)
    xe = energy_design(series, series.temperature, series.ventilation)
    heat = series.energy_kwh + series.lights * series.lights_kw[:, None] * series.interval_s / 3600.0
    coef, _, _, res_e = _core.fault_fit_residuals(np.ascontiguousarray(xe), np.ascontiguousarray(heat),
                                                  train_n, cfg.threads)
    x_cf = energy_design(series, typical(series, series.temperature, cfg.train_days),
                         typical(series, series.ventilation, cfg.train_days))
    counterfactual = np.einsum("rnp,rp->rn", x_cf, coef)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a day without data is NaN, as wanted
        day_t = np.nanmean(series.daily(res_t), axis=2) * series.per_day
        day_e = np.nanmean(series.daily(res_e), axis=2) * series.per_day
        waste = np.nanmean(series.daily(heat - counterfactual), axis=2) * series.per_day
    for a in (day_t, day_e, waste):
        a[~valid_day] = np.nan
    score = np.fmax(_persistent(_standardised(day_t, cfg, floor=0.2), cfg),
                    _persistent(_standardised(day_e, cfg, floor=0.5), cfg))
    score = np.fmax(score, _persistent(_standardised(waste, cfg, floor=1.0), cfg))
    score[~valid_day] = np.nan  # a day without data has no score, whatever its neighbours had
    return score, waste, effect


def _heater_effect(power: np.ndarray, residual: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """How much of the trained heating effect is left: 1 + slope of the residual on heater power / gain.

    A healthy heater's residual does not depend on its power (slope 0, effect 1); heat that no
    longer reaches the room leaves a residual falling with power (effect near 0).
    """
    effect = np.full(power.shape[0], np.nan)
    for i in range(power.shape[0]):
        ok = np.isfinite(power[i]) & np.isfinite(residual[i])
        if ok.sum() > 10 and np.ptp(power[i][ok]) > 0 and gain[i] > 0:
            effect[i] = 1.0 + np.polyfit(power[i][ok], residual[i][ok], 1)[0] / gain[i]
    return effect


def _persistent(z: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """|trailing median| of signed daily scores over ``cfg.persist_days``: a fault that stays
    shifts it, a single odd day (lights left on overnight, a party) does not."""
    w = cfg.persist_days
    padded = np.concatenate([np.full((z.shape[0], w - 1), np.nan), z], axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, w, axis=1)
    enough = np.isfinite(windows).sum(axis=2) > w // 2
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(windows, axis=2)
    return np.where(enough, np.abs(med), np.nan)


def _standardised(daily: np.ndarray, cfg: DetectorConfig, floor: float) -> np.ndarray:
    """(x - training median) / training spread.

    The spread is a room's MAD over its training days, but at least half the
    median of all rooms' and at least ``floor``: a week is few days, and a room
    that happened to have a very quiet week must not turn every later day into
    an alarm.
    """
    train = daily[:, : cfg.train_days]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmedian(train, axis=1, keepdims=True)
        spread = 1.4826 * np.nanmedian(np.abs(train - centre), axis=1, keepdims=True)
        pooled = np.nanmedian(spread) if np.isfinite(spread).any() else floor
    spread = np.where(np.isfinite(spread), np.maximum(spread, max(floor, 0.5 * pooled)), np.nan)
    return (daily - centre) / spread


# -- (b) cluster & compare -----------------------------------------------------

def daily_profiles(series: SiteSeries) -> np.ndarray:
    """(rooms, days, 72): hourly setpoint error (clipped to ±5 K), heater duty, starts/4."""
    error = np.clip(series.hourly(series.temperature - series.setpoint, "nanmean"), -5.0, 5.0)
    duty = series.hourly(series.duty, "nanmean")
    starts = np.clip(series.hourly(series.starts, "nanmean") * (series.per_day / 24) / 4.0, 0.0, 5.0)
    return np.concatenate([error, duty, starts], axis=2)


def _cluster_scores(series: SiteSeries, cfg: DetectorConfig, valid_day: np.ndarray, enough: np.ndarray) -> np.ndarray:
    profiles = daily_profiles(series)
    rooms, days, width = profiles.shape
    rows = profiles.reshape(rooms * days, width)
    train = np.zeros((rooms, days), dtype=bool)
    train[:, : cfg.train_days] = valid_day[:, : cfg.train_days] & enough[:, None]
    train_rows = np.ascontiguousarray(rows[train.ravel()])
    train_rows = train_rows[np.isfinite(train_rows).all(axis=1)]
    score = np.full((rooms, days), np.nan)
    if len(train_rows) < max(cfg.clusters, 10):
        return score
    centroids = _core.kmeans_fit(train_rows, min(cfg.clusters, len(train_rows)), 50, cfg.seed, cfg.threads)
    _, train_d = _core.kmeans_nearest(train_rows, centroids, cfg.threads)
    scale = max(float(np.quantile(train_d, 0.99)), 1e-6)
    _, dist = _core.kmeans_nearest(np.ascontiguousarray(rows), centroids, cfg.threads)
    score = dist.reshape(rooms, days) / scale
    score[~valid_day] = np.nan
    score = _persistent(score, cfg)
    score[~valid_day] = np.nan
    return score


# -- (c) rules -------------------------------------------------------------------

def hourly_signals(series: SiteSeries) -> dict[str, np.ndarray]:
    """The hourly (rooms, days, 24) signals rules are written against (rules.yaml)."""
    per_hour = series.per_day // 24
    temp = series.daily(series.temperature).reshape(len(series.room_ids), series.days, 24, per_hour)
    relay_kwh = series.duty * series.heater_kw[:, None] * series.interval_s / 3600.0
    return {
        "temperature_error": series.hourly(series.temperature - series.setpoint),
        "temperature_span": temp.max(axis=3) - temp.min(axis=3),
        "duty": series.hourly(series.duty),
        "starts": series.hourly(series.starts, "sum"),
        "occupied": series.hourly(series.occupied),
        "ventilation": series.hourly(series.ventilation),
        "setpoint": series.hourly(series.setpoint),
        "heat_without_call": series.hourly(series.energy_kwh - relay_kwh, "sum"),
    }


# -- combining ---------------------------------------------------------------------

def _confirmed_from(flags: np.ndarray, confirm: int) -> int | None:
    """First flagged day of the first run of ``confirm`` flagged days within ``confirm + 1``."""
    days = np.flatnonzero(flags)
    for j in range(len(days) - confirm + 1):
        if days[j + confirm - 1] - days[j] <= confirm:
            return int(days[j])
    return None


def _describe(i: int, room: str, first: int, day_start: np.ndarray, flagged: np.ndarray, model_flag: np.ndarray,
              cluster_flag: np.ndarray, rule_hits: dict[str, np.ndarray], rules: tuple[Rule, ...],
              waste: np.ndarray, model_score: np.ndarray, cluster_score: np.ndarray,
              signals: dict[str, np.ndarray], train_days: int, effect: float) -> DetectedFault:
    since = slice(first, None)
    days = flagged[i, since]
    detectors = []
    if model_flag[i, since].any():
        detectors.append("model")
    if cluster_flag[i, since].any():
        detectors.append("cluster")
    fired = {r.name: int(rule_hits[r.name][i, since].sum()) for r in rules if rule_hits[r.name][i, since].any()}
    if fired:
        detectors.append("rules")
    w = waste[i, since][days]
    estimate = float(np.nanmean(w)) if np.isfinite(w).any() else 0.0
    kind = _kind(i, since, fired, rules, signals, waste, train_days, effect)
    parts = [f"{int(days.sum())} flagged days", _largest("model score", model_score[i, since]),
             _largest("cluster distance", cluster_score[i, since])]
    parts += [f"rule {name} on {n} days" for name, n in fired.items()]
    return DetectedFault(room, kind, float(day_start[first]), round(estimate, 3), tuple(detectors), "; ".join(parts))


def _largest(name: str, scores: np.ndarray) -> str:
    """``max <name> <value>``, or why there is none (the model without an outdoor temperature)."""
    finite = scores[np.isfinite(scores)]
    return f"max {name} {finite.max():.1f}" if len(finite) else f"no {name} (insufficient data)"


def _kind(i: int, since: slice, fired: dict[str, int], rules: tuple[Rule, ...], signals: dict[str, np.ndarray],
          waste: np.ndarray, train_days: int, effect: float) -> str:
    """The fault type: the rule that fired on most days, else read from the signals' shape.

    "Setpoint not reached" is a symptom of two faults: heat not reaching the room
    (the thermal model sees the heater's effect gone) and a window left open (the
    heater still warms, the room just loses more).  Without a rule the model's
    finding is read from the heater at night, against the training days: much
    more duty means a new air leak (window); a waste that keeps growing means
    drift; else a bias.
    """
    by_name = {r.name: r.fault for r in rules}
    night = signals["duty"][i, :, :6]
    night_now = float(np.nanmean(night[since]))
    if fired:
        kind = by_name[max(fired, key=lambda name: fired[name])]
        if kind == "stuck_damper" and not effect < 0.5:
            return "window_open"
        return kind
    if effect < 0.5:
        return "stuck_damper"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        night_before = float(np.nanmean(night[:train_days]))
    if night_now > 1.6 * night_before + 0.05:
        return "window_open"
    w = waste[i, since]
    w = w[np.isfinite(w)]
    if len(w) >= 4 and np.polyfit(np.arange(len(w)), w, 1)[0] > 0.1 * max(1.0, float(np.mean(np.abs(w)))):
        return "sensor_drift"
    return "sensor_bias"
