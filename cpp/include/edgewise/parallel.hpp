// Splitting a loop over independent items among a few threads, for the
// kernels and their bindings: every item must write only its own outputs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <thread>
#include <vector>

namespace edgewise {

/// Runs body(begin, end) over [0, n) in up to `threads` contiguous chunks,
/// each at least `min_chunk` items (smaller loops stay on the calling thread).
/// Returns when every chunk is done; an exception in a worker terminates, so
/// bodies must not throw.
template <typename Body>
void parallel_for(std::size_t n, int threads, Body body, std::size_t min_chunk = 256) {
    if (threads < 1) throw std::invalid_argument("threads must be >= 1");
    const std::size_t most = std::max<std::size_t>(1, n / std::max<std::size_t>(1, min_chunk));
    const std::size_t workers = std::min<std::size_t>(static_cast<std::size_t>(threads), most);
    if (workers <= 1) {
        body(std::size_t{0}, n);
        return;
    }
    std::vector<std::thread> pool;
    pool.reserve(workers);
    const std::size_t chunk = (n + workers - 1) / workers;
    for (std::size_t w = 0; w < workers; ++w) {
        const std::size_t begin = w * chunk;
        const std::size_t end = std::min(n, begin + chunk);
        if (begin >= end) break;
        pool.emplace_back([&body, begin, end] { body(begin, end); });
    }
    for (auto& t : pool) t.join();
}

}  // namespace edgewise
