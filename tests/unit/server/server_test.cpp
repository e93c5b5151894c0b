// The server in-process on an ephemeral loopback port with stories260K, driven by httplib's
// client: chat and generate (streamed and not), tags, the error statuses, concurrent greedy
// requests equal to the same requests alone, and a client disconnect stopping its generation.
#include "server/server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "server/api.h"
#include "../pooled_stories.h"
#include "test_server.h"

namespace pocketlm::server {
namespace {

const std::string k_model = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    test::use_private_store(std::filesystem::temp_directory_path() / "pocketlm_server_test");
  }

  // A long context lets a stream outlast the client's reaction (disconnect and queue tests).
  void start(const std::string& api_key = "", int parallel = 2, int queue = 8, int64_t n_ctx = 256) {
    server_options o = test::loopback_options();
    o.api_key = api_key;
    o.max_body_bytes = 64 * 1024;
    o.models.n_ctx = n_ctx;
    o.models.n_parallel = parallel;
    o.models.queue = queue;
    // Where testing_models::pooled_stories writes the embedding model.
    o.models.model_dirs.push_back(std::filesystem::temp_directory_path().string());
    srv_ = std::make_unique<test::running_server>(o);
    port_ = srv_->port();
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60);
    return c;
  }

  // POST returning (status, body).
  std::pair<int, std::string> post(const std::string& path, const std::string& body,
                                   const httplib::Headers& headers = {}) const {
    auto c = client();
    auto r = c.Post(path, headers, body, "application/json");
    if (!r) return {0, ""};
    return {r->status, r->body};
  }

  // Streams a POST into `on_chunk`; returning false closes the connection.
  void post_streaming(const std::string& path, const std::string& body, const std::function<bool()>& on_chunk) const {
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.body = body;
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return on_chunk(); };
    auto c = client();
    c.send(req);
  }

  std::string chat_body(const std::string& text, int max_tokens, bool stream) const {
    return json{{"model", k_model}, {"messages", {{{"role", "user"}, {"content", text}}}},
                {"temperature", 0}, {"max_tokens", max_tokens},
                {"stream", stream}, {"stream_options", {{"include_usage", true}}}}
        .dump();
  }

  std::string generate_body(const std::string& prompt, int n, bool stream) const {
    return json{{"model", k_model},
                {"prompt", prompt},
                {"stream", stream},
                {"options", {{"temperature", 0}, {"num_predict", n}}}}
        .dump();
  }

  // Sends `request` on a fresh socket; returns what comes back until close or `timeout_s`.
  std::string raw_exchange(const std::string& request, double timeout_s = 5) const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
      const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
      char buf[4096];
      while (std::chrono::steady_clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
      }
    }
    ::close(fd);
    return out;
  }

  std::unique_ptr<test::running_server> srv_;
  int port_ = 0;
};

TEST_F(ServerTest, ChatCompletionNonStreamAndStreamAgree) {
  start();
  const auto [st, body] = post("/v1/chat/completions", chat_body("Once upon a time", 24, false));
  ASSERT_EQ(st, 200) << body;
  const json j = json::parse(body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], k_model);
  const std::string content = j["choices"][0]["message"]["content"];
  EXPECT_FALSE(content.empty());
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 24);
  EXPECT_EQ(j["usage"]["total_tokens"].get<int>(),
            j["usage"]["prompt_tokens"].get<int>() + j["usage"]["completion_tokens"].get<int>());

  const auto [st2, sse] = post("/v1/chat/completions", chat_body("Once upon a time", 24, true));
  ASSERT_EQ(st2, 200);
  std::string streamed, finish;
  bool done = false, usage_seen = false;
  for (size_t pos = 0; (pos = sse.find("data: ", pos)) != std::string::npos;) {
    const size_t end = sse.find("\n\n", pos);
    const std::string data = sse.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    const json c = json::parse(data);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    if (c["choices"].empty()) {
      usage_seen = true;
      EXPECT_EQ(c["usage"]["completion_tokens"], 24);
      continue;
    }
    const json& d = c["choices"][0]["delta"];
    if (d.contains("content")) streamed += d["content"].get<std::string>();
    if (!c["choices"][0]["finish_reason"].is_null()) finish = c["choices"][0]["finish_reason"];
  }
  EXPECT_TRUE(done);
  EXPECT_TRUE(usage_seen);
  EXPECT_EQ(finish, "length");
  EXPECT_EQ(streamed, content);
}

