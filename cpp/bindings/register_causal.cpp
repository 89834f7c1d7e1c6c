// Python bindings of the simplex-weight solver (edgewise/simplex_weights.hpp)
// and of the weighted double differences built on it (edgewise/weighted_did.hpp).
//
// Shapes and the start's validity are checked here; for simplex_weights the
// schedule (first pass, sparsify, second pass) is the facade's
// (agent/analytics/causal/), for weighted_did and placebo_weighted_did it is
// passed in from there.  The GIL is released around every native call.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "edgewise/simplex_weights.hpp"
#include "edgewise/weighted_did.hpp"

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

using IndexArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

WeightedDid weighting(const std::string& method) {
    if (method == "sc") return WeightedDid::kSyntheticControl;
    if (method == "sc-intercept") return WeightedDid::kSyntheticIntercept;
    if (method == "sdid") return WeightedDid::kSyntheticDid;
    throw py::value_error("unknown weighted double difference " + method + "; use sc, sc-intercept or sdid");
}

WeightingSchedule schedule_of(std::int64_t first_pass, std::int64_t max_iter, double tiny_eta,
                              double min_decrease_per_sigma) {
    if (first_pass < 0 || max_iter < 0) throw py::value_error("first_pass and max_iter must not be negative");
    if (!std::isfinite(tiny_eta) || !std::isfinite(min_decrease_per_sigma)) {
        throw py::value_error("tiny_eta and min_decrease_per_sigma must be finite");
    }
    return {static_cast<std::size_t>(first_pass), static_cast<std::size_t>(max_iter), tiny_eta,
            min_decrease_per_sigma};
}

BlockPanel block_panel(const DoubleArray& y, std::int64_t n_control, std::int64_t n_pre) {
    if (y.ndim() != 2) throw py::value_error("y must be a units x periods matrix");
    if (n_control < 0 || n_pre < 0) throw py::value_error("n_control and n_pre must not be negative");
    const double* data = y.data();
    if (!std::all_of(data, data + y.size(), [](double v) { return std::isfinite(v); })) {
        throw py::value_error("y must be finite");
    }
    return {data, static_cast<std::size_t>(y.shape(0)), static_cast<std::size_t>(y.shape(1)),
            static_cast<std::size_t>(n_control), static_cast<std::size_t>(n_pre)};
}

py::array_t<double> to_array(const std::vector<double>& v) {
    py::array_t<double> out(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), out.mutable_data());
    return out;
}

py::tuple weighted_did_fit(const DoubleArray& y, std::int64_t n_control, std::int64_t n_pre,
                           const std::string& method, std::int64_t first_pass, std::int64_t max_iter,
                           double tiny_eta, double min_decrease_per_sigma, bool simd) {
    const BlockPanel panel = block_panel(y, n_control, n_pre);
    const WeightedDid kind = weighting(method);
    const WeightingSchedule schedule = schedule_of(first_pass, max_iter, tiny_eta, min_decrease_per_sigma);
    WeightedDidFit fit;
    {
        py::gil_scoped_release release;
        fit = weighted_did(panel, kind, schedule, simd);
    }
    return py::make_tuple(fit.estimate, to_array(fit.unit_weights), to_array(fit.time_weights));
}

py::array_t<double> placebo_estimates(const DoubleArray& controls, std::int64_t n_pre, std::int64_t placebo_treated,
                                      const IndexArray& orders, const std::string& method, std::int64_t first_pass,
                                      std::int64_t max_iter, double tiny_eta, double min_decrease_per_sigma,
                                      int threads, bool simd) {
    const BlockPanel panel = block_panel(controls, controls.ndim() == 2 ? controls.shape(0) : 0, n_pre);
    if (orders.ndim() != 2 || orders.shape(1) != controls.shape(0)) {
        throw py::value_error("orders must be reps x controls (one permutation of the control rows per replication)");
    }
    if (placebo_treated < 0) throw py::value_error("placebo_treated must not be negative");
    if (threads < 1) throw py::value_error("threads must be >= 1");
    const WeightedDid kind = weighting(method);
    const WeightingSchedule schedule = schedule_of(first_pass, max_iter, tiny_eta, min_decrease_per_sigma);
    std::vector<double> estimates;
    {
        py::gil_scoped_release release;
        estimates = placebo_weighted_did(panel, static_cast<std::size_t>(placebo_treated), orders.data(),
                                         static_cast<std::size_t>(orders.shape(0)), kind, schedule,
                                         static_cast<unsigned>(threads), simd);
    }
    return to_array(estimates);
}

}  // namespace

void register_causal(py::module_& m) {
    m.def("simplex_weights", &simplex_weights, py::arg("a"), py::arg("b"), py::arg("zeta"), py::arg("intercept"),
          py::arg("start") = py::none(), py::arg("min_decrease") = 1e-3, py::arg("max_iter") = 10000,
          py::arg("simd") = true,
          "Frank-Wolfe weights w >= 0, sum(w) = 1, minimising zeta^2 |w|^2 + |a w - b|^2 / n (the synthdid\n"
          "reference's steps and stopping rule): (weights, iterations, objective). simd=False forces the\n"
          "portable loop (the same bits). GIL released.");
    m.def("weighted_did", &weighted_did_fit, py::arg("y"), py::arg("n_control"), py::arg("n_pre"), py::arg("method"),
          py::arg("first_pass") = 100, py::arg("max_iter") = 10000, py::arg("tiny_eta") = 1e-6,
          py::arg("min_decrease_per_sigma") = 1e-5, py::arg("simd") = true,
          "SC ('sc'), SC with intercept ('sc-intercept') or SDID ('sdid') on y (units x periods, controls\n"
          "first, treated after period n_pre), as agent/analytics/causal/estimators.py fits them:\n"
          "(estimate, unit_weights, time_weights). GIL released.");
    m.def("placebo_weighted_did", &placebo_estimates, py::arg("controls"), py::arg("n_pre"),
          py::arg("placebo_treated"), py::arg("orders"), py::arg("method"), py::arg("first_pass") = 100,
          py::arg("max_iter") = 10000, py::arg("tiny_eta") = 1e-6, py::arg("min_decrease_per_sigma") = 1e-5,
          py::arg("threads") = 1, py::arg("simd") = true,
          "Placebo estimates of weighted_did's method: in replication r the control rows in the order\n"
          "orders[r], the last placebo_treated of them treated after n_pre. One estimate per row of orders,\n"
          "on up to `threads` threads (the result does not depend on it). GIL released.");
}

}  // namespace edgewise::bindings
