#include "model/arch.h"

#include <array>
#include <string>

namespace pocketlm {

namespace {
constexpr std::array<arch_desc, 11> k_archs = {{
    {.name = "llama", .kind = arch_kind::llama, .rope_mode = kernels::rope_mode::normal},
    {.name = "qwen2", .kind = arch_kind::qwen2, .rope_mode = kernels::rope_mode::neox, .has_qkv_bias = true},
    {.name = "qwen3", .kind = arch_kind::qwen3, .rope_mode = kernels::rope_mode::neox, .has_qk_norm = true},
    {.name = "gemma2",
     .kind = arch_kind::gemma2,
     .rope_mode = kernels::rope_mode::neox,
     .has_post_norms = true,
     .ffn_act = ffn_activation::gelu},
    {.name = "gemma3",
     .kind = arch_kind::gemma3,
     .rope_mode = kernels::rope_mode::neox,
     .has_qk_norm = true,
     .has_post_norms = true,
     .ffn_act = ffn_activation::gelu},
    {.name = "granite", .kind = arch_kind::granite, .rope_mode = kernels::rope_mode::normal},
    {.name = "smollm3", .kind = arch_kind::smollm3, .rope_mode = kernels::rope_mode::normal},
    {.name = "phi3", .kind = arch_kind::phi3, .rope_mode = kernels::rope_mode::neox, .fused_ffn = true},
    {.name = "lfm2",
     .kind = arch_kind::lfm2,
     .rope_mode = kernels::rope_mode::neox,
     .has_qk_norm = true,
     .output_norm = "token_embd_norm.weight"},
    {.name = "bert",
     .kind = arch_kind::bert,
     .rope_mode = kernels::rope_mode::neox,
     .ffn_act = ffn_activation::gelu,
     .encoder = true},
    {.name = "nomic-bert", .kind = arch_kind::nomic_bert, .rope_mode = kernels::rope_mode::neox, .encoder = true},
}};
}  // namespace

const arch_desc* find_arch(std::string_view name) {
  for (const auto& a : k_archs) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string supported_arch_names() {
  std::string names;
  for (const auto& a : k_archs) names += (names.empty() ? "" : ", ") + std::string(a.name);
  return names;
}

const arch_desc& arch_of(arch_kind kind) {
  for (const auto& a : k_archs) {
    if (a.kind == kind) return a;
  }
  return k_archs[0];
}

}  // namespace pocketlm
