// kernels/: owns the compute operations of the forward pass (matrix multiplication over every
// weight type, norms, RoPE, activations), their scalar references in ref/, the per-type
// dispatch table and the thread pool. Calls tensor/ (block formats, quantize) only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/types.h"
#include "kernels/threads.h"

namespace pocketlm::kernels {

// How a matrix's bytes are arranged. plain: GGUF rows one after another. q4_0x4 / q8_0x4: rows
// interleaved four at a time by block index (kernels/repack.h), made at load time.
enum class weight_layout { plain, q4_0x4, q8_0x4 };

// A 2-D weight matrix: n_rows rows of n_cols elements of `type`. A repacked matrix has the same
// total size (row_bytes per row); its rows come in groups of 4, 4 * row_bytes apart.
struct matrix_view {
  ggml_type type = ggml_type::f32;
  int64_t n_cols = 0;  // ne[0], the input dimension
  int64_t n_rows = 0;  // ne[1], the output dimension
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  weight_layout layout = weight_layout::plain;
};

// y (n_tokens, n_rows) = x (n_tokens, n_cols) @ w^T. Activations are first converted to the
// weight type's dot format (q8_0, q8_1, q8_K, f16, ...) in `scratch`, as llama.cpp does, so
// results agree with it to rounding. The output is cut into tiles (weight rows x tokens) of a
// size fixed by the shape alone, which threads take from a shared counter; so results do not
// depend on the thread count. `scratch` only grows (no allocation once it is large enough).
// The weight type must have kernels (load_weights checks it).
void matmul(const matrix_view& w, const float* x, int64_t n_tokens, float* y, thread_pool& pool,
            std::vector<uint8_t>& scratch);

enum class rope_mode { normal, neox };  // normal: rotate (x[2i], x[2i+1]); neox: (x[i], x[i+d/2])

struct rope_params {
  rope_mode mode = rope_mode::normal;
  int n_rot = 0;  // rotated dimensions per head (<= head_dim)
  float freq_base = 10000.0f;
  const float* freq_factors = nullptr;  // optional (n_rot/2), divides each frequency (Llama 3.1)
  float freq_scale = 1.0f;              // linear position scaling (rope.scaling.factor = 1/freq_scale)
  float attn_factor = 1.0f;             // multiplies cos and sin (rope.scaling.attn_factor; LongRoPE)
};

// x (n_head, head_dim) for one token at `pos`, rotated in place.
void rope(float* x, int n_head, int head_dim, int64_t pos, const rope_params& p);

// out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]; w may be null (no scale).
void rmsnorm(const float* x, const float* w, float* out, int64_t n, float eps);

// SwiGLU: gate[i] = silu(gate[i]) * up[i].
void swiglu(float* gate, const float* up, int64_t n);

// GeGLU: gate[i] = gelu(gate[i]) * up[i], GELU's tanh form looked up as ggml's CPU backend does
// (input rounded to f16, the table's f16 result; exact outside (-10, 10)).
void geglu(float* gate, const float* up, int64_t n);

}  // namespace pocketlm::kernels
