// One generation on a slot, shared by the four text endpoints: the prompt (a chat rendered with
// the model's template, or raw text), its length checks, the <think> split, and the stats both
// APIs report.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/tool_calls.h"
#include "runtime/generate.h"
#include "server/api.h"
#include "server/manager.h"
#include "server/structured.h"

namespace pocketlm::server {

struct prompt_spec {
  bool chat = true;                        // messages through the chat template; else raw text
  std::vector<chat::message> messages;     // chat
  std::string text;                        // raw text (completions, Ollama raw / template-less)
  std::optional<bool> think;               // enable_thinking when the request sets it (Ollama's think)
  bool split_thinking = true;              // route <think>...</think> to reasoning
  nlohmann::ordered_json tools = nullptr;  // the request's tool definitions, for the template
  nlohmann::ordered_json template_kwargs = nlohmann::ordered_json::object();  // chat_template_kwargs
  std::optional<std::string> reasoning_effort;
  // Ollama's /api/generate context: the tokens of an earlier prompt and answer, which this prompt
  // continues (its own BOS dropped). Each must be a token of the model (400 otherwise).
  std::vector<int32_t> context;
};

// The template lets a request turn reasoning on or off: it reasons in <think> blocks, or reads
// enable_thinking / reasoning_effort. A request asking a model without one to think is a 400, as
// Ollama answers it ("\"NAME\" does not support thinking").
bool can_think(const chat::chat_template* tmpl);

// The template inputs of a chat request body (OpenAI or Ollama) that the message parser does not
// keep, in the body's own key order: each message's other fields (tool_calls, tool_call_id,
// name, content given as parts) and the request's tools, chat_template_kwargs and
// reasoning_effort. 400 when those have the wrong type.
void add_template_fields(prompt_spec& spec, const std::string& raw_body);

struct prepared_prompt {
  std::vector<int32_t> tokens;
  std::string text;                           // the rendered prompt
  int64_t n_ctx = 0;                          // this request's window: the slot's context, or less (num_ctx)
  bool starts_in_think = false;               // the rendered prompt opened <think> (DeepSeek-R1)
  bool reasoning_model = false;               // output may open with <think>
  const chat::chat_template* tmpl = nullptr;  // the template that rendered it (null: raw text)
};

// Renders and tokenizes; 400 when the prompt leaves no room in the context ("prompt is N
// tokens, context is M"), when it is empty, or when it asks a model that cannot think to think.
// num_ctx (Ollama's options.num_ctx) narrows the window to at most that many positions; it never
// widens it past the slot's context and never changes what other requests get.
prepared_prompt prepare_prompt(const loaded_model& lm, const prompt_spec& spec,
                               std::optional<int64_t> num_ctx = std::nullopt);
// 400 "this model does not support embeddings" unless the GGUF names a pooling type
// (<arch>.pooling_type): Ollama's "embedding" capability test (server/images.go), which refuses
// chat models rather than mean-pooling them.
void require_embedding_model(const loaded_model& lm);
// 400 "\"NAME\" does not support chat" (or generate, `what`) for an embedding model, as Ollama
// answers a model whose only capability is "embedding".
void require_generative_model(const loaded_model& lm, const std::string& name, const char* what);
// The rendering alone (POST /apply-template): 400 when the template rejects the conversation
// (its raise_exception), no context check.
prepared_prompt render_prompt(const loaded_model& lm, const prompt_spec& spec);

// Ollama's /api/generate prompt: `system` and `prompt` as a user turn through the template
// (models without one: system + prompt as plain text), or the prompt alone when raw.
prompt_spec generate_prompt(const loaded_model& lm, const std::string& system, const std::string& prompt, bool raw);

struct completion_result {
  std::string reasoning;
  std::string answer;                       // without the tool calls' markup
  std::vector<chat::tool_call> tool_calls;  // parsed out of the answer when the request has tools
  generate_stats stats;
  finish_reason finish = finish_reason::stop;
  std::vector<token_report> tokens;  // each generated token, when gen_params::top_logprobs >= 0
};

// Streams parts as they are final; a sink returning false (client gone) stops generation at
// the next token.
struct completion_sinks {
  std::function<bool(std::string_view)> on_reasoning;
  std::function<bool(std::string_view)> on_answer;
  std::function<bool(const chat::tool_call_delta&)> on_tool_call = {};  // may be empty
  // With gen_params::top_logprobs >= 0 (may be empty): each token's report, just before the
  // on_reasoning / on_answer call that carries the first of its text; reports of tokens whose
  // text shows in neither (markup, <think> tags) follow with a later part or after the last.
  std::function<void(const token_report&)> on_token = {};
};

// n_predict is capped to the room left in the context. Throws api_error 500 on engine errors.
// `output` (may be null) constrains the answer and has tool calls parsed out of it.
completion_result run_completion(session& s, const loaded_model& lm, const prepared_prompt& p, const gen_params& params,
                                 const completion_sinks& sinks, const output_plan* output = nullptr);

// Sampling defaults from the model's params layer (Modelfile PARAMETERs); requests override.
gen_params model_defaults(const loaded_model& lm);

}  // namespace pocketlm::server
