// stories260K turned into a causal embedding model (as Qwen3-Embedding is a qwen3 with a pooling
// type): the same file with <arch>.pooling_type = `pooling` (1 mean, 2 cls, 3 last), written to
// the temp folder. Chat models get no embeddings, so the tests that embed use this.
#pragma once

#include <filesystem>
#include <string>
#include <vector>
#include <unistd.h>

#include "gguf/gguf.h"

namespace pocketlm::testing_models {

inline std::string pooled_stories(int pooling) {
  const std::string src_path = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("pocketlm_pooled_stories_" + std::to_string(pooling) + "_" + std::to_string(getpid()) + ".gguf"))
          .string();
  auto src = gguf::file::open(src_path);
  if (!src) return {};
  gguf::writer w;
  for (const auto& kv : (*src)->metadata()) w.set_value(kv.key, kv.val);
  w.set_u32("llama.pooling_type", static_cast<uint32_t>(pooling));
  for (const auto& t : (*src)->tensors()) {
    const uint8_t* d = (*src)->tensor_data(t);
    w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims),
                 std::vector<uint8_t>(d, d + t.n_bytes));
  }
  return w.write_file(path).ok() ? path : std::string();
}

}  // namespace pocketlm::testing_models
