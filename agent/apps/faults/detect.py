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

Detection runs in two steps.  ``day_stats`` (day_stats.py) reads the
interval series once, natively, and leaves per room-day sums: the models'
Gram matrices, the counterfactual's sums, the profiles and the rule hours.
``score`` then works on days only: fits from summed Gram matrices, daily
mean residuals from the same sums, native k-means and distances.  The native
parts run with the GIL released.  docs/faults.md has the details.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from agent import _core
from agent.apps.faults.day_stats import CONSTANT, DayStats, day_stats
from agent.apps.faults.rules import Rule, load_rules
from agent.apps.faults.series import SiteSeries

INSUFFICIENT_DATA = "insufficient_data"
KMEANS_SAMPLE = 2048
"""Training room-days k-means learns from at most (a seeded sample of them beyond that)."""


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
    flagged_days: tuple[float, ...] = ()
    """Start of each flagged day from ``first_seen`` on: after a repair, whether it came back."""


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
    return score(day_stats(series, cfg.train_days, rules, cfg.threads), cfg, rules)


def score(stats: DayStats, config: DetectorConfig | None = None, rules: tuple[Rule, ...] | None = None) -> Detection:
    """The detectors and their verdict on summaries ``day_stats`` made with the same training days and rules."""
    cfg = config or DetectorConfig()
    rules = load_rules() if rules is None else rules
    valid_day = stats.valid >= cfg.min_valid_share * stats.per_day
    enough = _enough(valid_day, stats, cfg)
    valid_model = valid_day & (stats.outdoor_valid >= cfg.min_valid_share * stats.per_day)
    model_enough = _enough(valid_model, stats, cfg)
    model_score, waste, thermal_coef = _model_scores(stats, cfg, valid_model)
    cluster_score = _cluster_scores(stats, cfg, valid_day, enough)
    rule_hits = {rule.name: (stats.rule_hours[:, :, j] >= rule.min_hours) & valid_day for j, rule in enumerate(rules)}
    scored = valid_day & enough[:, None]
    scored[:, : cfg.train_days] = False
    model_flag = scored & model_enough[:, None] & (model_score > cfg.model_threshold)
    cluster_flag = scored & (cluster_score > cfg.cluster_threshold)
    rule_flag = np.zeros_like(scored)
    for hits in rule_hits.values():
        rule_flag |= hits & scored
    flagged = model_flag | cluster_flag | rule_flag
    confirmed = confirmed_from(flagged, cfg.confirm_days)
    faults, status = [], {}
    for i, room in enumerate(stats.room_ids):
        if not enough[i]:
            status[room] = INSUFFICIENT_DATA
            continue
        first = int(confirmed[i])
        if first < 0:
            status[room] = "ok"
            continue
        status[room] = "fault"
        faults.append(_describe(i, room, first, stats, flagged, model_flag, cluster_flag, rule_hits, rules,
                                waste, model_score, cluster_score, cfg.train_days,
                                _heater_effect(stats.thermal[i, cfg.train_days:].sum(axis=0), thermal_coef[i])))
    faults.sort(key=lambda f: (-f.waste_kwh_per_day, f.room))
    model_status = {room: "ok" if ok else INSUFFICIENT_DATA for room, ok in zip(stats.room_ids, model_enough)}
    return Detection(stats.room_ids, stats.day_start, flagged, model_score, cluster_score, rule_hits, waste, status,
                     faults, model_status)


# -- data sufficiency ------------------------------------------------------------

def _enough(valid_day: np.ndarray, stats: DayStats, cfg: DetectorConfig) -> np.ndarray:
    """(rooms,): enough valid training days, and at least one day after them to score."""
    return (valid_day[:, : cfg.train_days].sum(axis=1) >= cfg.min_train_days) & (stats.days > cfg.train_days)


# -- (a) model ---------------------------------------------------------------------

def fit_gram(gram: np.ndarray, constant: float) -> np.ndarray:
    """(rooms, 6) least-squares coefficients from (rooms, 7, 7) Gram matrices of [x | y] whose
    constant column is ``constant`` on every row; NaN where a fit is impossible."""
    used = np.rint(gram[:, CONSTANT, CONSTANT] / constant**2).astype(np.int64)
    coef, _ = _core.fault_gram_fit(np.ascontiguousarray(gram), used)
    return coef


def mean_residual(gram: np.ndarray, coef: np.ndarray, constant: float, threads: int = 1) -> np.ndarray:
    """(rooms, days) mean of y - x·coef over each day's rows, from the day's Gram matrix
    (its constant column holds the sums of x and y); NaN for a day without rows."""
    return _core.fault_day_residuals(gram, np.ascontiguousarray(coef), CONSTANT, constant, threads)


