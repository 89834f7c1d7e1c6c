// Batched least squares and k-means for fault detection (see fault_kernels.hpp).
#include "edgewise/fault_kernels.hpp"

#include "edgewise/parallel.hpp"
#include "lanes.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <stdexcept>

namespace edgewise {

namespace {

// Rows per thread below which starting threads costs more than it saves
// (k-means starts them once per iteration; measured: 7,000 rows of 72 take
// 15 ms on one thread and 23 ms on two).
constexpr std::size_t kRowsPerThread = 16384;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool finite_row(const double* r, std::size_t cols) noexcept {
    for (std::size_t j = 0; j < cols; ++j) {
        if (!std::isfinite(r[j])) return false;
    }
    return true;
}

// Solves the symmetric positive definite system a·x = b in place (a is p x p,
// destroyed); false if a is not numerically positive definite.
bool cholesky_solve(std::vector<double>& a, std::vector<double>& b, std::size_t p) {
    for (std::size_t j = 0; j < p; ++j) {
        double d = a[j * p + j];
        for (std::size_t k = 0; k < j; ++k) d -= a[j * p + k] * a[j * p + k];
        if (!(d > 0.0)) return false;
        d = std::sqrt(d);
        a[j * p + j] = d;
        for (std::size_t i = j + 1; i < p; ++i) {
            double s = a[i * p + j];
            for (std::size_t k = 0; k < j; ++k) s -= a[i * p + k] * a[j * p + k];
            a[i * p + j] = s / d;
        }
    }
    for (std::size_t i = 0; i < p; ++i) {
        double s = b[i];
        for (std::size_t k = 0; k < i; ++k) s -= a[i * p + k] * b[k];
        b[i] = s / a[i * p + i];
    }
    for (std::size_t i = p; i-- > 0;) {
        double s = b[i];
        for (std::size_t k = i + 1; k < p; ++k) s -= a[k * p + i] * b[k];
        b[i] = s / a[i * p + i];
    }
    return true;
}

// Two-lane vectors (SSE2 on x86-64, NEON on aarch64) and two accumulators:
// the compiler may not reorder a floating-point sum itself, so one scalar
// accumulator would serialise on its latency.
double squared_distance(const double* a, const double* b, std::size_t cols) noexcept {
    using lanes::V2;
    V2 s0 = lanes::splat<V2>(0.0), s1 = s0;
    std::size_t j = 0;
    for (; j + 4 <= cols; j += 4) {
        const V2 d0 = lanes::load<V2>(a + j) - lanes::load<V2>(b + j);
        const V2 d1 = lanes::load<V2>(a + j + 2) - lanes::load<V2>(b + j + 2);
        s0 += d0 * d0;
        s1 += d1 * d1;
    }
    double s = lanes::sum(s0 + s1);
    for (; j < cols; ++j) {
        const double d = a[j] - b[j];
        s += d * d;
    }
    return s;
}

std::size_t nearest(const double* r, const KMeansModel& m, double& best) noexcept {
    std::size_t arg = 0;
    best = std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < m.k; ++c) {
        const double d = squared_distance(r, m.centroids.data() + c * m.cols, m.cols);
        if (d < best) {
            best = d;
            arg = c;
        }
    }
    return arg;
}

}  // namespace

