// Scalar reference codecs for the 32-element block types (q4_0 q4_1 q5_0 q5_1 q8_0 q8_1) and the
// plain float types, plus the type dispatch. Each quantizer follows the arithmetic of ggml's
// quantize_row_*_ref step by step (same float operations in the same order) so that the output
// bytes match llama.cpp's for the same input.
#include "tensor/quant.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "tensor/quant_blocks.h"
#include "tensor/quant_k.h"

namespace pocketlm {
namespace {

using detail::trunc_to_int;

// Value of largest magnitude in a block (the first one wins ties), keeping its sign.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

float absmax(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

void min_max(const float* x, int n, float& min, float& max) {
  min = std::numeric_limits<float>::max();
  max = -std::numeric_limits<float>::max();
  for (int j = 0; j < n; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
}

// ggml's MIN(15, (int8_t)v) for a 4-bit level, stored as a byte (only in-range values matter
// for finite blocks; the casts mirror ggml for blocks whose 1/d overflows).
uint8_t clamp_nibble(float v) { return static_cast<uint8_t>(std::min(15, int{static_cast<int8_t>(trunc_to_int(v))})); }

// q4_0: d = max / -8 so the extreme value maps to q = 0; others round half up into [0, 15].
void quantize_q4_0(const float* x, block_q4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk4_0) {
    const float d = signed_absmax(x, qk4_0) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < qk4_0 / 2; ++j) {
      const uint8_t lo = clamp_nibble(x[j] * id + 8.5f);
      const uint8_t hi = clamp_nibble(x[j + qk4_0 / 2] * id + 8.5f);
      y[i].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

// q4_1: 16 levels spanning [min, max].
void quantize_q4_1(const float* x, block_q4_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk4_1) {
    float min = 0.0f;
    float max = 0.0f;
    min_max(x, qk4_1, min, max);
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    y[i].m = f32_to_fp16(min);
    for (int j = 0; j < qk4_1 / 2; ++j) {
      const uint8_t lo = clamp_nibble((x[j] - min) * id + 0.5f);
      const uint8_t hi = clamp_nibble((x[j + qk4_1 / 2] - min) * id + 0.5f);
      y[i].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

// Splits 32 five-bit values into low nibbles (element j and j+16 share byte j) and a 32-bit
// mask of fifth bits (bit j for element j), as q5_0/q5_1 store them.
void pack_q5(const uint8_t* q, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
    qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
    qh |= static_cast<uint32_t>((q[j + 16] >> 4) & 1) << (j + 16);
  }
  std::memcpy(qh_bytes, &qh, 4);
}

void quantize_q5_0(const float* x, block_q5_0* y, int64_t nb) {
  uint8_t q[qk5_0];
  for (int64_t i = 0; i < nb; ++i, x += qk5_0) {
    const float d = signed_absmax(x, qk5_0) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < qk5_0; ++j) {
      q[j] = static_cast<uint8_t>(std::min(31, int{static_cast<int8_t>(trunc_to_int(x[j] * id + 16.5f))}));
    }
    pack_q5(q, y[i].qs, y[i].qh);
  }
}

void quantize_q5_1(const float* x, block_q5_1* y, int64_t nb) {
  uint8_t q[qk5_1];
  for (int64_t i = 0; i < nb; ++i, x += qk5_1) {
    float min = 0.0f;
    float max = 0.0f;
    min_max(x, qk5_1, min, max);
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    y[i].m = f32_to_fp16(min);
    for (int j = 0; j < qk5_1; ++j) q[j] = static_cast<uint8_t>(trunc_to_int((x[j] - min) * id + 0.5f));
    pack_q5(q, y[i].qs, y[i].qh);
  }
}

// Symmetric 8-bit: d = amax / 127, q = round-half-away(x / d). Returns the unrounded d and
// sets `sum` to sum(q), which q8_1 stores.
float quantize_block_8bit(const float* x, fp16_t& d_out, int8_t* qs, int& sum) {
  const float d = absmax(x, 32) / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  d_out = f32_to_fp16(d);
  sum = 0;
  for (int j = 0; j < 32; ++j) {
    qs[j] = static_cast<int8_t>(trunc_to_int(std::round(x[j] * id)));
    sum += qs[j];
  }
  return d;
}

void quantize_q8_0(const float* x, block_q8_0* y, int64_t nb) {
  int sum = 0;
  for (int64_t i = 0; i < nb; ++i, x += qk8_0) quantize_block_8bit(x, y[i].d, y[i].qs, sum);
}

// q8_1 also stores s = d * sum(q), computed from the f32 d before its fp16 rounding, as ggml does.
void quantize_q8_1(const float* x, block_q8_1* y, int64_t nb) {
  int sum = 0;
  for (int64_t i = 0; i < nb; ++i, x += qk8_1) {
    const float d = quantize_block_8bit(x, y[i].d, y[i].qs, sum);
    y[i].s = f32_to_fp16(static_cast<float>(sum) * d);
  }
}

void dequantize_q4_0(const block_q4_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk4_0) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < qk4_0 / 2; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 0x0f) - 8) * d;
      y[j + qk4_0 / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const block_q4_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk4_1) {
    const float d = fp16_to_f32(x[i].d);
    const float m = fp16_to_f32(x[i].m);
    for (int j = 0; j < qk4_1 / 2; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0x0f) * d + m;
      y[j + qk4_1 / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

// Inverse of pack_q5: five-bit value of element j (0..31).
int unpack_q5(const uint8_t* qs, const uint8_t* qh_bytes, int j) {
  uint32_t qh = 0;
  std::memcpy(&qh, qh_bytes, 4);
  const int nibble = j < 16 ? (qs[j] & 0x0f) : (qs[j - 16] >> 4);
  return nibble | static_cast<int>(((qh >> j) & 1u) << 4);
}

void dequantize_q5_0(const block_q5_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk5_0) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < qk5_0; ++j) {
      y[j] = static_cast<float>(unpack_q5(x[i].qs, x[i].qh, j) - 16) * d;
    }
  }
}

void dequantize_q5_1(const block_q5_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk5_1) {
    const float d = fp16_to_f32(x[i].d);
    const float m = fp16_to_f32(x[i].m);
    for (int j = 0; j < qk5_1; ++j) {
      y[j] = static_cast<float>(unpack_q5(x[i].qs, x[i].qh, j)) * d + m;
    }
  }
}

void dequantize_q8_0(const block_q8_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk8_0) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < qk8_0; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

[[noreturn]] void unsupported(const char* what, ggml_type t) {
  std::fprintf(stderr, "pocketlm: %s: unsupported type %u\n", what, static_cast<unsigned>(t));
  std::abort();
}

}  // namespace

