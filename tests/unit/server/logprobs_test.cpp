// Token log-probabilities in both APIs (the request fields, their 400s, the pairing of reports with
// streamed text, the three response shapes, live answers from stories260K), OpenAI's n, and
// /api/show's capabilities.
#include "server/logprobs.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "server/requests.h"
#include "test_server.h"

namespace pocketlm::server {
namespace {

const std::string k_model = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

int chat_top(const char* body) { return openai_chat_top_logprobs(json::parse(body)); }
int completion_top(const char* body) { return openai_completion_top_logprobs(json::parse(body)); }
int ollama_top(const char* body) { return ollama_top_logprobs(json::parse(body)); }

// The api_error's param, "" when none is thrown.
std::string param_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const api_error& e) {
    return e.param;
  }
  return "";
}

TEST(LogprobRequests, OpenAIChatFields) {
  EXPECT_EQ(chat_top(R"({})"), k_logprobs_off);
  EXPECT_EQ(chat_top(R"({"logprobs":false})"), k_logprobs_off);
  EXPECT_EQ(chat_top(R"({"logprobs":true})"), 0);
  EXPECT_EQ(chat_top(R"({"logprobs":true,"top_logprobs":20})"), 20);
  EXPECT_EQ(chat_top(R"({"logprobs":true,"top_logprobs":3.0})"), 3);
  EXPECT_EQ(chat_top(R"({"logprobs":null,"top_logprobs":null})"), k_logprobs_off);
  // llama-server's n_probs stands in when logprobs is absent; 0 is its "off".
  EXPECT_EQ(chat_top(R"({"n_probs":4})"), 4);
  EXPECT_EQ(chat_top(R"({"n_probs":0})"), k_logprobs_off);
  EXPECT_EQ(chat_top(R"({"logprobs":false,"n_probs":4})"), k_logprobs_off);
  for (const char* bad :
       {R"({"top_logprobs":2})", R"({"logprobs":false,"top_logprobs":2})", R"({"logprobs":true,"top_logprobs":21})",
        R"({"logprobs":true,"top_logprobs":-1})", R"({"logprobs":true,"top_logprobs":1.5})"}) {
    EXPECT_EQ(test::status_of([&] { chat_top(bad); }), 400) << bad;
    EXPECT_EQ(param_of([&] { chat_top(bad); }), "top_logprobs") << bad;
  }
  EXPECT_EQ(param_of([] { chat_top(R"({"logprobs":"yes"})"); }), "logprobs");
  EXPECT_EQ(param_of([] { chat_top(R"({"n_probs":21})"); }), "n_probs");
}

TEST(LogprobRequests, LegacyCompletionAndOllamaFields) {
  EXPECT_EQ(completion_top(R"({})"), k_logprobs_off);
  EXPECT_EQ(completion_top(R"({"logprobs":0})"), 0);
  EXPECT_EQ(completion_top(R"({"logprobs":5})"), 5);
  EXPECT_EQ(completion_top(R"({"n_probs":10})"), 10);
  for (const char* bad : {R"({"logprobs":6})", R"({"logprobs":true})", R"({"logprobs":-1})"}) {
    EXPECT_EQ(param_of([&] { completion_top(bad); }), "logprobs") << bad;
  }
  EXPECT_EQ(ollama_top(R"({})"), k_logprobs_off);
  EXPECT_EQ(ollama_top(R"({"logprobs":true})"), 0);
  EXPECT_EQ(ollama_top(R"({"logprobs":true,"top_logprobs":3})"), 3);
  EXPECT_EQ(ollama_top(R"({"top_logprobs":3})"), k_logprobs_off);
  EXPECT_EQ(param_of([] { ollama_top(R"({"logprobs":true,"top_logprobs":21})"); }), "top_logprobs");
}

TEST(LogprobRequests, RequestsCarryThemIntoTheirParams) {
  const generation_request chat = parse_openai_chat_request(
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":2})");
  EXPECT_EQ(chat.params.top_logprobs, 2);
  EXPECT_EQ(chat.over(gen_params{}).top_logprobs, 2);  // over a model's defaults too
  EXPECT_EQ(parse_openai_completion_request(R"({"model":"m","prompt":"a","logprobs":1})").params.top_logprobs, 1);
  EXPECT_EQ(parse_ollama_generate_request(R"({"model":"m","prompt":"a","logprobs":true})").params.top_logprobs, 0);
  EXPECT_EQ(parse_openai_chat_request(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})").top_logprobs,
            k_logprobs_off);
}

