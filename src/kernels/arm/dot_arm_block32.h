// The 32-element formats (q8_0, q4_0, q5_0 against q8_0; q4_1, q5_1 against q8_1) as weight
// policies for the multi-row tiles, and the 4-row gemm tile of the neon and dotprod levels.
// Same rules as dot_arm_impl.h: internal linkage, intrinsics only.
//
// A weight policy W has
//   using block, act;                        the weight and activation block types
//   static void values(const block&, int8x16_t& lo, int8x16_t& hi);  codes of elements 0-15
//                                                                     and 16-31
//   static float32x4_t add(float32x4_t sum, int32x4_t sumi, const lane_scales& s);
// `add` is the row dot's float step (q8_0_rows, q4_0_rows, q5_0_rows, offset_rows) done
// lane-wise, so a tile lane returns the bits of vec_dot for its (row, token).
#pragma once

#include <arm_neon.h>

#include "kernels/arm/dot_arm_impl.h"
#include "kernels/arm/dot_arm_small_impl.h"

namespace pocketlm::kernels::arm {
namespace {

// Per lane: the weight block's d (and m), the activation block's d (and s).
struct lane_scales {
  float32x4_t dx;
  float32x4_t mx;
  float32x4_t dy;
  float32x4_t sy;
};

[[gnu::always_inline]] inline float32x4_t halves(fp16_t a, fp16_t b, fp16_t c, fp16_t d) {
  const uint16_t lanes[4] = {a, b, c, d};
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(lanes)));
}

// Lane k takes its weight scales from x[k] (once per block) ...
template <typename W>
[[gnu::always_inline]] inline void set_weight_lanes(lane_scales& s, const typename W::block* const* x) {
  s.dx = halves(x[0]->d, x[1]->d, x[2]->d, x[3]->d);
  if constexpr (W::has_m) s.mx = halves(x[0]->m, x[1]->m, x[2]->m, x[3]->m);
}

// ... and its activation scales from y[k] (once per block and token group).
template <typename W>
[[gnu::always_inline]] inline void set_act_lanes(lane_scales& s, const typename W::act* const* y) {
  s.dy = halves(y[0]->d, y[1]->d, y[2]->d, y[3]->d);
  if constexpr (W::has_m) s.sy = halves(y[0]->s, y[1]->s, y[2]->s, y[3]->s);
}

struct q8_0_weights {
  using block = block_q8_0;
  using act = block_q8_0;
  static constexpr bool has_m = false;
  static void values(const block& x, int8x16_t& lo, int8x16_t& hi) {
    lo = vld1q_s8(x.qs);
    hi = vld1q_s8(x.qs + 16);
  }
  static float32x4_t add(float32x4_t sum, int32x4_t sumi, const lane_scales& s) {
    return vaddq_f32(sum, vmulq_f32(vcvtq_f32_s32(sumi), vmulq_f32(s.dx, s.dy)));
  }
};

struct q4_0_weights {
  using block = block_q4_0;
  using act = block_q8_0;
  static constexpr bool has_m = false;
  static void values(const block& x, int8x16_t& lo, int8x16_t& hi) { q4_0_values(x, lo, hi); }
  static float32x4_t add(float32x4_t sum, int32x4_t sumi, const lane_scales& s) {
    return vaddq_f32(sum, vmulq_f32(vmulq_f32(vcvtq_f32_s32(sumi), s.dx), s.dy));
  }
};

struct q5_0_weights {
  using block = block_q5_0;
  using act = block_q8_0;
  static constexpr bool has_m = false;
  static void values(const block& x, int8x16_t& lo, int8x16_t& hi) { nibble_values<16>(x.qs, x.qh, lo, hi); }
  static float32x4_t add(float32x4_t sum, int32x4_t sumi, const lane_scales& s) {
    return vaddq_f32(sum, vmulq_f32(vmulq_f32(s.dx, s.dy), vcvtq_f32_s32(sumi)));
  }
};

template <typename B>
struct offset_weights {
  using block = B;
  using act = block_q8_1;
  static constexpr bool has_m = true;
  static void values(const block& x, int8x16_t& lo, int8x16_t& hi) { nibble_values<0>(x.qs, q5_high_bits(x), lo, hi); }
  static float32x4_t add(float32x4_t sum, int32x4_t sumi, const lane_scales& s) {
    const float32x4_t scaled = vmulq_f32(vmulq_f32(s.dx, s.dy), vcvtq_f32_s32(sumi));
    return vaddq_f32(sum, vaddq_f32(scaled, vmulq_f32(s.mx, s.sy)));
  }
};

using q4_1_weights = offset_weights<block_q4_1>;
using q5_1_weights = offset_weights<block_q5_1>;

// Four weight rows x T tokens with a lane per row: each (row, token) block dot is P::dot's
// int32x4, and two rounds of pairwise adds turn the four rows' vectors into one vector of their
// four sums, so the float step is one vector op per token instead of four scalar ones.
// w[i] is weight row i; res[t][i] = dot(row i, activation row act + t * act_stride).
template <typename P, typename W>
struct block32_rows4 {
  template <int T>
  static void run(int64_t n, const uint8_t* const* w, const uint8_t* act, size_t act_stride, float (*res)[4]) {
    using block = typename W::block;
    using act_block = typename W::act;
    const block* x[4];
    for (int i = 0; i < 4; ++i) x[i] = reinterpret_cast<const block*>(w[i]);
    float32x4_t sum[T];
    for (auto& s : sum) s = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < n / 32; ++b) {
      int8x16_t lo[4], hi[4];
      const block* xb[4];
      for (int i = 0; i < 4; ++i) {
        xb[i] = &x[i][b];
        W::values(*xb[i], lo[i], hi[i]);
      }
      lane_scales s{};
      set_weight_lanes<W>(s, xb);
      for (int t = 0; t < T; ++t) {
        const act_block* y = act_blocks<act_block>(act, act_stride, t) + b;
        const int8x16_t y0 = vld1q_s8(y->qs);
        const int8x16_t y1 = vld1q_s8(y->qs + 16);
        int32x4_t d[4];
        for (int i = 0; i < 4; ++i) d[i] = P::dot(P::dot(vdupq_n_s32(0), lo[i], y0), hi[i], y1);
        const int32x4_t sumi = vpaddq_s32(vpaddq_s32(d[0], d[1]), vpaddq_s32(d[2], d[3]));
        s.dy = vdupq_n_f32(half_to_float(y->d));
        if constexpr (W::has_m) s.sy = vdupq_n_f32(half_to_float(y->s));
        sum[t] = W::add(sum[t], sumi, s);
      }
    }
    for (int t = 0; t < T; ++t) vst1q_f32(res[t], sum[t]);
  }

  // The tile interface of tile_gemm (dot_arm_rows.h).
  static void tile(int64_t n, int /*n_rows*/, int n_tokens, const uint8_t* const* w, const uint8_t* const* a,
                   size_t act_stride, float (*out)[4]) {
    switch (n_tokens) {
      case 4: run<4>(n, w, a[0], act_stride, out); break;
      case 3: run<3>(n, w, a[0], act_stride, out); break;
      case 2: run<2>(n, w, a[0], act_stride, out); break;
      default: run<1>(n, w, a[0], act_stride, out); break;
    }
  }
};

}  // namespace
}  // namespace pocketlm::kernels::arm
