// Bodies of the AArch64 row dots (see dot_arm.h), written once over an integer-dot policy and
// instantiated by each ISA level's translation unit. Included only by src/kernels/arm/*.cpp.
// Everything here has internal linkage on purpose ("inline" only keeps a TU that uses part of
// it free of unused-function warnings): each TU keeps its own copy compiled for its -march, so
// the linker cannot merge a dotprod-compiled helper into the baseline path. For the same reason
// these files call no inline library code, only intrinsics and out-of-line functions.
//
// A policy P provides
//   static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b);  acc + a*b summed into lanes
//     (how the 16 products split over the 4 lanes is the policy's choice), used by the K-quants;
//   static int32_t dot32(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1);  the exact
//     sum of a 32-element block's products, used by q8_0 and q4_0.
#pragma once

#include <arm_neon.h>

#include "tensor/quant_blocks.h"

namespace pocketlm::kernels::arm {
namespace {

// fp16 -> f32 is exact, so the vector convert matches fp16_to_f32 bit for bit.
inline float half_to_float(fp16_t h) {
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

template <typename P>
int32_t dot32_via_dot(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1) {
  return vaddvq_s32(P::dot(P::dot(vdupq_n_s32(0), x0, y0), x1, y1));
}

// Same float steps as ref::vec_dot_q8_0_q8_0_ref, so results are identical to it.
template <typename P>
void dot_q8_0_q8_0(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* x = static_cast<const block_q8_0*>(w_row);
  const auto* y = static_cast<const block_q8_0*>(act_row);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / qk8_0; ++b) {
    const int32_t sumi = P::dot32(vld1q_s8(x[b].qs), vld1q_s8(x[b].qs + 16), vld1q_s8(y[b].qs),
                                  vld1q_s8(y[b].qs + 16));
    sum += static_cast<float>(sumi) * (half_to_float(x[b].d) * half_to_float(y[b].d));
  }
  *out = sum;
}

// q4_0 byte j holds element j (low nibble) and j + 16 (high nibble), both offset by 8.
template <typename P>
void dot_q4_0_q8_0(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* x = static_cast<const block_q4_0*>(w_row);
  const auto* y = static_cast<const block_q8_0*>(act_row);
  const uint8x16_t low_mask = vdupq_n_u8(0x0F);
  const int8x16_t offset = vdupq_n_s8(8);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / qk4_0; ++b) {
    const uint8x16_t q = vld1q_u8(x[b].qs);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, low_mask)), offset);
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), offset);
    const int32_t sumi = P::dot32(lo, hi, vld1q_s8(y[b].qs), vld1q_s8(y[b].qs + 16));
    // Two roundings, as the reference (and ggml) scale by the deltas one after the other.
    sum += static_cast<float>(sumi) * half_to_float(x[b].d) * half_to_float(y[b].d);
  }
  *out = sum;
}

// sum_j bsums[j] * mins[j / 2]: the q4_K min term, from the q8_K sums of 16 activations.
inline int32_t min_term(const int16_t* bsums, const uint8_t* mins) {
  // Pairwise sums give the activation sum of each 32-element sub-block (|sum| <= 4096).
  const int16x8_t sub_sums = vpaddq_s16(vld1q_s16(bsums), vld1q_s16(bsums + 8));
  const int16x8_t m = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mins)));
  const int32x4_t prod = vmull_s16(vget_low_s16(sub_sums), vget_low_s16(m));
  return vaddvq_s32(vmlal_high_s16(prod, sub_sums, m));
}

// The 12-byte scale field of q4_K: eight 6-bit scales and mins (layout in ref/dot_ref_k.cpp).
inline void unpack_scales_mins(const uint8_t* packed, uint8_t* scales, uint8_t* mins) {
  for (int j = 0; j < 4; ++j) {
    scales[j] = packed[j] & 63;
    mins[j] = packed[j + 4] & 63;
    scales[j + 4] = static_cast<uint8_t>((packed[j + 8] & 0x0F) | (packed[j] >> 6) << 4);
    mins[j + 4] = static_cast<uint8_t>((packed[j + 8] >> 4) | (packed[j + 4] >> 6) << 4);
  }
}