TEST(LogprobRequests, OnlyOneChoice) {
  const auto chat = [](const std::string& n) {
    parse_openai_chat_request(R"({"model":"m","messages":[{"role":"user","content":"hi"}],"n":)" + n + "}");
  };
  EXPECT_EQ(test::status_of([&] { chat("1"); }), 0);
  EXPECT_EQ(test::status_of([&] { chat("null"); }), 0);
  for (const char* n : {"2", "0", "-1", "1.5", "\"2\""}) {
    EXPECT_EQ(test::status_of([&] { chat(n); }), 400) << n;
    EXPECT_EQ(param_of([&] { chat(n); }), "n") << n;
  }
  try {
    parse_openai_completion_request(R"({"model":"m","prompt":"a","n":3})");
    ADD_FAILURE() << "n: 3 accepted";
  } catch (const api_error& e) {
    EXPECT_STREQ(e.what(), "n > 1 is not supported; send one request per choice");
    EXPECT_EQ(openai_error_body(e)["error"]["param"], "n");
  }
}

token_report report(const std::string& piece, float lp = -1.0f) { return {{1, piece, lp}, {}}; }

std::string pieces(const std::vector<token_report>& v) {
  std::string s;
  for (const auto& r : v) s += r.chosen.piece;
  return s;
}

TEST(TokenReportQueue, ATokenGoesWithTheFirstTextItBecomes) {
  token_report_queue q;
  q.add(report("\xE2\x80"));  // the first bytes of a character: held back by UTF-8 joining
  EXPECT_TRUE(q.take().empty());
  q.add(report("\x99s"));
  q.shown("\xE2\x80\x99s");
  EXPECT_EQ(pieces(q.take()), "\xE2\x80\x99s");
  q.add(report(" on"));
  q.shown(" o");  // part of it held back (a possible stop string)
  EXPECT_EQ(pieces(q.take()), " on");
  q.add(report("ce"));
  q.shown("nce");
  EXPECT_EQ(pieces(q.take()), "ce");
  q.add(report(""));  // a token with no text at the end (a control token)
  EXPECT_TRUE(q.take().empty());
  EXPECT_EQ(q.finish().size(), 1u);  // all text was shown: nothing is dropped
  EXPECT_TRUE(q.finish().empty());
}

TEST(TokenReportQueue, TokensOfAStopStringAreDropped) {
  token_report_queue q;
  q.add(report("The end"));
  q.shown("The ");
  q.add(report("."));  // "end." was the stop string: only "The " showed
  q.add(report(" More"));
  EXPECT_EQ(pieces(q.take()), "The end");
  EXPECT_TRUE(q.finish().empty());
}

TEST(LogprobShapes, OpenAIChatAndOllama) {
  const token_report r{{7, "\xC3\xA9t", -0.5f}, {{7, "\xC3\xA9t", -0.5f}, {3, "a", -1.25f}}};
  const json chat = openai_chat_logprobs({r});
  EXPECT_TRUE(chat["refusal"].is_null());
  ASSERT_EQ(chat["content"].size(), 1u);
  const json& e = chat["content"][0];
  EXPECT_EQ(e["token"], "\xC3\xA9t");
  EXPECT_FLOAT_EQ(e["logprob"].get<float>(), -0.5f);
  EXPECT_EQ(e["bytes"], json::array({0xC3, 0xA9, 't'}));
  ASSERT_EQ(e["top_logprobs"].size(), 2u);
  EXPECT_EQ(e["top_logprobs"][1]["token"], "a");
  EXPECT_EQ(e["top_logprobs"][1]["bytes"], json::array({'a'}));
  EXPECT_FALSE(e["top_logprobs"][1].contains("top_logprobs"));

  const json ollama = ollama_logprobs({r, {{4, "b", -2.0f}, {}}});
  ASSERT_EQ(ollama.size(), 2u);
  EXPECT_EQ(ollama[0]["top_logprobs"].size(), 2u);
  EXPECT_FALSE(ollama[1].contains("top_logprobs"));  // Ollama omits an empty list
  EXPECT_EQ(ollama[1]["token"], "b");
}

