// Python binding of the per-day statistics pass (edgewise/room_day_stats.hpp).
//
// Signals come as (rooms, intervals) arrays (outdoor may be (intervals,), one
// site); results go back as a dict of (rooms, days, ...) arrays.  Shapes are
// checked here; the GIL is released while rooms are summarised in parallel.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "edgewise/parallel.hpp"
#include "edgewise/room_day_stats.hpp"

namespace py = pybind11;

namespace edgewise::bindings {

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using FlagArray = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;
using ConditionSpec = std::tuple<std::string, double, double>;
using RuleSpec = std::tuple<std::vector<ConditionSpec>, std::uint32_t>;

HourlySignal signal_named(const std::string& name) {
    for (std::size_t i = 0; i < kHourlySignals; ++i) {
        if (name == kHourlySignalNames[i]) return static_cast<HourlySignal>(i);
    }
    throw py::value_error("unknown hourly signal '" + name + "'");
}

std::vector<FaultRule> compile(const std::vector<RuleSpec>& specs) {
    std::vector<FaultRule> rules;
    for (const auto& [conditions, mask] : specs) {
        FaultRule rule;
        rule.hour_mask = mask;
        for (const auto& [name, above, below] : conditions) rule.conditions.push_back({signal_named(name), above, below});
        rules.push_back(std::move(rule));
    }
    return rules;
}

// A (rooms, n) signal, or (n,) shared by every room when `shared_ok`; returns the row stride.
py::ssize_t row_stride(const DoubleArray& a, const char* name, py::ssize_t rooms, py::ssize_t n, bool shared_ok) {
    if (shared_ok && a.ndim() == 1 && a.shape(0) == n) return 0;
    if (a.ndim() != 2 || a.shape(0) != rooms || a.shape(1) != n) {
        throw py::value_error(std::string(name) + " must be (rooms, intervals) like temperature");
    }
    return n;
}

void need_rooms(const DoubleArray& a, const char* name, py::ssize_t rooms, py::ssize_t per_room) {
    if (a.size() != rooms * per_room) {
        throw py::value_error(std::string(name) + " must hold " + std::to_string(per_room) + " values per room");
    }
}

template <typename T>
py::array_t<T> zeros(std::vector<py::ssize_t> shape) {
    py::array_t<T> a(shape);
    std::fill(a.mutable_data(), a.mutable_data() + a.size(), T{});
    return a;
}

py::dict day_stats(const DoubleArray& temperature, const DoubleArray& setpoint, const DoubleArray& duty,
                   const DoubleArray& starts, const DoubleArray& energy_kwh, const DoubleArray& occupied,
                   const DoubleArray& ventilation, const DoubleArray& illuminance, const DoubleArray& lights,
                   const DoubleArray& outdoor, const DoubleArray& heater_kw, const DoubleArray& lights_kw,
                   const DoubleArray& lux_per_light, const DoubleArray& typical_temperature,
                   const DoubleArray& typical_ventilation, const FlagArray& weekend, std::int64_t per_day,
                   double interval_s, const std::vector<RuleSpec>& rule_specs, int threads) {
    if (temperature.ndim() != 2) throw py::value_error("temperature must be (rooms, intervals)");
    if (per_day < 1) throw py::value_error("per_day must be a positive multiple of 24");
    if (threads < 1) throw py::value_error("threads must be >= 1");
    const py::ssize_t rooms = temperature.shape(0), n = temperature.shape(1);
    const py::ssize_t days = weekend.ndim() == 1 ? weekend.shape(0) : -1;
    if (days < 0 || days * per_day > n) throw py::value_error("weekend must be (days,) with days * per_day <= intervals");
    const DayGrid grid{static_cast<std::size_t>(days), static_cast<std::size_t>(per_day), interval_s, weekend.data()};
    check_grid(grid);  // here, not in the worker threads (std::invalid_argument is a ValueError)
    const DoubleArray* rows[] = {&temperature, &setpoint, &duty, &starts, &energy_kwh, &occupied,
                                 &ventilation, &illuminance, &lights};
    const char* names[] = {"temperature", "setpoint", "duty", "starts", "energy_kwh", "occupied",
                           "ventilation", "illuminance", "lights"};
    for (std::size_t i = 0; i < 9; ++i) row_stride(*rows[i], names[i], rooms, n, false);
    const py::ssize_t outdoor_stride = row_stride(outdoor, "outdoor", rooms, n, true);
    need_rooms(heater_kw, "heater_kw", rooms, 1);
    need_rooms(lights_kw, "lights_kw", rooms, 1);
    need_rooms(lux_per_light, "lux_per_light", rooms, 1);
    need_rooms(typical_temperature, "typical_temperature", rooms, 2 * per_day);
    need_rooms(typical_ventilation, "typical_ventilation", rooms, 2 * per_day);
    const std::vector<FaultRule> rules = compile(rule_specs);
    const auto nr = static_cast<py::ssize_t>(rules.size());
    const py::ssize_t w = static_cast<py::ssize_t>(kGramWidth);
    auto valid = zeros<std::int64_t>({rooms, days});
    auto outdoor_valid = zeros<std::int64_t>({rooms, days});
    auto thermal = zeros<double>({rooms, days, w, w});
    auto energy = zeros<double>({rooms, days, w, w});
    auto cf = zeros<double>({rooms, days, static_cast<py::ssize_t>(kCounterfactualWidth)});
    auto profiles = zeros<double>({rooms, days, static_cast<py::ssize_t>(kProfileWidth)});
    auto rule_hours = zeros<std::int64_t>({rooms, days, nr});
    auto night = zeros<double>({rooms, days, 2});
    auto room_inputs = [&](py::ssize_t r) {
        RoomInputs in;
        in.temperature = temperature.data() + r * n;
        in.setpoint = setpoint.data() + r * n;
        in.duty = duty.data() + r * n;
        in.starts = starts.data() + r * n;
        in.energy_kwh = energy_kwh.data() + r * n;
        in.occupied = occupied.data() + r * n;
        in.ventilation = ventilation.data() + r * n;
        in.illuminance = illuminance.data() + r * n;
        in.lights = lights.data() + r * n;
        in.outdoor = outdoor.data() + r * outdoor_stride;
        in.heater_kw = heater_kw.data()[r];
        in.lights_kw = lights_kw.data()[r];
        in.lux_per_light = lux_per_light.data()[r];
        in.typical_temperature = typical_temperature.data() + r * 2 * per_day;
        in.typical_ventilation = typical_ventilation.data() + r * 2 * per_day;
        return in;
    };
    auto room_outputs = [&](py::ssize_t r) {
        RoomDayOutputs out;
        out.valid = valid.mutable_data() + r * days;
        out.outdoor_valid = outdoor_valid.mutable_data() + r * days;
        out.thermal = thermal.mutable_data() + r * days * w * w;
        out.energy = energy.mutable_data() + r * days * w * w;
        out.counterfactual = cf.mutable_data() + r * days * static_cast<py::ssize_t>(kCounterfactualWidth);
        out.profiles = profiles.mutable_data() + r * days * static_cast<py::ssize_t>(kProfileWidth);
        out.rule_hours = rule_hours.mutable_data() + r * days * nr;
        out.night_duty = night.mutable_data() + r * days * 2;
        return out;
    };
    {
        py::gil_scoped_release release;
        parallel_for(static_cast<std::size_t>(rooms), threads, [&](std::size_t begin, std::size_t end) {
            for (std::size_t r = begin; r < end; ++r) {
                const auto i = static_cast<py::ssize_t>(r);
                room_day_stats(room_inputs(i), grid, rules, room_outputs(i));
            }
        }, 1);
    }
    py::dict result;
    result["valid"] = valid;
    result["outdoor_valid"] = outdoor_valid;
    result["thermal"] = thermal;
    result["energy"] = energy;
    result["counterfactual"] = cf;
    result["profiles"] = profiles;
    result["rule_hours"] = rule_hours;
    result["night_duty"] = night;
    return result;
}

py::array_t<double> lit_night(const DoubleArray& illuminance, const DoubleArray& lights, std::int64_t days,
                              std::int64_t per_day, double interval_s, int threads) {
    if (illuminance.ndim() != 2 || lights.ndim() != 2 || illuminance.shape(0) != lights.shape(0) ||
        illuminance.shape(1) != lights.shape(1)) {
        throw py::value_error("illuminance and lights must be (rooms, intervals) of the same shape");
    }
    if (per_day < 1 || days < 0 || days * per_day > illuminance.shape(1)) {
        throw py::value_error("need per_day a positive multiple of 24 and days * per_day <= intervals");
    }
    if (threads < 1) throw py::value_error("threads must be >= 1");
    const py::ssize_t rooms = illuminance.shape(0), n = illuminance.shape(1);
    std::vector<std::uint8_t> weekend(static_cast<std::size_t>(days), 0);
    const DayGrid grid{static_cast<std::size_t>(days), static_cast<std::size_t>(per_day), interval_s, weekend.data()};
    check_grid(grid);
    py::array_t<double> out(rooms);
    double* o = out.mutable_data();
    const double* lux = illuminance.data();
    const double* on = lights.data();
    {
        py::gil_scoped_release release;
        parallel_for(static_cast<std::size_t>(rooms), threads, [&](std::size_t begin, std::size_t end) {
            for (std::size_t r = begin; r < end; ++r) {
                const auto i = static_cast<py::ssize_t>(r);
                o[i] = lit_night_lux(lux + i * n, on + i * n, grid);
            }
        }, 1);
    }
    return out;
}

}  // namespace

