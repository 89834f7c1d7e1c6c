// Features of windows of a sensor stream: moments, quantiles, changes, trend,
// autocorrelation, band energies and runs, one row of numbers per window.
//
// The definitions, including how NaN and infinite samples are skipped and
// counted, are in docs/features.md; this header is the C++ side of
// agent.features.extract.  Nothing here knows about Python.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace edgewise {

// Every feature, in the order of the result columns (band energies are one
// column per band, at the place of kBandEnergy).
enum class Feature : int {
    kCount,
    kMean,
    kStd,
    kMin,
    kMax,
    kRange,
    kRms,
    kSkewness,
    kKurtosis,
    kMedian,
    kP10,
    kP25,
    kP75,
    kP90,
    kIqr,
    kMeanAbsChange,
    kMeanCrossings,
    kSlope,
    kLag1Autocorr,
    kBandEnergy,
    kTimeAboveThreshold,
    kLongestRunAboveMean,
};

constexpr int kFeatureKinds = static_cast<int>(Feature::kLongestRunAboveMean) + 1;

// The name of a feature as Python sees it ("band_energy" for the band family).
const char* feature_name(Feature f);

struct Band {
    double low_hz = 0.0;
    double high_hz = std::numeric_limits<double>::infinity();
};

struct FeatureRequest {
    // Columns of the result, in order; a kBandEnergy entry means one column
    // per band, in band order.
    std::vector<Feature> features;
    double fs = 1.0;
    std::vector<Band> bands;
    double threshold = 0.0;
    // Use the four-lane AVX2 kernels when the CPU has them; false forces the
    // portable two-lane ones (the results differ in the last bits).
    bool simd = true;
};

// A matrix of windows read in place: element (w, i) is at
// data + w * row_stride + i * col_stride (strides in elements, may be negative).
template <typename T>
struct WindowMatrix {
    const T* data = nullptr;
    std::size_t windows = 0;
    std::size_t length = 0;
    std::ptrdiff_t row_stride = 0;
    std::ptrdiff_t col_stride = 1;
};

// The number of result columns `request` asks for.
std::size_t column_count(const FeatureRequest& request);

// Throws std::invalid_argument when fs or a band is out of range or a
// request names no feature.
void validate(const FeatureRequest& request);

// Computes the requested features of every window into `out`, which must hold
// windows * column_count(request) doubles, column-major (one column after the
// other).  Splits the windows over `threads` std::threads (>= 1); the result
// does not depend on the number of threads.
template <typename T>
void extract_features(const WindowMatrix<T>& x, const FeatureRequest& request, double* out, int threads);

extern template void extract_features<double>(const WindowMatrix<double>&, const FeatureRequest&, double*, int);
extern template void extract_features<float>(const WindowMatrix<float>&, const FeatureRequest&, double*, int);

}  // namespace edgewise
