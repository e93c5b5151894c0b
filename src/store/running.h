// Asking a local pocketlm server what it holds (`pocketlm ps`): GET /api/ps on loopback, with
// Ollama's response shape {"models":[{name, digest, size, size_vram, context_length,
// expires_at}]}.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace pocketlm::store {

struct running_model {
  std::string name;
  std::string digest;
  int64_t size = 0;
  int64_t size_vram = 0;
  int64_t context_length = 0;
  std::optional<int64_t> expires_at;  // unix seconds; nullopt when absent or unparsable
};

// $POCKETLM_PORT, else 11435.
int server_port();
// The server's "power" object (pocketlm's addition to /api/ps, runtime/power.h).
struct server_power {
  std::optional<double> max_temp_c;
  std::string zone;
  std::optional<int> battery_pct;
  std::optional<bool> charging;
  bool throttled = false;
  bool has_policy = false;
  std::optional<double> thermal_limit_c;
  std::optional<int> min_battery_pct;
  std::string reason;
  int threads = 0;         // the model's
  int active_threads = 0;  // what passes run on now (fewer while throttled)
};

// nullopt when nothing listens on the port; an error for a malformed answer. `power` (when
// given) gets the answer's "power" object, if it has one.
result<std::optional<std::vector<running_model>>> query_running(int port, std::optional<server_power>* power = nullptr);
// RFC 3339 ("2024-06-04T14:38:31.83753-07:00") to unix seconds.
std::optional<int64_t> parse_rfc3339(const std::string& s);

}  // namespace pocketlm::store
