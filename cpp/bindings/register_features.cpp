// Python binding for edgewise::extract_features.
//
// The array is read in place through its strides; the Python facade
// (agent/features.py) has already checked names, dtype and shape and turned
// them into feature codes.  The GIL is released while the windows are read.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "edgewise/features.hpp"

namespace py = pybind11;

namespace edgewise::bindings {

namespace {

template <typename T>
WindowMatrix<T> matrix_of(const py::array& x) {
    const auto item = static_cast<py::ssize_t>(sizeof(T));
    if (x.strides(0) % item != 0 || x.strides(1) % item != 0 ||
        reinterpret_cast<std::uintptr_t>(x.data()) % alignof(T) != 0) {
        throw std::invalid_argument("array is not aligned to its items; pass a copy");
    }
    WindowMatrix<T> m;
    m.data = static_cast<const T*>(x.data());
    m.windows = static_cast<std::size_t>(x.shape(0));
    m.length = static_cast<std::size_t>(x.shape(1));
    m.row_stride = x.strides(0) / item;
    m.col_stride = x.strides(1) / item;
    return m;
}

FeatureRequest request_of(const std::vector<int>& codes, double fs, const std::vector<std::pair<double, double>>& bands,
                          double threshold, bool simd) {
    FeatureRequest r;
    for (int c : codes) {
        if (c < 0 || c >= kFeatureKinds) throw std::invalid_argument("unknown feature code " + std::to_string(c));
        r.features.push_back(static_cast<Feature>(c));
    }
    r.fs = fs;
    for (const auto& [low, high] : bands) r.bands.push_back(Band{low, high});
    r.threshold = threshold;
    r.simd = simd;
    return r;
}

template <typename T>
void run(const py::array& x, const FeatureRequest& request, double* out, int threads) {
    const WindowMatrix<T> m = matrix_of<T>(x);
    py::gil_scoped_release release;
    extract_features(m, request, out, threads);
}

py::array_t<double> extract(const py::array& x, const std::vector<int>& codes, double fs,
                            const std::vector<std::pair<double, double>>& bands, double threshold, int threads,
                            bool simd) {
    if (x.ndim() != 2) throw py::value_error("x must be 2-D (windows × samples)");
    const FeatureRequest request = request_of(codes, fs, bands, threshold, simd);
    validate(request);
    const auto windows = static_cast<py::ssize_t>(x.shape(0));
    py::array_t<double> out({static_cast<py::ssize_t>(column_count(request)), windows});
    double* data = out.mutable_data();
    // equal(), not is(): an unpickled or metadata-carrying float64 dtype is a
    // different object that means the same thing.
    if (x.dtype().equal(py::dtype::of<double>())) {
        run<double>(x, request, data, threads);
    } else if (x.dtype().equal(py::dtype::of<float>())) {
        run<float>(x, request, data, threads);
    } else {
        throw py::type_error("x must be float64 or float32, got " + std::string(py::str(x.dtype())));
    }
    return out;
}

}  // namespace

void register_features(py::module_& m) {
    py::list names;
    for (int c = 0; c < kFeatureKinds; ++c) names.append(feature_name(static_cast<Feature>(c)));
    m.attr("FEATURE_KINDS") = py::tuple(names);
    m.def("extract_features", &extract, py::arg("x"), py::arg("codes"), py::arg("fs"), py::arg("bands"),
          py::arg("threshold"), py::arg("threads"), py::arg("simd") = true,
          "Features of each row of x, one output row per requested column (see agent.features.extract).");
}

}  // namespace edgewise::bindings
