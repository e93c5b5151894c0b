// Ollama-compatible generation routes: /api/chat and /api/generate (NDJSON streaming by default),
// /api/embed and the legacy /api/embeddings, with keep_alive loads and unloads.
#include <utility>

#include "server/logprobs.h"
#include "server/requests.h"
#include "server/routes.h"

namespace pocketlm::server {

namespace {

std::string ndjson(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

std::string ndjson_error(const std::string& message) { return ndjson({{"error", message}}); }

prompt_spec with_think(prompt_spec s, const generation_request& r) {
  s.think = r.think;
  s.split_thinking = r.think.value_or(true);  // absent: thinking models report it separately
  return s;
}

// /api/generate's context: the prompt's tokens and the answer's, for a next request to continue.
json context_of(const generation_job& job, const completion_result& out) {
  std::vector<int32_t> all = job.prompt.tokens;
  all.insert(all.end(), out.stats.tokens.begin(), out.stats.tokens.end());
  return all;
}

json final_stats(const generation_job& job, const completion_result& out) {
  const auto ns = [](double ms) { return static_cast<int64_t>(ms * 1e6); };
  return {{"done", true},
          {"done_reason",
           finish_reason_name(out.finish == finish_reason::length ? finish_reason::length : finish_reason::stop)},
          {"total_duration", now_unix_ns() - job.start_ns},
          {"load_duration", job.load_ns},
          {"prompt_eval_count", out.stats.n_prompt},
          {"prompt_eval_duration", ns(out.stats.prompt_ms)},
          {"eval_count", out.stats.n_generated},
          {"eval_duration", ns(out.stats.generate_ms)}};
}

// Ollama's calls: arguments as an object, not as text.
json ollama_tool_calls(const completion_result& out) {
  json calls = json::array();
  for (size_t i = 0; i < out.tool_calls.size(); ++i) {
    const chat::tool_call& c = out.tool_calls[i];
    calls.push_back(
        {{"id", c.id},
         {"function", {{"index", i}, {"name", c.name}, {"arguments", json::parse(c.arguments, nullptr, false)}}}});
  }
  return calls;
}

// A request without a prompt: load the model (keep_alive > 0 or default) or unload it (0).
void load_or_unload(httplib::Response& res, server_context& ctx, const generation_request& r, bool chat) {
  json body = {{"model", r.model}, {"created_at", rfc3339(now_unix_ns())}, {"done", true}};
  if (r.keep_alive && *r.keep_alive == 0) {
    ctx.models.unload(r.model);
    body["done_reason"] = "unload";
  } else {
    model_lease lease = ctx.models.acquire(r.model, r.keep_alive);
    body["done_reason"] = "load";
  }
  if (chat)
    body["message"] = {{"role", "assistant"}, {"content", ""}};
  else
    body["response"] = "";
  send_json(res, body);
}

// Runs the job, streamed as NDJSON or answered as one object. `part(reasoning, answer)` shapes
// a non-final object's payload.
void answer(httplib::Response& res, server_context& ctx, const generation_request& r,
            std::shared_ptr<generation_job> job, bool chat) {
  const json head = {{"model", r.model}};
  const auto part = [chat](json o, const std::string& thinking, const std::string& text) {
    if (chat) {
      o["message"] = {{"role", "assistant"}, {"content", text}};
      if (!thinking.empty()) o["message"]["thinking"] = thinking;
    } else {
      o["response"] = text;
      if (!thinking.empty()) o["thinking"] = thinking;
    }
    return o;
  };
  const auto stamp = [head]() {
    json o = head;
    o["created_at"] = rfc3339(now_unix_ns());
    return o;
  };
  if (!r.stream) {
    const completion_result out = run_completion(job->slot->sess(), job->lease.get(), job->prompt, job->params,
                                                 while_connected(ctx), &job->output);
    note_finish(ctx, out);
    json o = part(stamp(), out.reasoning, out.answer);
    if (chat && !out.tool_calls.empty()) o["message"]["tool_calls"] = ollama_tool_calls(out);
    if (r.top_logprobs >= 0) o["logprobs"] = ollama_logprobs(out.tokens);
    o.update(final_stats(*job, out));
    if (!chat) o["context"] = context_of(*job, out);
    send_json(res, o);
    return;
  }
  stream_response(
      res, "application/x-ndjson",
      [&ctx, job, part, stamp, chat](const chunk_writer& write) {
        std::vector<token_report> pending;  // reports of the tokens whose text the next chunk carries
        const auto with_logprobs = [&pending](json o) {
          if (!pending.empty()) o["logprobs"] = ollama_logprobs(std::exchange(pending, {}));
          return o;
        };
        const auto emit = [&](const std::string& thinking, const std::string& text) {
          json o = with_logprobs(part(stamp(), thinking, text));
          o["done"] = false;
          return write(ndjson(o));
        };
        completion_sinks sinks{[&](std::string_view t) { return emit(std::string(t), ""); },
                               [&](std::string_view t) { return emit("", std::string(t)); }};
        sinks.on_token = [&](const token_report& t) { pending.push_back(t); };
        const completion_result out =
            run_completion(job->slot->sess(), job->lease.get(), job->prompt, job->params, sinks, &job->output);
        note_finish(ctx, out);
        if (out.finish == finish_reason::cancel) return;
        if (chat && !out.tool_calls.empty()) {  // Ollama sends a call whole, in a chunk of its own
          json c = part(stamp(), "", "");
          c["message"]["tool_calls"] = ollama_tool_calls(out);
          c["done"] = false;
          if (!write(ndjson(c))) return;
        }
        json o = with_logprobs(part(stamp(), "", ""));
        o.update(final_stats(*job, out));
        if (!chat) o["context"] = context_of(*job, out);
        write(ndjson(o));
      },
      ndjson_error);
}

void api_chat(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const generation_request r = parse_ollama_chat_request(req.body);
  if (r.messages.empty()) return load_or_unload(res, ctx, r, true);
  auto job = start_job(
      ctx, r.model, r.keep_alive,
      [&](const loaded_model&) {
        prompt_spec s;
        s.messages = r.messages;
        add_template_fields(s, req.body);  // tools, tool calls, chat_template_kwargs
        return with_think(s, r);
      },
      [&](gen_params& g) { g = r.over(g); }, &r.output);
  answer(res, ctx, r, job, true);
}

void api_generate(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const generation_request r = parse_ollama_generate_request(req.body);
  if (r.prompt.empty()) return load_or_unload(res, ctx, r, false);
  auto job = start_job(
      ctx, r.model, r.keep_alive,
      [&](const loaded_model& lm) {
        prompt_spec s = with_think(generate_prompt(lm, r.system, r.prompt, r.raw), r);
        s.context = r.context;
        return s;
      },
      [&](gen_params& g) { g = r.over(g); }, &r.output);
  answer(res, ctx, r, job, false);
}

// One embedding per input, computed in a free slot of the model.
std::vector<std::vector<float>> embed_all(server_context& ctx, const std::string& model,
                                          const std::vector<std::string>& inputs, std::optional<double> keep_alive,
                                          int64_t& n_tokens) {
  model_lease lease = ctx.models.acquire(model, keep_alive);
  require_embedding_model(lease.get());
  std::vector<std::vector<float>> out;
  for (const auto& text : inputs) {
    prompt_spec s;
    s.chat = false;
    s.text = text;
    const prepared_prompt p = prepare_prompt(lease.get(), s);
    n_tokens += static_cast<int64_t>(p.tokens.size());
    auto slot = ctx.models.acquire_slot(lease, {}, ctx.client_alive);
    auto e = slot->sess().embed(p.tokens);
    if (!e) throw to_api_error(e.err());
    out.push_back(std::move(*e));
  }
  return out;
}

void api_embed(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const json body = parse_body(req.body);
  const std::string model = require_model(body);
  const auto keep_alive = parse_keep_alive(body.value("keep_alive", json(nullptr)));
  const auto inputs = parse_inputs(body.value("input", json(nullptr)), "input");
  const int64_t start = now_unix_ns();
  int64_t n_tokens = 0;
  const auto embeddings = embed_all(ctx, model, inputs, keep_alive, n_tokens);
  send_json(res, {{"model", model},
                  {"embeddings", embeddings},
                  {"total_duration", now_unix_ns() - start},
                  {"load_duration", 0},
                  {"prompt_eval_count", n_tokens}});
}

void api_embeddings(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const json body = parse_body(req.body);
  const std::string model = require_model(body);
  const auto keep_alive = parse_keep_alive(body.value("keep_alive", json(nullptr)));
  const std::string prompt = string_field(body, "prompt");
  if (prompt.empty()) throw api_error(400, "'prompt' is required", "prompt");
  int64_t n_tokens = 0;
  const auto embeddings = embed_all(ctx, model, {prompt}, keep_alive, n_tokens);
  send_json(res, {{"embedding", embeddings.front()}});
}

}  // namespace

void register_ollama_routes(httplib::Server& svr, server_context& ctx) {
  const auto route = [&ctx](void (*fn)(const httplib::Request&, httplib::Response&, server_context&)) {
    return [&ctx, fn](const httplib::Request& req, httplib::Response& res) {
      ctx.counters.requests.fetch_add(1);
      guarded(res, flavor::ollama, [&] { fn(req, res, ctx); });
    };
  };
  svr.Post("/api/chat", route(api_chat));
  svr.Post("/api/generate", route(api_generate));
  svr.Post("/api/embed", route(api_embed));
  svr.Post("/api/embeddings", route(api_embeddings));
}

}  // namespace pocketlm::server
