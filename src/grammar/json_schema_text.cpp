// GBNF text pieces for the JSON Schema compiler: literals, character classes, JSON string
// characters, integer ranges and repetitions (grammar/json_schema_parts.h).
#include <algorithm>
#include <cstdio>

#include "grammar/json_schema_parts.h"

namespace pocketlm::grammar::json_schema_parts {

namespace {

constexpr uint32_t max_code_point = 0x10FFFF;

std::string hex_escape(uint32_t c) {
  char buf[16];
  if (c < 0x100) {
    std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(c));
  } else if (c < 0x10000) {
    std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(c));
  } else {
    std::snprintf(buf, sizeof buf, "\\U%08X", static_cast<unsigned>(c));
  }
  return buf;
}

// One member of a GBNF character class: printable ASCII as itself, the class's own syntax
// characters and everything else as an escape.
std::string class_char(uint32_t c) {
  if (c >= 0x20 && c < 0x7F && c != ']' && c != '[' && c != '\\' && c != '-' && c != '^') {
    return std::string(1, static_cast<char>(c));
  }
  return hex_escape(c);
}

std::string digits_class(char from, char to) {
  if (from == to) return std::string("[") + from + "]";
  return std::string("[") + from + "-" + to + "]";
}

std::string any_digits(size_t n) {
  if (n == 0) return "";
  return n == 1 ? "[0-9]" : "[0-9]{" + std::to_string(n) + "}";
}

// Equal-length digit strings lo <= hi: every digit string of that length between them.
std::string same_length_range(const std::string& lo, const std::string& hi) {
  size_t common = 0;
  while (common < lo.size() && lo[common] == hi[common]) common++;
  std::string prefix = common > 0 ? "\"" + lo.substr(0, common) + "\"" : "";
  if (common == lo.size()) return prefix;
  char x = lo[common], y = hi[common];
  std::string lo_rest = lo.substr(common + 1), hi_rest = hi.substr(common + 1);
  size_t rest = lo_rest.size();
  bool lo_floor = lo_rest == std::string(rest, '0');  // x itself starts a full block
  bool hi_ceiling = hi_rest == std::string(rest, '9');
  std::vector<std::string> alts;
  char middle_from = lo_floor ? x : static_cast<char>(x + 1);
  char middle_to = hi_ceiling ? y : static_cast<char>(y - 1);
  if (!lo_floor) alts.push_back(digits_class(x, x) + " " + same_length_range(lo_rest, std::string(rest, '9')));
  if (middle_from <= middle_to) {
    std::string block = digits_class(middle_from, middle_to);
    if (rest > 0) block += " " + any_digits(rest);
    alts.push_back(block);
  }
  if (!hi_ceiling) alts.push_back(digits_class(y, y) + " " + same_length_range(std::string(rest, '0'), hi_rest));
  std::string body;
  for (size_t i = 0; i < alts.size(); i++) body += (i ? " | " : "") + alts[i];
  if (alts.size() > 1) body = "(" + body + ")";
  return prefix.empty() ? body : prefix + " " + body;
}

// Non-negative lo <= hi.
std::string natural_range(uint64_t lo, uint64_t hi) {
  std::vector<std::string> alts;
  std::string lo_s = std::to_string(lo), hi_s = std::to_string(hi);
  for (size_t digits = lo_s.size(); digits <= hi_s.size(); digits++) {
    std::string from = digits == lo_s.size() ? lo_s : "1" + std::string(digits - 1, '0');
    std::string to = digits == hi_s.size() ? hi_s : std::string(digits, '9');
    alts.push_back(same_length_range(from, to));
  }
  std::string body;
  for (size_t i = 0; i < alts.size(); i++) body += (i ? " | " : "") + alts[i];
  return alts.size() > 1 ? "(" + body + ")" : body;
}

}  // namespace

void code_set::add(uint32_t lo, uint32_t hi) {
  if (lo > hi) return;
  ranges_.emplace_back(lo, hi);
  std::sort(ranges_.begin(), ranges_.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (const auto& r : ranges_) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  ranges_ = std::move(merged);
}

void code_set::add(const code_set& other) {
  for (const auto& [lo, hi] : other.ranges_) add(lo, hi);
}

code_set code_set::negated() const {
  code_set out;
  uint32_t next = 0;
  for (const auto& [lo, hi] : ranges_) {
    if (lo > next) out.ranges_.emplace_back(next, lo - 1);
    next = hi + 1;
  }
  if (next <= max_code_point) out.ranges_.emplace_back(next, max_code_point);
  return out;
}

code_set code_set::minus(const code_set& other) const {
  code_set out = negated();
  out.add(other);
  return out.negated();
}

bool code_set::contains(uint32_t c) const {
  return std::any_of(ranges_.begin(), ranges_.end(), [c](const auto& r) { return r.first <= c && c <= r.second; });
}

std::string gbnf_literal(std::string_view bytes) {
  std::string out = "\"";
  for (unsigned char c : bytes) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += hex_escape(c);
        } else {
          out += static_cast<char>(c);  // UTF-8 bytes pass through: the parser reads code points
        }
    }
  }
  return out + "\"";
}

