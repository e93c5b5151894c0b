#include "runtime/power.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace pocketlm::power {

namespace fs = std::filesystem;

namespace {

// The first line of a sysfs file, without its newline; nullopt when unreadable.
std::optional<std::string> first_line(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  if (!in || !std::getline(in, s)) return std::nullopt;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::optional<long long> number(const fs::path& p) {
  const auto s = first_line(p);
  if (!s || s->empty()) return std::nullopt;
  char* end = nullptr;
  const long long v = std::strtoll(s->c_str(), &end, 10);
  if (end == s->c_str() || *end != '\0') return std::nullopt;
  return v;
}

std::vector<fs::path> sorted_entries(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().starts_with(prefix)) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string format_c(double c) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", c);
  return buf;
}

std::mutex g_mu;
std::shared_ptr<policy> g_policy;

// The threads a throttled model runs on: half, at least one.
int lowered(int threads) { return std::max(1, threads / 2); }

}  // namespace

std::string default_sysfs_root() {
  const char* v = std::getenv("POCKETLM_SYSFS_ROOT");
  return v && *v ? v : "/sys";
}

reading read_sysfs(const std::string& root) {
  reading r;
  for (const auto& zone : sorted_entries(fs::path(root) / "class/thermal", "thermal_zone")) {
    const auto raw = number(zone / "temp");
    if (!raw) continue;
    const double c = (*raw >= 1000 || *raw <= -1000) ? static_cast<double>(*raw) / 1000.0 : static_cast<double>(*raw);
    if (c < -40 || c > 200) continue;  // disconnected sensors report -273 or garbage
    if (!r.max_temp_c || c > *r.max_temp_c) {
      r.max_temp_c = c;
      const auto type = first_line(zone / "type");
      r.hottest_zone = type && !type->empty() ? *type : zone.filename().string();
    }
  }
  for (const auto& supply : sorted_entries(fs::path(root) / "class/power_supply", "")) {
    if (first_line(supply / "type") != "Battery") continue;
    const auto pct = number(supply / "capacity");
    if (!pct || *pct < 0 || *pct > 100) continue;
    r.battery_pct = static_cast<int>(*pct);
    if (const auto status = first_line(supply / "status")) r.charging = *status == "Charging" || *status == "Full";
    break;
  }
  return r;
}

bool should_throttle(const reading& r, const limits& l, bool was, std::string* why) {
  if (l.thermal_limit_c && r.max_temp_c) {
    const double bar = was ? *l.thermal_limit_c - k_hysteresis_c : *l.thermal_limit_c;
    if (*r.max_temp_c >= bar) {
      if (why) {
        *why = r.hottest_zone + " at " + format_c(*r.max_temp_c) + " C (limit " + format_c(*l.thermal_limit_c) + " C)";
      }
      return true;
    }
  }
  if (l.min_battery_pct && r.battery_pct && !r.charging.value_or(false) && *r.battery_pct < *l.min_battery_pct) {
    if (why) {
      *why = "battery at " + std::to_string(*r.battery_pct) + "%, discharging (minimum " +
             std::to_string(*l.min_battery_pct) + "%)";
    }
    return true;
  }
  return false;
}

policy::policy(limits l, std::string sysfs_root, std::chrono::milliseconds poll, bool log)
    : limits_(l), root_(std::move(sysfs_root)), poll_(poll), log_(log) {}

void policy::refresh_locked(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && read_once_ && now - last_read_ < poll_) return;
  read_once_ = true;
  last_read_ = now;
  r_ = read_sysfs(root_);
  std::string why;
  const bool t = should_throttle(r_, limits_, throttled_, &why);
  if (t != throttled_ && log_) {
    if (t && threads_ > 1) {
      std::fprintf(stderr, "power: %s: running on %d of %d threads (about half speed)\n", why.c_str(),
                   lowered(threads_), threads_);
    } else if (t) {
      std::fprintf(stderr, "power: %s: pausing between forward passes (about half speed)\n", why.c_str());
    } else {
      std::fprintf(stderr, "power: back within limits: full speed\n");
    }
  }
  throttled_ = t;
  reason_ = t ? why : "";
}

int policy::threads_for_next_pass() {
  std::lock_guard lock(mu_);
  refresh_locked(false);
  active_threads_ = throttled_ && threads_ > 1 ? lowered(threads_) : threads_;
  if (active_threads_ < threads_) ++lowered_passes_;
  return active_threads_;
}

std::chrono::nanoseconds policy::after_pass(std::chrono::nanoseconds pass) {
  std::chrono::nanoseconds pause{0};
  {
    std::lock_guard lock(mu_);
    refresh_locked(false);
    if (!throttled_ || threads_ > 1) return pause;  // many threads: lowered instead
    pause = std::min<std::chrono::nanoseconds>(pass, k_max_pause);
    paused_ns_ += pause.count();
    ++paused_passes_;
  }
  std::this_thread::sleep_for(pause);
  return pause;
}

state policy::current() {
  std::lock_guard lock(mu_);
  refresh_locked(false);
  state s;
  s.r = r_;
  s.has_policy = true;
  s.l = limits_;
  s.throttled = throttled_;
  s.reason = reason_;
  s.threads = threads_;
  s.active_threads = active_threads_ > 0 ? active_threads_ : threads_;
  s.paused_ms = paused_ns_ / 1000000;
  s.paused_passes = paused_passes_;
  s.lowered_passes = lowered_passes_;
  return s;
}

void policy::set_threads(int n) {
  std::lock_guard lock(mu_);
  threads_ = n;
}

void install(std::shared_ptr<policy> p) {
  std::lock_guard lock(g_mu);
  g_policy = std::move(p);
}

std::shared_ptr<policy> installed() {
  std::lock_guard lock(g_mu);
  return g_policy;
}

std::optional<state> current_state() {
  if (auto p = installed()) return p->current();
  state s;
  s.r = read_sysfs(default_sysfs_root());
  if (!s.r.any()) return std::nullopt;
  return s;
}

}  // namespace pocketlm::power
