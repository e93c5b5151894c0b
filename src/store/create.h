// Writing models into the store: `import` (a GGUF file under a name) and `create` (a Modelfile
// over a GGUF path or an existing model). Both write the blobs first and the manifest last.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/modelfile.h"
#include "store/store.h"

namespace pocketlm::store {

// Validates the GGUF, adds it as the model layer (hard link unless `copy`) with an Ollama-style
// config blob, and writes n's manifest. Returns the manifest bytes.
result<std::string> import_gguf(model_store& s, const std::string& path, const model_name& n, bool copy);

// Builds n from a Modelfile. `notes` collects what was ignored (TEMPLATE).
result<std::string> create_model(model_store& s, const std::optional<model_store>& ollama, const modelfile& mf,
                                 const model_name& n, std::vector<std::string>& notes);

}  // namespace pocketlm::store
