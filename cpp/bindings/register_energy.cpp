// Python bindings for edgewise::energy: node parameters, traces, policies, the
// simulator, the oracle and the Q-learner. Argument conversion only; the GIL is
// released around every loop over a trace.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "edgewise/energy.hpp"

namespace py = pybind11;

namespace edgewise::bindings {

namespace {

using namespace edgewise::energy;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using Int32Array = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;
using Int64Array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

template <typename T, typename ArrayT>
std::vector<T> to_vector(const ArrayT& a, const char* name) {
    if (a.ndim() != 1) throw py::value_error(std::string(name) + " must be a 1-D array");
    return std::vector<T>(a.data(), a.data() + a.size());
}

template <typename T>
py::array_t<T> to_numpy(const std::vector<T>& v) {
    py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), out.mutable_data());
    return out;
}

// A node stepped from Python (firmware_sim, tests): parameters, state and its ledger.
struct Node {
    NodeParams params;
    NodeState state;
    Ledger ledger;
    explicit Node(const NodeParams& p) : params(p), state((p.validate(), NodeState::initial(p))) {
        ledger.min_voltage = p.v_initial;
    }
};

void register_params(py::module_& m) {
    py::class_<NodeParams> c(m, "NodeParams", "Physical parameters of an energy-harvesting node type (SI units).");
    c.def(py::init([](py::kwargs kwargs) {
              NodeParams p;
              py::object obj = py::cast(&p, py::return_value_policy::reference);
              for (auto item : kwargs) {
                  const auto key = item.first.cast<std::string>();
                  if (!py::hasattr(obj, key.c_str())) throw py::type_error("unknown NodeParams field '" + key + "'");
                  obj.attr(key.c_str()) = item.second;
              }
              p.validate();
              return p;
          }),
          "NodeParams(**fields): defaults are Ember's node (docs/energy-harvesting.md).");
#define EDGEWISE_FIELD(name) c.def_readwrite(#name, &NodeParams::name)
    EDGEWISE_FIELD(capacitance_f); EDGEWISE_FIELD(v_max); EDGEWISE_FIELD(v_cutoff); EDGEWISE_FIELD(v_restart);
    EDGEWISE_FIELD(v_initial); EDGEWISE_FIELD(harvest_v); EDGEWISE_FIELD(harvest_a); EDGEWISE_FIELD(harvest_ref_lux);
    EDGEWISE_FIELD(sleep_a); EDGEWISE_FIELD(pir_a); EDGEWISE_FIELD(pir_event_s); EDGEWISE_FIELD(radio_a);
    EDGEWISE_FIELD(radio_s); EDGEWISE_FIELD(radio_tx_a); EDGEWISE_FIELD(radio_tx_s);
#undef EDGEWISE_FIELD
    c.def("validate", &NodeParams::validate)
        .def("energy_at", &NodeParams::energy_at, py::arg("volts"), "Capacitor energy (J) at a voltage.")
        .def("voltage_at", &NodeParams::voltage_at, py::arg("joules"))
        .def("harvest_w", &NodeParams::harvest_w, py::arg("lux"), "Harvested power (W) at a light level.");
}

void register_node(py::module_& m) {
    py::class_<Node>(m, "Node", "One node stepped by hand: state and energy ledger.")
        .def(py::init<const NodeParams&>(), py::arg("params"))
        .def("step",
             [](Node& n, int mode, double lux, double dt, std::int32_t events) {
                 if (mode < 0 || mode >= static_cast<int>(kModeCount)) throw py::value_error("mode must be 0-5");
                 if (!(dt > 0) || !(lux >= 0) || events < 0) throw py::value_error("need dt > 0, lux >= 0, events >= 0");
                 step(n.params, n.state, kModes[static_cast<std::size_t>(mode)], lux, dt, events, n.ledger);
             },
             py::arg("mode"), py::arg("lux"), py::arg("dt"), py::arg("events") = 0)
        .def_property_readonly("voltage", [](const Node& n) { return n.params.voltage_at(n.state.energy_j); })
        .def_property_readonly("energy_j", [](const Node& n) { return n.state.energy_j; })
        .def_property_readonly("alive", [](const Node& n) { return n.state.alive; })
        .def_property_readonly("last_report_v", [](const Node& n) { return n.state.last_report_v; })
        .def_property_readonly("harvested_j", [](const Node& n) { return n.ledger.harvested_j; })
        .def_property_readonly("spilled_j", [](const Node& n) { return n.ledger.spilled_j; })
        .def_property_readonly("consumed_j", [](const Node& n) { return n.ledger.consumed_j; })
        .def_property_readonly("events_detected", [](const Node& n) { return n.ledger.events_detected; })
        .def_property_readonly("reports", [](const Node& n) { return n.ledger.reports; })
        .def_property_readonly("brownout_s", [](const Node& n) { return n.ledger.brownout_s; });
}

