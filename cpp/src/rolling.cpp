// Implementation of edgewise::RollingStats and RollingStatsBank; the
// numerical approach is explained in rolling.hpp.
#include "edgewise/rolling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace edgewise {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A drop below this fraction of the peak since the last exact recompute
// means the accumulated rounding error may no longer be small next to the
// current value, so the running sums are rebuilt from the buffer.
constexpr double kCollapse = 1.0 / 1024.0;

std::size_t checked_capacity(std::size_t capacity) {
    if (capacity == 0 || capacity > kMaxCapacity) {
        throw std::invalid_argument("capacity must be between 1 and " + std::to_string(kMaxCapacity) +
                                    ", got " + std::to_string(capacity));
    }
    return capacity;
}

// Neumaier's compensated summation: adds `x` to `sum`, keeping the lost
// low-order bits in `comp`.
void compensated_add(double& sum, double& comp, double x) noexcept {
    const double t = sum + x;
    comp += std::fabs(sum) >= std::fabs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
}

}  // namespace

// ---------------------------------------------------------------- SeqDeque

SeqDeque::SeqDeque(std::size_t capacity) : slots_(capacity) {}

std::uint64_t SeqDeque::back() const noexcept { return slots_[(head_ + size_ - 1) % slots_.size()]; }

void SeqDeque::push_back(std::uint64_t seq) noexcept {
    // Callers keep at most one entry per sample in the window, so the deque
    // never holds more than capacity entries.
    slots_[(head_ + size_) % slots_.size()] = seq;
    ++size_;
}

void SeqDeque::pop_front() noexcept {
    head_ = (head_ + 1) % slots_.size();
    --size_;
}

void SeqDeque::pop_back() noexcept { --size_; }

// ------------------------------------------------------------ RollingStats

RollingStats::RollingStats(std::size_t capacity)
    : capacity_(checked_capacity(capacity)),
      times_(capacity),
      values_(capacity),
      max_seqs_(capacity),
      min_seqs_(capacity) {}

bool RollingStats::push(double t, double x) {
    if (!std::isfinite(t) || !std::isfinite(x)) {
        ++rejected_;
        return false;
    }
    if (size_ == capacity_) {
        evict_oldest();
    }
    add_newest(t, x);
    if (needs_recompute()) {
        recompute();
    }
    return true;
}

void RollingStats::evict_oldest() noexcept {
    const std::uint64_t seq = oldest_seq();
    const double y = value_at(seq);
    if (max_seqs_.front() == seq) max_seqs_.pop_front();
    if (min_seqs_.front() == seq) min_seqs_.pop_front();
    --size_;
    ++evictions_since_recompute_;
    if (size_ == 0) {
        mean_ = m2_ = 0.0;
        return;
    }
    // Welford removal: undo the step that added y.
    const double n = static_cast<double>(size_);
    const double old_mean = mean_;
    mean_ -= (y - old_mean) / n;
    m2_ -= (y - old_mean) * (y - mean_);
}

void RollingStats::add_newest(double t, double x) noexcept {
    const std::uint64_t seq = next_seq_++;
    times_[slot(seq)] = t;
    values_[slot(seq)] = x;
    while (!max_seqs_.empty() && value_at(max_seqs_.back()) <= x) max_seqs_.pop_back();
    max_seqs_.push_back(seq);
    while (!min_seqs_.empty() && value_at(min_seqs_.back()) >= x) min_seqs_.pop_back();
    min_seqs_.push_back(seq);

    ++size_;
    const double n = static_cast<double>(size_);
    const double delta = x - mean_;
    mean_ += delta / n;
    m2_ += delta * (x - mean_);
    peak_m2_ = std::max(peak_m2_, m2_);
    peak_abs_ = std::max(peak_abs_, std::fabs(x));
}

bool RollingStats::needs_recompute() const noexcept {
    if (evictions_since_recompute_ == 0) {
        return false;  // nothing has left the window: no cancellation yet
    }
    if (evictions_since_recompute_ >= capacity_) {
        return true;
    }
    const double window_abs = std::max(std::fabs(min()), std::fabs(max()));
    // Written as negated comparisons so a NaN or inf in the sums also triggers.
    return !(m2_ >= peak_m2_ * kCollapse) || !(window_abs >= peak_abs_ * kCollapse) || !std::isfinite(mean_) ||
           !std::isfinite(m2_);
}

void RollingStats::recompute() noexcept {
    evictions_since_recompute_ = 0;
    const std::uint64_t first = oldest_seq();
    double sum = 0.0;
    double comp = 0.0;
    for (std::uint64_t s = first; s < next_seq_; ++s) compensated_add(sum, comp, value_at(s));
    const double n = static_cast<double>(size_);
    mean_ = (sum + comp) / n;
    // Corrected two-pass: sum of squared deviations minus the square of the
    // residual sum of deviations, which removes the error left in mean_.
    double sq = 0.0;
    double sq_comp = 0.0;
    double dev = 0.0;
    double dev_comp = 0.0;
    for (std::uint64_t s = first; s < next_seq_; ++s) {
        const double d = value_at(s) - mean_;
        compensated_add(sq, sq_comp, d * d);
        compensated_add(dev, dev_comp, d);
    }
    const double residual = dev + dev_comp;
    m2_ = std::max(0.0, (sq + sq_comp) - residual * residual / n);
    peak_m2_ = m2_;
    peak_abs_ = std::max(std::fabs(min()), std::fabs(max()));
}

