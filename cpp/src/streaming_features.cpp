#include "edgewise/streaming_features.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace edgewise {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

StreamingFeatures::StreamingFeatures(std::size_t window, double fs, double threshold)
    : capacity_(window), fs_(fs), threshold_(threshold), ring_(window), min_q_(window), max_q_(window) {
    if (window == 0) throw std::invalid_argument("window must be at least 1 sample");
    if (!(fs > 0.0) || !std::isfinite(fs)) throw std::invalid_argument("fs must be a finite number > 0");
    if (std::isnan(threshold)) throw std::invalid_argument("threshold must not be NaN");
}

void StreamingFeatures::clear() {
    *this = StreamingFeatures(capacity_, fs_, threshold_);
}

double StreamingFeatures::at(std::size_t age) const {
    return ring_[static_cast<std::size_t>((pushed_ - size_ + age) % capacity_)];
}

void StreamingFeatures::push(double x) {
    if (size_ == capacity_) {
        remove_oldest();
        // Before the new sample joins: a queue never holds more than the window.
        expire(min_q_, min_head_, min_len_);
        expire(max_q_, max_head_, max_len_);
    }
    const std::size_t position = size_;
    if (size_ > 0) {
        const double previous = at(size_ - 1);
        if (std::isfinite(previous) && std::isfinite(x)) add_pair(previous, x, 1.0);
    }
    ring_[static_cast<std::size_t>(pushed_ % capacity_)] = x;
    if (std::isfinite(x)) {
        add_sample(x, position);
        push_extreme(min_q_, min_head_, min_len_, true, pushed_, x);
        push_extreme(max_q_, max_head_, max_len_, false, pushed_, x);
    }
    ++size_;
    ++pushed_;
    // Adding and removing lets rounding errors pile up, and a drifting mean
    // moves away from the shift: recompute exactly once per window (amortised
    // O(1)), or sooner when the mean has moved far from the shift.
    ++since_recompute_;
    const double ybar = shifted_mean();
    const double spread = n_ > 1 ? s2_ / static_cast<double>(n_) - ybar * ybar : 0.0;
    if (dirty_ || since_recompute_ >= capacity_ ||
        (n_ > 1 && ybar * ybar > 16.0 * spread && since_recompute_ * 16 >= capacity_)) {
        recompute();
    }
}

void StreamingFeatures::add_sample(double x, std::size_t position) {
    const double y = x - shift_;
    const double y2 = y * y;
    const double j = static_cast<double>(position);
    ++n_;
    s1_ += y;
    s2_ += y2;
    s3_ += y2 * y;
    s4_ += y2 * y2;
    sum_sq_ += x * x;
    sj_ += j;
    sjj_ += j * j;
    sjy_ += j * y;
    above_ += x > threshold_;
}

void StreamingFeatures::add_pair(double a, double b, double sign) {
    const double ya = a - shift_, yb = b - shift_;
    pairs_ = sign > 0 ? pairs_ + 1 : pairs_ - 1;
    abs_change_ += sign * std::abs(b - a);
    pair_ab_ += sign * ya * yb;
    pair_a_ += sign * ya;
    pair_b_ += sign * yb;
}

// The oldest sample (position 0) leaves; everyone else moves one place down.
void StreamingFeatures::remove_oldest() {
    const double x = at(0);
    if (size_ > 1) {
        const double next = at(1);
        if (std::isfinite(x) && std::isfinite(next)) add_pair(x, next, -1.0);
    }
    if (std::isfinite(x)) {
        const double y = x - shift_;
        const double y2 = y * y;
        --n_;
        s1_ -= y;
        s2_ -= y2;
        s3_ -= y2 * y;
        s4_ -= y2 * y2;
        sum_sq_ -= x * x;
        above_ -= x > threshold_;
        // Its position is 0: it adds nothing to Σj, Σj², Σj·y.
        // A sample that dwarfed all the others takes their digits with it
        // (1 + 1e-40 - 1 = 0): recompute from the window after this push.
        dirty_ = dirty_ || y2 > 1e8 * std::abs(s2_) || x * x > 1e8 * std::abs(sum_sq_);
    }
    --size_;
    shift_positions();
}

void StreamingFeatures::shift_positions() {
    const double n = static_cast<double>(n_);
    sjj_ = sjj_ - 2.0 * sj_ + n;  // Σ(j-1)² = Σj² - 2Σj + n
    sj_ -= n;
    sjy_ -= s1_;
}

void StreamingFeatures::recompute() {
    since_recompute_ = 0;
    dirty_ = false;
    double sum = 0.0;
    std::size_t n = 0;
    for (std::size_t i = 0; i < size_; ++i) {
        const double x = at(i);
        if (std::isfinite(x)) {
            sum += x;
            ++n;
        }
    }
    shift_ = n ? sum / static_cast<double>(n) : 0.0;
    if (!std::isfinite(shift_)) shift_ = 0.0;
    n_ = 0;
    s1_ = s2_ = s3_ = s4_ = sum_sq_ = sj_ = sjj_ = sjy_ = 0.0;
    above_ = 0;
    pairs_ = 0;
    abs_change_ = pair_ab_ = pair_a_ = pair_b_ = 0.0;
    for (std::size_t i = 0; i < size_; ++i) {
        const double x = at(i);
        if (i > 0 && std::isfinite(x) && std::isfinite(at(i - 1))) add_pair(at(i - 1), x, 1.0);
        if (std::isfinite(x)) add_sample(x, i);
    }
}

