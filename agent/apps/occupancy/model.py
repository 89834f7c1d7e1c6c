"""The occupancy model: a logistic regression on sensor evidence plus a weighted schedule prior.

Why this shape (docs/occupancy.md has the measurements):

* A linear model on standardised features is a few dozen multiply-adds per
  prediction, fits in a JSON file of a few kilobytes, needs numpy only, and
  its terms say how much each sensor and the schedule pushed a decision.
* Time of day enters as one number: the log-odds of occupancy at that time on
  that kind of day (workday or weekend), read from a table learnt from the
  labels.  Its weight is fitted with the sensor weights, on out-of-fold
  schedule log-odds (each day's from a table built without that day), so the
  model learns how far the schedule predicts *new* days, not how well it
  remembers the training ones.  ``contributions`` reports the schedule's share
  of every decision, and a model without time features is one flag away.
* Missing feature values (a window with too few samples) count as the
  training mean: no evidence either way.

Fitting is Newton's method on a strictly convex loss (L2-penalised log-loss)
from zero: no random start, so the same data gives the same model, bit for bit,
on the same machine.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.apps.occupancy.features import (
    TIME_FEATURES,
    FeatureSpec,
    feature_channels,
    feature_names,
)

FORMAT = "edgewise-occupancy-model"
VERSION = 1
WEEKEND_FIRST_DAY = 5  # Saturday, with Monday = 0


def sigmoid(z: np.ndarray | float) -> Any:
    """Logistic function that does not overflow for large |z|."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def fit_logistic(z: np.ndarray, y: np.ndarray, l2: float, iterations: int = 100) -> np.ndarray:
    """Weights (bias last) of an L2-penalised logistic regression of ``y`` on the columns of ``z``.

    Newton's method: a handful of iterations on a few thousand rows.  The bias
    is not penalised.  ``z`` must be finite.
    """
    a = np.hstack([z, np.ones((len(z), 1))])
    penalty = np.full(a.shape[1], float(l2))
    penalty[-1] = 1e-9
    w = np.zeros(a.shape[1])
    for _ in range(iterations):
        p = sigmoid(a @ w)
        grad = a.T @ (p - y) + penalty * w
        hess = (a * (p * (1.0 - p))[:, None]).T @ a + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    return w


