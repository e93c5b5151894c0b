// Bodies of the AArch64 kernels (see dot_arm.h) for the formats q8_0, q4_0 and the K-quants,
// written once over an integer-dot policy and instantiated by each ISA level's translation unit.
// Included only by src/kernels/arm/*.cpp. Everything here has internal linkage on purpose
// ("inline" only keeps a TU that uses part of it free of unused-function warnings): each TU
// keeps its own copy compiled for its -march, so the linker cannot merge a dotprod-compiled
// helper into the baseline path. For the same reason these files call no inline library code,
// only intrinsics and out-of-line functions.
//
// A policy P provides
//   static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b);  acc + a*b summed into lanes
//     (how the 16 products split over the 4 lanes is the policy's choice), used by the K-quants;
//   static int32_t dot32(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1);  the exact
//     sum of a 32-element block's products, used by the 32-element formats.
//
// A row kernel K<P> has
//   template <int T> static void run(int64_t n, const uint8_t* w, const uint8_t* act,
//                                    size_t act_stride, float* res);
// res[t] = dot(weight row w, activation row act + t * act_stride) for t < T. Each weight block
// is loaded and decoded once and used for all T tokens; each (row, token) pair goes through
// exactly the float steps of T = 1, so a gemm tile (row_gemm in dot_arm_rows.h) returns the
// same bits as the row dot of the same level.
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

#include "tensor/quant_blocks.h"

namespace pocketlm::kernels::arm {
namespace {

// fp16 -> f32 is exact, so the vector convert matches fp16_to_f32 bit for bit.
inline float half_to_float(fp16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }

template <typename B>
const B* act_blocks(const uint8_t* act, size_t act_stride, int t) {
  return reinterpret_cast<const B*>(act + static_cast<size_t>(t) * act_stride);
}

template <typename P>
int32_t dot32_via_dot(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1) {
  return vaddvq_s32(P::dot(P::dot(vdupq_n_s32(0), x0, y0), x1, y1));
}

// Same float steps as ref::vec_dot_q8_0_q8_0_ref, so results are identical to it.
template <typename P>
struct q8_0_rows {
  template <int T>
  static void run(int64_t n, const uint8_t* w, const uint8_t* act, size_t act_stride, float* res) {
    const auto* x = reinterpret_cast<const block_q8_0*>(w);
    const block_q8_0* y[T];
    float sum[T];
    for (int t = 0; t < T; ++t) {
      y[t] = act_blocks<block_q8_0>(act, act_stride, t);
      sum[t] = 0.0f;
    }
    for (int64_t b = 0; b < n / qk8_0; ++b) {
      const int8x16_t x0 = vld1q_s8(x[b].qs);
      const int8x16_t x1 = vld1q_s8(x[b].qs + 16);
      const float dx = half_to_float(x[b].d);
      for (int t = 0; t < T; ++t) {
        const int32_t sumi = P::dot32(x0, x1, vld1q_s8(y[t][b].qs), vld1q_s8(y[t][b].qs + 16));
        sum[t] += static_cast<float>(sumi) * (dx * half_to_float(y[t][b].d));
      }
    }
    for (int t = 0; t < T; ++t) res[t] = sum[t];
  }
};

// q4_0 byte j holds element j (low nibble) and j + 16 (high nibble), both offset by 8.
inline void q4_0_values(const block_q4_0& x, int8x16_t& lo, int8x16_t& hi) {
  const uint8x16_t q = vld1q_u8(x.qs);
  lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F))), vdupq_n_s8(8));
  hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8));
}

template <typename P>
struct q4_0_rows {
  template <int T>
  static void run(int64_t n, const uint8_t* w, const uint8_t* act, size_t act_stride, float* res) {
    const auto* x = reinterpret_cast<const block_q4_0*>(w);
    const block_q8_0* y[T];
    float sum[T];
    for (int t = 0; t < T; ++t) {
      y[t] = act_blocks<block_q8_0>(act, act_stride, t);
      sum[t] = 0.0f;
    }
    for (int64_t b = 0; b < n / qk4_0; ++b) {
      int8x16_t lo;
      int8x16_t hi;
      q4_0_values(x[b], lo, hi);
      const float dx = half_to_float(x[b].d);
      for (int t = 0; t < T; ++t) {
        const int32_t sumi = P::dot32(lo, hi, vld1q_s8(y[t][b].qs), vld1q_s8(y[t][b].qs + 16));
        // Two roundings, as the reference (and ggml) scale by the deltas one after the other.
        sum[t] += static_cast<float>(sumi) * dx * half_to_float(y[t][b].d);
      }
    }
    for (int t = 0; t < T; ++t) res[t] = sum[t];
  }
};

