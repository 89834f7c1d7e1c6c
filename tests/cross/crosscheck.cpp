// The same inputs through the core's numerical kernels, every result printed
// exactly (hex floats), so a build for another CPU can be compared bit for bit
// with this machine's (tests/integration/test_cross_arch.py).  Inputs come from
// a fixed xorshift generator: the same numbers on every platform.
#include <cstdint>
#include <cstdio>
#include <vector>
#include "edgewise/fault_kernels.hpp"
#include "edgewise/features.hpp"
#include "edgewise/simplex_weights.hpp"

namespace {

class Xorshift {
public:
    double next() {  // uniform on [0, 1), 53 bits
        state_ ^= state_ << 13;
        state_ ^= state_ >> 7;
        state_ ^= state_ << 17;
        return static_cast<double>(state_ >> 11) / 9007199254740992.0;
    }

private:
    std::uint64_t state_ = 88172645463325252ull;
};

}  // namespace

int main() {
    using namespace edgewise;
    Xorshift rng;
    auto next = [&rng] { return rng.next(); };
    // Frank-Wolfe (synthetic control weights)
    const std::size_t rows = 40, cols = 12;
    std::vector<double> a(rows * cols), b(rows);
    for (auto& v : a) v = 10.0 * next();
    for (auto& v : b) v = 10.0 * next();
    SimplexLeastSquares p{a.data(), b.data(), rows, cols, 0.1, true};
    for (bool simd : {false, true}) {
        auto w = frank_wolfe_simplex(p, nullptr, FrankWolfeSchedule{1e-5, 10000}, simd);
        std::printf("fw simd=%d iters=%zu obj=%a\n", simd, w.iterations, w.objective);
        for (double x : w.weights) std::printf(" %a", x);
        std::printf("\n");
    }
    // k-means
    const std::size_t n = 600, d = 8;
    std::vector<double> x(n * d);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) x[i * d + j] = next() + static_cast<double>(i % 5) * 0.7;
    auto km = kmeans_fit(ConstMatrix{x.data(), n, d}, 5, 50, 7, 1);
    std::printf("kmeans iters=%zu\n", km.iterations);
    for (double c : km.centroids) std::printf(" %a", c);
    std::printf("\n");
    // least squares from a Gram matrix
    const std::size_t pp = 3;
    std::vector<double> g((pp + 1) * (pp + 1), 0.0);
    for (int r = 0; r < 200; ++r) {
        double row[pp + 1] = {1.0, next(), next(), 0.0};
        row[pp] = 2.0 + 3.0 * row[1] - row[2] + 0.01 * next();
        for (std::size_t i = 0; i <= pp; ++i)
            for (std::size_t j = 0; j <= pp; ++j) g[i * (pp + 1) + j] += row[i] * row[j];
    }
    auto fit = fit_from_gram(g.data(), pp, 200);
    std::printf("fit rms=%a\n", fit.rms);
    for (double c : fit.coef) std::printf(" %a", c);
    std::printf("\n");
    // window features, portable kernels
    std::vector<double> series(64 * 32);
    for (auto& v : series) v = next() * 20.0 - 5.0;
    FeatureRequest req;
    req.features = {Feature::kMean, Feature::kStd, Feature::kSlope, Feature::kBandEnergy};
    req.fs = 1.0;
    req.bands = {Band{0.0, 0.1}, Band{0.1, 0.5}};
    req.simd = false;
    std::vector<double> out(64 * column_count(req));
    extract_features(WindowMatrix<double>{series.data(), 64, 32, 32, 1}, req, out.data(), 1);
    std::printf("features");
    for (double v : out) std::printf(" %a", v);
    std::printf("\n");
    return 0;
}
