// Python bindings of the simplex-weight solver (edgewise/simplex_weights.hpp).
//
// Shapes and the start's validity are checked here; the schedule (first pass,
// sparsify, second pass) is the facade's (agent/analytics/causal/).  The GIL is
// released around the solver, so placebo replications can run in threads.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "edgewise/simplex_weights.hpp"

namespace py = pybind11;

namespace edgewise::bindings {

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

void check_start(const DoubleArray& start, py::ssize_t k) {
    if (start.ndim() != 1 || start.shape(0) != k) {
        throw py::value_error("start must have one weight per column of a (" + std::to_string(k) + ")");
    }
    const double* s = start.data();
    double total = 0.0;
    for (py::ssize_t j = 0; j < k; ++j) {
        if (!(s[j] >= 0.0)) throw py::value_error("start must be non-negative");
        total += s[j];
    }
    // The solver's O(cols) step relies on sum(w) = 1; a start off the simplex is a caller's bug.
    if (std::abs(total - 1.0) > 1e-9) throw py::value_error("start must sum to one, got " + std::to_string(total));
}

py::tuple simplex_weights(const DoubleArray& a, const DoubleArray& b, double zeta, bool intercept,
                          const std::optional<DoubleArray>& start, double min_decrease, std::int64_t max_iter,
                          bool simd) {
    if (a.ndim() != 2 || b.ndim() != 1 || a.shape(0) != b.shape(0) || a.shape(0) == 0 || a.shape(1) == 0) {
        throw py::value_error("a must be a non-empty n x k matrix and b of length n");
    }
    if (max_iter < 0) throw py::value_error("max_iter must not be negative");
    if (!std::isfinite(zeta) || !std::isfinite(min_decrease)) {
        throw py::value_error("zeta and min_decrease must be finite");
    }
    if (start) check_start(*start, a.shape(1));
    SimplexLeastSquares problem;
    problem.a = a.data();
    problem.b = b.data();
    problem.rows = static_cast<std::size_t>(a.shape(0));
    problem.cols = static_cast<std::size_t>(a.shape(1));
    problem.zeta = zeta;
    problem.intercept = intercept;
    const double* s = start ? start->data() : nullptr;
    FrankWolfeSchedule schedule{min_decrease, static_cast<std::size_t>(max_iter)};
    SimplexWeights result;
    {
        py::gil_scoped_release release;
        result = frank_wolfe_simplex(problem, s, schedule, simd);
    }
    py::array_t<double> w(static_cast<py::ssize_t>(result.weights.size()));
    std::copy(result.weights.begin(), result.weights.end(), w.mutable_data());
    return py::make_tuple(w, result.iterations, result.objective);
}

}  // namespace

void register_causal(py::module_& m) {
    m.def("simplex_weights", &simplex_weights, py::arg("a"), py::arg("b"), py::arg("zeta"), py::arg("intercept"),
          py::arg("start") = py::none(), py::arg("min_decrease") = 1e-3, py::arg("max_iter") = 10000,
          py::arg("simd") = true,
          "Frank-Wolfe weights w >= 0, sum(w) = 1, minimising zeta^2 |w|^2 + |a w - b|^2 / n (the synthdid\n"
          "reference's steps and stopping rule): (weights, iterations, objective). simd=False forces the\n"
          "portable loop (the same bits). GIL released.");
}

}  // namespace edgewise::bindings
