// Non-negative weights summing to one that make a weighted sum of columns
// track a target: the weight solver of synthetic control and synthetic
// difference-in-differences (agent/analytics/causal/, docs/savings.md).
//
// Minimises  zeta^2 * |w|^2 + |A w - b|^2 / n  over the simplex (A is n x k,
// row-major) by Frank-Wolfe with an exact line search, taking the same steps
// and the same stopping rule as the synthdid reference implementation and the
// numpy version in agent/analytics/causal/frank_wolfe.py: published estimates
// (Proposition 99's SC -19.62) are those of this iteration, not of the exact
// optimum, so the iteration itself is the contract.
//
// Plain C++17, no Python, no global state; inputs must be finite.
#pragma once

#include <cstddef>
#include <vector>

namespace edgewise {

/// The problem: A (rows x cols, row-major, contiguous) and the target b (rows).
struct SimplexLeastSquares {
    const double* a = nullptr;
    const double* b = nullptr;
    std::size_t rows = 0;
    std::size_t cols = 0;
    double zeta = 0.0;       ///< ridge on the weights; zeta^2 * |w|^2 is added to the mean squared error
    bool intercept = false;  ///< centre A's columns and b first: a level difference costs nothing
};

/// When to stop: after max_iter steps, or after a step (not the first) that
/// lowered the objective by at most min_decrease^2.
struct FrankWolfeSchedule {
    double min_decrease = 1e-3;
    std::size_t max_iter = 10000;
};

struct SimplexWeights {
    std::vector<double> weights;  ///< cols weights, >= 0, summing to one
    std::size_t iterations = 0;   ///< steps taken
    double objective = 0.0;       ///< zeta^2 |w|^2 + |A w - b|^2 / n at the returned weights
};

/// Frank-Wolfe from `start` (cols weights on the simplex; uniform when null).
/// `simd` lets the loop use AVX2 where the CPU has it; false forces the
/// portable two-lane loop, which gives the same bits (for tests).
/// Throws std::invalid_argument for an empty problem or a null pointer.
SimplexWeights frank_wolfe_simplex(const SimplexLeastSquares& problem, const double* start,
                                   const FrankWolfeSchedule& schedule, bool simd = true);

/// One problem of a batch: the data, the start (uniform when null) and when to stop.
struct FrankWolfeTask {
    SimplexLeastSquares problem;
    const double* start = nullptr;
    FrankWolfeSchedule schedule;
};

/// frank_wolfe_simplex on every task, each result bit for bit what it gives
/// alone.  Two tasks take their steps in turn, so one's arithmetic can fill
/// the other's waits (a step is a chain of dependent operations, not a lot of
/// arithmetic); on the development VM that saved about 13% per step.  Throws
/// as frank_wolfe_simplex does.
std::vector<SimplexWeights> frank_wolfe_simplex_batch(const std::vector<FrankWolfeTask>& tasks, bool simd = true);

}  // namespace edgewise
