// Numerical kernels of fault detection: batched least squares, residuals and
// k-means distances over row-major matrices.
//
// The Python facade (agent/apps/faults/) builds the design matrices and daily
// profiles and decides what a score means; this header only does the
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
    std::size_t used = 0;      ///< finite rows used
    double rms = 0.0;          ///< root-mean-square residual on the rows used (NaN if none)
};

/// Least squares of y on the columns of x over rows [0, train) whose x and y
/// are all finite.  Solves the column-scaled normal equations by Cholesky
/// with a ridge of 1e-10 of the largest diagonal, so exactly collinear
/// columns (a signal that never changed) still give a fit; an
/// under-determined system (used < cols) or all-zero data gives NaN
/// coefficients instead of a guess.
LeastSquaresFit fit_least_squares(ConstMatrix x, const double* y, std::size_t train);

/// y - x·coef for every row; NaN where a row or y is not finite.
void residuals(ConstMatrix x, const double* y, const double* coef, double* out);

/// Fits and residuals for many independent problems at once: problem b owns
/// rows [b*n, (b+1)*n) of x and y and is fitted on its first train rows.
/// coef is (batch x cols), rms (batch), used (batch), out (batch*n).
void fit_and_residuals_batch(ConstMatrix x, const double* y, std::size_t batch, std::size_t train, double* coef,
                             double* rms, std::int64_t* used, double* out, int threads);

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

}  // namespace edgewise