LeastSquaresFit fit_from_gram(const double* gram, std::size_t p, std::size_t used) {
    const std::size_t w = p + 1;
    LeastSquaresFit fit;
    fit.coef.assign(p, kNaN);
    fit.rms = kNaN;
    fit.used = used;
    if (used < p || p == 0 || !std::isfinite(gram[w * w - 1])) return fit;
    // Columns scaled to unit length first, so the system sees comparable columns.
    std::vector<double> scale(p);
    for (std::size_t j = 0; j < p; ++j) {
        const double d = gram[j * w + j];
        scale[j] = d > 0.0 ? 1.0 / std::sqrt(d) : 1.0;
    }
    std::vector<double> a(p * p), b(p);
    double diag = 0.0;
    for (std::size_t j = 0; j < p; ++j) {
        b[j] = gram[j * w + p] * scale[j];
        for (std::size_t k = 0; k < p; ++k) a[j * p + k] = gram[j * w + k] * scale[j] * scale[k];
        diag = std::max(diag, a[j * p + j]);
    }
    // A whisper of ridge (relative to the largest diagonal) keeps exactly
    // collinear columns (a room without daylight, a signal that never
    // changed) solvable; it moves well-posed fits by ~1e-10 relative.
    for (std::size_t j = 0; j < p; ++j) a[j * p + j] += 1e-10 * diag;
    if (!cholesky_solve(a, b, p)) return fit;
    for (std::size_t j = 0; j < p; ++j) fit.coef[j] = b[j] * scale[j];
    // Σ(y - x·c)² = yᵀy - 2 cᵀxᵀy + cᵀ xᵀx c
    double ss = gram[p * w + p];
    for (std::size_t j = 0; j < p; ++j) {
        double gc = 0.0;
        for (std::size_t k = 0; k < p; ++k) gc += gram[j * w + k] * fit.coef[k];
        ss += fit.coef[j] * (gc - 2.0 * gram[j * w + p]);
    }
    fit.rms = std::sqrt(std::max(0.0, ss) / static_cast<double>(used));
    return fit;
}

void day_mean_residuals(const double* gram, std::size_t batch, std::size_t days, std::size_t p, const double* coef,
                        std::size_t constant, double value, double* out, int threads) {
    if (constant >= p) throw std::invalid_argument("the constant column must be one of x's");
    const std::size_t w = p + 1;
    parallel_for(batch, threads, [&](std::size_t begin, std::size_t end) {
        for (std::size_t b = begin; b < end; ++b) {
            const double* c = coef + b * p;
            for (std::size_t d = 0; d < days; ++d) {
                const double* row = gram + ((b * days + d) * w + constant) * w;  // value * (Σx, Σy)
                const double rows = row[constant] / (value * value);
                double e = row[p];
                for (std::size_t j = 0; j < p; ++j) e -= row[j] * c[j];
                out[b * days + d] = rows > 0.0 ? e / value / rows : kNaN;
            }
        }
    }, 64);
}

KMeansModel kmeans_fit(ConstMatrix x, std::size_t k, std::size_t max_iter, std::uint64_t seed, int threads) {
    if (k == 0) throw std::invalid_argument("k must be >= 1");
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < x.rows; ++i) {
        if (finite_row(x.row(i), x.cols)) rows.push_back(i);
    }
    if (rows.size() < k) {
        throw std::invalid_argument("k-means needs at least k finite rows, got " + std::to_string(rows.size()));
    }
    const std::size_t d = x.cols;
    KMeansModel m;
    m.k = k;
    m.cols = d;
    m.centroids.assign(k * d, 0.0);
    std::mt19937_64 rng(seed);
    // k-means++: each next centre drawn with probability proportional to D².
    std::vector<double> d2(rows.size(), std::numeric_limits<double>::infinity());
    std::size_t first = static_cast<std::size_t>(rng() % rows.size());
    std::copy(x.row(rows[first]), x.row(rows[first]) + d, m.centroids.begin());
    for (std::size_t c = 1; c < k; ++c) {
        const double* prev = m.centroids.data() + (c - 1) * d;
        double total = 0.0;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            d2[i] = std::min(d2[i], squared_distance(x.row(rows[i]), prev, d));
            total += d2[i];
        }
        std::size_t pick = rows.size() - 1;
        if (total > 0.0) {
            double u = std::uniform_real_distribution<double>(0.0, total)(rng);
            for (std::size_t i = 0; i < rows.size(); ++i) {
                u -= d2[i];
                if (u <= 0.0) {
                    pick = i;
                    break;
                }
            }
        } else {
            pick = static_cast<std::size_t>(rng() % rows.size());
        }
        std::copy(x.row(rows[pick]), x.row(rows[pick]) + d, m.centroids.begin() + static_cast<std::ptrdiff_t>(c * d));
    }
    std::vector<std::size_t> label(rows.size(), k);
    for (m.iterations = 0; m.iterations < max_iter; ++m.iterations) {
        std::atomic<std::size_t> changed{0};
        parallel_for(rows.size(), threads, [&](std::size_t begin, std::size_t end) {
            std::size_t local = 0;
            for (std::size_t i = begin; i < end; ++i) {
                double best;
                const std::size_t c = nearest(x.row(rows[i]), m, best);
                if (c != label[i]) {
                    label[i] = c;
                    ++local;
                }
            }
            changed += local;
        }, kRowsPerThread);
        if (changed.load() == 0) break;
        std::vector<double> sum(k * d, 0.0);
        std::vector<std::size_t> count(k, 0);
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const double* r = x.row(rows[i]);
            double* s = sum.data() + label[i] * d;
            for (std::size_t j = 0; j < d; ++j) s[j] += r[j];
            ++count[label[i]];
        }
        for (std::size_t c = 0; c < k; ++c) {
            if (count[c] == 0) continue;  // an empty cluster keeps its centre
            for (std::size_t j = 0; j < d; ++j) m.centroids[c * d + j] = sum[c * d + j] / static_cast<double>(count[c]);
        }
    }
    return m;
}

