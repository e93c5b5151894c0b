// What the route files share: the server's state, JSON and error responses in either API's
// shape, and streaming (SSE for OpenAI, NDJSON for Ollama) through httplib's chunked provider.
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <string>

#include "server/api.h"
#include "server/completion.h"
#include "server/manager.h"
#include "server/server.h"

namespace pocketlm::server {

struct server_context {
  model_manager& models;
  server_counters& counters;
  // Whether the client of the request this thread serves is still connected: work for a client
  // that left stops (queued requests leave the queue, generation ends at the next token).
  std::function<bool()> client_alive = [] { return true; };
};

// Which API's error shape a route answers in. llama-server's own routes (/completion, /health,
// ...) use OpenAI's.
enum class flavor { openai, ollama, anthropic };

void send_json(httplib::Response& res, const json& body, int status = 200);
void send_error(httplib::Response& res, flavor f, const api_error& e);

// Runs a handler body; api_error and any other exception become the flavor's error response.
void guarded(httplib::Response& res, flavor f, const std::function<void()>& body);

// A request holding its model and slot while it generates.
struct generation_job {
  model_lease lease;
  std::unique_ptr<slot_lease> slot;
  prepared_prompt prompt;
  gen_params params;
  output_plan output;    // the answer's grammar and tool syntax
  int64_t start_ns = 0;  // when the request arrived (unix ns)
  int64_t load_ns = 0;   // time spent getting the model loaded
};

// Acquires the model and a slot for `spec`; gen_params come from the model's defaults with
// `apply` (the request's fields) over them; their num_ctx narrows the prompt's window. `output`
// (may be null): the request's structured output and tools, planned for the model's template.
std::shared_ptr<generation_job> start_job(server_context& ctx, const std::string& model,
                                          std::optional<double> keep_alive,
                                          const std::function<prompt_spec(const loaded_model&)>& spec,
                                          const std::function<void(gen_params&)>& apply,
                                          const output_request* output = nullptr);

// write(chunk) returns false once the client is gone.
using chunk_writer = std::function<bool(const std::string& chunk)>;
// Streams what `body` writes; an exception inside is reported with `on_error` as a last chunk.
void stream_response(httplib::Response& res, const char* content_type,
                     std::function<void(const chunk_writer& write)> body,
                     std::function<std::string(const std::string& message)> on_error);

// A sink for non-streamed generations: keeps going while the client is connected.
completion_sinks while_connected(server_context& ctx);

// Counts a finished generation for /metrics (its prompt and generated tokens and their time), and
// whether it ended because its client left.
void note_finish(server_context& ctx, const completion_result& r);

void register_openai_routes(httplib::Server& svr, server_context& ctx);
void register_ollama_routes(httplib::Server& svr, server_context& ctx);
void register_ollama_model_routes(httplib::Server& svr, server_context& ctx);
void register_template_routes(httplib::Server& svr, server_context& ctx);  // /apply-template, /tokenize, /detokenize
void register_openai_responses_routes(httplib::Server& svr, server_context& ctx);  // /v1/responses
void register_anthropic_routes(httplib::Server& svr, server_context& ctx);         // /v1/messages
// llama-server's /health, /props, /metrics, /slots, /completion, /embedding, /v1/rerank.
void register_llama_server_routes(httplib::Server& svr, server_context& ctx);
// Ollama's /api/create, /api/blobs/:digest, /api/push.
void register_ollama_create_routes(httplib::Server& svr, server_context& ctx);

}  // namespace pocketlm::server
