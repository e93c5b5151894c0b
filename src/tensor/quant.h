// Scalar reference quantize/dequantize for every supported element type. These are the ground
// truth that SIMD kernels are tested against; they favour clarity over speed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/types.h"

namespace pocketlm {

// True for the weight types the engine computes with: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1
// q4_K q5_K q6_K.
bool is_supported_weight_type(ggml_type t);

// Decodes n elements (n a multiple of the type's block size) from `src` into `dst`.
// Handles every supported weight type plus q8_K; any other type is a programming error and
// aborts (callers check is_supported_weight_type on untrusted input first).
void dequantize_row(ggml_type t, const void* src, float* dst, int64_t n);

// Encodes n elements into `dst` (row_size(t, n) bytes) with the reference quantizer; the
// rounding and scale search match ggml's reference quantizers so errors are no worse.
// Also handles the activation formats q8_1 (s = d * sum(q), d before fp16 rounding) and q8_K
// (float d, bsums = sums of each 16 qs), as the dot kernels expect. Other types abort.
void quantize_row(ggml_type t, const float* src, void* dst, int64_t n);

}  // namespace pocketlm
