// One pass over a room's interval series that leaves everything fault
// detection needs, per day, in a few hundred numbers.
//
// Fault detection (agent/apps/faults/, docs/faults.md) fits two linear
// models per room, clusters daily profiles and evaluates rules on hourly
// signals.  All of it can be answered from per-day summaries:
//
//  * a least-squares fit over any set of days, and the mean residual of any
//    day, follow from the day's Gram matrix of [x | y] (the sums of products
//    of the design columns and the target over the day's rows);
//  * the counterfactual energy of a day is linear in the sums of its
//    counterfactual design rows;
//  * profiles and rule hours are per-day by nature.
//
// So the raw series (96 values per room-day per signal at 15 minutes) is read
// once, here, and the scoring that follows works on days, not intervals.
// Missing values: a row with any non-finite input is left out of a model's
// sums; hourly means are NaN when any of their values is (except the
// profiles, which average what there is); a NaN never meets a rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgewise {

/// The hourly signals fault rules are written against, in this order
/// (agent/apps/faults/rules.yaml names them).
enum class HourlySignal : std::size_t {
    temperature_error,  ///< mean of sensor temperature minus setpoint, K
    temperature_span,   ///< max minus min sensor temperature within the hour, K
    duty,               ///< mean share of the interval the heater relay was on
    starts,             ///< heater starts, summed
    occupied,           ///< mean share occupied
    ventilation,        ///< mean share of the design outdoor airflow
    setpoint,           ///< mean setpoint, degC
    heat_without_call,  ///< metered energy beyond the relay's, summed, kWh
};
inline constexpr std::size_t kHourlySignals = 8;
inline constexpr const char* kHourlySignalNames[kHourlySignals] = {
    "temperature_error", "temperature_span", "duty", "starts", "occupied", "ventilation", "setpoint",
    "heat_without_call"};

/// signal > above and signal < below; a NaN bound is no bound.
struct RuleCondition {
    HourlySignal signal = HourlySignal::duty;
    double above = 0.0;
    double below = 0.0;
};

/// An hour meets a rule when every condition holds and its bit is set in hour_mask.
struct FaultRule {
    std::vector<RuleCondition> conditions;
    std::uint32_t hour_mask = 0xFFFFFFu;  ///< bit h: hour h (UTC) counts
};

/// The day grid every series is on: interval k of day d is index d * per_day + k.
struct DayGrid {
    std::size_t days = 0;
    std::size_t per_day = 0;     ///< intervals per day, a multiple of 24
    double interval_s = 0.0;     ///< per_day * interval_s is one day
    const std::uint8_t* weekend = nullptr;  ///< (days) 1 for Saturday and Sunday
};

/// One room's inputs; every series holds days * per_day values.
struct RoomInputs {
    const double* temperature = nullptr;  ///< sensor reading at the end of each interval, degC
    const double* setpoint = nullptr;
    const double* duty = nullptr;         ///< 0-1
    const double* starts = nullptr;
    const double* energy_kwh = nullptr;   ///< metered HVAC energy in the interval
    const double* occupied = nullptr;     ///< 0-1
    const double* ventilation = nullptr;  ///< 0-1
    const double* illuminance = nullptr;  ///< lx
    const double* lights = nullptr;       ///< 0-1
    const double* outdoor = nullptr;      ///< degC
    double heater_kw = 0.0;
    double lights_kw = 0.0;
    double lux_per_light = 0.0;  ///< what the lights add to the illuminance when fully on
    const double* typical_temperature = nullptr;  ///< (2 x per_day): workday, then weekend profile
    const double* typical_ventilation = nullptr;  ///< (2 x per_day)
};

/// Columns of the two room models.  Thermal (one row per interval k >= 1,
/// target T[k] - T[k-1], a discrete 1R1C model):
///   Tout[k] - T[k-1], heater and lights kW, vent[k] (Tout[k] - T[k-1]), occupied[k], daylight[k] / 1000, 1.
/// Energy (one row per interval, target metered energy plus the lights' electric heat, kWh):
///   (Tmid - Tout) h, vent (Tmid - Tout) h, occupied h, daylight / 1000 h, T[k] - T[k-1], h,
/// with Tmid the mean of the interval's start and end temperature, h its length in hours and
/// daylight the illuminance less the lights' own.
inline constexpr std::size_t kModelColumns = 6;
inline constexpr std::size_t kGramWidth = kModelColumns + 1;  ///< [x | y]
inline constexpr std::size_t kProfileWidth = 72;              ///< 24 hourly setpoint errors, duties, starts
inline constexpr std::size_t kCounterfactualWidth = kModelColumns + 2;  ///< sums of x_cf, of y, and the row count

/// Where one room's per-day results go (each array has `days` rows).
struct RoomDayOutputs {
    std::int64_t* valid = nullptr;          ///< intervals with temperature, setpoint, duty and energy all finite
    std::int64_t* outdoor_valid = nullptr;  ///< intervals with a finite outdoor temperature
    double* thermal = nullptr;              ///< kGramWidth^2 per day: Gram of the thermal [x | y]
    double* energy = nullptr;               ///< kGramWidth^2 per day: Gram of the energy [x | y]
    double* counterfactual = nullptr;       ///< kCounterfactualWidth per day: energy rows fed the typical
                                            ///< temperature and ventilation instead of the measured ones
    double* profiles = nullptr;             ///< kProfileWidth per day (DayStats.profiles in day_stats.py)
    std::int64_t* rule_hours = nullptr;     ///< rules.size() per day: hours meeting each rule
    double* night_duty = nullptr;           ///< 2 per day: sum and count of finite hourly duties, 00-06
};

/// Throws std::invalid_argument unless per_day is a positive multiple of 24,
/// per_day intervals of interval_s make one day, and there are weekend flags
/// for the days.  Call it before summarising rooms in parallel: a worker
/// thread must not throw.
void check_grid(const DayGrid& grid);

/// Fills `out` for one room.  Throws std::invalid_argument on a bad grid.
void room_day_stats(const RoomInputs& in, const DayGrid& grid, const std::vector<FaultRule>& rules,
                    const RoomDayOutputs& out);

/// Median illuminance of one room at night (20:00-06:00 UTC) with the lights
/// fully on (> 0.99): what the lights alone add.  NaN if that never happened.
double lit_night_lux(const double* illuminance, const double* lights, const DayGrid& grid);

}  // namespace edgewise
