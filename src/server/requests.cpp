#include "server/requests.h"

#include <cmath>
#include <cstdint>

#include "server/logprobs.h"

namespace pocketlm::server {

namespace {

// OpenAI's n: one choice per request (a client wanting several sends several requests).
void require_one_choice(const json& body) {
  if (!body.contains("n") || body.at("n").is_null()) return;
  const json& n = body.at("n");
  if (!n.is_number_integer() && !(n.is_number_float() && std::floor(n.get<double>()) == n.get<double>())) {
    throw api_error(400, "invalid type for 'n': expected an integer", "n");
  }
  if (n.get<double>() < 1) throw api_error(400, "'n' must be at least 1", "n");
  if (n.get<double>() > 1) throw api_error(400, "n > 1 is not supported; send one request per choice", "n");
}

generation_request read_openai(const std::string& text, bool completion) {
  generation_request r;
  r.completion = completion;
  r.body = parse_body(text);
  r.model = require_model(r.body);
  r.stream = bool_field(r.body, "stream", false);
  if (r.body.contains("stream_options") && r.body["stream_options"].is_object()) {
    r.include_usage = bool_field(r.body["stream_options"], "include_usage", false);
  }
  require_one_choice(r.body);
  r.top_logprobs = completion ? openai_completion_top_logprobs(r.body) : openai_chat_top_logprobs(r.body);
  r.params = r.over(gen_params{});
  r.output = parse_openai_output(text);
  return r;
}

generation_request read_ollama(const std::string& text) {
  generation_request r;
  r.ollama = true;
  r.body = parse_body(text);
  r.model = require_model(r.body);
  r.stream = bool_field(r.body, "stream", true);
  r.keep_alive = parse_keep_alive(r.body.value("keep_alive", json(nullptr)));
  const json& t = r.body.value("think", json(nullptr));
  // Newer clients may send an effort level ("low", "high"): any of those means thinking on.
  if (t.is_boolean())
    r.think = t.get<bool>();
  else if (t.is_string())
    r.think = true;
  else if (!t.is_null())
    throw api_error(400, "invalid type for 'think': expected a boolean", "think");
  if (r.body.contains("images") && r.body["images"].is_array() && !r.body["images"].empty()) {
    throw api_error(400, "images are not supported by pocketlm's text models", "images");
  }
  r.top_logprobs = ollama_top_logprobs(r.body);
  r.params = r.over(gen_params{});
  r.output = parse_ollama_output(text);
  return r;
}

}  // namespace

gen_params generation_request::over(gen_params g) const {
  g.top_logprobs = top_logprobs;
  if (ollama) {
    apply_ollama_options(body.value("options", json(nullptr)), g);
  } else {
    if (completion) g.n_predict = 16;  // OpenAI's default max_tokens for completions
    apply_openai_sampling(body, g);
  }
  return g;
}

generation_request parse_openai_chat_request(const std::string& body) {
  generation_request r = read_openai(body, false);
  if (!r.body.contains("messages")) throw api_error(400, "'messages' is required", "messages");
  r.messages = parse_openai_messages(r.body["messages"]);
  if (r.messages.empty()) throw api_error(400, "'messages' must not be empty", "messages");
  return r;
}

generation_request parse_openai_completion_request(const std::string& body) {
  generation_request r = read_openai(body, true);
  r.output.tools = nullptr;  // a raw prompt has no template to offer tools in
  const json& pj = r.body.value("prompt", json(nullptr));
  if (pj.is_string()) {
    r.prompt = pj.get<std::string>();
  } else if (pj.is_array() && pj.size() == 1 && pj[0].is_string()) {
    r.prompt = pj[0].get<std::string>();
  } else {
    throw api_error(400, "'prompt' must be a string (or an array of one string)", "prompt");
  }
  return r;
}

generation_request parse_ollama_chat_request(const std::string& body) {
  generation_request r = read_ollama(body);
  r.messages = parse_ollama_messages(r.body.value("messages", json(nullptr)));
  return r;
}

generation_request parse_ollama_generate_request(const std::string& body) {
  generation_request r = read_ollama(body);
  r.prompt = string_field(r.body, "prompt");
  r.system = string_field(r.body, "system");
  r.raw = bool_field(r.body, "raw", false);
  r.output.tools = nullptr;  // Ollama's generate takes no tools
  if (const json& c = r.body.value("context", json(nullptr)); !c.is_null()) {
    const auto bad = [] { return api_error(400, "invalid 'context': expected an array of token ids", "context"); };
    if (!c.is_array()) throw bad();
    for (const json& t : c) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX) throw bad();
      r.context.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
  }
  return r;
}

}  // namespace pocketlm::server
