// Which CPU cores are fast. Phones mix prime, big and little cores; running matmul threads on
// little cores makes every token wait for the slowest thread, so by default we use only the
// performance cores. Read from Linux sysfs; the root is a parameter so tests use fake trees.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace pocketlm::kernels {

inline constexpr const char* k_sysfs_cpu_root = "/sys/devices/system/cpu";

struct cpu_core {
  int id = 0;
  int64_t capacity = 0;      // cpuN/cpu_capacity (arm64: 1024 = the fastest core); 0: unknown
  int64_t max_freq_khz = 0;  // cpuN/cpufreq/cpuinfo_max_freq; 0: unknown
};

// The online CPUs (`online`, else every cpuN folder) with what sysfs says about their speed.
// Empty when the tree is missing.
std::vector<cpu_core> read_cpu_cores(const std::string& root = k_sysfs_cpu_root);

// Ids of the performance cores: those at least 75% as fast as the fastest one, by capacity when
// every core reports one, else by maximum frequency; every core when neither is known. 75% keeps
// prime + big cores (a big core runs at ~85% of a prime one) and drops little ones (~35-65%).
std::vector<int> performance_cores(const std::vector<cpu_core>& cores);

// Default worker count: the number of performance cores; std::thread::hardware_concurrency()
// when sysfs cannot be read.
int default_thread_count(const std::string& root = k_sysfs_cpu_root);

// "0xf0", "F0", "0x1,00000000" -> ascending CPU ids; errors on non-hex text or an empty mask.
result<std::vector<int>> parse_cpu_mask(const std::string& hex);

// Pins the calling thread to `cpus` with sched_setaffinity; false when the OS refuses.
bool pin_current_thread(const std::vector<int>& cpus);

}  // namespace pocketlm::kernels
