// Batched least squares and k-means for fault detection (see fault_kernels.hpp).
#include "edgewise/fault_kernels.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <stdexcept>
#include <thread>

namespace edgewise {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool finite_row(const double* r, std::size_t cols) noexcept {
    for (std::size_t j = 0; j < cols; ++j) {
        if (!std::isfinite(r[j])) return false;
    }
    return true;
}

// Runs body(begin, end) over [0, n) split among up to `threads` workers.
template <typename Body>
void parallel_for(std::size_t n, int threads, Body body) {
    if (threads < 1) throw std::invalid_argument("threads must be >= 1");
    const std::size_t workers = std::max<std::size_t>(1, std::min<std::size_t>(static_cast<std::size_t>(threads), n / 256));
    if (workers <= 1) {
        body(std::size_t{0}, n);
        return;
    }
    std::vector<std::thread> pool;
    pool.reserve(workers);
    const std::size_t chunk = (n + workers - 1) / workers;
    for (std::size_t w = 0; w < workers; ++w) {
        const std::size_t begin = w * chunk;
        const std::size_t end = std::min(n, begin + chunk);
        if (begin >= end) break;
        pool.emplace_back([&body, begin, end] { body(begin, end); });
    }
    for (auto& t : pool) t.join();
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

double squared_distance(const double* a, const double* b, std::size_t cols) noexcept {
    double s = 0.0;
    for (std::size_t j = 0; j < cols; ++j) {
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

LeastSquaresFit fit_least_squares(ConstMatrix x, const double* y, std::size_t train) {
    const std::size_t p = x.cols;
    train = std::min(train, x.rows);
    LeastSquaresFit fit;
    fit.coef.assign(p, kNaN);
    fit.rms = kNaN;
    // Column scales first, so the normal equations see columns of unit size.
    std::vector<double> scale(p, 0.0);
    for (std::size_t i = 0; i < train; ++i) {
        const double* r = x.row(i);
        if (!std::isfinite(y[i]) || !finite_row(r, p)) continue;
        ++fit.used;
        for (std::size_t j = 0; j < p; ++j) scale[j] = std::max(scale[j], std::fabs(r[j]));
    }
    if (fit.used < p || p == 0) return fit;
    for (double& s : scale) s = s > 0.0 ? 1.0 / s : 1.0;
    std::vector<double> a(p * p, 0.0), b(p, 0.0);
    for (std::size_t i = 0; i < train; ++i) {
        const double* r = x.row(i);
        if (!std::isfinite(y[i]) || !finite_row(r, p)) continue;
        for (std::size_t j = 0; j < p; ++j) {
            const double rj = r[j] * scale[j];
            b[j] += rj * y[i];
            for (std::size_t k = 0; k <= j; ++k) a[j * p + k] += rj * r[k] * scale[k];
        }
    }
    // A whisper of ridge (relative to the largest diagonal) keeps exactly
    // collinear columns (a room without daylight, a signal that never
    // changed) solvable; it moves well-posed fits by ~1e-10 relative.
    double diag = 0.0;
    for (std::size_t j = 0; j < p; ++j) diag = std::max(diag, a[j * p + j]);
    for (std::size_t j = 0; j < p; ++j) {
        a[j * p + j] += 1e-10 * diag;
        for (std::size_t k = j + 1; k < p; ++k) a[j * p + k] = a[k * p + j];
    }
    if (!cholesky_solve(a, b, p)) return fit;
    for (std::size_t j = 0; j < p; ++j) fit.coef[j] = b[j] * scale[j];
    double ss = 0.0;
    for (std::size_t i = 0; i < train; ++i) {
        const double* r = x.row(i);
        if (!std::isfinite(y[i]) || !finite_row(r, p)) continue;
        double e = y[i];
        for (std::size_t j = 0; j < p; ++j) e -= r[j] * fit.coef[j];
        ss += e * e;
    }
    fit.rms = std::sqrt(ss / static_cast<double>(fit.used));
    return fit;
}

void residuals(ConstMatrix x, const double* y, const double* coef, double* out) {
    for (std::size_t i = 0; i < x.rows; ++i) {
        const double* r = x.row(i);
        double e = y[i];
        for (std::size_t j = 0; j < x.cols; ++j) e -= r[j] * coef[j];
        out[i] = std::isfinite(e) ? e : kNaN;
    }
}

void fit_and_residuals_batch(ConstMatrix x, const double* y, std::size_t batch, std::size_t train, double* coef,
                             double* rms, std::int64_t* used, double* out, int threads) {
    if (batch == 0) return;
    if (x.rows % batch != 0) throw std::invalid_argument("rows must be a multiple of batch");
    const std::size_t n = x.rows / batch;
    const std::size_t p = x.cols;
    auto body = [&](std::size_t begin, std::size_t end) {
        for (std::size_t b = begin; b < end; ++b) {
            const ConstMatrix xb{x.data + b * n * p, n, p};
            const LeastSquaresFit fit = fit_least_squares(xb, y + b * n, train);
            std::copy(fit.coef.begin(), fit.coef.end(), coef + b * p);
            rms[b] = fit.rms;
            used[b] = static_cast<std::int64_t>(fit.used);
            residuals(xb, y + b * n, fit.coef.data(), out + b * n);
        }
    };
    if (threads < 1) throw std::invalid_argument("threads must be >= 1");
    // Each problem is small: parallelise over problems, not rows.
    const std::size_t workers = std::max<std::size_t>(1, std::min<std::size_t>(static_cast<std::size_t>(threads), batch));
    if (workers == 1) {
        body(0, batch);
        return;
    }
    std::vector<std::thread> pool;
    const std::size_t chunk = (batch + workers - 1) / workers;
    for (std::size_t w = 0; w < workers; ++w) {
        const std::size_t begin = w * chunk, end = std::min(batch, begin + chunk);
        if (begin >= end) break;
        pool.emplace_back([&body, begin, end] { body(begin, end); });
    }
    for (auto& t : pool) t.join();
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
        });
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
            if (!finite_row(r, x.cols)) {
                label[i] = -1;
                distance[i] = kNaN;
                continue;
            }
            double best;
            label[i] = static_cast<std::int64_t>(nearest(r, model, best));
            distance[i] = std::sqrt(best);
        }
    });
}

}  // namespace edgewise
