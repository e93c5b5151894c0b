// What distinguishes the supported architectures. All three share one transformer block
// (RMSNorm, GQA attention with RoPE, SwiGLU FFN); these flags switch its optional parts.
#pragma once

#include <string_view>

#include "kernels/kernels.h"
#include "model/hparams.h"

namespace pocketlm {

struct arch_desc {
  std::string_view name;  // general.architecture
  arch_kind kind;
  kernels::rope_mode rope_mode;  // llama: normal (GPT-J style pairs); qwen: NeoX halves
  bool has_qkv_bias;             // qwen2: attn_{q,k,v}.bias
  bool has_qk_norm;              // qwen3: per-head RMSNorm of q and k before RoPE
};

// nullptr when the architecture is not supported.
const arch_desc* find_arch(std::string_view name);
const arch_desc& arch_of(arch_kind kind);

}  // namespace pocketlm
