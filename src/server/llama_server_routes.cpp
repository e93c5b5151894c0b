// llama-server's own routes (llama.cpp tools/server/README.md), which its web UI, PocketPal and
// monitoring read, in its shapes:
//   GET  /health                          {"status": "ok"}
//   GET  /props[?model=NAME]              one model's context per slot, sampling defaults, template
//   POST /props                           501, as llama-server started without --props
//   GET  /metrics                         Prometheus text, llama-server's llamacpp:* names
//   GET  /slots[?fail_on_no_slot=1]       every loaded model's slots
//   POST /completion, /completions        raw-prompt generation (llama_server_completion.cpp)
//   POST /embedding, /embeddings          [{"index", "embedding": [[...]]}]: one pooled row each
//   POST /rerank, /reranking, /v1/rerank, /v1/reranking   400: no model here reranks
// llama-server serves one model, so its clients name none. Here a request without "model" (and
// /props without ?model=) means the model a PocketPal user is talking to: the most recently used
// loaded model, else the first one /v1/models lists (the store's most recently changed). GET
// /props never loads a model (clients poll it): an unloaded one is described from its file.
#include "server/llama_server.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "store/store.h"

namespace pocketlm::server::llama_server {

namespace {

// One prompt: a string, token ids, or both mixed ([12, 34, "text", 56]). An array of strings
// only is several prompts, as llama-server reads it.
bool one_prompt(const json& p) {
  if (p.is_string()) return true;
  if (!p.is_array()) return false;
  bool ids = p.empty(), texts = false;
  for (const json& e : p) {
    if (!e.is_string() && !e.is_number_integer()) return false;
    (e.is_string() ? texts : ids) = true;
  }
  return ids;
}

// A prompt's tokens: strings tokenized with special tokens parsed, the first one with BOS when
// the model adds it (as llama-server does); ids as given, each checked against the vocabulary.
std::vector<int32_t> tokens_of(const loaded_model& lm, const json& p, const char* field) {
  if (p.is_string()) return lm.tok->encode(p.get<std::string>(), /*add_special=*/true, /*parse_special=*/true);
  std::vector<int32_t> out;
  const int64_t n_vocab = lm.tok->n_vocab();
  for (size_t i = 0; i < p.size(); ++i) {
    const json& e = p[i];
    if (e.is_string()) {
      const auto t = lm.tok->encode(e.get<std::string>(), /*add_special=*/i == 0, /*parse_special=*/true);
      out.insert(out.end(), t.begin(), t.end());
      continue;
    }
    const bool huge = e.is_number_unsigned() && e.get<uint64_t>() > static_cast<uint64_t>(n_vocab);
    const int64_t id = huge ? -1 : e.get<int64_t>();
    if (id < 0 || id >= n_vocab) {
      throw api_error(
          400,
          "token " + e.dump() + " in '" + field + "' is not in the vocabulary (0.." + std::to_string(n_vocab - 1) + ")",
          field);
    }
    out.push_back(static_cast<int32_t>(id));
  }
  return out;
}

}  // namespace

bool given(const json& b, const char* key) { return b.contains(key) && !b.at(key).is_null(); }

[[noreturn]] void bad_type(const char* key, const char* what) {
  throw api_error(400, std::string("invalid type for '") + key + "': expected " + what, key);
}

double number(const json& b, const char* key) {
  const json& v = b.at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>())) bad_type(key, "a number");
  return v.get<double>();
}

double ranged(const json& b, const char* key, double lo, double hi) {
  const double d = number(b, key);
  if (d < lo || d > hi) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "' must be in [%g, %g]", lo, hi);
    throw api_error(400, "'" + std::string(key) + buf, key);
  }
  return d;
}

