#include "store/create.h"

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

// Base layers of a FROM: a path becomes a new model layer, a name lends all its layers.
result<std::vector<layer>> base_layers(model_store& s, const std::optional<model_store>& ollama,
                                       const std::string& from, nlohmann::ordered_json& params,
                                       std::vector<std::string>& added, const progress_fn& progress) {
  if (is_gguf_path(from)) {
    const std::string path = expand_home(from);
    if (auto f = gguf::file::open(path); !f) return error{from + ": " + f.error_message(), f.kind()};
    auto l = s.add_blob_file(path, media::model, progress);
    if (!l) return l.err();
    added.push_back(*digest_hex(l->digest));
    return std::vector<layer>{*l};
  }
  auto n = parse_name(from);
  if (!n) return n.err();
  auto loc = locate(*n, s, ollama);
  if (!loc) return loc.err();
  auto cfg = load_config(*loc->where, loc->entry);
  if (!cfg) return cfg.err();
  if (loc->where != &s) {
    if (auto st = s.adopt_blobs(*loc->where, loc->entry.m, progress); !st) return st.err();
    for (const auto& hex : loc->entry.m.digests()) added.push_back(hex);
  }
  params = cfg->params.json;
  return loc->entry.m.layers;
}

result<std::string> create_layers(model_store& s, const std::optional<model_store>& ollama, const modelfile& mf,
                                  const model_name& n, std::vector<std::string>& notes, std::vector<std::string>& added,
                                  const progress_fn& progress) {
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  auto layers = base_layers(s, ollama, mf.from, params, added, progress);
  if (!layers) return layers.err();
  // A key set in the Modelfile replaces the base model's value (all of a repeated "stop").
  std::vector<std::string> seen;
  for (const auto& [key, value] : mf.parameters) {
    if (std::find(seen.begin(), seen.end(), key) == seen.end()) params.erase(key), seen.push_back(key);
    if (auto st = set_param(params, key, value); !st) return error{st.error_message(), error_kind::invalid_input};
  }
  const auto add_text = [&](std::string_view bytes, std::string_view type) -> result<layer> {
    auto l = s.add_blob_bytes(bytes, type);
    if (l) added.push_back(*digest_hex(l->digest));
    return l;
  };
  if (!params.empty()) {
    auto l = add_text(params.dump(), media::params);
    if (!l) return l.err();
    replace_layer(*layers, *l);
  }
  if (mf.system) {
    auto l = add_text(*mf.system, media::system);
    if (!l) return l.err();
    replace_layer(*layers, *l);
  }
  for (const auto& text : mf.licenses) {
    auto l = add_text(text, media::license);
    if (!l) return l.err();
    if (std::none_of(layers->begin(), layers->end(), [&](const layer& x) { return x.digest == l->digest; })) {
      layers->push_back(*l);
    }
  }
  if (mf.has_template) notes.push_back("TEMPLATE ignored: pocketlm uses the chat template inside the GGUF");
  const layer* model = nullptr;
  for (const auto& l : *layers) model = l.media_type == media::model ? &l : model;
  return finish(s, n, s.blob_path(*digest_hex(model->digest)), *layers, added);
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
  std::vector<std::string> added;
  auto r = create_layers(s, ollama, mf, n, notes, added, progress);
  if (!r) s.collect_garbage(added);
  return r;
}

}  // namespace pocketlm::store
