// Model names as Ollama resolves them: [scheme://][host/][namespace/]model[:tag], defaulting to
// https://registry.ollama.ai/library/<model>:latest (types/model/name.go semantics).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace pocketlm::store {

struct model_name {
  std::string scheme = "https";
  std::string host = "registry.ollama.ai";
  std::string ns = "library";
  std::string model;
  std::string tag = "latest";

  // host/namespace/model/tag: where the manifest lives under manifests/.
  std::string rel_path() const;
  // Ollama's DisplayShortest: "model:tag", "ns/model:tag" or "host/ns/model:tag".
  std::string display() const;
  bool operator==(const model_name& o) const;  // case-insensitive, like Ollama's EqualFold
};

// Parses and validates a name (parts: letters, digits, '_', '-', '.' (not in namespaces);
// ':' only in the host for a port; lengths as Ollama's: host <= 350, the rest <= 80). Error
// (kind invalid_input) names the bad part.
result<model_name> parse_name(std::string_view s);

// manifests/<host>/<ns>/<model>/<tag> relative path back to a name; error when not 4 valid parts.
result<model_name> name_from_rel_path(std::string_view rel);

// True when `s` should be read as a GGUF path rather than a model name: it ends in ".gguf" or
// starts with '/', '.' or '~' (none of which a model name can). Anything else is a store name,
// even when a file of that name exists: `stories` never means ./stories, while
// `hf.co/user/repo:tag` (which has slashes) stays a name.
bool is_gguf_path(std::string_view s);
// "~" and "~/x" as $HOME and $HOME/x (a path the shell did not expand: quoted, or from a
// Modelfile or a program); anything else unchanged.
std::string expand_home(const std::string& path);

}  // namespace pocketlm::store
