// Tool-call syntax detection and the streaming tool-call parser: every syntax on the text its
// templates write, fed in one piece, byte by byte and in random chunks (the same content and calls
// each way), text around calls, several calls, malformed and unfinished calls; detection and a
// render-then-parse round trip on real templates from the chat corpus (tools/chat_corpus.py, the
// CTest fixture chat_corpus_setup) and on the built-in templates.
#include "chat/tool_calls.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "chat/chat.h"

namespace pocketlm::chat {
namespace {

using ojson = nlohmann::ordered_json;

tool_syntax syntax(tool_syntax_kind k) {
  tool_syntax s;
  s.kind = k;
  return s;
}

// Every push's and finish's output joined; calls rebuilt from the deltas alone.
struct parsed {
  std::string content;
  std::vector<tool_call> calls;
};

parsed feed(tool_syntax_kind kind, std::string_view text, const std::vector<size_t>& chunks) {
  tool_call_parser p(syntax(kind));
  parsed out;
  const auto take = [&](const tool_call_parser::output& o) {
    out.content += o.content;
    for (const auto& d : o.deltas) {
      if (d.index == out.calls.size()) {
        EXPECT_FALSE(d.id.empty()) << "a call's first delta carries its id";
        EXPECT_FALSE(d.name.empty()) << "a call's first delta carries its name";
        out.calls.push_back({d.id, d.name, ""});
      }
      EXPECT_LT(d.index, out.calls.size()) << "deltas come in index order";
      if (d.index < out.calls.size()) out.calls[d.index].arguments += d.arguments_fragment;
    }
  };
  size_t at = 0;
  for (size_t n : chunks) {
    take(p.push(text.substr(at, n)));
    at += n;
  }
  take(p.push(text.substr(at)));
  take(p.finish());
  EXPECT_EQ(p.calls().size(), out.calls.size());
  for (size_t i = 0; i < std::min(p.calls().size(), out.calls.size()); ++i) {
    EXPECT_EQ(p.calls()[i].id, out.calls[i].id);
    EXPECT_EQ(p.calls()[i].name, out.calls[i].name);
    EXPECT_EQ(p.calls()[i].arguments, out.calls[i].arguments);
  }
  return out;
}

std::string describe(const parsed& p) {
  std::string s = "content=" + ojson(p.content).dump();
  for (const auto& c : p.calls) s += " call " + c.name + " " + c.arguments;
  return s;
}

// One push; then byte by byte and in random chunks, which must agree with it (ids aside: each
// parse draws its own).
parsed parse_every_way(tool_syntax_kind kind, std::string_view text) {
  const parsed whole = feed(kind, text, {});
  std::vector<std::vector<size_t>> splits = {std::vector<size_t>(text.size(), 1)};
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    std::vector<size_t> chunks;
    for (size_t left = text.size(); left > 0;) {
      const size_t n = std::min<size_t>(left, std::uniform_int_distribution<size_t>(0, 9)(rng));
      chunks.push_back(n);
      left -= n;
    }
    splits.push_back(chunks);
  }
  for (const auto& chunks : splits) {
    const parsed p = feed(kind, text, chunks);
    EXPECT_EQ(describe(p), describe(whole)) << "chunked in " << chunks.size() << " pieces";
  }
  return whole;
}

const std::vector<std::string> all_markup = {
    "<tool_call>",    "</tool_call>",         "<|python_tag|>", "[TOOL_CALLS]", "[ARGS]", "<｜tool▁calls▁begin｜>",
    "<｜tool▁sep｜>", "<｜tool▁calls▁end｜>", "\"tool_calls\""};

void expect_calls(const parsed& p, const std::vector<std::pair<std::string, std::string>>& want) {
  ASSERT_EQ(p.calls.size(), want.size()) << describe(p);
  std::set<std::string> ids;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(p.calls[i].name, want[i].first);
    EXPECT_EQ(p.calls[i].arguments, want[i].second);
    ids.insert(p.calls[i].id);
  }
  EXPECT_EQ(ids.size(), want.size()) << "ids are unique";
  for (const auto& m : all_markup) EXPECT_EQ(p.content.find(m), std::string::npos) << m << " in " << p.content;
}

