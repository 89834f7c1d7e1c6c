#include "edgewise/fft.hpp"

#include <cmath>
#include <stdexcept>

namespace edgewise {

namespace {

constexpr double kPi = 3.14159265358979323846;

bool is_power_of_two(std::size_t n) { return n != 0 && (n & (n - 1)) == 0; }

std::size_t next_power_of_two(std::size_t n) {
    std::size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

std::complex<double> unit(double turns) {  // e^{2πi·turns}
    return {std::cos(2.0 * kPi * turns), std::sin(2.0 * kPi * turns)};
}

// Plain complex product and squared magnitude.  std::complex's operator*
// calls a library routine that rescues inf/NaN products, and std::norm goes
// through hypot; the inputs here are always finite, and these are the hot loop.
inline std::complex<double> mul(std::complex<double> a, std::complex<double> b) {
    return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}

inline double norm2(std::complex<double> a) { return a.real() * a.real() + a.imag() * a.imag(); }

}  // namespace

ComplexFft::ComplexFft(std::size_t n) : n_(n), bit_reverse_(n), twiddles_(n > 1 ? n - 1 : 0) {
    if (!is_power_of_two(n)) throw std::invalid_argument("ComplexFft size must be a power of two");
    std::size_t bits = 0;
    while ((std::size_t{1} << bits) < n) ++bits;
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t r = 0;
        for (std::size_t b = 0; b < bits; ++b) r |= ((i >> b) & 1u) << (bits - 1 - b);
        bit_reverse_[i] = r;
    }
    // One contiguous table per stage: the stage whose butterflies span 2h
    // points uses e^{-2πij/2h}, j < h, stored from index h - 1.
    for (std::size_t h = 1; h < n; h <<= 1) {
        for (std::size_t j = 0; j < h; ++j) {
            twiddles_[h - 1 + j] = unit(-static_cast<double>(j) / static_cast<double>(2 * h));
        }
    }
}

void ComplexFft::forward(std::complex<double>* data) const { run(data, false); }
void ComplexFft::inverse(std::complex<double>* data) const { run(data, true); }

void ComplexFft::run(std::complex<double>* data, bool inverse) const {
    for (std::size_t i = 0; i < n_; ++i) {
        if (i < bit_reverse_[i]) std::swap(data[i], data[bit_reverse_[i]]);
    }
    for (std::size_t start = 0; start + 1 < n_; start += 2) {  // first stage: the twiddle is 1
        const std::complex<double> a = data[start], b = data[start + 1];
        data[start] = a + b;
        data[start + 1] = a - b;
    }
    const double sign = inverse ? -1.0 : 1.0;
    for (std::size_t half = 2; half < n_; half <<= 1) {
        const std::complex<double>* w = twiddles_.data() + half - 1;
        for (std::size_t start = 0; start < n_; start += 2 * half) {
            std::complex<double>* a = data + start;
            std::complex<double>* b = a + half;
            for (std::size_t j = 0; j < half; ++j) {
                const std::complex<double> wj(w[j].real(), sign * w[j].imag());
                const std::complex<double> t = mul(wj, b[j]);
                b[j] = a[j] - t;
                a[j] += t;
            }
        }
    }
}

RealPowerSpectrum::RealPowerSpectrum(std::size_t n)
    : n_(n),
      power_of_two_(is_power_of_two(n) && n >= 2),
      fft_(power_of_two_ ? n / 2 : next_power_of_two(2 * n - 1)) {
    if (n == 0) throw std::invalid_argument("RealPowerSpectrum needs a length >= 1");
    const double len = static_cast<double>(n);
    if (power_of_two_) {
        split_.resize(n / 2 + 1);
        for (std::size_t k = 0; k <= n / 2; ++k) split_[k] = unit(-static_cast<double>(k) / len);
        work_.resize(n / 2);
        return;
    }
    // Bluestein: X_k = c_k Σ_j (x_j c_j) conj(c_{k-j}), with c_k = e^{-iπk²/n}.
    // k² is reduced mod 2n first so the angle stays exact for long windows.
    const std::size_t m = fft_.size();
    chirp_.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t k2 = (k * k) % (2 * n);
        chirp_[k] = unit(-static_cast<double>(k2) / (2.0 * len));
    }
    kernel_.assign(m, {0.0, 0.0});
    kernel_[0] = std::conj(chirp_[0]);
    for (std::size_t k = 1; k < n; ++k) kernel_[k] = kernel_[m - k] = std::conj(chirp_[k]);
    fft_.forward(kernel_.data());
    work_.resize(m);
}

void RealPowerSpectrum::compute(const double* x, double* power) {
    if (n_ == 1) {
        power[0] = x[0] * x[0];
    } else if (power_of_two_) {
        packed_real(x, power);
    } else {
        bluestein(x, power);
    }
}

// The n real samples as n/2 complex ones; one half-size FFT, then the two
// interleaved spectra are separated: X_k = E_k + e^{-2πik/n} O_k.
void RealPowerSpectrum::packed_real(const double* x, double* power) {
    const std::size_t m = n_ / 2;
    for (std::size_t j = 0; j < m; ++j) work_[j] = {x[2 * j], x[2 * j + 1]};
    fft_.forward(work_.data());
    for (std::size_t k = 0; k <= m; ++k) {
        const std::complex<double> z = work_[k == m ? 0 : k];
        const std::complex<double> zc = std::conj(work_[k == 0 ? 0 : m - k]);
        const std::complex<double> even = 0.5 * (z + zc);
        const std::complex<double> diff = z - zc;
        const std::complex<double> odd(0.5 * diff.imag(), -0.5 * diff.real());  // (z - zc) / 2i
        power[k] = norm2(even + mul(split_[k], odd));
    }
}

void RealPowerSpectrum::bluestein(const double* x, double* power) {
    const std::size_t m = fft_.size();
    for (std::size_t j = 0; j < n_; ++j) work_[j] = x[j] * chirp_[j];
    for (std::size_t j = n_; j < m; ++j) work_[j] = {0.0, 0.0};
    fft_.forward(work_.data());
    for (std::size_t j = 0; j < m; ++j) work_[j] = mul(work_[j], kernel_[j]);
    fft_.inverse(work_.data());
    const double scale = 1.0 / static_cast<double>(m);
    for (std::size_t k = 0; k <= n_ / 2; ++k) power[k] = norm2(mul(work_[k], chirp_[k])) * scale * scale;
}

}  // namespace edgewise