TEST_F(ServerTest, GenerateNdjsonStreamMatchesOneObject) {
  start();
  const auto [st, body] = post("/api/generate", generate_body("Once upon a time", 16, false));
  ASSERT_EQ(st, 200) << body;
  const json one = json::parse(body);
  EXPECT_EQ(one["done"], true);
  EXPECT_EQ(one["done_reason"], "length");
  EXPECT_EQ(one["eval_count"], 16);
  for (const char* k :
       {"total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_duration"}) {
    EXPECT_TRUE(one[k].is_number_integer()) << k;
  }
  const auto [st2, nd] = post("/api/generate", generate_body("Once upon a time", 16, true));
  ASSERT_EQ(st2, 200);
  std::string text;
  json last;
  for (size_t pos = 0, nl; (nl = nd.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    last = json::parse(nd.substr(pos, nl - pos));
    text += last["response"].get<std::string>();
  }
  EXPECT_EQ(last["done"], true);
  EXPECT_EQ(last["eval_count"], 16);
  EXPECT_EQ(text, one["response"].get<std::string>());
}

TEST_F(ServerTest, OllamaChatAndTagsAndPs) {
  start();
  const json req = {{"model", k_model},
                    {"stream", false},
                    {"messages", {{{"role", "user"}, {"content", "Tim"}}}},
                    {"options", {{"temperature", 0}, {"num_predict", 8}}},
                    {"keep_alive", -1}};
  const auto [st, body] = post("/api/chat", req.dump());
  ASSERT_EQ(st, 200) << body;
  const json j = json::parse(body);
  EXPECT_EQ(j["message"]["role"], "assistant");
  EXPECT_FALSE(j["message"]["content"].get<std::string>().empty());
  auto c = client();
  auto tags = c.Get("/api/tags");
  ASSERT_TRUE(tags);
  EXPECT_EQ(tags->status, 200);
  EXPECT_TRUE(json::parse(tags->body)["models"].is_array());
  auto ps = c.Get("/api/ps");
  ASSERT_TRUE(ps);
  const json running = json::parse(ps->body)["models"];
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0]["name"], k_model);
  EXPECT_EQ(running[0]["context_length"], 256);
  // keep_alive 0 with no messages unloads.
  const auto [st2, body2] = post("/api/chat", json{{"model", k_model}, {"keep_alive", 0}}.dump());
  EXPECT_EQ(st2, 200);
  EXPECT_EQ(json::parse(body2)["done_reason"], "unload");
  EXPECT_TRUE(json::parse(c.Get("/api/ps")->body)["models"].empty());
}

