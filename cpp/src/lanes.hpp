// Two doubles at a time, written with the GCC/Clang vector extension so the
// same code becomes SSE2 on any x86-64 and NEON on aarch64, the 128-bit
// registers both always have.  Private to the feature kernels: only the
// operations they need, no intrinsics.
#pragma once

#include <cstdint>
#include <cstring>

namespace edgewise::lanes {

using V = double __attribute__((vector_size(16)));
using Mask = std::int64_t __attribute__((vector_size(16)));  // all ones where a comparison holds

inline V load(const double* p) {
    V v;
    std::memcpy(&v, p, sizeof v);  // unaligned load
    return v;
}

inline V splat(double x) { return V{x, x}; }

inline V select(Mask m, V a, V b) {  // a where m holds, else b
    return reinterpret_cast<V>((reinterpret_cast<Mask>(a) & m) | (reinterpret_cast<Mask>(b) & ~m));
}

inline V min(V a, V b) { return select(a < b, a, b); }
inline V max(V a, V b) { return select(a > b, a, b); }

inline V abs(V a) {
    constexpr std::int64_t kNoSign = ~(std::int64_t{1} << 63);
    return reinterpret_cast<V>(reinterpret_cast<Mask>(a) & Mask{kNoSign, kNoSign});
}

inline double sum(V v) { return v[0] + v[1]; }
inline double min_of(V v) { return v[0] < v[1] ? v[0] : v[1]; }
inline double max_of(V v) { return v[0] > v[1] ? v[0] : v[1]; }
inline std::int64_t count(Mask m) { return -(m[0] + m[1]); }  // lanes where the comparison held

}  // namespace edgewise::lanes
