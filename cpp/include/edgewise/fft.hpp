// Power spectrum of real windows of any length, for the band-energy features.
//
// Power-of-two lengths use a radix-2 FFT of half the length on the packed
// real input; other lengths go through Bluestein's chirp-z transform.  A plan
// holds its scratch buffers, so each thread needs its own.
#pragma once

#include <complex>
#include <cstddef>
#include <vector>

namespace edgewise {

// An in-place radix-2 complex FFT of one power-of-two size.
class ComplexFft {
public:
    explicit ComplexFft(std::size_t n);
    std::size_t size() const { return n_; }
    void forward(std::complex<double>* data) const;
    void inverse(std::complex<double>* data) const;  // unscaled

private:
    void run(std::complex<double>* data, bool inverse) const;

    std::size_t n_;
    std::vector<std::size_t> bit_reverse_;
    std::vector<std::complex<double>> twiddles_;  // per stage of half-width h: e^{-2πij/2h}, from h - 1
};

class RealPowerSpectrum {
public:
    explicit RealPowerSpectrum(std::size_t n);

    std::size_t length() const { return n_; }
    std::size_t bins() const { return n_ / 2 + 1; }

    // power[k] = |X_k|^2 for k = 0 .. n/2, X the DFT of x[0 .. n).
    void compute(const double* x, double* power);

private:
    void packed_real(const double* x, double* power);
    void bluestein(const double* x, double* power);

    std::size_t n_;
    bool power_of_two_;
    ComplexFft fft_;  // half length (power of two) or the Bluestein size
    std::vector<std::complex<double>> split_;    // e^{-2πik/n}, packed-real split
    std::vector<std::complex<double>> chirp_;    // e^{-iπk²/n}, Bluestein
    std::vector<std::complex<double>> kernel_;   // FFT of the conjugate chirp
    std::vector<std::complex<double>> work_;
};

}  // namespace edgewise
