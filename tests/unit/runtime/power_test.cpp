// Heat and battery (runtime/power.h, issue 18) on fake sysfs trees written per test: what is
// read, when the policy throttles and when it lets go, and that throttled passes run on half the
// threads (or pause, on one thread).
#include "runtime/power.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

namespace pocketlm::power {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class PowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pocketlm-power-test.XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(root_); }
  void put(const std::string& rel, const std::string& text) {
    const fs::path p = fs::path(root_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text << "\n";
  }
  // A phone: three zones (one in whole degrees, one disconnected), a USB supply and a battery.
  void phone(const std::string& big_temp, const std::string& pct, const std::string& status) {
    put("class/thermal/thermal_zone0/type", "battery");
    put("class/thermal/thermal_zone0/temp", "31000");
    put("class/thermal/thermal_zone1/type", "cpu-1-0");
    put("class/thermal/thermal_zone1/temp", big_temp);
    put("class/thermal/thermal_zone2/type", "xo-therm");
    put("class/thermal/thermal_zone2/temp", "-273000");
    put("class/thermal/thermal_zone3/type", "skin");
    put("class/thermal/thermal_zone3/temp", "39");
    put("class/power_supply/usb/type", "USB");
    put("class/power_supply/usb/capacity", "99");
    put("class/power_supply/battery/type", "Battery");
    put("class/power_supply/battery/capacity", pct);
    put("class/power_supply/battery/status", status);
  }
  std::string root_;
};

TEST_F(PowerTest, ReadsZonesAndTheBattery) {
  phone("71500", "15", "Discharging");
  const reading r = read_sysfs(root_);
  ASSERT_TRUE(r.max_temp_c);
  EXPECT_DOUBLE_EQ(*r.max_temp_c, 71.5);
  EXPECT_EQ(r.hottest_zone, "cpu-1-0");
  ASSERT_TRUE(r.battery_pct);
  EXPECT_EQ(*r.battery_pct, 15);  // the Battery, not the USB supply
  ASSERT_TRUE(r.charging);
  EXPECT_FALSE(*r.charging);
  // Whole degrees count too, and a disconnected sensor never wins.
  put("class/thermal/thermal_zone1/temp", "20000");
  const reading cool = read_sysfs(root_);
  EXPECT_DOUBLE_EQ(*cool.max_temp_c, 39.0);
  EXPECT_EQ(cool.hottest_zone, "skin");
}

TEST_F(PowerTest, ADesktopTreeWithoutSensorsReadsNothing) {
  put("class/power_supply/AC/type", "Mains");
  const reading r = read_sysfs(root_);
  EXPECT_FALSE(r.any());
  EXPECT_FALSE(read_sysfs(root_ + "/nonexistent").any());
  EXPECT_FALSE(should_throttle(r, limits{70.0, 20}, false));  // nothing to act on
}

TEST_F(PowerTest, ThermalLimitWithHysteresis) {
  const limits l{70.0, std::nullopt};
  reading r;
  r.hottest_zone = "cpu-1-0";
  r.max_temp_c = 69.9;
  EXPECT_FALSE(should_throttle(r, l, false));
  r.max_temp_c = 70.0;
  std::string why;
  EXPECT_TRUE(should_throttle(r, l, false, &why));
  EXPECT_NE(why.find("cpu-1-0 at 70.0 C (limit 70.0 C)"), std::string::npos) << why;
  r.max_temp_c = 68.0;  // cooling, but not k_hysteresis_c under the limit yet
  EXPECT_TRUE(should_throttle(r, l, true));
  EXPECT_FALSE(should_throttle(r, l, false));
  r.max_temp_c = 66.9;
  EXPECT_FALSE(should_throttle(r, l, true));
  EXPECT_FALSE(should_throttle(r, limits{}, false));  // no limits: never
}

TEST_F(PowerTest, MinBatteryOnlyWhileDischarging) {
  const limits l{std::nullopt, 20};
  reading r;
  r.battery_pct = 19;
  r.charging = false;
  std::string why;
  EXPECT_TRUE(should_throttle(r, l, false, &why));
  EXPECT_NE(why.find("battery at 19%, discharging (minimum 20%)"), std::string::npos) << why;
  r.charging = true;
  EXPECT_FALSE(should_throttle(r, l, true));
  r.charging = false;
  r.battery_pct = 20;
  EXPECT_FALSE(should_throttle(r, l, true));
}