void register_trace(py::module_& m) {
    py::class_<Trace>(m, "Trace", "Mean lux and PIR event count of each fixed step; t = 0 is Monday 00:00.")
        .def(py::init([](const DoubleArray& lux, const Int32Array& events, double step_s) {
                 Trace t;
                 t.lux = to_vector<double>(lux, "lux");
                 t.events = to_vector<std::int32_t>(events, "events");
                 t.step_s = step_s;
                 t.validate();
                 return t;
             }),
             py::arg("lux"), py::arg("events"), py::arg("step_s") = 60.0)
        .def_readonly("step_s", &Trace::step_s)
        .def_property_readonly("lux", [](const Trace& t) { return to_numpy(t.lux); })
        .def_property_readonly("events", [](const Trace& t) { return to_numpy(t.events); })
        .def("__len__", &Trace::steps);
}

void register_policies(py::module_& m) {
    py::class_<Policy>(m, "Policy", "Chooses a mode index (into MODES) from what the gateway knows.")
        .def("decide",
             [](const Policy& p, int hour, double voltage, double lux, std::int64_t decision) {
                 return p.decide(Observation{decision, hour, voltage, lux});
             },
             py::arg("hour"), py::arg("voltage"), py::arg("lux"), py::arg("decision") = 0)
        .def("decide_many",
             [](const Policy& p, const Int64Array& hours, const DoubleArray& volts, const DoubleArray& luxes) {
                 if (hours.size() != volts.size() || hours.size() != luxes.size())
                     throw py::value_error("hours, volts and luxes must have the same length");
                 const auto n = static_cast<std::size_t>(hours.size());
                 py::array_t<std::int8_t> out(static_cast<py::ssize_t>(n));
                 const std::int64_t* h = hours.data();
                 const double* v = volts.data();
                 const double* l = luxes.data();
                 std::int8_t* o = out.mutable_data();
                 py::gil_scoped_release release;
                 for (std::size_t i = 0; i < n; ++i) {
                     o[i] = static_cast<std::int8_t>(p.decide(Observation{static_cast<std::int64_t>(i),
                                                                          static_cast<int>(h[i]), v[i], l[i]}));
                 }
                 return out;
             },
             py::arg("hours"), py::arg("volts"), py::arg("luxes"),
             "Decide for each observation in turn (native loop; the benchmark times this).");
    py::class_<FixedPolicy, Policy>(m, "FixedPolicy").def(py::init<int>(), py::arg("mode") = 3);
    py::class_<GreedyPolicy, Policy>(m, "GreedyPolicy")
        .def(py::init<double, double, double>(), py::arg("pir_off_v") = 2.6, py::arg("slow_v") = 3.2,
             py::arg("fast_v") = 4.0);
    py::class_<TablePolicy, Policy>(m, "TablePolicy")
        .def(py::init([](std::vector<double> v_edges, std::vector<double> lux_edges, std::vector<std::int8_t> modes) {
                 return TablePolicy(TableShape{std::move(v_edges), std::move(lux_edges)}, std::move(modes));
             }),
             py::arg("voltage_edges"), py::arg("lux_edges"), py::arg("modes"))
        .def_property_readonly("voltage_edges", [](const TablePolicy& t) { return t.shape().voltage_edges; })
        .def_property_readonly("lux_edges", [](const TablePolicy& t) { return t.shape().lux_edges; })
        .def_property_readonly("modes", [](const TablePolicy& t) { return to_numpy(t.modes()); });
    py::class_<PlanPolicy, Policy>(m, "PlanPolicy").def(py::init<std::vector<std::int8_t>>(), py::arg("plan"));
}