TEST(LogprobShapes, LegacyCompletionsCountOffsetsAcrossChunks) {
  size_t offset = 0;
  const json a = openai_completion_logprobs({{{1, "Once", -0.1f}, {{1, "Once", -0.1f}, {2, "One", -2.5f}}}}, offset);
  EXPECT_EQ(a["tokens"], json::array({"Once"}));
  EXPECT_EQ(a["text_offset"], json::array({0}));
  EXPECT_EQ(a["top_logprobs"][0].size(), 2u);
  // The chosen token is always listed, even outside the top n (up to n + 1 entries).
  const json b =
      openai_completion_logprobs({{{5, " upon", -3.0f}, {{6, " a", -0.2f}}}, {{8, " time", -0.3f}, {}}}, offset);
  EXPECT_EQ(b["text_offset"], json::array({4, 9}));
  EXPECT_EQ(b["top_logprobs"][0].size(), 2u);
  EXPECT_FLOAT_EQ(b["top_logprobs"][0][" upon"].get<float>(), -3.0f);
  EXPECT_FLOAT_EQ(b["token_logprobs"][1].get<float>(), -0.3f);
  EXPECT_EQ(offset, 14u);
}

// The model answers over HTTP; stories260K has no template (chat is its raw continuation).
class LogprobServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    test::use_private_store(std::filesystem::temp_directory_path() / "pocketlm_logprobs_test");
    gguf_dir_ = std::filesystem::temp_directory_path() / ("pocketlm_logprobs_gguf_" + std::to_string(::getpid()));
    std::filesystem::create_directories(gguf_dir_);
    server_options o = test::loopback_options();
    o.models.n_ctx = 256;
    o.models.n_parallel = 1;
    o.models.model_dirs.push_back(gguf_dir_.string());
    srv_ = new test::running_server(o);
  }
  static void TearDownTestSuite() {
    delete srv_;
    srv_ = nullptr;
    std::filesystem::remove_all(gguf_dir_);
  }

  static json post(const std::string& path, const json& body, int want_status = 200) {
    httplib::Client c("127.0.0.1", srv_->port());
    c.set_read_timeout(60);
    auto r = c.Post(path, body.dump(), "application/json");
    EXPECT_TRUE(r) << path;
    if (!r) return nullptr;
    EXPECT_EQ(r->status, want_status) << r->body;
    return json::parse(r->body, nullptr, false);
  }
  // The data: objects of an SSE answer, or the lines of an NDJSON one.
  static std::vector<json> post_stream(const std::string& path, const json& body) {
    httplib::Client c("127.0.0.1", srv_->port());
    c.set_read_timeout(60);
    auto r = c.Post(path, body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << path;
    std::vector<json> out;
    if (!r) return out;
    size_t pos = 0;
    for (size_t end; (end = r->body.find('\n', pos)) != std::string::npos; pos = end + 1) {
      std::string line = r->body.substr(pos, end - pos);
      if (line.starts_with("data: ")) line = line.substr(6);
      if (line.empty() || line == "[DONE]") continue;
      out.push_back(json::parse(line));
    }
    return out;
  }

  static inline test::running_server* srv_ = nullptr;
  static inline std::filesystem::path gguf_dir_;
};

// Each entry's alternatives are descending, their probabilities sum to at most 1, and the chosen
// token's logprob is the one listed for it among them.
void expect_consistent(const json& entries, size_t n_top) {
  for (const json& e : entries) {
    const json& top = e["top_logprobs"];
    ASSERT_EQ(top.size(), n_top) << e.dump();
    double sum = 0;
    for (size_t i = 0; i < top.size(); ++i) {
      EXPECT_LE(top[i]["logprob"].get<double>(), 0.0);
      if (i > 0) {
        EXPECT_LE(top[i]["logprob"].get<double>(), top[i - 1]["logprob"].get<double>());
      }
      sum += std::exp(top[i]["logprob"].get<double>());
      if (top[i]["token"] == e["token"]) {
        EXPECT_EQ(top[i]["logprob"], e["logprob"]);
      }
    }
    EXPECT_LE(sum, 1.0 + 1e-5);
    EXPECT_GT(sum, 0.0);
  }
}

std::string joined(const json& entries) {
  std::string s;
  for (const json& e : entries) s += e["token"].get<std::string>();
  return s;
}

