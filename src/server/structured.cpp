#include "server/structured.h"

#include "grammar/json_schema.h"
#include "server/completion.h"
#include "server/manager.h"

namespace pocketlm::server {

namespace {

using ojson = nlohmann::ordered_json;

grammar::grammar_ptr compile(const result<std::string>& gbnf, const char* param) {
  if (!gbnf) throw api_error(400, gbnf.error_message(), param);
  auto g = grammar::grammar::parse(*gbnf);
  if (!g) throw api_error(400, g.error_message(), param);
  return *g;
}

grammar::grammar_ptr schema_grammar(const ojson& schema, const char* param) {
  if (!schema.is_object() && !schema.is_boolean()) {
    throw api_error(400, std::string("invalid type for '") + param + "': expected a JSON Schema object", param);
  }
  return compile(grammar::json_schema_to_gbnf(schema), param);
}

ojson body_of(const std::string& raw) {
  ojson body = ojson::parse(raw, nullptr, false);
  return body.is_object() ? body : ojson::object();  // the request parser rejected the rest
}

// tools / tool_choice / parallel_tool_calls, the same in both APIs (Ollama has no tool_choice).
void read_tools(const ojson& body, output_request& out) {
  const auto it = body.find("tools");
  if (it != body.end() && !it->is_null()) {
    if (!it->is_array()) throw api_error(400, "invalid type for 'tools': expected an array", "tools");
    for (const ojson& t : *it) {
      const ojson* fn = t.is_object() ? &t : nullptr;
      if (fn && fn->contains("function")) fn = &(*fn)["function"];
      if (!fn || !fn->is_object() || !fn->contains("name") || !(*fn)["name"].is_string()) {
        throw api_error(400, "each tool must be {\"type\": \"function\", \"function\": {\"name\": ...}}", "tools");
      }
      if (fn->contains("parameters") && !(*fn)["parameters"].is_null()) {
        auto rules = grammar::json_schema_rules((*fn)["parameters"], "check-");
        if (!rules) {
          throw api_error(400, "tool '" + (*fn)["name"].get<std::string>() + "': " + rules.error_message(), "tools");
        }
      }
    }
    if (!it->empty()) out.tools = *it;
  }
  if (const auto c = body.find("tool_choice"); c != body.end() && !c->is_null()) {
    if (c->is_string()) {
      const std::string s = c->get<std::string>();
      if (s == "none")
        out.choice.mode = tool_choice_mode::none;
      else if (s == "auto")
        out.choice.mode = tool_choice_mode::automatic;
      else if (s == "required")
        out.choice.mode = tool_choice_mode::required;
      else
        throw api_error(400, "tool_choice must be 'none', 'auto', 'required' or a named function", "tool_choice");
    } else if (c->is_object() && c->contains("function") && (*c)["function"].is_object() &&
               (*c)["function"].value("name", ojson()).is_string()) {
      out.choice.mode = tool_choice_mode::named;
      out.choice.name = (*c)["function"]["name"].get<std::string>();
    } else {
      throw api_error(400, "tool_choice must be 'none', 'auto', 'required' or {\"type\": \"function\", ...}",
                      "tool_choice");
    }
    if (out.choice.mode != tool_choice_mode::none && out.tools.is_null()) {
      throw api_error(400, "tool_choice needs 'tools'", "tool_choice");
    }
  }
  if (const auto p = body.find("parallel_tool_calls"); p != body.end() && !p->is_null()) {
    if (!p->is_boolean()) throw api_error(400, "invalid type for 'parallel_tool_calls': expected a boolean");
    out.parallel_tool_calls = p->get<bool>();
  }
  if (out.wants_tool_calls() && out.choice.mode != tool_choice_mode::automatic && out.answer_grammar) {
    out.answer_grammar = nullptr;  // the answer is the call: its arguments follow the tool's schema
  }
  if (out.wants_tool_calls() && out.choice.mode == tool_choice_mode::automatic && out.answer_grammar) {
    throw api_error(400,
                    "a response format together with tools and tool_choice 'auto' is not supported: send "
                    "tool_choice 'none' for the format or 'required' for a call",
                    "response_format");
  }
}

}  // namespace

bool output_request::wants_tool_calls() const {
  return tools.is_array() && !tools.empty() && choice.mode != tool_choice_mode::none;
}

output_request parse_openai_output(const std::string& raw_body) {
  const ojson body = body_of(raw_body);
  output_request out;
  if (const auto it = body.find("response_format"); it != body.end() && !it->is_null()) {
    const ojson& rf = *it;
    const std::string type = rf.is_object() ? rf.value("type", "") : "";
    if (type == "json_object") {
      out.answer_grammar = compile(grammar::json_object_gbnf(), "response_format");
    } else if (type == "json_schema") {
      const ojson js = rf.value("json_schema", ojson());
      if (!js.is_object()) throw api_error(400, "response_format json_schema needs 'json_schema'", "response_format");
      const ojson schema = js.value("schema", ojson(true));
      out.answer_grammar = schema_grammar(schema, "response_format");
    } else if (type != "text") {
      throw api_error(400, "response_format type must be 'text', 'json_object' or 'json_schema'", "response_format");
    }
  }
  // llama-server's own fields.
  if (const auto it = body.find("json_schema"); it != body.end() && !it->is_null()) {
    out.answer_grammar = schema_grammar(*it, "json_schema");
  }
  if (const auto it = body.find("grammar"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) throw api_error(400, "invalid type for 'grammar': expected GBNF text", "grammar");
    if (!it->get<std::string>().empty()) out.answer_grammar = compile(it->get<std::string>(), "grammar");
  }
  read_tools(body, out);
  return out;
}

output_request parse_ollama_output(const std::string& raw_body) {
  const ojson body = body_of(raw_body);
  output_request out;
  if (const auto it = body.find("format"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      const std::string f = it->get<std::string>();
      if (f == "json")
        out.answer_grammar = compile(grammar::json_object_gbnf(), "format");
      else if (!f.empty())
        throw api_error(400, "invalid format: '" + f + "' (expected \"json\" or a JSON Schema)", "format");
    } else {
      out.answer_grammar = schema_grammar(*it, "format");
    }
  }
  read_tools(body, out);
  return out;
}

output_plan plan_output(const loaded_model& lm, const prepared_prompt& p, const output_request& out) {
  output_plan plan;
  grammar::grammar_ptr g = out.answer_grammar;
  std::vector<std::string> triggers;
  if (out.wants_tool_calls()) {
    chat::tool_syntax syntax = p.tmpl ? chat::tool_syntax_of(*p.tmpl) : chat::tool_syntax_of_source("");
    auto tg = tool_call_grammar(syntax, out.tools, out.choice, out.parallel_tool_calls);
    if (!tg) throw api_error(400, tg.error_message(), "tool_choice");
    g = compile(tg->gbnf, "tools");
    triggers = tg->triggers;
    plan.tool_syntax = std::move(syntax);
  }
  if (g) {
    plan.constraint.grammar = std::move(g);
    plan.constraint.vocab = lm.vocab.get(*lm.tok);
    plan.constraint.triggers = std::move(triggers);
    plan.constraint.free_reasoning = p.reasoning_model;
    plan.constraint.starts_in_think = p.starts_in_think;
  }
  return plan;
}

}  // namespace pocketlm::server
