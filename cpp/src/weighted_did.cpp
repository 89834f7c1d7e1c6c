// SC, SC with intercept and SDID, step for step as agent/analytics/causal/
// estimators.py computes them, and placebo replications of them in threads.
//
// Nearly all the time goes to the Frank-Wolfe steps of the unit weights (the
// second pass usually runs to its cap); what this file saves over the Python
// loop is the per-replication overhead of building the placebo panel and its
// collapsed matrices, and it runs replications side by side.
#include "edgewise/weighted_did.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "edgewise/simplex_weights.hpp"

namespace edgewise {

namespace {

/// Placebo replications a worker fits together: enough that the solver
/// always has two weight problems to interleave.
constexpr std::size_t kChunk = 4;

void check_panel(const BlockPanel& p) {
    if (p.y == nullptr) throw std::invalid_argument("weighted_did: null outcomes");
    if (p.n_control >= p.units) throw std::invalid_argument("weighted_did: no treated unit");
    if (p.n_pre >= p.periods) throw std::invalid_argument("weighted_did: no post-treatment period");
    if (p.n_pre < 2 || p.n_control * (p.n_pre - 1) < 2) {
        throw std::invalid_argument(
            "weighted_did: the noise level needs at least two control first differences before adoption");
    }
}

/// sigma: the sample standard deviation of the controls' first differences
/// before adoption (two passes, as numpy's std(ddof=1)).
double noise_level(const BlockPanel& p) {
    const std::size_t t0 = p.n_pre, count = p.n_control * (t0 - 1);
    double sum = 0.0;
    for (std::size_t i = 0; i < p.n_control; ++i) {
        const double* row = p.y + i * p.periods;
        for (std::size_t t = 1; t < t0; ++t) sum += row[t] - row[t - 1];
    }
    const double mean = sum / static_cast<double>(count);
    double squares = 0.0;
    for (std::size_t i = 0; i < p.n_control; ++i) {
        const double* row = p.y + i * p.periods;
        for (std::size_t t = 1; t < t0; ++t) {
            const double d = (row[t] - row[t - 1]) - mean;
            squares += d * d;
        }
    }
    return std::sqrt(squares / static_cast<double>(count - 1));
}

double mean(const double* x, std::size_t n) {
    double s = 0.0;
    for (std::size_t j = 0; j < n; ++j) s += x[j];
    return s / static_cast<double>(n);
}

/// The panel collapsed to what the weights are fitted on: controls' pre
/// values (both orientations), their post means, and the treated mean path.
struct Collapsed {
    std::vector<double> pre_by_period;   ///< n_pre x n_control: the unit weights' A
    std::vector<double> pre_by_unit;     ///< n_control x n_pre: the time weights' A
    std::vector<double> control_post;    ///< n_control post-period means: the time weights' b
    std::vector<double> treated_pre;     ///< n_pre treated means: the unit weights' b
};

Collapsed collapse(const BlockPanel& p) {
    const std::size_t n0 = p.n_control, t0 = p.n_pre, n1 = p.units - n0, t1 = p.periods - t0;
    Collapsed c;
    c.pre_by_period.resize(t0 * n0);
    c.pre_by_unit.resize(n0 * t0);
    c.control_post.resize(n0);
    for (std::size_t i = 0; i < n0; ++i) {
        const double* row = p.y + i * p.periods;
        for (std::size_t t = 0; t < t0; ++t) {
            c.pre_by_unit[i * t0 + t] = row[t];
            c.pre_by_period[t * n0 + i] = row[t];
        }
        c.control_post[i] = mean(row + t0, t1);
    }
    c.treated_pre.assign(t0, 0.0);
    for (std::size_t i = n0; i < p.units; ++i) {
        const double* row = p.y + i * p.periods;
        for (std::size_t t = 0; t < t0; ++t) c.treated_pre[t] += row[t];
    }
    for (double& v : c.treated_pre) v /= static_cast<double>(n1);
    return c;
}

/// Drops weights at or below a quarter of the largest and renormalises.
void sparsify(std::vector<double>& w) {
    const double cut = *std::max_element(w.begin(), w.end()) / 4.0;
    double total = 0.0;
    for (double& x : w) {
        if (x <= cut) x = 0.0;
        total += x;
    }
    for (double& x : w) x /= total;
}

/// One fit's inputs to the weight solver, computed once: sigma and the collapsed panel.
struct Prepared {
    BlockPanel panel;
    double sigma = 0.0;
    Collapsed c;
};

/// omega: the treated mean pre-period path from the controls' (periods x controls).
SimplexLeastSquares unit_problem(const Prepared& p, WeightedDid method, const WeightingSchedule& schedule) {
    SimplexLeastSquares units;
    units.a = p.c.pre_by_period.data();
    units.b = p.c.treated_pre.data();
    units.rows = p.panel.n_pre;
    units.cols = p.panel.n_control;
    units.intercept = method != WeightedDid::kSyntheticControl;
    units.zeta = schedule.tiny_eta * p.sigma;
    if (method == WeightedDid::kSyntheticDid) {
        const std::size_t cells = (p.panel.units - p.panel.n_control) * (p.panel.periods - p.panel.n_pre);
        units.zeta = std::pow(static_cast<double>(cells), 0.25) * p.sigma;
    }
    return units;
}

/// lambda: the controls' post-period means from their pre-period values (controls x periods).
SimplexLeastSquares time_problem(const Prepared& p, const WeightingSchedule& schedule) {
    SimplexLeastSquares periods;
    periods.a = p.c.pre_by_unit.data();
    periods.b = p.c.control_post.data();
    periods.rows = p.panel.n_control;
    periods.cols = p.panel.n_pre;
    periods.intercept = true;
    periods.zeta = schedule.tiny_eta * p.sigma;
    return periods;
}

/// The reference schedule on every problem: a short first pass from uniform
/// weights, sparsify, then the long pass; all problems in one batch, so their
/// steps interleave (frank_wolfe_simplex_batch).
std::vector<std::vector<double>> scheduled_weights(const std::vector<SimplexLeastSquares>& problems,
                                                   const std::vector<double>& min_decrease,
                                                   const WeightingSchedule& schedule, bool simd) {
    std::vector<FrankWolfeTask> tasks(problems.size());
    for (std::size_t i = 0; i < problems.size(); ++i) {
        tasks[i] = FrankWolfeTask{problems[i], nullptr, {min_decrease[i], schedule.first_pass}};
    }
    std::vector<SimplexWeights> first = frank_wolfe_simplex_batch(tasks, simd);
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        sparsify(first[i].weights);
        tasks[i].start = first[i].weights.data();
        tasks[i].schedule.max_iter = schedule.max_iter;
    }
    std::vector<SimplexWeights> second = frank_wolfe_simplex_batch(tasks, simd);
    std::vector<std::vector<double>> out(second.size());
    for (std::size_t i = 0; i < second.size(); ++i) out[i] = std::move(second[i].weights);
    return out;
}

/// (mean treated post - omega' control post) - (lambda' treated pre - omega' control pre lambda),
/// as u' Y v with u = (-omega, 1/n1 ...) and v = (-lambda, 1/t1 ...).
double double_difference(const BlockPanel& p, const std::vector<double>& omega, const std::vector<double>& lambda) {
    const std::size_t n0 = p.n_control, t0 = p.n_pre;
    const double treated = 1.0 / static_cast<double>(p.units - n0);
    const double post = 1.0 / static_cast<double>(p.periods - t0);
    std::vector<double> uy(p.periods, 0.0);
    for (std::size_t i = 0; i < p.units; ++i) {
        const double u = i < n0 ? -omega[i] : treated;
        const double* row = p.y + i * p.periods;
        for (std::size_t t = 0; t < p.periods; ++t) uy[t] += u * row[t];
    }
    double tau = 0.0;
    for (std::size_t t = 0; t < p.periods; ++t) tau += uy[t] * (t < t0 ? -lambda[t] : post);
    return tau;
}

/// Every order must be a permutation of the controls: a repeated or missing
/// index would silently estimate on a different panel.
void check_orders(const std::int64_t* orders, std::size_t reps, std::size_t n) {
    std::vector<char> seen(n);
    for (std::size_t r = 0; r < reps; ++r) {
        std::fill(seen.begin(), seen.end(), 0);
        for (std::size_t j = 0; j < n; ++j) {
            const std::int64_t i = orders[r * n + j];
            if (i < 0 || static_cast<std::size_t>(i) >= n || seen[static_cast<std::size_t>(i)]) {
                throw std::invalid_argument("placebo_weighted_did: order " + std::to_string(r) +
                                            " is not a permutation of the " + std::to_string(n) + " controls");
            }
            seen[static_cast<std::size_t>(i)] = 1;
        }
    }
}

/// Threads that are joined however the scope is left, so a failure to start
/// one never leaves another running (std::thread's destructor would terminate).
class JoiningThreads {
public:
    JoiningThreads() = default;
    JoiningThreads(const JoiningThreads&) = delete;
    JoiningThreads& operator=(const JoiningThreads&) = delete;
    ~JoiningThreads() {
        for (std::thread& t : threads_) {
            if (t.joinable()) t.join();
        }
    }

