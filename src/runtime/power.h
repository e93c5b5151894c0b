// Heat and battery on phones (issue 18): reads the thermal zones and the battery from sysfs
// (<root>/class/thermal/thermal_zone*/{temp,type}, <root>/class/power_supply/*/{type,capacity,
// status}; root "/sys", or $POCKETLM_SYSFS_ROOT: tests use fake trees), and a policy that slows
// generation when a zone passes --thermal-limit or the battery, discharging, is below
// --min-battery, and returns to full speed once back (a zone must cool k_hysteresis_c under the
// limit first). Without limits there is no policy and nothing changes.
//
// How it slows down: while throttled, passes run on half the model's threads (at least one; the
// scheduler asks threads_for_next_pass() before each pass and the model switches to a smaller
// pool, model::set_active_threads), so about half the cores work and the rest sleep. A model on
// one thread cannot go lower: then after_pass() sleeps as long as the pass took (capped at
// k_max_pause), so the core is busy about half the time. Either way about half the heat and
// power, and about half the tokens per second.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace pocketlm::power {

struct reading {
  std::optional<double> max_temp_c;  // the hottest readable thermal zone
  std::string hottest_zone;          // its type file ("cpu-1-0"), else its folder name
  std::optional<int> battery_pct;    // the first power supply of type Battery with a capacity
  std::optional<bool> charging;      // its status is Charging or Full
  bool any() const { return max_temp_c || battery_pct; }
};

// $POCKETLM_SYSFS_ROOT, else "/sys".
std::string default_sysfs_root();
// What the tree under `root` says; unreadable or absurd values (a zone under -40 or over 200 °C,
// a capacity outside 0..100) are left out. Temperatures are millidegrees in sysfs; a value under
// 1000 is taken as whole degrees (some phone zones report so).
reading read_sysfs(const std::string& root);

struct limits {
  std::optional<double> thermal_limit_c;  // --thermal-limit
  std::optional<int> min_battery_pct;     // --min-battery
  bool any() const { return thermal_limit_c || min_battery_pct; }
};

inline constexpr double k_hysteresis_c = 3.0;
inline constexpr std::chrono::milliseconds k_max_pause{2000};

// Whether to be throttled now, given whether we were (`was`). `why` gets the reason when true.
bool should_throttle(const reading& r, const limits& l, bool was, std::string* why = nullptr);

struct state {
  reading r;
  bool has_policy = false;  // limits were given
  limits l;
  bool throttled = false;
  std::string reason;          // why, while throttled
  int threads = 0;             // the model's threads (set_threads)
  int active_threads = 0;      // what the latest pass ran on (threads_for_next_pass)
  int64_t paused_ms = 0;       // time spent paused so far (one-thread models)
  int64_t paused_passes = 0;   // passes followed by a pause
  int64_t lowered_passes = 0;  // passes run on fewer threads
};

class policy {
 public:
  // Re-reads sysfs at most every `poll`; prints a line on stderr each time throttling starts or
  // ends (when `log`).
  policy(limits l, std::string sysfs_root, std::chrono::milliseconds poll = std::chrono::seconds(2), bool log = true);
  // Called before each forward pass: the threads it should run on (0 before set_threads).
  int threads_for_next_pass();
  // Called after each forward pass that took `pass`; sleeps min(pass, k_max_pause) while
  // throttled on one thread. Returns how long it slept.
  std::chrono::nanoseconds after_pass(std::chrono::nanoseconds pass);
  state current();
  void set_threads(int n);

 private:
  void refresh_locked(bool force);
  limits limits_;
  std::string root_;
  std::chrono::milliseconds poll_;
  bool log_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_read_{};
  bool read_once_ = false;
  reading r_;
  bool throttled_ = false;
  std::string reason_;
  int threads_ = 0;
  int active_threads_ = 0;
  int64_t paused_ns_ = 0;
  int64_t paused_passes_ = 0;
  int64_t lowered_passes_ = 0;
};

// The process's policy, set by serve and run from their flags; nullptr (the default): none.
void install(std::shared_ptr<policy> p);
std::shared_ptr<policy> installed();
// What /api/ps and `pocketlm ps` show: the installed policy's state, else a plain reading of
// default_sysfs_root() when it has any value; nullopt when neither.
std::optional<state> current_state();

}  // namespace pocketlm::power
