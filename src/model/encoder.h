// Weights of the encoder-only embedding models, llama.cpp's LLM_ARCH_BERT and LLM_ARCH_NOMIC_BERT
// (src/models/bert.cpp there): token (+ token type, + bert's learned position) embeddings under a
// LayerNorm, then post-norm blocks: x = norm(x + attn(x)); x = norm(x + ffn(x)), every norm a
// LayerNorm with a bias. bert: separate q/k/v with biases, GELU FFN with biases; nomic-bert: one
// fused attn_qkv, RoPE (NeoX) on q and k, SwiGLU FFN, no biases. The forward pass is
// model::encode (model/encoder.cpp); the last hidden states are pooled by model::embed.
#pragma once

#include <vector>

#include "common/result.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/hparams.h"

namespace pocketlm {

struct encoder_layer {
  kernels::matrix_view wqkv;        // nomic-bert: (3 n_embd, n_embd), rows q | k | v
  kernels::matrix_view wq, wk, wv;  // bert: (n_embd, n_embd) each
  std::vector<float> bq, bk, bv;    // bert: (n_embd) each, optional
  kernels::matrix_view wo;          // (n_embd, n_embd)
  std::vector<float> bo;            // (n_embd), optional
  std::vector<float> attn_norm_w;   // attn_output_norm: (n_embd)
  std::vector<float> attn_norm_b;   // (n_embd)
  kernels::matrix_view w_up;        // (n_ff, n_embd)
  kernels::matrix_view w_gate;      // nomic-bert: (n_ff, n_embd)
  std::vector<float> b_up;          // bert: (n_ff), optional
  kernels::matrix_view w_down;      // (n_embd, n_ff)
  std::vector<float> b_down;        // bert: (n_embd), optional
  std::vector<float> out_norm_w;    // layer_output_norm: (n_embd)
  std::vector<float> out_norm_b;    // (n_embd)
};

struct encoder_weights {
  kernels::matrix_view token_embd;  // (n_vocab, n_embd)
  std::vector<float> type_row0;     // token_types row 0 (n_embd), when present: llama.cpp's "sentence A"
  kernels::matrix_view pos_embd;    // bert: position_embd (n_ctx_train, n_embd)
  std::vector<float> embd_norm_w;   // token_embd_norm: (n_embd)
  std::vector<float> embd_norm_b;   // (n_embd)
  std::vector<encoder_layer> layers;
};

// Finds and shape-checks every tensor llama.cpp requires for the architecture (errors name the
// tensor: missing, wrong shape or unsupported type).
result<encoder_weights> load_encoder_weights(const gguf::file& f, const hparams& hp);

// y = (x - mean(x)) / sqrt(var(x) + eps) * w + b over n values (ggml_norm, then the affine part).
void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps);

}  // namespace pocketlm
