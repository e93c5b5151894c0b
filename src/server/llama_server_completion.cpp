// llama-server's POST /completion (and /completions): a raw prompt (text, token ids, or both
// mixed) with llama-server's top-level sampling fields, grammar / json_schema, n_probs and stop
// words, answered in its shape: {content, stop, stop_type, stopping_word, tokens_predicted,
// tokens_evaluated, timings, generation_settings, ...}; streamed as SSE `data: {"content",
// "stop": false}` chunks and a last `"stop": true` one with the timings (no [DONE]).
#include <algorithm>
#include <cmath>
#include <limits>

#include "server/llama_server.h"
#include "server/logprobs.h"

namespace pocketlm::server::llama_server {

namespace {

// llama-server's logit_bias: [[token id, bias or false]] (false bans the token), or OpenAI's
// {"id": bias}.
void apply_logit_bias(const json& v, sampler_params& s) {
  if (v.is_object()) {
    gen_params g;
    apply_openai_sampling({{"logit_bias", v}}, g);
    s.logit_bias = g.sampling.logit_bias;
    return;
  }
  if (!v.is_array()) bad_type("logit_bias", "an array of [token id, bias] pairs");
  s.logit_bias.clear();
  for (const json& p : v) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_number_integer() || !(p[1].is_number() || p[1] == false)) {
      throw api_error(400, "each logit_bias entry must be [token id, bias or false]", "logit_bias");
    }
    const int64_t id = p[0].get<int64_t>();
    if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
      throw api_error(400, "logit_bias token ids must be non-negative", "logit_bias");
    }
    const double bias = p[1].is_boolean() ? -100.0 : p[1].get<double>();  // -100 bans (sampler_params)
    if (!std::isfinite(bias)) throw api_error(400, "logit_bias values must be finite numbers", "logit_bias");
    s.logit_bias.emplace_back(static_cast<int32_t>(id), static_cast<float>(std::clamp(bias, -100.0, 100.0)));
  }
}

// llama-server's sampling fields, at the body's top level. Those of samplers pocketlm does not
// have (typical_p, mirostat, dry_*, xtc_*, dynatemp_*) are accepted and have no effect.
void apply_llama_sampling(const json& b, gen_params& g) {
  auto& s = g.sampling;
  if (given(b, "temperature"))
    s.temperature = static_cast<float>(std::max(0.0, number(b, "temperature")));  // <= 0: greedy
  if (given(b, "top_k")) s.top_k = std::max(0, integer(b, "top_k"));              // 0: off
  if (given(b, "top_p")) s.top_p = static_cast<float>(ranged(b, "top_p", 0, 1));
  if (given(b, "min_p")) s.min_p = static_cast<float>(ranged(b, "min_p", 0, 1));
  if (given(b, "repeat_penalty")) s.repeat_penalty = static_cast<float>(ranged(b, "repeat_penalty", 0, 100));
  if (given(b, "presence_penalty")) s.presence_penalty = static_cast<float>(ranged(b, "presence_penalty", -100, 100));
  if (given(b, "frequency_penalty")) {
    s.frequency_penalty = static_cast<float>(ranged(b, "frequency_penalty", -100, 100));
  }
  if (given(b, "repeat_last_n")) {
    s.repeat_last_n = integer(b, "repeat_last_n");
    if (s.repeat_last_n < -1) throw api_error(400, "'repeat_last_n' must be at least -1", "repeat_last_n");
  }
  if (given(b, "seed")) {  // any integer; negative: a random one (llama-server's -1)
    const json& v = b.at("seed");
    if (v.is_number_unsigned()) {
      s.seed = v.get<uint64_t>();
    } else if (v.is_number_integer()) {
      s.seed = v.get<int64_t>() < 0 ? k_random_seed : static_cast<uint64_t>(v.get<int64_t>());
    } else {
      s.seed = integer(b, "seed") < 0 ? k_random_seed : static_cast<uint64_t>(integer(b, "seed"));
    }
  }
  for (const char* key : {"max_tokens", "n_predict"}) {  // n_predict wins, as in llama-server
    if (given(b, key)) g.n_predict = std::max(-1, integer(b, key));
  }
  if (given(b, "stop")) {
    const json& v = b.at("stop");
    if (!v.is_array() && !v.is_string()) bad_type("stop", "an array of strings");
    g.stop.clear();
    for (const json& w : v.is_string() ? json::array({v}) : v) {
      if (!w.is_string()) bad_type("stop", "an array of strings");
      if (!w.get<std::string>().empty()) g.stop.push_back(w.get<std::string>());
    }
  }
  if (given(b, "logit_bias")) apply_logit_bias(b.at("logit_bias"), s);
}

