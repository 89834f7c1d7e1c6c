"""A simulated fleet: daily energy of many buildings over a year, some adopting a measure.

The panel ``edgewise savings`` is meant for, with the answer known.  Every
building's daily energy is heating plus a base load plus noise:

* **weather** — one daily outdoor temperature for the whole fleet: a seasonal
  cycle (coldest mid-January) plus an AR(1) anomaly, so cold spells last days;
  heating follows heating degree-days below 16 °C;
* **heterogeneity of low rank** — each building has its own floor area, heat
  loss per m² and base load per m², and its own *occupancy* profile (an office
  uses much more on weekdays than at weekends, a care home barely less), so
  buildings respond differently to the same weather and the same week: unit
  loadings times common factors, which plain two-way effects cannot absorb;
* **noise** — AR(1) per building, a few percent of its base load.

A share of the buildings adopts a measure that cuts heating energy by
``effect_pct`` percent, in ``cohorts`` waves spread over the middle of the
period (staggered adoption); the rest never adopt.  Adopters are chosen at
random, so every estimator's target is well defined: the true effect is the
mean, over treated building-days, of the heating energy the measure removed
(negative: energy went down).  Everything is a function of the seed.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

BASE_C = 16.0
"""Heating degree-days are counted below this daily mean outdoor temperature."""


@dataclass(frozen=True)
class FleetPanel:
    buildings: tuple[str, ...]
    dates: tuple[str, ...]
    """ISO dates, which sort in time order as text."""
    kwh: np.ndarray
    """(buildings × days) metered energy, with the measure where adopted."""
    untreated_kwh: np.ndarray
    """The same days without the measure: the counterfactual no meter sees."""
    treated: np.ndarray
    """(buildings × days) bool: the measure is in place."""
    outdoor_c: np.ndarray

    @property
    def true_effect(self) -> float:
        """Mean change in kWh per treated building-day (negative: a saving)."""
        return float((self.kwh - self.untreated_kwh)[self.treated].mean())

    @property
    def n_cohorts(self) -> int:
        starts = self.treated.argmax(axis=1)[self.treated.any(axis=1)]
        return len(set(starts.tolist()))

    def write_csv(self, path: str | Path) -> None:
        """Long format, one row per building and day: ``building,date,kwh,treated``."""
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["building", "date", "kwh", "treated"])
            for i, b in enumerate(self.buildings):
                for j, d in enumerate(self.dates):
                    out.writerow([b, d, f"{self.kwh[i, j]:.3f}", int(self.treated[i, j])])

    def summary(self) -> dict[str, object]:
        return {"buildings": len(self.buildings), "days": len(self.dates),
                "treated": int(self.treated.any(axis=1).sum()), "cohorts": self.n_cohorts,
                "true_effect_kwh_per_day": self.true_effect,
                "true_effect_pct_of_treated_energy": 100.0 * float(
                    (self.kwh - self.untreated_kwh)[self.treated].sum() / self.untreated_kwh[self.treated].sum())}


def fleet_panel(
    *, units: int = 40, periods: int = 365, effect_pct: float = 10.0, seed: int = 0, treated_share: float = 0.4,
    cohorts: int = 3, start: date = date(2025, 1, 1),
) -> FleetPanel:
    """``units`` buildings over ``periods`` days; ``treated_share`` of them adopt in ``cohorts`` waves."""
    if units < 3 or periods < 8 or not 0.0 < treated_share < 1.0 or cohorts < 1:
        raise ValueError("need at least 3 units, 8 periods, 0 < treated_share < 1 and one cohort")
    rng = np.random.default_rng(seed)
    days = [start + timedelta(days=k) for k in range(periods)]
    outdoor = _outdoor(days, rng)
    heating = _heating(units, days, outdoor, rng)
    base = _base_load(units, days, rng)
    noise = _ar1(rng, (units, periods), 0.5) * (0.04 * base.mean(axis=1, keepdims=True))
    untreated = heating + base + noise
    treated = _adoption(units, periods, treated_share, cohorts, rng)
    kwh = untreated - effect_pct / 100.0 * heating * treated
    names = tuple(f"b{i:03d}" for i in range(units))
    return FleetPanel(names, tuple(d.isoformat() for d in days), kwh, untreated, treated, outdoor)


def fleet_panel_main(out: Path, **options: object) -> int:
    """``edgewise fleet-panel``: write the CSV, print its summary (with the true effect) as JSON."""
    try:
        fleet = fleet_panel(**options)  # type: ignore[arg-type]
        fleet.write_csv(out)
    except (ValueError, OSError) as exc:
        print(f"edgewise fleet-panel: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"file": str(out), **fleet.summary()}))
    return 0


def _outdoor(days: list[date], rng: np.random.Generator) -> np.ndarray:
    """Daily mean °C: 10 ± 8 over the year, coldest around 15 January, plus cold and warm spells."""
    doy = np.array([d.timetuple().tm_yday for d in days], dtype=np.float64)
    seasonal = 10.0 - 8.0 * np.cos(2.0 * math.pi * (doy - 15.0) / 365.25)
    return seasonal + 2.5 * _ar1(rng, (len(days),), 0.8)


def _heating(units: int, days: list[date], outdoor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """kWh/day: area × heat loss per m² and K × degree-days, a little more on occupied days."""
    area = rng.lognormal(math.log(2000.0), 0.4, units)
    loss = rng.lognormal(math.log(0.02), 0.25, units)
    occupied = _occupied(days)
    warmer = rng.uniform(0.0, 0.2, units)  # occupied days are heated to a higher setpoint
    hdd = np.maximum(0.0, BASE_C - outdoor)
    return (area * loss)[:, None] * hdd[None, :] * (1.0 + warmer[:, None] * occupied[None, :])


def _base_load(units: int, days: list[date], rng: np.random.Generator) -> np.ndarray:
    """kWh/day of lighting, plug loads and ventilation: full on occupied days, ``1 − office`` share otherwise."""
    area = rng.lognormal(math.log(2000.0), 0.4, units)
    per_m2 = rng.uniform(0.05, 0.12, units)
    office = rng.uniform(0.1, 0.7, units)  # how much of the load stops at weekends
    occupied = _occupied(days)
    return (area * per_m2)[:, None] * (1.0 - office[:, None] * (1.0 - occupied[None, :]))


def _occupied(days: list[date]) -> np.ndarray:
    return np.array([d.weekday() < 5 for d in days], dtype=np.float64)


def _adoption(units: int, periods: int, share: float, cohorts: int, rng: np.random.Generator) -> np.ndarray:
    """Random adopters, each in one of ``cohorts`` waves spread between 30% and 70% of the period."""
    n_treated = min(units - 2, max(1, round(share * units)))
    adopters = rng.choice(units, n_treated, replace=False)
    starts = np.linspace(0.3 * periods, 0.7 * periods, cohorts).round().astype(int)
    wave = np.arange(n_treated) % cohorts  # every wave gets adopters, as evenly as the count allows
    treated = np.zeros((units, periods), dtype=bool)
    for unit, k in zip(adopters, wave, strict=True):
        treated[unit, starts[k]:] = True
    return treated


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float) -> np.ndarray:
    """Stationary AR(1) along the last axis with unit variance."""
    shocks = rng.standard_normal(shape)
    out = np.empty(shape)
    out[..., 0] = shocks[..., 0]
    scale = math.sqrt(1.0 - phi * phi)
    for t in range(1, shape[-1]):
        out[..., t] = phi * out[..., t - 1] + scale * shocks[..., t]
    return out