TEST(ToolCallParser, HermesCallAfterText) {
  const parsed p = parse_every_way(tool_syntax_kind::hermes,
                                   "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                                   "{\"city\": \"Paris\", \"days\": [1, 2]}}\n</tool_call>");
  EXPECT_EQ(p.content, "Let me check.");
  expect_calls(p, {{"get_weather", R"({"city":"Paris","days":[1,2]})"}});
  EXPECT_TRUE(p.calls[0].id.starts_with("call_"));
}

TEST(ToolCallParser, HermesSeveralCallsAndTextAfter) {
  const parsed p = parse_every_way(tool_syntax_kind::hermes,
                                   "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": \"}</tool_call>\"}}\n"
                                   "</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": \"{\\\"y\\\": 2}\"}\n"
                                   "</tool_call>\n\nDone.");
  EXPECT_EQ(p.content, "\n\nDone.");
  // A closing tag inside a string is data: the call ends where its JSON does.
  expect_calls(p, {{"a", R"({"x":"}</tool_call>"})"}, {"b", R"({"y":2})"}});
}

TEST(ToolCallParser, HermesArgumentsAsJsonString) {
  const parsed p =
      parse_every_way(tool_syntax_kind::hermes,
                      "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", "
                      "\"arguments\": \"{\\\"y\\\": [2, {\\\"z\\\": null}]}\"}\n</tool_call>\n");
  EXPECT_EQ(p.content, "");
  expect_calls(p, {{"a", "{}"}, {"b", R"({"y":[2,{"z":null}]})"}});
}

TEST(ToolCallParser, HermesWithoutClosingTagAtTheEnd) {
  const parsed p =
      parse_every_way(tool_syntax_kind::hermes, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"q\": \"é\"}}\n");
  expect_calls(p, {{"f", R"({"q":"é"})"}});
}

TEST(ToolCallParser, HermesMalformedCallIsContent) {
  const std::string bad = "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"q\": }}\n</tool_call>";
  parsed p = parse_every_way(tool_syntax_kind::hermes, "Before " + bad + " after");
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, "Before " + bad + " after");
  const std::string unfinished = "x <tool_call>\n{\"name\": \"f\", \"argu";
  p = parse_every_way(tool_syntax_kind::hermes, unfinished);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, unfinished);
  // A name is required; arguments must be an object.
  const std::string no_name =
      "<tool_call>{\"arguments\": {}}</tool_call><tool_call>{\"name\": \"f\", \"arguments\": 3}</tool_call>";
  p = parse_every_way(tool_syntax_kind::hermes, no_name);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, no_name);
}

TEST(ToolCallParser, PlainTextWithPartialMarkupPassesThrough) {
  const std::string text = "a <tool> b <tool_ca\n  c [TOOL] <|python {\"nam\" \n";
  for (auto kind : {tool_syntax_kind::hermes, tool_syntax_kind::llama3_json, tool_syntax_kind::mistral,
                    tool_syntax_kind::deepseek_r1, tool_syntax_kind::generic}) {
    const parsed p = parse_every_way(kind, text);
    EXPECT_EQ(p.content, text);
    EXPECT_TRUE(p.calls.empty());
  }
}

TEST(ToolCallParser, ContentStreamsBeforeTheEnd) {
  tool_call_parser p(syntax(tool_syntax_kind::hermes));
  EXPECT_EQ(p.push("Hello ").content, "Hello");  // the space may precede markup
  EXPECT_EQ(p.push("wor").content, " wor");
  EXPECT_EQ(p.push("ld <tool").content, "ld");
  EXPECT_EQ(p.push("s>").content, " <tools>");
  EXPECT_EQ(p.finish().content, "");
}

TEST(ToolCallParser, Llama3BareJson) {
  const parsed p = parse_every_way(tool_syntax_kind::llama3_json,
                                   "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}");
  EXPECT_EQ(p.content, "");
  expect_calls(p, {{"get_weather", R"({"city":"Paris"})"}});
}

TEST(ToolCallParser, Llama3PythonTagAndTextBefore) {
  parsed p = parse_every_way(tool_syntax_kind::llama3_json,
                             "Sure.\n<|python_tag|>{\"name\": \"f\", \"arguments\": {\"n\": 1.5}}");
  EXPECT_EQ(p.content, "Sure.");
  expect_calls(p, {{"f", R"({"n":1.5})"}});
  // The builtin form stays content, as written.
  const std::string builtin = "<|python_tag|>brave_search.call(query=\"weather in Paris\")";
  p = parse_every_way(tool_syntax_kind::llama3_json, builtin);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, builtin);
}