struct llama_request {
  json body;
  std::string model;
  json prompt;
  bool stream = false;
  int n_probs = k_logprobs_off;
  output_request output;  // grammar, json_schema, response_format
};

llama_request parse_completion(const std::string& raw, server_context& ctx) {
  llama_request r;
  r.body = parse_body(raw);
  if (!given(r.body, "prompt")) throw api_error(400, "'prompt' is required", "prompt");
  const auto prompts = prompts_of(r.body.at("prompt"), "prompt");
  if (prompts.size() > 1) {
    throw api_error(400, "several prompts in one request are not supported: send one request per prompt", "prompt");
  }
  r.prompt = prompts.front();
  r.stream = bool_field(r.body, "stream", false);
  bool_field(r.body, "cache_prompt", true);  // type-checked only: every slot reuses its cached prefix
  if (bool_field(r.body, "ignore_eos", false)) throw api_error(400, "'ignore_eos' is not supported", "ignore_eos");
  r.n_probs = openai_completion_top_logprobs(r.body);  // n_probs
  gen_params checked;
  apply_llama_sampling(r.body, checked);  // 400s before any model loads
  r.output = parse_openai_output(raw);
  r.output.tools = nullptr;  // a raw prompt has no template to offer tools in
  r.model = model_of(ctx, r.body);
  return r;
}

// start_job for a prompt that may be token ids.
std::shared_ptr<generation_job> start_completion(server_context& ctx, const llama_request& r) {
  const int64_t start = now_unix_ns();
  model_lease lease = ctx.models.acquire(r.model, std::nullopt);
  const int64_t loaded = now_unix_ns();
  gen_params params = model_defaults(lease.get());
  apply_llama_sampling(r.body, params);
  params.top_logprobs = r.n_probs;
  require_generative_model(lease.get(), r.model, "generate");
  prepared_prompt prompt = raw_prompt(lease.get(), r.prompt, "prompt");
  output_plan plan = plan_output(lease.get(), prompt, r.output);
  auto slot = ctx.models.acquire_slot(lease, prompt.tokens, ctx.client_alive);
  return std::make_shared<generation_job>(generation_job{std::move(lease), std::move(slot), std::move(prompt),
                                                         std::move(params), std::move(plan), start, loaded - start});
}

struct llama_outcome {
  completion_result out;
  std::string content;
  std::string stop_type;  // "eos", "limit", "word"; empty: the client left
  std::string stopping_word;
};

// Runs `job`: emit(text) gets each part of the content once final (false: the client left);
// on_token (may be empty) each token's report before the part that carries its text.
llama_outcome run_llama(server_context& ctx, generation_job& job, const std::function<bool(const std::string&)>& emit,
                        const std::function<void(const token_report&)>& on_token) {
  const auto text = [&](std::string_view t) { return emit(std::string(t)); };
  completion_sinks sinks{text, text};
  sinks.on_token = on_token;
  llama_outcome o;
  o.out = run_completion(job.slot->sess(), job.lease.get(), job.prompt, job.params, sinks, &job.output);
  note_finish(ctx, o.out);
  o.content = o.out.reasoning + o.out.answer;           // what emit got (a raw prompt has no reasoning)
  if (o.out.finish == finish_reason::cancel) return o;  // the client left
  o.stopping_word = o.out.stats.stop_word;
  if (!o.stopping_word.empty())
    o.stop_type = "word";
  else
    o.stop_type = o.out.finish == finish_reason::stop ? "eos" : "limit";
  return o;
}

