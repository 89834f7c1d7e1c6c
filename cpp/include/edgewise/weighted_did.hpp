// Synthetic control, synthetic control with an intercept and synthetic
// difference-in-differences on a block-adoption panel, one fit or a whole
// batch of placebo replications in one call.
//
// All three are the weighted double difference of Arkhangelsky et al. (2021)
//
//   tau = (mean treated post - omega' control post) - (lambda' treated pre - omega' control pre lambda)
//
// with unit weights omega and time weights lambda fitted by Frank-Wolfe
// (edgewise/simplex_weights.hpp) on the reference implementation's schedule:
// a first pass of `first_pass` steps from uniform weights, weights at or
// below a quarter of the largest dropped, then a second pass of at most
// `max_iter` steps.  This is the C++ side of agent/analytics/causal/
// estimators.py, which is the reference: the same inputs give the same
// estimates up to rounding (tests/unit/test_causal_placebo_batch.py).
//
// Plain C++17, no Python, no global state; inputs must be finite.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgewise {

/// Which weights the double difference uses (docs/savings.md, "One formula, four weightings").
enum class WeightedDid : int {
    kSyntheticControl,    ///< omega without intercept, zeta ~ 0; lambda = 0
    kSyntheticIntercept,  ///< omega with intercept, zeta ~ 0; uniform lambda (DIFP)
    kSyntheticDid,        ///< omega with intercept, zeta = (N_tr T_post)^(1/4) sigma; lambda fitted
};

/// Outcomes (units x periods, row-major, contiguous), controls first; the
/// last units - n_control units adopt together after period n_pre.
struct BlockPanel {
    const double* y = nullptr;
    std::size_t units = 0;
    std::size_t periods = 0;
    std::size_t n_control = 0;
    std::size_t n_pre = 0;
};

/// The reference schedule and regularisation; the defaults are synthdid's.
struct WeightingSchedule {
    std::size_t first_pass = 100;         ///< steps before the weights are sparsified
    std::size_t max_iter = 10000;         ///< cap of the second pass
    double tiny_eta = 1e-6;               ///< zeta / sigma of the nearly unregularised fits
    double min_decrease_per_sigma = 1e-5; ///< the stopping rule's min_decrease / sigma
};

struct WeightedDidFit {
    double estimate = 0.0;
    std::vector<double> unit_weights;  ///< n_control weights over the controls
    std::vector<double> time_weights;  ///< n_pre weights over the pre-periods
};

/// One fit.  Throws std::invalid_argument for a null y, no treated unit, no
/// post-period, or fewer than two control first differences before adoption
/// (n_control * (n_pre - 1) < 2), where the noise level sigma is undefined.
WeightedDidFit weighted_did(const BlockPanel& panel, WeightedDid method, const WeightingSchedule& schedule,
                            bool simd = true);

/// weighted_did on each panel, each fit bit for bit what it is alone; the
/// weight problems of all the panels go to the solver as one batch, whose
/// steps interleave (frank_wolfe_simplex_batch).  Throws as weighted_did does.
std::vector<WeightedDidFit> weighted_did_batch(const std::vector<BlockPanel>& panels, WeightedDid method,
                                               const WeightingSchedule& schedule, bool simd = true);

/// Placebo replications (Arkhangelsky et al. 2021, Algorithm 4) of `method`
/// on the control units alone: in replication r the controls are taken in
/// the order orders[r * controls.n_control ...] and the last
/// `placebo_treated` of them play the treated units.  `controls` holds only
/// control rows (its n_control equals its units).  Returns one estimate per
/// replication, computed on up to `threads` std::threads; each replication
/// is independent, so the result does not depend on `threads`.  Throws
/// std::invalid_argument when an order is not a permutation or the placebo
/// panel is too small for weighted_did.
std::vector<double> placebo_weighted_did(const BlockPanel& controls, std::size_t placebo_treated,
                                         const std::int64_t* orders, std::size_t reps, WeightedDid method,
                                         const WeightingSchedule& schedule, unsigned threads, bool simd = true);

}  // namespace edgewise
