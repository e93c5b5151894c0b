#include "store/manifest.h"

#include <cctype>
#include <nlohmann/json.hpp>

namespace pocketlm::store {

namespace {

result<layer> parse_layer(const nlohmann::json& j, const char* where) {
  if (!j.is_object()) return error{std::string("manifest: ") + where + " is not an object"};
  layer l;
  const auto mt = j.find("mediaType");
  const auto dg = j.find("digest");
  const auto sz = j.find("size");
  if (mt == j.end() || !mt->is_string()) return error{std::string("manifest: ") + where + " has no mediaType"};
  if (dg == j.end() || !dg->is_string()) return error{std::string("manifest: ") + where + " has no digest"};
  if (sz == j.end() || !sz->is_number_integer() || sz->get<int64_t>() < 0) {
    return error{std::string("manifest: ") + where + " has no valid size"};
  }
  l.media_type = mt->get<std::string>();
  l.digest = dg->get<std::string>();
  l.size = sz->get<int64_t>();
  if (auto h = digest_hex(l.digest); !h) return error{std::string("manifest: ") + where + ": " + h.error_message()};
  if (const auto from = j.find("from"); from != j.end() && from->is_string()) l.from = from->get<std::string>();
  return l;
}

nlohmann::ordered_json layer_json(const layer& l) {
  nlohmann::ordered_json j;
  j["mediaType"] = l.media_type;
  j["digest"] = l.digest;
  j["size"] = l.size;
  if (!l.from.empty()) j["from"] = l.from;
  return j;
}

}  // namespace

const layer* manifest::find(std::string_view type) const {
  for (const auto& l : layers) {
    if (l.media_type == type) return &l;
  }
  return nullptr;
}

int64_t manifest::total_size() const {
  int64_t n = config.size;
  for (const auto& l : layers) n += l.size;
  return n;
}

std::vector<std::string> manifest::digests() const {
  std::vector<std::string> out;
  if (!config.digest.empty()) out.push_back(*digest_hex(config.digest));
  for (const auto& l : layers) out.push_back(*digest_hex(l.digest));
  return out;
}

result<std::string> digest_hex(std::string_view d) {
  if (d.size() != 71 || !d.starts_with("sha256") || (d[6] != ':' && d[6] != '-')) {
    return error{"invalid digest '" + std::string(d.substr(0, 80)) + "' (want sha256:<64 hex digits>)"};
  }
  std::string hex(d.substr(7));
  for (char& c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return error{"invalid digest '" + std::string(d) + "'"};
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return hex;
}

result<manifest> parse_manifest(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error{"manifest is not a JSON object"};
  manifest m;
  if (const auto sv = j.find("schemaVersion"); sv != j.end()) {
    if (!sv->is_number_integer() || sv->get<int>() != 2) return error{"manifest: unsupported schemaVersion"};
  }
  if (const auto mt = j.find("mediaType"); mt != j.end() && mt->is_string()) m.media_type = mt->get<std::string>();
  // Registries and old Ollama versions may omit the config; only the layers are essential.
  if (const auto c = j.find("config"); c != j.end() && !(c->is_object() && c->value("digest", "").empty())) {
    auto cfg = parse_layer(*c, "config");
    if (!cfg) return cfg.err();
    m.config = std::move(*cfg);
  }
  const auto ls = j.find("layers");
  if (ls == j.end() || !ls->is_array()) return error{"manifest: no layers array"};
  int n_models = 0;
  for (size_t i = 0; i < ls->size(); ++i) {
    const std::string where = "layer " + std::to_string(i);
    auto l = parse_layer((*ls)[i], where.c_str());
    if (!l) return l.err();
    n_models += l->media_type == media::model;
    m.layers.push_back(std::move(*l));
  }
  if (n_models != 1) return error{"manifest: want exactly one model layer, found " + std::to_string(n_models)};
  return m;
}

std::string serialize_manifest(const manifest& m) {
  nlohmann::ordered_json j;
  j["schemaVersion"] = m.schema_version;
  j["mediaType"] = m.media_type;
  j["config"] = layer_json(m.config);
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& l : m.layers) j["layers"].push_back(layer_json(l));
  return j.dump() + "\n";
}

}  // namespace pocketlm::store
