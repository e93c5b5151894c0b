// Weights of a loaded model: matrix views into the mmapped GGUF, small 1-D tensors (norms,
// biases) decoded to f32 at load. Names and shapes follow llama.cpp's GGUF conventions.
// Matrices of the types kernels/repack.h covers are rewritten at load into its four-row
// layout, in anonymous memory that model_weights owns; the file pages they came from are
// released as they are copied, so the weights are resident once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/hparams.h"

namespace pocketlm {

struct layer_weights {
  std::vector<float> attn_norm;       // (n_embd)
  kernels::matrix_view wqkv;          // phi3, when fused: (q_dim + 2 kv_dim, n_embd); wq/wk/wv then empty
  kernels::matrix_view wq;            // (q_dim rows, n_embd cols)
  kernels::matrix_view wk;            // (kv_dim, n_embd)
  kernels::matrix_view wv;            // (kv_dim, n_embd)
  kernels::matrix_view wo;            // (n_embd, q_dim)
  std::vector<float> bq, bk, bv;      // qwen2 only: (q_dim), (kv_dim), (kv_dim)
  std::vector<float> q_norm;          // qwen3, gemma3: (head_dim)
  std::vector<float> k_norm;          // qwen3, gemma3: (head_dim)
  std::vector<float> attn_post_norm;  // gemma3: (n_embd), of the attention output
  std::vector<float> ffn_norm;        // (n_embd)
  kernels::matrix_view w_gate;        // (n_ff, n_embd)
  kernels::matrix_view w_up;          // (n_ff, n_embd); phi3: (2 n_ff, n_embd), gate rows first
  kernels::matrix_view w_down;        // (n_embd, n_ff)
  std::vector<float> ffn_post_norm;   // gemma3: (n_embd), of the FFN output
  // lfm2 convolution layers (no attention tensors): in_proj's rows are B | C | x
  kernels::matrix_view conv_in;    // (3 n_embd, n_embd) shortconv.in_proj
  std::vector<float> conv_kernel;  // (n_embd, l_cache) shortconv.conv: each channel's taps, oldest first
  kernels::matrix_view conv_out;   // (n_embd, n_embd) shortconv.out_proj
};

// An anonymous private mapping (munmapped on destruction) that holds repacked matrices. It is
// 2 MiB aligned and asks for transparent huge pages: filling it then takes 512x fewer page
// faults, and the kernels' streams miss the TLB less.
class anon_memory {
 public:
  explicit anon_memory(size_t bytes);  // data() is null when the mapping failed
  ~anon_memory();
  anon_memory(const anon_memory&) = delete;
  anon_memory& operator=(const anon_memory&) = delete;
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* map_ = nullptr;  // the whole mapping: size_ plus alignment slack
  size_t map_bytes_ = 0;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

struct model_weights {
  kernels::matrix_view token_embd;  // (n_vocab, n_embd); always plain (rows are looked up)
  std::vector<float> output_norm;   // (n_embd)
  kernels::matrix_view output;      // (n_vocab, n_embd); token_embd when tied
  std::vector<float> rope_freqs;    // optional (n_rot / 2)
  std::vector<float> rope_long;     // phi3 LongRoPE, optional (n_rot / 2): contexts past n_ctx_orig
  std::vector<float> rope_short;    // phi3 LongRoPE, optional (n_rot / 2): contexts up to n_ctx_orig
  std::vector<layer_weights> layers;
  std::shared_ptr<anon_memory> packed;  // repacked matrices, when any; views point into it
};

// Whether load_weights repacks by default: yes, unless POCKETLM_REPACK=0.
bool repack_enabled_by_env();

// Finds, shape-checks and maps every tensor the architecture needs. Errors name the tensor and
// say "expected …, got …". With `repack`, matrices whose layout has kernels at the active ISA
// level (kernels::packed_gemm_native) are repacked; the rest stay views into the mmap.
result<model_weights> load_weights(const gguf::file& f, const hparams& hp, bool repack = repack_enabled_by_env());

}  // namespace pocketlm