// q4_K: chunk c (64 elements) reads qs[32c .. 32c+31]; low nibbles are sub-block 2c, high
// nibbles sub-block 2c+1. The scaled integer sum of a super-block is exact in int32
// (|sum| <= 63 * 15 * 128 * 256); it is scaled once per super-block.
template <typename P>
void dot_q4_k_q8_k(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* x = static_cast<const block_q4_k*>(w_row);
  const auto* y = static_cast<const block_q8_k*>(act_row);
  const uint8x16_t low_mask = vdupq_n_u8(0x0F);
  float sum = 0.0f;
  float sum_min = 0.0f;
  for (int64_t b = 0; b < n / qk_k; ++b) {
    uint8_t scales[8];
    uint8_t mins[8];
    unpack_scales_mins(x[b].scales, scales, mins);
    const int32_t sum_mins = min_term(y[b].bsums, mins);
    int32x4_t acc = vdupq_n_s32(0);
    for (int c = 0; c < 4; ++c) {
      const uint8x16_t q0 = vld1q_u8(x[b].qs + 32 * c);
      const uint8x16_t q1 = vld1q_u8(x[b].qs + 32 * c + 16);
      const int8_t* a = y[b].qs + 64 * c;
      const int32x4_t zero = vdupq_n_s32(0);
      int32x4_t lo = P::dot(zero, vreinterpretq_s8_u8(vandq_u8(q0, low_mask)), vld1q_s8(a));
      lo = P::dot(lo, vreinterpretq_s8_u8(vandq_u8(q1, low_mask)), vld1q_s8(a + 16));
      int32x4_t hi = P::dot(zero, vreinterpretq_s8_u8(vshrq_n_u8(q0, 4)), vld1q_s8(a + 32));
      hi = P::dot(hi, vreinterpretq_s8_u8(vshrq_n_u8(q1, 4)), vld1q_s8(a + 48));
      acc = vmlaq_n_s32(acc, lo, scales[2 * c]);
      acc = vmlaq_n_s32(acc, hi, scales[2 * c + 1]);
    }
    sum += half_to_float(x[b].d) * y[b].d * static_cast<float>(vaddvq_s32(acc));
    sum_min -= half_to_float(x[b].dmin) * y[b].d * static_cast<float>(sum_mins);
  }
  *out = sum_min + sum;
}

// One 16-element q6_K sub-block: low 4 bits from `ql`, top 2 bits already in place (0x30) in
// `high`, minus 32.
inline int8x16_t q6_values(uint8x16_t ql, uint8x16_t high) {
  return vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(ql, high)), vdupq_n_s8(32));
}

// q6_K: half h (128 elements) reads ql[64h ..] and qh[32h ..]. For l in [16p, 16p+16),
// element 128h + 32k + l is the low nibble of ql[l] (k=0) / ql[l+32] (k=1), the high nibble of
// ql[l] (k=2) / ql[l+32] (k=3), with bits 2k..2k+1 of qh[l] on top; so each 16-byte vector is
// exactly sub-block 8h + 2k + p. |scaled sum| <= 128 * 32 * 128 * 256 fits int32.
template <typename P>
void dot_q6_k_q8_k(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* x = static_cast<const block_q6_k*>(w_row);
  const auto* y = static_cast<const block_q8_k*>(act_row);
  const uint8x16_t low_mask = vdupq_n_u8(0x0F);
  const uint8x16_t top_mask = vdupq_n_u8(0x30);
  const int32x4_t zero = vdupq_n_s32(0);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / qk_k; ++b) {
    int32x4_t acc = zero;
    for (int h = 0; h < 2; ++h) {
      for (int p = 0; p < 2; ++p) {
        const uint8x16_t ql_a = vld1q_u8(x[b].ql + 64 * h + 16 * p);
        const uint8x16_t ql_b = vld1q_u8(x[b].ql + 64 * h + 32 + 16 * p);
        const uint8x16_t qh = vld1q_u8(x[b].qh + 32 * h + 16 * p);
        const int8x16_t w[4] = {
            q6_values(vandq_u8(ql_a, low_mask), vandq_u8(vshlq_n_u8(qh, 4), top_mask)),
            q6_values(vandq_u8(ql_b, low_mask), vandq_u8(vshlq_n_u8(qh, 2), top_mask)),
            q6_values(vshrq_n_u8(ql_a, 4), vandq_u8(qh, top_mask)),
            q6_values(vshrq_n_u8(ql_b, 4), vandq_u8(vshrq_n_u8(qh, 2), top_mask)),
        };
        for (int k = 0; k < 4; ++k) {
          const int8_t* a = y[b].qs + 128 * h + 32 * k + 16 * p;
          const int32x4_t d = P::dot(zero, w[k], vld1q_s8(a));
          acc = vmlaq_n_s32(acc, d, x[b].scales[8 * h + 2 * k + p]);
        }
      }
    }
    sum += half_to_float(x[b].d) * y[b].d * static_cast<float>(vaddvq_s32(acc));
  }
  *out = sum;
}

}  // namespace
}  // namespace pocketlm::kernels::arm