def _model_scores(
    stats: DayStats, cfg: DetectorConfig, valid_day: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rooms, days) model score and estimated waste (kWh/day, energy over the counterfactual),
    and (rooms, 6) the thermal model's coefficients."""
    train, h, per_day = cfg.train_days, stats.hours_per_interval, stats.per_day
    thermal_train, energy_train = stats.thermal[:, :train], stats.energy[:, :train]
    coef_t = fit_gram(thermal_train.sum(axis=1), 1.0)
    coef_e = fit_gram(energy_train.sum(axis=1), h)
    day_t = mean_residual(stats.thermal, coef_t, 1.0, cfg.threads) * per_day
    day_e = mean_residual(stats.energy, coef_e, h, cfg.threads) * per_day
    waste = _waste(stats.counterfactual, coef_e[:, None]) * per_day
    # The training days' own residuals are fitted to them; each one's residual under a fit
    # without it is what a new healthy day looks like, so those set the yardstick.
    held_coef_t = _held_out_fits(thermal_train, 1.0)
    held_coef_e = _held_out_fits(energy_train, h)
    held_t = _own_day_residuals(thermal_train, held_coef_t, 1.0)
    held_e = _own_day_residuals(energy_train, held_coef_e, h)
    held_w = _waste(stats.counterfactual[:, :train], held_coef_e)
    parts = []
    for daily, held, floor in ((day_t, held_t, 0.2), (day_e, held_e, 0.5), (waste, held_w, 1.0)):
        daily[~valid_day] = np.nan
        held[~valid_day[:, :train]] = np.nan
        parts.append(_persistent(_standardised(daily, held * per_day, floor), cfg))
    score = np.fmax(np.fmax(parts[0], parts[1]), parts[2])
    score[~valid_day] = np.nan  # a day without data has no score, whatever its neighbours had
    return score, waste, coef_t


def _waste(counterfactual: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """(rooms, days) mean metered energy per row over what the energy model (coefficients per room
    and day, (rooms, days or 1, 6)) says a typical day would have used under the same weather, people
    and daylight; NaN for a day without rows."""
    rows = counterfactual[..., 7]
    x = counterfactual[..., :6]
    excess = counterfactual[..., 6] - np.einsum("rdp,rdp->rd", x, np.broadcast_to(coef, x.shape))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, excess / rows, np.nan)


def _held_out_fits(train: np.ndarray, constant: float) -> np.ndarray:
    """(rooms, days, 6): for each room and training day, the fit on the room's other training days
    (one batched solve: the Gram matrix of all its training days less that day's)."""
    rooms, days, width = train.shape[:3]
    without = train.sum(axis=1, keepdims=True) - train
    return fit_gram(without.reshape(rooms * days, width, width), constant).reshape(rooms, days, width - 1)


def _own_day_residuals(gram: np.ndarray, coef: np.ndarray, constant: float) -> np.ndarray:
    """(rooms, days) mean residual of each day under its own coefficients (rooms, days, 6)."""
    rooms, days, width = gram.shape[:3]
    flat = mean_residual(gram.reshape(rooms * days, 1, width, width), coef.reshape(rooms * days, width - 1), constant)
    return flat.reshape(rooms, days)


def _heater_effect(after: np.ndarray, coef: np.ndarray) -> float:
    """How much of the trained heating effect is left in one room: 1 + slope of the thermal residual
    on heater power (column 1) over the days after training, relative to the trained gain.

    A healthy heater's residual does not depend on its power (slope 0, effect 1); heat that no
    longer reaches the room leaves a residual falling with power (effect near 0).  ``after`` is
    the room's (7, 7) Gram matrix summed over those days; NaN when power never varied.
    """
    n, sp, spp = after[CONSTANT, CONSTANT], after[1, CONSTANT], after[1, 1]
    sr = after[-1, CONSTANT] - after[:-1, CONSTANT] @ coef
    spr = after[1, -1] - after[1, :-1] @ coef
    spread = n * spp - sp * sp
    gain = coef[1]
    if not (n > 10 and spread > 1e-12 * max(1.0, n * spp) and gain > 0):
        return float("nan")
    return float(1.0 + (n * spr - sp * sr) / spread / gain)


