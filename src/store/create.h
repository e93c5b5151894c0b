// Writing models into the store: `import` (a GGUF file under a name) and `create` (a Modelfile
// over a GGUF path or an existing model, or the same as typed fields: POST /api/create). All
// write the blobs first and the manifest last.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "store/modelfile.h"
#include "store/store.h"

namespace pocketlm::store {

// Validates the GGUF, adds a copy (or reflink) of it as the model layer with an Ollama-style
// config blob, and writes n's manifest; the stored copy is validated again, so a file changed
// meanwhile is never stored as a model. A manifest n had before is replaced and its blobs no
// other model uses are removed. On failure, blobs added for it are removed again. Returns the
// manifest bytes.
result<std::string> import_gguf(model_store& s, const std::string& path, const model_name& n,
                                const progress_fn& progress = {});

// Builds n from a Modelfile. `notes` collects what was ignored (TEMPLATE). Same guarantees as
// import_gguf.
result<std::string> create_model(model_store& s, const std::optional<model_store>& ollama, const modelfile& mf,
                                 const model_name& n, std::vector<std::string>& notes,
                                 const progress_fn& progress = {});

// A model to build from typed fields, as Ollama's POST /api/create gives them (a Modelfile is
// turned into one too). The base is `from`'s layers (a model name, here or in Ollama's store)
// or nothing; the model layer is then `model_file` (a GGUF file, copied in) or `model_blob` (a
// GGUF blob already in the store: an upload) when either is set. At least one of the three.
struct create_spec {
  std::string from;
  std::string model_file;
  std::string model_blob;  // hex
  // Parameter name -> JSON value (arrays for "stop"), each replacing the base's value; as
  // set_param (store/model_config.h) writes them.
  nlohmann::ordered_json parameters = nlohmann::ordered_json::object();
  std::optional<std::string> system;
  // Kept as Ollama's template layer (so a pushed model keeps it); pocketlm itself renders the
  // GGUF's own chat template.
  std::optional<std::string> template_text;
  std::vector<std::string> licenses;
};

// What create_from_spec is doing, in Ollama's words: "reading model metadata", "parsing GGUF",
// "using existing layer sha256:...", "creating new layer sha256:...", "writing manifest".
using create_status_fn = std::function<void(std::string_view status)>;

// Builds n from `spec`, with create_model's guarantees. Error kinds: not_found (no such `from`
// model or blob), invalid_input (not a GGUF, a bad name), io, exhausted (disk full).
result<std::string> create_from_spec(model_store& s, const std::optional<model_store>& ollama, const create_spec& spec,
                                     const model_name& n, const create_status_fn& on_status = {},
                                     const progress_fn& progress = {});

}  // namespace pocketlm::store