void RollingStats::clear() noexcept {
    max_seqs_.clear();
    min_seqs_.clear();
    next_seq_ = 0;
    size_ = 0;
    rejected_ = 0;
    mean_ = m2_ = peak_m2_ = peak_abs_ = 0.0;
    evictions_since_recompute_ = 0;
}

double RollingStats::mean() const noexcept {
    if (size_ == 0) return kNaN;
    const double lo = min();
    const double hi = max();
    if (lo == hi) return lo;
    return std::clamp(mean_, lo, hi);
}

double RollingStats::pvariance() const noexcept {
    if (size_ == 0) return kNaN;
    if (min() == max()) return 0.0;
    return std::max(0.0, m2_) / static_cast<double>(size_);
}

double RollingStats::variance() const noexcept {
    if (size_ < 2) return kNaN;
    if (min() == max()) return 0.0;
    return std::max(0.0, m2_) / static_cast<double>(size_ - 1);
}

double RollingStats::std() const noexcept { return std::sqrt(variance()); }
double RollingStats::pstd() const noexcept { return std::sqrt(pvariance()); }

double RollingStats::min() const noexcept { return size_ == 0 ? kNaN : value_at(min_seqs_.front()); }
double RollingStats::max() const noexcept { return size_ == 0 ? kNaN : value_at(max_seqs_.front()); }
double RollingStats::last() const noexcept { return size_ == 0 ? kNaN : value_at(next_seq_ - 1); }
double RollingStats::last_time() const noexcept { return size_ == 0 ? kNaN : times_[slot(next_seq_ - 1)]; }

std::vector<double> RollingStats::values() const {
    std::vector<double> out;
    out.reserve(size_);
    for (std::uint64_t s = oldest_seq(); s < next_seq_; ++s) out.push_back(values_[slot(s)]);
    return out;
}

std::vector<double> RollingStats::times() const {
    std::vector<double> out;
    out.reserve(size_);
    for (std::uint64_t s = oldest_seq(); s < next_seq_; ++s) out.push_back(times_[slot(s)]);
    return out;
}

// -------------------------------------------------------- RollingStatsBank

namespace {

std::vector<RollingStats> make_points(std::size_t points, std::size_t capacity) {
    checked_capacity(capacity);
    if (points > kMaxCapacity / capacity) {
        throw std::invalid_argument("points * capacity must be at most " + std::to_string(kMaxCapacity) +
                                    ", got " + std::to_string(points) + " * " + std::to_string(capacity));
    }
    return std::vector<RollingStats>(points, RollingStats(capacity));
}

}  // namespace

RollingStatsBank::RollingStatsBank(std::size_t points, std::size_t capacity)
    : capacity_(capacity), points_(make_points(points, capacity)) {}

std::size_t RollingStatsBank::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return points_.size();
}

std::size_t RollingStatsBank::capacity() const { return capacity_; }

void RollingStatsBank::check_index(std::int64_t idx) const {
    if (idx < 0 || static_cast<std::uint64_t>(idx) >= points_.size()) {
        throw std::out_of_range("point index " + std::to_string(idx) + " is out of range for a bank of " +
                                std::to_string(points_.size()) + " points");
    }
}

bool RollingStatsBank::push(std::int64_t idx, double t, double x) {
    std::lock_guard<std::mutex> lock(mutex_);
    check_index(idx);
    return points_[static_cast<std::size_t>(idx)].push(t, x);
}

std::size_t RollingStatsBank::push_many(const std::int64_t* idx, const double* t, const double* x, std::size_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t k = 0; k < n; ++k) {
        if (idx[k] < 0 || static_cast<std::uint64_t>(idx[k]) >= points_.size()) {
            throw std::invalid_argument("idx[" + std::to_string(k) + "] = " + std::to_string(idx[k]) +
                                    " is out of range for a bank of " + std::to_string(points_.size()) +
                                    " points");
        }
    }
    std::size_t accepted = 0;
    for (std::size_t k = 0; k < n; ++k) {
        accepted += points_[static_cast<std::size_t>(idx[k])].push(t[k], x[k]) ? 1 : 0;
    }
    return accepted;
}

RollingStats RollingStatsBank::point(std::int64_t idx) const {
    std::lock_guard<std::mutex> lock(mutex_);
    check_index(idx);
    return points_[static_cast<std::size_t>(idx)];
}

BankSnapshot RollingStatsBank::snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    BankSnapshot snap;
    const std::size_t n = points_.size();
    snap.count.reserve(n);
    snap.mean.reserve(n);
    snap.std.reserve(n);
    snap.min.reserve(n);
    snap.max.reserve(n);
    snap.last.reserve(n);
    snap.last_time.reserve(n);
    for (const RollingStats& p : points_) {
        snap.count.push_back(static_cast<std::int64_t>(p.count()));
        snap.mean.push_back(p.mean());
        snap.std.push_back(p.std());
        snap.min.push_back(p.min());
        snap.max.push_back(p.max());
        snap.last.push_back(p.last());
        snap.last_time.push_back(p.last_time());
    }
    return snap;
}

std::vector<bool> RollingStatsBank::stale(double now, double max_age) const {
    if (std::isnan(now) || std::isnan(max_age)) {
        throw std::invalid_argument("now and max_age must not be NaN");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<bool> out;
    out.reserve(points_.size());
    for (const RollingStats& p : points_) {
        out.push_back(p.count() == 0 || now - p.last_time() > max_age);
    }
    return out;
}

}  // namespace edgewise
