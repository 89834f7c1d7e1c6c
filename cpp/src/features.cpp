#include "edgewise/features.hpp"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <exception>
#include <memory>
#include <stdexcept>
#include <thread>
#include <utility>

#include "edgewise/fft.hpp"
#include "lanes.hpp"

// Four-lane kernels for CPUs with AVX2, compiled with target("avx2") and
// picked at run time; GCC and Clang on x86-64 can build them.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EDGEWISE_HAVE_AVX2_KERNELS 1
#include <immintrin.h>  // SSE2 always; AVX2 only inside functions marked target("avx2")
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace edgewise {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The quantiles the features need, as fractions, in ascending order.
constexpr double kQuantiles[] = {0.10, 0.25, 0.50, 0.75, 0.90};
constexpr int kQuantileCount = 5;

bool is_quantile(Feature f) {
    return f == Feature::kMedian || f == Feature::kP10 || f == Feature::kP25 || f == Feature::kP75 ||
           f == Feature::kP90 || f == Feature::kIqr;
}

bool cpu_has_avx2();

// What one window's features are computed from, decided once per call.
struct Plan {
    const FeatureRequest* request = nullptr;
    std::size_t length = 0;
    bool quantiles = false;
    bool spectrum = false;
    bool runs = false;  // the longest run above the mean is asked for
    bool avx2 = false;  // run the four-lane kernels
    std::vector<std::pair<std::size_t, std::size_t>> band_bins;  // [first, last) bin per band
};

Plan make_plan(const FeatureRequest& request, std::size_t length) {
    Plan plan;
    plan.request = &request;
    plan.length = length;
    plan.avx2 = request.simd && cpu_has_avx2();
    for (Feature f : request.features) {
        plan.quantiles = plan.quantiles || is_quantile(f);
        plan.spectrum = plan.spectrum || f == Feature::kBandEnergy;
        plan.runs = plan.runs || f == Feature::kLongestRunAboveMean;
    }
    const std::size_t bins = length / 2 + 1;
    const double len = static_cast<double>(length);
    for (const Band& band : request.bands) {
        // A bin belongs to a band when low <= k·fs/L < high (docs/features.md);
        // the frequencies grow with k, so the members are one range of bins.
        std::size_t first = bins, last = 0;
        for (std::size_t k = 0; k < bins; ++k) {
            const double f = static_cast<double>(k) * request.fs / len;
            if (band.low_hz <= f && f < band.high_hz) {
                first = std::min(first, k);
                last = k + 1;
            }
        }
        plan.band_bins.emplace_back(first < last ? first : 0, first < last ? last : 0);
    }
    return plan;
}

// Per-thread buffers, reused for every window the thread handles.
struct Scratch {
    explicit Scratch(const Plan& plan) : samples(plan.length) {
        if (plan.quantiles) {
            finite.resize(plan.length);
            buckets.resize(plan.length);
        }
        if (plan.spectrum) {
            spectrum = std::make_unique<RealPowerSpectrum>(plan.length);
            centered.resize(plan.length);
            power.resize(spectrum->bins());
        }
    }
    std::vector<double> samples;   // the window as doubles, when it is not already
    std::vector<double> finite;    // its finite samples (or the buckets that matter), reordered by selection
    std::vector<std::uint32_t> counts;  // samples per histogram bucket
    std::vector<std::uint16_t> buckets; // each sample's bucket
    std::vector<std::int32_t> slots;    // per bucket: where its samples go in `finite`, or -1
    std::vector<double> centered;  // mean removed, non-finite as 0, for the spectrum
    std::vector<double> power;
    std::unique_ptr<RealPowerSpectrum> spectrum;
};

// Every feature of one window (band energies separately, one per band).
struct Values {
    double v[kFeatureKinds];
    std::vector<double> bands;
};

struct Pass1 {
    std::size_t n = 0;
    double sum = 0.0, min = 0.0, max = 0.0;
    double sum_index = 0.0;  // Σ i over finite samples: for the slope's mean time
};

// Sum, min and max with no test per sample; the sum is finite only when every
// sample is (a NaN or inf anywhere poisons it), which is the common case.
template <typename V>
__attribute__((always_inline)) inline bool all_finite_pass(const double* x, std::size_t len, Pass1& p) {
    using namespace lanes;
    constexpr std::size_t w = Traits<V>::kWidth;
    V s0 = splat<V>(0.0), s1 = s0, lo = splat<V>(x[0]), hi = lo;
    std::size_t i = 0;
    for (; i + 2 * w <= len; i += 2 * w) {  // two vectors in flight: the adds do not wait on each other
        const V a = load<V>(x + i), b = load<V>(x + i + w);
        s0 += a;
        s1 += b;
        lo = min<V>(lo, min<V>(a, b));
        hi = max<V>(hi, max<V>(a, b));
    }
    double total = sum<V>(s0 + s1), mn = min_of<V>(lo), mx = max_of<V>(hi);
    for (; i < len; ++i) {
        total += x[i];
        mn = std::min(mn, x[i]);
        mx = std::max(mx, x[i]);
    }
    if (!std::isfinite(total)) return false;
    const double n = static_cast<double>(len);
    p.n = len;
    p.sum = total;
    p.min = mn;
    p.max = mx;
    p.sum_index = n * (n - 1.0) / 2.0;
    return true;
}

bool all_finite_pass(const double* x, std::size_t len, Pass1& p, bool avx2);

// Count, sum, min, max of the finite samples: the fast pass when there is no
// gap, else one that tests every sample.
Pass1 first_pass(const double* x, std::size_t len, bool avx2) {
    Pass1 p;
    if (all_finite_pass(x, len, p, avx2)) return p;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    double sum = 0.0, idx = 0.0;
    std::size_t n = 0;
    for (std::size_t i = 0; i < len; ++i) {
        const double v = x[i];
        if (!std::isfinite(v)) continue;
        sum += v;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        idx += static_cast<double>(i);
        ++n;
    }
    p.n = n;
    p.sum = sum;
    p.min = lo;
    p.max = hi;
    p.sum_index = idx;
    return p;
}

struct Pass2 {
    double sd = 0.0, m2 = 0.0, m3 = 0.0, m4 = 0.0;  // Σd, Σd², Σd³, Σd⁴ with d = x - mean
    double sxt = 0.0, stt = 0.0;  // Σ(x-x̄)(t-t̄), Σ(t-t̄)² in sample units
    double abs_change = 0.0, lag1 = 0.0;
    std::size_t pairs = 0, crossings = 0, above_threshold = 0, longest_run = 0;
};

#ifdef EDGEWISE_HAVE_AVX2_KERNELS
// Four comparisons per movmskpd; ends with vzeroupper like the other AVX2 kernels.
__attribute__((target("avx2"))) std::uint64_t above_bits_avx2(const double* x, std::size_t m, double mean) {
    std::uint64_t w = 0;
    std::size_t j = 0;
    const __m256d mu = _mm256_set1_pd(mean);
    for (; j + 8 <= m; j += 8) {
        const auto lo = static_cast<std::uint64_t>(_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(x + j), mu, _CMP_GT_OQ)));
        const auto hi =
            static_cast<std::uint64_t>(_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(x + j + 4), mu, _CMP_GT_OQ)));
        w |= (lo | hi << 4) << j;
    }
    _mm256_zeroupper();
    for (; j < m; ++j) w |= static_cast<std::uint64_t>(x[j] > mean) << j;
    return w;
}
#endif