bool is_supported_weight_type(ggml_type t) {
  switch (t) {
    case ggml_type::f32:
    case ggml_type::f16:
    case ggml_type::bf16:
    case ggml_type::q4_0:
    case ggml_type::q4_1:
    case ggml_type::q5_0:
    case ggml_type::q5_1:
    case ggml_type::q8_0:
    case ggml_type::q4_k:
    case ggml_type::q5_k:
    case ggml_type::q6_k: return true;
    default: return false;
  }
}

void dequantize_row(ggml_type t, const void* src, float* dst, int64_t n) {
  const int64_t nb = n / type_traits(t).block_size;
  switch (t) {
    case ggml_type::f32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case ggml_type::f16:
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(static_cast<const fp16_t*>(src)[i]);
      return;
    case ggml_type::bf16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(static_cast<const bf16_t*>(src)[i]);
      return;
    case ggml_type::q4_0: return dequantize_q4_0(static_cast<const block_q4_0*>(src), dst, nb);
    case ggml_type::q4_1: return dequantize_q4_1(static_cast<const block_q4_1*>(src), dst, nb);
    case ggml_type::q5_0: return dequantize_q5_0(static_cast<const block_q5_0*>(src), dst, nb);
    case ggml_type::q5_1: return dequantize_q5_1(static_cast<const block_q5_1*>(src), dst, nb);
    case ggml_type::q8_0: return dequantize_q8_0(static_cast<const block_q8_0*>(src), dst, nb);
    case ggml_type::q4_k: return detail::dequantize_row_q4_k(static_cast<const block_q4_k*>(src), dst, nb);
    case ggml_type::q5_k: return detail::dequantize_row_q5_k(static_cast<const block_q5_k*>(src), dst, nb);
    case ggml_type::q6_k: return detail::dequantize_row_q6_k(static_cast<const block_q6_k*>(src), dst, nb);
    case ggml_type::q8_k: return detail::dequantize_row_q8_k(static_cast<const block_q8_k*>(src), dst, nb);
    default: unsupported("dequantize_row", t);
  }
}

void quantize_row(ggml_type t, const float* src, void* dst, int64_t n) {
  const int64_t nb = n / type_traits(t).block_size;
  switch (t) {
    case ggml_type::f32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case ggml_type::f16:
      for (int64_t i = 0; i < n; ++i) static_cast<fp16_t*>(dst)[i] = f32_to_fp16(src[i]);
      return;
    case ggml_type::bf16:
      for (int64_t i = 0; i < n; ++i) static_cast<bf16_t*>(dst)[i] = f32_to_bf16(src[i]);
      return;
    case ggml_type::q4_0: return quantize_q4_0(src, static_cast<block_q4_0*>(dst), nb);
    case ggml_type::q4_1: return quantize_q4_1(src, static_cast<block_q4_1*>(dst), nb);
    case ggml_type::q5_0: return quantize_q5_0(src, static_cast<block_q5_0*>(dst), nb);
    case ggml_type::q5_1: return quantize_q5_1(src, static_cast<block_q5_1*>(dst), nb);
    case ggml_type::q8_0: return quantize_q8_0(src, static_cast<block_q8_0*>(dst), nb);
    case ggml_type::q8_1: return quantize_q8_1(src, static_cast<block_q8_1*>(dst), nb);
    case ggml_type::q4_k: return detail::quantize_row_q4_k(src, static_cast<block_q4_k*>(dst), nb);
    case ggml_type::q5_k: return detail::quantize_row_q5_k(src, static_cast<block_q5_k*>(dst), nb);
    case ggml_type::q6_k: return detail::quantize_row_q6_k(src, static_cast<block_q6_k*>(dst), nb);
    case ggml_type::q8_k: return detail::quantize_row_q8_k(src, static_cast<block_q8_k*>(dst), nb);
    default: unsupported("quantize_row", t);
  }
}

}  // namespace pocketlm
