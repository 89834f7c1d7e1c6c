// Doubles side by side, written with the GCC/Clang vector extension so the
// same kernels compile to SSE2 on any x86-64 and NEON on aarch64 (two lanes,
// the 128-bit registers both always have) and, where the CPU has AVX2, to
// four lanes in a clone chosen at run time.  Private to the feature kernels:
// only the operations they need, no intrinsics.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__GNUC__) && !defined(__clang__)
// Four-lane vectors only ever live inside functions compiled for AVX2; the
// warning is about passing them to code that is not, which never happens.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace edgewise::lanes {

using V2 = double __attribute__((vector_size(16)));
using M2 = std::int64_t __attribute__((vector_size(16)));  // all ones where a comparison holds
using V4 = double __attribute__((vector_size(32)));
using M4 = std::int64_t __attribute__((vector_size(32)));

template <typename V>
struct Traits;
template <>
struct Traits<V2> {
    using Mask = M2;
    static constexpr int kWidth = 2;
};
template <>
struct Traits<V4> {
    using Mask = M4;
    static constexpr int kWidth = 4;
};

template <typename V>
using MaskOf = typename Traits<V>::Mask;

#define EDGEWISE_LANES_INLINE __attribute__((always_inline)) inline

template <typename V>
EDGEWISE_LANES_INLINE V load(const double* p) {
    V v;
    std::memcpy(&v, p, sizeof v);  // unaligned load
    return v;
}

template <typename V>
EDGEWISE_LANES_INLINE V splat(double x) {
    V v;
    for (int i = 0; i < Traits<V>::kWidth; ++i) v[i] = x;
    return v;
}

template <typename V>
EDGEWISE_LANES_INLINE V iota(double first) {  // first, first + 1, ...
    V v;
    for (int i = 0; i < Traits<V>::kWidth; ++i) v[i] = first + i;
    return v;
}

template <typename V>
EDGEWISE_LANES_INLINE V select(MaskOf<V> m, V a, V b) {  // a where m holds, else b
    return reinterpret_cast<V>((reinterpret_cast<MaskOf<V>>(a) & m) | (reinterpret_cast<MaskOf<V>>(b) & ~m));
}

template <typename V>
EDGEWISE_LANES_INLINE V min(V a, V b) { return select<V>(a < b, a, b); }
template <typename V>
EDGEWISE_LANES_INLINE V max(V a, V b) { return select<V>(a > b, a, b); }

template <typename V>
EDGEWISE_LANES_INLINE V abs(V a) {
    MaskOf<V> no_sign;
    for (int i = 0; i < Traits<V>::kWidth; ++i) no_sign[i] = ~(std::int64_t{1} << 63);
    return reinterpret_cast<V>(reinterpret_cast<MaskOf<V>>(a) & no_sign);
}

template <typename V>
EDGEWISE_LANES_INLINE double sum(V v) {  // pairwise, the same order for a given width
    if constexpr (Traits<V>::kWidth == 2) {
        return v[0] + v[1];
    } else {
        return (v[0] + v[1]) + (v[2] + v[3]);
    }
}

template <typename V>
EDGEWISE_LANES_INLINE double min_of(V v) {
    double m = v[0];
    for (int i = 1; i < Traits<V>::kWidth; ++i) m = v[i] < m ? v[i] : m;
    return m;
}

template <typename V>
EDGEWISE_LANES_INLINE double max_of(V v) {
    double m = v[0];
    for (int i = 1; i < Traits<V>::kWidth; ++i) m = v[i] > m ? v[i] : m;
    return m;
}

template <typename M>
EDGEWISE_LANES_INLINE std::int64_t count(M m) {  // lanes where a comparison held (each is -1)
    std::int64_t c = 0;
    for (std::size_t i = 0; i < sizeof(M) / sizeof(std::int64_t); ++i) c -= m[i];
    return c;
}

#undef EDGEWISE_LANES_INLINE

}  // namespace edgewise::lanes