// Bit j set when x[j] > mean, for up to 64 samples.
std::uint64_t above_bits(const double* x, std::size_t m, double mean, bool avx2) {
#ifdef EDGEWISE_HAVE_AVX2_KERNELS
    if (avx2) return above_bits_avx2(x, m, mean);
#endif
    (void)avx2;
    std::uint64_t w = 0;
    std::size_t j = 0;
#if defined(__SSE2__)
    // movmskpd turns two comparisons into two bits at once.
    const __m128d mu = _mm_set1_pd(mean);
    for (; j + 4 <= m; j += 4) {
        const auto lo = static_cast<std::uint64_t>(_mm_movemask_pd(_mm_cmpgt_pd(_mm_loadu_pd(x + j), mu)));
        const auto hi = static_cast<std::uint64_t>(_mm_movemask_pd(_mm_cmpgt_pd(_mm_loadu_pd(x + j + 2), mu)));
        w |= (lo | hi << 2) << j;
    }
#endif
    for (; j < m; ++j) w |= static_cast<std::uint64_t>(x[j] > mean) << j;
    return w;
}

// The longest run of set bits in w, in at most a dozen steps whatever the
// data: xs[k] marks where a run of at least 2^k bits starts (doubling), then
// the length is refined bit by bit from the largest power found.
std::size_t longest_ones(std::uint64_t w) {
    if (w == 0) return 0;
    std::uint64_t xs[7];
    xs[0] = w;
    int k = 0;
    while (k < 6) {
        const std::uint64_t longer = xs[k] & (xs[k] >> (1u << k));
        if (longer == 0) break;
        xs[++k] = longer;
    }
    if (k == 6) return 64;
    std::uint64_t at = xs[k];
    std::size_t length = std::size_t{1} << k;
    for (int j = k - 1; j >= 0; --j) {
        const std::uint64_t longer = at & (xs[j] >> length);
        if (longer != 0) {
            at = longer;
            length += std::size_t{1} << j;
        }
    }
    return length;
}