TEST(ToolCallParser, Llama3JsonThatIsNoCallIsContent) {
  const std::string text = "Here: {\"name\": \"Bob\", \"age\": 3} and {\"name\": \"x\", \"parameters\": [1]}";
  const parsed p = parse_every_way(tool_syntax_kind::llama3_json, text);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, text);
}

TEST(ToolCallParser, MistralArray) {
  const parsed p = parse_every_way(tool_syntax_kind::mistral,
                                   "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": 1}, \"id\": \"abc123XYZ\"}, "
                                   "{\"name\": \"b\", \"arguments\": {}}]");
  EXPECT_EQ(p.content, "");
  expect_calls(p, {{"a", R"({"x":1})"}, {"b", "{}"}});
  EXPECT_EQ(p.calls[0].id, "abc123XYZ");  // the model's own id: Mistral's template checks it
  EXPECT_TRUE(p.calls[1].id.starts_with("call_"));
}

TEST(ToolCallParser, MistralNameArgsForm) {
  const parsed p = parse_every_way(
      tool_syntax_kind::mistral,
      "Checking. [TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[CALL_ID]k9[ARGS]{}");
  EXPECT_EQ(p.content, "Checking.");
  expect_calls(p, {{"get_weather", R"({"city":"Paris"})"}, {"get_time", "{}"}});
  EXPECT_EQ(p.calls[1].id, "k9");
}

TEST(ToolCallParser, MistralMalformed) {
  const std::string text = "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": }}]";
  const parsed p = parse_every_way(tool_syntax_kind::mistral, text);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, text);
}

TEST(ToolCallParser, DeepSeekR1) {
  const parsed p = parse_every_way(
      tool_syntax_kind::deepseek_r1,
      "I will look.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n"
      "{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n"
      "```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>");
  EXPECT_EQ(p.content, "I will look.");
  expect_calls(p, {{"get_weather", R"({"city":"Paris"})"}, {"get_time", "{}"}});
}

TEST(ToolCallParser, DeepSeekV31AndUnfinished) {
  parsed p = parse_every_way(tool_syntax_kind::deepseek_r1,
                             "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": "
                             "\"Paris\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>");
  EXPECT_EQ(p.content, "");
  expect_calls(p, {{"get_weather", R"({"city":"Paris"})"}});
  const std::string cut = "<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{\"a\": ";
  p = parse_every_way(tool_syntax_kind::deepseek_r1, "<｜tool▁calls▁begin｜>" + cut);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, cut);  // the list's opening bracket is markup, the unfinished call text
}

TEST(ToolCallParser, GenericForms) {
  parsed p = parse_every_way(tool_syntax_kind::generic,
                             " {\"tool_calls\": [{\"name\": \"f\", \"arguments\": {\"a\": 1}}, {\"name\": \"g\"}]}\n");
  EXPECT_EQ(p.content, "");
  expect_calls(p, {{"f", R"({"a":1})"}, {"g", "{}"}});
  p = parse_every_way(tool_syntax_kind::generic, "{\"tool_call\": {\"name\": \"f\", \"arguments\": {}}}");
  expect_calls(p, {{"f", "{}"}});
  p = parse_every_way(tool_syntax_kind::generic, "{\"response\": \"Hello \\\"world\\\" {\"}");
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, "Hello \"world\" {");
  const std::string plain = "Hello {\"tool_calls\": []}";
  p = parse_every_way(tool_syntax_kind::generic, plain);
  EXPECT_EQ(p.content, plain);  // only an answer that is one JSON object counts
  const std::string cut = "{\"tool_calls\": [{\"name\": \"f\"";
  p = parse_every_way(tool_syntax_kind::generic, cut);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, cut);
}

