// Frank-Wolfe on the simplex in O(cols) per step.
//
// On the simplex sum(w) = 1, so A w - b = D w with D = A - b 1' (b subtracted
// from every column).  The objective is then a quadratic form in the Gram
// matrix G = D'D, and a step towards vertex i only moves G w towards column i
// of G: each step costs O(cols) instead of the O(rows * cols) of forming A w
// and A'(A w - b).  The half-gradient differs from the reference's,
// A'(A w - b) + eta w, by the same constant in every coordinate, which changes
// neither the chosen vertex nor the line search (the direction sums to zero),
// so the iterates are the reference's up to rounding.  Working with D instead
// of A also avoids the cancellation of |A w|^2 - 2 b'A w + |b|^2.
#include "edgewise/simplex_weights.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "lanes.hpp"

// The step loop is also compiled for AVX2 (four lanes) and picked at run time,
// as the feature kernels are; both widths give the same bits (no reductions
// are vectorised, only element-wise arithmetic and an exact minimum).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EDGEWISE_SIMPLEX_AVX2 1
#endif

#define EDGEWISE_SIMPLEX_INLINE __attribute__((always_inline)) inline

namespace edgewise {

namespace {

/// Steps between recomputing G w, w'G w and w'w from scratch.  Each O(cols)
/// update is a convex combination, so rounding does not grow; the refresh
/// only keeps it from adding up over many thousands of steps.
constexpr std::size_t kRefreshEvery = 256;

/// D = A - b 1' (after centring both when asked), row-major rows x cols.
std::vector<double> shifted_columns(const SimplexLeastSquares& p) {
    const std::size_t n = p.rows, k = p.cols;
    std::vector<double> a(p.a, p.a + n * k);
    std::vector<double> b(p.b, p.b + n);
    if (p.intercept) {
        std::vector<double> mean(k, 0.0);
        double b_mean = 0.0;
        for (std::size_t r = 0; r < n; ++r) {
            for (std::size_t j = 0; j < k; ++j) mean[j] += a[r * k + j];
            b_mean += b[r];
        }
        for (double& m : mean) m /= static_cast<double>(n);
        b_mean /= static_cast<double>(n);
        for (std::size_t r = 0; r < n; ++r) {
            for (std::size_t j = 0; j < k; ++j) a[r * k + j] -= mean[j];
            b[r] -= b_mean;
        }
    }
    for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t j = 0; j < k; ++j) a[r * k + j] -= b[r];
    }
    return a;
}

/// G = D'D (cols x cols, symmetric, stored in full).
std::vector<double> gram(const std::vector<double>& d, std::size_t n, std::size_t k) {
    std::vector<double> g(k * k, 0.0);
    for (std::size_t r = 0; r < n; ++r) {
        const double* row = d.data() + r * k;
        for (std::size_t i = 0; i < k; ++i) {
            const double x = row[i];
            double* out = g.data() + i * k;
            for (std::size_t j = i; j < k; ++j) out[j] += x * row[j];
        }
    }
    for (std::size_t i = 0; i < k; ++i) {
        for (std::size_t j = 0; j < i; ++j) g[i * k + j] = g[j * k + i];
    }
    return g;
}

/// One lane-wide block of a step: w <- w + t (e_i - w) and G w <- G w + t
/// (G e_i - G w), element for element as the reference writes them; returns
/// the new half-gradient G w + eta w of the block.  `at` holds the block's indices.
template <typename V>
EDGEWISE_SIMPLEX_INLINE V move_block(double* w, double* gw, const double* column, std::size_t j, V at, V vertex,
                                     V t, V eta) {
    const V wv = lanes::load<V>(w + j);
    const V gv = lanes::load<V>(gw + j);
    const V direction = lanes::select<V>(at == vertex, lanes::splat<V>(1.0) - wv, -wv);
    const V w_new = wv + t * direction;
    const V gw_new = gv + t * (lanes::load<V>(column + j) - gv);
    std::memcpy(w + j, &w_new, sizeof w_new);
    std::memcpy(gw + j, &gw_new, sizeof gw_new);
    return gw_new + eta * w_new;
}

/// The smallest half-gradient seen so far in each lane, and where.
template <typename V>
struct LaneMinimum {
    V value;
    V index;  ///< as doubles, exact for any column count that fits in memory

