// Python bindings of the fault-detection kernels (edgewise/fault_kernels.hpp).
//
// Arrays in, arrays out; shapes are checked here, everything else is the
// facade's job (agent/apps/faults/).  The GIL is released around the kernels.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

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

py::tuple fit_residuals(const DoubleArray& x, const DoubleArray& y, std::int64_t train, int threads) {
    need_ndim(x, 3, "x");
    need_ndim(y, 2, "y");
    if (x.shape(0) != y.shape(0) || x.shape(1) != y.shape(1)) {
        throw py::value_error("x must be (batch, n, p) and y (batch, n) with the same batch and n");
    }
    if (train < 0) throw py::value_error("train must not be negative");
    if (threads < 1) throw py::value_error("threads must be >= 1");
    const auto batch = x.shape(0), n = x.shape(1), p = x.shape(2);
    py::array_t<double> coef({batch, p});
    py::array_t<double> rms(batch);
    py::array_t<std::int64_t> used(batch);
    py::array_t<double> out({batch, n});
    const ConstMatrix m{x.data(), static_cast<std::size_t>(batch * n), static_cast<std::size_t>(p)};
    double* c = coef.mutable_data();
    double* r = rms.mutable_data();
    std::int64_t* u = used.mutable_data();
    double* o = out.mutable_data();
    const double* yp = y.data();
    {
        py::gil_scoped_release release;
        fit_and_residuals_batch(m, yp, static_cast<std::size_t>(batch), static_cast<std::size_t>(train), c, r, u, o,
                                threads);
    }
    return py::make_tuple(coef, rms, used, out);
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

}  // namespace

void register_faults(py::module_& m) {
    m.def("fault_fit_residuals", &fit_residuals, py::arg("x"), py::arg("y"), py::arg("train"), py::arg("threads") = 1,
          "Least squares of y[b] on x[b] over the first `train` finite rows of each problem b, and the\n"
          "residuals of every row: (coef, rms, used, residuals). NaN coefficients when a fit is impossible.");
    m.def("kmeans_fit", &kmeans, py::arg("x"), py::arg("k"), py::arg("max_iter") = 50, py::arg("seed") = 0,
          py::arg("threads") = 1, "Centroids (k, d) of Lloyd's k-means on the finite rows of x, k-means++ seeded.");
    m.def("kmeans_nearest", &nearest, py::arg("x"), py::arg("centroids"), py::arg("threads") = 1,
          "(label, distance) of each row's nearest centroid; -1 and NaN for rows with a non-finite value.");
}

}  // namespace edgewise::bindings
