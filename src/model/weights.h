// Weights of a loaded model: matrix views into the mmapped GGUF, small 1-D tensors (norms,
// biases) decoded to f32 at load. Names and shapes follow llama.cpp's GGUF conventions.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/hparams.h"

namespace pocketlm {

struct layer_weights {
  std::vector<float> attn_norm;  // (n_embd)
  kernels::matrix_view wq;       // (q_dim rows, n_embd cols)
  kernels::matrix_view wk;       // (kv_dim, n_embd)
  kernels::matrix_view wv;       // (kv_dim, n_embd)
  kernels::matrix_view wo;       // (n_embd, q_dim)
  std::vector<float> bq, bk, bv; // qwen2 only: (q_dim), (kv_dim), (kv_dim)
  std::vector<float> q_norm;     // qwen3 only: (head_dim)
  std::vector<float> k_norm;     // qwen3 only: (head_dim)
  std::vector<float> ffn_norm;   // (n_embd)
  kernels::matrix_view w_gate;   // (n_ff, n_embd)
  kernels::matrix_view w_up;     // (n_ff, n_embd)
  kernels::matrix_view w_down;   // (n_embd, n_ff)
};

struct model_weights {
  kernels::matrix_view token_embd;  // (n_vocab, n_embd)
  std::vector<float> output_norm;   // (n_embd)
  kernels::matrix_view output;      // (n_vocab, n_embd); token_embd when tied
  std::vector<float> rope_freqs;    // optional (n_rot / 2)
  std::vector<layer_weights> layers;
};

// Finds, shape-checks and maps every tensor the architecture needs. Errors name the tensor and
// say "expected …, got …".
result<model_weights> load_weights(const gguf::file& f, const hparams& hp);

}  // namespace pocketlm