std::string gbnf_class(const code_set& set) {
  std::string out = "[";
  for (const auto& [lo, hi] : set.ranges()) {
    out += class_char(lo);
    if (hi == lo + 1) {
      out += class_char(hi);
    } else if (hi > lo) {
      out += "-" + class_char(hi);
    }
  }
  return out + "]";
}

std::string json_char_expr(const code_set& set) {
  // Raw: anything but the quote, the backslash, control characters and surrogates (which UTF-8
  // cannot carry).
  code_set forbidden_raw('"', '"');
  forbidden_raw.add('\\', '\\');
  forbidden_raw.add(0, 0x1F);
  forbidden_raw.add(0xD800, 0xDFFF);
  std::vector<std::string> alts;
  code_set raw = set.minus(forbidden_raw);
  if (!raw.empty()) alts.push_back(gbnf_class(raw));
  std::string short_escapes;
  const std::pair<uint32_t, char> shorts[] = {{'"', '"'},  {'\\', '\\'}, {'/', '/'},  {0x08, 'b'},
                                              {0x0C, 'f'}, {0x0A, 'n'},  {0x0D, 'r'}, {0x09, 't'}};
  for (const auto& [c, letter] : shorts) {
    if (set.contains(c)) short_escapes += letter == '\\' ? std::string("\\\\") : std::string(1, letter);
  }
  if (!short_escapes.empty()) alts.push_back("[\\\\] [" + short_escapes + "]");
  // Control characters may also be written \u00XX (JSON.stringify and nlohmann do for most).
  std::vector<std::string> control_alts;
  for (uint32_t high = 0; high < 2; high++) {
    std::string low_digits;
    for (uint32_t low = 0; low < 16; low++) {
      if (!set.contains(high * 16 + low)) continue;
      low_digits += low < 10 ? std::string(1, static_cast<char>('0' + low))
                             : std::string(1, static_cast<char>('a' + low - 10)) + static_cast<char>('A' + low - 10);
    }
    if (!low_digits.empty()) control_alts.push_back("\"" + std::to_string(high) + "\" [" + low_digits + "]");
  }
  if (!control_alts.empty()) {
    std::string body;
    for (size_t i = 0; i < control_alts.size(); i++) body += (i ? " | " : "") + control_alts[i];
    alts.push_back("[\\\\] \"u00\" (" + body + ")");
  }
  if (alts.empty()) return "";
  if (alts.size() == 1) return alts[0];
  std::string out = "(";
  for (size_t i = 0; i < alts.size(); i++) out += (i ? " | " : "") + alts[i];
  return out + ")";
}

std::string integer_range_expr(int64_t lo, int64_t hi) {
  auto magnitude = [](int64_t v) { return static_cast<uint64_t>(v < 0 ? -v : v); };
  if (hi < 0) return "\"-\" " + natural_range(magnitude(hi), magnitude(lo));
  if (lo < 0) return "(\"-\" " + natural_range(1, magnitude(lo)) + " | " + natural_range(0, hi) + ")";
  return natural_range(lo, hi);
}

std::string repetition(const std::string& item, uint64_t min, std::optional<uint64_t> max,
                       const std::string& separator) {
  if (max && *max == 0) return "";
  if (separator.empty()) {
    if (min == 0 && max == 1) return item + "?";
    if (!max) return min == 0 ? item + "*" : min == 1 ? item + "+" : item + "{" + std::to_string(min) + ",}";
    if (min == *max) return min == 1 ? item : item + "{" + std::to_string(min) + "}";
    return item + "{" + std::to_string(min) + "," + std::to_string(*max) + "}";
  }
  std::optional<uint64_t> rest_max;
  if (max) rest_max = *max - 1;
  std::string rest = repetition("(" + separator + " " + item + ")", min == 0 ? 0 : min - 1, rest_max);
  std::string out = rest.empty() ? item : item + " " + rest;
  return min == 0 ? "(" + out + ")?" : out;
}

}  // namespace pocketlm::grammar::json_schema_parts
