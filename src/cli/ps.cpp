// `pocketlm ps`: what a running pocketlm server holds (GET /api/ps on 127.0.0.1:$POCKETLM_PORT),
// then, when the server reports it, a line on heat, battery and its power policy.
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>

#include "cli/verbs.h"
#include "store/format.h"
#include "store/running.h"

namespace pocketlm::cli {

namespace {

std::string until(const store::running_model& m, int64_t now) {
  if (!m.expires_at) return "Never";
  if (*m.expires_at < now) return "Stopping...";
  return store::human_age(now - *m.expires_at);
}

// One line about heat and battery, from the server's "power" object (runtime/power.h).
std::string power_line(const store::server_power& p) {
  char buf[64];
  std::string out = "power:";
  if (p.max_temp_c) {
    std::snprintf(buf, sizeof buf, " %.1f C", *p.max_temp_c);
    out += " hottest zone " + (p.zone.empty() ? std::string("?") : p.zone) + buf;
  } else {
    out += " no thermal zone readable";
  }
  if (p.battery_pct) {
    out += ", battery " + std::to_string(*p.battery_pct) + "%";
    if (p.charging) out += *p.charging ? " (charging)" : " (discharging)";
  } else {
    out += ", no battery readable";
  }
  if (!p.has_policy) return out + "; no --thermal-limit or --min-battery";
  out += "; limits:";
  if (p.thermal_limit_c) {
    std::snprintf(buf, sizeof buf, " %.1f C", *p.thermal_limit_c);
    out += buf;
  }
  if (p.min_battery_pct) out += " battery " + std::to_string(*p.min_battery_pct) + "%";
  out += "; " + std::to_string(p.threads) + " threads";
  if (!p.throttled) return out + "; full speed";
  out += "; THROTTLED (" + p.reason + "): ";
  return out +
         (p.threads > 1 ? "running on " + std::to_string(p.active_threads) + " of them" : "pausing between passes");
}

int run_ps() {
  const int port = store::server_port();
  std::optional<store::server_power> power;
  auto r = store::query_running(port, &power);
  if (!r) return report(r.err());
  if (!*r) {
    std::printf("no pocketlm server running (nothing on 127.0.0.1:%d)\n", port);
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"}};
  const int64_t now = std::time(nullptr);
  for (const auto& m : **r) {
    std::string id = m.digest.starts_with("sha256:") ? m.digest.substr(7) : m.digest;
    rows.push_back({m.name, id.substr(0, 12), store::human_bytes(m.size), "100% CPU", std::to_string(m.context_length),
                    until(m, now)});
  }
  std::fputs(store::format_table(rows).c_str(), stdout);
  if (power) std::printf("%s\n", power_line(*power).c_str());
  return 0;
}

}  // namespace

void register_ps(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("ps", "List models a running pocketlm server holds");
  cmd->callback([&exit_code] { exit_code = run_ps(); });
}

}  // namespace pocketlm::cli
