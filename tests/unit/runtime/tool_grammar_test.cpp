// The tool-call grammar for every syntax: it parses, its matcher accepts the call as the syntax's
// templates write it, and tool_call_parser reads that text back to the same name and arguments;
// it rejects a tool that does not exist, arguments that break the tool's schema, and arguments
// of another tool; tool_choice (none, auto, required, named) and parallel_tool_calls.
#include "runtime/tool_grammar.h"

#include <gtest/gtest.h>

#include "grammar/grammar.h"

namespace pocketlm {
namespace {

using ojson = nlohmann::ordered_json;
using chat::tool_syntax_kind;

const ojson k_tools = ojson::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "description": "Weather now",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                   "required": ["city"], "additionalProperties": false}}},
  {"type": "function", "function": {"name": "get_time",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "additionalProperties": false}}},
  {"type": "function", "function": {"name": "ping"}}
])");

const tool_syntax_kind k_kinds[] = {tool_syntax_kind::hermes, tool_syntax_kind::llama3_json, tool_syntax_kind::mistral,
                                    tool_syntax_kind::deepseek_r1, tool_syntax_kind::generic};

chat::tool_syntax syntax_of(tool_syntax_kind kind) {
  // The syntax as detection fills it (triggers included), from a minimal template of each kind.
  switch (kind) {
    case tool_syntax_kind::hermes: return chat::tool_syntax_of_source("{{ '<tool_call>' }}{{ tools }}");
    case tool_syntax_kind::llama3_json: return chat::tool_syntax_of_source("{{ '<|python_tag|>' }}{{ tools }}");
    case tool_syntax_kind::mistral: return chat::tool_syntax_of_source("{{ '[TOOL_CALLS]' }}{{ tools }}");
    case tool_syntax_kind::deepseek_r1: return chat::tool_syntax_of_source("{{ '<｜tool▁calls▁begin｜>' }}");
    case tool_syntax_kind::generic: return chat::tool_syntax_of_source("{{ messages }}");
  }
  return {};
}

struct call_text {
  std::string name;
  std::string arguments;  // JSON text, as the model writes it
};

// Calls as each syntax's templates render them (Qwen 2.5, Llama 3.1, Mistral Nemo, DeepSeek R1).
std::string canonical(tool_syntax_kind kind, const std::vector<call_text>& calls) {
  std::string out;
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string name = ojson(calls[i].name).dump();
    const std::string& args = calls[i].arguments;
    switch (kind) {
      case tool_syntax_kind::hermes:
        out += (i ? "\n" : "") + std::string("<tool_call>\n{\"name\": ") + name + ", \"arguments\": " + args +
               "}\n</tool_call>";
        break;
      case tool_syntax_kind::llama3_json:
        out += (i ? "\n" : "") + std::string("{\"name\": ") + name + ", \"parameters\": " + args + "}";
        break;
      case tool_syntax_kind::mistral:
        out += (i ? ", " : "[TOOL_CALLS][") + std::string("{\"name\": ") + name + ", \"arguments\": " + args +
               ", \"id\": \"a1b2c3d4" + std::to_string(i) + "\"}";
        break;
      case tool_syntax_kind::deepseek_r1:
        out += (i ? "\n" : "<｜tool▁calls▁begin｜>") + std::string("<｜tool▁call▁begin｜>function<｜tool▁sep｜>") +
               calls[i].name + "\n```json\n" + args + "\n```<｜tool▁call▁end｜>";
        break;
      case tool_syntax_kind::generic:
        out += (i ? ", " : "{\"tool_calls\": [") + std::string("{\"name\": ") + name + ", \"arguments\": " + args + "}";
        break;
    }
  }
  if (kind == tool_syntax_kind::mistral) out += "]";
  if (kind == tool_syntax_kind::deepseek_r1) out += "<｜tool▁calls▁end｜>";
  if (kind == tool_syntax_kind::generic) out += "]}";
  return out;
}

grammar::grammar_ptr compile(tool_syntax_kind kind, const tool_choice& choice, bool parallel) {
  auto g = tool_call_grammar(syntax_of(kind), k_tools, choice, parallel);
  EXPECT_TRUE(g.ok()) << g.error_message();
  if (!g.ok()) return nullptr;
  auto parsed = grammar::grammar::parse(g->gbnf);
  EXPECT_TRUE(parsed.ok()) << parsed.error_message() << "\n" << g->gbnf;
  return parsed.ok() ? *parsed : nullptr;
}