TEST(ToolCallParser, GenericResponseStreamsDecoded) {
  const std::string escaped = R"({ "response" : "caf\u00e9 \ud83d\ude00 tab\t \"q\" \\ \/"}  )";
  parsed p = parse_every_way(tool_syntax_kind::generic, escaped);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, "café 😀 tab\t \"q\" \\ /");
  // Decoded text is final before the object closes.
  tool_call_parser stream(syntax(tool_syntax_kind::generic));
  EXPECT_EQ(stream.push("{\"response\": \"Hel").content, "Hel");
  EXPECT_EQ(stream.push("lo\\u00").content, "lo");  // the escape is incomplete
  EXPECT_EQ(stream.push("e9!\"} ").content, "é!");
  EXPECT_EQ(stream.finish().content, "");
  // Invalid JSON text ends the decoding; the rest is content as written.
  p = parse_every_way(tool_syntax_kind::generic, R"({"response": "a\qb"})");
  EXPECT_EQ(p.content, R"(a\qb"})");
  p = parse_every_way(tool_syntax_kind::generic, R"({"response": "lone \udc00 x"})");
  EXPECT_EQ(p.content, R"(lone \udc00 x"})");
  // Unterminated at the end: what was decoded, then the held escape text.
  p = parse_every_way(tool_syntax_kind::generic, R"({"response": "cut \u00)");
  EXPECT_EQ(p.content, R"(cut \u00)");
  // Text after the object is content; a non-string response is its JSON text.
  p = parse_every_way(tool_syntax_kind::generic, "{\"response\": \"a\"}\nmore");
  EXPECT_EQ(p.content, "a\nmore");
  p = parse_every_way(tool_syntax_kind::generic, "{\"response\": [1, 2]}");
  EXPECT_EQ(p.content, "[1,2]");
}

