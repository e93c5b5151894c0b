#include "store/model_config.h"

#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "gguf/gguf.h"

namespace pocketlm::store {

namespace {

constexpr size_t k_max_text_layer = 16 << 20;

enum class kind { real, integer, strings };

std::optional<kind> param_kind(std::string_view key) {
  if (key == "temperature" || key == "top_p" || key == "min_p" || key == "repeat_penalty") return kind::real;
  if (key == "top_k" || key == "repeat_last_n" || key == "seed" || key == "num_predict" || key == "num_ctx") {
    return kind::integer;
  }
  if (key == "stop") return kind::strings;
  return std::nullopt;
}

status read_value(model_params& p, const std::string& key, const nlohmann::ordered_json& v) {
  const auto k = param_kind(key);
  if (!k) return {};
  const auto bad = [&] { return error{"params: '" + key + "' has the wrong type (" + v.dump() + ")"}; };
  if (*k == kind::strings) {
    if (v.is_string()) return p.stop.push_back(v.get<std::string>()), status{};
    if (!v.is_array()) return bad();
    for (const auto& s : v) {
      if (!s.is_string()) return bad();
      p.stop.push_back(s.get<std::string>());
    }
    return {};
  }
  if (!v.is_number()) return bad();
  if (*k == kind::integer && v.is_number_float() && v.get<double>() != std::floor(v.get<double>())) return bad();
  const double d = v.get<double>();
  if (key == "temperature") p.temperature = d;
  if (key == "top_p") p.top_p = d;
  if (key == "min_p") p.min_p = d;
  if (key == "repeat_penalty") p.repeat_penalty = d;
  const auto i = static_cast<int64_t>(d);
  if (key == "top_k") p.top_k = i;
  if (key == "repeat_last_n") p.repeat_last_n = i;
  if (key == "seed") p.seed = i;
  if (key == "num_predict") p.num_predict = i;
  if (key == "num_ctx") p.num_ctx = i;
  return {};
}

result<std::string> read_text_layer(const model_store& s, const layer& l) {
  return read_file(s.blob_path(*digest_hex(l.digest)), k_max_text_layer);
}

}  // namespace

result<model_params> parse_params(std::string_view text) {
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error{"params layer is not a JSON object"};
  model_params p;
  for (const auto& [key, v] : j.items()) {
    if (auto st = read_value(p, key, v); !st) return error{st.error_message()};
  }
  p.json = std::move(j);
  return p;
}

status set_param(nlohmann::ordered_json& j, const std::string& key, const std::string& value) {
  const auto k = param_kind(key);
  if (!k) return error{"unknown parameter '" + key + "'"};
  if (*k == kind::strings) {
    if (!j.contains(key)) j[key] = nlohmann::ordered_json::array();
    j[key].push_back(value);
    return {};
  }
  char* end = nullptr;
  const double d = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !std::isfinite(d))
    return error{"parameter " + key + ": '" + value + "' is not a number"};
  if (*k == kind::integer) {
    if (d != std::floor(d)) return error{"parameter " + key + ": '" + value + "' is not an integer"};
    j[key] = static_cast<int64_t>(d);
  } else {
    j[key] = d;
  }
  return {};
}

result<resolved_model> load_config(const model_store& where, const store_entry& e) {
  resolved_model r;
  r.display_name = e.name.display();
  r.store_root = where.root();
  r.gguf_path = where.blob_path(*digest_hex(e.m.find(media::model)->digest));
  for (const auto& l : e.m.layers) {
    if (l.media_type == media::template_ || l.media_type == media::prompt) r.has_go_template = true;
    const bool text = l.media_type == media::params || l.media_type == media::system || l.media_type == media::license;
    if (!text) continue;
    auto bytes = read_text_layer(where, l);
    if (!bytes) return bytes.err();
    if (l.media_type == media::system) r.system = std::move(*bytes);
    if (l.media_type == media::license) r.licenses.push_back(std::move(*bytes));
    if (l.media_type == media::params) {
      auto p = parse_params(*bytes);
      if (!p) return error{e.name.display() + ": " + p.error_message()};
      r.params = std::move(*p);
    }
  }
  r.entry = e;
  return r;
}

namespace {

error not_found(const std::string& name) { return error{"model '" + name + "' not found", error_kind::not_found}; }

// The canonical path when it lies inside one of `dirs` (both with symlinks resolved).
std::optional<std::string> inside_model_dirs(const std::string& path, const std::vector<std::string>& dirs) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return std::nullopt;
  const std::string real = buf;
  for (const auto& d : dirs) {
    if (!::realpath(d.c_str(), buf)) continue;
    std::string root = buf;
    if (root.back() != '/') root += '/';
    if (real.starts_with(root)) return real;
  }
  return std::nullopt;
}

result<resolved_model> resolve_path(const std::string& given, const resolve_policy& policy) {
  std::string path = expand_home(given);
  if (!policy.allow_paths) {
    auto inside = inside_model_dirs(path, policy.model_dirs);
    if (!inside) return not_found(given);  // the same answer whether or not the file exists
    path = *inside;
  }
  auto fd = gguf::open_regular_file(path);
  if (!fd) return policy.allow_paths ? fd.err() : not_found(given);
  ::close(*fd);
  resolved_model r;
  r.gguf_path = path;
  r.display_name = given;
  return r;
}

}  // namespace

result<resolved_model> resolve_model(const std::string& name_or_path, const resolve_policy& policy) {
  if (is_gguf_path(name_or_path)) return resolve_path(name_or_path, policy);
  auto n = parse_name(name_or_path);
  if (!n) return n.err();
  const model_store mine = model_store::pocketlm_default();
  const auto ollama = model_store::ollama_default();
  auto loc = locate(*n, mine, ollama);
  if (!loc) return loc.err();
  auto r = load_config(*loc->where, loc->entry);
  if (!r) return r;
  // A store whose weights blob went missing (or was replaced by something that is not a file).
  auto fd = gguf::open_regular_file(r->gguf_path);
  if (!fd) {
    return error{"model '" + n->display() + "' is damaged: its weights blob is " +
                     (fd.kind() == error_kind::not_found ? "missing" : "not a regular file") +
                     " (pull or import it again)",
                 error_kind::not_found};
  }
  ::close(*fd);
  return r;
}

}  // namespace pocketlm::store
