// Baseline AArch64 (armv8-a) row dots: int8 products widened with SMULL and pairwise-added into
// int32 lanes with SADALP. Each int16 product is at most 128 * 128, so nothing overflows.
#include "kernels/arm/dot_arm.h"
#include "kernels/arm/dot_arm_impl.h"

namespace pocketlm::kernels::arm {

namespace {

struct neon_policy {
  static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
  }
  static int32_t dot32(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1) {
    return dot32_via_dot<neon_policy>(x0, x1, y0, y1);
  }
};

}  // namespace

void vec_dot_q8_0_q8_0_neon(int64_t n, float* out, const void* w_row, const void* act_row) {
  dot_q8_0_q8_0<neon_policy>(n, out, w_row, act_row);
}

void vec_dot_q4_0_q8_0_neon(int64_t n, float* out, const void* w_row, const void* act_row) {
  dot_q4_0_q8_0<neon_policy>(n, out, w_row, act_row);
}

void vec_dot_q4_k_q8_k_neon(int64_t n, float* out, const void* w_row, const void* act_row) {
  dot_q4_k_q8_k<neon_policy>(n, out, w_row, act_row);
}

void vec_dot_q6_k_q8_k_neon(int64_t n, float* out, const void* w_row, const void* act_row) {
  dot_q6_k_q8_k<neon_policy>(n, out, w_row, act_row);
}

}  // namespace pocketlm::kernels::arm
