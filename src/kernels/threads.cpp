#include "kernels/threads.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace pocketlm::kernels {

namespace {

// Waiting goes through three phases: a few hundred pause-spins (the gap between two jobs of one
// forward pass is often shorter than a system call), then yields for up to k_yield_window (on a
// busy, oversubscribed machine this lets the thread being waited for run), then a futex sleep.
constexpr int k_pause_spins = 256;
constexpr auto k_yield_window = std::chrono::microseconds(100);

// Tells the core this is a spin-wait loop (saves power, frees the sibling hyperthread).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Returns once `a` no longer holds `old` (acquire), spinning, then yielding, then sleeping.
int wait_change(const std::atomic<int>& a, int old) {
  for (int i = 0; i < k_pause_spins; ++i) {
    const int now = a.load(std::memory_order_acquire);
    if (now != old) return now;
    cpu_relax();
  }
  const auto until = std::chrono::steady_clock::now() + k_yield_window;
  do {
    std::this_thread::yield();
    const int now = a.load(std::memory_order_acquire);
    if (now != old) return now;
  } while (std::chrono::steady_clock::now() < until);
  for (;;) {
    a.wait(old, std::memory_order_acquire);
    const int now = a.load(std::memory_order_acquire);
    if (now != old) return now;
  }
}

}  // namespace

thread_pool::thread_pool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

thread_pool::~thread_pool() {
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
}

void thread_pool::run_erased(job_fn fn, const void* ctx) {
  if (n_threads_ == 1) {
    fn(ctx, 0, 1);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);  // publishes fn_, ctx_ and pending_
  generation_.notify_all();                             // no system call when no worker sleeps
  fn(ctx, 0, n_threads_);
  for (int left = pending_.load(std::memory_order_acquire); left != 0;
       left = pending_.load(std::memory_order_acquire)) {
    wait_change(pending_, left);
  }
}

void thread_pool::worker_loop(int ith) {
  int seen = 0;
  for (;;) {
    seen = wait_change(generation_, seen);
    if (stop_.load(std::memory_order_relaxed)) return;
    fn_(ctx_, ith, n_threads_);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace pocketlm::kernels
