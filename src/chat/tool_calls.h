// Tool calls as chat templates make models write them: which syntax a template uses (detected
// from its source, never from a list of known templates), and a streaming parser that splits
// generated answer text into plain content and calls, holding back text that may be the start
// of call markup so that no markup leaks into content.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace pocketlm::chat {

class chat_template;

enum class tool_syntax_kind {
  hermes,       // <tool_call>{"name": ..., "arguments": {...}}</tool_call> (Qwen 2.5/3, Hermes, SmolLM3)
  llama3_json,  // {"name": ..., "parameters": {...}} as the whole answer, or <|python_tag|>...
  mistral,      // [TOOL_CALLS][{"name": ..., "arguments": {...}, "id": ...}]
  deepseek_r1,  // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{...}\n```<｜tool▁call▁end｜>...
  generic,  // the template knows no tools: {"tool_calls": [{"name": ..., "arguments": {...}}]} described in a system message
};

struct tool_syntax {
  tool_syntax_kind kind = tool_syntax_kind::generic;
  // Texts that open a call; with tool_choice "auto" the grammar starts at the first of them (the
  // grammar's sentences begin with the trigger text). hermes: "<tool_call>"; mistral:
  // "[TOOL_CALLS]"; deepseek_r1: "<｜tool▁calls▁begin｜>"; llama3_json: "{\"name\"" (the call is a
  // bare JSON object, as the Llama 3.1-3.3 templates write it) and "<|python_tag|>"; generic:
  // none, as the whole answer is one JSON object (a call or {"response": ...}).
  std::vector<std::string> triggers;
  // generic only: the template does not render `tools`, so the request's tools are described in
  // a system message the caller adds (system_prompt_for_tools).
  bool needs_system_prompt = false;
};

// From the template's source: the markup it renders for tool calls and tool definitions, looked
// for in this order: "<｜tool▁calls▁begin｜>" (DeepSeek R1/V3), "[TOOL_CALLS]" (Mistral),
// "<tool_call>" (Hermes, Qwen; also the XML-argument dialects of Qwen3-Coder and GLM, which then
// write Hermes JSON under the grammar), "<|python_tag|>" or an ipython role with "parameters"
// (Llama 3.1-3.3), else generic (needs_system_prompt when no Jinja tag reads `tools`).
tool_syntax tool_syntax_of(const chat_template& t);
tool_syntax tool_syntax_of_source(std::string_view source);

// The system message text describing `tools` (OpenAI tool definitions) for generic syntax.
std::string system_prompt_for_tools(const nlohmann::ordered_json& tools);

// "call_" + 24 random letters and digits; thread-safe.
std::string new_tool_call_id();

struct tool_call {
  // new_tool_call_id(), or the id the model wrote itself (Mistral's 9-character ids, which its
  // template checks when the call comes back in the history).
  std::string id;
  std::string name;
  std::string arguments;  // JSON object text, as generated (compact)
};

// A streamed change: a new call (index, id, name) or more argument text for call `index`.
struct tool_call_delta {
  size_t index = 0;
  std::string id;    // set on a call's first delta
  std::string name;  // set on a call's first delta
  std::string arguments_fragment;
};

// What each syntax takes as a call (anything else stays content, so nothing is lost):
//  - hermes: "<tool_call>" JSON "</tool_call>", any number; the closing tag may be missing at the
//    end; "arguments" may be an object or a string holding one.
//  - llama3_json: a JSON object {"name", "parameters" (or "arguments")} anywhere in the answer,
//    or "<|python_tag|>" followed by one. The builtin-tool form "<|python_tag|>name.call(...)"
//    (brave_search, wolfram_alpha, code_interpreter) stays content: pocketlm defines no builtin
//    tools and its grammar never writes that form.
//  - mistral: "[TOOL_CALLS]" then a JSON array of {name, arguments, id?} (Nemo), or
//    "[TOOL_CALLS]name[ARGS]{...}" per call (Small 3.2, Devstral, Ministral 3).
//  - deepseek_r1: "<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{...}\n```<｜tool▁call▁end｜>"
//    (R1) or "<｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{...}<｜tool▁call▁end｜>" (V3.1) inside
//    "<｜tool▁calls▁begin｜>...<｜tool▁calls▁end｜>"; each call is reported when it ends.
//  - generic: an answer that is one JSON object {"tool_calls": [...]}, {"tool_call": {...}} or
//    {"response": "text"} (the text is the content, streamed as it is decoded); other objects
//    are held until complete.
// Whitespace before call markup and after a call is dropped; a call's first delta carries index,
// id and name, the next its arguments (compact JSON). Concatenating every push's and finish's
// output gives the same content and calls whatever the chunking.
class tool_call_parser {
 public:
  explicit tool_call_parser(tool_syntax syntax);

  struct output {
    std::string content;  // plain answer text that is now final
    std::vector<tool_call_delta> deltas;
  };
  // Feeds answer text (never reasoning: a call written inside <think> is not taken).
  output push(std::string_view text);
  // End of generation: held-back text that turned out not to be a call becomes content; an
  // unfinished call is dropped from calls() and its text returned as content.
  output finish();
  const std::vector<tool_call>& calls() const { return calls_; }

 private:
  // A text that opens markup, and what follows it (step_block reads each kind).
  enum class markup { hermes, llama_json, python_tag, mistral, deepseek_call, drop };
  struct marker {
    std::string_view text;  // a literal
    markup kind;
  };
  void run(output& out, bool at_end);
  bool step_text(output& out, bool at_end);
  bool step_block(output& out, bool at_end);
  bool step_response(output& out, bool at_end);
  void emit_text(output& out, std::string_view text);
  void add_call(output& out, std::string name, std::string arguments, std::string id);

  tool_syntax syntax_;
  std::vector<marker> markers_;
  std::string pending_;          // text not yet attributed
  int block_ = -1;               // pending_ starts with markers_[block_]'s text; -1: plain text
  bool whole_answer_ = false;    // generic: pending_ is the answer's JSON object
  bool answer_started_ = false;  // generic: the answer's first non-whitespace byte was seen
  bool in_response_ = false;     // generic: pending_ is inside {"response": "...
  bool response_end_ = false;    // generic: the response string ended; its '}' is due
  bool after_call_ = false;      // whitespace here follows markup and is dropped
  std::string lead_space_;       // whitespace dropped before markup, given back if it is no call
  std::vector<tool_call> calls_;
};

}  // namespace pocketlm::chat
