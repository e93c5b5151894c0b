// Ollama's model authoring routes over the store (docs/api.md in ollama/ollama):
//   HEAD /api/blobs/:digest   200 when the store holds the blob, else 404;
//   POST /api/blobs/:digest   the raw bytes, streamed to disk and hashed as they arrive (the one
//                             route past the 8 MiB body limit: connection_limits::max_upload_bytes),
//                             201, or 400 when they hash to another digest (nothing is kept);
//   POST /api/create          a store model from `from` (a model) or `files` (an uploaded GGUF
//                             blob), with template, system, license and parameters layered as
//                             Ollama's manifests do, optionally quantized (model/quantize.h);
//   POST /api/push            a store model to its registry (store::push).
// create and push stream NDJSON progress ({"status":...}, ..., {"status":"success"}), or one
// object with "stream": false. Every check that can fail on the request is made before the
// stream starts, so that it gets its HTTP status; later failures end the stream with {"error"}.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <optional>

#include "model/quantize.h"
#include "server/http_connection.h"
#include "server/routes.h"
#include "store/create.h"
#include "store/model_config.h"
#include "store/registry.h"
#include "store/store.h"

namespace pocketlm::server {

namespace {

using emit_fn = std::function<void(const json&)>;

std::string name_field(const json& body) {
  std::string n = string_field(body, "model");
  if (n.empty()) n = string_field(body, "name");
  if (n.empty()) throw api_error(400, "'model' is required", "model");
  return n;
}

store::model_name parse_model_name(const std::string& text, const char* param) {
  auto n = store::parse_name(text);
  if (!n) throw api_error(400, n.error_message(), param);
  return *n;
}

std::string hex_of(const std::string& digest, const char* param = "digest") {
  auto hex = store::digest_hex(digest);
  if (!hex) throw api_error(400, "invalid digest format '" + digest + "' (expected sha256:<64 hex digits>)", param);
  return *hex;
}

// A store failure as a response: a full disk is 507 Insufficient Storage (nothing was kept).
api_error store_error(const error& e, std::string param = {}) {
  if (e.kind == error_kind::exhausted) return api_error(507, e.message, std::move(param));
  return to_api_error(e, std::move(param));
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// ---- /api/blobs/:digest

void head_blob(const httplib::Request& req, httplib::Response& res) {
  // httplib routes HEAD to GET handlers; Ollama has no GET of a blob.
  if (req.method != "HEAD") throw api_error(405, "method not allowed: use HEAD or POST on /api/blobs/:digest");
  const std::string hex = hex_of(req.matches[1]);
  if (!store::model_store::pocketlm_default().has_blob(hex)) throw api_error(404, "blob sha256:" + hex + " not found");
  res.status = 200;
}

bool blob_intact(const store::model_store& s, const std::string& hex) {
  struct stat st {};
  return s.has_blob(hex) && ::stat(s.blob_path(hex).c_str(), &st) == 0 && s.verify_blob(hex, st.st_size);
}

void post_blob(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
  const std::string hex = hex_of(req.matches[1]);
  auto s = store::model_store::pocketlm_default();
  if (blob_intact(s, hex)) {  // as Ollama: already there is 200, and the body is not read
    res.status = 200;
    return;
  }
  auto l = store::receive_blob(s, hex, [&](const store::blob_sink& sink) {
    return read([&](const char* data, size_t n) { return sink(data, n); });
  });
  if (l) {
    res.status = 201;
    return;
  }
  // A body cut short by the connection layer (too large, too slow): it sets 413 or 408.
  if (const std::string cut = connection_failure_reason(); !cut.empty()) throw api_error(400, cut);
  throw store_error(l.err());
}

// ---- /api/create

struct create_plan {
  store::model_name name;
  store::create_spec spec;
  std::optional<file_type> quantize;
  std::string quantize_source;  // the GGUF to quantize
  std::string source_type;      // its weights' type, "F32" ("quantizing F32 model to Q8_0")
  bool stream = true;
};

// Ollama's `files`: {"name.gguf": "sha256:..."}. pocketlm builds from one GGUF file.
void plan_files(const json& files, create_plan& p) {
  if (!files.is_object()) throw api_error(400, "'files' must be an object of file names to digests", "files");
  if (files.size() != 1) {
    throw api_error(400, "pocketlm creates a model from one GGUF file; 'files' names " + std::to_string(files.size()),
                    "files");
  }
  // The iterator by name: a binding to *files.items().begin() would outlive the temporary it reads.
  const auto first = files.begin();
  const std::string& file = first.key();
  const json& digest = first.value();
  if (file.empty() || file.front() == '/' || file == ".." || file.starts_with("../") ||
      file.find("/../") != std::string::npos || file.ends_with("/..")) {
    throw api_error(400, "file path must be relative ('" + file + "')", "files");
  }
  if (!digest.is_string()) throw api_error(400, "invalid digest format for '" + file + "'", "files");
  const std::string hex = hex_of(digest.get<std::string>(), "files");
  if (!store::model_store::pocketlm_default().has_blob(hex)) {
    throw api_error(
        400, "blob sha256:" + hex + " ('" + file + "') not found: upload it first with POST /api/blobs/sha256:" + hex,
        "files");
  }
  if (auto f = gguf::file::open(store::model_store::pocketlm_default().blob_path(hex)); !f) {
    throw api_error(400, "supplied file was not in GGUF format ('" + file + "': " + f.error_message() + ")", "files");
  }
  p.spec.model_blob = hex;
}

// `from`: a store model (here or in Ollama's store), or a file inside a --models-dir.
void plan_from(const std::string& from, create_plan& p, server_context& ctx) {
  if (store::is_gguf_path(from)) {
    auto r = ctx.models.resolve(from);
    if (!r && r.kind() == error_kind::not_found) throw api_error(404, "model '" + from + "' not found", "from");
    if (!r) throw to_api_error(r.err(), "from");
    p.spec.model_file = r->gguf_path;
    return;
  }
  const auto n = parse_model_name(from, "from");
  if (!store::locate(n, store::model_store::pocketlm_default(), store::model_store::ollama_default())) {
    throw api_error(404, "model '" + from + "' not found", "from");
  }
  p.spec.from = from;
}

// Ollama's `parameters` (name -> value; "stop" may be an array), typed and checked by set_param.
void plan_parameters(const json& params, store::create_spec& spec) {
  if (params.is_null()) return;
  if (!params.is_object()) throw api_error(400, "'parameters' must be an object", "parameters");
  for (const auto& [key, value] : params.items()) {
    if (value.is_array() && key != "stop") throw api_error(400, "parameter " + key + " takes one value", "parameters");
    for (const auto& v : value.is_array() ? value : json::array({value})) {
      if (!v.is_string() && !v.is_number()) {
        throw api_error(400, "parameter " + key + ": " + v.dump() + " is not a string or a number", "parameters");
      }
      const std::string text = v.is_string() ? v.get<std::string>() : v.dump();
      if (auto st = store::set_param(spec.parameters, key, text); !st) {
        throw api_error(400, st.error_message(), "parameters");
      }
    }
  }
}

void plan_texts(const json& body, store::create_spec& spec) {
  for (const char* field : {"system", "template"}) {
    if (!body.contains(field) || body[field].is_null()) continue;
    if (!body[field].is_string()) throw api_error(400, std::string("'") + field + "' must be a string", field);
    (std::string_view(field) == "system" ? spec.system : spec.template_text) = body[field].get<std::string>();
  }
  if (body.contains("license") && !body["license"].is_null()) {
    const json& l = body["license"];
    for (const auto& v : l.is_array() ? l : json::array({l})) {
      if (!v.is_string()) throw api_error(400, "'license' must be a string or an array of strings", "license");
      spec.licenses.push_back(v.get<std::string>());
    }
  }
}

// The GGUF the new model's weights come from, before any quantization.
std::string source_gguf(const create_plan& p) {
  const auto mine = store::model_store::pocketlm_default();
  if (!p.spec.model_file.empty()) return p.spec.model_file;
  if (!p.spec.model_blob.empty()) return mine.blob_path(p.spec.model_blob);
  auto loc = store::locate(parse_model_name(p.spec.from, "from"), mine, store::model_store::ollama_default());
  if (!loc) throw to_api_error(loc.err(), "from");
  auto cfg = store::load_config(*loc->where, loc->entry);
  if (!cfg) throw to_api_error(cfg.err(), "from");
  return cfg->gguf_path;
}

// `quantize`: a type model/quantize.h writes, from a model of unquantized weights (as Ollama).
void plan_quantize(const json& q, create_plan& p) {
  if (q.is_null() || (q.is_string() && q.get<std::string>().empty())) return;
  file_type ft{};
  if (!q.is_string() || !parse_file_type(q.get<std::string>(), ft)) {
    throw api_error(400, "unsupported quantization type " + q.dump() + " (supported: " + file_type_names() + ")",
                    "quantize");
  }
  p.quantize = ft;
  p.quantize_source = source_gguf(p);
  auto f = gguf::file::open(p.quantize_source);
  if (!f) throw api_error(400, "cannot read the model to quantize: " + f.error_message(), "quantize");
  for (const auto& t : (*f)->tensors()) {
    if (!tensor_is_quantizable(t.name, t.ne)) continue;
    if (t.type != ggml_type::f32 && t.type != ggml_type::f16 && t.type != ggml_type::bf16) {
      throw api_error(400,
                      "quantization is only supported for F16, BF16 and F32 models (tensor " + t.name + " is " +
                          std::string(type_traits(t.type).name) + ")",
                      "quantize");
    }
    if (p.source_type.empty()) p.source_type = upper(type_traits(t.type).name);
  }
  if (p.source_type.empty()) throw api_error(400, "the model has no weights to quantize", "quantize");
}

create_plan plan_create(const json& body, server_context& ctx) {
  create_plan p;
  p.name = parse_model_name(name_field(body), "model");
  p.stream = bool_field(body, "stream", true);
  const auto given = [&](const char* k) {
    return body.contains(k) && !body[k].is_null() && !(body[k].is_structured() && body[k].empty());
  };
  if (given("adapters")) throw api_error(400, "adapters (LoRA) are not supported by pocketlm", "adapters");
  if (given("messages")) {
    throw api_error(400, "'messages' are not supported by pocketlm (as MESSAGE in a Modelfile)", "messages");
  }
  const std::string from = string_field(body, "from");
  if (!from.empty())
    plan_from(from, p, ctx);  // as Ollama: `from` wins over `files`
  else if (given("files"))
    plan_files(body["files"], p);
  else
    throw api_error(400, "neither 'from' or 'files' was specified");
  plan_parameters(body.value("parameters", json()), p.spec);
  plan_texts(body, p.spec);
  plan_quantize(body.value("quantize", json()), p);
  return p;
}

// Writes the quantized copy next to the blobs (a temp name the store's cleanup knows); returns it.
std::string quantize_model(const create_plan& p, server_context& ctx, const emit_fn& emit) {
  static std::atomic<int> counter{0};
  const auto s = store::model_store::pocketlm_default();
  if (auto st = store::make_dirs(s.root() + "/blobs"); !st) throw store_error(st.err());
  const std::string tmp =
      s.root() + "/blobs/.quantize-" + std::to_string(counter.fetch_add(1)) + ".tmp-" + std::to_string(::getpid());
  const std::string status = "quantizing " + p.source_type + " model to " + upper(file_type_name(*p.quantize));
  int last_pct = -1;
  auto q = quantize_file(p.quantize_source, tmp, *p.quantize, ctx.models.options().engine.n_threads,
                         [&](size_t done, size_t total, const std::string&) {
                           const int pct = total ? static_cast<int>(100 * done / total) : 100;
                           if (pct == last_pct) return;
                           last_pct = pct;
                           emit({{"status", status}, {"digest", "0"}, {"total", total}, {"completed", done}});
                         });
  if (!q) {
    ::unlink(tmp.c_str());
    throw store_error(q.err(), "quantize");
  }
  emit({{"status", "verifying conversion"}});
  return tmp;
}

struct unlink_on_exit {
  std::string path;
  ~unlink_on_exit() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

void run_create(server_context& ctx, create_plan p, const emit_fn& emit) {
  unlink_on_exit quantized;
  if (p.quantize) {
    quantized.path = quantize_model(p, ctx, emit);
    p.spec.model_file = quantized.path;
    p.spec.model_blob.clear();
  }
  auto mine = store::model_store::pocketlm_default();
  auto r = store::create_from_spec(mine, store::model_store::ollama_default(), p.spec, p.name, [&](std::string_view s) {
    emit({{"status", std::string(s)}});
  });
  if (!r) throw store_error(r.err());
  ctx.models.unload(p.name.display());  // a loaded model of that name keeps no stale system or params
  emit({{"status", "success"}});
}

// Streams `run` (which emits progress objects and throws api_error) as NDJSON, or answers with
// one object ({"status":"success"}) when the request asked for "stream": false.
void progress_response(httplib::Response& res, bool stream, std::function<void(const emit_fn&)> run) {
  if (!stream) {
    run([](const json&) {});
    send_json(res, {{"status", "success"}});
    return;
  }
  stream_response(
      res, "application/x-ndjson",
      [run = std::move(run)](const chunk_writer& write) { run([&](const json& j) { write(j.dump() + "\n"); }); },
      [](const std::string& m) {
        return json{{"error", m}}.dump() + "\n";
      });
}

void create(const httplib::Request& req, httplib::Response& res, server_context& ctx) {
  create_plan p = plan_create(parse_body(req.body), ctx);
  const bool stream = p.stream;
  progress_response(res, stream, [&ctx, p = std::move(p)](const emit_fn& emit) { run_create(ctx, p, emit); });
}

// ---- /api/push

void run_push(const store::model_name& n, const emit_fn& emit) {
  std::string last_hex;
  int last_pct = -1;
  store::push_events ev;
  ev.on_status = [&](std::string_view m) { emit({{"status", std::string(m)}}); };
  ev.on_progress = [&](const std::string& hex, int64_t done, int64_t total) {
    const int pct = total > 0 ? static_cast<int>(100 * done / total) : 100;
    if (hex == last_hex && pct == last_pct && done < total) return;
    last_hex = hex, last_pct = pct;
    emit({{"status", "pushing " + hex.substr(0, 12)},
          {"digest", "sha256:" + hex},
          {"total", total},
          {"completed", done}});
  };
  const auto st = store::push(store::model_store::pocketlm_default(), store::model_store::ollama_default(), n, ev);
  if (!st) throw to_api_error(st.err());
  emit({{"status", "success"}});
}

void push(const httplib::Request& req, httplib::Response& res, server_context&) {
  const json body = parse_body(req.body);
  const std::string name = name_field(body);
  const store::model_name n = parse_model_name(name, "model");
  (void)bool_field(body, "insecure", false);  // checked, unused: $POCKETLM_REGISTRY says which hosts speak http
  if (!store::locate(n, store::model_store::pocketlm_default(), store::model_store::ollama_default())) {
    throw api_error(404, "model '" + name + "' not found", "model");
  }
  if (auto base = store::registry_base(n); !base) throw api_error(400, base.error_message(), "model");
  progress_response(res, bool_field(body, "stream", true), [n](const emit_fn& emit) { run_push(n, emit); });
}

}  // namespace

void register_ollama_create_routes(httplib::Server& svr, server_context& ctx) {
  const char* blob = R"(/api/blobs/([^/]+))";
  svr.Get(blob, [](const httplib::Request& req, httplib::Response& res) {
    guarded(res, flavor::ollama, [&] { head_blob(req, res); });
  });
  svr.Post(blob, [](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
    guarded(res, flavor::ollama, [&] { post_blob(req, res, read); });
  });
  svr.Post("/api/create", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(res, flavor::ollama, [&] { create(req, res, ctx); });
  });
  svr.Post("/api/push", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(res, flavor::ollama, [&] { push(req, res, ctx); });
  });
}

}  // namespace pocketlm::server