# -- schedule prior ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schedule:
    """Log-odds of occupancy per (workday or weekend, time-of-day bin), smoothed over neighbouring bins."""

    bin_minutes: int
    logits: np.ndarray  # shape (2, bins): row 0 workdays, row 1 weekends

    @classmethod
    def fit(cls, minute: np.ndarray, weekday: np.ndarray, y: np.ndarray, bin_minutes: int = 15,
            smooth_bins: int = 2, prior_rows: float = 1.0) -> Schedule:
        """Occupied fraction per bin over ±``smooth_bins`` bins (wrapping at midnight), shrunk
        towards the overall rate by ``prior_rows`` pseudo-rows so an unseen bin is not certain."""
        bins = 1440 // bin_minutes
        kind, b = _kind(weekday), _bin(minute, bin_minutes, bins)
        occupied, seen = np.zeros((2, bins)), np.zeros((2, bins))
        np.add.at(occupied, (kind, b), y)
        np.add.at(seen, (kind, b), 1.0)
        offsets = range(-smooth_bins, smooth_bins + 1)
        occupied = sum(np.roll(occupied, o, axis=1) for o in offsets)
        seen = sum(np.roll(seen, o, axis=1) for o in offsets)
        base = float(np.mean(y)) if len(y) else 0.5
        p = np.clip((occupied + prior_rows * base) / (seen + prior_rows), 1e-3, 1 - 1e-3)
        return cls(bin_minutes, np.log(p / (1 - p)))

    def logit_one(self, minute: float, weekday: float) -> float:
        """``logit`` of one time, without numpy's per-call overhead (the online path)."""
        if not (math.isfinite(minute) and math.isfinite(weekday)):
            return 0.0
        bins = self.logits.shape[1]
        return float(self.logits[int(weekday >= WEEKEND_FIRST_DAY), min(max(int(minute // self.bin_minutes), 0), bins - 1)])

    def logit(self, minute: np.ndarray | float, weekday: np.ndarray | float) -> Any:
        """Schedule log-odds at the given times (NaN times give 0: no prior)."""
        minute, weekday = np.asarray(minute, dtype=np.float64), np.asarray(weekday, dtype=np.float64)
        ok = np.isfinite(minute) & np.isfinite(weekday)
        b = _bin(np.where(ok, minute, 0.0), self.bin_minutes, self.logits.shape[1])
        return np.where(ok, self.logits[_kind(np.where(ok, weekday, 0.0)), b], 0.0)


def _kind(weekday: np.ndarray) -> np.ndarray:
    return (np.asarray(weekday) >= WEEKEND_FIRST_DAY).astype(np.intp)


def _bin(minute: np.ndarray, bin_minutes: int, bins: int) -> np.ndarray:
    return np.clip((np.asarray(minute) // bin_minutes).astype(np.intp), 0, bins - 1)


# -- the model -------------------------------------------------------------------------


class OccupancyModel:
    """Occupied probability of a room from its feature vector (see :mod:`.features`)."""

    def __init__(self, spec: FeatureSpec, *, l2: float = 1.0, schedule_bin_minutes: int = 15,
                 schedule_smooth_bins: int = 2, threshold: float = 0.5) -> None:
        self.spec = spec
        self.names = feature_names(spec)
        self.channels = feature_channels(spec)
        self.l2 = float(l2)
        self.schedule_bin_minutes = int(schedule_bin_minutes)
        self.schedule_smooth_bins = int(schedule_smooth_bins)
        self.threshold = float(threshold)
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold!r}")
        n = self._linear_count
        self.mean, self.scale, self.weights = np.zeros(n), np.ones(n), np.zeros(n)
        self.bias = 0.0
        self.schedule: Schedule | None = None
        self.schedule_weight = 0.0
        self.info: dict[str, Any] = {}
        """Free-form notes saved with the model (data, cross-validation results...)."""

    @property
    def _linear_count(self) -> int:
        return len(self.names) - (len(TIME_FEATURES) if self.spec.time else 0)

    # -- fitting ---------------------------------------------------------------------

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> OccupancyModel:
        """Fit on rows of features ``x`` (columns ``self.names``) with labels ``y`` (0/1).

        Rows with any NaN in a *channel's current value* should have been left
        out by the caller (``replay`` gives NaN rows when the room was not ready);
        NaN window features are allowed.  ``groups`` (e.g. the day of each row)
        makes the schedule's weight be fitted on out-of-group schedule log-odds.
        """
        x, y = self._check(x), np.asarray(y, dtype=np.float64)
        if len(x) != len(y) or not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("y must hold one 0/1 label per row of x")
        lin = x[:, : self._linear_count]
        self.mean = _nan_to(np.nanmean(_all_nan_ok(lin), axis=0), 0.0)
        self.scale = _nan_to(np.nanstd(_all_nan_ok(lin), axis=0), 1.0)
        self.scale[self.scale <= 0] = 1.0
        z = self._standardise(lin)
        if self.spec.time:
            minute, weekday = x[:, -2], x[:, -1]
            self.schedule = self._fit_schedule(minute, weekday, y)
            z = np.hstack([z, self._out_of_group_schedule(minute, weekday, y, groups)[:, None]])
        w = fit_logistic(z, y, self.l2)
        self.bias = float(w[-1])
        self.weights = w[: self._linear_count]
        self.schedule_weight = float(w[self._linear_count]) if self.spec.time else 0.0
        return self

    def _fit_schedule(self, minute: np.ndarray, weekday: np.ndarray, y: np.ndarray) -> Schedule:
        return Schedule.fit(minute, weekday, y, self.schedule_bin_minutes, self.schedule_smooth_bins)

    def _out_of_group_schedule(self, minute: np.ndarray, weekday: np.ndarray, y: np.ndarray,
                               groups: np.ndarray | None) -> np.ndarray:
        assert self.schedule is not None
        if groups is None or len(np.unique(groups)) < 2:
            return self.schedule.logit(minute, weekday)
        out = np.empty(len(y))
        for g in np.unique(groups):
            held = groups == g
            out[held] = self._fit_schedule(minute[~held], weekday[~held], y[~held]).logit(minute[held], weekday[held])
        return out

    # -- prediction ------------------------------------------------------------------

    def decision(self, x: np.ndarray) -> np.ndarray:
        """Log-odds of occupancy per row."""
        return np.sum(list(self.contributions(x).values()), axis=0)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Occupied probability per row of ``x``."""
        return sigmoid(self.decision(x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_proba(x) >= self.threshold

    def proba_one(self, v: np.ndarray) -> float:
        """The probability of one feature vector: the online path, without the batch bookkeeping."""
        n = self._linear_count
        z = (v[:n] - self.mean) / self.scale
        logit = float(np.dot(np.where(np.isnan(z), 0.0, z), self.weights)) + self.bias
        if self.schedule is not None:
            logit += self.schedule_weight * self.schedule.logit_one(float(v[n]), float(v[n + 1]))
        return 0.5 * (1.0 + math.tanh(0.5 * logit))

    def contributions(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Each channel's (and the schedule's, as ``"time"``) additive share of the log-odds, plus ``"bias"``.

        Standardised features, so a term is how far that channel's evidence moved
        the decision from "an average row".
        """
        x = self._check(x)
        n = self._linear_count
        terms = self._standardise(x[:, :n]) * self.weights
        out = {ch: terms[:, [i for i in range(n) if self.channels[i] == ch]].sum(axis=1)
               for ch in dict.fromkeys(self.channels[:n])}
        if self.schedule is not None:
            out["time"] = self.schedule_weight * self.schedule.logit(x[:, -2], x[:, -1])
        out["bias"] = np.full(len(x), self.bias)
        return out

    def time_decided(self, x: np.ndarray) -> np.ndarray:
        """Rows whose decision the schedule term flips: the sensor evidence alone (with the bias)
        says the opposite.  All False for a model without time features."""
        parts = self.contributions(x)
        if "time" not in parts:
            return np.zeros(len(x), dtype=bool)
        total = np.sum(list(parts.values()), axis=0)
        cut = math.log(self.threshold / (1.0 - self.threshold))
        return (total >= cut) != (total - parts["time"] >= cut)

    def _standardise(self, lin: np.ndarray) -> np.ndarray:
        z = (lin - self.mean) / self.scale
        return np.where(np.isnan(z), 0.0, z)

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.names):
            raise ValueError(f"x must have {len(self.names)} columns ({', '.join(self.names)}), got shape {x.shape}")
        return x

    # -- files -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": VERSION,
            "spec": self.spec.to_dict(), "features": self.names, "channels": list(self.spec.channels),
            "l2": self.l2, "threshold": self.threshold,
            "mean": self.mean.tolist(), "scale": self.scale.tolist(), "weights": self.weights.tolist(),
            "bias": self.bias,
            "schedule": None if self.schedule is None else {
                "bin_minutes": self.schedule.bin_minutes, "smooth_bins": self.schedule_smooth_bins,
                "weight": self.schedule_weight, "logits": self.schedule.logits.tolist(),
            },
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OccupancyModel:
        if d.get("format") != FORMAT or d.get("version") != VERSION:
            raise ValueError(f"not an {FORMAT} version {VERSION} file (format {d.get('format')!r},"
                             f" version {d.get('version')!r})")
        spec = FeatureSpec.from_dict(d["spec"])
        sched = d.get("schedule")
        m = cls(spec, l2=d["l2"], threshold=d["threshold"],
                schedule_bin_minutes=sched["bin_minutes"] if sched else 15,
                schedule_smooth_bins=sched["smooth_bins"] if sched else 2)
        if list(d["features"]) != m.names:
            raise ValueError(f"the file's features {d['features']} are not what this code computes for its"
                             f" spec: {m.names}")
        n = m._linear_count
        m.mean, m.scale, m.weights = (_vector(d[k], n, k) for k in ("mean", "scale", "weights"))
        m.bias = float(d["bias"])
        if spec.time != (sched is not None):
            raise ValueError("a model with time features needs a schedule, and one without must not have one")
        if sched is not None:
            logits = np.asarray(sched["logits"], dtype=np.float64)
            if logits.shape != (2, 1440 // m.schedule_bin_minutes):
                raise ValueError(f"schedule logits must be 2 × {1440 // m.schedule_bin_minutes}, got {logits.shape}")
            m.schedule, m.schedule_weight = Schedule(m.schedule_bin_minutes, logits), float(sched["weight"])
        m.info = dict(d.get("info") or {})
        return m

    def save(self, path: str | Path) -> None:
        """A small JSON file; floats are written exactly, so a loaded model predicts identically."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> OccupancyModel:
        try:
            d = json.loads(Path(path).read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not JSON: {e}") from None
        try:
            return cls.from_dict(d)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: {e}") from None


def _vector(values: Sequence[float], n: int, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (n,) or not np.isfinite(v).all():
        raise ValueError(f"{name} must hold {n} finite numbers")
    return v


def _all_nan_ok(a: np.ndarray) -> np.ndarray:
    """nanmean/nanstd warn on an all-NaN column; give such a column one 0 so they do not."""
    if a.size and np.isnan(a).all(axis=0).any():
        a = a.copy()
        a[0, np.isnan(a).all(axis=0)] = 0.0
    return a


def _nan_to(a: np.ndarray, value: float) -> np.ndarray:
    return np.where(np.isfinite(a), a, value)


# -- training helpers -----------------------------------------------------------------


def cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, spec: FeatureSpec, **params: Any) -> float:
    """Leave-one-group-out accuracy (groups = days: a model must work on a day it never saw)."""
    y = np.asarray(y, dtype=np.float64)
    hits = 0
    for g in np.unique(groups):
        held = groups == g
        if held.all():
            return math.nan
        model = OccupancyModel(spec, **params).fit(x[~held], y[~held], groups[~held])
        hits += int(np.sum(model.predict(x[held]) == (y[held] == 1)))
    return hits / len(y)


def fit_selected(x: np.ndarray, y: np.ndarray, groups: np.ndarray, spec: FeatureSpec,
                 l2_grid: Sequence[float] = (0.1, 1.0, 10.0), **params: Any) -> OccupancyModel:
    """Choose the penalty by leave-one-group-out accuracy on the training rows only, then fit on all of them.

    With a single group there is nothing to hold out: the first grid value is used.
    """
    scores = {l2: cross_validate(x, y, groups, spec, l2=l2, **params) for l2 in l2_grid}
    finite = {k: v for k, v in scores.items() if not math.isnan(v)}
    best = max(finite, key=lambda k: (finite[k], -k)) if finite else l2_grid[0]
    model = OccupancyModel(spec, l2=best, **params).fit(x, y, groups)
    model.info["cv_accuracy_by_l2"] = {str(k): v for k, v in scores.items()}
    return model
