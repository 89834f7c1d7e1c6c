// Per-day sufficient statistics of a room's series (see room_day_stats.hpp).
#include "edgewise/room_day_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace edgewise {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::size_t kW = kGramWidth;

using Row = double[kW];

bool finite_all(const double* z, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(z[i])) return false;
    }
    return true;
}

// g += z zᵀ on the upper triangle; mirrored once the day is done.
void add_outer(double* g, const Row& z) noexcept {
    for (std::size_t i = 0; i < kW; ++i) {
        const double zi = z[i];
        for (std::size_t j = i; j < kW; ++j) g[i * kW + j] += zi * z[j];
    }
}

void mirror(double* g) noexcept {
    for (std::size_t i = 1; i < kW; ++i) {
        for (std::size_t j = 0; j < i; ++j) g[i * kW + j] = g[j * kW + i];
    }
}

// numpy.clip semantics: NaN stays NaN.
double clip(double v, double lo, double hi) noexcept { return std::isnan(v) ? v : std::min(hi, std::max(lo, v)); }

double nan_mean(double sum, std::size_t count) noexcept { return count ? sum / static_cast<double>(count) : kNaN; }

bool meets(const FaultRule& rule, const double (&signal)[kHourlySignals], std::size_t hour) noexcept {
    if (!((rule.hour_mask >> hour) & 1u)) return false;
    for (const RuleCondition& c : rule.conditions) {
        const double v = signal[static_cast<std::size_t>(c.signal)];
        if (!std::isfinite(v)) return false;
        if (!std::isnan(c.above) && !(v > c.above)) return false;
        if (!std::isnan(c.below) && !(v < c.below)) return false;
    }
    return true;
}

// The room's inputs at one interval, with what every model derives from them.
class RoomView {
public:
    RoomView(const RoomInputs& in, const DayGrid& grid) : in_(in), grid_(grid), hours_(grid.interval_s / 3600.0) {}

    double hours() const noexcept { return hours_; }

    double daylight(std::size_t k) const noexcept {
        const double d = in_.illuminance[k] - in_.lights[k] * in_.lux_per_light;
        return std::isnan(d) ? d : std::max(0.0, d);
    }

    double heat(std::size_t k) const noexcept { return in_.energy_kwh[k] + in_.lights[k] * in_.lights_kw * hours_; }

    // A profile's value at interval j of day d (weekday or weekend row).
    double typical(const double* profile, std::size_t d, std::size_t j) const noexcept {
        return profile[(grid_.weekend[d] ? grid_.per_day : 0) + j];
    }

    void thermal_row(std::size_t k, Row& z) const noexcept {
        const double before = in_.temperature[k - 1];
        const double gap = in_.outdoor[k] - before;
        z[0] = gap;
        z[1] = in_.duty[k] * in_.heater_kw + in_.lights[k] * in_.lights_kw;
        z[2] = in_.ventilation[k] * gap;
        z[3] = in_.occupied[k];
        z[4] = daylight(k) / 1000.0;
        z[5] = 1.0;
        z[6] = in_.temperature[k] - before;
    }

    // Energy row fed the given temperatures (before, now) and ventilation.
    void energy_row(std::size_t k, double before, double now, double vent, Row& z) const noexcept {
        const double gap = ((before + now) / 2.0 - in_.outdoor[k]) * hours_;
        z[0] = gap;
        z[1] = vent * gap;
        z[2] = in_.occupied[k] * hours_;
        z[3] = daylight(k) / 1000.0 * hours_;
        z[4] = now - before;
        z[5] = hours_;
        z[6] = heat(k);
    }

    void measured_energy_row(std::size_t k, Row& z) const noexcept {
        const double* t = in_.temperature;
        energy_row(k, k ? t[k - 1] : t[k], t[k], in_.ventilation[k], z);
    }

