// --thermal-limit and --min-battery for `serve` and `run` (runtime/power.h): with either, a
// process-wide policy pauses between forward passes while a thermal zone is past the limit or
// the battery, discharging, is below the minimum. Without them nothing changes.
#pragma once

#include <CLI/CLI.hpp>

namespace pocketlm::cli {

struct power_flags {
  double thermal_limit_c = 0;  // 0: none
  int min_battery_pct = 0;     // 0: none
};
void add_power_flags(CLI::App* cmd, power_flags& f);
// Installs the policy when a limit was given (the model runs `n_threads` threads); warns when
// sysfs shows nothing the limit could act on.
void install_power_policy(const power_flags& f, int n_threads);

}  // namespace pocketlm::cli
