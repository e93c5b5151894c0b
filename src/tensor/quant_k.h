// Internal to tensor/: per-type K-quant codecs (quant_k.cpp) that quant.cpp's dispatch calls.
// Each function handles nb = n / qk_k whole super-blocks.
#pragma once

#include <cstdint>
#include <limits>

#include "tensor/quant_blocks.h"

namespace pocketlm::detail {

// Round to nearest, ties to even, for |v| <= 2^22: adding 1.5 * 2^23 leaves the rounded value
// in the low mantissa bits. Outside that range (and for inf/NaN, which occur when a block's
// inverse scale overflows) the result wraps exactly as ggml's nearest_int does, so even those
// blocks encode to the same bytes; the arithmetic is defined for every input.
inline int nearest_int(float v) {
  const float biased = v + 12582912.0f;
  return static_cast<int>(f32_to_bits(biased) & 0x7fffffu) - 0x400000;
}

// Float -> int truncation with x86 cvttss2si semantics: NaN and out-of-range values give
// INT_MIN. ggml's C casts of non-finite scaled values compile to this; spelling it out keeps
// those cases defined and byte-identical.
inline int trunc_to_int(float v) {
  if (!(v > -2147483648.0f && v < 2147483648.0f)) return std::numeric_limits<int>::min();
  return static_cast<int>(v);
}

void quantize_row_q4_k(const float* x, block_q4_k* y, int64_t nb);
void quantize_row_q5_k(const float* x, block_q5_k* y, int64_t nb);
void quantize_row_q6_k(const float* x, block_q6_k* y, int64_t nb);
void quantize_row_q8_k(const float* x, block_q8_k* y, int64_t nb);

void dequantize_row_q4_k(const block_q4_k* x, float* y, int64_t nb);
void dequantize_row_q5_k(const block_q5_k* x, float* y, int64_t nb);
void dequantize_row_q6_k(const block_q6_k* x, float* y, int64_t nb);
void dequantize_row_q8_k(const block_q8_k* x, float* y, int64_t nb);

}  // namespace pocketlm::detail