// Longest run of samples above the mean, 64 samples at a time: the
// comparisons become the bits of a word (no branch: on noisy data the
// comparison is a coin toss and mispredicting it cost more than the moments),
// then bit tricks measure the runs in each word and join them across words.
std::size_t longest_run_above(const double* x, std::size_t len, double mean, bool avx2) {
    std::size_t longest = 0, carry = 0;  // carry: the run that ends at the previous word's last sample
    for (std::size_t base = 0; base < len; base += 64) {
        const std::size_t m = std::min<std::size_t>(64, len - base);
        const std::uint64_t w = above_bits(x + base, m, mean, avx2);
        if (m == 64 && w == ~std::uint64_t{0}) {
            carry += 64;
            longest = std::max(longest, carry);
            continue;
        }
        const auto head = static_cast<std::size_t>(__builtin_ctzll(~w));  // ones from the word's first sample
        longest = std::max(longest, carry + std::min(head, m));
        longest = std::max(longest, longest_ones(w));
        const std::uint64_t top = w << (64 - m);  // the word's last sample at bit 63
        carry = (top >> 63) ? static_cast<std::size_t>(__builtin_clzll(~top)) : 0;
    }
    return longest;
}

// Second pass for a window without gaps and not constant: the moment sums in
// independent lanes, then the neighbour features, with no test per sample.
template <typename V>
__attribute__((always_inline)) inline Pass2 second_pass_all_finite(const double* x, std::size_t len, double mean,
                                                                   double mean_index, double threshold) {
    using namespace lanes;
    constexpr std::size_t w = Traits<V>::kWidth;
    Pass2 p;
    const V mu = splat<V>(mean), thr = splat<V>(threshold), zero = splat<V>(0.0);
    V sd = zero, m2 = zero, m3 = zero, m4 = zero, sxt = zero, change = zero, lag = zero;
    V t = iota<V>(0.0) - splat<V>(mean_index);
    const V step = splat<V>(static_cast<double>(w));
    MaskOf<V> over{}, crossed{};
    std::size_t i = 0;
    // Each sample with its right-hand neighbour: the moments and the pairs in
    // one sweep over the (cached) window.
    for (; i + w < len; i += w) {
        const V v = load<V>(x + i), next = load<V>(x + i + 1);
        const V d = v - mu, d2 = d * d;
        sd += d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
        sxt += d * t;
        t += step;
        over += v > thr;  // -1 per sample above
        change += abs<V>(next - v);
        lag += d * (next - mu);
        crossed += (v > mu) ^ (next > mu);  // -1 per crossing
    }
    double abs_change = sum<V>(change), lag1 = sum<V>(lag);
    std::int64_t above = count(over), crossings = count(crossed);
    for (std::size_t k = i; k + 1 < len; ++k) {  // the last pairs
        const double a = x[k], b2 = x[k + 1];
        abs_change += std::abs(b2 - a);
        lag1 += (a - mean) * (b2 - mean);
        crossings += (a > mean) != (b2 > mean);
    }
    double tail[5] = {0, 0, 0, 0, 0};
    for (; i < len; ++i) {  // the last samples
        const double v = x[i], d = v - mean, d2 = d * d;
        tail[0] += d;
        tail[1] += d2;
        tail[2] += d2 * d;
        tail[3] += d2 * d2;
        tail[4] += d * (static_cast<double>(i) - mean_index);
        above += v > threshold;
    }
    p.sd = sum<V>(sd) + tail[0];
    p.m2 = sum<V>(m2) + tail[1];
    p.m3 = sum<V>(m3) + tail[2];
    p.m4 = sum<V>(m4) + tail[3];
    p.sxt = sum<V>(sxt) + tail[4];
    const double n = static_cast<double>(len);
    p.stt = n * (n * n - 1.0) / 12.0;  // Σ(i - ī)² for i = 0 .. n-1
    p.above_threshold = static_cast<std::size_t>(above);
    p.abs_change = abs_change;
    p.lag1 = lag1;
    p.crossings = static_cast<std::size_t>(crossings);
    p.pairs = len - 1;
    return p;
}