TEST_F(LogprobServer, ChatEntriesMatchTheContentAndTheStream) {
  json body = {{"model", k_model}, {"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
               {"max_tokens", 20}, {"temperature", 0.9},
               {"seed", 42},       {"logprobs", true},
               {"top_logprobs", 3}};
  // Warm-up: the requests compared below then both find the prompt cached (a cold batched prefill
  // and a cached prompt round the first token's logits differently in the last digits on AVX2).
  post("/v1/chat/completions", body);
  const json j = post("/v1/chat/completions", body);
  const json& lp = j["choices"][0]["logprobs"];
  ASSERT_TRUE(lp.is_object()) << j.dump();
  EXPECT_TRUE(lp["refusal"].is_null());
  const json& content = lp["content"];
  EXPECT_EQ(content.size(), j["usage"]["completion_tokens"].get<size_t>());
  EXPECT_EQ(joined(content), j["choices"][0]["message"]["content"].get<std::string>());
  expect_consistent(content, 3);
  for (const json& e : content) {
    std::string bytes;
    for (const json& b : e["bytes"]) bytes += static_cast<char>(b.get<int>());
    EXPECT_EQ(bytes, e["token"].get<std::string>());
  }

  body["stream"] = true;
  json streamed = json::array();
  std::string text;
  for (const json& c : post_stream("/v1/chat/completions", body)) {
    const json& l = c["choices"][0]["logprobs"];
    if (l.is_null()) continue;
    for (const json& e : l["content"]) streamed.push_back(e);
    text += c["choices"][0]["delta"].value("content", "");
  }
  EXPECT_EQ(streamed, content);  // the same seed: the same tokens, none lost or doubled
  EXPECT_EQ(text, j["choices"][0]["message"]["content"].get<std::string>());

  body.erase("stream");
  body.erase("logprobs");
  body.erase("top_logprobs");
  EXPECT_TRUE(post("/v1/chat/completions", body)["choices"][0]["logprobs"].is_null());
  body["n_probs"] = 2;  // llama-server's name
  expect_consistent(post("/v1/chat/completions", body)["choices"][0]["logprobs"]["content"], 2);
}

TEST_F(LogprobServer, TokensOfAStopStringAreLeftOut) {
  const json first = post(
      "/v1/completions",
      {{"model", k_model}, {"prompt", "Once upon a time"}, {"max_tokens", 24}, {"temperature", 0}, {"logprobs", 0}});
  const std::string text = first["choices"][0]["text"];
  ASSERT_GT(text.size(), 12u);
  const std::string stop = text.substr(text.size() / 2, 3);
  const json j = post("/v1/completions", {{"model", k_model},
                                          {"prompt", "Once upon a time"},
                                          {"max_tokens", 24},
                                          {"temperature", 0},
                                          {"logprobs", 0},
                                          {"stop", stop}});
  const std::string cut = j["choices"][0]["text"];
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(cut, text.substr(0, text.find(stop)));
  ASSERT_FALSE(cut.empty());
  const json& lp = j["choices"][0]["logprobs"];
  std::string tokens;
  for (const json& t : lp["tokens"]) tokens += t.get<std::string>();
  // The tokens cover the text, and the last one began inside it: tokens wholly inside the stop
  // string are left out, one that began the text and ran into the stop string is kept.
  EXPECT_TRUE(tokens.starts_with(cut)) << tokens << " | " << cut;
  ASSERT_FALSE(lp["text_offset"].empty());
  EXPECT_LT(lp["text_offset"].back().get<size_t>(), cut.size());
}

TEST_F(LogprobServer, LegacyCompletionsStreamAndWhole) {
  json body = {
      {"model", k_model}, {"prompt", "Once upon a time"}, {"max_tokens", 16}, {"temperature", 0}, {"logprobs", 2}};
  const json j = post("/v1/completions", body);
  const json& lp = j["choices"][0]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), 16u) << j.dump();
  std::string text;
  for (size_t i = 0; i < lp["tokens"].size(); ++i) {
    EXPECT_EQ(lp["text_offset"][i].get<size_t>(), text.size());
    text += lp["tokens"][i].get<std::string>();
    const json& top = lp["top_logprobs"][i];
    EXPECT_GE(top.size(), 1u);
    EXPECT_LE(top.size(), 3u);
    EXPECT_EQ(top[lp["tokens"][i].get<std::string>()], lp["token_logprobs"][i]);
  }
  EXPECT_EQ(text, j["choices"][0]["text"].get<std::string>());

  body["stream"] = true;
  json tokens = json::array(), offsets = json::array();
  for (const json& c : post_stream("/v1/completions", body)) {
    const json& l = c["choices"][0]["logprobs"];
    if (l.is_null()) continue;
    for (const json& t : l["tokens"]) tokens.push_back(t);
    for (const json& o : l["text_offset"]) offsets.push_back(o);
  }
  EXPECT_EQ(tokens, lp["tokens"]);
  EXPECT_EQ(offsets, lp["text_offset"]);
}

