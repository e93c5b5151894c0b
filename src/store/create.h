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

}  // namespace pocketlm::store