    EDGEWISE_SIMPLEX_INLINE void take(V h, V at) {
        const auto lower = h < value;  // strict: each lane keeps its first minimum
        value = lanes::select<V>(lower, h, value);
        index = lanes::select<V>(lower, at, index);
    }

    /// Takes the other running minimum's lanes where they are lower, or equal at a lower index.
    EDGEWISE_SIMPLEX_INLINE void take(const LaneMinimum& other) {
        const auto better = (other.value < value) | ((other.value == value) & (other.index < index));
        value = lanes::select<V>(better, other.value, value);
        index = lanes::select<V>(better, other.index, index);
    }

    /// Folds the lanes into (lowest, best): the smallest value, the first index
    /// among equals.  A tree of whole-vector takes, without a branch: which
    /// lane holds the minimum is data, and a mispredicted branch here would
    /// flush the other job's interleaved steps (run_all) every step.  The rule
    /// is associative, so the tree finds what a scan would.
    EDGEWISE_SIMPLEX_INLINE void fold(double& lowest, std::size_t& best) {
        if constexpr (lanes::Traits<V>::kWidth == 4) take(LaneMinimum{swap_halves(value), swap_halves(index)});
        take(LaneMinimum{swap_neighbours(value), swap_neighbours(index)});
        lowest = value[0];
        best = static_cast<std::size_t>(index[0]);
    }

    // Lane l's partner l ^ 2, and l ^ 1 (clang spells the shuffle differently from GCC, which has
    // __builtin_shufflevector only from version 12).
    static EDGEWISE_SIMPLEX_INLINE V swap_halves(V v) {
#if defined(__clang__)
        return __builtin_shufflevector(v, v, 2, 3, 0, 1);
#else
        return __builtin_shuffle(v, lanes::MaskOf<V>{2, 3, 0, 1});
#endif
    }

    static EDGEWISE_SIMPLEX_INLINE V swap_neighbours(V v) {
        if constexpr (lanes::Traits<V>::kWidth == 4) {
#if defined(__clang__)
            return __builtin_shufflevector(v, v, 1, 0, 3, 2);
#else
            return __builtin_shuffle(v, lanes::MaskOf<V>{1, 0, 3, 2});
#endif
        } else {
#if defined(__clang__)
            return __builtin_shufflevector(v, v, 1, 0);
#else
            return __builtin_shuffle(v, lanes::MaskOf<V>{1, 0});
#endif
        }
    }
};

/// Moves w and G w a step t towards vertex i and returns the vertex of the
/// next step: the first index of the smallest new half-gradient (numpy's
/// argmin), found in the same pass.  Two running minima, so two comparison
/// chains run side by side.  Every vector width does the same arithmetic and
/// an exact minimum, so all give the same bits.  t = 0 only finds the vertex.
template <typename V>
EDGEWISE_SIMPLEX_INLINE std::size_t move_and_argmin(double* w, double* gw, const double* column, std::size_t k,
                                                    std::size_t i, double t, double eta) {
    constexpr std::size_t kWidth = lanes::Traits<V>::kWidth;
    double lowest = __builtin_inf();
    std::size_t best = 0;
    std::size_t j = 0;
    if (k >= kWidth) {
        const V tv = lanes::splat<V>(t), ev = lanes::splat<V>(eta), vertex = lanes::splat<V>(static_cast<double>(i));
        const V inf = lanes::splat<V>(__builtin_inf()), stride = lanes::splat<V>(2.0 * kWidth);
        V at0 = lanes::iota<V>(0.0), at1 = lanes::iota<V>(static_cast<double>(kWidth));
        LaneMinimum<V> m0{inf, at0}, m1{inf, at1};
        for (; j + 2 * kWidth <= k; j += 2 * kWidth) {
            m0.take(move_block<V>(w, gw, column, j, at0, vertex, tv, ev), at0);
            m1.take(move_block<V>(w, gw, column, j + kWidth, at1, vertex, tv, ev), at1);
            at0 += stride;
            at1 += stride;
        }
        if (j + kWidth <= k) {
            m0.take(move_block<V>(w, gw, column, j, at0, vertex, tv, ev), at0);
            j += kWidth;
        }
        m0.take(m1);
        m0.fold(lowest, best);
    }
    for (; j < k; ++j) {  // the tail, after every index above: strict < keeps the first
        w[j] += t * (j == i ? 1.0 - w[j] : -w[j]);
        gw[j] += t * (column[j] - gw[j]);
        const double h = gw[j] + eta * w[j];
        if (h < lowest || j == 0) {
            lowest = h;
            best = j;
        }
    }
    return best;
}

