#include "server/logprobs.h"

#include <cmath>
#include <iterator>
#include <string>
#include <utility>

namespace pocketlm::server {

namespace {

bool given(const json& body, const char* key) { return body.contains(key) && !body.at(key).is_null(); }

// An integer in [lo, hi] (integral floats too: JavaScript clients send 3.0 as 3); 400 otherwise.
int count_field(const json& body, const char* key, int lo, int hi, const std::string& range_message = {}) {
  const json& v = body.at(key);
  const bool integral = v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                                  std::floor(v.get<double>()) == v.get<double>());
  if (!integral) throw api_error(400, std::string("invalid type for '") + key + "': expected an integer", key);
  const double d = v.get<double>();
  if (d < lo || d > hi) {
    throw api_error(400,
                    range_message.empty() ? "'" + std::string(key) + "' must be in [" + std::to_string(lo) + ", " +
                                                std::to_string(hi) + "]"
                                          : range_message,
                    key);
  }
  return static_cast<int>(d);
}

bool flag_field(const json& body, const char* key) {
  if (!given(body, key)) return false;
  if (!body.at(key).is_boolean()) {
    throw api_error(400, std::string("invalid type for '") + key + "': expected a boolean", key);
  }
  return body.at(key).get<bool>();
}

// llama-server's n_probs: that many alternatives per token; 0 (its default) is off.
int n_probs(const json& body) {
  if (!given(body, "n_probs")) return k_logprobs_off;
  const int n = count_field(body, "n_probs", 0, k_max_top_logprobs);
  return n == 0 ? k_logprobs_off : n;
}

json bytes_of(const std::string& piece) {
  json out = json::array();
  for (unsigned char c : piece) out.push_back(c);
  return out;
}

json entry(const token_logprob& t) {
  return {{"token", t.piece}, {"logprob", t.logprob}, {"bytes", bytes_of(t.piece)}};
}

}  // namespace

int openai_chat_top_logprobs(const json& body) {
  if (!given(body, "logprobs")) {
    if (given(body, "top_logprobs")) {
      throw api_error(400, "'top_logprobs' is only allowed when 'logprobs' is true", "top_logprobs");
    }
    return n_probs(body);
  }
  const bool on = flag_field(body, "logprobs");
  if (!given(body, "top_logprobs")) return on ? 0 : k_logprobs_off;
  if (!on) throw api_error(400, "'top_logprobs' is only allowed when 'logprobs' is true", "top_logprobs");
  return count_field(body, "top_logprobs", 0, k_max_top_logprobs);
}

int openai_completion_top_logprobs(const json& body) {
  if (!given(body, "logprobs")) return n_probs(body);
  return count_field(body, "logprobs", 0, k_max_completion_logprobs);
}

int ollama_top_logprobs(const json& body) {
  if (!flag_field(body, "logprobs")) return k_logprobs_off;
  if (!given(body, "top_logprobs")) return 0;
  return count_field(body, "top_logprobs", 0, k_max_top_logprobs, "top_logprobs must be between 0 and 20");
}

void token_report_queue::add(token_report r) { pending_.push_back(std::move(r)); }

void token_report_queue::shown(std::string_view text) { shown_ += text.size(); }

std::vector<token_report> token_report_queue::take() {
  size_t n = 0;
  size_t at = start_;
  while (n < pending_.size() && at < shown_) at += pending_[n++].chosen.piece.size();
  std::vector<token_report> out(std::make_move_iterator(pending_.begin()),
                                std::make_move_iterator(pending_.begin() + static_cast<long>(n)));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(n));
  start_ = at;
  return out;
}

std::vector<token_report> token_report_queue::finish() {
  size_t end = start_;
  for (const auto& r : pending_) end += r.chosen.piece.size();
  if (end != shown_) return take();  // the tail was a stop string: its tokens never showed
  start_ = end;
  return std::exchange(pending_, {});
}

json openai_chat_logprobs(const std::vector<token_report>& tokens) {
  json content = json::array();
  for (const auto& r : tokens) {
    json e = entry(r.chosen);
    e["top_logprobs"] = json::array();
    for (const auto& t : r.top) e["top_logprobs"].push_back(entry(t));
    content.push_back(std::move(e));
  }
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

json openai_completion_logprobs(const std::vector<token_report>& tokens, size_t& offset) {
  json out = {{"tokens", json::array()},
              {"token_logprobs", json::array()},
              {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  for (const auto& r : tokens) {
    out["tokens"].push_back(r.chosen.piece);
    out["token_logprobs"].push_back(r.chosen.logprob);
    json top = json::object();
    for (const auto& t : r.top) top.emplace(t.piece, t.logprob);  // the first (likeliest) of equal texts
    top.emplace(r.chosen.piece, r.chosen.logprob);
    out["top_logprobs"].push_back(std::move(top));
    out["text_offset"].push_back(offset);
    offset += r.chosen.piece.size();
  }
  return out;
}

json ollama_logprobs(const std::vector<token_report>& tokens) {
  json out = json::array();
  for (const auto& r : tokens) {
    json e = entry(r.chosen);
    if (!r.top.empty()) {
      e["top_logprobs"] = json::array();
      for (const auto& t : r.top) e["top_logprobs"].push_back(entry(t));
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace pocketlm::server
