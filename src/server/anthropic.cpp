// Anthropic's Messages API (POST /v1/messages): system, messages, stop reasons, streaming
// events, tools.
#include "server/routes.h"

namespace pocketlm::server {

void register_anthropic_routes(httplib::Server&, server_context&) {}

}  // namespace pocketlm::server