/// The iteration state: G (cols x cols), weights w, gw = G w, w'G w, w'w and
/// the vertex the next step moves towards.
struct FrankWolfe {
    std::vector<double> g;
    std::size_t k = 0;
    std::vector<double> w;
    std::vector<double> gw;
    double eta = 0.0;
    double wgw = 0.0;
    double ww = 0.0;
    std::size_t vertex = 0;
    std::size_t steps = 0;
};

/// G w, w'G w, w'w and the next vertex from scratch; G w as a sum of the rows
/// of G that have weight, since most weights are zero once the solver settles.
template <typename V>
EDGEWISE_SIMPLEX_INLINE void refresh(FrankWolfe& s) {
    std::fill(s.gw.begin(), s.gw.end(), 0.0);
    double ww = 0.0;
    for (std::size_t i = 0; i < s.k; ++i) {
        const double wi = s.w[i];
        if (wi == 0.0) continue;
        ww += wi * wi;
        const double* row = s.g.data() + i * s.k;
        for (std::size_t j = 0; j < s.k; ++j) s.gw[j] += wi * row[j];
    }
    double wgw = 0.0;
    for (std::size_t j = 0; j < s.k; ++j) wgw += s.w[j] * s.gw[j];
    s.wgw = wgw;
    s.ww = ww;
    s.vertex = move_and_argmin<V>(s.w.data(), s.gw.data(), s.g.data(), s.k, 0, 0.0, s.eta);
}

bool at_vertex(const FrankWolfe& s, std::size_t i) {
    for (std::size_t j = 0; j < s.k; ++j) {
        if (s.w[j] != (j == i ? 1.0 : 0.0)) return false;
    }
    return true;
}

/// One step towards the vertex of smallest half-gradient with an exact line
/// search; returns how much it lowered n times the objective (0 if it did not move).
template <typename V>
EDGEWISE_SIMPLEX_INLINE double step(FrankWolfe& s) {
    const std::size_t i = s.vertex, k = s.k;
    const double wi = s.w[i];
    if (wi == 1.0 && at_vertex(s, i)) return 0.0;
    const double gi = s.gw[i];
    const double gii = s.g[i * k + i];
    const double d_gram_d = std::max(0.0, gii - 2.0 * gi + s.wgw);
    const double d_d = s.ww - wi * wi + (1.0 - wi) * (1.0 - wi);
    const double denominator = d_gram_d + s.eta * d_d;
    if (!(denominator > 0.0)) return 0.0;
    const double slope = (gi + s.eta * wi) - (s.wgw + s.eta * s.ww);
    const double t = std::clamp(-slope / denominator, 0.0, 1.0);
    const double* column = s.g.data() + i * k;  // G is symmetric: row i is column i
    const std::size_t next = move_and_argmin<V>(s.w.data(), s.gw.data(), column, k, i, t, s.eta);
    const double wi_new = s.w[i];
    if (++s.steps % kRefreshEvery == 0) {
        refresh<V>(s);
    } else {  // (1-t) w + t e_i, expanded, instead of two O(cols) dot products
        const double u = 1.0 - t;
        s.wgw = u * u * s.wgw + 2.0 * t * u * gi + t * t * gii;
        s.ww = u * u * (s.ww - wi * wi) + wi_new * wi_new;
        s.vertex = next;
    }
    return -(2.0 * t * slope + t * t * denominator);
}

/// One problem being solved: its state and its stopping rule.  The reference
/// compares successive objectives; the decrease is computed directly here,
/// which is the same number without the cancellation.
struct Job {
    FrankWolfe state;
    std::size_t max_iter = 0;
    double threshold = 0.0;  ///< min_decrease^2 * n: the decrease (times n) at which to stop
    std::size_t taken = 0;   ///< steps taken
    bool done = false;
};

template <typename V>
EDGEWISE_SIMPLEX_INLINE void begin(Job& j) {
    refresh<V>(j.state);
    j.done = j.max_iter == 0;
}