json timings_json(const generate_stats& st) {
  const auto per_token = [](double ms, int64_t n) { return n > 0 ? ms / static_cast<double>(n) : 0.0; };
  const auto per_second = [](double ms, int64_t n) { return ms > 0 ? 1e3 * static_cast<double>(n) / ms : 0.0; };
  return {{"prompt_n", st.n_prompt_evaluated},
          {"prompt_ms", st.prompt_ms},
          {"prompt_per_token_ms", per_token(st.prompt_ms, st.n_prompt_evaluated)},
          {"prompt_per_second", per_second(st.prompt_ms, st.n_prompt_evaluated)},
          {"predicted_n", st.n_generated},
          {"predicted_ms", st.generate_ms},
          {"predicted_per_token_ms", per_token(st.generate_ms, st.n_generated)},
          {"predicted_per_second", per_second(st.generate_ms, st.n_generated)}};
}

json prob_json(const token_logprob& t) {
  json bytes = json::array();
  for (unsigned char c : t.piece) bytes.push_back(c);
  return {{"id", t.id}, {"token", t.piece}, {"logprob", t.logprob}, {"bytes", bytes}};
}

// completion_probabilities: each token with its n_probs most likely alternatives.
json probs_json(const std::vector<token_report>& tokens) {
  json out = json::array();
  for (const auto& t : tokens) {
    json top = json::array();
    for (const auto& a : t.top) top.push_back(prob_json(a));
    json e = prob_json(t.chosen);
    e["top_logprobs"] = std::move(top);
    out.push_back(std::move(e));
  }
  return out;
}

// The last object: the whole answer, or (streamed) everything but the content already sent.
json final_json(const generation_job& job, const llama_request& r, const llama_outcome& o) {
  const generate_stats& st = o.out.stats;
  json body = {{"index", 0},
               {"content", r.stream ? "" : o.content},
               {"tokens", json::array()},
               {"id_slot", job.slot->index()},
               {"stop", true},
               {"model", r.model},
               {"tokens_predicted", st.n_generated},
               {"tokens_evaluated", st.n_prompt},
               {"generation_settings", settings_json(job.params, r.stream)},
               {"prompt", job.prompt.text},
               {"has_new_line", o.content.find('\n') != std::string::npos},
               {"truncated", false},
               {"stop_type", o.stop_type},
               {"stopping_word", o.stopping_word},
               {"tokens_cached", st.n_prompt - st.n_prompt_evaluated},
               {"timings", timings_json(st)}};
  if (!r.stream && r.n_probs >= 0) body["completion_probabilities"] = probs_json(o.out.tokens);
  return body;
}

std::string event(const char* name, const json& j) {
  return std::string(name) + ": " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

void stream_completion(httplib::Response& res, server_context& ctx, std::shared_ptr<generation_job> job,
                       llama_request r) {
  stream_response(
      res, "text/event-stream",
      [&ctx, job, r = std::move(r)](const chunk_writer& write) {
        std::vector<token_report> pending;  // reports of the tokens whose text the next chunk carries
        const auto with_probs = [&](json c) {
          if (!pending.empty()) c["completion_probabilities"] = probs_json(pending);
          pending.clear();
          return c;
        };
        const auto emit = [&](const std::string& text) {
          if (text.empty()) return true;
          return write(event("data", with_probs({{"index", 0},
                                                 {"content", text},
                                                 {"tokens", json::array()},
                                                 {"stop", false},
                                                 {"id_slot", job->slot->index()},
                                                 {"tokens_evaluated", job->prompt.tokens.size()}})));
        };
        const llama_outcome o = run_llama(ctx, *job, emit, [&](const token_report& t) { pending.push_back(t); });
        if (!o.stop_type.empty()) write(event("data", with_probs(final_json(*job, r, o))));
      },
      [](const std::string& message) {
        return event("error", {{"code", 500}, {"message", message}, {"type", "server_error"}});
      });
}

}  // namespace

void completion(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  llama_request r = parse_completion(req.body, ctx);
  auto job = start_completion(ctx, r);
  if (r.stream) {
    stream_completion(res, ctx, std::move(job), std::move(r));
    return;
  }
  const llama_outcome o = run_llama(ctx, *job, [&ctx](const std::string&) { return ctx.client_alive(); }, {});
  send_json(res, final_json(*job, r, o));
}

}  // namespace pocketlm::server::llama_server