TEST(ToolCallIds, ShapeAndUniqueAcrossThreads) {
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& ids : per_thread) {
    threads.emplace_back([&ids] {
      for (int i = 0; i < 2000; ++i) ids.push_back(new_tool_call_id());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& ids : per_thread) {
    for (const auto& id : ids) {
      ASSERT_EQ(id.size(), 29u);
      ASSERT_TRUE(id.starts_with("call_"));
      for (char c : id.substr(5)) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << id;
      all.insert(id);
    }
  }
  EXPECT_EQ(all.size(), 8000u);
}

TEST(ToolSyntax, SystemPromptNamesTheTools) {
  const ojson tools =
      ojson::parse(R"([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])");
  const std::string prompt = system_prompt_for_tools(tools);
  EXPECT_NE(prompt.find(R"({"name":"get_weather","parameters":{"type":"object"}})"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("\"tool_calls\""), std::string::npos);
  EXPECT_NE(prompt.find("\"response\""), std::string::npos);
}

TEST(ToolSyntax, BuiltinTemplates) {
  const std::map<std::string, tool_syntax_kind> want = {
      {"chatml", tool_syntax_kind::hermes},           {"qwen3", tool_syntax_kind::hermes},
      {"deepseek-r1", tool_syntax_kind::deepseek_r1}, {"llama3", tool_syntax_kind::generic},
      {"mistral", tool_syntax_kind::generic},         {"llama2", tool_syntax_kind::generic}};
  for (const auto& name : builtin_names()) {
    ASSERT_TRUE(want.count(name)) << "a new built-in template: add its syntax here: " << name;
    const tool_syntax s = tool_syntax_of_source(*builtin_source(name));
    EXPECT_EQ(s.kind, want.at(name)) << name;
    // None of the generic ones renders `tools`: the caller describes them in a system message.
    EXPECT_EQ(s.needs_system_prompt, s.kind == tool_syntax_kind::generic) << name;
  }
}

// --- the chat corpus ---

std::string corpus_dir() {
  const char* env = std::getenv("POCKETLM_CHAT_CORPUS");
  return (env && *env ? std::string(env) : std::string(POCKETLM_BINARY_DIR) + "/chat-corpus") + "/";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct expected_syntax {
  const char* name;
  tool_syntax_kind kind;
  bool needs_system_prompt;
};

const expected_syntax corpus_syntaxes[] = {
    {"Qwen-Qwen2.5-7B-Instruct", tool_syntax_kind::hermes, false},
    {"Qwen-Qwen3-0.6B", tool_syntax_kind::hermes, false},
    {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", tool_syntax_kind::hermes, false},
    {"meta-llama-Llama-3.1-8B-Instruct", tool_syntax_kind::llama3_json, false},
    {"meta-llama-Llama-3.2-3B-Instruct", tool_syntax_kind::llama3_json, false},
    {"meta-llama-Llama-3.3-70B-Instruct", tool_syntax_kind::llama3_json, false},
    {"mistralai-Mistral-Nemo-Instruct-2407", tool_syntax_kind::mistral, false},
    {"Mistral-Small-3.2-24B-Instruct-2506", tool_syntax_kind::mistral, false},
    {"unsloth-mistral-Devstral-Small-2507", tool_syntax_kind::mistral, false},
    {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", tool_syntax_kind::deepseek_r1, false},
    {"llama-cpp-deepseek-r1", tool_syntax_kind::deepseek_r1, false},
    {"deepseek-ai-DeepSeek-V3.1", tool_syntax_kind::deepseek_r1, false},
    {"ibm-granite-granite-3.3-2B-Instruct", tool_syntax_kind::generic, false},  // <|tool_call|>: its own
    {"google-gemma-2-2b-it", tool_syntax_kind::generic, true},
    {"microsoft-Phi-3.5-mini-instruct", tool_syntax_kind::generic, true},
};

TEST(ToolSyntax, DetectedOnCorpusTemplates) {
  if (!std::ifstream(corpus_dir() + "templates.json")) {
    GTEST_SKIP() << "the chat corpus is missing (" << corpus_dir()
                 << "): the CTest fixture chat_corpus_setup builds it (tools/chat_corpus.py)";
  }
  for (const auto& e : corpus_syntaxes) {
    const std::string path = corpus_dir() + "templates/" + e.name + ".jinja";
    ASSERT_TRUE(std::ifstream(path)) << "the corpus no longer holds " << e.name;
    const tool_syntax s = tool_syntax_of_source(read_file(path));
    EXPECT_EQ(static_cast<int>(s.kind), static_cast<int>(e.kind)) << e.name;
    EXPECT_EQ(s.needs_system_prompt, e.needs_system_prompt) << e.name;
    EXPECT_EQ(s.triggers.empty(), e.kind == tool_syntax_kind::generic) << e.name;
  }
}

// A conversation whose assistant turn called get_weather, rendered by the real template: the
// parser reads the call back out of the text after the user's question.
TEST(ToolSyntax, RenderedHistoryCallParsesBack) {
  if (!std::ifstream(corpus_dir() + "templates.json")) {
    GTEST_SKIP() << "the chat corpus is missing (" << corpus_dir() << ")";
  }
  const ojson tools = ojson::parse(
      R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather now",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])");
  const ojson call = ojson::parse(
      R"({"tool_calls": [{"id": "abc123XYZ", "type": "function",
          "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]})");
  const std::string question = "What is the weather in Paris?";
  for (const char* name :
       {"Qwen-Qwen2.5-7B-Instruct", "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", "meta-llama-Llama-3.1-8B-Instruct",
        "meta-llama-Llama-3.3-70B-Instruct", "mistralai-Mistral-Nemo-Instruct-2407", "deepseek-ai-DeepSeek-V3.1"}) {
    const std::string source = read_file(corpus_dir() + "templates/" + name + ".jinja");
    ASSERT_FALSE(source.empty()) << name;
    auto t = chat_template::parse(source, name);
    ASSERT_TRUE(t.ok()) << name << ": " << t.error_message();
    options opt;
    opt.tools = tools;
    opt.add_generation_prompt = false;
    opt.now_unix = 0;
    const std::vector<message> msgs = {{"user", question, "", nullptr}, {"assistant", "", "", call}};
    auto pieces = (*t)->render(msgs, opt);
    ASSERT_TRUE(pieces.ok()) << name << ": " << pieces.error_message();
    std::string text;
    for (const auto& p : *pieces) text += p.text;
    const size_t after_question = text.rfind(question);
    ASSERT_NE(after_question, std::string::npos) << name;
    const parsed p = parse_every_way(tool_syntax_of_source(source).kind, text.substr(after_question));
    ASSERT_EQ(p.calls.size(), 1u) << name << ": " << describe(p);
    EXPECT_EQ(p.calls[0].name, "get_weather") << name;
    EXPECT_EQ(p.calls[0].arguments, R"({"city":"Paris"})") << name;
  }
}

}  // namespace
}  // namespace pocketlm::chat
