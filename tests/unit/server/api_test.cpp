// Request parsing and validation (server/api.h): malformed JSON, field types, keep_alive
// durations, option mapping and the error shapes.
#include "server/api.h"
#include "test_server.h"

#include <gtest/gtest.h>

namespace pocketlm::server {
namespace {

TEST(ServerApi, MalformedJsonIs400WithTheParserMessage) {
  try {
    parse_body("{\"model\": ");
    FAIL() << "no error";
  } catch (const api_error& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_NE(std::string(e.what()).find("invalid JSON"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("parse error"), std::string::npos);
  }
  EXPECT_EQ(test::status_of([] { parse_body("[1, 2]"); }), 400);
  EXPECT_EQ(parse_body("{\"a\":1}")["a"], 1);
}

TEST(ServerApi, OpenAiSamplingFieldsMapAndWrongTypesAre400) {
  gen_params g;
  apply_openai_sampling(json::parse(R"({"temperature":0.2,"top_p":0.5,"max_tokens":7,"seed":42,
    "presence_penalty":0.5,"frequency_penalty":0.25,"stop":"END"})"),
                        g);
  EXPECT_FLOAT_EQ(g.sampling.temperature, 0.2f);
  EXPECT_FLOAT_EQ(g.sampling.top_p, 0.5f);
  EXPECT_EQ(g.n_predict, 7);
  EXPECT_EQ(g.sampling.seed, 42u);
  EXPECT_FLOAT_EQ(g.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(g.sampling.frequency_penalty, 0.25f);
  EXPECT_EQ(g.stop, std::vector<std::string>{"END"});

  gen_params h;
  apply_openai_sampling(json::parse(R"({"max_completion_tokens":3,"stop":["a","b"]})"), h);
  EXPECT_EQ(h.n_predict, 3);
  EXPECT_EQ(h.stop, (std::vector<std::string>{"a", "b"}));

  for (const char* bad : {R"({"temperature":"hot"})", R"({"max_tokens":1.5})", R"({"max_tokens":0})", R"({"stop":[1]})",
                          R"({"seed":"x"})", R"({"temperature":3})"}) {
    gen_params x;
    EXPECT_EQ(test::status_of([&] { apply_openai_sampling(json::parse(bad), x); }), 400) << bad;
  }
}

TEST(ServerApi, OllamaOptionsMap) {
  gen_params g;
  apply_ollama_options(json::parse(R"({"temperature":0,"top_k":5,"top_p":0.7,"min_p":0.1,"seed":3,
    "num_predict":12,"stop":["x"],"repeat_penalty":1.3,"repeat_last_n":-1,"presence_penalty":0.1,
    "frequency_penalty":0.2,"num_ctx":1024,"num_thread":8})"),
                       g);
  EXPECT_EQ(g.sampling.temperature, 0.0f);
  EXPECT_EQ(g.sampling.top_k, 5);
  EXPECT_FLOAT_EQ(g.sampling.top_p, 0.7f);
  EXPECT_FLOAT_EQ(g.sampling.min_p, 0.1f);
  EXPECT_EQ(g.sampling.seed, 3u);
  EXPECT_EQ(g.n_predict, 12);
  EXPECT_EQ(g.stop, std::vector<std::string>{"x"});
  EXPECT_FLOAT_EQ(g.sampling.repeat_penalty, 1.3f);
  EXPECT_EQ(g.sampling.repeat_last_n, -1);
  EXPECT_FLOAT_EQ(g.sampling.presence_penalty, 0.1f);
  EXPECT_FLOAT_EQ(g.sampling.frequency_penalty, 0.2f);
  EXPECT_EQ(g.num_ctx, 1024);
  gen_params x;
  EXPECT_EQ(test::status_of([&] { apply_ollama_options(json::parse(R"({"top_k":"5"})"), x); }), 400);
  EXPECT_EQ(test::status_of([&] { apply_ollama_options(json::parse("[1]"), x); }), 400);
  EXPECT_EQ(test::status_of([&] { apply_ollama_options(json::parse(R"({"num_ctx":0})"), x); }), 400);
}

TEST(ServerApi, KeepAliveParsesOllamaDurations) {
  EXPECT_EQ(parse_keep_alive(json(nullptr)), std::nullopt);
  EXPECT_EQ(parse_keep_alive(json(0)), 0.0);
  EXPECT_EQ(parse_keep_alive(json(30)), 30.0);
  EXPECT_EQ(parse_keep_alive(json(-1)), -1.0);
  EXPECT_EQ(parse_keep_alive(json("5m")), 300.0);
  EXPECT_EQ(parse_keep_alive(json("1h30m")), 5400.0);
  EXPECT_EQ(parse_keep_alive(json("0")), 0.0);
  EXPECT_EQ(parse_keep_alive(json("-1")), -1.0);
  EXPECT_EQ(parse_keep_alive(json("-1m")), -60.0);
  EXPECT_DOUBLE_EQ(*parse_keep_alive(json("1500ms")), 1.5);
  EXPECT_EQ(parse_keep_alive(json("42")), 42.0);
  for (const char* bad : {"", "5x", "m", "5m-3s", "abc"}) {
    EXPECT_EQ(test::status_of([&] { parse_keep_alive(json(bad)); }), 400) << bad;
  }
  EXPECT_EQ(test::status_of([] { parse_keep_alive(json::array()); }), 400);
}

TEST(ServerApi, OpenAiMessagesAcceptStringsAndTextParts) {
  const auto m = parse_openai_messages(json::parse(R"([
    {"role":"system","content":"be brief"},
    {"role":"user","content":[{"type":"text","text":"hello "},{"type":"text","text":"there"}]},
    {"role":"assistant","content":null}])"));
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].role, "system");
  EXPECT_EQ(m[1].content, "hello there");
  EXPECT_EQ(m[2].content, "");
  EXPECT_EQ(test::status_of([] { parse_openai_messages(json::parse(R"([{"role":"user","content":5}])")); }), 400);
  EXPECT_EQ(test::status_of(
                [] { parse_openai_messages(json::parse(R"([{"role":"user","content":[{"type":"image_url"}]}])")); }),
            400);
  EXPECT_EQ(test::status_of([] { parse_openai_messages(json::parse(R"([{"content":"x"}])")); }), 400);
  EXPECT_EQ(test::status_of([] { parse_openai_messages(json::parse(R"({"role":"user"})")); }), 400);
}

