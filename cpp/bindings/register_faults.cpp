// Python bindings of the fault-detection kernels (edgewise/fault_kernels.hpp).
//
// Arrays in, arrays out; shapes are checked here, everything else is the
// facade's job (agent/apps/faults/).  The GIL is released around the kernels.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>

#include "edgewise/fault_kernels.hpp"

namespace py = pybind11;

namespace edgewise::bindings {

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

void need_ndim(const DoubleArray& a, py::ssize_t ndim, const char* name) {
    if (a.ndim() != ndim) {
        throw py::value_error(std::string(name) + " must have " + std::to_string(ndim) + " dimensions, got " +
                              std::to_string(a.ndim()));
    }
}

ConstMatrix matrix2d(const DoubleArray& a) {
    return ConstMatrix{a.data(), static_cast<std::size_t>(a.shape(0)), static_cast<std::size_t>(a.shape(1))};
}

py::tuple gram_fit(const DoubleArray& gram, const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>& used) {
    need_ndim(gram, 3, "gram");
    const auto batch = gram.shape(0), w = gram.shape(1);
    if (w < 2 || gram.shape(2) != w) throw py::value_error("gram must be (batch, p + 1, p + 1) with p >= 1");
    if (used.ndim() != 1 || used.shape(0) != batch) throw py::value_error("used must be (batch,)");
    const auto p = static_cast<std::size_t>(w - 1);
    py::array_t<double> coef({batch, static_cast<py::ssize_t>(p)});
    py::array_t<double> rms(batch);
    const double* g = gram.data();
    const std::int64_t* u = used.data();
    double* c = coef.mutable_data();
    double* r = rms.mutable_data();
    {
        py::gil_scoped_release release;
        for (py::ssize_t b = 0; b < batch; ++b) {
            const LeastSquaresFit fit = fit_from_gram(g + b * w * w, p, static_cast<std::size_t>(std::max<std::int64_t>(0, u[b])));
            std::copy(fit.coef.begin(), fit.coef.end(), c + b * static_cast<py::ssize_t>(p));
            r[b] = fit.rms;
        }
    }
    return py::make_tuple(coef, rms);
}

py::array_t<double> day_residuals(const DoubleArray& gram, const DoubleArray& coef, std::int64_t constant,
                                  double value, int threads) {
    need_ndim(gram, 4, "gram");
    need_ndim(coef, 2, "coef");
    const auto batch = gram.shape(0), days = gram.shape(1), w = gram.shape(2);
    if (w < 2 || gram.shape(3) != w) throw py::value_error("gram must be (batch, days, p + 1, p + 1)");
    if (coef.shape(0) != batch || coef.shape(1) != w - 1) throw py::value_error("coef must be (batch, p)");
    if (constant < 0 || constant >= w - 1) throw py::value_error("constant must index a column of x");
    if (!(value != 0.0) || threads < 1) throw py::value_error("value must be non-zero and threads >= 1");
    py::array_t<double> out({batch, days});
    const double* g = gram.data();
    const double* c = coef.data();
    double* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        day_mean_residuals(g, static_cast<std::size_t>(batch), static_cast<std::size_t>(days),
                           static_cast<std::size_t>(w - 1), c, static_cast<std::size_t>(constant), value, o, threads);
    }
    return out;
}

py::array_t<double> kmeans(const DoubleArray& x, std::int64_t k, std::int64_t max_iter, std::uint64_t seed,
                           int threads) {
    need_ndim(x, 2, "x");
    if (k < 1) throw py::value_error("k must be >= 1");
    if (max_iter < 0) throw py::value_error("max_iter must not be negative");
    if (threads < 1) throw py::value_error("threads must be >= 1");
    KMeansModel model;
    {
        py::gil_scoped_release release;
        model = kmeans_fit(matrix2d(x), static_cast<std::size_t>(k), static_cast<std::size_t>(max_iter), seed,
                           threads);
    }
    py::array_t<double> out({static_cast<py::ssize_t>(model.k), static_cast<py::ssize_t>(model.cols)});
    std::copy(model.centroids.begin(), model.centroids.end(), out.mutable_data());
    return out;
}

py::tuple nearest(const DoubleArray& x, const DoubleArray& centroids, int threads) {
    need_ndim(x, 2, "x");
    need_ndim(centroids, 2, "centroids");
    if (centroids.shape(0) < 1) throw py::value_error("centroids must have at least one row");
    if (x.shape(1) != centroids.shape(1)) {
        throw py::value_error("x and centroids must have the same number of columns");
    }
    if (threads < 1) throw py::value_error("threads must be >= 1");
    KMeansModel model;
    model.k = static_cast<std::size_t>(centroids.shape(0));
    model.cols = static_cast<std::size_t>(centroids.shape(1));
    model.centroids.assign(centroids.data(), centroids.data() + centroids.size());
    py::array_t<std::int64_t> label(x.shape(0));
    py::array_t<double> distance(x.shape(0));
    std::int64_t* lp = label.mutable_data();
    double* dp = distance.mutable_data();
    {
        py::gil_scoped_release release;
        nearest_centroid(matrix2d(x), model, lp, dp, threads);
    }
    return py::make_tuple(label, distance);
}

py::array_t<double> trailing_median(const DoubleArray& x, std::int64_t window, int threads) {
    need_ndim(x, 2, "x");
    if (window < 1) throw py::value_error("window must be >= 1");
    if (threads < 1) throw py::value_error("threads must be >= 1");
    py::array_t<double> out({x.shape(0), x.shape(1)});
    double* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        trailing_abs_median(matrix2d(x), static_cast<std::size_t>(window), o, threads);
    }
    return out;
}

}  // namespace

void register_faults(py::module_& m) {
    m.def("fault_gram_fit", &gram_fit, py::arg("gram"), py::arg("used"),
          "Least squares of each problem b from the Gram matrix of [x | y] over used[b] rows: (coef, rms).\n"
          "NaN coefficients when a fit is impossible (fewer rows than columns, no data).");
    m.def("fault_day_residuals", &day_residuals, py::arg("gram"), py::arg("coef"), py::arg("constant"),
          py::arg("value"), py::arg("threads") = 1,
          "(batch, days) mean residual of each day from its Gram matrix; column `constant` of x is `value`.");
    m.def("trailing_abs_median", &trailing_median, py::arg("x"), py::arg("window"), py::arg("threads") = 1,
          "|median| of each row's finite values over the trailing window of days; NaN with at most window // 2.");
    m.def("kmeans_fit", &kmeans, py::arg("x"), py::arg("k"), py::arg("max_iter") = 50, py::arg("seed") = 0,
          py::arg("threads") = 1, "Centroids (k, d) of Lloyd's k-means on the finite rows of x, k-means++ seeded.");
    m.def("kmeans_nearest", &nearest, py::arg("x"), py::arg("centroids"), py::arg("threads") = 1,
          "(label, distance) of each row's nearest centroid; -1 and NaN for rows with a non-finite value.");
}

}  // namespace edgewise::bindings
