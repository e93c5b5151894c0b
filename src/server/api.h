// Request parsing and validation for the OpenAI and Ollama wire formats, and the error shapes of
// both. Pure functions over JSON: no model, no network (unit-tested on their own).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat.h"
#include "runtime/sampler.h"

namespace pocketlm::server {

using json = nlohmann::json;

// A request that cannot be served; handlers turn it into the API's error shape.
struct api_error : std::runtime_error {
  api_error(int http_status, const std::string& message, std::string param_name = {}, std::string error_code = {})
      : std::runtime_error(message), status(http_status), param(std::move(param_name)), code(std::move(error_code)) {}
  int status;
  std::string param;  // the offending field, when there is one
  std::string code;   // OpenAI's machine-readable code ("model_not_found", ...), may be empty
};

// The HTTP status of a failure of this kind: the one place where statuses come from kinds.
// invalid_input and unsupported 400, not_found 404, exhausted 503 (memory or disk: retry or free
// some), cancelled 499 (the client left), io and internal 500.
int http_status(error_kind kind);
// The api_error of a failure below the server, its status from its kind.
api_error to_api_error(const error& e, std::string param = {}, std::string code = {});

// {"error":{"message","type","param","code"}}: type is server_error for 429 and 5xx,
// invalid_request_error for the other 4xx; absent param/code are null, as OpenAI sends them.
json openai_error_body(const api_error& e);
// Ollama's {"error":"message"}.
json ollama_error_body(const api_error& e);
// Anthropic's {"type":"error","error":{"type","message"}}: type from the status
// (invalid_request_error, authentication_error, permission_error, not_found_error,
// request_too_large, rate_limit_error, overloaded_error, api_error).
json anthropic_error_body(const api_error& e);

// Parses a body; malformed JSON is a 400 carrying the parser's message; a non-object too.
json parse_body(const std::string& body);

// Sampling, length and stop settings a request asks for, applied over the model's defaults.
struct gen_params {
  sampler_params sampling;
  int n_predict = -1;  // -1: until the model stops or the context is full
  std::vector<std::string> stop;
  std::optional<int64_t> num_ctx;  // Ollama's options.num_ctx (a context for this load)
  int top_logprobs = -1;           // report each token with this many alternatives; -1: no reports
};

// OpenAI fields: temperature, top_p, max_tokens / max_completion_tokens, stop (string or
// array), seed, presence_penalty, frequency_penalty, logit_bias. Wrong types and ranges are 400s.
void apply_openai_sampling(const json& body, gen_params& out);
// Ollama's "options" object: temperature, top_k, top_p, min_p, seed, num_predict, stop,
// repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty, num_ctx; other runner
// options Ollama accepts (num_thread, mirostat, ...) are ignored.
void apply_ollama_options(const json& options, gen_params& out);

// keep_alive as Ollama reads it: a number of seconds, or a Go duration string ("5m", "1h30m",
// "300ms", "0", "-1"). Returns seconds; negative means "keep forever"; 0 unloads after the
// request. nullopt when absent (null); api_error 400 when unparsable.
std::optional<double> parse_keep_alive(const json& v);
// keep_alive values above this many seconds (about 100 years) mean forever.
inline constexpr double k_keep_alive_forever_after = 3.2e9;

// OpenAI messages: content a string, null, or an array of {type:"text", text} parts (other part
// types are a 400). Ollama messages: content a string; "thinking" kept as reasoning.
std::vector<chat::message> parse_openai_messages(const json& messages);
std::vector<chat::message> parse_ollama_messages(const json& messages);

// "model" as a non-empty string (400 otherwise).
std::string require_model(const json& body);
// The string at `key`, or `fallback` when absent or null; 400 when it is another type.
std::string string_field(const json& body, const char* key, const std::string& fallback = {});
bool bool_field(const json& body, const char* key, bool fallback);
// OpenAI "input" / Ollama "input": one string or an array of strings (400 otherwise).
std::vector<std::string> parse_inputs(const json& v, const char* field);

// RFC 3339 UTC with nanoseconds, as Ollama writes times ("2024-06-04T14:38:31.837536Z").
std::string rfc3339(int64_t unix_ns);
int64_t now_unix_ns();

}  // namespace pocketlm::server
