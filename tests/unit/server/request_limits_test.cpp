// What one request may ask of the server (issue 12): numbers no sampler can use are 400s, not
// 500s or silent wraps; a request's num_ctx narrows its own window and never reloads the model
// or changes another client's context; an unseeded sampler differs run to run; a non-streamed
// generation whose client left stops.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <thread>

#include "runtime/sampler.h"
#include "server/api.h"
#include "server/server.h"
#include "test_server.h"

namespace pocketlm::server {
namespace {

const std::string k_model = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

TEST(RequestLimits, NumbersOutsideDoubleAre400NotServerErrors) {
  EXPECT_EQ(test::status_of([] { parse_body(R"({"model":"m","temperature":1e400})"); }), 400);
  EXPECT_EQ(test::status_of([] { parse_body(R"({"options":{"temperature":-1e999}})"); }), 400);
}

TEST(RequestLimits, HugeTokenCountsMeanAsManyAsFit) {
  gen_params g;
  apply_openai_sampling(json::parse(R"({"max_tokens":9223372036854775808})"), g);
  EXPECT_EQ(g.n_predict, std::numeric_limits<int>::max());
  apply_openai_sampling(json::parse(R"({"max_completion_tokens":1e300})"), g);
  EXPECT_EQ(g.n_predict, std::numeric_limits<int>::max());
  gen_params o;
  apply_ollama_options(json::parse(R"({"num_predict":18446744073709551615})"), o);
  EXPECT_EQ(o.n_predict, std::numeric_limits<int>::max());
  EXPECT_EQ(test::status_of([] {
              gen_params x;
              apply_openai_sampling(json::parse(R"({"max_tokens":0})"), x);
            }),
            400);
}

TEST(RequestLimits, SamplerValuesOutOfRangeAre400) {
  for (const char* body : {R"({"temperature":-0.5})", R"({"top_p":1.5})", R"({"presence_penalty":3})"}) {
    EXPECT_EQ(test::status_of([&] {
                gen_params g;
                apply_openai_sampling(json::parse(body), g);
              }),
              400)
        << body;
  }
  for (const char* body : {R"({"temperature":-1})", R"({"top_k":-3})", R"({"min_p":2})", R"({"repeat_penalty":1e30})",
                           R"({"repeat_last_n":-7})"}) {
    EXPECT_EQ(test::status_of([&] {
                gen_params g;
                apply_ollama_options(json::parse(body), g);
              }),
              400)
        << body;
  }
  gen_params g;
  apply_ollama_options(json::parse(R"({"top_k":9999999999,"temperature":5})"), g);
  EXPECT_EQ(g.sampling.top_k, std::numeric_limits<int>::max());
  EXPECT_FLOAT_EQ(g.sampling.temperature, 5.0f);
}

TEST(RequestLimits, HugeKeepAliveMeansForeverAndNonFiniteIsRefused) {
  EXPECT_LT(*parse_keep_alive(json(1e10)), 0);
  EXPECT_LT(*parse_keep_alive(json("99999999999h")), 0);
  EXPECT_LT(*parse_keep_alive(json(1e300)), 0);
  EXPECT_DOUBLE_EQ(*parse_keep_alive(json("90m")), 5400);
  for (const char* bad : {"inf", "-inf", "nan", "infh", "0x10s", "1e30h", "5m3", ".s", "h"}) {
    EXPECT_EQ(test::status_of([&] { parse_keep_alive(json(bad)); }), 400) << bad;
  }
}

TEST(RequestLimits, SeedAbsentOrMinusOneIsRandomGivenSeedIsKept) {
  gen_params g;
  EXPECT_EQ(g.sampling.seed, k_random_seed);
  apply_ollama_options(json::parse(R"({"seed":-1})"), g);
  EXPECT_EQ(g.sampling.seed, k_random_seed);
  apply_openai_sampling(json::parse(R"({"seed":12345})"), g);
  EXPECT_EQ(g.sampling.seed, 12345u);
}

// Flat logits over 1000 tokens at temperature 1: 24 draws of two unseeded samplers agree by
// chance with probability 1e-72; two samplers with the same seed always agree.
TEST(RequestLimits, UnseededSamplersDifferSeededOnesRepeat) {
  std::vector<float> logits(1000, 0.0f);
  const auto draws = [&](uint64_t seed) {
    sampler_params p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.repeat_penalty = 1.0f;
    p.seed = seed;
    sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 24; ++i) out.push_back(s.sample(logits.data(), 1000));
    return out;
  };
  EXPECT_NE(draws(k_random_seed), draws(k_random_seed));
  EXPECT_EQ(draws(7), draws(7));
}

// A server on an ephemeral loopback port with stories260K given by path (its folder allowed).
class LimitsServer : public ::testing::Test {
 protected:
  void SetUp() override { test::use_private_store(std::filesystem::temp_directory_path() / "pocketlm_limits_test"); }
  void start(int64_t n_ctx, int parallel = 1) {
    server_options o = test::loopback_options();
    o.models.n_ctx = n_ctx;
    o.models.n_parallel = parallel;
    srv_ = std::make_unique<test::running_server>(o);
    port_ = srv_->port();
  }
  json generate(const json& body) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60);
    auto r = c.Post("/api/generate", body.dump(), "application/json");
    if (!r) return json{{"status", 0}};
    json j = json::parse(r->body, nullptr, false);
    j["status"] = r->status;
    return j;
  }
  int64_t loaded_context() const {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get("/api/ps");
    const json j = json::parse(r->body);
    return j["models"].empty() ? 0 : j["models"][0]["context_length"].get<int64_t>();
  }
  std::unique_ptr<test::running_server> srv_;
  int port_ = 0;
};

