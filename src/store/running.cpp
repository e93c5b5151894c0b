#include "store/running.h"

#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

namespace pocketlm::store {

int server_port() {
  const char* p = std::getenv("POCKETLM_PORT");
  const int port = p && *p ? std::atoi(p) : 0;
  return port > 0 && port < 65536 ? port : 11435;
}

std::optional<int64_t> parse_rfc3339(const std::string& s) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  size_t i = static_cast<size_t>(consumed);
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  }
  int64_t t = timegm(&tm);
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int hh = 0, mm = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    const int64_t off = hh * 3600 + mm * 60;
    t += s[i] == '+' ? -off : off;
  } else if (i >= s.size() || (s[i] != 'Z' && s[i] != 'z')) {
    return std::nullopt;
  }
  return t;
}

result<std::optional<std::vector<running_model>>> query_running(int port, std::optional<server_power>* power) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2);
  c.set_read_timeout(5);
  auto res = c.Get("/api/ps");
  if (!res) return std::optional<std::vector<running_model>>{};
  if (res->status != 200)
    return error{"server on port " + std::to_string(port) + " answered HTTP " + std::to_string(res->status)};
  const auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("models") || !j["models"].is_array()) {
    return error{"server on port " + std::to_string(port) + " sent a malformed /api/ps answer"};
  }
  if (power && j.contains("power") && j["power"].is_object()) {
    const auto& p = j["power"];
    const auto num = [&](const char* k) -> std::optional<double> {
      return p.contains(k) && p[k].is_number() ? std::optional<double>(p[k].get<double>()) : std::nullopt;
    };
    server_power sp;
    sp.max_temp_c = num("max_temp_c");
    sp.zone = p.value("zone", "");
    if (const auto b = num("battery_pct")) sp.battery_pct = static_cast<int>(*b);
    if (p.contains("charging") && p["charging"].is_boolean()) sp.charging = p["charging"].get<bool>();
    sp.throttled = p.value("throttled", false);
    sp.has_policy = p.contains("threads");
    sp.thermal_limit_c = num("thermal_limit_c");
    if (const auto b = num("min_battery_pct")) sp.min_battery_pct = static_cast<int>(*b);
    sp.reason = p.value("reason", "");
    sp.threads = p.value("threads", 0);
    sp.active_threads = p.value("active_threads", sp.threads);
    *power = sp;
  }
  std::vector<running_model> out;
  for (const auto& m : j["models"]) {
    if (!m.is_object()) return error{"malformed /api/ps entry"};
    running_model r;
    r.name = m.value("name", "");
    r.digest = m.value("digest", "");
    r.size = m.value("size", int64_t{0});
    r.size_vram = m.value("size_vram", int64_t{0});
    r.context_length = m.value("context_length", int64_t{0});
    r.expires_at = parse_rfc3339(m.value("expires_at", ""));
    out.push_back(std::move(r));
  }
  return std::optional<std::vector<running_model>>{std::move(out)};
}

}  // namespace pocketlm::store
