"""Outdoor conditions for the simulated building: temperature, humidity, daylight.

Everything is a deterministic function of event time and the seed, so a room
model can ask for the weather at any substep and a rerun sees the same sky.
Local time is taken to be UTC (a western-European site in winter); the default
climate is a mild mid-latitude January.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

DAY_S = 86400.0
HOUR_S = 3600.0


def local_hour(t: float) -> float:
    """Hour of the local day (0 ≤ h < 24) at event time ``t``."""
    return (t % DAY_S) / HOUR_S


def day_index(t: float) -> int:
    """Days since the Unix epoch: the key of every per-day random draw."""
    return int(t // DAY_S)


def weekday(t: float) -> int:
    """0 = Monday … 6 = Sunday (the epoch, day 0, was a Thursday)."""
    return (day_index(t) + 3) % 7


def is_weekday(t: float) -> bool:
    return weekday(t) < 5


def saturation_vapour_density(temp_c: float) -> float:
    """Water vapour density at saturation, kg/m³ (Magnus formula).

    Rooms track absolute humidity and convert to RH with this, so warming a room
    makes its air drier the way heating does in a real winter office.
    """
    e_hpa = 6.112 * math.exp(17.62 * temp_c / (243.12 + temp_c))
    return e_hpa * 100.0 / (461.5 * (temp_c + 273.15))


class Weather:
    """Seeded outdoor weather.

    * temperature: ``mean_c`` + a daily sinusoid (minimum at 05:00) + a slowly
      varying AR(1) deviation on hourly knots (correlation time ≈ 1.5 days);
    * relative humidity: high at night, lower in the afternoon, anticorrelated
      with the temperature deviation;
    * daylight illuminance on a horizontal plane: a solar-elevation model at
      ``latitude`` times a cloud transmittance drawn per day, with hourly flicker.
    """

    def __init__(
        self,
        seed: int,
        start: float,
        *,
        mean_c: float = 3.0,
        amplitude_k: float = 4.0,
        deviation_sd_k: float = 3.0,
        latitude_deg: float = 48.0,
    ) -> None:
        self.seed = seed
        self.start = float(start)
        self.mean_c = mean_c
        self.amplitude_k = amplitude_k
        self.latitude = math.radians(latitude_deg)
        self._phi = 0.97  # per hour
        self._innovation_sd = deviation_sd_k * math.sqrt(1.0 - self._phi**2)
        self._ar_rng = random.Random(seed * 1_000_003 + 17)
        self._knots: list[float] = [self._ar_rng.gauss(0.0, deviation_sd_k)]
        self._day_cache: dict[int, tuple[float, float]] = {}

    # -- temperature -------------------------------------------------------

    def deviation(self, t: float) -> float:
        """The AR(1) deviation from the daily cycle, linearly interpolated between hours."""
        x = max(0.0, (t - self.start) / HOUR_S)
        i = int(x)
        while len(self._knots) < i + 2:
            self._knots.append(self._phi * self._knots[-1] + self._ar_rng.gauss(0.0, self._innovation_sd))
        frac = x - i
        return self._knots[i] * (1.0 - frac) + self._knots[i + 1] * frac

    def temperature(self, t: float) -> float:
        """Outdoor air temperature, °C."""
        daily = -math.cos(2.0 * math.pi * (local_hour(t) - 5.0) / 24.0)
        return self.mean_c + self.amplitude_k * daily + self.deviation(t)

    def humidity(self, t: float) -> float:
        """Outdoor relative humidity, %."""
        daily = math.cos(2.0 * math.pi * (local_hour(t) - 5.0) / 24.0)
        rh = 80.0 + 8.0 * daily - 2.0 * self.deviation(t)
        return min(100.0, max(35.0, rh))

    def vapour_density(self, t: float) -> float:
        """Outdoor absolute humidity, kg/m³: what ventilation brings indoors."""
        return self.humidity(t) / 100.0 * saturation_vapour_density(self.temperature(t))

    # -- daylight ----------------------------------------------------------

    def sun_elevation(self, t: float) -> float:
        """Solar elevation angle in radians (negative at night); solar noon 12:15."""
        declination, _ = self._day(day_index(t))
        hour_angle = math.radians(15.0 * (local_hour(t) - 12.25))
        lat = self.latitude
        s = math.sin(lat) * math.sin(declination) + math.cos(lat) * math.cos(declination) * math.cos(hour_angle)
        return math.asin(max(-1.0, min(1.0, s)))

    def cloud_transmittance(self, t: float) -> float:
        """Fraction of clear-sky daylight that gets through: per-day cloudiness × hourly flicker."""
        _, daily = self._day(day_index(t))
        x = t / HOUR_S
        hour = math.floor(x)
        frac = x - hour
        flicker = self._flicker(hour) * (1.0 - frac) + self._flicker(hour + 1) * frac
        return min(1.0, daily * flicker)

    def _flicker(self, hour: int) -> float:
        return random.Random(self.seed * 7_000_003 + hour).uniform(0.85, 1.1)

    def illuminance(self, t: float) -> float:
        """Outdoor horizontal illuminance, lx: 0 at night, 10–30 klx at a winter noon."""
        elevation = self.sun_elevation(t)
        if elevation <= 0.0:
            return 0.0
        return 100_000.0 * math.sin(elevation) * self.cloud_transmittance(t)

    def _day(self, day: int) -> tuple[float, float]:
        """(solar declination, cloud transmittance) of one day, computed once."""
        cached = self._day_cache.get(day)
        if cached is None:
            doy = datetime.fromtimestamp(day * DAY_S, tz=UTC).timetuple().tm_yday
            declination = math.radians(-23.44) * math.cos(2.0 * math.pi * (doy + 10) / 365.0)
            transmittance = random.Random(self.seed * 5_000_011 + day).uniform(0.3, 0.9)
            cached = (declination, transmittance)
            if len(self._day_cache) > 64:
                self._day_cache.clear()
            self._day_cache[day] = cached
        return cached
