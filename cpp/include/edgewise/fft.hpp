// Power spectrum of real windows of any length, for the band-energy features.
//
// Power-of-two lengths use a radix-2 FFT of half the length on the packed
// real input; other lengths go through Bluestein's chirp-z transform.  Complex
// arrays are kept as separate real and imaginary parts, so every loop works on
// plain doubles side by side and the compiler vectorises the butterflies.  A
// plan holds its scratch buffers, so each thread needs its own.
#pragma once

#include <cstddef>
#include <vector>

namespace edgewise {

// A complex sequence as two arrays: re[k] + i·im[k].
struct SplitComplex {
    std::vector<double> re, im;
    explicit SplitComplex(std::size_t n = 0) : re(n), im(n) {}
};

// An in-place radix-2 complex FFT of one power-of-two size.
class ComplexFft {
public:
    explicit ComplexFft(std::size_t n);
    std::size_t size() const { return n_; }
    void forward(double* re, double* im) const { run(re, im, 1.0); }
    void inverse(double* re, double* im) const { run(re, im, -1.0); }  // unscaled

private:
    void run(double* re, double* im, double sign) const;

    std::size_t n_;
    std::vector<std::size_t> bit_reverse_;
    SplitComplex twiddles_;  // per stage of half-width h: e^{-2πij/2h}, j < h, from index h - 1
};

class RealPowerSpectrum {
public:
    explicit RealPowerSpectrum(std::size_t n);

    std::size_t length() const { return n_; }
    std::size_t bins() const { return n_ / 2 + 1; }

    // power[k] = |X_k|^2 for k = 0 .. n/2, X the DFT of x[0 .. n) - offset.
    void compute(const double* x, double* power, double offset = 0.0);

private:
    void packed_real(const double* x, double* power, double offset);
    void bluestein(const double* x, double* power, double offset);

    std::size_t n_;
    bool power_of_two_;
    ComplexFft fft_;       // half length (power of two) or the Bluestein size
    SplitComplex split_;   // e^{-2πik/n}, packed-real split
    SplitComplex chirp_;   // e^{-iπk²/n}, Bluestein
    SplitComplex kernel_;  // FFT of the conjugate chirp
    SplitComplex work_;
};

}  // namespace edgewise
