// Python bindings for edgewise::RollingStats and RollingStatsBank.
//
// Only argument checking and conversion live here: numpy arrays in and out,
// Python exceptions for bad input (ValueError for bad values, TypeError for
// arrays of the wrong kind), and the GIL released around batch loops.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "edgewise/rolling.hpp"

namespace py = pybind11;

namespace edgewise::bindings {

namespace {

using Int64Array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

// Hands a vector's buffer to numpy without copying it.
template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& values) {
    auto owned = std::make_unique<std::vector<T>>(std::move(values));
    py::capsule free_when_done(owned.get(), [](void* p) { delete static_cast<std::vector<T>*>(p); });
    std::vector<T>* raw = owned.release();
    return py::array_t<T>(static_cast<py::ssize_t>(raw->size()), raw->data(), free_when_done);
}

// A read-only numpy view of a vector owned by the Python object `owner`.
template <typename T>
py::array_t<T> view(const std::vector<T>& values, const py::object& owner) {
    py::array_t<T> out(static_cast<py::ssize_t>(values.size()), values.data(), owner);
    out.attr("setflags")(py::arg("write") = false);
    return out;
}

std::size_t to_size(std::int64_t n, const char* what) {
    if (n < 0) {
        throw py::value_error(std::string(what) + " must not be negative, got " + std::to_string(n));
    }
    return static_cast<std::size_t>(n);
}

// Turns `obj` (an array, list, tuple...) into a 1-D array whose dtype kind is
// one of `kinds` (numpy kind letters); an empty sequence of any kind is fine.
py::array as_checked_array(const py::object& obj, const char* name, const std::string& kinds, const char* expected) {
    py::array a = py::array::ensure(obj);
    if (!a) {
        throw py::type_error(std::string(name) + " must be array-like, got " +
                             std::string(py::str(py::type::of(obj).attr("__name__"))));
    }
    const char kind = a.dtype().kind();
    if (a.size() > 0 && kinds.find(kind) == std::string::npos) {
        throw py::type_error(std::string(name) + " must be an array of " + expected + ", got dtype " +
                             std::string(py::str(a.dtype())));
    }
    if (a.ndim() != 1) {
        throw py::value_error(std::string(name) + " must be a 1-D array, got " + std::to_string(a.ndim()) +
                              " dimensions");
    }
    return a;
}

// uint64 indices above INT64_MAX would wrap to negative numbers when cast to
// int64 and be reported with the wrong value, so they are refused here.
void check_fits_int64(const py::array& idx) {
    if (idx.size() == 0 || idx.dtype().kind() != 'u' || idx.dtype().itemsize() < 8) {
        return;
    }
    const auto largest = idx.attr("max")().cast<std::uint64_t>();
    if (largest > static_cast<std::uint64_t>(INT64_MAX)) {
        throw py::value_error("idx contains " + std::to_string(largest) + ", which is out of range");
    }
}

template <typename ArrayT>
ArrayT convert(const py::array& a, const char* name) {
    ArrayT out = ArrayT::ensure(a);
    if (!out) {
        throw py::type_error(std::string(name) + " cannot be converted to " + std::string(py::str(py::dtype::of<typename ArrayT::value_type>())));
    }
    return out;
}

std::size_t push_many(RollingStatsBank& bank, const py::object& idx_in, const py::object& t_in,
                      const py::object& x_in) {
    const py::array idx = as_checked_array(idx_in, "idx", "iu", "integers");
    const py::array t = as_checked_array(t_in, "t", "iuf", "real numbers");
    const py::array x = as_checked_array(x_in, "x", "iuf", "real numbers");
    if (idx.size() != t.size() || idx.size() != x.size()) {
        throw py::value_error("idx, t and x must have the same length, got " + std::to_string(idx.size()) + ", " +
                              std::to_string(t.size()) + " and " + std::to_string(x.size()));
    }
    check_fits_int64(idx);
    const Int64Array idx64 = convert<Int64Array>(idx, "idx");
    const DoubleArray t64 = convert<DoubleArray>(t, "t");
    const DoubleArray x64 = convert<DoubleArray>(x, "x");
    const std::int64_t* ip = idx64.data();
    const double* tp = t64.data();
    const double* xp = x64.data();
    const auto n = static_cast<std::size_t>(idx64.size());
    py::gil_scoped_release release;
    return bank.push_many(ip, tp, xp, n);
}

py::array_t<bool> stale(const RollingStatsBank& bank, double now, double max_age) {
    std::vector<bool> flags;
    {
        py::gil_scoped_release release;
        flags = bank.stale(now, max_age);
    }
    py::array_t<bool> out(static_cast<py::ssize_t>(flags.size()));
    auto w = out.mutable_unchecked<1>();
    for (std::size_t i = 0; i < flags.size(); ++i) w(static_cast<py::ssize_t>(i)) = flags[i];
    return out;
}

std::string repr(const RollingStats& s) {
    return "RollingStats(capacity=" + std::to_string(s.capacity()) + ", count=" + std::to_string(s.count()) +
           ", rejected=" + std::to_string(s.rejected()) + ")";
}

void register_stats(py::module_& m) {
    py::class_<RollingStats>(m, "RollingStats",
                             "Count, mean, variance, min, max and last value of the most recent `capacity`\n"
                             "finite samples of one point. Non-finite samples are rejected and counted.")
        .def(py::init([](std::int64_t capacity) { return RollingStats(to_size(capacity, "capacity")); }),
             py::arg("capacity"))
        .def("push", &RollingStats::push, py::arg("t"), py::arg("x"),
             "Add sample (t, x); False (and counted as rejected) if either is not finite.")
        .def("clear", &RollingStats::clear, "Forget every sample and the rejected count.")
        .def_property_readonly("capacity", &RollingStats::capacity)
        .def_property_readonly("count", &RollingStats::count, "Samples in the window.")
        .def_property_readonly("rejected", &RollingStats::rejected, "Non-finite samples refused so far.")
        .def_property_readonly("mean", &RollingStats::mean)
        .def_property_readonly("variance", &RollingStats::variance, "Sample variance (ddof=1).")
        .def_property_readonly("pvariance", &RollingStats::pvariance, "Population variance (ddof=0).")
        .def_property_readonly("std", &RollingStats::std, "Sample standard deviation (ddof=1).")
        .def_property_readonly("pstd", &RollingStats::pstd, "Population standard deviation (ddof=0).")
        .def_property_readonly("min", &RollingStats::min)
        .def_property_readonly("max", &RollingStats::max)
        .def_property_readonly("last", &RollingStats::last, "Value of the newest sample.")
        .def_property_readonly("last_time", &RollingStats::last_time, "Time of the newest sample.")
        .def("values", [](const RollingStats& s) { return to_numpy(s.values()); }, "Values, oldest first.")
        .def("times", [](const RollingStats& s) { return to_numpy(s.times()); }, "Times, oldest first.")
        .def("__len__", &RollingStats::count)
        .def("__repr__", &repr);
}

void register_snapshot(py::module_& m) {
    py::class_<BankSnapshot>(m, "BankSnapshot",
                             "Statistics of every point of a RollingStatsBank as read-only numpy columns.")
        .def_property_readonly("count", [](py::object self) { return view(self.cast<const BankSnapshot&>().count, self); })
        .def_property_readonly("mean", [](py::object self) { return view(self.cast<const BankSnapshot&>().mean, self); })
        .def_property_readonly("std", [](py::object self) { return view(self.cast<const BankSnapshot&>().std, self); })
        .def_property_readonly("min", [](py::object self) { return view(self.cast<const BankSnapshot&>().min, self); })
        .def_property_readonly("max", [](py::object self) { return view(self.cast<const BankSnapshot&>().max, self); })
        .def_property_readonly("last", [](py::object self) { return view(self.cast<const BankSnapshot&>().last, self); })
        .def_property_readonly("last_time",
                               [](py::object self) { return view(self.cast<const BankSnapshot&>().last_time, self); })
        .def("__len__", [](const BankSnapshot& s) { return s.count.size(); });
}

void register_bank(py::module_& m) {
    py::class_<RollingStatsBank>(m, "RollingStatsBank",
                                 "RollingStats for points 0..len-1, fed and read in batches.")
        .def(py::init([](std::int64_t points, std::int64_t capacity) {
                 return std::make_unique<RollingStatsBank>(to_size(points, "points"), to_size(capacity, "capacity"));
             }),
             py::arg("points"), py::arg("capacity"))
        .def_property_readonly("capacity", &RollingStatsBank::capacity)
        .def("__len__", &RollingStatsBank::size)
        .def("push", &RollingStatsBank::push, py::arg("idx"), py::arg("t"), py::arg("x"),
             "Add sample (t, x) to point idx; False if either is not finite.")
        .def("push_many", &push_many, py::arg("idx"), py::arg("t"), py::arg("x"),
             "Add (t[k], x[k]) to point idx[k] for every k, in order; returns how many were finite.\n"
             "A bad batch (lengths differ, an index out of range) raises ValueError and adds nothing.")
        .def("point", &RollingStatsBank::point, py::arg("idx"), "A copy of point idx's window.")
        .def("snapshot", &RollingStatsBank::snapshot, py::call_guard<py::gil_scoped_release>(),
             "count, mean, std, min, max, last and last_time of every point.")
        .def("stale", &stale, py::arg("now"), py::arg("max_age"),
             "Boolean array: point has no sample, or now - last_time > max_age.");
}

}  // namespace

void register_rolling(py::module_& m) {
    m.attr("MAX_CAPACITY") = kMaxCapacity;
    register_stats(m);
    register_snapshot(m);
    register_bank(m);
}

}  // namespace edgewise::bindings
