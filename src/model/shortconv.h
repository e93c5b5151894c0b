// LFM2's short gated convolution (llama.cpp's build_shortconv_block): the convolution state each
// sequence keeps beside its KV cache, and one token's step through it. A conv layer computes,
// per channel i of token t:
//   B, C, x = in_proj(xb[t]) split in three (n_embd each)
//   bx[t] = B * x
//   conv  = sum over k < l_cache of window[k] * kernel[i][k], window = the last l_cache - 1 bx
//           of the sequence (its state, oldest first) then bx[t]
//   y     = out_proj(C * conv)
// The state holds only the latest positions: it cannot be rewound. A copy saved after each
// prefill (a batch with several tokens of the sequence) lets a later prompt that extends the
// last one reuse it up to there; otherwise a sequence is kept whole or restarted (model::truncate).
// Owned by model, one per sequence beside its KV cache.
#pragma once

#include <cstdint>
#include <vector>

#include "model/hparams.h"

namespace pocketlm {

// One sequence's convolution inputs: for each conv layer, its last l_cache - 1 bx rows.
struct conv_state {
  int64_t width = 0;  // rows kept per layer: l_cache - 1
  int64_t n_embd = 0;
  std::vector<int64_t> first;  // (n_layer) offset of each layer's rows in data; -1: not a conv layer
  std::vector<float> data;     // (conv layers, width, n_embd), zero-filled: the state before position 0
  std::vector<float> saved;    // data as it was at position saved_pos
  int64_t saved_pos = -1;      // -1: nothing saved

  void allocate(const hparams& hp);
  void clear();  // back to position 0, the saved copy dropped
  void save(int64_t pos);
  void restore() { std::copy(saved.begin(), saved.end(), data.begin()); }
  float* layer(int64_t il) { return data.data() + first[static_cast<size_t>(il)]; }
};

// After a forward pass over tokens of sequences seq[0..n): saves the state of each sequence
// that had several tokens in it (a prefill) at its new n_past.
void save_prefill_states(std::vector<conv_state>& conv, const int* seq, int64_t n, const std::vector<int64_t>& n_past);

// One token of a conv layer: bcx is in_proj's output row (B | C | x, 3 n_embd) and is
// overwritten; state (width, n_embd) moves on by this token; y gets C * conv (n_embd). kernel is
// (n_embd, width + 1). The sums run in llama.cpp's order (ggml_ssm_conv: f32, oldest tap first).
void shortconv_step(float* bcx, const float* kernel, float* state, int64_t width, int64_t n_embd, float* y);

}  // namespace pocketlm