// The kernels for the vector width the CPU can do: four lanes in functions
// compiled for AVX2 where it is present (chosen at run time, so one wheel runs
// on any x86-64), two lanes (SSE2, NEON) everywhere else.
#ifdef EDGEWISE_HAVE_AVX2_KERNELS
// Each ends with vzeroupper: SSE code run after 256-bit instructions that left
// the upper halves dirty pays a penalty on every instruction (measured: the
// FFT that follows ran at two thirds of its speed).
__attribute__((target("avx2"))) bool all_finite_pass_avx2(const double* x, std::size_t len, Pass1& p) {
    const bool finite = all_finite_pass<lanes::V4>(x, len, p);
    __builtin_ia32_vzeroupper();
    return finite;
}
__attribute__((target("avx2"))) Pass2 second_pass_all_finite_avx2(const double* x, std::size_t len, double mean,
                                                                  double mean_index, double threshold) {
    const Pass2 p = second_pass_all_finite<lanes::V4>(x, len, mean, mean_index, threshold);
    __builtin_ia32_vzeroupper();
    return p;
}
#endif

bool cpu_has_avx2() {
#ifdef EDGEWISE_HAVE_AVX2_KERNELS
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

bool all_finite_pass(const double* x, std::size_t len, Pass1& p, bool avx2) {
#ifdef EDGEWISE_HAVE_AVX2_KERNELS
    if (avx2) return all_finite_pass_avx2(x, len, p);
#endif
    (void)avx2;
    return all_finite_pass<lanes::V2>(x, len, p);
}

Pass2 second_pass_all_finite(const double* x, std::size_t len, double mean, double mean_index, double threshold,
                             bool avx2, bool runs) {
#ifdef EDGEWISE_HAVE_AVX2_KERNELS
    Pass2 p = avx2 ? second_pass_all_finite_avx2(x, len, mean, mean_index, threshold)
                   : second_pass_all_finite<lanes::V2>(x, len, mean, mean_index, threshold);
#else
    Pass2 p = second_pass_all_finite<lanes::V2>(x, len, mean, mean_index, threshold);
#endif
    if (runs) p.longest_run = longest_run_above(x, len, mean, avx2);  // its own pass: only when asked
    return p;
}

// The second pass for a window with gaps or a constant one: every sample is
// tested, and a gap breaks pairs and runs.
Pass2 second_pass(const double* x, std::size_t len, double mean, double mean_index, bool constant, double threshold) {
    Pass2 p;
    bool prev_finite = false, prev_above = false;
    double prev = 0.0, prev_d = 0.0;
    std::size_t run = 0;
    for (std::size_t i = 0; i < len; ++i) {
        const double v = x[i];
        if (!std::isfinite(v)) {
            prev_finite = false;
            run = 0;
            continue;
        }
        const double d = constant ? 0.0 : v - mean;
        const double d2 = d * d;
        p.sd += d;
        p.m2 += d2;
        p.m3 += d2 * d;
        p.m4 += d2 * d2;
        const double dt = static_cast<double>(i) - mean_index;
        p.sxt += d * dt;
        p.stt += dt * dt;
        const bool above = !constant && v > mean;
        p.above_threshold += v > threshold;
        run = above ? run + 1 : 0;
        p.longest_run = std::max(p.longest_run, run);
        if (prev_finite) {
            ++p.pairs;
            p.abs_change += std::abs(v - prev);
            p.crossings += above != prev_above;
            p.lag1 += d * prev_d;
        }
        prev_finite = true;
        prev_above = above;
        prev = v;
        prev_d = d;
    }
    return p;
}

// Partitions [lo, hi) around a median-of-three pivot and returns the pivot's
// final place: smaller values before it, the rest after.  Branchless (Lomuto
// with an unconditional swap): on noisy sensor data the comparison is a coin
// toss, and std::nth_element's mispredicted branches made it 3x slower.
std::size_t partition(double* q, std::size_t lo, std::size_t hi) {
    const std::size_t mid = lo + (hi - lo) / 2, last = hi - 1;
    if (q[mid] < q[lo]) std::swap(q[mid], q[lo]);
    if (q[last] < q[lo]) std::swap(q[last], q[lo]);
    if (q[mid] < q[last]) std::swap(q[mid], q[last]);  // now q[last] is the median of the three
    const double pivot = q[last];
    std::size_t i = lo;
    for (std::size_t j = lo; j < last; ++j) {
        const double v = q[j];
        q[j] = q[i];
        q[i] = v;
        i += v < pivot;
    }
    std::swap(q[i], q[last]);
    return i;
}

// Puts the k-th smallest of [lo, hi) at q[k], smaller before, larger after.
void select(double* q, std::size_t lo, std::size_t hi, std::size_t k) {
    // Many equal values make each partition peel off a single element; past
    // this budget, hand over to std::nth_element, which stays O(n).
    int budget = 64;
    while (hi - lo > 16 && budget-- > 0) {
        const std::size_t p = partition(q, lo, hi);
        if (p == k) return;
        if (k < p) hi = p; else lo = p + 1;
    }
    std::nth_element(q + lo, q + k, q + hi);
}

// Puts the order statistics at `ks[a..b)` (ascending) in place, splitting
// the range at the middle one, so later selections work on smaller ranges.
void select_ranks(double* q, std::size_t lo, std::size_t hi, const std::size_t* ks, std::size_t a, std::size_t b) {
    if (a >= b || lo >= hi) return;
    const std::size_t mid = a + (b - a) / 2;
    const std::size_t k = ks[mid];
    select(q, lo, hi, k);
    select_ranks(q, lo, k, ks, a, mid);
    select_ranks(q, k + 1, hi, ks, mid + 1, b);
}

constexpr std::size_t kMaxRanks = 2 * kQuantileCount;

// The order statistics at `ranks` (ascending, distinct, at most kMaxRanks) of
// the finite samples, by selection on a copy of them.
void select_order_statistics(const double* x, std::size_t len, std::size_t n, const std::size_t* ranks,
                             std::size_t count, double* q, double* values) {
    std::size_t m = 0;
    for (std::size_t i = 0; i < len; ++i) {
        if (std::isfinite(x[i])) q[m++] = x[i];
    }
    select_ranks(q, 0, n, ranks, 0, count);
    for (std::size_t r = 0; r < count; ++r) values[r] = q[ranks[r]];
}

// The same through a histogram between min and max: one pass counts the
// samples per bucket, which tells the bucket of every wanted rank; a second
// pass gathers only those buckets' samples, and selection runs on them alone.
// A bucket index floor((x - min) * scale) never decreases as x grows, whatever
// the rounding, so the buckets are ordered like the values and the result is
// exact.  Returns false when the range is too wide or narrow to scale.
bool histogram_order_statistics(const double* x, std::size_t len, double mn, double mx, const std::size_t* ranks,
                                std::size_t count, Scratch& s, double* values) {
    const std::size_t n_buckets = std::clamp<std::size_t>(len / 4, 16, 4096);
    const double scale = static_cast<double>(n_buckets) / (mx - mn);
    if (!std::isfinite(scale) || !(scale > 0.0)) return false;
    const auto bucket_of = [mn, scale, n_buckets](double v) {
        const auto b = static_cast<std::size_t>((v - mn) * scale);
        return b < n_buckets ? b : n_buckets - 1;
    };
    std::vector<std::uint32_t>& counts = s.counts;
    std::vector<std::uint16_t>& bucket = s.buckets;  // each sample's bucket; n_buckets for a gap
    counts.assign(n_buckets + 1, 0);
    for (std::size_t i = 0; i < len; ++i) {
        const auto b = static_cast<std::uint16_t>(std::isfinite(x[i]) ? bucket_of(x[i]) : n_buckets);
        bucket[i] = b;
        ++counts[b];
    }
    // Where each wanted rank falls: its bucket's slot and its rank inside it.
    std::vector<std::int32_t>& slot_of = s.slots;
    slot_of.assign(n_buckets + 1, -1);
    std::size_t slot_start[kMaxRanks + 1], rank_slot[kMaxRanks], local[kMaxRanks];
    std::size_t slots = 0, cum = 0, r = 0;
    slot_start[0] = 0;
    for (std::size_t b = 0; b < n_buckets && r < count; ++b) {
        const std::size_t c = counts[b];
        while (r < count && ranks[r] < cum + c) {
            if (slot_of[b] < 0) {
                slot_of[b] = static_cast<std::int32_t>(slots);
                slot_start[slots + 1] = slot_start[slots] + c;
                ++slots;
            }
            rank_slot[r] = static_cast<std::size_t>(slot_of[b]);
            local[r] = ranks[r] - cum;
            ++r;
        }
        cum += c;
    }
    double* q = s.finite.data();
    std::size_t fill[kMaxRanks];
    std::copy(slot_start, slot_start + slots, fill);
    for (std::size_t i = 0; i < len; ++i) {
        const std::int32_t slot = slot_of[bucket[i]];  // -1 for gaps and unwanted buckets
        if (slot >= 0) q[fill[slot]++] = x[i];
    }
    for (std::size_t k = 0; k < slots; ++k) {
        std::size_t ks[kMaxRanks], nk = 0;
        for (std::size_t i = 0; i < count; ++i) {
            if (rank_slot[i] == k) ks[nk++] = local[i];
        }
        double* region = q + slot_start[k];
        select_ranks(region, 0, slot_start[k + 1] - slot_start[k], ks, 0, nk);
        for (std::size_t i = 0; i < count; ++i) {
            if (rank_slot[i] == k) values[i] = region[local[i]];
        }
    }
    return true;
}

// Linear interpolation between order statistics, numpy's default method.
void quantiles(const double* x, std::size_t len, const Pass1& p1, bool constant, Scratch& s,
               double out[kQuantileCount]) {
    if (constant) {
        std::fill(out, out + kQuantileCount, p1.min);
        return;
    }
    const std::size_t n = p1.n;
    std::size_t ranks[kMaxRanks], count = 0;
    for (double p : kQuantiles) {
        const auto lo = static_cast<std::size_t>(std::floor(static_cast<double>(n - 1) * p));
        ranks[count++] = lo;
        if (lo + 1 < n) ranks[count++] = lo + 1;
    }
    for (std::size_t i = 1; i < count; ++i) {  // insertion sort: at most ten, nearly in order
        for (std::size_t j = i; j > 0 && ranks[j - 1] > ranks[j]; --j) std::swap(ranks[j - 1], ranks[j]);
    }
    count = static_cast<std::size_t>(std::unique(ranks, ranks + count) - ranks);
    double values[kMaxRanks];
    // Below a few hundred samples the copy and selection are as fast.
    if (n < 256 || !histogram_order_statistics(x, len, p1.min, p1.max, ranks, count, s, values)) {
        select_order_statistics(x, len, n, ranks, count, s.finite.data(), values);
    }
    const auto value_at = [&](std::size_t rank) { return values[std::lower_bound(ranks, ranks + count, rank) - ranks]; };
    for (int j = 0; j < kQuantileCount; ++j) {
        const double h = static_cast<double>(n - 1) * kQuantiles[j];
        const auto lo = static_cast<std::size_t>(std::floor(h));
        const double t = h - static_cast<double>(lo);
        const double a = value_at(lo);
        out[j] = (t == 0.0 || lo + 1 >= n) ? a : a + (value_at(lo + 1) - a) * t;
    }
}

void band_energies(const Plan& plan, const double* x, double mean, bool gaps, Scratch& s, std::vector<double>& out) {
    const std::size_t len = plan.length;
    if (gaps) {  // a gap counts as the mean: zero once the mean is removed
        for (std::size_t i = 0; i < len; ++i) s.centered[i] = std::isfinite(x[i]) ? x[i] - mean : 0.0;
        s.spectrum->compute(s.centered.data(), s.power.data());
    } else {
        s.spectrum->compute(x, s.power.data(), mean);
    }
    const double scale = 1.0 / static_cast<double>(len);
    for (std::size_t b = 0; b < plan.band_bins.size(); ++b) {
        double e = 0.0;
        for (std::size_t k = plan.band_bins[b].first; k < plan.band_bins[b].second; ++k) e += s.power[k];
        out[b] = e * scale;
    }
}

void empty_window(const Plan& plan, Values& r) {
    std::fill(std::begin(r.v), std::end(r.v), kNaN);
    r.v[static_cast<int>(Feature::kCount)] = 0.0;
    r.v[static_cast<int>(Feature::kMeanCrossings)] = 0.0;
    r.v[static_cast<int>(Feature::kLongestRunAboveMean)] = 0.0;
    r.v[static_cast<int>(Feature::kTimeAboveThreshold)] = 0.0;
    r.bands.assign(plan.band_bins.size(), kNaN);
}

void compute_window(const Plan& plan, const double* x, Scratch& s, Values& r) {
    const FeatureRequest& req = *plan.request;
    const std::size_t len = plan.length;
    const Pass1 p1 = first_pass(x, len, plan.avx2);
    if (p1.n == 0) {
        empty_window(plan, r);
        return;
    }
    const double n = static_cast<double>(p1.n);
    const bool constant = p1.min == p1.max;
    const double mean = constant ? p1.min : p1.sum / n;
    const Pass2 p2 = p1.n == len && !constant
                         ? second_pass_all_finite(x, len, mean, p1.sum_index / n, req.threshold, plan.avx2, plan.runs)
                         : second_pass(x, len, mean, p1.sum_index / n, constant, req.threshold);
    // Σd is zero but for the rounding of the mean; correcting the moments by
    // c = Σd/n (the corrected two-pass algorithm) removes that rounding, which
    // otherwise dominates when the spread is tiny next to the level.
    const double c = p2.sd / n;
    const double e2 = p2.m2 / n, e3 = p2.m3 / n, e4 = p2.m4 / n;
    const double m2 = std::max(0.0, e2 - c * c);
    const double m3 = e3 - 3.0 * c * e2 + 2.0 * c * c * c;
    const double m4 = e4 - 4.0 * c * e3 + 6.0 * c * c * e2 - 3.0 * c * c * c * c;
    auto set = [&r](Feature f, double value) { r.v[static_cast<int>(f)] = value; };
    set(Feature::kCount, n);
    const double true_mean = mean + c;
    set(Feature::kMean, true_mean);
    set(Feature::kStd, std::sqrt(m2));
    set(Feature::kMin, p1.min);
    set(Feature::kMax, p1.max);
    set(Feature::kRange, p1.max - p1.min);
    // Σx²/n = x̄² + m₂: no Σx² of its own, and no cancellation between big squares.
    set(Feature::kRms, std::sqrt(true_mean * true_mean + m2));
    set(Feature::kSkewness, constant ? kNaN : m3 / (m2 * std::sqrt(m2)));
    set(Feature::kKurtosis, constant ? kNaN : m4 / (m2 * m2) - 3.0);
    set(Feature::kMeanAbsChange, p2.pairs ? p2.abs_change / static_cast<double>(p2.pairs) : kNaN);
    set(Feature::kMeanCrossings, static_cast<double>(p2.crossings));
    set(Feature::kSlope, p1.n < 2 ? kNaN : p2.sxt / p2.stt * req.fs);
    set(Feature::kLag1Autocorr, constant ? kNaN : p2.lag1 / p2.m2);
    set(Feature::kTimeAboveThreshold, static_cast<double>(p2.above_threshold) / req.fs);
    set(Feature::kLongestRunAboveMean, static_cast<double>(p2.longest_run));
    if (plan.quantiles) {
        double q[kQuantileCount];
        quantiles(x, len, p1, constant, s, q);
        set(Feature::kP10, q[0]);
        set(Feature::kP25, q[1]);
        set(Feature::kMedian, q[2]);
        set(Feature::kP75, q[3]);
        set(Feature::kP90, q[4]);
        set(Feature::kIqr, q[3] - q[1]);
    }
    if (plan.spectrum) band_energies(plan, x, mean, p1.n != len, s, r.bands);
}

template <typename T>
const double* window_as_doubles(const WindowMatrix<T>& x, std::size_t w, std::vector<double>& buffer) {
    const T* row = x.data + static_cast<std::ptrdiff_t>(w) * x.row_stride;
    if constexpr (std::is_same_v<T, double>) {
        if (x.col_stride == 1) return row;  // read in place
    }
    for (std::size_t i = 0; i < x.length; ++i) buffer[i] = static_cast<double>(row[static_cast<std::ptrdiff_t>(i) * x.col_stride]);
    return buffer.data();
}

void store(const Plan& plan, const Values& r, std::size_t w, std::size_t windows, double* out) {
    std::size_t col = 0;
    for (Feature f : plan.request->features) {
        if (f == Feature::kBandEnergy) {
            for (double e : r.bands) out[col++ * windows + w] = e;
        } else {
            out[col++ * windows + w] = r.v[static_cast<int>(f)];
        }
    }
}

template <typename T>
void extract_range(const WindowMatrix<T>& x, const Plan& plan, double* out, std::size_t first, std::size_t last) {
    Scratch scratch(plan);
    Values values;
    values.bands.assign(plan.band_bins.size(), kNaN);
    for (std::size_t w = first; w < last; ++w) {
        const double* window = window_as_doubles(x, w, scratch.samples);
        compute_window(plan, window, scratch, values);
        store(plan, values, w, x.windows, out);
    }
}

}  // namespace

