// The generation requests of both APIs, read from their raw bodies and validated before any model
// loads: /v1/chat/completions, /v1/completions, /api/chat, /api/generate. Pure functions of the
// body (the HTTP-request fuzzer drives them); errors are api_error 400s.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/api.h"
#include "server/structured.h"

namespace pocketlm::server {

struct generation_request {
  json body;
  std::string model;
  bool stream = false;
  bool include_usage = false;           // OpenAI stream_options.include_usage
  std::optional<double> keep_alive;     // Ollama; OpenAI requests use the default
  std::optional<bool> think;            // Ollama's think: absent means the model's way
  std::vector<chat::message> messages;  // chat routes
  std::string prompt;                   // completion routes
  std::string system;                   // /api/generate
  bool raw = false;                     // /api/generate
  std::vector<int32_t> context;         // /api/generate: a previous answer's context tokens
  gen_params params;                    // the request's fields over the built-in defaults
  int top_logprobs = -1;                // alternatives per token to report (server/logprobs.h); -1: none
  output_request output;                // response_format / format / grammar, tools
  // The request's fields over `defaults` (a model's PARAMETERs), as the routes run it.
  gen_params over(gen_params defaults) const;
  bool ollama = false;
  bool completion = false;  // /v1/completions (its max_tokens default is 16)
};

generation_request parse_openai_chat_request(const std::string& body);
generation_request parse_openai_completion_request(const std::string& body);
generation_request parse_ollama_chat_request(const std::string& body);
generation_request parse_ollama_generate_request(const std::string& body);

}  // namespace pocketlm::server