void StreamingFeatures::push_extreme(std::vector<std::uint64_t>& queue, std::size_t& head, std::size_t& len,
                                     bool for_min, std::uint64_t index, double x) {
    while (len > 0) {
        const std::uint64_t back = queue[(head + len - 1) % capacity_];
        const double v = ring_[static_cast<std::size_t>(back % capacity_)];
        if (for_min ? v < x : v > x) break;
        --len;
    }
    queue[(head + len) % capacity_] = index;
    ++len;
}

void StreamingFeatures::expire(std::vector<std::uint64_t>& queue, std::size_t& head, std::size_t& len) {
    const std::uint64_t oldest = pushed_ - size_;
    while (len > 0 && queue[head] < oldest) {
        head = (head + 1) % capacity_;
        --len;
    }
}

double StreamingFeatures::extreme(const std::vector<std::uint64_t>& queue, std::size_t head, std::size_t len) const {
    if (len == 0) return kNaN;
    return ring_[static_cast<std::size_t>(queue[head] % capacity_)];
}

bool StreamingFeatures::constant() const { return n_ > 0 && min() == max(); }

double StreamingFeatures::shifted_mean() const { return n_ ? s1_ / static_cast<double>(n_) : 0.0; }

StreamingFeatures::Central StreamingFeatures::central() const {
    const double n = static_cast<double>(n_);
    const double ybar = s1_ / n;
    const double e2 = s2_ / n, e3 = s3_ / n, e4 = s4_ / n;
    const double yy = ybar * ybar;
    Central c;
    c.m2 = e2 - yy;
    if (!(yy <= 16.0 * c.m2)) return exact_central();  // the shift is stale: the sums would cancel
    c.m3 = e3 - 3.0 * ybar * e2 + 2.0 * yy * ybar;
    c.m4 = std::max(0.0, e4 - 4.0 * ybar * e3 + 6.0 * yy * e2 - 3.0 * yy * yy);
    c.lag1 = pair_ab_ - ybar * (pair_a_ + pair_b_) + static_cast<double>(pairs_) * yy;
    return c;
}

// Two passes over the window, as the batch code does; only needed when the
// mean has jumped far from the shift since the last recompute.
StreamingFeatures::Central StreamingFeatures::exact_central() const {
    double sum = 0.0;
    for (std::size_t i = 0; i < size_; ++i) {
        if (std::isfinite(at(i))) sum += at(i);
    }
    const double n = static_cast<double>(n_);
    const double mean = sum / n;
    Central c{0.0, 0.0, 0.0, 0.0};
    double previous = kNaN;
    for (std::size_t i = 0; i < size_; ++i) {
        const double x = at(i);
        if (std::isfinite(x)) {
            const double d = x - mean, d2 = d * d;
            c.m2 += d2;
            c.m3 += d2 * d;
            c.m4 += d2 * d2;
            if (std::isfinite(previous)) c.lag1 += (previous - mean) * d;
        }
        previous = x;
    }
    c.m2 /= n;
    c.m3 /= n;
    c.m4 /= n;
    return c;
}

double StreamingFeatures::mean() const {
    if (n_ == 0) return kNaN;
    return constant() ? min() : shift_ + shifted_mean();
}

double StreamingFeatures::std() const {
    if (n_ == 0) return kNaN;
    return constant() ? 0.0 : std::sqrt(central().m2);
}

double StreamingFeatures::min() const { return extreme(min_q_, min_head_, min_len_); }
double StreamingFeatures::max() const { return extreme(max_q_, max_head_, max_len_); }
double StreamingFeatures::range() const { return max() - min(); }

double StreamingFeatures::rms() const {
    return n_ ? std::sqrt(std::max(0.0, sum_sq_) / static_cast<double>(n_)) : kNaN;
}

double StreamingFeatures::skewness() const {
    if (n_ == 0 || constant()) return kNaN;
    const Central c = central();
    return c.m3 / (c.m2 * std::sqrt(c.m2));
}

double StreamingFeatures::kurtosis() const {
    if (n_ == 0 || constant()) return kNaN;
    const Central c = central();
    return c.m4 / (c.m2 * c.m2) - 3.0;
}

double StreamingFeatures::mean_abs_change() const {
    return pairs_ ? abs_change_ / static_cast<double>(pairs_) : kNaN;
}

double StreamingFeatures::slope() const {
    if (n_ < 2) return kNaN;
    if (constant()) return 0.0;
    const double n = static_cast<double>(n_);
    const double num = n * sjy_ - sj_ * s1_;
    const double den = n * sjj_ - sj_ * sj_;
    return num / den * fs_;
}

double StreamingFeatures::lag1_autocorr() const {
    if (n_ == 0 || constant()) return kNaN;
    const Central c = central();
    return c.lag1 / (c.m2 * static_cast<double>(n_));
}

double StreamingFeatures::time_above_threshold() const { return static_cast<double>(above_) / fs_; }

std::vector<double> StreamingFeatures::samples() const {
    std::vector<double> out(size_);
    for (std::size_t i = 0; i < size_; ++i) out[i] = at(i);
    return out;
}

}  // namespace edgewise
