// The thread pool's barrier (every ith once per job, results visible after run, sleep and wake)
// and the chunk counter's exactly-once hand-out under contention.
#include "kernels/threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

namespace pocketlm::kernels {
namespace {

TEST(thread_pool, every_ith_runs_exactly_once_per_job_many_jobs_in_a_row) {
  for (int n = 1; n <= 4; ++n) {
    thread_pool pool(n);
    ASSERT_EQ(pool.size(), n);
    std::vector<int> runs(static_cast<size_t>(n), 0);  // plain ints: run() must order them
    std::atomic<int> bad_nth{0};
    for (int job = 1; job <= 500; ++job) {
      pool.run([&](int ith, int nth) {
        if (nth != n) bad_nth.fetch_add(1);
        ++runs[static_cast<size_t>(ith)];
      });
      for (int i = 0; i < n; ++i) ASSERT_EQ(runs[static_cast<size_t>(i)], job) << "n=" << n;
    }
    EXPECT_EQ(bad_nth.load(), 0);
  }
}

TEST(thread_pool, uses_exactly_the_threads_asked_for_the_caller_included) {
  for (int n = 1; n <= 4; ++n) {
    thread_pool pool(n);
    std::vector<std::thread::id> ids(static_cast<size_t>(n));
    std::set<std::thread::id> seen;
    for (int job = 0; job < 50; ++job) {
      pool.run([&](int ith, int) { ids[static_cast<size_t>(ith)] = std::this_thread::get_id(); });
      EXPECT_EQ(ids[0], std::this_thread::get_id());
      seen.insert(ids.begin(), ids.end());
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(n));
  }
}

TEST(thread_pool, wakes_workers_that_went_to_sleep) {
  thread_pool pool(3);
  std::atomic<int> calls{0};
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // past the spin: workers sleep
    pool.run([&](int, int) { calls.fetch_add(1); });
    EXPECT_EQ(calls.load(), 3 * (round + 1));
  }
}

TEST(chunk_counter, hands_out_each_chunk_exactly_once_under_contention) {
  thread_pool pool(4);
  chunk_counter cc;
  for (int64_t n_chunks : {0, 1, 3, 1000, 100000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n_chunks));
    std::atomic<int64_t> claimed{0};
    cc.reset(n_chunks);
    pool.run([&](int, int) {
      for (int64_t c; cc.next(c);) {
        ASSERT_GE(c, 0);
        ASSERT_LT(c, n_chunks);
        hits[static_cast<size_t>(c)].fetch_add(1);
        claimed.fetch_add(1);
      }
    });
    EXPECT_EQ(claimed.load(), n_chunks);
    for (int64_t c = 0; c < n_chunks; ++c) ASSERT_EQ(hits[static_cast<size_t>(c)].load(), 1) << c;
    int64_t after = -1;
    EXPECT_FALSE(cc.next(after));  // stays exhausted
    EXPECT_EQ(after, -1);
  }
}

}  // namespace
}  // namespace pocketlm::kernels
