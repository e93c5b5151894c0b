#include "cli/power_flags.h"

#include <cstdio>
#include <memory>

#include "runtime/power.h"

namespace pocketlm::cli {

void add_power_flags(CLI::App* cmd, power_flags& f) {
  cmd->add_option("--thermal-limit", f.thermal_limit_c,
                  "run on half the threads (about half speed; one thread: pause between passes) while a "
                  "thermal zone is at or above C degrees "
                  "(sysfs: $POCKETLM_SYSFS_ROOT or /sys)")
      ->check(CLI::Range(20.0, 150.0));
  cmd->add_option("--min-battery", f.min_battery_pct,
                  "slow down as --thermal-limit does while the battery is discharging and below PCT percent")
      ->check(CLI::Range(1, 100));
}

void install_power_policy(const power_flags& f, int n_threads) {
  power::limits l;
  if (f.thermal_limit_c > 0) l.thermal_limit_c = f.thermal_limit_c;
  if (f.min_battery_pct > 0) l.min_battery_pct = f.min_battery_pct;
  if (!l.any()) return;
  const std::string root = power::default_sysfs_root();
  auto p = std::make_shared<power::policy>(l, root);
  p->set_threads(n_threads);
  const auto s = p->current();  // the first reading (logs when it already throttles)
  if (l.thermal_limit_c && !s.r.max_temp_c) {
    std::fprintf(stderr, "warning: --thermal-limit: no readable thermal zone under %s/class/thermal; it cannot act\n",
                 root.c_str());
  }
  if (l.min_battery_pct && !s.r.battery_pct) {
    std::fprintf(stderr, "warning: --min-battery: no readable battery under %s/class/power_supply; it cannot act\n",
                 root.c_str());
  }
  power::install(std::move(p));
}

}  // namespace pocketlm::cli
