#include "server/api.h"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>

namespace pocketlm::server {

namespace {

json null_or(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

[[noreturn]] void bad_type(const std::string& field, const char* what) {
  throw api_error(400, "invalid type for '" + field + "': expected " + what, field);
}

double number_field(const json& o, const char* key, const std::string& shown) {
  const json& v = o.at(key);
  if (!v.is_number()) bad_type(shown, "a number");
  const double d = v.get<double>();
  if (!std::isfinite(d)) bad_type(shown, "a finite number");
  return d;
}

// A number in [lo, hi]; 400 naming the range otherwise.
double ranged_field(const json& o, const char* key, const std::string& shown, double lo, double hi) {
  const double d = number_field(o, key, shown);
  if (d < lo || d > hi) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "' must be in [%g, %g]", lo, hi);
    throw api_error(400, "'" + shown + buf, shown);
  }
  return d;
}

// Integers saturate at the int64 range: 2^63 tokens means "as many as fit", not a negative count.
int64_t integer_field(const json& o, const char* key, const std::string& shown) {
  const json& v = o.at(key);
  if (v.is_number_unsigned()) {
    return v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
               ? std::numeric_limits<int64_t>::max()
               : v.get<int64_t>();
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  // Clients written in JavaScript send 5.0 as 5, and 1e21 for large numbers: accept integral
  // floats too, saturated.
  if (v.is_number_float() && std::isfinite(v.get<double>()) && std::floor(v.get<double>()) == v.get<double>()) {
    return static_cast<int64_t>(std::clamp(v.get<double>(), -9.2e18, 9.2e18));
  }
  bad_type(shown, "an integer");
}

// A seed: any integer; -1 (or absent) means a new random seed per request, as in Ollama.
uint64_t seed_field(const json& o, const char* key, const std::string& shown) {
  const json& v = o.at(key);
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  const int64_t i = integer_field(o, key, shown);
  return i < 0 ? k_random_seed : static_cast<uint64_t>(i);
}

int clamp_int(int64_t n) {
  return static_cast<int>(std::clamp<int64_t>(n, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

bool has(const json& o, const char* key) { return o.contains(key) && !o.at(key).is_null(); }

std::vector<std::string> stop_list(const json& v, const std::string& shown) {
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) bad_type(shown, "a string or an array of strings");
  std::vector<std::string> out;
  for (const auto& s : v) {
    if (!s.is_string()) bad_type(shown, "a string or an array of strings");
    if (!s.get<std::string>().empty()) out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace

int http_status(error_kind kind) {
  switch (kind) {
    case error_kind::invalid_input:
    case error_kind::unsupported: return 400;
    case error_kind::not_found: return 404;
    case error_kind::exhausted: return 503;
    case error_kind::cancelled: return 499;
    case error_kind::io:
    case error_kind::internal: return 500;
  }
  return 500;
}

api_error to_api_error(const error& e, std::string param, std::string code) {
  return api_error(http_status(e.kind), e.message, std::move(param), std::move(code));
}

json openai_error_body(const api_error& e) {
  const char* type = e.status >= 500 || e.status == 429 ? "server_error" : "invalid_request_error";
  return {{"error", {{"message", e.what()}, {"type", type}, {"param", null_or(e.param)}, {"code", null_or(e.code)}}}};
}

json ollama_error_body(const api_error& e) { return {{"error", e.what()}}; }

json anthropic_error_body(const api_error& e) {
  const char* type = "api_error";
  switch (e.status) {
    case 401: type = "authentication_error"; break;
    case 403: type = "permission_error"; break;
    case 404: type = "not_found_error"; break;
    case 413: type = "request_too_large"; break;
    case 429: type = "rate_limit_error"; break;
    case 503: type = "overloaded_error"; break;
    default:
      if (e.status < 500) type = "invalid_request_error";
  }
  return {{"type", "error"}, {"error", {{"type", type}, {"message", e.what()}}}};
}

json parse_body(const std::string& body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {  // parse errors, and numbers out of double's range
    throw api_error(400, std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) throw api_error(400, "invalid request: the body must be a JSON object");
  return j;
}

namespace {

// OpenAI's {"token id": bias} with biases in [-100, 100].
std::vector<std::pair<int32_t, float>> logit_bias_field(const json& v) {
  if (v.is_null()) return {};
  if (!v.is_object()) bad_type("logit_bias", "an object of token ids to numbers");
  std::vector<std::pair<int32_t, float>> out;
  for (const auto& [key, bias] : v.items()) {
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != key.size() || id < 0 || id > INT32_MAX) {
      throw api_error(400, "logit_bias keys must be token ids, not '" + key + "'", "logit_bias");
    }
    if (!bias.is_number() || !(bias.get<double>() >= -100 && bias.get<double>() <= 100)) {
      throw api_error(400, "logit_bias values must be numbers from -100 to 100", "logit_bias");
    }
    out.emplace_back(static_cast<int32_t>(id), bias.get<float>());
  }
  return out;
}

}  // namespace

void apply_openai_sampling(const json& body, gen_params& out) {
  auto& s = out.sampling;
  // OpenAI's documented ranges.
  const auto ranged = [&](const char* k, float& dst, double lo, double hi) {
    if (has(body, k)) dst = static_cast<float>(ranged_field(body, k, k, lo, hi));
  };
  ranged("temperature", s.temperature, 0, 2);
  ranged("top_p", s.top_p, 0, 1);
  ranged("presence_penalty", s.presence_penalty, -2, 2);
  ranged("frequency_penalty", s.frequency_penalty, -2, 2);
  if (has(body, "seed")) s.seed = seed_field(body, "seed", "seed");
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (!has(body, key)) continue;
    const int64_t n = integer_field(body, key, key);
    if (n < 1) throw api_error(400, std::string("'") + key + "' must be at least 1", key);
    out.n_predict = clamp_int(n);
  }
  if (has(body, "stop")) out.stop = stop_list(body.at("stop"), "stop");
  if (has(body, "logit_bias")) s.logit_bias = logit_bias_field(body.at("logit_bias"));
}

void apply_ollama_options(const json& o, gen_params& out) {
  if (o.is_null()) return;
  if (!o.is_object()) bad_type("options", "an object");
  auto& s = out.sampling;
  // Ollama documents no ranges; these refuse only values no sampler can use.
  const auto num = [&](const char* k, float& dst, double lo, double hi) {
    if (has(o, k)) dst = static_cast<float>(ranged_field(o, k, std::string("options.") + k, lo, hi));
  };
  const auto integer = [&](const char* k, int& dst, int64_t lo) {
    if (!has(o, k)) return;
    const std::string shown = std::string("options.") + k;
    const int64_t v = integer_field(o, k, shown);
    if (v < lo) throw api_error(400, "'" + shown + "' must be at least " + std::to_string(lo), shown);
    dst = clamp_int(v);
  };
  num("temperature", s.temperature, 0, 100);
  num("top_p", s.top_p, 0, 1);
  num("min_p", s.min_p, 0, 1);
  num("repeat_penalty", s.repeat_penalty, 0, 100);
  num("presence_penalty", s.presence_penalty, -100, 100);
  num("frequency_penalty", s.frequency_penalty, -100, 100);
  integer("top_k", s.top_k, 0);
  integer("repeat_last_n", s.repeat_last_n, -1);
  if (has(o, "seed")) s.seed = seed_field(o, "seed", "options.seed");
  if (has(o, "num_predict")) out.n_predict = clamp_int(integer_field(o, "num_predict", "options.num_predict"));
  if (out.n_predict < -1) out.n_predict = -1;
  if (has(o, "stop")) out.stop = stop_list(o.at("stop"), "options.stop");
  if (has(o, "num_ctx")) {
    const int64_t n = integer_field(o, "num_ctx", "options.num_ctx");
    if (n < 1) throw api_error(400, "'options.num_ctx' must be at least 1", "options.num_ctx");
    out.num_ctx = n;
  }
}

namespace {

// Go's time.ParseDuration grammar, which Ollama clients send: [-+]{decimal unit}, decimal being
// digits with an optional fraction (no exponent, hex, inf or nan), unit one of ns us µs ms s m h.
// A bare number is seconds in Ollama ("300"); Go itself allows a unitless "0" only.
std::optional<double> parse_go_duration(const std::string& s) {
  size_t i = 0;
  double sign = 1;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) sign = s[i++] == '-' ? -1 : 1;
  if (i == s.size()) return std::nullopt;
  const auto digit = [&](size_t k) { return k < s.size() && std::isdigit(static_cast<unsigned char>(s[k])); };
  double total = 0;
  while (i < s.size()) {
    const size_t start = i;
    while (digit(i)) ++i;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (digit(i)) ++i;
    }
    const std::string number = s.substr(start, i - start);
    if (number.empty() || number == ".") return std::nullopt;
    const double v = std::strtod(number.c_str(), nullptr);
    size_t j = i;
    while (j < s.size() && !digit(j) && s[j] != '.') ++j;
    const std::string unit = s.substr(i, j - i);
    i = j;
    static const std::pair<const char*, double> units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"µs", 1e-6}, {"ms", 1e-3},
                                                           {"s", 1},     {"m", 60},    {"h", 3600}};
    double scale = -1;
    for (const auto& [name, f] : units) {
      if (unit == name) scale = f;
    }
    if (unit.empty() && i == s.size() && start == (s[0] == '-' || s[0] == '+' ? 1u : 0u)) scale = 1;
    if (scale < 0) return std::nullopt;
    total += v * scale;
  }
  return sign * total;
}

}  // namespace

std::optional<double> parse_keep_alive(const json& v) {
  if (v.is_null()) return std::nullopt;
  if (!v.is_number() && !v.is_string()) bad_type("keep_alive", "a duration string or a number of seconds");
  const auto d = v.is_number() ? std::optional<double>(v.get<double>()) : parse_go_duration(v.get<std::string>());
  if (!d || !std::isfinite(*d)) {
    throw api_error(400, "invalid keep_alive duration '" + (v.is_string() ? v.get<std::string>() : v.dump()) + "'",
                    "keep_alive");
  }
  // Longer than any machine stays up: forever (a steady_clock time point would overflow).
  if (*d > k_keep_alive_forever_after) return -1.0;
  return *d;
}

std::vector<chat::message> parse_openai_messages(const json& messages) {
  if (!messages.is_array()) bad_type("messages", "an array");
  std::vector<chat::message> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad_type(at, "an object");
    chat::message msg;
    msg.role = string_field(m, "role");
    if (msg.role.empty()) throw api_error(400, "'" + at + ".role' is required", at + ".role");
    const json content = m.value("content", json(nullptr));
    if (content.is_string()) {
      msg.content = content.get<std::string>();
    } else if (content.is_array()) {
      for (const auto& part : content) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
            !part["text"].is_string()) {
          throw api_error(400, "'" + at + ".content': only parts of type 'text' are supported", at + ".content");
        }
        msg.content += part["text"].get<std::string>();
      }
    } else if (!content.is_null()) {
      bad_type(at + ".content", "a string or an array of content parts");
    }
    msg.reasoning = string_field(m, "reasoning_content");
    out.push_back(std::move(msg));
  }
  return out;
}

