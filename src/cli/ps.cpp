// `pocketlm ps`: what a running pocketlm server holds (GET /api/ps on 127.0.0.1:$POCKETLM_PORT).
#include <cstdio>
#include <ctime>
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

int run_ps() {
  const int port = store::server_port();
  auto r = store::query_running(port);
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
  return 0;
}

}  // namespace

void register_ps(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("ps", "List models a running pocketlm server holds");
  cmd->callback([&exit_code] { exit_code = run_ps(); });
}

}  // namespace pocketlm::cli
