// The agent._core extension module: it only creates the module and hands it
// to one registrar per native component, so each binding file stays small and
// the module has a single, flat namespace (agent._core.RollingStats, ...).
#include <pybind11/pybind11.h>

namespace edgewise::bindings {
void register_rolling(pybind11::module_& m);
void register_features(pybind11::module_& m);
void register_streaming(pybind11::module_& m);
void register_faults(pybind11::module_& m);
void register_room_day_stats(pybind11::module_& m);
void register_energy(pybind11::module_& m);
void register_causal(pybind11::module_& m);
}

PYBIND11_MODULE(_core, m) {
    m.doc() = "Native core of the edgewise agent: per-point rolling statistics, window features.";
    edgewise::bindings::register_rolling(m);
    edgewise::bindings::register_features(m);
    edgewise::bindings::register_streaming(m);
    edgewise::bindings::register_faults(m);
    edgewise::bindings::register_room_day_stats(m);
    edgewise::bindings::register_energy(m);
    edgewise::bindings::register_causal(m);
}