bool accepts(const grammar::grammar_ptr& g, const std::string& text) {
  grammar::matcher m(g);
  return m.accept(text) && m.can_end();
}

const tool_choice k_required{tool_choice_mode::required, ""};

TEST(ToolGrammar, CanonicalCallsRoundTripThroughTheParser) {
  const std::vector<call_text> calls = {{"get_weather", R"({"city": "Paris", "days": 3})"}};
  for (auto kind : k_kinds) {
    SCOPED_TRACE(static_cast<int>(kind));
    auto g = compile(kind, k_required, false);
    ASSERT_TRUE(g);
    const std::string text = canonical(kind, calls);
    EXPECT_TRUE(accepts(g, text)) << text;
    chat::tool_call_parser p(syntax_of(kind));
    std::string content = p.push(text).content;
    content += p.finish().content;
    EXPECT_EQ(content, "");
    ASSERT_EQ(p.calls().size(), 1u);
    EXPECT_EQ(p.calls()[0].name, "get_weather");
    EXPECT_EQ(p.calls()[0].arguments, R"({"city":"Paris","days":3})");
  }
}

TEST(ToolGrammar, RejectsUnknownToolsAndArgumentsOffSchema) {
  for (auto kind : k_kinds) {
    SCOPED_TRACE(static_cast<int>(kind));
    auto g = compile(kind, k_required, false);
    ASSERT_TRUE(g);
    EXPECT_TRUE(accepts(g, canonical(kind, {{"get_time", R"({"zone": "UTC"})"}})));
    EXPECT_TRUE(accepts(g, canonical(kind, {{"ping", R"({})"}})));
    EXPECT_TRUE(accepts(g, canonical(kind, {{"ping", R"({"any": [1]})"}})));  // no parameters: any object
    EXPECT_FALSE(accepts(g, canonical(kind, {{"get_wether", R"({"city": "Paris"})"}})));
    EXPECT_FALSE(accepts(g, canonical(kind, {{"get_weather", R"({"city": "Paris", "days": "three"})"}})));
    EXPECT_FALSE(accepts(g, canonical(kind, {{"get_weather", R"({"days": 3})"}})));     // city is required
    EXPECT_FALSE(accepts(g, canonical(kind, {{"get_time", R"({"city": "Paris"})"}})));  // get_weather's
    EXPECT_FALSE(accepts(g, "Sure, " + canonical(kind, {{"ping", R"({})"}})));          // required: calls only
  }
}

TEST(ToolGrammar, ParallelCalls) {
  const std::vector<call_text> two = {{"get_weather", R"({"city": "Paris"})"}, {"get_time", R"({})"}};
  for (auto kind : k_kinds) {
    SCOPED_TRACE(static_cast<int>(kind));
    auto parallel = compile(kind, k_required, true);
    auto single = compile(kind, k_required, false);
    ASSERT_TRUE(parallel && single);
    const std::string text = canonical(kind, two);
    EXPECT_TRUE(accepts(parallel, text)) << text;
    EXPECT_FALSE(accepts(single, text)) << text;
    chat::tool_call_parser p(syntax_of(kind));
    (void)p.push(text);
    (void)p.finish();
    ASSERT_EQ(p.calls().size(), 2u) << text;
    EXPECT_EQ(p.calls()[1].name, "get_time");
  }
}

TEST(ToolGrammar, NamedChoice) {
  for (auto kind : k_kinds) {
    SCOPED_TRACE(static_cast<int>(kind));
    auto g = compile(kind, {tool_choice_mode::named, "get_time"}, false);
    ASSERT_TRUE(g);
    EXPECT_TRUE(accepts(g, canonical(kind, {{"get_time", R"({"zone": "UTC"})"}})));
    EXPECT_FALSE(accepts(g, canonical(kind, {{"get_weather", R"({"city": "Paris"})"}})));
  }
  auto missing = tool_call_grammar(syntax_of(tool_syntax_kind::hermes), k_tools, {tool_choice_mode::named, "x"}, false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.kind(), error_kind::invalid_input);
  EXPECT_EQ(missing.error_message(), "tool_choice names 'x', which is not among the tools");
}