TEST_F(LogprobServer, OllamaGreedyChoosesTheMostLikelyToken) {
  // No penalties and temperature 0: every chosen token is the model's argmax, the first listed.
  json body = {{"model", k_model},  {"prompt", "Once upon a time"},
               {"stream", false},   {"logprobs", true},
               {"top_logprobs", 4}, {"options", {{"temperature", 0}, {"repeat_penalty", 1.0}, {"num_predict", 12}}}};
  post("/api/generate", body);  // warm-up, as above
  const json j = post("/api/generate", body);
  const json& lp = j["logprobs"];
  ASSERT_EQ(lp.size(), 12u) << j.dump();
  expect_consistent(lp, 4);
  for (const json& e : lp) {
    EXPECT_EQ(e["token"], e["top_logprobs"][0]["token"]);
    EXPECT_EQ(e["logprob"], e["top_logprobs"][0]["logprob"]);
  }
  EXPECT_EQ(joined(lp), j["response"].get<std::string>());

  body["stream"] = true;
  json streamed = json::array();
  for (const json& c : post_stream("/api/generate", body)) {
    for (const json& e : c.value("logprobs", json::array())) streamed.push_back(e);
  }
  EXPECT_EQ(streamed, lp);

  body.erase("logprobs");
  body["stream"] = false;
  EXPECT_FALSE(post("/api/generate", body).contains("logprobs"));
  body["logprobs"] = true;
  body["top_logprobs"] = 21;
  post("/api/generate", body, 400);
}

TEST_F(LogprobServer, OpenAIAnswers400ForNAndLogprobMistakes) {
  const json msgs = {{{"role", "user"}, {"content", "Hi"}}};
  const json e = post("/v1/chat/completions", {{"model", k_model}, {"messages", msgs}, {"n", 2}}, 400);
  EXPECT_EQ(e["error"]["param"], "n");
  EXPECT_EQ(e["error"]["message"], "n > 1 is not supported; send one request per choice");
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  post("/v1/chat/completions", {{"model", k_model}, {"messages", msgs}, {"n", 0}}, 400);
  post("/v1/chat/completions", {{"model", k_model}, {"messages", msgs}, {"top_logprobs", 2}}, 400);
  post("/v1/completions", {{"model", k_model}, {"prompt", "Hi"}, {"logprobs", 6}}, 400);
  const json ok = post("/v1/chat/completions", {{"model", k_model}, {"messages", msgs}, {"n", 1}, {"max_tokens", 2}});
  EXPECT_EQ(ok["choices"].size(), 1u);
}

// A GGUF holding only metadata: enough for /api/show.
std::string metadata_gguf(const std::filesystem::path& dir, const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& templates) {
  gguf::writer w;
  w.set_string("general.architecture", "llama");
  for (const auto& [key, source] : templates) w.set_string(key, source);
  const std::string path = (dir / (name + ".gguf")).string();
  EXPECT_TRUE(w.write_file(path).ok());
  return path;
}

json capabilities(const json& show) { return show["capabilities"]; }

TEST_F(LogprobServer, ShowDerivesCapabilitiesFromTheTemplates) {
  EXPECT_EQ(capabilities(post("/api/show", {{"model", k_model}})), json::array({"completion"}));
  const std::string chatml = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}";
  EXPECT_EQ(capabilities(post("/api/show",
                              {{"model", metadata_gguf(gguf_dir_, "plain", {{"tokenizer.chat_template", chatml}})}})),
            json::array({"completion"}));
  // Tools offered only by the tool_use template still count; "tool" in text is not `tools`.
  const std::string tooled =
      metadata_gguf(gguf_dir_, "tooled",
                    {{"tokenizer.chat_template", "a tool: " + chatml},
                     {"tokenizer.chat_template.tool_use", "{% if tools %}{{ tools | tojson }}{% endif %}" + chatml}});
  EXPECT_EQ(capabilities(post("/api/show", {{"model", tooled}})), json::array({"completion", "tools"}));
  const std::string thinking =
      metadata_gguf(gguf_dir_, "thinking",
                    {{"tokenizer.chat_template", chatml + "{% if add_generation_prompt %}<think>\n{% endif %}"}});
  EXPECT_EQ(capabilities(post("/api/show", {{"model", thinking}})), json::array({"completion", "thinking"}));
  const std::string fim =
      metadata_gguf(gguf_dir_, "fim",
                    {{"tokenizer.chat_template", "{% if suffix %}<PRE>{{ prompt }}<SUF>{{ suffix }}<MID>{% endif %}"}});
  EXPECT_EQ(capabilities(post("/api/show", {{"model", fim}})), json::array({"completion", "insert"}));
}

}  // namespace
}  // namespace pocketlm::server
