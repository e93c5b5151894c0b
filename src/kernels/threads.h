// A fixed pool of worker threads for data-parallel kernels, and a shared chunk counter for
// dynamic load balancing. The calling thread takes part as thread 0, so a pool of size 1 runs
// everything inline and a pool of size n starts exactly n - 1 workers. A forward pass issues
// hundreds of short jobs per token, so both sides of the barrier spin (with a pause hint), then
// yield for a moment, before they sleep on a futex (threads.cpp wait_change).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

namespace pocketlm::kernels {

class thread_pool {
 public:
  explicit thread_pool(int n_threads);
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  int size() const { return n_threads_; }

  // Runs job(ith, nth) once on every thread, ith in [0, nth), and returns when all are done.
  // Takes any callable by reference (a lambda, a std::function) and never allocates. Everything
  // the caller wrote before run() is visible to the job, and everything the job wrote is
  // visible to the caller after it. Not reentrant: one run at a time per pool.
  template <class F>
  void run(const F& job) {
    run_erased([](const void* f, int ith, int nth) { (*static_cast<const F*>(f))(ith, nth); }, &job);
  }

 private:
  using job_fn = void (*)(const void* ctx, int ith, int nth);
  void run_erased(job_fn fn, const void* ctx);
  void worker_loop(int ith);

  int n_threads_;
  std::vector<std::thread> workers_;
  job_fn fn_ = nullptr;
  const void* ctx_ = nullptr;
  // Bumped once per job (and at shutdown); workers wait for it to change. int: the futex width.
  alignas(64) std::atomic<int> generation_{0};
  alignas(64) std::atomic<int> pending_{0};  // workers still running the current job
  std::atomic<bool> stop_{false};
};

// Hands out chunk indices 0, 1, ..., n_chunks - 1, each exactly once across all threads, in
// increasing order, so threads on fast cores simply take more chunks and all finish together:
//
//   chunk_counter cc;            // shared by the job
//   cc.reset(n_chunks);          // before pool.run (run publishes it to the workers)
//   pool.run([&](int, int) { for (int64_t c; cc.next(c);) work(c); });
//
// One relaxed fetch_add per chunk; the counter sits on its own cache line.
class chunk_counter {
 public:
  void reset(int64_t n_chunks) {
    n_chunks_ = n_chunks;
    next_.store(0, std::memory_order_relaxed);
  }
  // Stores the next unclaimed chunk in `chunk` and returns true; false once all are claimed.
  bool next(int64_t& chunk) {
    const int64_t c = next_.fetch_add(1, std::memory_order_relaxed);
    if (c >= n_chunks_) return false;
    chunk = c;
    return true;
  }

 private:
  alignas(64) std::atomic<int64_t> next_{0};
  int64_t n_chunks_ = 0;
};

// Splits [0, n) into nth near-equal contiguous ranges; returns thread ith's [begin, end).
inline std::pair<int64_t, int64_t> split_range(int64_t n, int ith, int nth) {
  const int64_t per = (n + nth - 1) / nth;
  const int64_t begin = std::min<int64_t>(n, per * ith);
  return {begin, std::min<int64_t>(n, begin + per)};
}

}  // namespace pocketlm::kernels
