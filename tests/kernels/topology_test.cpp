// Performance-core detection on fake sysfs trees, CPU mask parsing, and thread pinning.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/cpu_topology.h"
#include "kernels/threads.h"

namespace pocketlm::kernels {
namespace {

const std::string k_sysfs = std::string(POCKETLM_SOURCE_DIR) + "/tests/golden/sysfs";

TEST(cpu_topology, phone_uses_prime_and_big_cores) {
  const auto cores = read_cpu_cores(k_sysfs + "/phone-1-3-4");
  ASSERT_EQ(cores.size(), 8u);
  EXPECT_EQ(cores[7].capacity, 1024);
  EXPECT_EQ(cores[0].max_freq_khz, 1804800);
  EXPECT_EQ(performance_cores(cores), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(default_thread_count(k_sysfs + "/phone-1-3-4"), 4);
}

TEST(cpu_topology, uniform_desktop_uses_every_core) {
  const auto cores = read_cpu_cores(k_sysfs + "/desktop-uniform-8");
  ASSERT_EQ(cores.size(), 8u);
  EXPECT_EQ(cores[3].capacity, 0);  // x86: no cpu_capacity, frequency decides
  EXPECT_EQ(performance_cores(cores).size(), 8u);
  EXPECT_EQ(default_thread_count(k_sysfs + "/desktop-uniform-8"), 8);
}

TEST(cpu_topology, frequency_decides_when_capacity_is_partial) {
  // Capacity on only some cores is not trusted; cpu1 at 50% of the fastest frequency is dropped.
  std::vector<cpu_core> cores = {{0, 1024, 3000000}, {1, 0, 1500000}, {2, 0, 2400000}};
  EXPECT_EQ(performance_cores(cores), (std::vector<int>{0, 2}));
  cores = {{0, 0, 0}, {1, 0, 0}};  // nothing known: all
  EXPECT_EQ(performance_cores(cores).size(), 2u);
}

TEST(cpu_topology, enumerates_cpu_folders_without_online_file) {
  const auto root = std::filesystem::temp_directory_path() / ("topo-" + std::to_string(::getpid()));
  for (int i : {0, 1, 2, 10}) {
    std::filesystem::create_directories(root / ("cpu" + std::to_string(i)));
    std::ofstream(root / ("cpu" + std::to_string(i)) / "cpu_capacity") << (i == 10 ? 1024 : 400);
  }
  std::filesystem::create_directories(root / "cpufreq");  // not a cpuN folder
  const auto cores = read_cpu_cores(root.string());
  std::filesystem::remove_all(root);
  ASSERT_EQ(cores.size(), 4u);
  EXPECT_EQ(cores.back().id, 10);
  EXPECT_EQ(performance_cores(cores), (std::vector<int>{10}));
}

TEST(cpu_topology, missing_tree_falls_back_to_hardware_concurrency) {
  EXPECT_TRUE(read_cpu_cores("/nonexistent/sysfs").empty());
  EXPECT_GE(default_thread_count("/nonexistent/sysfs"), 1);
}

TEST(cpu_mask, parses_hex) {
  EXPECT_EQ(*parse_cpu_mask("0xf0"), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(*parse_cpu_mask("F0"), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(*parse_cpu_mask("1"), (std::vector<int>{0}));
  EXPECT_EQ(*parse_cpu_mask("1,00000000"), (std::vector<int>{32}));
  EXPECT_FALSE(parse_cpu_mask("0x").ok());
  EXPECT_FALSE(parse_cpu_mask("0xg1").ok());
  EXPECT_FALSE(parse_cpu_mask("0").ok());  // selects nothing
}

TEST(cpu_mask, pins_pool_threads) {
  cpu_set_t original;
  ASSERT_EQ(sched_getaffinity(0, sizeof(original), &original), 0);
  thread_pool pool(2);
  std::vector<int> seen(2, -1);
  std::vector<bool> ok(2, false);
  pool.run([&](int ith, int) {
    ok[ith] = pin_current_thread({0});
    cpu_set_t set;
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof(set), &set);
    seen[ith] = CPU_COUNT(&set) == 1 && CPU_ISSET(0, &set) ? 0 : 1;
  });
  EXPECT_TRUE(ok[0] && ok[1]);
  EXPECT_EQ(seen, (std::vector<int>{0, 0}));
  sched_setaffinity(0, sizeof(original), &original);  // unpin the test's main thread
}

}  // namespace
}  // namespace pocketlm::kernels
