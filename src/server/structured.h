// What a request asks of its output's shape, in either API: a grammar the answer must match
// (OpenAI response_format json_object / json_schema, llama-server's grammar and json_schema,
// Ollama's format) and tool calls (tools, tool_choice, parallel_tool_calls). Read and compiled
// before any model loads, so an unsupported schema is a 400, never an unconstrained answer.
#pragma once

#include <optional>
#include <string>

#include "chat/tool_calls.h"
#include "grammar/grammar.h"
#include "runtime/constraint.h"
#include "runtime/tool_grammar.h"
#include "server/api.h"

namespace pocketlm::server {

struct output_request {
  grammar::grammar_ptr answer_grammar;     // null: the answer is free text
  nlohmann::ordered_json tools = nullptr;  // OpenAI-shaped tool definitions (Ollama's are the same)
  tool_choice choice;
  bool parallel_tool_calls = true;
  // Tool calls are parsed out of the answer: tools were given and tool_choice is not "none".
  bool wants_tool_calls() const;
};

// From the raw body (key order matters: a schema's properties are generated in its order).
output_request parse_openai_output(const std::string& raw_body);
output_request parse_ollama_output(const std::string& raw_body);

struct prepared_prompt;
struct loaded_model;

// A job's constraint and tool syntax, once its model and template are known.
struct output_plan {
  grammar_constraint constraint;                 // grammar null: unconstrained
  std::optional<chat::tool_syntax> tool_syntax;  // set: tool calls are parsed out of the answer
};
output_plan plan_output(const loaded_model& lm, const prepared_prompt& p, const output_request& out);

}  // namespace pocketlm::server