TEST_F(LimitsServer, NumCtxNarrowsOneRequestAndNeverReloadsOrSticks) {
  start(256);
  const json plain = {{"model", k_model},
                      {"prompt", "Once upon a time"},
                      {"stream", false},
                      {"raw", true},
                      {"options", {{"temperature", 0}, {"num_predict", 40}}}};
  json first = generate(plain);
  ASSERT_EQ(first["status"], 200) << first.dump();
  EXPECT_EQ(first["eval_count"], 40);
  EXPECT_EQ(loaded_context(), 256);

  json small = plain;
  small["options"]["num_ctx"] = 8;
  const json narrowed = generate(small);
  ASSERT_EQ(narrowed["status"], 200) << narrowed.dump();
  EXPECT_LE(narrowed["prompt_eval_count"].get<int64_t>() + narrowed["eval_count"].get<int64_t>(), 8);

  json huge = plain;
  huge["options"]["num_ctx"] = 16777216;  // asked 21 GB before: now the slot's 256 at most
  EXPECT_EQ(generate(huge)["status"], 200);
  EXPECT_EQ(loaded_context(), 256);

  const json again = generate(plain);  // the 8 did not stick, the model was never reloaded
  EXPECT_EQ(again["eval_count"], 40);
  EXPECT_EQ(again["response"], first["response"]);
  EXPECT_LT(again["load_duration"].get<int64_t>(), first["load_duration"].get<int64_t>() + 1);
}

// The request is sent on a raw socket that closes 100 ms later: the generation (4,000 tokens
// asked, seconds of work) must stop, counted as cancelled, long before it would have finished.
TEST_F(LimitsServer, NonStreamedGenerationStopsWhenItsClientLeaves) {
  start(4096);
  ASSERT_EQ(
      generate({{"model", k_model}, {"prompt", "x"}, {"stream", false}, {"options", {{"num_predict", 1}}}})["status"],
      200);  // loaded
  const std::string body = json{{"model", k_model},
                                {"prompt", "Once"},
                                {"stream", false},
                                {"raw", true},
                                {"options", {{"num_predict", 4000}, {"temperature", 1}}}}
                               .dump();
  const std::string req =
      "POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  close(fd);
  for (int i = 0; i < 100 && srv_->get().counters().cancelled.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(srv_->get().counters().cancelled.load(), 1);
  EXPECT_LT(srv_->get().counters().last_cancel_tokens.load(), 4000);
}

}  // namespace
}  // namespace pocketlm::server
