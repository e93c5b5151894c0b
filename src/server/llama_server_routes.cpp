// llama-server's own routes: /health, /props, /metrics (Prometheus), /slots, /completion (its
// streaming shape), /embedding, /v1/rerank.
#include "server/routes.h"

namespace pocketlm::server {

void register_llama_server_routes(httplib::Server&, server_context&) {}

}  // namespace pocketlm::server