// An integer (integral floats too: JavaScript sends 5.0 as 5), saturated to int's range.
int integer(const json& b, const char* key) {
  const double d = number(b, key);
  if (std::floor(d) != d) bad_type(key, "an integer");
  return static_cast<int>(std::clamp<double>(d, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

// llama-server's params object (generation_settings, /props, /slots) for what pocketlm's sampler
// has. A random seed shows as 4294967295, llama.cpp's LLAMA_DEFAULT_SEED.
json settings_json(const gen_params& g, bool stream) {
  const auto& s = g.sampling;
  return {{"n_predict", g.n_predict},
          {"max_tokens", g.n_predict},
          {"seed", s.seed == k_random_seed ? json(4294967295u) : json(s.seed)},
          {"temperature", s.temperature},
          {"top_k", s.top_k},
          {"top_p", s.top_p},
          {"min_p", s.min_p},
          {"repeat_last_n", s.repeat_last_n},
          {"repeat_penalty", s.repeat_penalty},
          {"presence_penalty", s.presence_penalty},
          {"frequency_penalty", s.frequency_penalty},
          {"stop", g.stop},
          {"n_keep", 0},
          {"ignore_eos", false},
          {"stream", stream},
          {"n_probs", std::max(0, g.top_logprobs)},
          {"samplers", {"penalties", "top_k", "top_p", "min_p", "temperature"}}};
}

std::string default_model(server_context& ctx) {
  if (const auto loaded = ctx.models.slots(); !loaded.empty()) return loaded.front().name;
  if (const auto mine = store::model_store::pocketlm_default().list(); !mine.empty())
    return mine.front().name.display();
  if (const auto ollama = store::model_store::ollama_default()) {
    if (const auto theirs = ollama->list(); !theirs.empty()) return theirs.front().name.display();
  }
  return "";
}

// The request's "model", else the default one.
std::string model_of(server_context& ctx, const json& body) {
  std::string m = string_field(body, "model");
  if (m.empty()) m = default_model(ctx);
  if (m.empty()) throw api_error(404, "no model to serve: the store is empty", "model", "model_not_found");
  return m;
}

std::vector<json> prompts_of(const json& v, const char* field) {
  if (one_prompt(v)) return {v};
  if (!v.is_array()) bad_type(field, "a string, an array of token ids (strings may be mixed in) or an array of those");
  std::vector<json> out;
  for (const json& p : v) {
    if (!one_prompt(p))
      bad_type(field, "a string, an array of token ids (strings may be mixed in) or an array of those");
    out.push_back(p);
  }
  if (out.empty()) throw api_error(400, "'" + std::string(field) + "' must not be empty", field);
  return out;
}

// The prompt as a job runs it; 400 when it is empty or leaves no room in the context.
prepared_prompt raw_prompt(const loaded_model& lm, const json& p, const char* field) {
  prepared_prompt out;
  out.tokens = tokens_of(lm, p, field);
  out.text = p.is_string() ? p.get<std::string>() : lm.tok->decode(out.tokens);
  out.n_ctx = lm.llm->n_ctx();
  if (out.tokens.empty()) throw api_error(400, "the prompt is empty", field);
  if (static_cast<int64_t>(out.tokens.size()) >= out.n_ctx) {
    throw api_error(400,
                    "prompt is " + std::to_string(out.tokens.size()) + " tokens, context is " +
                        std::to_string(out.n_ctx) + " (the prompt must leave room for the reply)",
                    field, "context_length_exceeded");
  }
  return out;
}

namespace {

constexpr const char* k_build_info = "pocketlm";

// A model's sampling defaults (its Modelfile PARAMETERs) without loading it: model_defaults reads
// only the resolved model.
gen_params defaults_of(const store::resolved_model& r) {
  loaded_model described;
  described.info = r;
  return model_defaults(described);
}

void health(const httplib::Request&, httplib::Response& res, server_context&) { send_json(res, {{"status", "ok"}}); }

void props(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const std::string asked = req.get_param_value("model");
  const std::string name = asked.empty() ? default_model(ctx) : asked;
  int64_t n_ctx = ctx.models.options().n_ctx;
  std::string path, chat_template;
  gen_params defaults;
  if (!name.empty()) {
    const auto r = ctx.models.resolve(name);
    if (!r) throw api_error(404, "model '" + name + "' not found", "model", "model_not_found");
    const auto loaded = ctx.models.slots();
    const auto it =
        std::find_if(loaded.begin(), loaded.end(), [&](const auto& m) { return m.name == r->display_name; });
    if (it != loaded.end()) {
      n_ctx = it->n_ctx;
      chat_template = it->chat_template;
    } else {
      n_ctx = ctx.models.planned_context(*r);
      if (auto f = gguf::file::open(r->gguf_path)) {
        chat_template = (*f)->get_string("tokenizer.chat_template").value_or("");
      }
    }
    path = r->gguf_path;
    defaults = defaults_of(*r);
  }
  const json settings = {{"id", 0},
                         {"id_task", -1},
                         {"n_ctx", n_ctx},
                         {"speculative", false},
                         {"is_processing", false},
                         {"params", settings_json(defaults, false)},
                         {"prompt", ""}};
  send_json(res, {{"default_generation_settings", settings},
                  {"total_slots", ctx.models.options().n_parallel},
                  {"model_alias", name},
                  {"model_path", path},
                  {"modalities", {{"vision", false}, {"audio", false}}},
                  {"chat_template", chat_template},
                  {"build_info", k_build_info}});
}

void props_change(const httplib::Request&, httplib::Response&, server_context&) {
  throw api_error(501, "this server does not support changing global properties (POST /props)", "",
                  "not_supported_error");
}

void slots(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const auto loaded = ctx.models.slots();
  json out = json::array();
  bool idle = loaded.empty();  // no model loaded: a request loads one and gets a slot
  for (const auto& m : loaded) {
    const json params = settings_json(defaults_of(m.info), false);
    for (size_t i = 0; i < m.busy.size(); ++i) {
      // id is the slot's index in its model, as /completion's id_slot.
      out.push_back({{"id", i},
                     {"id_task", -1},
                     {"model", m.name},
                     {"n_ctx", m.n_ctx},
                     {"speculative", false},
                     {"is_processing", static_cast<bool>(m.busy[i])},
                     {"params", params}});
      idle = idle || !m.busy[i];
    }
  }
  if (!idle && req.has_param("fail_on_no_slot")) throw api_error(503, "no slot available", "", "unavailable_error");
  send_json(res, out);
}

std::string prometheus_value(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

// Totals since the server started; the throughput gauges average over them (llama-server's over
// the time since the last scrape: totals let several scrapers read the same values).
void metrics(const httplib::Request&, httplib::Response& res, server_context& ctx) {
  const server_counters& c = ctx.counters;
  int64_t processing = 0, deferred = 0;
  for (const auto& m : ctx.models.slots()) {
    processing += std::count(m.busy.begin(), m.busy.end(), true);
    deferred += m.waiting;
  }
  const auto prompt_n = static_cast<double>(c.prompt_tokens.load()), prompt_s = c.prompt_us.load() / 1e6;
  const auto predicted_n = static_cast<double>(c.predicted_tokens.load()), predicted_s = c.predicted_us.load() / 1e6;
  struct metric {
    const char* name;
    const char* type;
    const char* help;
    double value;
  };
  const metric all[] = {
      {"prompt_tokens_total", "counter", "Number of prompt tokens processed.", prompt_n},
      {"prompt_seconds_total", "counter", "Prompt process time", prompt_s},
      {"tokens_predicted_total", "counter", "Number of generation tokens processed.", predicted_n},
      {"tokens_predicted_seconds_total", "counter", "Predict process time", predicted_s},
      {"n_decode_total", "counter", "Total number of forward passes (prompt chunks and generated tokens)",
       static_cast<double>(c.decode_passes.load())},
      {"prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s.",
       prompt_s > 0 ? prompt_n / prompt_s : 0.0},
      {"predicted_tokens_seconds", "gauge", "Average generation throughput in tokens/s.",
       predicted_s > 0 ? predicted_n / predicted_s : 0.0},
      {"requests_processing", "gauge", "Number of requests processing.", static_cast<double>(processing)},
      {"requests_deferred", "gauge", "Number of requests deferred.", static_cast<double>(deferred)},
  };
  std::string out;
  for (const metric& m : all) {
    const std::string name = std::string("llamacpp:") + m.name;
    out += "# HELP " + name + " " + m.help + "\n# TYPE " + name + " " + m.type + "\n" + name + " " +
           prometheus_value(m.value) + "\n";
  }
  res.set_content(out, "text/plain; version=0.0.4");
}

// llama-server's non-OpenAI embeddings: "content" (or "input"), one prompt or several; each
// answer is the pooled embedding as a one-row matrix.
void embedding(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const json body = parse_body(req.body);
  const char* field = given(body, "content") || !given(body, "input") ? "content" : "input";
  if (!given(body, field)) throw api_error(400, "'content' is required", "content");
  const auto inputs = prompts_of(body.at(field), field);
  model_lease lease = ctx.models.acquire(model_of(ctx, body), std::nullopt);
  json out = json::array();
  require_embedding_model(lease.get());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const prepared_prompt p = raw_prompt(lease.get(), inputs[i], field);
    auto slot = ctx.models.acquire_slot(lease, {}, ctx.client_alive);
    auto e = slot->sess().embed(p.tokens);
    if (!e) throw to_api_error(e.err());
    out.push_back({{"index", i}, {"embedding", json::array({*e})}});
  }
  send_json(res, out);
}

// Jina's (and TEI's "texts") body, checked; no model pocketlm serves is a reranker.
void rerank(const httplib::Request& req, httplib::Response&, server_context& ctx) {
  const json body = parse_body(req.body);
  std::string model = string_field(body, "model");
  if (!given(body, "query")) throw api_error(400, "'query' is required", "query");
  if (!body.at("query").is_string()) bad_type("query", "a string");
  const char* docs = given(body, "documents") || !given(body, "texts") ? "documents" : "texts";
  if (!given(body, docs)) throw api_error(400, "'documents' is required", "documents");
  if (parse_inputs(body.at(docs), docs).empty()) throw api_error(400, "'documents' must not be empty", docs);
  if (given(body, "top_n") && integer(body, "top_n") < 0) throw api_error(400, "'top_n' must not be negative", "top_n");
  if (!model.empty() && !ctx.models.resolve(model)) {
    throw api_error(404, "model '" + model + "' not found", "model", "model_not_found");
  }
  if (model.empty()) model = default_model(ctx);
  throw api_error(400,
                  (model.empty() ? std::string("this server has no model; none") : "model '" + model + "'") +
                      " is not a reranking model: pocketlm has no reranking models yet",
                  "model");
}

}  // namespace

}  // namespace pocketlm::server::llama_server

namespace pocketlm::server {

void register_llama_server_routes(httplib::Server& svr, server_context& ctx) {
  namespace ls = llama_server;
  using handler = void (*)(const httplib::Request&, httplib::Response&, server_context&);
  const auto route = [&ctx](handler fn, bool counted = true) {  // status routes: not counted (polled)
    return [&ctx, fn, counted](const httplib::Request& req, httplib::Response& res) {
      if (counted) ctx.counters.requests.fetch_add(1);
      guarded(res, flavor::openai, [&] { fn(req, res, ctx); });
    };
  };
  svr.Get("/health", route(ls::health, false));
  svr.Get("/props", route(ls::props, false));
  svr.Post("/props", route(ls::props_change, false));
  svr.Get("/metrics", route(ls::metrics, false));
  svr.Get("/slots", route(ls::slots, false));
  for (const char* path : {"/completion", "/completions"}) svr.Post(path, route(ls::completion));
  for (const char* path : {"/embedding", "/embeddings"}) svr.Post(path, route(ls::embedding));
  for (const char* path : {"/rerank", "/reranking", "/v1/rerank", "/v1/reranking"}) svr.Post(path, route(ls::rerank));
}

}  // namespace pocketlm::server
