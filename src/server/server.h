// server/: owns `pocketlm serve`: an HTTP server (cpp-httplib) speaking the OpenAI API (/v1/...)
// and the Ollama API (/api/...), the embedded web chat page (web/), the model manager (load on
// first use, keep_alive, LRU eviction under the RAM budget) and the per-model slots that run
// concurrent requests, each on its own KV sequence of one shared model.
// May call runtime/, model/, tokenizer/, chat/ and store/; only cli/ calls it.
//
// Embeddings (/v1/embeddings, /api/embed, /api/embeddings, llama-server's /embedding) come from
// embedding models only (a GGUF with <arch>.pooling_type: bert, nomic-bert, Qwen3-Embedding),
// pooled as the GGUF says and L2-normalised (model::embed); a chat model gets 400 "this model does
// not support embeddings", as Ollama refuses it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "server/manager.h"

namespace pocketlm::server {

struct server_options {
  std::string host = "127.0.0.1";
  int port = 11435;                  // 0: any free port (tests)
  std::string api_key;               // non-empty: every API route needs "Bearer KEY"
  size_t max_body_bytes = 8u << 20;  // larger bodies get 413 (chunked ones too)
  // Connections served at once; when all are taken, the one waiting longest for a request is
  // closed for a new one, or the new one gets 503 (server/http_connection.h).
  int http_threads = 64;
  int max_connections_per_client = 0;  // per non-loopback IP; 0: http_threads / 4
  double head_timeout_s = 10;          // request line + headers, from accept or the first byte
  double keep_alive_timeout_s = 5;     // idle wait for a connection's next request
  double body_floor_s = 10;            // body deadline: floor + body_s_per_mib per MiB
  double body_s_per_mib = 10;
  std::vector<std::string> origins;  // more allowed Origin patterns (server/http_origin.h)
  manager_options models;
};

// Counters for logs and tests.
struct server_counters {
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> cancelled{0};           // generations stopped because the client left
  std::atomic<int64_t> last_cancel_tokens{0};  // tokens the last cancelled one had generated
  // Generations, for llama-server's /metrics: prompt tokens evaluated (cached ones excluded) and
  // tokens generated, the time each took, and the forward passes they ran.
  std::atomic<int64_t> prompt_tokens{0};
  std::atomic<int64_t> prompt_us{0};
  std::atomic<int64_t> predicted_tokens{0};
  std::atomic<int64_t> predicted_us{0};
  std::atomic<int64_t> decode_passes{0};
};

struct connection_counters;

class server {
 public:
  explicit server(server_options opt);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds the listening socket; returns the port (the chosen one when port was 0).
  result<int> bind();
  // Serves until stop() (from another thread or a signal watcher). Call after bind().
  void run();
  void stop();

  model_manager& models();
  const server_counters& counters() const;
  const connection_counters& connections() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace pocketlm::server