TEST_F(PowerTest, PolicyLowersThreadsWhileThrottledAndRestores) {
  phone("75000", "80", "Discharging");
  policy p(limits{70.0, 20}, root_, 0ms, /*log=*/false);
  p.set_threads(8);
  state s = p.current();
  EXPECT_TRUE(s.has_policy);
  EXPECT_TRUE(s.throttled);
  EXPECT_EQ(s.threads, 8);
  EXPECT_NE(s.reason.find("cpu-1-0"), std::string::npos) << s.reason;
  EXPECT_EQ(p.threads_for_next_pass(), 4);  // half the threads, no pause
  EXPECT_EQ(p.after_pass(30ms), 0ns);
  s = p.current();
  EXPECT_EQ(s.active_threads, 4);
  EXPECT_EQ(s.lowered_passes, 1);
  EXPECT_EQ(s.paused_passes, 0);

  // Cooled down: all threads again.
  put("class/thermal/thermal_zone1/temp", "50000");
  EXPECT_EQ(p.threads_for_next_pass(), 8);
  EXPECT_EQ(p.after_pass(30ms), 0ns);
  s = p.current();
  EXPECT_EQ(s.active_threads, 8);
  EXPECT_EQ(s.lowered_passes, 1);
  EXPECT_FALSE(s.throttled);
  EXPECT_TRUE(s.reason.empty());
  ASSERT_TRUE(s.r.max_temp_c);
  EXPECT_DOUBLE_EQ(*s.r.max_temp_c, 50.0);

  // The battery runs low while discharging: throttled again; plugging in restores.
  put("class/power_supply/battery/capacity", "12");
  s = p.current();
  EXPECT_TRUE(s.throttled);
  EXPECT_NE(s.reason.find("battery at 12%"), std::string::npos) << s.reason;
  put("class/power_supply/battery/status", "Charging");
  EXPECT_FALSE(p.current().throttled);
}

TEST_F(PowerTest, OneThreadCannotGoLowerSoThrottledPassesPause) {
  phone("75000", "80", "Discharging");
  policy p(limits{70.0, std::nullopt}, root_, 0ms, /*log=*/false);
  p.set_threads(1);
  EXPECT_EQ(p.threads_for_next_pass(), 1);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(p.after_pass(30ms), 30ms);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 29ms);  // it really slept
  state s = p.current();
  EXPECT_EQ(s.paused_passes, 1);
  EXPECT_GE(s.paused_ms, 29);
  EXPECT_EQ(s.lowered_passes, 0);
  put("class/thermal/thermal_zone1/temp", "50000");
  EXPECT_EQ(p.after_pass(30ms), 0ns);  // cooled: no pause
  EXPECT_EQ(p.current().paused_passes, 1);
}

TEST_F(PowerTest, PollIntervalLimitsRereads) {
  phone("75000", "80", "Charging");
  policy p(limits{70.0, std::nullopt}, root_, 1h, false);
  EXPECT_TRUE(p.current().throttled);
  put("class/thermal/thermal_zone1/temp", "40000");
  EXPECT_TRUE(p.current().throttled);  // not re-read within the hour
}

TEST_F(PowerTest, InstalledPolicyIsWhatCurrentStateShows) {
  phone("75000", "80", "Discharging");
  ::setenv("POCKETLM_SYSFS_ROOT", root_.c_str(), 1);
  install(nullptr);
  auto plain = current_state();
  ASSERT_TRUE(plain);  // readable values, no policy
  EXPECT_FALSE(plain->has_policy);
  EXPECT_FALSE(plain->throttled);
  install(std::make_shared<policy>(limits{70.0, std::nullopt}, root_, 0ms, false));
  auto with = current_state();
  ASSERT_TRUE(with);
  EXPECT_TRUE(with->has_policy);
  EXPECT_TRUE(with->throttled);
  install(nullptr);
  ::setenv("POCKETLM_SYSFS_ROOT", (root_ + "/empty").c_str(), 1);
  EXPECT_FALSE(current_state());  // nothing readable, no policy: /api/ps adds nothing
  ::unsetenv("POCKETLM_SYSFS_ROOT");
}

}  // namespace

}  // namespace pocketlm::power