void nearest_centroid(ConstMatrix x, const KMeansModel& model, std::int64_t* label, double* distance, int threads) {
    if (x.cols != model.cols) throw std::invalid_argument("rows and centroids have different widths");
    parallel_for(x.rows, threads, [&](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) {
            const double* r = x.row(i);
            double best;
            const std::size_t c = nearest(r, model, best);
            // A sum of squares is finite only if every term is, so the row's own
            // check is needed only when the distance is not (NaN, inf or overflow).
            if (!std::isfinite(best) && !finite_row(r, x.cols)) {
                label[i] = -1;
                distance[i] = kNaN;
                continue;
            }
            label[i] = static_cast<std::int64_t>(c);
            distance[i] = std::sqrt(best);
        }
    }, kRowsPerThread);
}

namespace {

void compare_exchange(double& a, double& b) noexcept {
    const double lo = std::min(a, b);
    b = std::max(a, b);
    a = lo;
}

// Median of five finite values by a sorting network: no branches to mispredict.
double median_of_five(double a, double b, double c, double d, double e) noexcept {
    compare_exchange(a, b);
    compare_exchange(d, e);
    compare_exchange(a, c);
    compare_exchange(b, c);
    compare_exchange(a, d);
    compare_exchange(c, d);
    compare_exchange(b, e);
    compare_exchange(b, c);
    compare_exchange(d, e);
    return c;
}

// |median| of the finite values of r[first..last], NaN with at most `window / 2` of them.
double abs_median_of(const double* r, std::size_t first, std::size_t last, std::size_t window,
                     std::vector<double>& known) noexcept {
    if (window == 5 && last - first == 4 && std::isfinite(r[first]) && std::isfinite(r[first + 1]) &&
        std::isfinite(r[first + 2]) && std::isfinite(r[first + 3]) && std::isfinite(r[last])) {
        return std::fabs(median_of_five(r[first], r[first + 1], r[first + 2], r[first + 3], r[last]));
    }
    std::size_t n = 0;
    for (std::size_t j = first; j <= last; ++j) {
        const double v = r[j];
        if (!std::isfinite(v)) continue;
        std::size_t at = n++;  // insertion sort: a window holds a handful of days
        for (; at > 0 && known[at - 1] > v; --at) known[at] = known[at - 1];
        known[at] = v;
    }
    if (n <= window / 2) return kNaN;
    return std::fabs(n % 2 ? known[n / 2] : (known[n / 2 - 1] + known[n / 2]) / 2.0);
}

}  // namespace

void trailing_abs_median(ConstMatrix x, std::size_t window, double* out, int threads) {
    if (window == 0) throw std::invalid_argument("window must be >= 1");
    parallel_for(x.rows, threads, [&](std::size_t begin, std::size_t end) {
        std::vector<double> known(window);
        for (std::size_t i = begin; i < end; ++i) {
            const double* r = x.row(i);
            for (std::size_t d = 0; d < x.cols; ++d) {
                const std::size_t first = d + 1 > window ? d + 1 - window : 0;
                out[i * x.cols + d] = abs_median_of(r, first, d, window, known);
            }
        }
    }, kRowsPerThread / 64);
}

}  // namespace edgewise