    template <typename F>
    void spawn(F&& f) {
        threads_.emplace_back(std::forward<F>(f));
    }

private:
    std::vector<std::thread> threads_;
};

}  // namespace

std::vector<WeightedDidFit> weighted_did_batch(const std::vector<BlockPanel>& panels, WeightedDid method,
                                               const WeightingSchedule& schedule, bool simd) {
    std::vector<Prepared> prepared;
    prepared.reserve(panels.size());
    for (const BlockPanel& panel : panels) {
        check_panel(panel);
        prepared.push_back(Prepared{panel, noise_level(panel), collapse(panel)});
    }
    const bool fit_time = method == WeightedDid::kSyntheticDid;
    std::vector<SimplexLeastSquares> problems;  // per panel: omega, then lambda when fitted
    std::vector<double> min_decrease;
    for (const Prepared& p : prepared) {
        problems.push_back(unit_problem(p, method, schedule));
        min_decrease.push_back(schedule.min_decrease_per_sigma * p.sigma);
        if (fit_time) {
            problems.push_back(time_problem(p, schedule));
            min_decrease.push_back(schedule.min_decrease_per_sigma * p.sigma);
        }
    }
    std::vector<std::vector<double>> weights = scheduled_weights(problems, min_decrease, schedule, simd);

    std::vector<WeightedDidFit> fits(panels.size());
    const std::size_t per_panel = fit_time ? 2 : 1;
    for (std::size_t f = 0; f < fits.size(); ++f) {
        const std::size_t t0 = panels[f].n_pre;
        fits[f].unit_weights = std::move(weights[f * per_panel]);
        if (fit_time) {
            fits[f].time_weights = std::move(weights[f * per_panel + 1]);
        } else {
            const double uniform = method == WeightedDid::kSyntheticIntercept ? 1.0 / static_cast<double>(t0) : 0.0;
            fits[f].time_weights.assign(t0, uniform);
        }
        fits[f].estimate = double_difference(panels[f], fits[f].unit_weights, fits[f].time_weights);
    }
    return fits;
}