// sum_j bsums[j] * mins[j / 2]: the q4_K/q5_K min term, from the q8_K sums of 16 activations.
inline int32_t min_term(const int16_t* bsums, const uint8_t* mins) {
  // Pairwise sums give the activation sum of each 32-element sub-block (|sum| <= 4096).
  const int16x8_t sub_sums = vpaddq_s16(vld1q_s16(bsums), vld1q_s16(bsums + 8));
  const int16x8_t m = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mins)));
  const int32x4_t prod = vmull_s16(vget_low_s16(sub_sums), vget_low_s16(m));
  return vaddvq_s32(vmlal_high_s16(prod, sub_sums, m));
}

// The 12-byte scale field of q4_K/q5_K: eight 6-bit scales and mins (layout in
// ref/dot_ref_k.cpp).
inline void unpack_scales_mins(const uint8_t* packed, uint8_t* scales, uint8_t* mins) {
  for (int j = 0; j < 4; ++j) {
    scales[j] = packed[j] & 63;
    mins[j] = packed[j + 4] & 63;
    scales[j + 4] = static_cast<uint8_t>((packed[j + 8] & 0x0F) | (packed[j] >> 6) << 4);
    mins[j + 4] = static_cast<uint8_t>((packed[j + 8] >> 4) | (packed[j + 4] >> 6) << 4);
  }
}

// Weight codes of one q4_K/q5_K super-block as 16 vectors of 16: vector 4c + 2s + p holds
// elements 64c + 32s + 16p .. +15 (sub-block 2c + s). Chunk c (64 elements) reads
// qs[32c .. 32c+31]: low nibbles are sub-block 2c, high nibbles 2c+1; q5_K adds 16 where bit 2c
// (low) / 2c+1 (high) of qh[l] is set.
inline void k4_values(const uint8_t* qs, const uint8_t* qh, int8x16_t* v) {
  const uint8x16_t low_mask = vdupq_n_u8(0x0F);
  const uint8x16_t bit4 = vdupq_n_u8(0x10);
  uint8x16_t h[2] = {vdupq_n_u8(0), vdupq_n_u8(0)};
  if (qh != nullptr) {
    h[0] = vld1q_u8(qh);
    h[1] = vld1q_u8(qh + 16);
  }
  for (int c = 0; c < 4; ++c) {
    for (int p = 0; p < 2; ++p) {
      const uint8x16_t q = vld1q_u8(qs + 32 * c + 16 * p);
      const uint8x16_t lo = vorrq_u8(vandq_u8(q, low_mask), vandq_u8(vshlq_n_u8(h[p], 4), bit4));
      const uint8x16_t hi = vorrq_u8(vshrq_n_u8(q, 4), vandq_u8(vshlq_n_u8(h[p], 3), bit4));
      v[4 * c + p] = vreinterpretq_s8_u8(lo);
      v[4 * c + 2 + p] = vreinterpretq_s8_u8(hi);
      h[p] = vshrq_n_u8(h[p], 2);
    }
  }
}

inline const uint8_t* fifth_bits(const block_q4_k&) { return nullptr; }
inline const uint8_t* fifth_bits(const block_q5_k& b) { return b.qh; }

// q4_K and q5_K: x = d*sc*q - dmin*m per 32-element sub-block. The scaled integer sum of a
// super-block is exact in int32 (|sum| <= 63 * 31 * 128 * 256); it is scaled once per
// super-block, and the min term once from the activation block sums.
template <typename P, typename B>
struct k4_rows {
  template <int T>
  static void run(int64_t n, const uint8_t* w, const uint8_t* act, size_t act_stride, float* res) {
    const auto* x = reinterpret_cast<const B*>(w);
    const block_q8_k* y[T];
    float sum[T];
    float sum_min[T];
    for (int t = 0; t < T; ++t) {
      y[t] = act_blocks<block_q8_k>(act, act_stride, t);
      sum[t] = 0.0f;
      sum_min[t] = 0.0f;
    }
    for (int64_t b = 0; b < n / qk_k; ++b) {
      uint8_t scales[8];
      uint8_t mins[8];
      unpack_scales_mins(x[b].scales, scales, mins);
      int8x16_t v[16];
      k4_values(x[b].qs, fifth_bits(x[b]), v);
      const float d = half_to_float(x[b].d);
      const float dmin = half_to_float(x[b].dmin);
      for (int t = 0; t < T; ++t) {
        const int8_t* a = y[t][b].qs;
        int32x4_t acc = vdupq_n_s32(0);
        for (int s = 0; s < 8; ++s) {
          int32x4_t part = P::dot(vdupq_n_s32(0), v[2 * s], vld1q_s8(a + 32 * s));
          part = P::dot(part, v[2 * s + 1], vld1q_s8(a + 32 * s + 16));
          acc = vmlaq_n_s32(acc, part, scales[s]);
        }
        const int32_t sum_mins = min_term(y[t][b].bsums, mins);
        sum[t] += d * y[t][b].d * static_cast<float>(vaddvq_s32(acc));
        sum_min[t] -= dmin * y[t][b].d * static_cast<float>(sum_mins);
      }
    }
    for (int t = 0; t < T; ++t) res[t] = sum_min[t] + sum[t];
  }
};

