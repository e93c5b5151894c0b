// Ollama-compatible model routes over the store, resolved exactly as the CLI verbs do:
// /api/tags (list), /api/show, /api/ps, /api/pull (NDJSON progress), /api/delete, /api/copy,
// /api/version.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>

#include "chat/chat.h"
#include "gguf/gguf.h"
#include "runtime/planner.h"
#include "runtime/power.h"
#include "server/routes.h"
#include "store/registry.h"
#include "store/store.h"

namespace pocketlm::server {

namespace {

// llama.cpp's general.file_type ids as Ollama names them.
std::string quantization_level(const gguf::file& f) {
  static const std::map<uint32_t, const char*> names = {
      {0, "F32"},     {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},    {8, "Q5_0"},
      {9, "Q5_1"},    {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"}, {13, "Q3_K_L"}, {14, "Q4_K_S"},
      {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"}, {18, "Q6_K"},   {32, "BF16"}};
  if (const auto ft = f.get_u32("general.file_type")) {
    const auto it = names.find(*ft);
    if (it != names.end()) return it->second;
  }
  // No (known) file type, as in files not written by llama.cpp's tools: the type that holds
  // most of the matrices' elements.
  std::map<uint32_t, int64_t> elements;
  for (const auto& t : f.tensors()) {
    if (t.n_dims >= 2) elements[static_cast<uint32_t>(t.type)] += t.n_elements();
  }
  const auto most = std::max_element(elements.begin(), elements.end(),
                                     [](const auto& a, const auto& b) { return a.second < b.second; });
  if (most == elements.end()) return "";
  std::string name(type_traits(most->first).name);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
  return name;
}

// /api/show's capabilities as Ollama derives them from a model's GGUF (server/images.go):
// "embedding" for a model with <arch>.pooling_type, else "completion"; "tools" when a chat
// template reads `tools`, "insert" when one reads `suffix` (Ollama's fill-in-the-middle test; a
// vocabulary's FIM tokens alone do not count: instruct models carry them too), "thinking" when
// the default template reasons in <think> blocks.
json capabilities_of(const gguf::file& f) {
  std::vector<std::string> sources;
  for (const auto& kv : f.metadata()) {
    if (kv.key != "tokenizer.chat_template" && !kv.key.starts_with("tokenizer.chat_template.")) continue;
    if (auto s = f.get_string(kv.key)) sources.push_back(std::move(*s));
  }
  const auto reads = [&sources](const char* name) {
    const std::regex word(std::string("\\b") + name + "\\b");
    return std::any_of(sources.begin(), sources.end(),
                       [&](const std::string& s) { return std::regex_search(s, word); });
  };
  const auto arch = f.get_string("general.architecture");
  const bool embedding = arch && f.find(*arch + ".pooling_type") != nullptr;
  json out = json::array({embedding ? "embedding" : "completion"});
  if (reads("tools")) out.push_back("tools");
  if (reads("suffix")) out.push_back("insert");
  if (const auto main = f.get_string("tokenizer.chat_template")) {
    const auto t = chat::chat_template::parse(*main, "the GGUF");
    if (t && can_think(t->get())) out.push_back("thinking");
  }
  return out;
}

std::string parameter_size(uint64_t n) {
  char buf[32];
  if (n >= 1000000000ull)
    std::snprintf(buf, sizeof buf, "%.1fB", static_cast<double>(n) / 1e9);
  else if (n >= 1000000ull)
    std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(n) / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.1fK", static_cast<double>(n) / 1e3);
  return buf;
}

// Ollama's "details" object, read from the GGUF header (weights are not touched).
json details_of(const std::string& gguf_path, uint64_t* n_params_out = nullptr) {
  json d = {{"parent_model", ""},  {"format", "gguf"},     {"family", ""},
            {"families", nullptr}, {"parameter_size", ""}, {"quantization_level", ""}};
  auto f = gguf::file::open(gguf_path);
  if (!f) return d;
  const std::string arch = (*f)->get_string("general.architecture").value_or("");
  uint64_t n = 0;
  for (const auto& t : (*f)->tensors()) n += static_cast<uint64_t>(t.n_elements());
  d["family"] = arch;
  d["families"] = json::array({arch});
  d["parameter_size"] = parameter_size(n);
  d["quantization_level"] = quantization_level(**f);
  if (n_params_out) *n_params_out = n;
  return d;
}

std::string name_field(const json& body) {
  std::string n = string_field(body, "model");
  if (n.empty()) n = string_field(body, "name");
  if (n.empty()) throw api_error(400, "'model' is required", "model");
  return n;
}

store::resolved_model resolve(const model_manager& models, const std::string& name) {
  auto r = models.resolve(name);
  if (!r && r.kind() == error_kind::not_found) throw api_error(404, "model '" + name + "' not found");
  if (!r) throw to_api_error(r.err(), "model");
  return *r;
}

void tags(httplib::Response& res, server_context& ctx) {
  const auto mine = store::model_store::pocketlm_default();
  const auto ollama = store::model_store::ollama_default();
  // Ours shadow Ollama's, which shadow the proot-distro stores' (store::locate's rule).
  const auto all = store::list_all(mine, ollama);
  json models = json::array();
  for (const auto& [where, e, owned] : all) {
    const auto* weights = e.m.find(store::media::model);
    const auto hex = weights ? store::digest_hex(weights->digest) : result<std::string>(error{"no weights"});
    json d = hex ? details_of(where->blob_path(*hex)) : json::object();
    models.push_back({{"name", e.name.display()},
                      {"model", e.name.display()},
                      {"modified_at", rfc3339(e.modified * 1000000000)},
                      {"size", e.m.total_size()},
                      {"digest", e.id},
                      {"details", d}});
  }
  // Models loaded by path are listed too, so that a page's model picker can offer them.
  for (const auto& m : ctx.models.running()) {
    if (!m.digest.empty()) continue;
    std::error_code ec;
    const auto size = std::filesystem::file_size(m.name, ec);
    models.push_back({{"name", m.name},
                      {"model", m.name},
                      {"modified_at", rfc3339(now_unix_ns())},
                      {"size", ec ? 0 : size},
                      {"digest", ""},
                      {"details", details_of(m.name)}});
  }
  send_json(res, {{"models", models}});
}

// A metadata value as JSON; arrays of more than five items are [] unless verbose (Ollama's way:
// the vocabulary and merges are only sent when asked for).
json json_of(const gguf::value& v, bool verbose) {
  if (const auto* a = v.as_array()) {
    json out = json::array();
    if (!verbose && a->items.size() > 5) return out;
    for (const auto& item : a->items) out.push_back(json_of(item, true));
    return out;
  }
  if (const auto* str = v.as_string()) return *str;
  if (v.type == gguf::value_type::boolean) return std::get<bool>(v.data);
  if (v.type == gguf::value_type::f32 || v.type == gguf::value_type::f64) return *v.as_float();
  if (std::holds_alternative<uint64_t>(v.data)) return std::get<uint64_t>(v.data);
  return v.as_int().value_or(0);
}

// The Modelfile that would recreate the model, as `ollama show --modelfile` writes it.
std::string modelfile_of(const store::resolved_model& r, const std::string& name, const std::string& tmpl,
                         const std::string& parameters) {
  const auto quoted = [](const std::string& s) { return "\"\"\"" + s + "\"\"\""; };
  std::string out =
      "# Modelfile generated by \"pocketlm show\"\n# To build a new Modelfile based on this, replace FROM with:\n# "
      "FROM " +
      name + "\n\nFROM " + r.gguf_path + "\n";
  if (!tmpl.empty()) out += "TEMPLATE " + quoted(tmpl) + "\n";
  if (!r.system.empty()) out += "SYSTEM " + quoted(r.system) + "\n";
  std::string line;
  for (size_t i = 0; i < parameters.size(); ++i) {
    if (parameters[i] != '\n') {
      line += parameters[i];
      continue;
    }
    out += "PARAMETER " + line + "\n";
    line.clear();
  }
  for (const auto& l : r.licenses) out += "LICENSE " + quoted(l) + "\n";
  return out;
}

void show(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const json body = parse_body(req.body);
  const std::string name = name_field(body);
  const bool verbose = bool_field(body, "verbose", false);
  const store::resolved_model r = resolve(ctx.models, name);
  uint64_t n_params = 0;
  const json d = details_of(r.gguf_path, &n_params);
  json info = {{"general.architecture", d["family"]}, {"general.parameter_count", n_params}};
  std::string chat_template;  // the GGUF's Jinja template: pocketlm renders it natively
  json capabilities = json::array({"completion"});
  json tensors = json::array();
  if (auto f = gguf::file::open(r.gguf_path)) {
    chat_template = (*f)->get_string("tokenizer.chat_template").value_or("");
    capabilities = capabilities_of(**f);
    // Every metadata key but the templates (sent as "template"), as Ollama's model_info.
    for (const auto& kv : (*f)->metadata()) {
      if (kv.key.starts_with("tokenizer.chat_template")) continue;
      info[kv.key] = json_of(kv.val, verbose);
    }
    info["general.parameter_count"] = n_params;
    if (verbose) {
      for (const auto& t : (*f)->tensors()) {
        json shape = json::array();
        for (uint32_t i = 0; i < t.n_dims; ++i) shape.push_back(t.ne[i]);
        tensors.push_back({{"name", t.name}, {"type", std::string(type_traits(t.type).name)}, {"shape", shape}});
      }
    }
  }
  std::string parameters;
  for (const auto& [key, v] : r.params.json.items()) {
    for (const auto& item : v.is_array() ? v : nlohmann::ordered_json::array({v})) {
      parameters += key + " " + (item.is_string() ? item.get<std::string>() : item.dump()) + "\n";
    }
  }
  std::string license;
  for (const auto& l : r.licenses) license += (license.empty() ? "" : "\n") + l;
  json out = {{"license", license},       {"modelfile", modelfile_of(r, name, chat_template, parameters)},
              {"parameters", parameters}, {"template", chat_template},
              {"system", r.system},       {"details", d},
              {"model_info", info},       {"capabilities", capabilities}};
  if (verbose) out["tensors"] = tensors;
  if (r.entry) out["modified_at"] = rfc3339(r.entry->modified * 1000000000);
  send_json(res, out);
}

void ps(httplib::Response& res, server_context& ctx) {
  json models = json::array();
  // "Forever" is a date far ahead, as Ollama writes it.
  const int64_t forever = now_unix_ns() + int64_t{100} * 365 * 24 * 3600 * 1000000000;
  for (const auto& m : ctx.models.running()) {
    models.push_back({{"name", m.name},
                      {"model", m.name},
                      {"size", m.size},
                      {"digest", m.digest},
                      {"details", details_of(m.gguf_path)},
                      {"expires_at", rfc3339(m.expires_unix_ns ? m.expires_unix_ns : forever)},
                      {"size_vram", 0},
                      {"context_length", m.context_length}});
  }
  json body = {{"models", models}};
  // Not Ollama's: heat and battery (runtime/power.h), when a policy is set or sysfs has values.
  if (const auto p = power::current_state()) {
    const auto opt = [](const auto& v) { return v ? json(*v) : json(nullptr); };
    json power = {{"max_temp_c", opt(p->r.max_temp_c)},
                  {"zone", p->r.hottest_zone},
                  {"battery_pct", opt(p->r.battery_pct)},
                  {"charging", opt(p->r.charging)},
                  {"throttled", p->throttled}};
    if (p->has_policy) {
      power["thermal_limit_c"] = opt(p->l.thermal_limit_c);
      power["min_battery_pct"] = opt(p->l.min_battery_pct);
      power["reason"] = p->reason;
      power["threads"] = p->threads;
      power["active_threads"] = p->active_threads;
      power["throttle"] = p->threads > 1 ? "half the threads" : "pause between passes";
      power["lowered_passes"] = p->lowered_passes;
      power["paused_ms"] = p->paused_ms;
      power["paused_passes"] = p->paused_passes;
    }
    body["power"] = std::move(power);
  }
  send_json(res, body);
}

// Runs store::pull, reporting Ollama's progress objects to `emit`.
status run_pull(const store::model_name& n, const std::function<void(const json&)>& emit) {
  auto s = store::model_store::pocketlm_default();
  std::string last_hex;
  int last_pct = -1;
  store::pull_events ev;
  ev.on_status = [&](std::string_view m) { emit({{"status", std::string(m)}}); };
  ev.on_progress = [&](const std::string& hex, int64_t done, int64_t total) {
    const int pct = total > 0 ? static_cast<int>(100 * done / total) : 100;
    if (hex == last_hex && pct == last_pct && done < total) return;
    last_hex = hex, last_pct = pct;
    emit({{"status", "pulling " + hex.substr(0, 12)},
          {"digest", "sha256:" + hex},
          {"total", total},
          {"completed", done}});
  };
  const auto st = store::pull(s, n, ev);
  if (!st) return st;
  emit({{"status", "success"}});
  return {};
}

void pull(const httplib::Request& req, httplib::Response& res, server_context&) {
  const json body = parse_body(req.body);
  auto n = store::parse_name(name_field(body));
  if (!n) throw api_error(400, n.error_message(), "model");
  if (!bool_field(body, "stream", true)) {
    const status st = run_pull(*n, [](const json&) {});
    if (!st) throw to_api_error(st.err());
    send_json(res, {{"status", "success"}});
    return;
  }
  const store::model_name name = *n;
  stream_response(
      res, "application/x-ndjson",
      [name](const chunk_writer& write) {
        const status st = run_pull(name, [&](const json& j) { write(j.dump() + "\n"); });
        if (!st) write(json{{"error", st.error_message()}}.dump() + "\n");
      },
      [](const std::string& m) {
        return json{{"error", m}}.dump() + "\n";
      });
}

void remove(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const json body = parse_body(req.body);
  const std::string name = name_field(body);
  auto n = store::parse_name(name);
  if (!n) throw api_error(400, n.error_message(), "model");
  auto s = store::model_store::pocketlm_default();
  if (!s.contains(*n)) throw api_error(404, "model '" + name + "' not found");
  ctx.models.unload(name);
  if (auto st = s.remove(*n); !st) throw api_error(500, st.error_message());
  res.status = 200;
}

void copy(const httplib::Request& req, httplib::Response& res, server_context&) {
  const json body = parse_body(req.body);
  const std::string src = string_field(body, "source"), dst = string_field(body, "destination");
  if (src.empty() || dst.empty()) throw api_error(400, "'source' and 'destination' are required");
  auto from = store::parse_name(src);
  if (!from) throw api_error(400, from.error_message(), "source");
  auto to = store::parse_name(dst);
  if (!to) throw api_error(400, to.error_message(), "destination");
  auto mine = store::model_store::pocketlm_default();
  const auto ollama = store::model_store::ollama_default();
  auto loc = store::locate(*from, mine, ollama);
  if (!loc) throw api_error(404, "model '" + src + "' not found");
  if (auto st = mine.copy_from(*loc->where, *from, *to); !st) throw api_error(500, st.error_message());
  res.status = 200;
}

}  // namespace

// The context a plan request asks for: options.num_ctx (or a top-level num_ctx); 0 when absent.
int64_t requested_context(const json& body) {
  const json* v = nullptr;
  if (body.contains("options") && body["options"].is_object() && body["options"].contains("num_ctx")) {
    v = &body["options"]["num_ctx"];
  } else if (body.contains("num_ctx")) {
    v = &body["num_ctx"];
  }
  if (v == nullptr || v->is_null()) return 0;
  if (!v->is_number_integer() || v->get<int64_t>() < 1 || v->get<int64_t>() > (int64_t{1} << 24)) {
    throw api_error(400, "'num_ctx' must be an integer in [1, 16777216]", "num_ctx");
  }
  return v->get<int64_t>();
}

// pocketlm's extension, POST /api/plan {model, options: {num_ctx}}: the memory a load of the
// model would take before it loads (what the web page shows as "what fits"), against the
// server's budget: --ram, else MemAvailable less a reserve.
void plan(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  const json body = parse_body(req.body);
  const std::string name = name_field(body);
  const int64_t n_ctx = requested_context(body);
  const store::resolved_model r = resolve(ctx.models, name);
  auto p = ctx.models.plan(r, n_ctx);
  if (!p) throw to_api_error(p.err(), "model");
  const model_options& engine = ctx.models.options().engine;
  json budget = nullptr, source = nullptr, fits = nullptr;
  if (engine.ram_budget > 0) {
    budget = engine.ram_budget;
    source = engine.budget_source;
  } else if (auto b = resolve_budget("")) {
    budget = b->bytes;
    source = b->source;
  }
  if (!budget.is_null()) fits = p->total <= budget.get<uint64_t>();
  send_json(res, {{"model", name},
                  {"context_length", p->n_ctx},
                  {"parallel", p->n_slots},
                  {"weights", p->needs.weights},
                  {"kv_cache", p->needs.kv * static_cast<uint64_t>(p->n_slots)},
                  {"compute", p->needs.compute},
                  {"metadata", p->needs.metadata},
                  {"overhead", p->needs.overhead},
                  {"total", p->total},
                  {"budget", budget},
                  {"budget_source", source},
                  {"fits", fits}});
}

void register_ollama_model_routes(httplib::Server& svr, server_context& ctx) {
  using handler = void (*)(const httplib::Request&, httplib::Response&, server_context&);
  const auto route = [&ctx](handler fn) {
    return [&ctx, fn](const httplib::Request& req, httplib::Response& res) {
      guarded(res, flavor::ollama, [&] { fn(req, res, ctx); });
    };
  };
  svr.Get("/api/tags", [&ctx](const httplib::Request&, httplib::Response& res) {
    guarded(res, flavor::ollama, [&] { tags(res, ctx); });
  });
  svr.Get("/api/ps", [&ctx](const httplib::Request&, httplib::Response& res) {
    guarded(res, flavor::ollama, [&] { ps(res, ctx); });
  });
  svr.Get("/api/version", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, {{"version", "0.1.0"}});
  });
  svr.Post("/api/show", route(show));
  svr.Post("/api/plan", route(plan));
  svr.Post("/api/pull", route(pull));
  svr.Delete("/api/delete", route(remove));
  svr.Post("/api/copy", route(copy));
}

}  // namespace pocketlm::server
