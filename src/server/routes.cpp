#include "server/routes.h"

#include <cmath>
#include <cstdio>

namespace pocketlm::server {

void send_json(httplib::Response& res, const json& body, int status) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, flavor f, const api_error& e) {
  if (e.status == 503 || e.status == 429) res.set_header("Retry-After", "1");
  switch (f) {
    case flavor::openai: send_json(res, openai_error_body(e), e.status); break;
    case flavor::ollama: send_json(res, ollama_error_body(e), e.status); break;
    case flavor::anthropic: send_json(res, anthropic_error_body(e), e.status); break;
  }
}

void guarded(httplib::Response& res, flavor f, const std::function<void()>& body) {
  try {
    body();
  } catch (const api_error& e) {
    send_error(res, f, e);
  } catch (const std::exception& e) {
    send_error(res, f, api_error(500, e.what()));
  }
}

std::shared_ptr<generation_job> start_job(server_context& ctx, const std::string& model,
                                          std::optional<double> keep_alive,
                                          const std::function<prompt_spec(const loaded_model&)>& spec,
                                          const std::function<void(gen_params&)>& apply, const output_request* output) {
  const int64_t start = now_unix_ns();
  model_lease lease = ctx.models.acquire(model, keep_alive);
  const int64_t loaded = now_unix_ns();
  gen_params params = model_defaults(lease.get());
  apply(params);
  const prompt_spec s = spec(lease.get());
  require_generative_model(lease.get(), model, s.chat ? "chat" : "generate");
  prepared_prompt prompt = prepare_prompt(lease.get(), s, params.num_ctx);
  output_plan plan = output ? plan_output(lease.get(), prompt, *output) : output_plan{};
  auto slot = ctx.models.acquire_slot(lease, prompt.tokens, ctx.client_alive);
  return std::make_shared<generation_job>(generation_job{std::move(lease), std::move(slot), std::move(prompt),
                                                         std::move(params), std::move(plan), start, loaded - start});
}

void stream_response(httplib::Response& res, const char* content_type,
                     std::function<void(const chunk_writer& write)> body,
                     std::function<std::string(const std::string& message)> on_error) {
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      content_type, [body = std::move(body), on_error = std::move(on_error)](size_t, httplib::DataSink& sink) {
        bool alive = true;
        const chunk_writer write = [&](const std::string& chunk) {
          alive = alive && sink.is_writable() && sink.write(chunk.data(), chunk.size());
          return alive;
        };
        try {
          body(write);
        } catch (const std::exception& e) {
          write(on_error(e.what()));
        }
        sink.done();
        return true;
      });
}

completion_sinks while_connected(server_context& ctx) {
  const auto alive = [&ctx](std::string_view) { return ctx.client_alive(); };
  return {alive, alive};
}

void note_finish(server_context& ctx, const completion_result& r) {
  auto& c = ctx.counters;
  const generate_stats& st = r.stats;
  c.prompt_tokens.fetch_add(st.n_prompt_evaluated);
  c.prompt_us.fetch_add(std::llround(st.prompt_ms * 1000));
  c.predicted_tokens.fetch_add(st.n_generated);
  c.predicted_us.fetch_add(std::llround(st.generate_ms * 1000));
  // One pass for the prompt (when any of it was not cached), one per generated token.
  c.decode_passes.fetch_add((st.n_prompt_evaluated > 0 ? 1 : 0) + st.n_generated);
  if (r.finish != finish_reason::cancel) return;
  c.cancelled.fetch_add(1);
  c.last_cancel_tokens.store(st.n_generated);
}

}  // namespace pocketlm::server
