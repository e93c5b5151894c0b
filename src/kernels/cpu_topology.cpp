#include "kernels/cpu_topology.h"

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <thread>

namespace pocketlm::kernels {

namespace {

// First integer in a sysfs file; 0 when absent or unreadable.
int64_t read_int(const std::string& path) {
  std::ifstream in(path);
  int64_t v = 0;
  return (in >> v) ? v : 0;
}

// "0-3,5,7-8" -> {0, 1, 2, 3, 5, 7, 8}; stops at the first malformed item.
std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> ids;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find(',', i);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(i, end - i);
    i = end + 1;
    try {
      const size_t dash = item.find('-');
      const int lo = std::stoi(item.substr(0, dash));
      const int hi = dash == std::string::npos ? lo : std::stoi(item.substr(dash + 1));
      for (int c = lo; c <= hi && c - lo < 4096; ++c) ids.push_back(c);
    } catch (const std::exception&) {
      break;
    }
  }
  return ids;
}

std::vector<int> online_ids(const std::string& root) {
  std::ifstream in(root + "/online");
  std::string line;
  if (std::getline(in, line)) return parse_cpu_list(line);
  std::vector<int> ids;  // no `online` file: every cpuN folder
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 3 && name.compare(0, 3, "cpu") == 0 &&
        name.find_first_not_of("0123456789", 3) == std::string::npos) {
      ids.push_back(std::stoi(name.substr(3)));
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

std::vector<cpu_core> read_cpu_cores(const std::string& root) {
  std::vector<cpu_core> cores;
  for (int id : online_ids(root)) {
    const std::string dir = root + "/cpu" + std::to_string(id);
    cores.push_back({id, read_int(dir + "/cpu_capacity"), read_int(dir + "/cpufreq/cpuinfo_max_freq")});
  }
  return cores;
}

std::vector<int> performance_cores(const std::vector<cpu_core>& cores) {
  const bool by_capacity =
      !cores.empty() && std::all_of(cores.begin(), cores.end(), [](const cpu_core& c) { return c.capacity > 0; });
  const auto speed = [&](const cpu_core& c) { return by_capacity ? c.capacity : c.max_freq_khz; };
  int64_t fastest = 0;
  for (const auto& c : cores) fastest = std::max(fastest, speed(c));
  std::vector<int> ids;
  for (const auto& c : cores) {
    if (fastest == 0 || speed(c) * 4 >= fastest * 3) ids.push_back(c.id);
  }
  return ids;
}

int default_thread_count(const std::string& root) {
  const auto perf = performance_cores(read_cpu_cores(root));
  if (!perf.empty()) return static_cast<int>(perf.size());
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

result<std::vector<int>> parse_cpu_mask(const std::string& hex) {
  std::string digits = hex;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) digits.erase(0, 2);
  digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
  if (digits.empty()) return error{"--cpu-mask: '" + hex + "' is not a hex mask"};
  std::vector<int> ids;
  for (size_t i = 0; i < digits.size(); ++i) {
    const char ch = static_cast<char>(std::tolower(static_cast<unsigned char>(digits[digits.size() - 1 - i])));
    int nibble = 0;
    if (ch >= '0' && ch <= '9')
      nibble = ch - '0';
    else if (ch >= 'a' && ch <= 'f')
      nibble = ch - 'a' + 10;
    else
      return error{"--cpu-mask: '" + hex + "' is not a hex mask"};
    for (int b = 0; b < 4; ++b) {
      if (nibble & (1 << b)) ids.push_back(static_cast<int>(i) * 4 + b);
    }
  }
  if (ids.empty()) return error{"--cpu-mask: '" + hex + "' selects no CPU"};
  return ids;
}

bool pin_current_thread(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) {
    if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, &set);
  }
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

}  // namespace pocketlm::kernels
