// Numerical kernels of fault detection: least squares from Gram matrices and
// k-means distances over row-major matrices.
//
// room_day_stats.hpp reduces the series to per-day sums; the Python facade
// (agent/apps/faults/) decides what a score means; this header only does the
// arithmetic, on plain pointers, so it can run with the GIL released.
// docs/faults.md describes the detectors that use it.  Rows holding any
// non-finite value are skipped (fits) or give NaN (scores): missing data
// never becomes a number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgewise {

/// A read-only row-major matrix (rows x cols, contiguous).
struct ConstMatrix {
    const double* data = nullptr;
    std::size_t rows = 0;
    std::size_t cols = 0;
    const double* row(std::size_t i) const noexcept { return data + i * cols; }
};

/// Result of one least-squares fit.
struct LeastSquaresFit {
    std::vector<double> coef;  ///< cols coefficients; NaN if the fit is impossible
    std::size_t used = 0;      ///< rows behind the Gram matrix
    double rms = 0.0;          ///< root-mean-square residual on the rows used (NaN if none)
};

/// Least squares of y on x from their Gram matrix: `gram` is the (p+1) x (p+1)
/// row-major [x | y]ᵀ[x | y] summed over `used` rows (room_day_stats.hpp
/// gives one per room-day; sum the days to fit on).  Columns are scaled to
/// unit length and a ridge of 1e-10 of the largest diagonal added, so exactly
/// collinear columns (a signal that never changed) still give a fit; an
/// under-determined system (used < p), all-zero data or a non-finite Gram
/// gives NaN coefficients instead of a guess.
LeastSquaresFit fit_from_gram(const double* gram, std::size_t p, std::size_t used);

/// Mean residual y - x·coef of each day from its Gram matrix, for batch x days
/// Gram matrices of [x | y] ((p+1)^2 each, row-major) and one coef row (p) per
/// batch item.  Column `constant` of x holds `value` on every row, so row
/// `constant` of a Gram matrix holds value * (Σx, Σy) and its diagonal entry
/// value² * rows.  NaN for a day without rows.
void day_mean_residuals(const double* gram, std::size_t batch, std::size_t days, std::size_t p, const double* coef,
                        std::size_t constant, double value, double* out, int threads);

/// k-means result; centroids is (k x cols) row-major.
struct KMeansModel {
    std::vector<double> centroids;
    std::size_t k = 0;
    std::size_t cols = 0;
    std::size_t iterations = 0;
};

/// Lloyd's k-means on the finite rows of x, seeded k-means++ initialisation
/// (a std::mt19937_64 from seed: the same input and seed give the same
/// centroids on every platform that has IEEE doubles).  Fewer finite rows
/// than k is an error (std::invalid_argument).
KMeansModel kmeans_fit(ConstMatrix x, std::size_t k, std::size_t max_iter, std::uint64_t seed, int threads);

/// For each row: index of the nearest centroid (-1 for a non-finite row) and
/// the Euclidean distance to it (NaN for a non-finite row).
void nearest_centroid(ConstMatrix x, const KMeansModel& model, std::int64_t* label, double* distance, int threads);

/// For each row of x (rows x days) and each day d: |median| of the finite
/// values among days (d - window, d], or NaN when at most window / 2 of them
/// are finite.  A fault that persists moves this score; one odd day does not.
void trailing_abs_median(ConstMatrix x, std::size_t window, double* out, int threads);

}  // namespace edgewise