WeightedDidFit weighted_did(const BlockPanel& panel, WeightedDid method, const WeightingSchedule& schedule,
                            bool simd) {
    return std::move(weighted_did_batch({panel}, method, schedule, simd).front());
}

std::vector<double> placebo_weighted_did(const BlockPanel& controls, std::size_t placebo_treated,
                                         const std::int64_t* orders, std::size_t reps, WeightedDid method,
                                         const WeightingSchedule& schedule, unsigned threads, bool simd) {
    const std::size_t n = controls.units, periods = controls.periods;
    if (controls.y == nullptr || (reps > 0 && orders == nullptr)) {
        throw std::invalid_argument("placebo_weighted_did: null data");
    }
    if (controls.n_control != n) throw std::invalid_argument("placebo_weighted_did: pass the control rows only");
    if (placebo_treated == 0 || placebo_treated >= n) {
        throw std::invalid_argument("placebo_weighted_did: the placebo needs 1 to controls - 1 treated units");
    }
    check_orders(orders, reps, n);
    const BlockPanel shape{controls.y, n, periods, n - placebo_treated, controls.n_pre};
    check_panel(shape);  // every replication has this shape: refuse before any thread starts

    std::vector<double> out(reps);
    std::atomic<std::size_t> next{0};
    auto work = [&]() {
        std::vector<std::vector<double>> y(kChunk, std::vector<double>(n * periods));
        std::vector<BlockPanel> chunk;
        for (std::size_t first = next.fetch_add(kChunk); first < reps; first = next.fetch_add(kChunk)) {
            chunk.clear();
            for (std::size_t r = first; r < std::min(reps, first + kChunk); ++r) {
                double* rows = y[r - first].data();
                const std::int64_t* order = orders + r * n;
                for (std::size_t j = 0; j < n; ++j) {
                    const double* row = controls.y + static_cast<std::size_t>(order[j]) * periods;
                    std::copy(row, row + periods, rows + j * periods);
                }
                BlockPanel placebo = shape;
                placebo.y = rows;
                chunk.push_back(placebo);
            }
            const std::vector<WeightedDidFit> fits = weighted_did_batch(chunk, method, schedule, simd);
            for (std::size_t i = 0; i < fits.size(); ++i) out[first + i] = fits[i].estimate;
        }
    };

    const std::size_t chunks = (reps + kChunk - 1) / kChunk;
    const std::size_t workers = std::max<std::size_t>(1, std::min<std::size_t>(threads, chunks));
    std::vector<std::exception_ptr> errors(workers);
    {
        JoiningThreads pool;
        for (std::size_t w = 1; w < workers; ++w) {
            pool.spawn([&work, &errors, w] {
                try {
                    work();
                } catch (...) {
                    errors[w] = std::current_exception();
                }
            });
        }
        try {
            work();
        } catch (...) {
            errors[0] = std::current_exception();
        }
    }
    for (const std::exception_ptr& e : errors) {
        if (e) std::rethrow_exception(e);
    }
    return out;
}

}  // namespace edgewise