template <typename V>
EDGEWISE_SIMPLEX_INLINE void advance(Job& j) {
    const double decrease = step<V>(j.state);
    ++j.taken;
    j.done = j.taken >= j.max_iter || (j.taken >= 2 && decrease <= j.threshold);
}

/// Runs every job to its end, two at a time: each step is a chain of
/// dependent operations (vertex, line search, update, next vertex), so the
/// other job's chain fills its waits.  When a job ends, the next one takes its
/// lane.  The jobs share nothing, so each ends with the bits it would alone.
template <typename V>
EDGEWISE_SIMPLEX_INLINE void run_all(Job* jobs, std::size_t count) {
    std::size_t next = 0;
    auto load = [&]() -> Job* {  // the next job with a step to take; the others end at once
        while (next < count) {
            Job& j = jobs[next++];
            begin<V>(j);
            if (!j.done) return &j;
            refresh<V>(j.state);
        }
        return nullptr;
    };
    Job* a = load();
    Job* b = load();
    while (a != nullptr && b != nullptr) {
        advance<V>(*a);
        advance<V>(*b);
        if (a->done) {
            refresh<V>(a->state);  // the returned objective from the weights themselves
            a = load();
        }
        if (b->done) {
            refresh<V>(b->state);
            b = load();
        }
    }
    Job* last = a != nullptr ? a : b;  // no job is left to load once a lane is empty
    if (last != nullptr) {
        while (!last->done) advance<V>(*last);
        refresh<V>(last->state);
    }
}

void run_portable(Job* jobs, std::size_t count) { run_all<lanes::V2>(jobs, count); }

#ifdef EDGEWISE_SIMPLEX_AVX2
__attribute__((target("avx2"))) void run_avx2(Job* jobs, std::size_t count) {
    run_all<lanes::V4>(jobs, count);
    __builtin_ia32_vzeroupper();  // leave no dirty upper halves to slow the SSE code that follows
}
#endif

void run_fastest(Job* jobs, std::size_t count, bool simd) {
#ifdef EDGEWISE_SIMPLEX_AVX2
    if (simd && __builtin_cpu_supports("avx2")) return run_avx2(jobs, count);
#endif
    (void)simd;
    run_portable(jobs, count);
}

Job prepare(const FrankWolfeTask& task) {
    const SimplexLeastSquares& p = task.problem;
    const std::size_t n = p.rows, k = p.cols;
    if (n == 0 || k == 0) throw std::invalid_argument("frank_wolfe_simplex: the problem is empty");
    if (p.a == nullptr || p.b == nullptr) throw std::invalid_argument("frank_wolfe_simplex: null data");
    Job j;
    FrankWolfe& s = j.state;
    s.k = k;
    s.g = gram(shifted_columns(p), n, k);
    s.w = task.start ? std::vector<double>(task.start, task.start + k)
                     : std::vector<double>(k, 1.0 / static_cast<double>(k));
    s.gw.assign(k, 0.0);
    s.eta = static_cast<double>(n) * p.zeta * p.zeta;
    j.max_iter = task.schedule.max_iter;
    j.threshold = task.schedule.min_decrease * task.schedule.min_decrease * static_cast<double>(n);
    return j;
}

}  // namespace

std::vector<SimplexWeights> frank_wolfe_simplex_batch(const std::vector<FrankWolfeTask>& tasks, bool simd) {
    std::vector<Job> jobs;
    jobs.reserve(tasks.size());
    for (const FrankWolfeTask& task : tasks) jobs.push_back(prepare(task));
    run_fastest(jobs.data(), jobs.size(), simd);
    std::vector<SimplexWeights> out(jobs.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        FrankWolfe& s = jobs[i].state;
        out[i].iterations = jobs[i].taken;
        out[i].objective = (s.wgw + s.eta * s.ww) / static_cast<double>(tasks[i].problem.rows);
        out[i].weights = std::move(s.w);
    }
    return out;
}

SimplexWeights frank_wolfe_simplex(const SimplexLeastSquares& problem, const double* start,
                                   const FrankWolfeSchedule& schedule, bool simd) {
    return std::move(frank_wolfe_simplex_batch({FrankWolfeTask{problem, start, schedule}}, simd).front());
}

}  // namespace edgewise
