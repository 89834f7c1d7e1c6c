#include "edgewise/fft.hpp"

#include <cmath>
#include <stdexcept>
#include <utility>

namespace edgewise {

namespace {

constexpr double kPi = 3.14159265358979323846;

bool is_power_of_two(std::size_t n) { return n != 0 && (n & (n - 1)) == 0; }

std::size_t next_power_of_two(std::size_t n) {
    std::size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

// e^{2πi·turns} into (re, im).
void unit(double turns, double& re, double& im) {
    re = std::cos(2.0 * kPi * turns);
    im = std::sin(2.0 * kPi * turns);
}

// One stage's butterflies over `half` pairs (a, b): independent lanes, no
// reduction, no aliasing, so the compiler vectorises the loop.
void butterflies(double* __restrict ar, double* __restrict ai, double* __restrict br, double* __restrict bi,
                 const double* __restrict wr, const double* __restrict wi, double sign, std::size_t half) {
    for (std::size_t j = 0; j < half; ++j) {
        const double w_re = wr[j], w_im = sign * wi[j];
        const double tr = w_re * br[j] - w_im * bi[j];
        const double ti = w_re * bi[j] + w_im * br[j];
        br[j] = ar[j] - tr;
        bi[j] = ai[j] - ti;
        ar[j] += tr;
        ai[j] += ti;
    }
}

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
    for (std::size_t h = 1; h < n; h <<= 1) {
        for (std::size_t j = 0; j < h; ++j) {
            unit(-static_cast<double>(j) / static_cast<double>(2 * h), twiddles_.re[h - 1 + j], twiddles_.im[h - 1 + j]);
        }
    }
}

void ComplexFft::run(double* re, double* im, double sign) const {
    for (std::size_t i = 0; i < n_; ++i) {
        const std::size_t r = bit_reverse_[i];
        if (i < r) {
            std::swap(re[i], re[r]);
            std::swap(im[i], im[r]);
        }
    }
    for (std::size_t s = 0; s + 1 < n_; s += 2) {  // first stage: the twiddle is 1
        const double ar = re[s], ai = im[s], br = re[s + 1], bi = im[s + 1];
        re[s] = ar + br;
        im[s] = ai + bi;
        re[s + 1] = ar - br;
        im[s + 1] = ai - bi;
    }
    for (std::size_t half = 2; half < n_; half <<= 1) {
        const double* wr = twiddles_.re.data() + half - 1;
        const double* wi = twiddles_.im.data() + half - 1;
        for (std::size_t start = 0; start < n_; start += 2 * half) {
            butterflies(re + start, im + start, re + start + half, im + start + half, wr, wi, sign, half);
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
        split_ = SplitComplex(n / 2 + 1);
        for (std::size_t k = 0; k <= n / 2; ++k) unit(-static_cast<double>(k) / len, split_.re[k], split_.im[k]);
        work_ = SplitComplex(n / 2);
        return;
    }
    // Bluestein: X_k = c_k Σ_j (x_j c_j) conj(c_{k-j}), with c_k = e^{-iπk²/n}.
    // k² is reduced mod 2n first so the angle stays exact for long windows.
    const std::size_t m = fft_.size();
    chirp_ = SplitComplex(n);
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t k2 = (k * k) % (2 * n);
        unit(-static_cast<double>(k2) / (2.0 * len), chirp_.re[k], chirp_.im[k]);
    }
    kernel_ = SplitComplex(m);
    kernel_.re[0] = chirp_.re[0];
    kernel_.im[0] = -chirp_.im[0];
    for (std::size_t k = 1; k < n; ++k) {
        kernel_.re[k] = kernel_.re[m - k] = chirp_.re[k];
        kernel_.im[k] = kernel_.im[m - k] = -chirp_.im[k];
    }
    fft_.forward(kernel_.re.data(), kernel_.im.data());
    work_ = SplitComplex(m);
}

void RealPowerSpectrum::compute(const double* x, double* power, double offset) {
    if (n_ == 1) {
        power[0] = (x[0] - offset) * (x[0] - offset);
    } else if (power_of_two_) {
        packed_real(x, power, offset);
    } else {
        bluestein(x, power, offset);
    }
}

// The n real samples as n/2 complex ones; one half-size FFT, then the two
// interleaved spectra are separated: X_k = E_k + e^{-2πik/n} O_k with
// E_k = (Z_k + conj Z_{m-k}) / 2 and O_k = (Z_k - conj Z_{m-k}) / 2i.
void RealPowerSpectrum::packed_real(const double* x, double* power, double offset) {
    const std::size_t m = n_ / 2;
    double* re = work_.re.data();
    double* im = work_.im.data();
    for (std::size_t j = 0; j < m; ++j) {
        re[j] = x[2 * j] - offset;
        im[j] = x[2 * j + 1] - offset;
    }
    fft_.forward(re, im);
    for (std::size_t k = 0; k <= m; ++k) {
        const std::size_t a = k == m ? 0 : k, b = k == 0 ? 0 : m - k;
        const double zr = re[a], zi = im[a], cr = re[b], ci = -im[b];  // Z_k and conj Z_{m-k}
        const double er = 0.5 * (zr + cr), ei = 0.5 * (zi + ci);
        const double or_ = 0.5 * (zi - ci), oi = -0.5 * (zr - cr);
        const double sr = split_.re[k], si = split_.im[k];
        const double xr = er + sr * or_ - si * oi;
        const double xi = ei + sr * oi + si * or_;
        power[k] = xr * xr + xi * xi;
    }
}

void RealPowerSpectrum::bluestein(const double* x, double* power, double offset) {
    const std::size_t m = fft_.size();
    double* re = work_.re.data();
    double* im = work_.im.data();
    for (std::size_t j = 0; j < n_; ++j) {
        re[j] = (x[j] - offset) * chirp_.re[j];
        im[j] = (x[j] - offset) * chirp_.im[j];
    }
    for (std::size_t j = n_; j < m; ++j) re[j] = im[j] = 0.0;
    fft_.forward(re, im);
    for (std::size_t j = 0; j < m; ++j) {
        const double r = re[j] * kernel_.re[j] - im[j] * kernel_.im[j];
        const double i = re[j] * kernel_.im[j] + im[j] * kernel_.re[j];
        re[j] = r;
        im[j] = i;
    }
    fft_.inverse(re, im);
    const double scale = 1.0 / static_cast<double>(m);
    for (std::size_t k = 0; k <= n_ / 2; ++k) {
        const double r = re[k] * chirp_.re[k] - im[k] * chirp_.im[k];
        const double i = re[k] * chirp_.im[k] + im[k] * chirp_.re[k];
        power[k] = (r * r + i * i) * scale * scale;
    }
}

}  // namespace edgewise
