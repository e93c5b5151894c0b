// What a stored model says besides its weights: Ollama's params layer (JSON of sampling
// defaults), system prompt, licenses, and whether it carries a Go template (which pocketlm does
// not run: the GGUF's own chat template is used instead).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "store/store.h"

namespace pocketlm::store {

struct model_params {
  std::optional<double> temperature, top_p, min_p, repeat_penalty;
  std::optional<int64_t> top_k, repeat_last_n, seed, num_predict, num_ctx;
  std::vector<std::string> stop;
  nlohmann::ordered_json json = nlohmann::ordered_json::object();  // as stored, for `show`
};

// Parses a params blob; keys other than the ones above are kept in `json` but otherwise ignored
// (Ollama has many runner options pocketlm has no use for). Wrong value types are errors.
result<model_params> parse_params(std::string_view json);

// Sets one PARAMETER from a Modelfile (string value) into `j` with its proper JSON type; "stop"
// accumulates into an array. Unknown keys and unparsable values are errors.
status set_param(nlohmann::ordered_json& j, const std::string& key, const std::string& value);

struct resolved_model {
  std::string gguf_path;             // what to mmap (a blob in place, or the path given)
  std::string display_name;          // "deepseek-r1:1.5b", or the path
  std::optional<store_entry> entry;  // set for store models
  std::string store_root;
  model_params params;
  std::string system;
  std::vector<std::string> licenses;
  bool has_go_template = false;
};

// Who may open what. The CLI (the user at their own terminal) opens any path; the server's
// remote clients get store names only, plus paths inside `model_dirs` (--models-dir).
struct resolve_policy {
  bool allow_paths = true;
  // Directories whose files (after resolving symlinks, so a link out of them does not count)
  // may be opened by path even when allow_paths is false.
  std::vector<std::string> model_dirs;

  static resolve_policy cli() { return {}; }
  static resolve_policy remote(std::vector<std::string> dirs = {}) { return {false, std::move(dirs)}; }
};

// A path (is_gguf_path: ends in .gguf, or starts with '/', '.' or '~') as is, checked to be a
// regular file; else a name looked up in the pocketlm store, then Ollama's. Never a file in
// the working directory for a bare name. Under a policy without paths, a path outside
// model_dirs is "model 'x' not found" whether or not it exists (kind not_found). Error kinds:
// not_found (no such model, file or blob), invalid_input (bad name, not a regular file,
// symlink loop), io.
result<resolved_model> resolve_model(const std::string& name_or_path, const resolve_policy& policy = {});
// Reads the config layers of a located model (no bytes of the weights are read).
result<resolved_model> load_config(const model_store& where, const store_entry& e);

}  // namespace pocketlm::store
