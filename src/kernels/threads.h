// A fixed pool of worker threads for data-parallel kernels. The calling thread takes part as
// thread 0, so a pool of size 1 runs everything inline. Workers spin briefly before sleeping,
// because a forward pass issues hundreds of short jobs per token.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
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
  void run(const std::function<void(int ith, int nth)>& job);

 private:
  void worker_loop(int ith);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

// Splits [0, n) into nth near-equal contiguous ranges; returns thread ith's [begin, end).
inline std::pair<int64_t, int64_t> split_range(int64_t n, int ith, int nth) {
  const int64_t per = (n + nth - 1) / nth;
  const int64_t begin = std::min<int64_t>(n, per * ith);
  return {begin, std::min<int64_t>(n, begin + per)};
}

}  // namespace pocketlm::kernels
