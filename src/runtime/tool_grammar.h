// The GBNF grammar that constrains a model's tool calls to the request's tools, in the markup of
// its template's syntax (chat/tool_calls.h), so that tool_call_parser reads back every call the
// grammar lets through: the name is one of the tools and the arguments follow that tool's
// parameters schema (compiled by grammar/json_schema.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/tool_calls.h"
#include "common/result.h"

namespace pocketlm {

// OpenAI's tool_choice: "none", "auto", "required", or {"type": "function", "function": {"name"}}.
enum class tool_choice_mode { none, automatic, required, named };
struct tool_choice {
  tool_choice_mode mode = tool_choice_mode::automatic;
  std::string name;  // named only
};

struct tool_grammar {
  std::string gbnf;  // empty: no grammar
  // Lazy grammar: text before the first of these is free, and the grammar's sentences begin with
  // the trigger text itself (the matcher is fed from the trigger on). Empty: the grammar is active
  // from the first token.
  std::vector<std::string> triggers;
};

// From the syntax, the request's tools (OpenAI shape: [{"type": "function", "function": {"name",
// "description", "parameters"}}]), the choice and parallel_tool_calls:
//  - none, or automatic without tools: no grammar.
//  - required / named: the whole answer is the call(s) (one, or one or more when parallel);
//    named allows only that tool.
//  - automatic: the call(s) from the first trigger on (triggers = syntax.triggers). The generic
//    syntax has no triggers: its whole answer is one JSON object, the call(s) or
//    {"response": "text"}.
// Each call is {"name": "<tool name>", "arguments": <its parameters schema>} (Llama 3:
// "parameters"; Mistral adds the 9-character "id" its template checks), one alternative per
// tool, so that name and arguments agree; between markup and JSON the whitespace the template
// writes ("<tool_call>\n{...}\n</tool_call>"). Tools without parameters take any JSON object
// (OpenAI's "no arguments" is {} there, which an object schema admits; a model that passes some
// anyway is not cut off mid-call).
// Errors: invalid_input for malformed tools, a repeated name, required without tools, and a named
// tool that is not among them ("tool_choice names 'x', which is not among the tools"); a
// parameters schema the compiler does not support gives its error (kind unsupported), prefixed
// with the tool.
result<tool_grammar> tool_call_grammar(const chat::tool_syntax& syntax, const nlohmann::ordered_json& tools,
                                       const tool_choice& choice, bool parallel);

}  // namespace pocketlm