void register_room_day_stats(py::module_& m) {
    py::tuple signals(kHourlySignals);
    for (std::size_t i = 0; i < kHourlySignals; ++i) signals[i] = kHourlySignalNames[i];
    m.attr("FAULT_RULE_SIGNALS") = signals;
    m.def("fault_day_stats", &day_stats, py::kw_only(), py::arg("temperature"), py::arg("setpoint"), py::arg("duty"),
          py::arg("starts"), py::arg("energy_kwh"), py::arg("occupied"), py::arg("ventilation"),
          py::arg("illuminance"), py::arg("lights"), py::arg("outdoor"), py::arg("heater_kw"), py::arg("lights_kw"),
          py::arg("lux_per_light"), py::arg("typical_temperature"), py::arg("typical_ventilation"),
          py::arg("weekend"), py::arg("per_day"), py::arg("interval_s"), py::arg("rules"), py::arg("threads") = 1,
          "Per room-day sufficient statistics of the fault models, daily profiles and rule hours, in one pass.\n"
          "rules: [([(signal, above, below), ...], hour_mask), ...] with NaN for a missing bound.");
    m.def("fault_lit_night_lux", &lit_night, py::arg("illuminance"), py::arg("lights"), py::arg("days"),
          py::arg("per_day"), py::arg("interval_s"), py::arg("threads") = 1,
          "(rooms,) median night (20:00-06:00) illuminance with the lights fully on; NaN where never.");
}

}  // namespace edgewise::bindings
