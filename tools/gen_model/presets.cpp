#include <array>

#include "gen_model.h"

namespace pocketlm::gen {
namespace {

// Special token ids are those in the real models' GGUFs. The Qwen presets all use the Qwen3
// tokenizer (151669 tokens) padded to the real models' 151936 embedding rows.
constexpr std::array<preset, 5> k_presets = {{
    {.name = "qwen2.5-0.5b",
     .arch = "qwen2",
     .model_name = "Qwen2.5 0.5B Synthetic",
     .n_embd = 896,
     .n_layer = 24,
     .n_head = 14,
     .n_head_kv = 2,
     .head_dim = 64,
     .n_ff = 4864,
     .n_vocab = 151936,
     .tied = true,
     .qkv_bias = true,
     .rope_base = 1e6f,
     .n_ctx = 32768,
     .rms_eps = 1e-6f,
     .vocab = vocab_kind::qwen,
     .pre = "qwen2",
     .bos = 151643,
     .eos = 151645,
     .pad = 151643,
     .add_bos = false},
    {.name = "r1-qwen-1.5b",
     .arch = "qwen2",
     .model_name = "DeepSeek R1 Distill Qwen 1.5B Synthetic",
     .n_embd = 1536,
     .n_layer = 28,
     .n_head = 12,
     .n_head_kv = 2,
     .head_dim = 128,
     .n_ff = 8960,
     .n_vocab = 151936,
     .tied = false,
     .qkv_bias = true,
     .rope_base = 1e4f,
     .n_ctx = 131072,
     .rms_eps = 1e-6f,
     .vocab = vocab_kind::qwen,
     .pre = "deepseek-r1-qwen",
     .bos = 151646,
     .eos = 151643,
     .pad = 151643,
     .add_bos = true},
    {.name = "qwen2-tiny",
     .arch = "qwen2",
     .model_name = "Qwen2 Tiny Synthetic",
     .n_embd = 256,
     .n_layer = 2,
     .n_head = 4,
     .n_head_kv = 2,
     .head_dim = 64,
     .n_ff = 768,
     .n_vocab = 151936,
     .tied = false,
     .qkv_bias = true,
     .rope_base = 1e6f,
     .n_ctx = 32768,
     .rms_eps = 1e-6f,
     .vocab = vocab_kind::qwen,
     .pre = "qwen2",
     .bos = 151643,
     .eos = 151645,
     .pad = 151643,
     .add_bos = false},
    {.name = "qwen3-tiny",
     .arch = "qwen3",
     .model_name = "Qwen3 Tiny Synthetic",
     .n_embd = 256,
     .n_layer = 2,
     .n_head = 4,
     .n_head_kv = 2,
     .head_dim = 64,
     .n_ff = 768,
     .n_vocab = 151936,
     .tied = true,
     .qk_norm = true,
     .rope_base = 1e6f,
     .n_ctx = 40960,
     .rms_eps = 1e-6f,
     .vocab = vocab_kind::qwen,
     .pre = "qwen2",
     .bos = 151643,
     .eos = 151645,
     .pad = 151643,
     .add_bos = false},
    {.name = "llama3-tiny",
     .arch = "llama",
     .model_name = "Llama 3 Tiny Synthetic",
     .n_embd = 256,
     .n_layer = 2,
     .n_head = 4,
     .n_head_kv = 2,
     .head_dim = 64,
     .n_ff = 768,
     .n_vocab = 128256,
     .tied = false,
     .rope_base = 500000.0f,
     .n_ctx = 8192,
     .rms_eps = 1e-5f,
     .vocab = vocab_kind::llama3,
     .pre = "llama-bpe",
     .bos = 128000,
     .eos = 128001,
     .add_bos = true},
}};

}  // namespace

const preset* find_preset(std::string_view name) {
  for (const auto& p : k_presets) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string preset_names() {
  std::string names;
  for (const auto& p : k_presets) {
    if (!names.empty()) names += ", ";
    names += p.name;
  }
  return names;
}

}  // namespace pocketlm::gen