def _persistent(z: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """|trailing median| of signed daily scores over ``cfg.persist_days``: a fault that stays
    shifts it, a single odd day (lights left on overnight, a party) does not."""
    return _core.trailing_abs_median(np.ascontiguousarray(z, dtype=float), cfg.persist_days, cfg.threads)


def _standardised(daily: np.ndarray, reference: np.ndarray, floor: float) -> np.ndarray:
    """(daily - median of reference) / spread of reference, per room.

    ``reference`` holds the training days' held-out values.  The spread is a
    room's MAD over them, but at least the median of all rooms' and at least
    ``floor``: a week is few days, and a room that happened to have a quiet
    week must not turn every later day into an alarm.
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmedian(reference, axis=1, keepdims=True)
        spread = 1.4826 * np.nanmedian(np.abs(reference - centre), axis=1, keepdims=True)
        pooled = np.nanmedian(spread) if np.isfinite(spread).any() else floor
    spread = np.where(np.isfinite(spread), np.maximum(spread, max(floor, pooled)), np.nan)
    return (daily - centre) / spread


# -- (b) cluster & compare -----------------------------------------------------

def _cluster_scores(stats: DayStats, cfg: DetectorConfig, valid_day: np.ndarray, enough: np.ndarray) -> np.ndarray:
    rooms, days, width = stats.profiles.shape
    rows = stats.profiles.reshape(rooms * days, width)
    train = np.zeros((rooms, days), dtype=bool)
    train[:, : cfg.train_days] = valid_day[:, : cfg.train_days] & enough[:, None]
    train_rows = np.ascontiguousarray(rows[train.ravel()])
    train_rows = train_rows[np.isfinite(train_rows).all(axis=1)]
    score = np.full((rooms, days), np.nan)
    if len(train_rows) < max(cfg.clusters, 10):
        return score
    fit_rows = train_rows
    if len(train_rows) > KMEANS_SAMPLE:  # typical patterns are as clear in a sample, and k-means costs per row
        pick = np.random.default_rng(cfg.seed).choice(len(train_rows), KMEANS_SAMPLE, replace=False)
        fit_rows = np.ascontiguousarray(train_rows[np.sort(pick)])
    centroids = _core.kmeans_fit(fit_rows, min(cfg.clusters, len(fit_rows)), 50, cfg.seed, cfg.threads)
    _, train_d = _core.kmeans_nearest(train_rows, centroids, cfg.threads)
    scale = max(float(np.quantile(train_d, 0.99)), 1e-6)
    _, dist = _core.kmeans_nearest(rows, centroids, cfg.threads)
    score = dist.reshape(rooms, days) / scale
    score[~valid_day] = np.nan
    score = _persistent(score, cfg)
    score[~valid_day] = np.nan
    return score


# -- combining ---------------------------------------------------------------------

def confirmed_from(flags: np.ndarray, confirm: int) -> np.ndarray:
    """(rooms,) first flagged day of each room's first run of ``confirm`` flagged days within
    ``confirm + 1`` days, -1 where there is none: a day counts when it is flagged and at least
    ``confirm`` of the days from it to ``confirm`` days later are."""
    rooms, days = flags.shape
    if days == 0:
        return np.full(rooms, -1, dtype=np.int64)
    counts = np.concatenate([np.zeros((rooms, 1), dtype=np.int64), np.cumsum(flags, axis=1)], axis=1)
    ahead = counts[:, np.minimum(np.arange(days) + confirm + 1, days)] - counts[:, :days]
    starts = flags & (ahead >= confirm)
    return np.where(starts.any(axis=1), np.argmax(starts, axis=1), -1)


def _describe(i: int, room: str, first: int, stats: DayStats, flagged: np.ndarray, model_flag: np.ndarray,
              cluster_flag: np.ndarray, rule_hits: dict[str, np.ndarray], rules: tuple[Rule, ...],
              waste: np.ndarray, model_score: np.ndarray, cluster_score: np.ndarray,
              train_days: int, effect: float) -> DetectedFault:
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
    kind = _kind(i, since, fired, rules, stats.night_duty[i], waste, train_days, effect)
    parts = [f"{int(days.sum())} flagged days", _largest("model score", model_score[i, since]),
             _largest("cluster distance", cluster_score[i, since])]
    parts += [f"rule {name} on {n} days" for name, n in fired.items()]
    flagged_days = tuple(float(t) for t in stats.day_start[since][days])
    return DetectedFault(room, kind, float(stats.day_start[first]), round(estimate, 3), tuple(detectors),
                         "; ".join(parts), flagged_days)


def _largest(name: str, scores: np.ndarray) -> str:
    """``max <name> <value>``, or why there is none (the model without an outdoor temperature)."""
    finite = scores[np.isfinite(scores)]
    return f"max {name} {finite.max():.1f}" if len(finite) else f"no {name} (insufficient data)"


def _kind(i: int, since: slice, fired: dict[str, int], rules: tuple[Rule, ...], night_duty: np.ndarray,
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
    night_now = _mean_night_duty(night_duty[since])
    if fired:
        kind = by_name[max(fired, key=lambda name: fired[name])]
        if kind == "stuck_damper" and not effect < 0.5:
            return "window_open"
        return kind
    if effect < 0.5:
        return "stuck_damper"
    night_before = _mean_night_duty(night_duty[:train_days])
    if night_now > 1.6 * night_before + 0.05:
        return "window_open"
    w = waste[i, since]
    w = w[np.isfinite(w)]
    if len(w) >= 4 and np.polyfit(np.arange(len(w)), w, 1)[0] > 0.1 * max(1.0, float(np.mean(np.abs(w)))):
        return "sensor_drift"
    return "sensor_bias"


def _mean_night_duty(days: np.ndarray) -> float:
    """Mean hourly heater duty between 00:00 and 06:00 over (days, 2) sums and counts; NaN if none known."""
    total, count = days.sum(axis=0)
    return float(total / count) if count else float("nan")
