#include "chat/tool_calls.h"

#include <cctype>
#include <random>

#include "chat/chat.h"
#include "chat/tool_markup.h"

namespace pocketlm::chat {
namespace {

bool has(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Whether a Jinja tag ({{ ... }} or {% ... %}) names the variable `tools`; prose that mentions
// tools does not count.
bool jinja_reads_tools(std::string_view src) {
  for (size_t open = src.find('{'); open != std::string_view::npos; open = src.find('{', open + 1)) {
    if (open + 1 >= src.size() || (src[open + 1] != '{' && src[open + 1] != '%')) continue;
    const std::string_view close_tag = src[open + 1] == '{' ? "}}" : "%}";
    const size_t close = src.find(close_tag, open + 2);
    if (close == std::string_view::npos) return false;
    const std::string_view tag = src.substr(open + 2, close - open - 2);
    for (size_t at = tag.find("tools"); at != std::string_view::npos; at = tag.find("tools", at + 1)) {
      const bool starts = at == 0 || !word_char(tag[at - 1]);
      const bool ends = at + 5 >= tag.size() || !word_char(tag[at + 5]);
      if (starts && ends) return true;
    }
    open = close;
  }
  return false;
}

std::string compact(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

tool_syntax tool_syntax_of_source(std::string_view source) {
  tool_syntax s;
  if (has(source, deepseek_calls_begin)) {
    s.kind = tool_syntax_kind::deepseek_r1;
    s.triggers = {std::string(deepseek_calls_begin)};
  } else if (has(source, mistral_open)) {
    s.kind = tool_syntax_kind::mistral;
    s.triggers = {std::string(mistral_open)};
  } else if (has(source, hermes_open)) {
    s.kind = tool_syntax_kind::hermes;
    s.triggers = {std::string(hermes_open)};
  } else if (has(source, llama_python_tag) || (has(source, "ipython") && has(source, "\"parameters\""))) {
    s.kind = tool_syntax_kind::llama3_json;
    s.triggers = {std::string(llama_open), std::string(llama_python_tag)};
  } else {
    s.needs_system_prompt = !jinja_reads_tools(source);
  }
  return s;
}

tool_syntax tool_syntax_of(const chat_template& t) { return tool_syntax_of_source(t.source()); }

std::string system_prompt_for_tools(const nlohmann::ordered_json& tools) {
  std::string out = "You can call these tools (each one's arguments are described by a JSON Schema):\n";
  if (tools.is_array()) {
    for (const auto& tool : tools) {
      const bool wrapped = tool.is_object() && tool.contains("function");
      out += compact(wrapped ? tool["function"] : tool) + "\n";
    }
  }
  out +=
      "\nAnswer with one JSON object and nothing else: to call tools, "
      "{\"tool_calls\": [{\"name\": \"<tool name>\", \"arguments\": {<the tool's arguments>}}]}; "
      "to answer without a tool, {\"response\": \"<your answer>\"}.";
  return out;
}

std::string new_tool_call_id() {
  static constexpr std::string_view alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  // One generator per thread, seeded from the OS: no lock, and no two threads share a sequence.
  thread_local std::mt19937_64 rng = [] {
    std::random_device rd;
    std::seed_seq seed{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seed);
  }();
  std::uniform_int_distribution<size_t> pick(0, alnum.size() - 1);
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += alnum[pick(rng)];
  return id;
}

}  // namespace pocketlm::chat
