#include "runtime/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace pocketlm {

double measure_read_bandwidth(int n_threads, size_t bytes, int reps) {
  n_threads = std::max(1, n_threads);
  const size_t n = bytes / sizeof(uint64_t);
  std::vector<uint64_t> buf(n);
  for (size_t i = 0; i < n; ++i) buf[i] = i;                       // touch every page before timing
  std::vector<uint64_t> sums(static_cast<size_t>(n_threads) * 8);  // 64 B apart: no false sharing
  double best = 0.0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < n_threads; ++t) {
      threads.emplace_back([&, t] {
        const size_t begin = n * static_cast<size_t>(t) / static_cast<size_t>(n_threads);
        const size_t end = n * static_cast<size_t>(t + 1) / static_cast<size_t>(n_threads);
        uint64_t a = 0, b = 0, c = 0, d = 0;  // independent chains keep loads in flight
        size_t i = begin;
        for (; i + 4 <= end; i += 4) {
          a += buf[i];
          b += buf[i + 1];
          c += buf[i + 2];
          d += buf[i + 3];
        }
        for (; i < end; ++i) a += buf[i];
        sums[static_cast<size_t>(t) * 8] = a + b + c + d;
      });
    }
    for (auto& th : threads) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(n * sizeof(uint64_t)) / s);
  }
  volatile uint64_t sink = 0;
  for (uint64_t v : sums) sink = sink + v;  // keep the sums observable
  return best;
}

}  // namespace pocketlm
