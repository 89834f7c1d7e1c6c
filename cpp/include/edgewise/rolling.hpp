// Rolling statistics over the last N finite samples of a sensor point.
//
// The gateway keeps, for every point it has seen, a small window of recent
// readings so that apps can ask "what is the mean/min/max temperature in this
// room over the last two hours?" without touching the database. Each reading
// costs O(1) here; nothing allocates after construction.
//
// This header is plain C++17 and knows nothing of Python: the bindings in
// cpp/bindings/ are a thin layer on top of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace edgewise {

/// Largest window a RollingStats accepts; bigger is a configuration mistake
/// that would otherwise exhaust the gateway's memory.
inline constexpr std::size_t kMaxCapacity = std::size_t{1} << 24;

/// A fixed-capacity FIFO of sample sequence numbers, used as the monotone
/// deque behind the window's running min and max. Never grows after
/// construction.
class SeqDeque {
public:
    explicit SeqDeque(std::size_t capacity);

    bool empty() const noexcept { return size_ == 0; }
    std::uint64_t front() const noexcept { return slots_[head_]; }
    std::uint64_t back() const noexcept;
    void push_back(std::uint64_t seq) noexcept;
    void pop_front() noexcept;
    void pop_back() noexcept;
    void clear() noexcept { head_ = size_ = 0; }

private:
    std::vector<std::uint64_t> slots_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

/// Count, mean, variance, min, max and last value of the most recent
/// `capacity` finite samples of one point.
///
/// Samples are (t, x) pairs: t is the event time in seconds (any epoch), x the
/// value. A sample with a non-finite t or x (NaN, +inf, -inf) is not added; it
/// is only counted by rejected(). Samples are kept in arrival order; the
/// window is the last `capacity` accepted samples.
///
/// Statistics of an empty window are NaN (count() is 0). variance() and std()
/// are the sample (ddof = 1) versions and are NaN below two samples;
/// pvariance() and pstd() are the population (ddof = 0) versions.
///
/// Numerics: mean and the sum of squared deviations (M2) are updated with
/// Welford's add/remove recurrences, which stay accurate relative to the
/// spread of the data rather than its magnitude (unlike sum / sum-of-squares,
/// which cancels catastrophically for e.g. 1e6 +- 0.01). A sliding window
/// still accumulates rounding error from values that have left it, so both
/// are recomputed exactly from the buffer (compensated two-pass):
///   * every `capacity` evictions, which bounds slow drift at amortised O(1);
///   * when the window collapses, i.e. M2 or the largest magnitude in the
///     window drops below 1/1024 of its peak since the last recompute. The
///     rounding error is proportional to that peak, so without this a window
///     that was [1e9, 1, 1, ...] would report a garbage variance for [1, 1, ...].
///     This costs O(capacity) but only happens when the data's spread or
///     magnitude really falls by three orders of magnitude.
/// A window whose min equals its max reports exactly that value as its mean
/// and exactly zero variance.
class RollingStats {
public:
    /// Throws std::invalid_argument if capacity is 0 or above kMaxCapacity.
    explicit RollingStats(std::size_t capacity);

    /// Adds one sample, evicting the oldest if the window is full.
    /// Returns false (and counts it as rejected) if t or x is not finite.
    bool push(double t, double x);

    /// Forgets every sample and the rejected count.
    void clear() noexcept;

    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t count() const noexcept { return size_; }
    std::uint64_t rejected() const noexcept { return rejected_; }

    double mean() const noexcept;
    double variance() const noexcept;   ///< sample variance, ddof = 1
    double pvariance() const noexcept;  ///< population variance, ddof = 0
    double std() const noexcept;        ///< sqrt(variance())
    double pstd() const noexcept;       ///< sqrt(pvariance())
    double min() const noexcept;
    double max() const noexcept;
    double last() const noexcept;       ///< value of the newest sample
    double last_time() const noexcept;  ///< time of the newest sample

    /// Values in the window, oldest first.
    std::vector<double> values() const;
    /// Times in the window, oldest first (same order as values()).
    std::vector<double> times() const;

private:
    std::size_t slot(std::uint64_t seq) const noexcept { return static_cast<std::size_t>(seq % capacity_); }
    double value_at(std::uint64_t seq) const noexcept { return values_[slot(seq)]; }
    std::uint64_t oldest_seq() const noexcept { return next_seq_ - size_; }

    void evict_oldest() noexcept;
    void add_newest(double t, double x) noexcept;
    bool needs_recompute() const noexcept;
    void recompute() noexcept;

    std::size_t capacity_;
    std::vector<double> times_;
    std::vector<double> values_;
    SeqDeque max_seqs_;  // values decreasing front to back
    SeqDeque min_seqs_;  // values increasing front to back
    std::uint64_t next_seq_ = 0;  // sequence number of the next accepted sample
    std::size_t size_ = 0;
    std::uint64_t rejected_ = 0;

    double mean_ = 0.0;
    double m2_ = 0.0;  // sum of squared deviations from mean_
    double peak_m2_ = 0.0;
    double peak_abs_ = 0.0;
    std::size_t evictions_since_recompute_ = 0;
};

/// Column-wise statistics of every point in a RollingStatsBank, index i
/// describing point i. Same conventions as RollingStats (std is ddof = 1).
struct BankSnapshot {
    std::vector<std::int64_t> count;
    std::vector<double> mean;
    std::vector<double> std;
    std::vector<double> min;
    std::vector<double> max;
    std::vector<double> last;
    std::vector<double> last_time;
};

/// RollingStats for many points addressed by integer index 0..size()-1, so a
/// batch of readings can be applied in one call and the whole building read
/// back as columns.
///
/// Every public member locks an internal mutex, so the Python binding can
/// release the interpreter lock around batch work without two threads ever
/// touching the same window at once.
class RollingStatsBank {
public:
    /// Throws std::invalid_argument for a bad capacity (see RollingStats) or
    /// if points * capacity would exceed kMaxCapacity samples in all.
    RollingStatsBank(std::size_t points, std::size_t capacity);

    std::size_t size() const;
    std::size_t capacity() const;

    /// Adds one sample to point idx. Throws std::out_of_range for a bad idx.
    bool push(std::int64_t idx, double t, double x);

    /// Adds n samples: (t[k], x[k]) to point idx[k], in order. All indices are
    /// checked before anything is added, so a bad batch changes nothing
    /// (std::invalid_argument naming the first bad position). Returns how many
    /// samples were accepted (finite).
    std::size_t push_many(const std::int64_t* idx, const double* t, const double* x, std::size_t n);

    /// A copy of one point's window. Throws std::out_of_range for a bad idx.
    RollingStats point(std::int64_t idx) const;

    BankSnapshot snapshot() const;

    /// stale[i] is true when point i has no sample yet or its newest sample is
    /// older than max_age seconds at time now (now - last_time > max_age).
    /// Throws std::invalid_argument if now or max_age is NaN.
    std::vector<bool> stale(double now, double max_age) const;

private:
    void check_index(std::int64_t idx) const;

    mutable std::mutex mutex_;
    std::size_t capacity_;
    std::vector<RollingStats> points_;
};

}  // namespace edgewise
