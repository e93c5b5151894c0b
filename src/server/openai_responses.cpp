// OpenAI's Responses API (POST /v1/responses), stateless: input as text or messages, output
// as a message item, streamed as its typed events.
#include "server/routes.h"

namespace pocketlm::server {

void register_openai_responses_routes(httplib::Server&, server_context&) {}

}  // namespace pocketlm::server