template <typename P>
using q4_k_rows = k4_rows<P, block_q4_k>;
template <typename P>
using q5_k_rows = k4_rows<P, block_q5_k>;

// One 16-element q6_K sub-block: low 4 bits from `ql`, top 2 bits already in place (0x30) in
// `high`, minus 32.
inline int8x16_t q6_values(uint8x16_t ql, uint8x16_t high) {
  return vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(ql, high)), vdupq_n_s8(32));
}

// q6_K super-block as 16 vectors, vector j = sub-block j. Half h (128 elements) reads
// ql[64h ..] and qh[32h ..]. For l in [16p, 16p+16), element 128h + 32k + l is the low nibble
// of ql[l] (k=0) / ql[l+32] (k=1), the high nibble of ql[l] (k=2) / ql[l+32] (k=3), with bits
// 2k..2k+1 of qh[l] on top; so each 16-byte vector is exactly sub-block 8h + 2k + p.
inline void q6_k_values(const block_q6_k& x, int8x16_t* v) {
  const uint8x16_t low_mask = vdupq_n_u8(0x0F);
  const uint8x16_t top_mask = vdupq_n_u8(0x30);
  for (int h = 0; h < 2; ++h) {
    for (int p = 0; p < 2; ++p) {
      const uint8x16_t ql_a = vld1q_u8(x.ql + 64 * h + 16 * p);
      const uint8x16_t ql_b = vld1q_u8(x.ql + 64 * h + 32 + 16 * p);
      const uint8x16_t qh = vld1q_u8(x.qh + 32 * h + 16 * p);
      int8x16_t* s = v + 8 * h + p;
      s[0] = q6_values(vandq_u8(ql_a, low_mask), vandq_u8(vshlq_n_u8(qh, 4), top_mask));
      s[2] = q6_values(vandq_u8(ql_b, low_mask), vandq_u8(vshlq_n_u8(qh, 2), top_mask));
      s[4] = q6_values(vshrq_n_u8(ql_a, 4), vandq_u8(qh, top_mask));
      s[6] = q6_values(vshrq_n_u8(ql_b, 4), vandq_u8(vshrq_n_u8(qh, 2), top_mask));
    }
  }
}

// |scaled sum| <= 128 * 32 * 128 * 256 fits int32.
template <typename P>
struct q6_k_rows {
  template <int T>
  static void run(int64_t n, const uint8_t* w, const uint8_t* act, size_t act_stride, float* res) {
    const auto* x = reinterpret_cast<const block_q6_k*>(w);
    const block_q8_k* y[T];
    float sum[T];
    for (int t = 0; t < T; ++t) {
      y[t] = act_blocks<block_q8_k>(act, act_stride, t);
      sum[t] = 0.0f;
    }
    for (int64_t b = 0; b < n / qk_k; ++b) {
      int8x16_t v[16];
      q6_k_values(x[b], v);
      const float d = half_to_float(x[b].d);
      for (int t = 0; t < T; ++t) {
        int32x4_t acc = vdupq_n_s32(0);
        for (int j = 0; j < 16; ++j) {
          const int32x4_t part = P::dot(vdupq_n_s32(0), v[j], vld1q_s8(y[t][b].qs + 16 * j));
          acc = vmlaq_n_s32(acc, part, x[b].scales[j]);
        }
        sum[t] += d * y[t][b].d * static_cast<float>(vaddvq_s32(acc));
      }
    }
    for (int t = 0; t < T; ++t) res[t] = sum[t];
  }
};

}  // namespace
}  // namespace pocketlm::kernels::arm
