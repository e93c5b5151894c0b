#include "store/name.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace pocketlm::store {

namespace {

enum class part { host, ns, model, tag };

const char* part_name(part p) {
  switch (p) {
    case part::host: return "host";
    case part::ns: return "namespace";
    case part::model: return "model";
    case part::tag: return "tag";
  }
  return "part";
}

size_t max_len(part p) { return p == part::host ? 350 : 80; }

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// Ollama's isValidPart: first char a word char; then word chars, '-', '_', '.' (not in a
// namespace) and ':' (host only, for a port). Hosts up to 350 bytes, the rest up to 80.
bool valid_part(part p, std::string_view s) {
  if (s.empty() || s.size() > max_len(p) || !word_char(s[0])) return false;
  for (char c : s.substr(1)) {
    if (word_char(c) || c == '-') continue;
    if (c == '.' && p != part::ns) continue;
    if (c == ':' && p == part::host) continue;
    return false;
  }
  return true;
}

// At most 80 characters of a (possibly huge) user-supplied part, for error messages.
std::string shown(const std::string& s) { return s.size() <= 80 ? s : s.substr(0, 77) + "..."; }

status check(part p, const std::string& s) {
  if (valid_part(p, s)) return {};
  if (s.size() > max_len(p)) {
    return error{std::string("invalid model name: the ") + part_name(p) + " '" + shown(s) + "' is " +
                     std::to_string(s.size()) + " characters long (at most " + std::to_string(max_len(p)) + ")",
                 error_kind::invalid_input};
  }
  return error{std::string("invalid model name: bad ") + part_name(p) + " '" + shown(s) + "'",
               error_kind::invalid_input};
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string model_name::rel_path() const { return host + "/" + ns + "/" + model + "/" + tag; }

std::string model_name::display() const {
  std::string out;
  if (!iequal(host, "registry.ollama.ai")) {
    out = host + "/" + ns + "/";
  } else if (!iequal(ns, "library")) {
    out = ns + "/";
  }
  return out + model + ":" + tag;
}

bool model_name::operator==(const model_name& o) const {
  return iequal(host, o.host) && iequal(ns, o.ns) && iequal(model, o.model) && iequal(tag, o.tag);
}

result<model_name> parse_name(std::string_view s) {
  model_name n;
  const size_t colon = s.rfind(':');
  const size_t slash = s.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    n.tag = std::string(s.substr(colon + 1));
    s = s.substr(0, colon);
  }
  // Split from the right: model, then namespace, then [scheme://]host.
  size_t cut = s.rfind('/');
  n.model = std::string(s.substr(cut == std::string_view::npos ? 0 : cut + 1));
  if (cut != std::string_view::npos) {
    s = s.substr(0, cut);
    cut = s.rfind('/');
    n.ns = std::string(s.substr(cut == std::string_view::npos ? 0 : cut + 1));
    if (cut != std::string_view::npos) {
      std::string_view host = s.substr(0, cut);
      if (const size_t sep = host.find("://"); sep != std::string_view::npos) {
        n.scheme = std::string(host.substr(0, sep));
        host = host.substr(sep + 3);
      }
      n.host = std::string(host);
    }
  }
  if (n.scheme != "http" && n.scheme != "https") {
    return error{"invalid model name: scheme '" + shown(n.scheme) + "'", error_kind::invalid_input};
  }
  for (const auto& [p, v] :
       {std::pair{part::host, &n.host}, {part::ns, &n.ns}, {part::model, &n.model}, {part::tag, &n.tag}}) {
    if (auto st = check(p, *v); !st) return st.err();
  }
  return n;
}

result<model_name> name_from_rel_path(std::string_view rel) {
  model_name n;
  std::string* parts[] = {&n.host, &n.ns, &n.model, &n.tag};
  for (int i = 0; i < 4; ++i) {
    const size_t slash = rel.find('/');
    if ((slash == std::string_view::npos) != (i == 3)) return error{"not a manifest path: " + std::string(rel)};
    *parts[i] = std::string(rel.substr(0, slash));
    rel = slash == std::string_view::npos ? std::string_view{} : rel.substr(slash + 1);
  }
  for (const auto& [p, v] :
       {std::pair{part::host, &n.host}, {part::ns, &n.ns}, {part::model, &n.model}, {part::tag, &n.tag}}) {
    if (auto st = check(p, *v); !st) return error{st.error_message()};
  }
  return n;
}

bool is_gguf_path(std::string_view s) {
  const auto ends_with_gguf = s.size() >= 5 && iequal(s.substr(s.size() - 5), ".gguf");
  return ends_with_gguf || s.starts_with('/') || s.starts_with('.') || s.starts_with('~');
}

std::string expand_home(const std::string& path) {
  const char* home = std::getenv("HOME");
  if (!home || !*home || path.empty() || path[0] != '~' || (path.size() > 1 && path[1] != '/')) return path;
  return home + path.substr(1);
}

}  // namespace pocketlm::store
