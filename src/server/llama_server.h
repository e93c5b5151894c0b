// What llama-server's routes share (llama_server_routes.cpp, llama_server_completion.cpp): its
// request fields and prompt forms, its settings object, and which model a request that names none
// means. Only those two files include this.
#pragma once

#include <string>
#include <vector>

#include "server/routes.h"

namespace pocketlm::server::llama_server {

bool given(const json& body, const char* key);  // present and not null
[[noreturn]] void bad_type(const char* key, const char* what);
double number(const json& body, const char* key);  // a finite number, 400 otherwise
double ranged(const json& body, const char* key, double lo, double hi);
// An integer (integral floats too: JavaScript sends 5.0 as 5), saturated to int's range.
int integer(const json& body, const char* key);

// llama-server's params object (generation_settings, /props, /slots) for what pocketlm's sampler
// has.
json settings_json(const gen_params& g, bool stream);

// The model a request without "model" means: the most recently used loaded model, else the
// first one /v1/models lists; "" when the store is empty.
std::string default_model(server_context& ctx);
// The body's "model", else default_model (404 when there is none).
std::string model_of(server_context& ctx, const json& body);

// "prompt" / "content": one prompt (a string, token ids, or both mixed: [12, 34, "text", 56]), or
// an array of prompts (an array of strings only is several). 400 for other shapes.
std::vector<json> prompts_of(const json& v, const char* field);
// One prompt as a job runs it: strings tokenized with special tokens parsed (the first with BOS
// when the model adds one), ids checked against the vocabulary; 400 when it is empty or leaves no
// room in the context.
prepared_prompt raw_prompt(const loaded_model& lm, const json& prompt, const char* field);

// POST /completion.
void completion(const httplib::Request& req, httplib::Response& res, server_context& ctx);

}  // namespace pocketlm::server::llama_server