void register_simulation(py::module_& m) {
    py::class_<SimResult>(m, "SimResult", "Totals of one simulated run.")
        .def_property_readonly("harvested_j", [](const SimResult& r) { return r.ledger.harvested_j; })
        .def_property_readonly("spilled_j", [](const SimResult& r) { return r.ledger.spilled_j; })
        .def_property_readonly("consumed_j", [](const SimResult& r) { return r.ledger.consumed_j; })
        .def_property_readonly("events_total", [](const SimResult& r) { return r.ledger.events_total; })
        .def_property_readonly("events_detected", [](const SimResult& r) { return r.ledger.events_detected; })
        .def_property_readonly("reports", [](const SimResult& r) { return r.ledger.reports; })
        .def_property_readonly("brownout_s", [](const SimResult& r) { return r.ledger.brownout_s; })
        .def_property_readonly("min_voltage", [](const SimResult& r) { return r.ledger.min_voltage; })
        .def_readonly("initial_energy_j", &SimResult::initial_energy_j)
        .def_readonly("final_energy_j", &SimResult::final_energy_j)
        .def_readonly("decisions", &SimResult::decisions)
        .def_property_readonly("mode_counts", [](const SimResult& r) {
            return std::vector<std::int64_t>(r.mode_counts.begin(), r.mode_counts.end());
        })
        .def_property_readonly("modes", [](const SimResult& r) { return to_numpy(r.modes); });

    m.def("simulate", &simulate, py::arg("params"), py::arg("trace"), py::arg("policy"), py::arg("decision_s") = 3600.0,
          py::call_guard<py::gil_scoped_release>(), "Run a policy over a trace, deciding every decision_s seconds.");
    m.def("oracle_plan",
          [](const NodeParams& p, const Trace& t, double decision_s, int grid, bool exact, std::int64_t max_nodes) {
              std::vector<std::int8_t> plan;
              {
                  py::gil_scoped_release release;
                  plan = oracle_plan(p, t, decision_s, grid, exact, max_nodes);
              }
              return to_numpy(plan);
          },
          py::arg("params"), py::arg("trace"), py::arg("decision_s") = 3600.0, py::arg("grid") = 256, py::arg("exact") = false,
          py::arg("max_nodes") = 2'000'000,
          "The offline optimum's mode per decision: DP over a voltage grid knowing the whole trace.");
    m.def("brute_force_best", &brute_force_best, py::arg("params"), py::arg("trace"), py::arg("decision_s") = 3600.0,
          py::call_guard<py::gil_scoped_release>(), "Most events any mode sequence detects (tiny traces only).");
    m.def("train_q_learning",
          [](const NodeParams& p, const std::vector<Trace>& traces, double decision_s, std::vector<double> v_edges,
             std::vector<double> lux_edges, int episodes_per_trace, double alpha, double gamma, double epsilon,
             double brownout_penalty_per_h, double energy_cost_per_j, std::uint64_t seed, double pir_off_margin) {
              const QLearningConfig config{episodes_per_trace, alpha,  gamma, epsilon, brownout_penalty_per_h,
                                           energy_cost_per_j,  seed, pir_off_margin};
              const TableShape shape{std::move(v_edges), std::move(lux_edges)};
              py::gil_scoped_release release;
              return train_q_learning(p, traces, decision_s, shape, config);
          },
          py::arg("params"), py::arg("traces"), py::arg("decision_s"), py::arg("voltage_edges"), py::arg("lux_edges"),
          py::arg("episodes_per_trace") = 20, py::arg("alpha") = 0.1, py::arg("gamma") = 0.995,
          py::arg("epsilon") = 0.1, py::arg("brownout_penalty_per_h") = 200.0, py::arg("energy_cost_per_j") = 10.0, py::arg("seed") = 1,
          py::arg("pir_off_margin") = 0.0,
          "Tabular Q-learning over (hour, voltage bin, light bin); returns the greedy TablePolicy.");
}

}  // namespace

void register_energy(py::module_& m) {
    py::list modes;
    for (const Mode& mode : kModes) modes.append(py::make_tuple(mode.pir_on, mode.report_interval_s));
    m.attr("MODES") = py::tuple(modes);
    register_params(m);
    register_node(m);
    register_trace(m);
    register_policies(m);
    register_simulation(m);
}

}  // namespace edgewise::bindings
