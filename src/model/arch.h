// What distinguishes the supported architectures. All share one transformer block (RMSNorm,
// GQA attention with RoPE, a gated FFN); these flags switch its optional parts. lfm2 replaces
// attention by a short gated convolution on the layers hparams::is_conv names. Scales and
// windows that come from metadata are read into hparams (model/hparams.cpp).
#pragma once

#include <string>
#include <string_view>

#include "kernels/kernels.h"
#include "model/hparams.h"

namespace pocketlm {

struct arch_desc {
  std::string_view name;  // general.architecture
  arch_kind kind;
  kernels::rope_mode rope_mode;  // llama: normal (GPT-J style pairs); qwen: NeoX halves
  bool has_qkv_bias = false;     // qwen2: attn_{q,k,v}.bias
  bool has_qk_norm = false;      // qwen3, gemma3: per-head RMSNorm of q and k before RoPE
  bool has_post_norms =
      false;  // gemma2, gemma3: RMSNorm of each sub-layer's output (post_attention_norm, post_ffw_norm)
  ffn_activation ffn_act = ffn_activation::silu;
  // phi3: ffn_up holds the gate's rows then the up rows (2 n_ff); attn_qkv (q, k, v rows), when
  // present, replaces attn_q/k/v.
  bool fused_ffn = false;
  // The final norm's tensor; lfm2's converter writes it as token_embd_norm.
  std::string_view output_norm = "output_norm.weight";
  // bert, nomic-bert: an encoder (model/encoder.cpp): LayerNorms with biases after each
  // residual, bidirectional attention, no output head.
  bool encoder = false;
};

// nullptr when the architecture is not supported.
const arch_desc* find_arch(std::string_view name);
const arch_desc& arch_of(arch_kind kind);
std::string supported_arch_names();  // "llama, qwen2, ..." for messages

}  // namespace pocketlm