    // Interval k is interval j of day d; the one before it may be yesterday's last.
    void counterfactual_row(std::size_t k, std::size_t d, std::size_t j, Row& z) const noexcept {
        const double* t = in_.typical_temperature;
        const double now = typical(t, d, j);
        double before = now;
        if (j > 0) {
            before = typical(t, d, j - 1);
        } else if (d > 0) {
            before = typical(t, d - 1, grid_.per_day - 1);
        }
        energy_row(k, before, now, typical(in_.typical_ventilation, d, j), z);
    }

    const RoomInputs& in() const noexcept { return in_; }

private:
    const RoomInputs& in_;
    const DayGrid& grid_;
    double hours_;
};

// Sums over one hour's intervals.
struct HourSums {
    double error = 0.0, duty = 0.0, starts = 0.0, occupied = 0.0, ventilation = 0.0, setpoint = 0.0, unexplained = 0.0;
    double t_min = std::numeric_limits<double>::infinity(), t_max = -std::numeric_limits<double>::infinity();
    bool t_missing = false;
    double error_seen = 0.0, duty_seen = 0.0, starts_seen = 0.0;  // for the profiles: NaN skipped
    std::size_t error_n = 0, duty_n = 0, starts_n = 0;

    void add(const RoomInputs& in, std::size_t k, double hours) noexcept {
        const double err = in.temperature[k] - in.setpoint[k];
        error += err;
        duty += in.duty[k];
        starts += in.starts[k];
        occupied += in.occupied[k];
        ventilation += in.ventilation[k];
        setpoint += in.setpoint[k];
        unexplained += in.energy_kwh[k] - in.duty[k] * in.heater_kw * hours;
        const double t = in.temperature[k];
        if (std::isnan(t)) {
            t_missing = true;
        } else {
            t_min = std::min(t_min, t);
            t_max = std::max(t_max, t);
        }
        if (!std::isnan(err)) error_seen += err, ++error_n;
        if (!std::isnan(in.duty[k])) duty_seen += in.duty[k], ++duty_n;
        if (!std::isnan(in.starts[k])) starts_seen += in.starts[k], ++starts_n;
    }

    void signals(double per_hour, double (&s)[kHourlySignals]) const noexcept {
        s[static_cast<std::size_t>(HourlySignal::temperature_error)] = error / per_hour;
        s[static_cast<std::size_t>(HourlySignal::temperature_span)] = t_missing ? kNaN : t_max - t_min;
        s[static_cast<std::size_t>(HourlySignal::duty)] = duty / per_hour;
        s[static_cast<std::size_t>(HourlySignal::starts)] = starts;
        s[static_cast<std::size_t>(HourlySignal::occupied)] = occupied / per_hour;
        s[static_cast<std::size_t>(HourlySignal::ventilation)] = ventilation / per_hour;
        s[static_cast<std::size_t>(HourlySignal::setpoint)] = setpoint / per_hour;
        s[static_cast<std::size_t>(HourlySignal::heat_without_call)] = unexplained;
    }
};

}  // namespace

void check_grid(const DayGrid& grid) {
    if (grid.per_day == 0 || grid.per_day % 24 != 0) {
        throw std::invalid_argument("per_day must be a positive multiple of 24");
    }
    if (!(std::fabs(static_cast<double>(grid.per_day) * grid.interval_s - 86400.0) < 1e-6)) {
        throw std::invalid_argument("per_day intervals of interval_s must make one day (86400 s)");
    }
    if (grid.days > 0 && grid.weekend == nullptr) throw std::invalid_argument("weekend flags are required");
}

