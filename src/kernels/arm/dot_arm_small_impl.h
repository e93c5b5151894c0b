// Bodies of the AArch64 row kernels for q4_1, q5_0, q5_1 and the float formats f32, f16, bf16,
// in the row-kernel form of dot_arm_impl.h (run<T>: one weight row against T activation rows).
// Same rules as that file: internal linkage, intrinsics only, included by src/kernels/arm/*.cpp.
// The 32-element formats follow the reference's float steps exactly; the float rows accumulate
// in float lanes (FMA) where the reference sums rounded products in double, so they agree to
// float rounding.
#pragma once

#include <arm_neon.h>

#include "kernels/arm/dot_arm_impl.h"

namespace pocketlm::kernels::arm {
namespace {

// The fifth bits of a q5 block as 0x10 / 0 bytes: qh is the little-endian word whose bit i
// belongs to element i; `lo` covers elements 0..15, `hi` 16..31. Reads 8 bytes at qh, which
// stay inside the block (qh is followed by the 16 nibble bytes).
inline void q5_fifth_bits(const uint8_t* qh, uint8x16_t& lo, uint8x16_t& hi) {
  const uint8x8_t bytes = vld1_u8(qh);
  const uint8x16_t table = vcombine_u8(bytes, bytes);
  // Byte k of each half tests bit k % 8 of qh byte (k / 8) (+2 for the high half).
  static constexpr uint8_t k_lo_index[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  static constexpr uint8_t k_bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t lo_index = vld1q_u8(k_lo_index);
  const uint8x16_t bits = vld1q_u8(k_bits);
  const uint8x16_t bit4 = vdupq_n_u8(0x10);
  lo = vandq_u8(vtstq_u8(vqtbl1q_u8(table, lo_index), bits), bit4);
  hi = vandq_u8(vtstq_u8(vqtbl1q_u8(table, vaddq_u8(lo_index, vdupq_n_u8(2))), bits), bit4);
}

// Weight codes of a 32-element nibble block (elements 0..15 low nibbles, 16..31 high), with
// the fifth bits when qh is given, minus `offset`.
template <int offset>
void nibble_values(const uint8_t* qs, const uint8_t* qh, int8x16_t& lo, int8x16_t& hi) {
  const uint8x16_t q = vld1q_u8(qs);
  uint8x16_t l = vandq_u8(q, vdupq_n_u8(0x0F));
  uint8x16_t h = vshrq_n_u8(q, 4);
  if (qh != nullptr) {
    uint8x16_t bl;
    uint8x16_t bh;
    q5_fifth_bits(qh, bl, bh);
    l = vorrq_u8(l, bl);
    h = vorrq_u8(h, bh);
  }
  lo = vsubq_s8(vreinterpretq_s8_u8(l), vdupq_n_s8(offset));
  hi = vsubq_s8(vreinterpretq_s8_u8(h), vdupq_n_s8(offset));
}

// q5_0 against q8_0: x = d * (q - 16), scaled as the reference: (dx * dy) * sumi.
template <typename P>
struct q5_0_rows {
  template <int T>
  static void run(int64_t n, const uint8_t* w, const uint8_t* act, size_t act_stride, float* res) {
    const auto* x = reinterpret_cast<const block_q5_0*>(w);
    const block_q8_0* y[T];
    float sum[T];
    for (int t = 0; t < T; ++t) {
      y[t] = act_blocks<block_q8_0>(act, act_stride, t);
      sum[t] = 0.0f;
    }
    for (int64_t b = 0; b < n / qk5_0; ++b) {
      int8x16_t lo;
      int8x16_t hi;
      nibble_values<16>(x[b].qs, x[b].qh, lo, hi);
      const float dx = half_to_float(x[b].d);
      for (int t = 0; t < T; ++t) {
        const int32_t sumi = P::dot32(lo, hi, vld1q_s8(y[t][b].qs), vld1q_s8(y[t][b].qs + 16));
        sum[t] += (dx * half_to_float(y[t][b].d)) * static_cast<float>(sumi);
      }
    }
    for (int t = 0; t < T; ++t) res[t] = sum[t];
  }
};

inline const uint8_t* q5_high_bits(const block_q4_1&) { return nullptr; }
inline const uint8_t* q5_high_bits(const block_q5_1& b) { return b.qh; }

// q4_1 / q5_1 against q8_1: x = d*q + m, so the m term is m * s with the activation block's
// precomputed s = d * sum(qs); same float steps as the reference.
template <typename P, typename B>
struct offset_rows {
  template <int T>
  static void run(int64_t n, const uint8_t* w, const uint8_t* act, size_t act_stride, float* res) {
    const auto* x = reinterpret_cast<const B*>(w);
    const block_q8_1* y[T];
    float sum[T];
    for (int t = 0; t < T; ++t) {
      y[t] = act_blocks<block_q8_1>(act, act_stride, t);
      sum[t] = 0.0f;
    }
    for (int64_t b = 0; b < n / 32; ++b) {
      int8x16_t lo;
      int8x16_t hi;
      nibble_values<0>(x[b].qs, q5_high_bits(x[b]), lo, hi);
      const float dx = half_to_float(x[b].d);
      const float m = half_to_float(x[b].m);
      for (int t = 0; t < T; ++t) {
        const int32_t sumi = P::dot32(lo, hi, vld1q_s8(y[t][b].qs), vld1q_s8(y[t][b].qs + 16));
        const float dd = dx * half_to_float(y[t][b].d);
        sum[t] += dd * static_cast<float>(sumi) + m * half_to_float(y[t][b].s);
      }
    }
    for (int t = 0; t < T; ++t) res[t] = sum[t];
  }
};

template <typename P>
using q4_1_rows = offset_rows<P, block_q4_1>;
template <typename P>
using q5_1_rows = offset_rows<P, block_q5_1>;

// Element loaders of the float rows: four elements as f32 lanes, and one as a float (tails).
struct f32_elems {
  using elem = float;
  static float32x4_t load4(const float* p) { return vld1q_f32(p); }
  static float one(const float* p) { return *p; }
};

// FCVTL is part of the armv8-a baseline; fp16 -> f32 is exact.
struct f16_elems {
  using elem = fp16_t;
  static float32x4_t load4(const fp16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static float one(const fp16_t* p) { return half_to_float(*p); }
};

// bf16 is the top half of an f32: widen with a 16-bit left shift.
struct bf16_elems {
  using elem = bf16_t;
  static float32x4_t load4(const bf16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  static float one(const bf16_t* p) {
    return vgetq_lane_f32(vreinterpretq_f32_u32(vshll_n_u16(vdup_n_u16(*p), 16)), 0);
  }
};

// Float rows: four accumulators (16 lanes) per token keep enough FMA chains in flight; the
// f16/bf16 products are exact in f32, f32 products round inside the FMA. Any n (tails scalar).
template <typename L>
struct float_rows {
  using elem = typename L::elem;
  template <int T>
  static void run(int64_t n, const uint8_t* w_bytes, const uint8_t* act, size_t act_stride, float* res) {
    const auto* w = reinterpret_cast<const elem*>(w_bytes);
    const elem* a[T];
    float32x4_t acc[T][4];
    for (int t = 0; t < T; ++t) {
      a[t] = act_blocks<elem>(act, act_stride, t);
      for (auto& v : acc[t]) v = vdupq_n_f32(0.0f);
    }
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      for (int k = 0; k < 4; ++k) {
        const float32x4_t wv = L::load4(w + i + 4 * k);
        for (int t = 0; t < T; ++t) {
          acc[t][k] = vfmaq_f32(acc[t][k], wv, L::load4(a[t] + i + 4 * k));
        }
      }
    }
    for (int t = 0; t < T; ++t) {
      for (int64_t j = i; j + 4 <= n; j += 4) {
        acc[t][0] = vfmaq_f32(acc[t][0], L::load4(w + j), L::load4(a[t] + j));
      }
      const float32x4_t s = vaddq_f32(vaddq_f32(acc[t][0], acc[t][1]), vaddq_f32(acc[t][2], acc[t][3]));
      float sum = vaddvq_f32(s);
      for (int64_t j = i + (n - i) / 4 * 4; j < n; ++j) sum += L::one(w + j) * L::one(a[t] + j);
      res[t] = sum;
    }
  }
};

using f32_rows = float_rows<f32_elems>;
using f16_rows = float_rows<f16_elems>;
using bf16_rows = float_rows<bf16_elems>;

}  // namespace
}  // namespace pocketlm::kernels::arm
