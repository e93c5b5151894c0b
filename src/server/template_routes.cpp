// llama-server's prompt utilities, in its shapes (tools/server/README.md of llama.cpp), with the
// model named as on every other route ("model" is required: this server holds many):
//   POST /apply-template  an OpenAI chat body      -> {"prompt": the rendered chat template}
//   POST /tokenize        {content, add_special?, parse_special?, with_pieces?} -> {"tokens": [...]}
//   POST /detokenize      {tokens}                 -> {"content": text}
// The prompt is exactly what /v1/chat/completions would feed the model (its system prompt, tools,
// chat_template_kwargs included).
#include "server/requests.h"
#include "server/routes.h"

namespace pocketlm::server {
namespace {

json parse_body(const std::string& raw) {
  json body = json::parse(raw, nullptr, false);
  if (!body.is_object()) throw api_error(400, "the request body must be a JSON object");
  return body;
}

bool flag(const json& body, const char* key, bool fallback) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw api_error(400, std::string("invalid type for '") + key + "': expected a boolean", key);
  return it->get<bool>();
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > s.size() || (n == 2 && c < 0xC2)) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

void apply_template(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const generation_request r = parse_openai_chat_request(req.body);
  prompt_spec s;
  s.messages = r.messages;
  add_template_fields(s, req.body);
  model_lease lease = ctx.models.acquire(r.model, std::nullopt);
  const prepared_prompt p = render_prompt(lease.get(), s);
  send_json(res, {{"prompt", p.text}});
}

void tokenize(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const json body = parse_body(req.body);
  const std::string model = require_model(body);
  const auto content = body.find("content");
  if (content == body.end() || !content->is_string()) {
    throw api_error(400, "'content' is required and must be a string", "content");
  }
  const bool add_special = flag(body, "add_special", false);
  const bool parse_special = flag(body, "parse_special", true);
  const bool with_pieces = flag(body, "with_pieces", false);
  model_lease lease = ctx.models.acquire(model, std::nullopt);
  const tokenizer& tok = *lease.get().tok;
  const std::vector<int32_t> ids = tok.encode(content->get<std::string>(), add_special, parse_special);
  json tokens = json::array();
  for (const int32_t id : ids) {
    if (!with_pieces) {
      tokens.push_back(id);
      continue;
    }
    const std::string piece = tok.token_to_piece(id);
    json shown;
    if (valid_utf8(piece)) {
      shown = piece;
    } else {  // llama-server: a piece that is not valid UTF-8 comes as its bytes
      shown = json::array();
      for (const unsigned char c : piece) shown.push_back(c);
    }
    tokens.push_back({{"id", id}, {"piece", shown}});
  }
  send_json(res, {{"tokens", tokens}});
}

void detokenize(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const json body = parse_body(req.body);
  const std::string model = require_model(body);
  const auto tokens = body.find("tokens");
  if (tokens == body.end() || !tokens->is_array()) {
    throw api_error(400, "'tokens' is required and must be an array of token ids", "tokens");
  }
  model_lease lease = ctx.models.acquire(model, std::nullopt);
  const tokenizer& tok = *lease.get().tok;
  std::vector<int32_t> ids;
  for (size_t i = 0; i < tokens->size(); ++i) {
    const json& t = (*tokens)[i];
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= tok.n_vocab()) {
      throw api_error(400,
                      "'tokens[" + std::to_string(i) + "]' is " + t.dump() + ": token ids are integers from 0 to " +
                          std::to_string(tok.n_vocab() - 1),
                      "tokens");
    }
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  send_json(res, {{"content", tok.decode(ids)}});
}

}  // namespace

void register_template_routes(httplib::Server& svr, server_context& ctx) {
  const auto route = [&ctx](void (*fn)(const httplib::Request&, httplib::Response&, server_context&)) {
    return [&ctx, fn](const httplib::Request& req, httplib::Response& res) {
      ctx.counters.requests.fetch_add(1);
      guarded(res, flavor::openai, [&] { fn(req, res, ctx); });
    };
  };
  svr.Post("/apply-template", route(apply_template));
  svr.Post("/tokenize", route(tokenize));
  svr.Post("/detokenize", route(detokenize));
}

}  // namespace pocketlm::server
