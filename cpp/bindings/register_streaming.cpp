// Python binding for edgewise::StreamingFeatures: push samples one at a time
// or as an array (GIL released), read the window's features as a dict.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "edgewise/streaming_features.hpp"

namespace py = pybind11;

namespace edgewise::bindings {

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

// In the order of agent.features.FEATURES.
constexpr const char* kStreamingNames[] = {
    "count", "mean", "std", "min", "max", "range", "rms", "skewness", "kurtosis",
    "mean_abs_change", "slope", "lag1_autocorr", "time_above_threshold",
};

py::dict values(const StreamingFeatures& s) {
    const double v[] = {
        static_cast<double>(s.count()), s.mean(), s.std(), s.min(), s.max(), s.range(), s.rms(), s.skewness(),
        s.kurtosis(), s.mean_abs_change(), s.slope(), s.lag1_autocorr(), s.time_above_threshold(),
    };
    py::dict out;
    for (std::size_t i = 0; i < std::size(kStreamingNames); ++i) out[kStreamingNames[i]] = v[i];
    return out;
}

void push_many(StreamingFeatures& s, const DoubleArray& xs) {
    if (xs.ndim() != 1) throw py::value_error("samples must be a 1-D array");
    const double* data = xs.data();
    const auto n = static_cast<std::size_t>(xs.size());
    py::gil_scoped_release release;
    for (std::size_t i = 0; i < n; ++i) s.push(data[i]);
}

py::array_t<double> samples(const StreamingFeatures& s) {
    const std::vector<double> v = s.samples();
    py::array_t<double> out(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), out.mutable_data());
    return out;
}

}  // namespace

void register_streaming(py::module_& m) {
    py::tuple names(std::size(kStreamingNames));
    for (std::size_t i = 0; i < std::size(kStreamingNames); ++i) names[i] = kStreamingNames[i];
    m.attr("STREAMING_FEATURES") = names;
    py::class_<StreamingFeatures>(m, "StreamingFeatures",
                                  "Features of the last `window` samples of one stream, updated in O(1) per sample.")
        .def(py::init([](std::int64_t window, double fs, double threshold) {
                 if (window < 1) throw py::value_error("window must be at least 1 sample, got " + std::to_string(window));
                 return StreamingFeatures(static_cast<std::size_t>(window), fs, threshold);
             }),
             py::arg("window"), py::arg("fs") = 1.0, py::arg("threshold") = 0.0)
        .def("push", &StreamingFeatures::push, py::arg("x"))
        .def("push_many", &push_many, py::arg("samples"))
        .def("clear", &StreamingFeatures::clear)
        .def("values", &values, "The window's features by name (see agent.features.STREAMING_FEATURES).")
        .def("samples", &samples, "The window's samples, oldest first, gaps included.")
        .def_property_readonly("window", &StreamingFeatures::window)
        .def_property_readonly("size", &StreamingFeatures::size)
        .def_property_readonly("count", &StreamingFeatures::count)
        .def_property_readonly("pushed", &StreamingFeatures::pushed)
        .def("__len__", &StreamingFeatures::size);
}

}  // namespace edgewise::bindings