TEST(ToolGrammar, AutomaticIsLazyFromTheTriggers) {
  for (auto kind : k_kinds) {
    SCOPED_TRACE(static_cast<int>(kind));
    const chat::tool_syntax s = syntax_of(kind);
    auto g = tool_call_grammar(s, k_tools, {}, false);
    ASSERT_TRUE(g.ok()) << g.error_message();
    EXPECT_EQ(g->triggers, s.triggers);
    auto parsed = grammar::grammar::parse(g->gbnf);
    ASSERT_TRUE(parsed.ok()) << parsed.error_message();
    const std::string call = canonical(kind, {{"ping", "{}"}});
    EXPECT_TRUE(accepts(*parsed, call));
    // Every sentence starts with a trigger: the matcher is fed from the trigger on.
    bool starts_with_trigger = s.triggers.empty();
    for (const auto& t : s.triggers) starts_with_trigger |= call.starts_with(t);
    EXPECT_TRUE(starts_with_trigger) << call;
  }
  // Llama 3's other trigger.
  auto llama = compile(tool_syntax_kind::llama3_json, {}, false);
  EXPECT_TRUE(accepts(llama, "<|python_tag|>{\"name\": \"ping\", \"parameters\": {}}"));
  // Generic has no trigger: the answer is the calls or {"response": text}, which required refuses.
  auto generic_auto = compile(tool_syntax_kind::generic, {}, false);
  auto generic_required = compile(tool_syntax_kind::generic, k_required, false);
  const std::string response = R"({"response": "It is sunny \"today\"."})";
  EXPECT_TRUE(accepts(generic_auto, response));
  EXPECT_FALSE(accepts(generic_required, response));
  chat::tool_call_parser p(syntax_of(tool_syntax_kind::generic));
  std::string content = p.push(response).content;
  content += p.finish().content;
  EXPECT_EQ(content, "It is sunny \"today\".");
}

TEST(ToolGrammar, NoGrammarAndErrors) {
  const auto hermes = syntax_of(tool_syntax_kind::hermes);
  auto none = tool_call_grammar(hermes, k_tools, {tool_choice_mode::none, ""}, true);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->gbnf.empty());
  auto no_tools = tool_call_grammar(hermes, ojson::array(), {}, true);
  ASSERT_TRUE(no_tools.ok());
  EXPECT_TRUE(no_tools->gbnf.empty());
  auto required = tool_call_grammar(hermes, ojson::array(), k_required, true);
  ASSERT_FALSE(required.ok());
  EXPECT_EQ(required.kind(), error_kind::invalid_input);

  const ojson unsupported =
      ojson::parse(R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "not": {}}}}])");
  auto bad_schema = tool_call_grammar(hermes, unsupported, k_required, false);
  ASSERT_FALSE(bad_schema.ok());
  EXPECT_EQ(bad_schema.kind(), error_kind::unsupported);
  EXPECT_NE(bad_schema.error_message().find("tools[0] ('f')"), std::string::npos) << bad_schema.error_message();

  const ojson twice = ojson::parse(
      R"([{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}])");
  auto repeated = tool_call_grammar(hermes, twice, k_required, false);
  ASSERT_FALSE(repeated.ok());
  EXPECT_EQ(repeated.kind(), error_kind::invalid_input);
  auto nameless =
      tool_call_grammar(hermes, ojson::parse(R"([{"type": "function", "function": {}}])"), k_required, false);
  ASSERT_FALSE(nameless.ok());
  EXPECT_EQ(nameless.kind(), error_kind::invalid_input);
}

TEST(ToolGrammar, NamesNeedingEscapes) {
  const ojson tools = ojson::parse(R"([{"type": "function", "function": {"name": "say \"hi\"\\now"}}])");
  auto g = tool_call_grammar(syntax_of(tool_syntax_kind::hermes), tools, k_required, false);
  ASSERT_TRUE(g.ok()) << g.error_message();
  auto parsed = grammar::grammar::parse(g->gbnf);
  ASSERT_TRUE(parsed.ok()) << parsed.error_message() << "\n" << g->gbnf;
  const std::string text = canonical(tool_syntax_kind::hermes, {{"say \"hi\"\\now", "{}"}});
  EXPECT_TRUE(accepts(*parsed, text)) << text;
  chat::tool_call_parser p(syntax_of(tool_syntax_kind::hermes));
  (void)p.push(text);
  (void)p.finish();
  ASSERT_EQ(p.calls().size(), 1u);
  EXPECT_EQ(p.calls()[0].name, "say \"hi\"\\now");
}

}  // namespace
}  // namespace pocketlm
