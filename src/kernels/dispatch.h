// Per-weight-type kernel table: for each weight type, the format activations are converted to
// (its "vec_dot_type", as in ggml's CPU backend), the converter, and the row dot product. This
// table is the single place that chooses an implementation (scalar reference today, SIMD
// variants picked once at startup later).
#pragma once

#include <cstdint>

#include "gguf/types.h"

namespace pocketlm::kernels {

// *out = dot(w_row, act_row) over n elements. w_row holds n elements of the weight type,
// act_row n elements of its vec_dot_type; n is a multiple of both block sizes.
using vec_dot_fn = void (*)(int64_t n, float* out, const void* w_row, const void* act_row);

// Converts n floats into the vec_dot_type row `act_row` (row_size(vec_dot_type, n) bytes).
using from_float_fn = void (*)(const float* x, void* act_row, int64_t n);

struct type_kernels {
  ggml_type vec_dot_type;
  from_float_fn from_float;  // never null; a plain copy for f32
  vec_dot_fn vec_dot;
};

// Kernels for a weight type: f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q4_K q5_K q6_K.
// nullptr when the weight type is not supported. The returned entry lives for the program.
const type_kernels* kernels_for(ggml_type weight_type);

}  // namespace pocketlm::kernels