void room_day_stats(const RoomInputs& in, const DayGrid& grid, const std::vector<FaultRule>& rules,
                    const RoomDayOutputs& out) {
    check_grid(grid);
    const RoomView room(in, grid);
    const std::size_t per_day = grid.per_day, per_hour = per_day / 24, nr = rules.size();
    const double starts_scale = static_cast<double>(per_hour) / 4.0;  // starts per hour, in fours
    Row z;
    for (std::size_t d = 0; d < grid.days; ++d) {
        double* thermal = out.thermal + d * kW * kW;
        double* energy = out.energy + d * kW * kW;
        double* cf = out.counterfactual + d * kCounterfactualWidth;
        double* profile = out.profiles + d * kProfileWidth;
        std::int64_t* hours_met = out.rule_hours + d * nr;
        std::fill(thermal, thermal + kW * kW, 0.0);
        std::fill(energy, energy + kW * kW, 0.0);
        std::fill(cf, cf + kCounterfactualWidth, 0.0);
        std::fill(hours_met, hours_met + nr, 0);
        std::int64_t valid = 0, outdoor_valid = 0;
        double night_sum = 0.0, night_n = 0.0;
        for (std::size_t hour = 0; hour < 24; ++hour) {
            HourSums sums;
            for (std::size_t q = 0; q < per_hour; ++q) {
                const std::size_t j = hour * per_hour + q;
                const std::size_t k = d * per_day + j;
                sums.add(in, k, room.hours());
                valid += std::isfinite(in.temperature[k]) && std::isfinite(in.setpoint[k]) &&
                         std::isfinite(in.duty[k]) && std::isfinite(in.energy_kwh[k]);
                outdoor_valid += std::isfinite(in.outdoor[k]);
                if (k > 0) {
                    room.thermal_row(k, z);
                    if (finite_all(z, kW)) add_outer(thermal, z);
                }
                room.measured_energy_row(k, z);
                if (finite_all(z, kW)) add_outer(energy, z);
                room.counterfactual_row(k, d, j, z);
                if (finite_all(z, kW)) {
                    for (std::size_t j = 0; j < kW; ++j) cf[j] += z[j];
                    cf[kW] += 1.0;
                }
            }
            double signal[kHourlySignals];
            sums.signals(static_cast<double>(per_hour), signal);
            for (std::size_t r = 0; r < nr; ++r) hours_met[r] += meets(rules[r], signal, hour);
            const double duty = signal[static_cast<std::size_t>(HourlySignal::duty)];
            if (hour < 6 && std::isfinite(duty)) night_sum += duty, night_n += 1.0;
            profile[hour] = clip(nan_mean(sums.error_seen, sums.error_n), -5.0, 5.0);
            profile[24 + hour] = nan_mean(sums.duty_seen, sums.duty_n);
            profile[48 + hour] = clip(nan_mean(sums.starts_seen, sums.starts_n) * starts_scale, 0.0, 5.0);
        }
        mirror(thermal);
        mirror(energy);
        out.valid[d] = valid;
        out.outdoor_valid[d] = outdoor_valid;
        out.night_duty[2 * d] = night_sum;
        out.night_duty[2 * d + 1] = night_n;
    }
}

double lit_night_lux(const double* illuminance, const double* lights, const DayGrid& grid) {
    check_grid(grid);
    std::vector<double> lit;
    for (std::size_t d = 0; d < grid.days; ++d) {
        for (std::size_t j = 0; j < grid.per_day; ++j) {
            const auto hour = static_cast<long>(std::floor(static_cast<double>(j) * grid.interval_s / 3600.0));
            if (hour >= 6 && hour < 20) continue;
            const std::size_t k = d * grid.per_day + j;
            if (lights[k] > 0.99 && std::isfinite(illuminance[k])) lit.push_back(illuminance[k]);
        }
    }
    if (lit.empty()) return kNaN;
    const std::size_t mid = lit.size() / 2;
    std::nth_element(lit.begin(), lit.begin() + static_cast<std::ptrdiff_t>(mid), lit.end());
    const double upper = lit[mid];
    if (lit.size() % 2) return upper;
    const double lower = *std::max_element(lit.begin(), lit.begin() + static_cast<std::ptrdiff_t>(mid));
    return (lower + upper) / 2.0;
}

}  // namespace edgewise
