#include "runtime/tool_grammar.h"

#include <set>

#include "grammar/json_schema.h"

namespace pocketlm {
namespace {

using ojson = nlohmann::ordered_json;
using chat::tool_syntax_kind;

struct tool_def {
  std::string name;
  ojson parameters;
};

error invalid(std::string message) { return error{std::move(message), error_kind::invalid_input}; }

result<std::vector<tool_def>> tools_of(const ojson& tools) {
  std::vector<tool_def> out;
  if (tools.is_null()) return out;
  if (!tools.is_array()) return invalid("tools must be an array of tool definitions");
  std::set<std::string> seen;
  for (size_t i = 0; i < tools.size(); ++i) {
    const ojson& t = tools[i];
    const std::string where = "tools[" + std::to_string(i) + "]";
    if (!t.is_object()) return invalid(where + " must be an object");
    if (t.contains("type") && t["type"] != "function") {
      return invalid(where + ".type must be \"function\", got " + t["type"].dump());
    }
    if (!t.contains("function") || !t["function"].is_object()) return invalid(where + ".function is missing");
    const ojson& f = t["function"];
    if (!f.contains("name") || !f["name"].is_string() || f["name"].get_ref<const std::string&>().empty()) {
      return invalid(where + ".function.name must be a non-empty string");
    }
    tool_def d{f["name"].get<std::string>(), ojson{{"type", "object"}}};
    if (f.contains("parameters") && !f["parameters"].is_null()) d.parameters = f["parameters"];
    if (!seen.insert(d.name).second) return invalid(where + " repeats the tool name '" + d.name + "'");
    out.push_back(std::move(d));
  }
  return out;
}

// A GBNF string literal matching `text` exactly (UTF-8 kept as it is).
std::string literal(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (const unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// One tool's call in the syntax: a JSON object, or DeepSeek's markup around the arguments.
std::string call_rule(tool_syntax_kind kind, const std::string& name, const std::string& value) {
  if (kind == tool_syntax_kind::deepseek_r1) {
    // deepseek-ai/DeepSeek-R1's template: function<｜tool▁sep｜>NAME\n```json\n{args}\n```
    return literal("<｜tool▁call▁begin｜>function<｜tool▁sep｜>" + name + "\n```json\n") + " " + value + " " +
           literal("\n```<｜tool▁call▁end｜>");
  }
  const char* arguments = kind == tool_syntax_kind::llama3_json ? "\"parameters\"" : "\"arguments\"";
  std::string rule = "\"{\" call-ws \"\\\"name\\\"\" call-ws \":\" call-ws " + literal(ojson(name).dump()) +
                     " call-ws \",\" call-ws " + literal(arguments) + " call-ws \":\" call-ws " + value;
  // Mistral Nemo's template requires 9-character alphanumeric ids in the history it renders.
  if (kind == tool_syntax_kind::mistral)
    rule += " call-ws \",\" call-ws \"\\\"id\\\"\" call-ws \":\" call-ws mistral-id";
  return rule + " call-ws \"}\"";
}

// The root: the call(s) in the syntax's markup, as the corpus templates write them.
std::string root_rule(tool_syntax_kind kind, bool parallel, bool with_response) {
  const auto calls = [&](const std::string& one, const std::string& sep) {
    return parallel ? one + " ( " + sep + " " + one + " )*" : one;
  };
  switch (kind) {
    case tool_syntax_kind::hermes: return calls("call-block", literal("\n"));
    case tool_syntax_kind::llama3_json: return literal("<|python_tag|>") + "? " + calls("call", literal("\n"));
    case tool_syntax_kind::mistral: return literal("[TOOL_CALLS][") + " " + calls("call", "\",\" call-ws") + " \"]\"";
    case tool_syntax_kind::deepseek_r1:
      return literal("<｜tool▁calls▁begin｜>") + " " + calls("call", literal("\n")) + " " +
             literal("<｜tool▁calls▁end｜>");
    case tool_syntax_kind::generic: {
      std::string list = "\"{\" call-ws \"\\\"tool_calls\\\"\" call-ws \":\" call-ws \"[\" call-ws " +
                         calls("call", "call-ws \",\" call-ws") + " call-ws \"]\" call-ws \"}\"";
      if (!with_response) return list;
      return "( " + list +
             " ) | ( \"{\" call-ws \"\\\"response\\\"\" call-ws \":\" call-ws response-value call-ws \"}\" )";
    }
  }
  return {};
}

}  // namespace

result<tool_grammar> tool_call_grammar(const chat::tool_syntax& syntax, const nlohmann::ordered_json& tools,
                                       const tool_choice& choice, bool parallel) {
  auto defs = tools_of(tools);
  if (!defs) return defs.err();
  if (choice.mode == tool_choice_mode::none) return tool_grammar{};
  if (defs->empty()) {
    if (choice.mode == tool_choice_mode::automatic) return tool_grammar{};
    if (choice.mode == tool_choice_mode::required)
      return invalid("tool_choice is \"required\", but no tools are given");
  }
  std::vector<size_t> chosen;
  for (size_t i = 0; i < defs->size(); ++i) {
    if (choice.mode != tool_choice_mode::named || (*defs)[i].name == choice.name) chosen.push_back(i);
  }
  if (chosen.empty()) return invalid("tool_choice names '" + choice.name + "', which is not among the tools");

  const tool_syntax_kind kind = syntax.kind;
  const bool automatic = choice.mode == tool_choice_mode::automatic;
  const bool with_response = automatic && kind == tool_syntax_kind::generic;
  std::string gbnf = "root ::= " + root_rule(kind, parallel, with_response) + "\n";
  std::string alternatives;
  std::string rules;
  for (size_t i : chosen) {
    const tool_def& d = (*defs)[i];
    const std::string prefix = "tool" + std::to_string(i) + "-";
    auto schema_rules = grammar::json_schema_rules(d.parameters, prefix);
    if (!schema_rules) {
      return error{"tools[" + std::to_string(i) + "] ('" + d.name + "') parameters: " + schema_rules.error_message(),
                   schema_rules.kind()};
    }
    const std::string call_name = prefix + "call";
    gbnf += call_name + " ::= " + call_rule(kind, d.name, prefix + "value") + "\n";
    alternatives += (alternatives.empty() ? "" : " | ") + call_name;
    rules += *schema_rules + "\n";
  }
  gbnf += "call ::= " + alternatives + "\n";
  // Qwen 2.5's and Hermes 2 Pro's templates: "<tool_call>\n{...}\n</tool_call>".
  if (kind == tool_syntax_kind::hermes) gbnf += "call-block ::= \"<tool_call>\\n\" call \"\\n</tool_call>\"\n";
  if (kind == tool_syntax_kind::mistral) gbnf += "mistral-id ::= \"\\\"\" [a-zA-Z0-9]{9} \"\\\"\"\n";
  if (with_response) {
    auto response = grammar::json_schema_rules(ojson{{"type", "string"}}, "response-");
    if (!response) return response.err();
    rules += *response + "\n";
  }
  // JSON whitespace between the call's tokens, bounded as the schema compiler bounds its own.
  gbnf += "call-ws ::= ( \" \" | \"\\n\" [ \\t]{0,20} )?\n";
  gbnf += rules;
  return tool_grammar{std::move(gbnf), automatic ? syntax.triggers : std::vector<std::string>{}};
}

}  // namespace pocketlm
