// Ollama's model authoring routes: /api/create (from a model, uploaded blobs, template,
// system, parameters), /api/blobs/:digest (HEAD, POST), /api/push.
#include "server/routes.h"

namespace pocketlm::server {

void register_ollama_create_routes(httplib::Server&, server_context&) {}

}  // namespace pocketlm::server
