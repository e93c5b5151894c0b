#include "store/create.h"

#include <sys/stat.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "store/model_config.h"

namespace pocketlm::store {

namespace {

// Ollama's ConfigV2 JSON for a GGUF model layer; rootfs lists every layer digest.
result<layer> write_config(model_store& s, const std::string& gguf_path, const std::vector<layer>& layers) {
  auto f = gguf::file::open(gguf_path);
  if (!f) return error{gguf_path + ": " + f.error_message(), f.kind()};
  const std::string arch = (*f)->get_string("general.architecture").value_or("unknown");
  nlohmann::ordered_json cfg;
  cfg["model_format"] = "gguf";
  cfg["model_family"] = arch;
  cfg["model_families"] = nlohmann::ordered_json::array({arch});
  cfg["architecture"] = "amd64";
  cfg["os"] = "linux";
  cfg["rootfs"]["type"] = "layers";
  cfg["rootfs"]["diff_ids"] = nlohmann::ordered_json::array();
  for (const auto& l : layers) cfg["rootfs"]["diff_ids"].push_back(l.digest);
  return s.add_blob_bytes(cfg.dump(), media::config);
}

// Writes the config blob and the manifest; `gguf_path` is the stored model blob.
result<std::string> finish(model_store& s, const model_name& n, const std::string& gguf_path, std::vector<layer> layers,
                           std::vector<std::string>& added) {
  auto cfg = write_config(s, gguf_path, layers);
  if (!cfg) return cfg.err();
  added.push_back(*digest_hex(cfg->digest));
  manifest m;
  m.config = std::move(*cfg);
  m.layers = std::move(layers);
  std::string bytes = serialize_manifest(m);
  if (auto st = s.write_manifest(n, bytes); !st) return st.err();
  return bytes;
}

void replace_layer(std::vector<layer>& layers, const layer& l) {
  std::erase_if(layers, [&](const layer& x) { return x.media_type == l.media_type; });
  layers.push_back(l);
}

// One create: the store, who hears its statuses, and the blobs it added (removed again when it
// fails, unless a manifest uses them by then).
struct builder {
  model_store& s;
  const create_status_fn& on_status;
  std::vector<std::string>& added;

  void say(const std::string& m) const {
    if (on_status) on_status(m);
  }