const char* feature_name(Feature f) {
    static constexpr const char* kNames[kFeatureKinds] = {
        "count", "mean", "std", "min", "max", "range", "rms", "skewness", "kurtosis", "median", "p10",
        "p25", "p75", "p90", "iqr", "mean_abs_change", "mean_crossings", "slope", "lag1_autocorr",
        "band_energy", "time_above_threshold", "longest_run_above_mean",
    };
    return kNames[static_cast<int>(f)];
}

std::size_t column_count(const FeatureRequest& request) {
    std::size_t n = 0;
    for (Feature f : request.features) n += f == Feature::kBandEnergy ? request.bands.size() : 1;
    return n;
}

void validate(const FeatureRequest& request) {
    if (!(request.fs > 0.0) || !std::isfinite(request.fs)) {
        throw std::invalid_argument("fs must be a finite number > 0, got " + std::to_string(request.fs));
    }
    if (std::isnan(request.threshold)) throw std::invalid_argument("threshold must not be NaN");
    for (const Band& b : request.bands) {
        if (!(b.low_hz >= 0.0) || !std::isfinite(b.low_hz) || !(b.high_hz > b.low_hz)) {
            throw std::invalid_argument("each band needs 0 <= low < high (high may be inf), got (" +
                                        std::to_string(b.low_hz) + ", " + std::to_string(b.high_hz) + ")");
        }
    }
    if (request.features.empty()) throw std::invalid_argument("no feature requested");
}