std::vector<chat::message> parse_ollama_messages(const json& messages) {
  if (messages.is_null()) return {};
  if (!messages.is_array()) bad_type("messages", "an array");
  std::vector<chat::message> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad_type(at, "an object");
    chat::message msg{string_field(m, "role"), string_field(m, "content"), string_field(m, "thinking")};
    if (msg.role.empty()) throw api_error(400, "'" + at + ".role' is required", at + ".role");
    out.push_back(std::move(msg));
  }
  return out;
}

std::string require_model(const json& body) {
  const std::string m = string_field(body, "model");
  if (m.empty()) throw api_error(400, "'model' is required", "model");
  return m;
}

std::string string_field(const json& body, const char* key, const std::string& fallback) {
  if (!has(body, key)) return fallback;
  if (!body.at(key).is_string()) bad_type(key, "a string");
  return body.at(key).get<std::string>();
}

bool bool_field(const json& body, const char* key, bool fallback) {
  if (!has(body, key)) return fallback;
  if (!body.at(key).is_boolean()) bad_type(key, "a boolean");
  return body.at(key).get<bool>();
}

std::vector<std::string> parse_inputs(const json& v, const char* field) {
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) bad_type(field, "a string or an array of strings");
  std::vector<std::string> out;
  for (const auto& s : v) {
    if (!s.is_string()) bad_type(field, "a string or an array of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

int64_t now_unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339(int64_t unix_ns) {
  const std::time_t secs = static_cast<std::time_t>(unix_ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09lldZ", static_cast<long long>(unix_ns % 1000000000));
  return std::string(buf, n) + frac;
}

}  // namespace pocketlm::server