TEST(ServerApi, OllamaMessagesKeepThinking) {
  const auto m = parse_ollama_messages(json::parse(R"([{"role":"assistant","content":"a","thinking":"t"}])"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].reasoning, "t");
  EXPECT_TRUE(parse_ollama_messages(json(nullptr)).empty());
  EXPECT_EQ(test::status_of([] { parse_ollama_messages(json::parse(R"([{"role":"user","content":["x"]}])")); }), 400);
}

TEST(ServerApi, FieldHelpers) {
  const json b = json::parse(R"({"model":"m","stream":"yes","n":1,"input":["a","b"]})");
  EXPECT_EQ(require_model(b), "m");
  EXPECT_EQ(test::status_of([] { require_model(json::parse(R"({"model":""})")); }), 400);
  EXPECT_EQ(test::status_of([] { require_model(json::parse(R"({"model":3})")); }), 400);
  EXPECT_EQ(test::status_of([&] { bool_field(b, "stream", false); }), 400);
  EXPECT_TRUE(bool_field(b, "absent", true));
  EXPECT_EQ(parse_inputs(b["input"], "input"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parse_inputs(json("x"), "input"), std::vector<std::string>{"x"});
  EXPECT_EQ(test::status_of([] { parse_inputs(json::array({1}), "input"); }), 400);
}

TEST(ServerApi, ErrorShapes) {
  const json o = openai_error_body(api_error(404, "model 'x' not found", "model", "model_not_found"));
  EXPECT_EQ(o["error"]["message"], "model 'x' not found");
  EXPECT_EQ(o["error"]["type"], "invalid_request_error");
  EXPECT_EQ(o["error"]["param"], "model");
  EXPECT_EQ(o["error"]["code"], "model_not_found");
  const json s = openai_error_body(api_error(503, "busy"));
  EXPECT_EQ(s["error"]["type"], "server_error");
  EXPECT_TRUE(s["error"]["param"].is_null());
  EXPECT_TRUE(s["error"]["code"].is_null());
  EXPECT_EQ(ollama_error_body(api_error(400, "bad")), json::parse(R"({"error":"bad"})"));
}

TEST(ServerApi, Rfc3339IsUtcWithNanoseconds) {
  EXPECT_EQ(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(rfc3339(1717537111837536000), "2024-06-04T21:38:31.837536000Z");
}

}  // namespace
}  // namespace pocketlm::server