TEST_F(ServerTest, ErrorStatuses) {
  start();
  auto [st, body] = post("/v1/chat/completions", R"({"model":"nope","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(st, 404);
  EXPECT_EQ(json::parse(body)["error"]["message"], "model 'nope' not found");
  std::tie(st, body) = post("/v1/chat/completions", "{not json");
  EXPECT_EQ(st, 400);
  EXPECT_NE(json::parse(body)["error"]["message"].get<std::string>().find("invalid JSON"), std::string::npos);
  std::tie(st, body) = post("/api/generate", json{{"model", k_model}, {"prompt", 5}}.dump());
  EXPECT_EQ(st, 400);
  EXPECT_TRUE(json::parse(body)["error"].is_string());  // Ollama's shape
  std::tie(st, body) = post("/v1/chat/completions", std::string(80 * 1024, ' '));
  EXPECT_EQ(st, 413);
  std::string long_prompt;
  for (int i = 0; i < 300; ++i) long_prompt += "the cat sat. ";
  std::tie(st, body) = post("/v1/chat/completions", chat_body(long_prompt, 4, false));
  EXPECT_EQ(st, 400);
  const std::string msg = json::parse(body)["error"]["message"];
  EXPECT_NE(msg.find("prompt is "), std::string::npos) << msg;
  EXPECT_NE(msg.find("context is 256"), std::string::npos) << msg;
  auto c = client();
  auto r = c.Get("/no/such/route");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(ServerTest, ApiKeyGuardsApiRoutesButNotThePage) {
  start("s3cret");
  auto [st, body] = post("/v1/chat/completions", chat_body("x", 2, false));
  EXPECT_EQ(st, 401);
  EXPECT_EQ(json::parse(body)["error"]["code"], "invalid_api_key");
  std::tie(st, body) = post("/v1/chat/completions", chat_body("x", 2, false), {{"Authorization", "Bearer wrong"}});
  EXPECT_EQ(st, 401);
  std::tie(st, body) = post("/v1/chat/completions", chat_body("x", 2, false), {{"Authorization", "Bearer s3cret"}});
  EXPECT_EQ(st, 200) << body;
  auto c = client();
  EXPECT_EQ(c.Get("/api/tags")->status, 401);
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
}

// The page is embedded gzipped: sent as stored to a client that takes gzip, inflated otherwise.
TEST_F(ServerTest, WebPageIsGzippedOnlyForClientsThatTakeGzip) {
  start("");
  auto c = client();
  c.set_decompress(false);
  auto gz = c.Get("/", {{"Accept-Encoding", "br, gzip;q=0.8"}});
  ASSERT_TRUE(gz);
  EXPECT_EQ(gz->get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(gz->get_header_value("Vary"), "Accept-Encoding");
  ASSERT_GE(gz->body.size(), 2u);
  EXPECT_EQ(gz->body.substr(0, 2), "\x1f\x8b");
  for (const char* accept : {"identity", "gzip;q=0", "deflate"}) {
    auto plain = c.Get("/", {{"Accept-Encoding", accept}});
    ASSERT_TRUE(plain);
    EXPECT_FALSE(plain->has_header("Content-Encoding")) << accept;
    EXPECT_NE(plain->body.find("<!doctype html>"), std::string::npos) << accept;
  }
  auto inflated = client().Get("/", {{"Accept-Encoding", "gzip"}});  // httplib's client inflates
  auto plain = c.Get("/", {{"Accept-Encoding", "identity"}});
  ASSERT_TRUE(inflated && plain);
  EXPECT_EQ(inflated->body, plain->body);
  auto png = c.Get("/icon-192.png", {{"Accept-Encoding", "gzip"}});  // stored as is
  ASSERT_TRUE(png);
  EXPECT_FALSE(png->has_header("Content-Encoding"));
  EXPECT_EQ(png->body.substr(1, 3), "PNG");
}

TEST_F(ServerTest, ConcurrentGreedyRequestsEqualTheSameRequestsAlone) {
  start("", 2);
  const std::vector<std::string> prompts = {"Once upon a time", "The little dog", "Lily wanted to", "One day, Tom"};
  std::vector<std::string> alone;
  for (const auto& p : prompts) {
    const auto [st, body] = post("/api/generate", generate_body(p, 40, false));
    ASSERT_EQ(st, 200) << body;
    alone.push_back(json::parse(body)["response"]);
  }
  std::vector<std::future<std::pair<int, std::string>>> together;
  for (const auto& p : prompts) {
    together.push_back(
        std::async(std::launch::async, [this, p] { return post("/api/generate", generate_body(p, 40, false)); }));
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto [st, body] = together[i].get();
    ASSERT_EQ(st, 200) << body;
    EXPECT_EQ(json::parse(body)["response"], alone[i]) << prompts[i];
  }
}

TEST_F(ServerTest, FullQueueAnswers503WithRetryAfter) {
  start("", 1, 0, 8192);
  // Holds the only slot: a long stream whose reader waits for a signal before it leaves.
  std::promise<void> first_chunk;
  std::promise<void> release;
  auto release_f = release.get_future().share();
  std::thread holder([&] {
    bool signalled = false;
    post_streaming("/api/generate", generate_body("Once", 8000, true), [&] {
      if (!signalled) first_chunk.set_value(), signalled = true;
      release_f.wait();
      return false;
    });
  });
  first_chunk.get_future().wait();
  auto c = client();
  auto r = c.Post("/api/generate", generate_body("Hi", 2, false), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  release.set_value();
  holder.join();
}

TEST_F(ServerTest, ClientDisconnectStopsGeneration) {
  start("", 1, 8, 8192);
  {
    int chunks = 0;
    // Leaves after the second chunk.
    post_streaming("/api/generate", generate_body("Once upon a time", 8000, true), [&] { return ++chunks < 2; });
  }
  // The cancelled generation frees the slot: wait for the server to count it.
  for (int i = 0; i < 2000 && srv_->get().counters().cancelled.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(srv_->get().counters().cancelled.load(), 1);
  EXPECT_LT(srv_->get().counters().last_cancel_tokens.load(), 4000);
  const auto [st, body] = post("/api/generate", generate_body("Hi", 2, false));
  EXPECT_EQ(st, 200);
}

TEST_F(ServerTest, EmbeddingsAreUnitLength) {
  start();
  const std::string pooled = testing_models::pooled_stories(1);
  const auto [st, body] = post("/v1/embeddings", json{{"model", pooled}, {"input", {"a cat", "a dog"}}}.dump());
  ASSERT_EQ(st, 200) << body;
  const json j = json::parse(body);
  ASSERT_EQ(j["data"].size(), 2u);
  for (const auto& d : j["data"]) {
    double norm = 0;
    for (double v : d["embedding"]) norm += v * v;
    EXPECT_NEAR(norm, 1.0, 1e-4);
  }
  EXPECT_NE(j["data"][0]["embedding"], j["data"][1]["embedding"]);
  const auto [st2, body2] = post("/api/embed", json{{"model", pooled}, {"input", "a cat"}}.dump());
  ASSERT_EQ(st2, 200) << body2;
  EXPECT_EQ(json::parse(body2)["embeddings"][0], j["data"][0]["embedding"]);
  // A chat model (no pooling type) is refused, as Ollama refuses it.
  const auto [st3, body3] = post("/api/embed", json{{"model", k_model}, {"input", "a cat"}}.dump());
  EXPECT_EQ(st3, 400);
  EXPECT_EQ(json::parse(body3)["error"], "this model does not support embeddings");
}

// Issue 12 row 2: the body limit holds for chunked bodies too, before they are buffered.
TEST_F(ServerTest, ChunkedBodyOverTheLimitIs413) {
  start();  // 64 KiB limit
  auto c = client();
  const std::string piece = "{\"model\":\"" + k_model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" +
                            std::string(200 * 1024, 'a') + "\"}]}";
  size_t sent = 0;
  auto r = c.Post(
      "/v1/chat/completions",
      [&](size_t, httplib::DataSink& sink) {
        const size_t n = std::min<size_t>(8192, piece.size() - sent);
        if (n == 0 || !sink.write(piece.data() + sent, n)) return sink.done(), true;
        sent += n;
        return true;
      },
      "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(json::parse(r->body)["error"]["message"], "request body too large (limit 64 KiB, 65536 bytes)");
}

// Row 8: a declared length over the limit is refused at once, without reading the body.
TEST_F(ServerTest, HugeContentLengthIs413AtOnce) {
  start();
  const auto t0 = std::chrono::steady_clock::now();
  const std::string r = raw_exchange(
      "POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 3.0);
  ASSERT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r;
  EXPECT_NE(r.find(R"x({"error":"request body too large (limit 64 KiB, 65536 bytes)"})x"), std::string::npos) << r;
}

// Row 6: pages of other sites cannot use the API; loopback pages can, with CORS.
TEST_F(ServerTest, OtherSitesOriginIs403AndLoopbackPagesGetCors) {
  start("", 2, 8, 256);
  auto c = client();
  auto evil = c.Get("/api/tags", {{"Origin", "http://evil.example"}});
  ASSERT_TRUE(evil);
  EXPECT_EQ(evil->status, 403);
  EXPECT_NE(json::parse(evil->body)["error"].get<std::string>().find("origin 'http://evil.example' is not allowed"),
            std::string::npos);
  EXPECT_FALSE(evil->has_header("Access-Control-Allow-Origin"));
  auto evil_post =
      c.Post("/v1/chat/completions", {{"Origin", "https://evil.example"}}, chat_body("x", 2, false), "text/plain");
  ASSERT_TRUE(evil_post);
  EXPECT_EQ(evil_post->status, 403);
  EXPECT_EQ(json::parse(evil_post->body)["error"]["code"], "forbidden");

  const std::string page = "http://localhost:5173";
  auto ok = c.Get("/api/tags", {{"Origin", page}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->get_header_value("Access-Control-Allow-Origin"), page);
  // The browser's preflight for a JSON POST with a key.
  httplib::Request pre;
  pre.method = "OPTIONS";
  pre.path = "/v1/chat/completions";
  pre.headers = {{"Origin", page},
                 {"Access-Control-Request-Method", "POST"},
                 {"Access-Control-Request-Headers", "authorization,content-type"}};
  auto p = c.send(pre);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 204);
  EXPECT_EQ(p->get_header_value("Access-Control-Allow-Origin"), page);
  EXPECT_NE(p->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_EQ(p->get_header_value("Access-Control-Allow-Headers"), "authorization,content-type");
  pre.headers = {{"Origin", "http://evil.example"}, {"Access-Control-Request-Method", "POST"}};
  auto q = c.send(pre);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->status, 403);
  EXPECT_FALSE(q->has_header("Access-Control-Allow-Origin"));
}

// Row 6: on loopback, a Host naming another machine is DNS rebinding.
TEST_F(ServerTest, ForeignHostHeaderIs403OnLoopback) {
  start();
  const std::string r = raw_exchange("GET /api/tags HTTP/1.1\r\nHost: evil.example:11435\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(r.rfind("HTTP/1.1 403", 0), 0u) << r;
  EXPECT_NE(r.find("host 'evil.example:11435' is not allowed"), std::string::npos) << r;
  for (const char* host : {"localhost:1", "127.0.0.1", "[::1]:8080", "app.localhost"}) {
    const std::string ok =
        raw_exchange(std::string("GET /api/tags HTTP/1.1\r\nHost: ") + host + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << host << ": " << ok;
  }
}

}  // namespace
}  // namespace pocketlm::server