template <typename T>
void extract_features(const WindowMatrix<T>& x, const FeatureRequest& request, double* out, int threads) {
    validate(request);
    if (x.length == 0 || x.windows == 0) throw std::invalid_argument("the windows must not be empty");
    if (threads < 1) throw std::invalid_argument("threads must be >= 1");
    const Plan plan = make_plan(request, x.length);
    const std::size_t workers = std::min<std::size_t>(static_cast<std::size_t>(threads), x.windows);
    if (workers == 1) {
        extract_range(x, plan, out, 0, x.windows);
        return;
    }
    std::vector<std::thread> pool;
    std::vector<std::exception_ptr> errors(workers);
    pool.reserve(workers);
    for (std::size_t t = 0; t < workers; ++t) {
        const std::size_t first = x.windows * t / workers, last = x.windows * (t + 1) / workers;
        pool.emplace_back([&, t, first, last] {
            try {
                extract_range(x, plan, out, first, last);
            } catch (...) {
                errors[t] = std::current_exception();
            }
        });
    }
    for (auto& th : pool) th.join();
    for (auto& e : errors) {
        if (e) std::rethrow_exception(e);
    }
}

template void extract_features<double>(const WindowMatrix<double>&, const FeatureRequest&, double*, int);
template void extract_features<float>(const WindowMatrix<float>&, const FeatureRequest&, double*, int);

}  // namespace edgewise
