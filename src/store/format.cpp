#include "store/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pocketlm::store {

namespace {

std::string fmt(const char* f, double v, const char* unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v, unit);
  return buf;
}

std::string duration(int64_t s) {
  if (s < 1) return "Less than a second";
  if (s == 1) return "1 second";
  if (s < 60) return std::to_string(s) + " seconds";
  const int64_t minutes = s / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return std::to_string(minutes) + " minutes";
  const auto hours = static_cast<int64_t>(std::llround(s / 3600.0));
  if (hours == 1) return "About an hour";
  if (hours < 48) return std::to_string(hours) + " hours";
  if (hours < 24 * 7 * 2) return std::to_string(hours / 24) + " days";
  if (hours < 24 * 30 * 2) return std::to_string(hours / 24 / 7) + " weeks";
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24 / 30) + " months";
  return std::to_string(s / 3600 / 24 / 365) + " years";
}

}  // namespace

std::string human_bytes(int64_t b) {
  static const struct {
    double scale;
    const char* unit;
  } units[] = {{1e12, "TB"}, {1e9, "GB"}, {1e6, "MB"}, {1e3, "KB"}};
  for (const auto& u : units) {
    if (static_cast<double>(b) < u.scale) continue;
    const double v = static_cast<double>(b) / u.scale;
    if (v >= 10 || v == std::trunc(v)) return fmt("%.0f %s", std::trunc(v), u.unit);
    return fmt("%.1f %s", v, u.unit);
  }
  return std::to_string(b) + " B";
}

std::string human_age(int64_t seconds_ago) {
  if (seconds_ago < 0) return duration(-seconds_ago) + " from now";
  return duration(seconds_ago) + " ago";
}

std::string human_count(uint64_t n) {
  const auto v = static_cast<double>(n);
  if (n >= 1000000000) return fmt(v / 1e9 == std::floor(v / 1e9) ? "%.0f%s" : "%.1f%s", v / 1e9, "B");
  if (n >= 1000000) return fmt(v / 1e6 == std::floor(v / 1e6) ? "%.0f%s" : "%.2f%s", v / 1e6, "M");
  if (n >= 1000) return fmt(v / 1e3 == std::floor(v / 1e3) ? "%.0f%s" : "%.2f%s", v / 1e3, "K");
  return std::to_string(n);
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(width[i] - r[i].size() + 4, ' ');
    }
    out += "\n";
  }
  return out;
}

}  // namespace pocketlm::store