  result<layer> add_text(std::string_view bytes, std::string_view type) {
    const std::string hex = sha256_hex(bytes);
    const bool had = s.has_blob(hex);
    auto l = s.add_blob_bytes(bytes, type);
    if (!l) return l;
    if (!had) added.push_back(hex);
    say((had ? "using existing layer " : "creating new layer ") + l->digest);
    return l;
  }
};

// The layers and parameters of the model named `from`, its blobs made present here.
result<std::vector<layer>> base_layers(builder& b, const std::optional<model_store>& ollama, const std::string& from,
                                       nlohmann::ordered_json& params, const progress_fn& progress) {
  auto n = parse_name(from);
  if (!n) return n.err();
  auto loc = locate(*n, b.s, ollama);
  if (!loc) return loc.err();
  b.say("reading model metadata");
  auto cfg = load_config(*loc->where, loc->entry);
  if (!cfg) return cfg.err();
  if (loc->where != &b.s) {
    for (const auto& hex : loc->entry.m.digests()) {
      if (!b.s.has_blob(hex)) b.added.push_back(hex);
    }
    if (auto st = b.s.adopt_blobs(*loc->where, loc->entry.m, progress); !st) return st.err();
  }
  params = cfg->params.json;
  for (const auto& l : loc->entry.m.layers) b.say("using existing layer " + l.digest);
  return loc->entry.m.layers;
}

// A GGUF file copied in as the model layer.
result<layer> model_layer_of_file(builder& b, const std::string& path, const progress_fn& progress) {
  b.say("parsing GGUF");
  if (auto f = gguf::file::open(path); !f) return error{path + ": " + f.error_message(), f.kind()};
  auto l = b.s.add_blob_file(path, media::model, progress);
  if (!l) return l.err();
  b.added.push_back(*digest_hex(l->digest));
  b.say("creating new layer " + l->digest);
  return l;
}

// A blob already in the store (an upload) as the model layer: verified, and a GGUF.
result<layer> model_layer_of_blob(builder& b, const std::string& hex, const progress_fn& progress) {
  b.say("parsing GGUF");
  const std::string path = b.s.blob_path(hex);
  struct stat st {};
  if (!b.s.has_blob(hex) || ::stat(path.c_str(), &st) != 0) {
    return error{"blob sha256:" + hex + " not found (upload it first: POST /api/blobs/sha256:" + hex + ")",
                 error_kind::not_found};
  }
  const auto size = static_cast<int64_t>(st.st_size);
  if (auto v = b.s.verify_blob(hex, size, progress); !v) return v.err();
  if (auto f = gguf::file::open(path); !f) {
    return error{"blob sha256:" + hex + " is not a GGUF file (" + f.error_message() + ")", error_kind::invalid_input};
  }
  b.say("using existing layer sha256:" + hex);
  return layer{std::string(media::model), "sha256:" + hex, size, ""};
}

// The model layer takes the base's place (or comes first when the base has none).
void put_model_layer(std::vector<layer>& layers, const layer& l) {
  for (auto& x : layers) {
    if (x.media_type == media::model) {
      x = l;
      return;
    }
  }
  layers.insert(layers.begin(), l);
}

result<std::string> create_layers(builder& b, const std::optional<model_store>& ollama, const create_spec& spec,
                                  const model_name& n, const progress_fn& progress) {
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  std::vector<layer> layers;
  if (!spec.from.empty()) {
    auto base = base_layers(b, ollama, spec.from, params, progress);
    if (!base) return base.err();
    layers = std::move(*base);
  }
  if (!spec.model_file.empty() || !spec.model_blob.empty()) {
    auto m = spec.model_file.empty() ? model_layer_of_blob(b, spec.model_blob, progress)
                                     : model_layer_of_file(b, spec.model_file, progress);
    if (!m) return m.err();
    put_model_layer(layers, *m);
  }
  const auto model =
      std::find_if(layers.begin(), layers.end(), [](const layer& l) { return l.media_type == media::model; });
  if (model == layers.end())
    return error{"no model to create from (give a model or a GGUF file)", error_kind::invalid_input};
  const std::string gguf_path = b.s.blob_path(*digest_hex(model->digest));
  // A key given replaces the base model's value (all of a repeated "stop").
  if (!spec.parameters.empty()) {
    for (const auto& [key, value] : spec.parameters.items()) params[key] = value;
    auto l = b.add_text(params.dump(), media::params);
    if (!l) return l.err();
    replace_layer(layers, *l);
  }
  if (spec.template_text) {
    std::erase_if(layers, [](const layer& x) { return x.media_type == media::prompt; });
    auto l = b.add_text(*spec.template_text, media::template_);
    if (!l) return l.err();
    replace_layer(layers, *l);
  }
  if (spec.system) {
    auto l = b.add_text(*spec.system, media::system);
    if (!l) return l.err();
    replace_layer(layers, *l);
  }
  for (const auto& text : spec.licenses) {
    auto l = b.add_text(text, media::license);
    if (!l) return l.err();
    if (std::none_of(layers.begin(), layers.end(), [&](const layer& x) { return x.digest == l->digest; })) {
      layers.push_back(*l);
    }
  }
  b.say("writing manifest");
  return finish(b.s, n, gguf_path, std::move(layers), b.added);
}

result<create_spec> spec_of_modelfile(const modelfile& mf) {
  create_spec spec;
  if (is_gguf_path(mf.from))
    spec.model_file = expand_home(mf.from);
  else
    spec.from = mf.from;
  for (const auto& [key, value] : mf.parameters) {  // a repeated "stop" accumulates
    if (auto st = set_param(spec.parameters, key, value); !st)
      return error{st.error_message(), error_kind::invalid_input};
  }
  spec.system = mf.system;
  spec.licenses = mf.licenses;
  return spec;
}

}  // namespace

result<std::string> import_gguf(model_store& s, const std::string& path, const model_name& n,
                                const progress_fn& progress) {
  // Checked before copying (a junk file costs no copy), and the stored copy again in finish.
  if (auto f = gguf::file::open(path); !f) return error{path + ": " + f.error_message(), f.kind()};
  std::vector<std::string> added;
  auto l = s.add_blob_file(path, media::model, progress);
  if (!l) return l.err();
  added.push_back(*digest_hex(l->digest));
  auto r = finish(s, n, s.blob_path(*digest_hex(l->digest)), {*l}, added);
  if (!r) s.collect_garbage(added);
  return r;
}

result<std::string> create_model(model_store& s, const std::optional<model_store>& ollama, const modelfile& mf,
                                 const model_name& n, std::vector<std::string>& notes, const progress_fn& progress) {
  auto spec = spec_of_modelfile(mf);
  if (!spec) return spec.err();
  if (mf.has_template) notes.push_back("TEMPLATE ignored: pocketlm uses the chat template inside the GGUF");
  return create_from_spec(s, ollama, *spec, n, {}, progress);
}

result<std::string> create_from_spec(model_store& s, const std::optional<model_store>& ollama, const create_spec& spec,
                                     const model_name& n, const create_status_fn& on_status,
                                     const progress_fn& progress) {
  std::vector<std::string> added;
  builder b{s, on_status, added};
  auto r = create_layers(b, ollama, spec, n, progress);
  if (!r) s.collect_garbage(added);
  return r;
}

}  // namespace pocketlm::store
