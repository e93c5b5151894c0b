// OpenAI-compatible routes: /v1/chat/completions, /v1/completions (both with SSE streaming),
// /v1/models, /v1/models/{id} and /v1/embeddings, shaped as api.openai.com answers.
#include <algorithm>
#include <cstring>

#include "server/logprobs.h"
#include "server/openai_common.h"
#include "server/requests.h"
#include "server/routes.h"
#include "store/store.h"

namespace pocketlm::server {

namespace {

json usage_of(const generate_stats& st) {
  return {{"prompt_tokens", st.n_prompt},
          {"completion_tokens", st.n_generated},
          {"total_tokens", st.n_prompt + st.n_generated}};
}

// A generation a client cancelled is never reported; the others ended by stop or length, or
// with tool calls.
const char* finish_of(const completion_result& r) {
  if (!r.tool_calls.empty()) return "tool_calls";
  return finish_reason_name(r.finish == finish_reason::length ? finish_reason::length : finish_reason::stop);
}

json tool_calls_of(const completion_result& r) {
  json calls = json::array();
  for (const auto& c : r.tool_calls) {
    calls.push_back({{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
  }
  return calls;
}

// A streamed call: its first delta names it, later ones carry argument text.
json tool_call_delta_json(const chat::tool_call_delta& d) {
  json call = {{"index", d.index}};
  json fn = {{"arguments", d.arguments_fragment}};
  if (!d.id.empty()) {
    call["id"] = d.id;
    call["type"] = "function";
    fn["name"] = d.name;
  }
  call["function"] = std::move(fn);
  return {{"tool_calls", json::array({std::move(call)})}};
}

std::string sse(const json& j) { return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n"; }

std::string sse_error(const std::string& message) {
  return sse(openai_error_body(api_error(500, message))) + "data: [DONE]\n\n";
}

// choices[i].logprobs of /v1/completions (legacy) or /v1/chat/completions for `tokens`.
json logprobs_of(bool legacy, const std::vector<token_report>& tokens, size_t& offset) {
  return legacy ? openai_completion_logprobs(tokens, offset) : openai_chat_logprobs(tokens);
}

// A whole answer's: null when the request asked for none.
json logprobs_of(const generation_request& r, const completion_result& out) {
  size_t offset = 0;
  return r.top_logprobs < 0 ? json(nullptr) : logprobs_of(r.completion, out.tokens, offset);
}

// Streams one generation as SSE chunks: `make_chunk(delta_fields, finish)` shapes each one.
void stream_openai(httplib::Response& res, server_context& ctx, std::shared_ptr<generation_job> job,
                   const generation_request& r, std::function<json(json delta, const json& finish)> make_chunk) {
  const bool include_usage = r.include_usage;
  const bool legacy = r.completion;
  stream_response(
      res, "text/event-stream",
      [&ctx, job, include_usage, legacy, make_chunk](const chunk_writer& write) {
        std::vector<token_report> pending;  // reports of the tokens whose text the next chunk carries
        size_t offset = 0;                  // text_offset of pending's first token (/v1/completions)
        const auto emit = [&](json delta, const json& finish) {
          json c = make_chunk(std::move(delta), finish);
          if (!pending.empty()) {
            c["choices"][0]["logprobs"] = logprobs_of(legacy, pending, offset);
            pending.clear();
          }
          if (include_usage) c["usage"] = nullptr;
          return write(sse(c));
        };
        if (!emit({{"role", "assistant"}, {"content", ""}}, nullptr)) return;
        completion_sinks sinks{[&](std::string_view t) {
                                 return emit({{"reasoning_content", std::string(t)}}, nullptr);
                               },
                               [&](std::string_view t) {
                                 return emit({{"content", std::string(t)}}, nullptr);
                               },
                               [&](const chat::tool_call_delta& d) { return emit(tool_call_delta_json(d), nullptr); }};
        sinks.on_token = [&](const token_report& t) { pending.push_back(t); };
        const completion_result out =
            run_completion(job->slot->sess(), job->lease.get(), job->prompt, job->params, sinks, &job->output);
        note_finish(ctx, out);
        if (out.finish == finish_reason::cancel) return;
        emit(json::object(), finish_of(out));
        if (include_usage) {
          json u = make_chunk(json::object(), nullptr);
          u["choices"] = json::array();
          u["usage"] = usage_of(out.stats);
          write(sse(u));
        }
        write("data: [DONE]\n\n");
      },
      sse_error);
}

void chat_completions(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const generation_request r = parse_openai_chat_request(req.body);
  auto job = start_job(
      ctx, r.model, std::nullopt,
      [&](const loaded_model&) {
        prompt_spec s;
        s.messages = r.messages;
        add_template_fields(s, req.body);  // tools, tool calls, chat_template_kwargs
        return s;
      },
      [&](gen_params& g) { g = r.over(g); }, &r.output);
  const std::string id = new_id("chatcmpl-");
  const int64_t created = unix_now();
  const json base = {{"id", id}, {"created", created}, {"model", r.model}, {"system_fingerprint", "pocketlm"}};
  if (r.stream) {
    stream_openai(res, ctx, job, r, [base](json delta, const json& finish) {
      json c = base;
      c["object"] = "chat.completion.chunk";
      c["choices"] =
          json::array({{{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", finish}}});
      return c;
    });
    return;
  }
  const completion_result out =
      run_completion(job->slot->sess(), job->lease.get(), job->prompt, job->params, while_connected(ctx), &job->output);
  note_finish(ctx, out);
  json msg = {{"role", "assistant"}, {"content", out.answer}};
  if (!out.reasoning.empty()) msg["reasoning_content"] = out.reasoning;
  if (!out.tool_calls.empty()) {
    msg["tool_calls"] = tool_calls_of(out);
    if (out.answer.empty()) msg["content"] = nullptr;  // as OpenAI answers a call
  }
  json body = base;
  body["object"] = "chat.completion";
  body["choices"] = json::array(
      {{{"index", 0}, {"message", msg}, {"logprobs", logprobs_of(r, out)}, {"finish_reason", finish_of(out)}}});
  body["usage"] = usage_of(out.stats);
  send_json(res, body);
}

void completions(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const generation_request r = parse_openai_completion_request(req.body);
  auto job = start_job(
      ctx, r.model, std::nullopt,
      [&](const loaded_model&) {
        prompt_spec s;
        s.chat = false;
        s.text = r.prompt;
        s.split_thinking = false;
        return s;
      },
      [&](gen_params& g) { g = r.over(g); }, &r.output);
  const json base = {{"id", new_id("cmpl-")},
                     {"object", "text_completion"},
                     {"created", unix_now()},
                     {"model", r.model},
                     {"system_fingerprint", "pocketlm"}};
  if (r.stream) {
    stream_openai(res, ctx, job, r, [base](json delta, const json& finish) {
      json c = base;
      c["choices"] = json::array(
          {{{"index", 0}, {"text", delta.value("content", "")}, {"logprobs", nullptr}, {"finish_reason", finish}}});
      return c;
    });
    return;
  }
  const completion_result out =
      run_completion(job->slot->sess(), job->lease.get(), job->prompt, job->params, while_connected(ctx), &job->output);
  note_finish(ctx, out);
  json body = base;
  body["choices"] = json::array(
      {{{"index", 0}, {"text", out.answer}, {"logprobs", logprobs_of(r, out)}, {"finish_reason", finish_of(out)}}});
  body["usage"] = usage_of(out.stats);
  send_json(res, body);
}

// GET /v1/models' entries: both stores' models (ours first), then loaded .gguf paths.
json model_objects(server_context& ctx) {
  json data = json::array();
  std::vector<std::string> seen;
  const auto add = [&](const std::string& id, int64_t created) {
    if (std::find(seen.begin(), seen.end(), id) != seen.end()) return;
    seen.push_back(id);
    data.push_back({{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "pocketlm"}});
  };
  const auto mine = store::model_store::pocketlm_default();
  const auto ollama = store::model_store::ollama_default();
  for (const auto& l : store::list_all(mine, ollama)) add(l.entry.name.display(), l.entry.modified);
  for (const auto& m : ctx.models.running()) add(m.name, unix_now());  // loaded .gguf paths too
  return data;
}

// The entry GET /v1/models lists under `id`, or under another spelling of its name ("qwen2"
// for "qwen2:latest"); ids hold ':' and '/', so the route takes the rest of the path.
void retrieve_model(const std::string& id, httplib::Response& res, server_context& ctx) {
  const auto want = store::parse_name(id);
  for (const json& m : model_objects(ctx)) {
    const std::string& have = m["id"].get_ref<const std::string&>();
    const auto name = store::parse_name(have);
    if (have == id || (want && name && *want == *name)) return send_json(res, m);
  }
  throw api_error(404, "The model '" + id + "' does not exist", "", "model_not_found");
}

// OpenAI's base64 embedding: the float32 values' little-endian bytes, base64-encoded. The
// official clients ask for this by default and decode it themselves.
std::string base64_floats(const std::vector<float>& v) {
  static constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes(v.size() * sizeof(float), '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t u = 0;
    std::memcpy(&u, &v[i], sizeof(u));
    for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<char>(u >> (8 * b) & 0xFF);
  }
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t chunk = 0;
    for (size_t j = 0; j < 3; ++j) {
      chunk = chunk << 8 | (j < n ? static_cast<uint8_t>(bytes[i + j]) : 0u);
    }
    for (size_t j = 0; j < 4; ++j) {
      out += j <= n ? k_alphabet[chunk >> (18 - 6 * j) & 0x3F] : '=';
    }
  }
  return out;
}

void embeddings(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const json body = parse_body(req.body);
  const std::string model = require_model(body);
  if (!body.contains("input")) throw api_error(400, "'input' is required", "input");
  const auto inputs = parse_inputs(body["input"], "input");
  if (inputs.empty()) throw api_error(400, "'input' must not be empty", "input");
  const json format = body.value("encoding_format", json("float"));
  if (format != "float" && format != "base64") {
    throw api_error(400, "encoding_format must be 'float' or 'base64'", "encoding_format");
  }
  model_lease lease = ctx.models.acquire(model, std::nullopt);
  json data = json::array();
  require_embedding_model(lease.get());
  int64_t n_tokens = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    prompt_spec s;
    s.chat = false;
    s.text = inputs[i];
    const prepared_prompt p = prepare_prompt(lease.get(), s);
    n_tokens += static_cast<int64_t>(p.tokens.size());
    auto slot = ctx.models.acquire_slot(lease, {}, ctx.client_alive);
    auto e = slot->sess().embed(p.tokens);
    if (!e) throw to_api_error(e.err());
    data.push_back({{"object", "embedding"},
                    {"index", i},
                    {"embedding", format == "base64" ? json(base64_floats(*e)) : json(*e)}});
  }
  send_json(res, {{"object", "list"},
                  {"data", data},
                  {"model", model},
                  {"usage", {{"prompt_tokens", n_tokens}, {"total_tokens", n_tokens}}}});
}

}  // namespace

void register_openai_routes(httplib::Server& svr, server_context& ctx) {
  const auto route = [&ctx](void (*fn)(const httplib::Request&, httplib::Response&, server_context&)) {
    return [&ctx, fn](const httplib::Request& req, httplib::Response& res) {
      ctx.counters.requests.fetch_add(1);
      guarded(res, flavor::openai, [&] { fn(req, res, ctx); });
    };
  };
  svr.Post("/v1/chat/completions", route(chat_completions));
  svr.Post("/v1/completions", route(completions));
  svr.Post("/v1/embeddings", route(embeddings));
  svr.Get("/v1/models", [&ctx](const httplib::Request&, httplib::Response& res) {
    guarded(res, flavor::openai, [&] { send_json(res, {{"object", "list"}, {"data", model_objects(ctx)}}); });
  });
  svr.Get(R"(/v1/models/(.+))", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(res, flavor::openai, [&] { retrieve_model(req.matches[1].str(), res, ctx); });
  });
}

}  // namespace pocketlm::server
