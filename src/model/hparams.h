// Hyper-parameters of a transformer read from GGUF metadata (`<arch>.*` keys).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"

namespace pocketlm {

enum class arch_kind { llama, qwen2, qwen3, gemma2, gemma3, granite, smollm3, phi3, lfm2, bert, nomic_bert };

// How a sentence embedding is pooled from the last hidden states (`<arch>.pooling_type`, llama.cpp's
// llama_pooling_type numbering): none means the model is not an embedding model.
enum class pooling_type { none = 0, mean = 1, cls = 2, last = 3 };

enum class ffn_activation { silu, gelu };  // the gate's activation: SwiGLU or GeGLU (tanh GELU)

struct hparams {
  arch_kind arch = arch_kind::llama;
  std::string arch_name;
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;  // key_length when given, else n_embd / n_head
  int64_t n_ctx_train = 0;
  int64_t n_ctx_orig = 0;  // rope.scaling.original_context_length, else n_ctx_train (LongRoPE's switch)
  float rms_eps = 1e-5f;
  kernels::rope_params rope;  // of full-attention layers

  // Sliding-window attention (gemma2, gemma3): a window layer's token at position p attends positions
  // (p - n_swa, p], and its RoPE has its own base. n_swa == 0: every layer attends everything.
  int64_t n_swa = 0;
  std::vector<bool> swa_layers;  // (n_layer) when n_swa > 0
  kernels::rope_params rope_swa;

  // Scales some families apply (1 when absent): the token embeddings (gemma: sqrt(n_embd);
  // granite: embedding_scale), each sub-layer's output before it joins the residual stream
  // (granite), and the logits (divided by logit_scale; granite). kq_scale multiplies q.k
  // (1/sqrt(head_dim) unless the family says otherwise). final_softcap > 0 caps the logits
  // at +-final_softcap with tanh (gemma), attn_softcap the scaled q.k scores (gemma2).
  float embd_scale = 1.0f;
  float residual_scale = 1.0f;
  float logit_scale = 1.0f;
  float kq_scale = 1.0f;
  float final_softcap = 0.0f;
  float attn_softcap = 0.0f;
  ffn_activation ffn_act = ffn_activation::silu;
  bool use_rope = true;      // granite: rope.scaling.finetuned = false runs without RoPE
  int64_t no_rope_step = 0;  // smollm3: every no_rope_step-th layer has no RoPE (NoPE)

  // Short gated convolutions (lfm2): a conv layer (head_count_kv 0 in the GGUF) has no
  // attention and no KV cells; it keeps the last conv_l_cache - 1 inputs of its convolution
  // per sequence instead (model/shortconv.h).
  int64_t conv_l_cache = 0;
  std::vector<bool> conv_layers;  // (n_layer) when conv_l_cache > 0
  // Embedding models (model/encoder.cpp): `<arch>.pooling_type`, `<arch>.attention.causal`
  // (encoders: false, every token attends every other), the LayerNorm epsilon and
  // tokenizer.ggml.token_type_count (rows of token_types).
  pooling_type pooling = pooling_type::none;
  bool causal = true;
  float norm_eps = 1e-12f;
  int64_t n_token_types = 0;

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
  bool has_rope(int64_t layer) const { return use_rope && (no_rope_step == 0 || (layer + 1) % no_rope_step != 0); }
  bool is_swa(int64_t layer) const { return n_swa > 0 && swa_layers[static_cast<size_t>(layer)]; }
  bool is_conv(int64_t layer) const { return conv_l_cache > 0 && conv_layers[static_cast<size_t>(layer)]; }
  bool has_conv() const { return std::find(conv_layers.begin(), conv_layers.end(), true) != conv_layers.end(); }
  // Floats of one sequence's convolution state: conv_l_cache - 1 rows of n_embd per conv layer.
  int64_t conv_state_floats() const {
    const auto n_conv = static_cast<int64_t>(std::count(conv_layers.begin(), conv_layers.end(), true));
    return n_conv * std::max<int64_t>(conv_l_cache - 1, 0) * n_embd;
  }
  // Cached positions layer `layer` keeps for a context of n_ctx run in batches of up to
  // n_batch tokens: a window layer needs only its window plus the batch being written; a
  // convolution layer none.
  int64_t kv_cells(int64_t layer, int64_t n_ctx, int64_t n_batch) const {
    if (is_conv(layer)) return 0;
    return is_swa(layer) ? std::min(n_ctx, n_swa + std::max<int64_t>(n_batch, 1)) : n_ctx;
  }
};

// Reads and checks hyper-parameters, n_vocab included (token_embd's rows); unknown
// architectures, a missing token_embd and inconsistent values are errors.
result<hparams> read_hparams(const gguf::file& f);

// The context a model runs with when none is asked: min(n_ctx_train, 4096).
int64_t default_context(const hparams& hp);

}  // namespace pocketlm
