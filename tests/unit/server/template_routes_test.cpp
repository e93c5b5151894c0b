// llama-server's /apply-template, /tokenize and /detokenize on stories260K (a model without a chat
// template: its prompt is the plain text), and the template inputs read from chat bodies.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "server/completion.h"
#include "server/server.h"
#include "test_server.h"

namespace pocketlm::server {
namespace {

const std::string k_model = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

class TemplateRoutes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    test::use_private_store(std::filesystem::temp_directory_path() / "pocketlm_template_routes");
  }
  void SetUp() override {
    server_options o = test::loopback_options();
    o.models.n_ctx = 128;
    srv_ = std::make_unique<test::running_server>(o);
    port_ = srv_->port();
  }
  std::pair<int, json> post(const std::string& path, const json& body) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60);
    auto r = c.Post(path, body.dump(), "application/json");
    if (!r) return {0, json()};
    return {r->status, json::parse(r->body, nullptr, false)};
  }
  std::unique_ptr<test::running_server> srv_;
  int port_ = 0;
};

TEST_F(TemplateRoutes, TokenizeDetokenizeRoundTrip) {
  auto [status, body] = post("/tokenize", {{"model", k_model}, {"content", "Once upon a time"}});
  ASSERT_EQ(status, 200) << body.dump();
  ASSERT_TRUE(body["tokens"].is_array());
  ASSERT_FALSE(body["tokens"].empty());
  EXPECT_TRUE(body["tokens"][0].is_number_integer());
  const json ids = body["tokens"];
  auto [s2, back] = post("/detokenize", {{"model", k_model}, {"tokens", ids}});
  ASSERT_EQ(s2, 200) << back.dump();
  EXPECT_EQ(back["content"], "Once upon a time");

  auto [s3, pieces] =
      post("/tokenize", {{"model", k_model}, {"content", "Once"}, {"with_pieces", true}, {"add_special", true}});
  ASSERT_EQ(s3, 200);
  ASSERT_GE(pieces["tokens"].size(), 2u);  // BOS, then the text
  EXPECT_TRUE(pieces["tokens"][0].contains("id"));
  EXPECT_TRUE(pieces["tokens"][0].contains("piece"));
}

TEST_F(TemplateRoutes, ApplyTemplateGivesThePromptText) {
  auto [status, body] =
      post("/apply-template", {{"model", k_model}, {"messages", {{{"role", "user"}, {"content", "Once upon"}}}}});
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["prompt"], "Once upon");
}

TEST_F(TemplateRoutes, BadRequestsAre400sNamingTheField) {
  EXPECT_EQ(post("/tokenize", {{"content", "x"}}).first, 400);
  EXPECT_EQ(post("/tokenize", {{"model", k_model}, {"content", 5}}).first, 400);
  EXPECT_EQ(post("/tokenize", {{"model", k_model}, {"content", "x"}, {"with_pieces", "yes"}}).first, 400);
  auto [status, body] = post("/detokenize", {{"model", k_model}, {"tokens", {1, 999999}}});
  EXPECT_EQ(status, 400);
  EXPECT_NE(body.dump().find("tokens[1]"), std::string::npos) << body.dump();
  EXPECT_EQ(post("/apply-template", {{"model", k_model}}).first, 400);
  EXPECT_EQ(
      post("/apply-template", {{"model", "no-such-model"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}}).first,
      404);
}

TEST(add_template_fields, ArgumentsGivenAsJsonTextReachTheTemplateAsObjects) {
  prompt_spec s;
  s.messages = {{"assistant", "", ""}};
  add_template_fields(s, R"({"model": "m", "messages": [{"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{\"z\": 1, \"a\": [2]}"}},
      {"id": "call_2", "type": "function", "function": {"name": "w", "arguments": "not json"}}]}]})");
  EXPECT_EQ(s.messages[0].extra["tool_calls"][0]["function"]["arguments"].dump(), R"({"z":1,"a":[2]})");
  EXPECT_EQ(s.messages[0].extra["tool_calls"][1]["function"]["arguments"], "not json");  // kept as sent
}

TEST(add_template_fields, KeepsToolCallsToolsAndKwargsInTheirOrder) {
  prompt_spec s;
  s.messages = {{"user", "weather?", ""}, {"assistant", "", ""}, {"tool", "18C", ""}};
  add_template_fields(s, R"({"model": "m", "messages": [
      {"role": "user", "content": "weather?"},
      {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"name": "w", "arguments": {"z": 1, "a": 2}}}]},
      {"role": "tool", "tool_call_id": "1", "name": "w", "content": "18C"}],
    "tools": [{"type": "function", "function": {"name": "w"}}],
    "chat_template_kwargs": {"enable_thinking": false}, "reasoning_effort": "low"})");
  EXPECT_TRUE(s.messages[0].extra.is_null());
  // A null content is the message's "" (templates test it as a string); arguments sent as JSON
  // text become the object they hold.
  EXPECT_EQ(s.messages[1].extra.dump(),
            R"({"tool_calls":[{"type":"function","function":{"name":"w","arguments":{"z":1,"a":2}}}]})");
  EXPECT_EQ(s.messages[2].extra.dump(), R"({"tool_call_id":"1","name":"w"})");
  EXPECT_EQ(s.tools.dump(), R"([{"type":"function","function":{"name":"w"}}])");
  EXPECT_EQ(s.template_kwargs.dump(), R"({"enable_thinking":false})");
  EXPECT_EQ(s.reasoning_effort, "low");

  prompt_spec bad;
  EXPECT_THROW(add_template_fields(bad, R"({"chat_template_kwargs": "x"})"), api_error);
  EXPECT_THROW(add_template_fields(bad, R"({"tools": {}})"), api_error);
  EXPECT_THROW(add_template_fields(bad, R"({"reasoning_effort": 3})"), api_error);
}

}  // namespace
}  // namespace pocketlm::server
