// Features of the last `window` samples of one stream, kept up to date in
// O(1) per sample, for the agent's state layer (one per numeric point).
//
// The values equal what extract_features gives for the same window (see
// docs/features.md for the definitions and the tolerance); the features that
// depend on the order of the samples relative to the current mean (mean
// crossings, longest run above the mean) and the quantiles cannot be updated
// in O(1) and are left to the batch API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgewise {

class StreamingFeatures {
public:
    // window >= 1 samples; fs in Hz (> 0) scales the slope and the time above threshold.
    explicit StreamingFeatures(std::size_t window, double fs = 1.0, double threshold = 0.0);

    // Appends a sample (NaN and ±inf are kept as gaps); drops the oldest
    // when the window is full.
    void push(double x);
    void clear();

    std::size_t window() const { return capacity_; }
    std::size_t size() const { return size_; }       // samples in the window, gaps included
    std::size_t count() const { return n_; }         // finite samples in the window
    std::uint64_t pushed() const { return pushed_; } // samples ever pushed

    double mean() const;
    double std() const;
    double min() const;
    double max() const;
    double range() const;
    double rms() const;
    double skewness() const;
    double kurtosis() const;
    double mean_abs_change() const;
    double slope() const;
    double lag1_autocorr() const;
    double time_above_threshold() const;

    // The window's samples, oldest first.
    std::vector<double> samples() const;

private:
    struct Central {
        double m2, m3, m4;  // central moments, divided by n
        double lag1;        // Σ(x_i - x̄)(x_{i+1} - x̄) over neighbouring finite pairs
    };

    double at(std::size_t age_from_oldest) const;
    void add_sample(double x, std::size_t position);
    void remove_oldest();
    void add_pair(double a, double b, double sign);
    void shift_positions();
    void recompute();
    bool constant() const;
    double shifted_mean() const;  // mean of y = x - shift_
    Central central() const;
    Central exact_central() const;
    void push_extreme(std::vector<std::uint64_t>& queue, std::size_t& head, std::size_t& len, bool for_min,
                      std::uint64_t index, double x);
    double extreme(const std::vector<std::uint64_t>& queue, std::size_t head, std::size_t len) const;
    void expire(std::vector<std::uint64_t>& queue, std::size_t& head, std::size_t& len);

    std::size_t capacity_;
    double fs_;
    double threshold_;
    std::vector<double> ring_;
    std::size_t start_ = 0;  // ring index of the oldest sample
    std::size_t size_ = 0;
    std::uint64_t pushed_ = 0;
    std::size_t since_recompute_ = 0;
    bool dirty_ = false;  // a removal cancelled most of the sums' digits

    // Sums over the finite samples of y = x - shift_, kept near the mean so
    // the central moments do not cancel away.
    double shift_ = 0.0;
    std::size_t n_ = 0;
    double s1_ = 0.0, s2_ = 0.0, s3_ = 0.0, s4_ = 0.0;
    double sum_sq_ = 0.0;    // Σx² for the RMS
    double sj_ = 0.0, sjj_ = 0.0, sjy_ = 0.0;  // Σj, Σj², Σj·y with j the position in the window
    std::size_t above_ = 0;  // finite samples > threshold

    // Neighbouring pairs of finite samples.
    std::size_t pairs_ = 0;
    double abs_change_ = 0.0, pair_ab_ = 0.0, pair_a_ = 0.0, pair_b_ = 0.0;

    // Monotone queues of sample indices (pushed_ numbering) for min and max.
    std::vector<std::uint64_t> min_q_, max_q_;
    std::size_t min_head_ = 0, min_len_ = 0, max_head_ = 0, max_len_ = 0;
};

}  // namespace edgewise
